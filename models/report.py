"""What a model run hands back to the CLI: tables, figures, notes.

Every model family's ``run(instance, ...)`` returns a :class:`RunReport`; the
CLI prints :meth:`RunReport.format` and calls :meth:`RunReport.write` when the
user gave ``--out``.  Files are written atomically (temporary file, then
rename), so an interrupted run never leaves half a CSV behind.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_table(frame: pd.DataFrame, float_format: str = "{:,.6g}") -> str:
    """A plain-text table with aligned columns and readable numbers."""
    return frame.to_string(float_format=lambda v: float_format.format(v))


@dataclass
class RunReport:
    """Tables, figures and notes from one model run.

    Attributes
    ----------
    title : str
        First line printed.
    tables : dict of str to DataFrame
        Named result tables, printed in order and written as ``<name>.csv``.
    notes : list of str
        Lines printed after the tables (discrepancies, choices made).
    plotters : list of callable
        ``plot(out_dir) -> list[Path]``; run only when an output folder is given.
    """

    title: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    plotters: list[Callable[[Path], list[Path]]] = field(default_factory=list)

    def format(self) -> str:
        parts = [self.title, "=" * len(self.title)]
        for name, table in self.tables.items():
            parts += ["", f"[{name}]", format_table(table)]
        if self.notes:
            parts += [""] + [f"note: {line}" for line in self.notes]
        return "\n".join(parts)

    _written: dict[str, list[Path]] = field(default_factory=dict, repr=False)

    def write(self, out_dir: str | Path) -> list[Path]:
        """Write every table as CSV and every plot as PNG under ``out_dir``, once per folder.

        A model's ``run(out=...)`` and the CLI may both call it; the second call
        returns the files of the first instead of drawing the figures again.
        """
        key = str(Path(out_dir).resolve())
        if key not in self._written:
            self._written[key] = self._write(Path(out_dir))
        return self._written[key]

    def _write(self, out_dir: Path) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in self.tables.items():
            path = out / f"{name}.csv"
            atomic_write_text(path, table.to_csv())
            written.append(path)
        for plot in self.plotters:
            written += list(plot(out))
        return written
