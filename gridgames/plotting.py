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

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: callables ``hook(figure, path)`` run by :func:`save_figure` after writing, before closing
_SAVE_HOOKS: list = []


@contextlib.contextmanager
def capture_figures() -> Iterator[list[tuple[Any, Path]]]:
    """Collect ``(figure, path)`` of every figure :func:`save_figure` writes inside the block."""
    seen: list[tuple[Any, Path]] = []

    def hook(fig: Any, path: Path) -> None:
        seen.append((fig, path))

    _SAVE_HOOKS.append(hook)
    try:
        yield seen
    finally:
        _SAVE_HOOKS.remove(hook)


def pyplot() -> Any:
    """``matplotlib.pyplot`` with the Agg backend selected (PNG files, no display needed)."""
    import matplotlib  # noqa: PLC0415 (imported on first use only: it costs ~0.5 s)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    return plt


#: the label of a quantity without a unit (the figure test asks every numeric axis for a unit)
UNITLESS = "–"


def label(quantity: str, unit: str | None = None) -> str:
    """An axis label in the package's convention: ``"Price (yuan/MWh)"``; no unit gives ``"Share (–)"``.

    >>> label("Price", "yuan/MWh"), label("Drop ratio")
    ('Price (yuan/MWh)', 'Drop ratio (–)')
    """
    return f"{quantity} ({unit or UNITLESS})"


def new_figure(nrows: int = 1, ncols: int = 1, *, title: str | None = None, xlabel: str | None = None,
               ylabel: str | None = None, figsize: tuple[float, float] = (7.0, 4.0), **subplots: Any
               ) -> tuple[Any, Any]:
    """``fig, ax`` (or ``fig, axes``) with the title and axis labels set.

    One axes: ``title`` is its title; several: the figure's suptitle, and the
    labels go on every axes (give them per axes afterwards for other texts).

    >>> fig, ax = new_figure(title="Load", xlabel=label("Time", "h"), ylabel=label("Load", "MW"))  # doctest: +SKIP
    """
    fig, axes = pyplot().subplots(nrows, ncols, figsize=figsize, **subplots)
    many = hasattr(axes, "ravel")
    if title:
        (fig.suptitle if many else axes.set_title)(title)
    for ax in (axes.ravel() if many else [axes]):
        if xlabel:
            ax.set_xlabel(xlabel)
        if ylabel:
            ax.set_ylabel(ylabel)
    return fig, axes


def plot_series(ax: Any, x: Any, y: Any, **style: Any) -> Any:
    """``ax.plot`` that draws a series of one or two points as markers (no line chart of one point)."""
    n = len(x) if hasattr(x, "__len__") else 1
    if n <= 2:
        style = {**style, "ls": "", "marker": style.get("marker") or "o"}
        style.pop("linestyle", None)
    return ax.plot(x, y, **style)[0]


def twin_axis(ax: Any, ylabel: str) -> Any:
    """A second y axis sharing ``ax``'s x axis, labelled ``ylabel``; see :func:`place_legend` (merges both)."""
    twin = ax.twinx()
    twin.set_ylabel(ylabel)
    twin._gg_host = ax
    ax._gg_twin = twin
    return twin


def place_legend(ax: Any, **kwargs: Any) -> Any:
    """The legend of ``ax`` (and of its :func:`twin_axis`, merged), at the best place inside the axes.

    :func:`save_figure` moves it outside the axes, to the right, when after
    layout it still covers data, and enlarges the figure so that it is not clipped.
    """
    handles, labels = ax.get_legend_handles_labels()
    twin = getattr(ax, "_gg_twin", None)
    if twin is not None:
        more = twin.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    return ax.legend(handles, labels, **{"loc": "best", "fontsize": 8, **kwargs})


def outside_legend(ax: Any, handles: list | None = None, labels: list | None = None, **kwargs: Any) -> Any:
    """A legend to the right of ``ax`` (e.g. one legend for a row of panels); the layout makes room for it."""
    if handles is None:
        handles, labels = ax.get_legend_handles_labels()
    return ax.legend(handles, labels, **{"loc": "upper left", "bbox_to_anchor": (1.02, 1.0),
                                         "borderaxespad": 0.0, "fontsize": 8, **kwargs})


