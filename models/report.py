"""What a model run hands back to the CLI: tables, figures, notes.

Every model family's ``run(instance, ...)`` returns a :class:`RunReport`; the
CLI prints :meth:`RunReport.format` and calls :meth:`RunReport.write` when the
user gave ``--out``.  Files are written atomically (temporary file, then
rename), so an interrupted run never leaves half a CSV behind.  From Python,
:meth:`RunReport.save` writes the tables, the figures and a ``report.md``
(again each time it is called), and :meth:`RunReport.to_latex` gives every
table as a booktabs ``tabular`` for a paper.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())   # mkstemp makes it owner-only; a result file is shared like any other
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _code_version() -> str:
    """The installed gridgames version (part of every result fingerprint)."""
    try:
        return importlib.metadata.version("gridgames")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def fingerprint(inputs: Any) -> str:
    """A short hash of a run's inputs and the package version: a stored result is reused only
    when its record carries the same fingerprint.

    ``inputs`` may nest dataclasses, dicts, lists, numpy arrays and scalars.

    Examples
    --------
    >>> fingerprint({"p_max": 2.0}) == fingerprint({"p_max": 2.0}) != fingerprint({"p_max": 2.5})
    True
    """
    def plain(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return {"__type__": type(obj).__name__, **{f.name: plain(getattr(obj, f.name))
                                                       for f in dataclasses.fields(obj)}}
        if isinstance(obj, dict):
            return {str(k): plain(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [plain(v) for v in obj]
        if hasattr(obj, "tolist"):
            return obj.tolist()
        return obj if isinstance(obj, (str, int, float, bool, type(None))) else repr(obj)

    text = json.dumps({"inputs": plain(inputs), "version": _code_version()}, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def read_record(path: Path, expected: str, required: Iterable[str]) -> tuple[dict[str, Any] | None, str]:
    """A stored JSON result record, or None and why it cannot be reused.

    Parameters
    ----------
    path : Path
        The record (written with :func:`atomic_write_text`).
    expected : str
        The :func:`fingerprint` of the current inputs; the record's ``"fingerprint"`` must equal it.
    required : iterable of str
        Keys a complete record has.

    Returns
    -------
    record, reason
        ``(record, "")`` when reusable, else ``(None, reason)`` with reason one of
        ``"missing"``, ``"empty"``, ``"truncated"`` (not valid JSON), ``"wrong shape"``, ``"stale"``.
    """
    path = Path(path)
    if not path.is_file():
        return None, "missing"
    try:
        text = path.read_text(encoding="utf-8")
        record = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError, OSError):
        return None, "truncated"
    if not record:
        return None, "empty"
    if not isinstance(record, dict) or any(key not in record for key in required):
        return None, "wrong shape"
    if record.get("fingerprint") != expected:
        return None, "stale"
    return record, ""


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
    failures : int
        Units of work that failed and are missing from the tables (the CLI then exits with 1).
    """

    title: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    plotters: list[Callable[[Path], list[Path]]] = field(default_factory=list)
    failures: int = 0

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
        written = self._write_tables(Path(out_dir))
        for plot in self.plotters:
            written += list(plot(Path(out_dir)))
        return written

    def _write_tables(self, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name, table in self.tables.items():
            path = out / f"{name}.csv"
            atomic_write_text(path, table.to_csv())
            written.append(path)
        return written

    def save(self, out_dir: str | Path) -> list[Path]:
        """Write every table as CSV, every figure, and ``report.md`` under ``out_dir``; the paths.

        Unlike :meth:`write` it writes again on every call, replacing the files of
        an earlier one atomically: tables and ``report.md`` through a temporary file
        and a rename, figures drawn into a temporary folder beside them and then
        renamed into place, so a reader never sees half a file.

        Examples
        --------
        >>> report = RunReport("demo", tables={"t": pd.DataFrame({"x": [1.5]})})
        >>> import tempfile; folder = tempfile.mkdtemp()
        >>> [p.name for p in report.save(folder)]
        ['t.csv', 'report.md']
        """
        out = Path(out_dir)
        written = self._write_tables(out) + self._plot_atomically(out)
        markdown = out / "report.md"
        atomic_write_text(markdown, self.to_markdown(figures=[p.relative_to(out) for p in written
                                                              if p.suffix.lower() in (".png", ".svg", ".pdf")]))
        written.append(markdown)
        self._written[str(out.resolve())] = written[:-1]
        return written

    def _plot_atomically(self, out: Path) -> list[Path]:
        if not self.plotters:
            return []
        tmp = Path(tempfile.mkdtemp(dir=out, prefix=".figures-"))
        try:
            drawn = [Path(p) for plot in self.plotters for p in plot(tmp)]
            placed = []
            for path in drawn:
                target = out / path.resolve().relative_to(tmp.resolve())
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
                placed.append(target)
            return placed
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def to_markdown(self, figures: Iterable[Path] = ()) -> str:
        """The report as Markdown: title, one pipe table per result table, notes, figure links."""
        parts = [f"# {self.title}"]
        for name, table in self.tables.items():
            parts += ["", f"## {name}", "", _markdown_table(table)]
        if self.notes:
            parts += ["", "## Notes", ""] + [f"- {line}" for line in self.notes]
        figures = list(figures)
        if figures:
            parts += ["", "## Figures", ""] + [f"![{p.stem}]({p.as_posix()})" for p in figures]
        return "\n".join(parts) + "\n"

    def to_latex(self, float_format: str = "{:,.6g}") -> str:
        r"""Every table as a LaTeX ``table`` with a booktabs ``tabular`` (``\usepackage{booktabs}``).

        Each table is captioned with its name and labelled ``tab:<name>``; text is
        escaped (``_``, ``%``, ``&`` ...), numbers formatted with ``float_format``.

        Examples
        --------
        >>> tex = RunReport("demo", tables={"mean_price": pd.DataFrame({"p_max": [2.0]})}).to_latex()
        >>> r"\begin{tabular}" in tex and r"\toprule" in tex and r"p\_max" in tex
        True
        """
        blocks = []
        for name, table in self.tables.items():
            frame = table.copy(deep=False)
            frame.index.names = [_latex_escape(str(n)) if n is not None else None for n in frame.index.names]
            frame.columns.names = [_latex_escape(str(n)) if n is not None else None for n in frame.columns.names]
            styler = frame.style.format(lambda v: float_format.format(v) if isinstance(v, float) else v,
                                        escape="latex")
            styler = styler.format_index(escape="latex", axis=0).format_index(escape="latex", axis=1)
            blocks.append(styler.to_latex(hrules=True, caption=_latex_escape(name), label=f"tab:{name}",
                                          position="htbp"))
        return "\n".join(blocks)


def _latex_escape(text: str) -> str:
    for char, escaped in (("\\", r"\textbackslash{}"), ("_", r"\_"), ("%", r"\%"), ("&", r"\&"),
                          ("#", r"\#"), ("$", r"\$"), ("{", r"\{"), ("}", r"\}")):
        text = text.replace(char, escaped)
    return text


def _markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table (GitHub Markdown) of ``frame``, its index as the first column."""
    flat = frame.reset_index()
    cells = [[_cell(v) for v in row] for row in flat.itertuples(index=False)]
    header = [str(c) for c in flat.columns]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


def _cell(value: Any) -> str:
    text = f"{value:,.6g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")
