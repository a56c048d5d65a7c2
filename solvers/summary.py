"""The text table every result's ``summary()`` prints, in the statsmodels manner.

A :class:`Summary` holds a title, ``label: value`` fields (laid out two per
line), an optional per-agent table and closing notes (certificate, history,
message, wrapped); :meth:`Summary.render` turns it into fixed-width text that
reads the same in a terminal and in a notebook.

Examples
--------
>>> text = Summary("Toy result", [("Status", "optimal"), ("Solver", "highs")],
...                columns=("agent", "gap"), rows=[("a", "0")], notes=[("Message", "done")]).render()
>>> print(text)  # doctest: +NORMALIZE_WHITESPACE
                                   Toy result
==============================================================================
Status:        optimal                 Solver:        highs
------------------------------------------------------------------------------
agent  gap
a        0
------------------------------------------------------------------------------
Message:       done
==============================================================================
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field

#: characters per line of a rendered summary
WIDTH = 78
_LABEL = 17
_HALF = WIDTH // 2


def number(value: float | None, spec: str = ".6g") -> str:
    """A number for a summary cell: ``""`` for None, ``nan`` kept visible."""
    if value is None:
        return ""
    return "nan" if isinstance(value, float) and math.isnan(value) else format(value, spec)


@dataclass
class Summary:
    """The parts of a result's summary; :meth:`render` lays them out.

    Attributes
    ----------
    title : str
        Centred first line.
    fields : list of (label, value)
        Short facts (status, method, solver, time, objective), two per line.
    columns, rows : sequences of str
        The per-agent table (left-aligned first two columns, the others right-aligned).
    notes : list of (label, text)
        Longer lines (certificate, history, message), wrapped under their label.
    """

    title: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    columns: Sequence[str] = ()
    rows: list[Sequence[str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)

    def render(self) -> str:
        """Fixed-width text, :data:`WIDTH` characters wide."""
        lines = [self.title.center(WIDTH).rstrip(), "=" * WIDTH]
        cells = [f"{label + ':':<{_LABEL}}{value}" for label, value in self.fields]
        for left, right in zip(cells[::2], cells[1::2] + [""]):
            lines.append(f"{left:<{_HALF}}{right}".rstrip() if len(left) < _HALF else left)
            if len(left) >= _HALF and right:
                lines.append(right)
        if self.rows:
            lines += ["-" * WIDTH, *self._table()]
        if self.notes:
            lines.append("-" * WIDTH)
            for label, text in self.notes:
                lines += textwrap.wrap(text, WIDTH, initial_indent=f"{label + ':':<{_LABEL}}",
                                       subsequent_indent=" " * _LABEL) or [f"{label}:"]
        lines.append("=" * WIDTH)
        return "\n".join(lines)

    def _table(self) -> list[str]:
        table = [list(self.columns)] + [list(row) for row in self.rows]
        widths = [max(len(str(row[i])) for row in table) for i in range(len(self.columns))]
        out = []
        for row in table:
            cells = [str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
            out.append("  ".join(cells).rstrip())
        return out

    def html(self) -> str:
        """The rendered text in a ``<pre>`` block (a notebook's rich display)."""
        import html

        return f"<pre>{html.escape(self.render())}</pre>"