def format_date_axis(ax: Any) -> None:
    """Concise automatic date ticks on the x axis (no overlapping date labels)."""
    import matplotlib.dates as mdates  # noqa: PLC0415
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def save_figure(fig: Any, path: str | Path, *, dpi: int = 110,
                rect: tuple[float, float, float, float] | None = None) -> Path:
    """Lay out ``fig``, write it to ``path`` (folders created), close it; the path written.

    The layout is checked and repaired before writing (:func:`settle_layout`):
    a legend that covers data moves outside its axes, crowded x tick labels
    are rotated, and the figure grows until no text is clipped.
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
    settle_layout(fig, rect=rect)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    for hook in list(_SAVE_HOOKS):
        hook(fig, path)
    pyplot().close(fig)
    tmp.replace(path)
    log.info("wrote %s", path)
    return path


# --------------------------------------------------------------------------
# Layout repair: legends off the data, readable ticks, nothing clipped
# --------------------------------------------------------------------------
def _layout(fig: Any, rect: tuple[float, float, float, float] | None) -> Any:
    import warnings  # noqa: PLC0415
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)     # "tight_layout not applied": repaired below
        fig.tight_layout(**({"rect": rect} if rect is not None else {}))
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _covers_data(ax: Any, box: Any) -> bool:
    """Whether ``box`` (display coordinates) touches a data line, point set, bar or filled area of ``ax``."""
    for line in ax.get_lines():
        if not line.get_visible() or not line.get_transform().contains_branch(ax.transData):
            continue
        path = line.get_transform().transform_path(line.get_path())
        if line.get_linestyle() in ("None", "", " ", "none"):
            v = path.vertices
            if ((v[:, 0] > box.x0) & (v[:, 0] < box.x1) & (v[:, 1] > box.y0) & (v[:, 1] < box.y1)).any():
                return True
        elif path.intersects_bbox(box, filled=False):
            return True
    for patch in ax.patches:
        if (type(patch).__name__ == "Rectangle" and patch.get_visible()
                and patch.get_transform().contains_branch(ax.transData)
                and patch.get_window_extent().overlaps(box)):
            return True
    return any(p.transformed(c.get_transform()).intersects_bbox(box, filled=True)
               for c in ax.collections if c.get_visible() and "Poly" in type(c).__name__
               for p in c.get_paths())


def _siblings(ax: Any) -> list[Any]:
    return [ax, *[o for o in ax.figure.axes if o is not ax
                  and tuple(o.get_position().bounds) == tuple(ax.get_position().bounds)]]


def _move_legend_outside(ax: Any, renderer: Any) -> None:
    legend = ax.get_legend()
    handles, labels = legend.legend_handles, [t.get_text() for t in legend.get_texts()]
    size = legend.get_texts()[0].get_fontsize() if labels else 8
    right = max(o.get_tightbbox(renderer).x1 for o in _siblings(ax))
    box = ax.get_window_extent(renderer)
    offset = 1.0 + (right - box.x1) / max(box.width, 1.0) + 0.02
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(offset, 1.0), borderaxespad=0.0, fontsize=size)


def _crowded(labels: list[Any], renderer: Any, vertical: bool = False) -> bool:
    boxes = [t.get_window_extent(renderer) for t in labels if t.get_visible() and t.get_text()]
    if vertical:
        boxes = sorted(boxes, key=lambda b: b.y0)
        return any(min(a.y1, b.y1) - max(a.y0, b.y0) > 0.5 for a, b in zip(boxes, boxes[1:]))
    boxes = sorted(boxes, key=lambda b: b.x0)
    return any(min(a.x1, b.x1) - max(a.x0, b.x0) > 0.5 for a, b in zip(boxes, boxes[1:]))


def _drop_crowded_minor_labels(ax: Any, renderer: Any) -> bool:
    """Remove an axis's minor tick labels (a log axis labels 3×10⁻¹, 4×10⁻¹ ... over a short range) when they
    overlap each other or the major labels; whether any were removed."""
    from matplotlib.ticker import NullFormatter

    changed = False
    for axis, vertical in ((ax.xaxis, False), (ax.yaxis, True)):
        minor = [t for t in axis.get_ticklabels(minor=True) if t.get_visible() and t.get_text()]
        if minor and _crowded(minor + list(axis.get_ticklabels()), renderer, vertical):
            axis.set_minor_formatter(NullFormatter())
            changed = True
    return changed


def _grow_to_fit(fig: Any, renderer: Any) -> bool:
    """Enlarge ``fig`` by what its tight bounding box sticks out of it; whether it grew."""
    tight, box = fig.get_tightbbox(renderer), fig.bbox_inches
    extra_w = max(0.0, box.x0 - tight.x0) + max(0.0, tight.x1 - box.x1)
    extra_h = max(0.0, box.y0 - tight.y0) + max(0.0, tight.y1 - box.y1)
    if extra_w < 0.02 and extra_h < 0.02:
        return False
    w, h = fig.get_size_inches()
    fig.set_size_inches(w + extra_w + 0.1, h + extra_h + 0.1)
    return True


def settle_layout(fig: Any, rect: tuple[float, float, float, float] | None = None, rounds: int = 4) -> None:
    """Lay out ``fig`` and repair what would make it unfit for a paper.

    Up to ``rounds`` times: ``tight_layout``; an axes legend that covers data
    of its axes (or of their twins) moves to the right of them; minor tick labels
    that overlap (a log axis over a short range) are dropped; x tick labels
    that overlap are rotated (45°, then 90°); if some text still sticks out of
    the figure (a figure legend, long labels), the figure is enlarged by that much.
    """
    for _ in range(rounds):
        renderer = _layout(fig, rect)
        changed = False
        for ax in fig.axes:
            legend = ax.get_legend()
            if legend is not None and legend.get_visible():
                box = legend.get_window_extent(renderer)
                if any(_covers_data(o, box) for o in _siblings(ax)):
                    _move_legend_outside(ax, renderer)
                    changed = True
            if ax.axison and _drop_crowded_minor_labels(ax, renderer):
                changed = True
                continue
            ticks = ax.get_xticklabels()
            if ax.axison and _crowded(ticks, renderer):
                angle = 90 if any(t.get_rotation() == 45 for t in ticks) else 45
                if not any(t.get_rotation() == 90 for t in ticks):
                    ax.tick_params(axis="x", labelrotation=angle)
                    for t in ax.get_xticklabels():
                        t.set_horizontalalignment("right" if angle == 45 else "center")
                        t.set_rotation_mode("anchor" if angle == 45 else "default")
                    changed = True
        changed = _grow_to_fit(fig, renderer) or changed
        if not changed:
            return
    _layout(fig, rect)
