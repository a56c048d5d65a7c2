"""Declared instance fields: one :class:`Field` per key a model family reads, and their renderings.

Every family declares its instance fields once (``models/<family>/fields.py``)
and attaches them to its study (:attr:`gridgames.models.study.Study.fields`).
The family's reader keeps validating values with
:class:`~gridgames.models.instance.Checker`, but the keys it accepts come from
the declaration (:meth:`Schema.keys`), so the reference printed by
``gridgames schema MODEL``, the page ``docs/instances.md`` and the starter
instance written by ``gridgames new MODEL FILE`` cannot drift from what the
reader accepts.

Examples
--------
>>> schema = Schema("toy", "a toy model", (
...     Field("game", "price", "number", 10.0, units="$/MWh", help="the price", range="> 0"),
...     Field("game", "label", "string", REQUIRED, help="a name", example="demo"),
... ))
>>> schema.keys("game")
['label', 'price']
>>> print(schema.starter().splitlines()[4])
[game]
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


class _Required:
    """Marker of a field without default (the instance must give it)."""

    def __repr__(self) -> str:
        return "REQUIRED"


#: Default of a field an instance must give.
REQUIRED: Any = _Required()
#: Section name of the document's top-level keys (``model``, ``name``).
TOP = ""


@dataclass(frozen=True)
class Field:
    """One instance field: where it lives, what it holds and what it means.

    Parameters
    ----------
    section : str
        The TOML table (``"game"``; dotted for nested tables, ``"users.devices"``;
        :data:`TOP` for the document's own keys).
    key : str
        The key inside the table.
    type : str
        What the value is, in words (``number``, ``integer``, ``list of numbers``,
        ``string``, ``date``, ``file``, ``table``, ``array of tables`` ...).
    default : Any
        Value when the key is absent; :data:`REQUIRED` when it must be given;
        ``None`` when absence means "off" / "derived" (said in ``help``).
    units : str
        Physical units (``MWh``, ``$/MWh``, ``h``), empty when dimensionless.
    help : str
        One sentence for the reference and the starter file's comment.
    choices : tuple, optional
        The allowed values.
    range : str
        The allowed range in words (``"> 0"``, ``"0 to 1"``).
    example : Any
        Value written by ``gridgames new`` for a field without default (and
        uncommented there); defaults to ``default``.
    variant : str
        Non-empty when the field belongs to one shape of the family's
        instances only (TOU: ``"community"`` or ``"city"``).
    """

    section: str
    key: str
    type: str
    default: Any = REQUIRED
    units: str = ""
    help: str = ""
    choices: tuple[Any, ...] | None = None
    range: str = ""
    example: Any = None
    variant: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def path(self) -> str:
        """``[section].key`` as error messages name it (``key`` for top-level keys)."""
        return f"[{self.section}].{self.key}" if self.section else self.key

    def sample(self) -> Any:
        """The value a starter file writes: the example if given, else the default."""
        return self.example if self.example is not None else (None if self.required else self.default)

    def describe(self) -> str:
        """Help with choices and range, one line."""
        extra = []
        if self.choices:
            extra.append("one of " + ", ".join(_toml_value(c) for c in self.choices))
        if self.range:
            extra.append(self.range)
        return self.help + (f" ({'; '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class Schema:
    """The declared fields of one model family.

    Parameters
    ----------
    model : str
        The instances' ``model`` value.
    description : str
        One line for the reference.
    fields : sequence of Field
        In the order the reference and the starter list them.
    sections : dict, optional
        Section name -> one line describing it; ``tables`` lists the sections
        that are arrays of tables (``[[users]]``).
    tables : tuple of str
        Sections written as arrays of tables; their starter entries come from ``examples``.
    examples : dict
        Section -> list of example entries (dicts) for the starter file.
    notes : tuple of str
        Paragraphs printed after the reference (conditions between fields).
    optional : tuple of str
        Sections the starter file writes commented out (absent: a feature is off).
    """

    model: str
    description: str
    fields: tuple[Field, ...]
    sections: dict[str, str] = field(default_factory=dict)
    tables: tuple[str, ...] = ()
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        seen: set[tuple[str, str]] = set()
        for f in self.fields:
            if (f.section, f.key) in seen:
                raise ValueError(f"schema {self.model!r}: field {f.path} declared twice")
            seen.add((f.section, f.key))

    # -- queries used by the readers -------------------------------------------------
    def section_names(self, variant: str | None = None) -> list[str]:
        """Sections in declaration order (``variant``: only those of that shape and the common ones)."""
        out: list[str] = []
        for f in self.fields:
            if f.section not in out and (variant is None or f.variant in ("", variant)):
                out.append(f.section)
        return out

    def keys(self, section: str, variant: str | None = None) -> list[str]:
        """The declared keys of ``section`` (top-level keys include the sections themselves; ``variant``:
        only the sections of that instance shape), sorted."""
        keys = {f.key for f in self.fields if f.section == section}
        if section == TOP:
            keys |= {s.split(".")[0] for s in self.section_names(variant) if s}
        return sorted(keys)

    def field(self, section: str, key: str) -> Field:
        """The declaration of ``[section].key``; KeyError naming the declared ones otherwise."""
        for f in self.fields:
            if f.section == section and f.key == key:
                return f
        raise KeyError(f"schema {self.model!r} declares no field [{section}].{key} "
                       f"(declared there: {', '.join(self.keys(section))})")

    def default(self, section: str, key: str) -> Any:
        """The declared default of ``[section].key`` (what the reader uses when it is absent)."""
        return self.field(section, key).default

    def in_section(self, section: str) -> list[Field]:
        return [f for f in self.fields if f.section == section]

    # -- renderings ------------------------------------------------------------------
    def rows(self) -> list[dict[str, str]]:
        """One dict per field: section, key, type, units, default, help (strings)."""
        return [{"section": _section_label(f.section, self.tables), "key": f.key, "type": f.type,
                 "units": f.units, "default": _default_text(f.default), "help": f.describe()}
                for f in self.fields]

    def format_text(self, width: int = 110) -> str:
        """The reference as a plain-text table (``gridgames schema MODEL``)."""
        lines = [f"model = {self.model!r}: {self.description}", ""]
        cols = ("key", "type", "units", "default")
        for section in self.section_names():
            rows = [r for r, f in zip(self.rows(), self.fields) if f.section == section]
            lines.append(_section_label(section, self.tables) + _section_note(self, section))
            widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
            head = "  " + "  ".join(c.ljust(widths[c]) for c in cols) + "  help"
            lines.append(head)
            indent = len(head) - len("help")
            for r in rows:
                text = "  " + "  ".join(r[c].ljust(widths[c]) for c in cols) + "  "
                lines.extend(_wrap(text, r["help"], indent, width))
            lines.append("")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines).rstrip() + "\n"

    def format_markdown(self) -> str:
        """The reference as a Markdown section (one table per TOML section)."""
        out = [f"## `{self.model}`", "", self.description, ""]
        for section in self.section_names():
            note = self.sections.get(section, "")
            out += [f"### `{_section_label(section, self.tables)}`", ""] + ([note, ""] if note else [])
            out += ["| key | type | units | default | meaning |", "| --- | --- | --- | --- | --- |"]
            for r, f in zip(self.rows(), self.fields):
                if f.section == section:
                    cells = [f"`{r['key']}`", r["type"], r["units"], f"`{r['default']}`" if r["default"] else "",
                             r["help"].replace("|", "\\|")]
                    out.append("| " + " | ".join(cells) + " |")
            out.append("")
        out += [f"- {n}" for n in self.notes]
        return "\n".join(out).rstrip() + "\n"

    def starter(self, variant: str | None = None, name: str = "", *, everything: bool = False,
                minimal: bool = False) -> str:
        """A commented starter instance: every field with its default (or example) and its help.

        Fields without a value to write (default ``None`` and no example) and
        the ``optional`` sections are written commented out; everything else is
        written as a value, so the file loads and runs as written.
        ``everything=True`` writes the optional sections too (a test instance
        that uses every declared section); ``minimal=True`` writes the required
        fields only (the readers' defaults fill in the rest).
        """
        lines = [f"# Starter instance of model {self.model!r} written by `gridgames new`.",
                 f"# {self.description}",
                 f'model = "{self.model}"',
                 f'name = {_toml_value(name or "new " + self.model + " instance")}']
        variant = variant if variant is not None else _first_variant(self)
        for section in self.section_names(variant):
            if section == TOP or "." in section and section.split(".")[0] in self.tables:
                continue
            lines.append("")
            note = self.sections.get(section, "")
            if note:
                lines.append(f"# {note}")
            body = self._table_entries(section) if section in self.tables else \
                [f"[{section}]"] + [line for f in self.in_section(section) if not minimal or f.required or f.default is None
                                    for line in _field_lines(f)]
            if section in self.optional and not everything:
                body = [line if line.startswith("#") else "# " + line for line in body]
            lines += body
        return "\n".join(lines) + "\n"

    def _table_entries(self, section: str) -> list[str]:
        """``[[section]]`` entries from the examples, the first with every field's comment."""
        lines = ["# fields of each entry:"]
        for f in self.in_section(section):
            lines.append(f"#   {f.key} ({f.type}{', ' + f.units if f.units else ''}; default "
                         f"{_default_text(f.default)}): {f.describe()}")
        for sub in (s for s in self.section_names() if s.startswith(section + ".")):
            lines.append(f"# [[{sub}]] entries: see the reference (`gridgames schema {self.model}`)")
        for entry in self.examples.get(section, []):
            lines.append(f"[[{section}]]")
            lines += _table_body(section, entry)
        return lines


# ----------------------------------------------------------------------------------
# TOML text
# ----------------------------------------------------------------------------------
def _toml_value(value: Any) -> str:
    """``value`` as a TOML literal (bool, number, string, list, inline table)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no TOML literal for {value!r}")
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence) or hasattr(value, "tolist"):
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        return "[" + ", ".join(_toml_value(v) for v in items) + "]"
    raise TypeError(f"no TOML literal for {type(value).__name__}")


def _table_body(section: str, entry: dict[str, Any]) -> list[str]:
    """Scalars of an array-of-tables entry, then its own ``[[section.key]]`` sub-entries."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in entry.items() if not _is_tables(v)]
    for k, v in entry.items():
        if _is_tables(v):
            for sub in v:
                lines.append(f"[[{section}.{k}]]")
                lines += _table_body(f"{section}.{k}", sub)
    return lines


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _field_lines(f: Field) -> list[str]:
    units = f" [{f.units}]" if f.units else ""
    comment = f"# {f.describe()}{units}" + ("" if f.required else f"; default {_default_text(f.default)}")
    value = f.sample()
    if f.type == "array of tables" and not value:
        return [comment + f"; entries: [[{f.section}.{f.key}]] tables"]
    if value is None:
        return [comment, f"# {f.key} = ..."]
    if _is_tables(value):
        return [comment] + [line for entry in value
                            for line in [f"[[{f.section}.{f.key}]]", *_table_body(f"{f.section}.{f.key}", entry)]]
    return [comment, f"{f.key} = {_toml_value(value)}"]


def _default_text(default: Any) -> str:
    if default is REQUIRED:
        return "required"
    if default is None:
        return "(none)"
    if _is_tables(default) or (isinstance(default, list) and not default):
        return "[]"
    return _toml_value(default)


def _section_label(section: str, tables: Iterable[str]) -> str:
    if section == TOP:
        return "(top level)"
    return f"[[{section}]]" if section in tables or section.split(".")[0] in tables else f"[{section}]"


def _section_note(schema: Schema, section: str) -> str:
    note = schema.sections.get(section, "")
    return f"  {note}" if note else ""


def _first_variant(schema: Schema) -> str | None:
    variants = [f.variant for f in schema.fields if f.variant]
    return variants[0] if variants else None


def _wrap(prefix: str, text: str, indent: int, width: int) -> list[str]:
    """``prefix + text`` wrapped at ``width``, continuation lines indented to the help column."""
    words, lines, line = text.split(), [], prefix
    for word in words:
        if len(line) + len(word) + 1 > width and line.strip() and len(line) > indent:
            lines.append(line.rstrip())
            line = " " * indent
        line += word + " "
    lines.append(line.rstrip())
    return lines


def envelope(model: str) -> tuple[Field, Field]:
    """The two top-level fields every instance has: ``model`` and ``name``."""
    return (Field(TOP, "model", "string", REQUIRED, help="the model family", example=model),
            Field(TOP, "name", "string", None, help="free text shown in the report (absent: the file name)"))


def markdown_reference(schemas: Iterable[Schema]) -> str:
    """The page ``docs/instances.md``: every model's fields (see :func:`gridgames.cli.schema`)."""
    head = ["# Instance field reference", "",
            "Generated from the field declarations of each model family (`models/<family>/fields.py`) by",
            "`gridgames schema --all --format md > docs/instances.md`; `tests/test_schema.py` checks that this",
            "page is up to date. `gridgames schema MODEL` prints one model's fields, `gridgames new MODEL FILE`",
            "writes a commented starter instance with every field.", ""]
    return "\n".join(head) + "\n".join(s.format_markdown() for s in schemas)
