"""The one matplotlib set-up of the package: headless backend, figure saving.

Every family's report module, the forecasting comparison and the benchmark
report draw through these two functions, so matplotlib is imported only when a
figure is actually drawn (never by ``import gridgames``) and always with the
non-interactive Agg backend.

>>> plt = pyplot()                                   # doctest: +SKIP
>>> fig, ax = plt.subplots()                         # doctest: +SKIP
>>> save_figure(fig, Path("out/figure.png"))         # doctest: +SKIP
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the Agg backend selected (PNG files, no display needed)."""
    import matplotlib  # noqa: PLC0415 (imported on first use only: it costs ~0.5 s)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    return plt


def save_figure(fig: Any, path: str | Path, *, dpi: int = 110,
                rect: tuple[float, float, float, float] | None = None) -> Path:
    """Lay out ``fig``, write it to ``path`` (folders created), close it; the path written.

    The file is written under a temporary name and renamed, so an interrupted
    run never leaves half a PNG behind.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    path : str or Path
        Target file; the format follows the suffix (``.png``).
    dpi : int
        Resolution.
    rect : tuple, optional
        ``tight_layout`` rectangle, e.g. to leave room for a figure legend.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(**({"rect": rect} if rect is not None else {}))
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    pyplot().close(fig)
    tmp.replace(path)
    log.info("wrote %s", path)
    return path
