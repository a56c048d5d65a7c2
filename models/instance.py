"""Instance files: TOML documents that name a model, its parameters and its data.

An instance looks like::

    model = "economic_dispatch"          # a registered model name
    name  = "three generators, one day"  # free text, optional

    [data]
    load = { file = "data/eia930_bpat_2019_hourly.csv", time = "hour_ending_utc", value = "demand_mw_cleaned" }

    [generators]
    a = [0.002, 0.001, 0.004]

Paths are relative to the instance file.  Loading never stops at the first
problem: every check adds to a list, and one :class:`InstanceError` reports
them all, each with the field's path (``[users].theta: must be > 0, got -1``)
or, for data files, the file and row.
"""
from __future__ import annotations

import importlib
import math
import tomllib
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gridgames.data.bundled import instance_path, resolve_data
from gridgames.data.errors import InstanceError
from gridgames.data.series import read_series_csv  # noqa: F401  (re-exported: instance fields name series files)

_MISSING = object()

#: Largest magnitude a number of an instance may have: beyond it, squares and products of
#: instance values overflow double precision (``r = 1e308``) and a solve returns inf/nan.
MAX_MAGNITUDE = 1e12
#: Most points a ``[start, stop, step]`` sweep may give (each point is one game or one solve).
MAX_SWEEP_POINTS = 10_001


def _field_path(section: str | None, key: str) -> str:
    return f"[{section}].{key}" if section else key


def name_entries(bad: Iterable[int], values: Any, what: str, shown: int = 5) -> str:
    """Every bad entry of a list named: ``entry 1 is not finite (nan)`` or
    ``entries 1 (nan), 4 (inf) of 6 are not finite`` (the first ``shown`` listed)."""
    bad = [int(i) for i in bad]
    values = list(values)
    if len(bad) == 1:
        shown_value = f"({values[bad[0]]!r})" if what.startswith("is ") else f"got {values[bad[0]]!r}"
        return f"entry {bad[0]} {what}{' ' if what.startswith('is ') else ', '}{shown_value}"
    listed = ", ".join(f"{i} ({values[i]!r})" for i in bad[:shown])
    more = f" and {len(bad) - shown} more" if len(bad) > shown else ""
    verb = "are" + what[2:] if what.startswith("is ") else what
    return f"entries {listed}{more} of {len(values)} {verb}"


class Checker:
    """Collects validation problems instead of raising at the first one.

    Parameters
    ----------
    data : dict
        The parsed TOML document (or any nested dict of parameters).
    source : str
        Named in the final error message.

    Examples
    --------
    >>> chk = Checker({"users": {"theta": -1}}, "demo.toml")
    >>> theta = chk.number("users", "theta", gt=0)
    >>> chk.problems
    ['[users].theta: must be > 0, got -1']
    """

    def __init__(self, data: dict[str, Any], source: str = "instance") -> None:
        self.data = data
        self.source = source
        self.problems: list[str] = []
        self._seen: set[tuple[str | None, str]] = set()

    # -- low level ---------------------------------------------------------
    def fail(self, path: str, message: str) -> None:
        """Record one problem at ``path``."""
        self.problems.append(f"{path}: {message}")

    def section(self, name: str | None, *, required: bool = True) -> dict[str, Any]:
        """The table ``[name]`` (the document itself for ``None``)."""
        if name is None:
            return self.data
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            if required:
                self.fail(f"[{name}]", "section is missing")
            return {}
        if not isinstance(value, dict):
            self.fail(f"[{name}]", f"must be a table, got {type(value).__name__}")
            return {}
        return value

    def raw(self, section: str | None, key: str, default: Any = _MISSING) -> Any:
        """The value at ``[section].key``; a missing required value is a problem."""
        self._seen.add((section, key))
        table = self.section(section, required=default is _MISSING)
        if key in table:
            return table[key]
        if default is _MISSING:
            if section is None or section in self.data:
                self.fail(_field_path(section, key), "is required")
            return None
        return default

    # -- typed getters -------------------------------------------------------
    def number(self, section: str | None, key: str, default: Any = _MISSING, *,
               gt: float | None = None, ge: float | None = None,
               lt: float | None = None, le: float | None = None,
               integer: bool = False) -> Any:
        """A finite number with optional bounds; returns None when invalid."""
        value = self.raw(section, key, default)
        if value is None:
            return None
        path = _field_path(section, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, f"must be a number, got {value!r}")
            return None
        if integer and not float(value).is_integer():
            self.fail(path, f"must be an integer, got {value!r}")
            return None
        if not math.isfinite(value):
            self.fail(path, f"must be finite, got {value!r}")
            return None
        if abs(value) > MAX_MAGNITUDE:
            self.fail(path, f"must be at most {MAX_MAGNITUDE:g} in magnitude (larger values overflow "
                            f"the model's arithmetic), got {value!r}")
            return None
        for bound, ok, word in ((gt, lambda v, b: v > b, ">"), (ge, lambda v, b: v >= b, ">="),
                                (lt, lambda v, b: v < b, "<"), (le, lambda v, b: v <= b, "<=")):
            if bound is not None and not ok(value, bound):
                self.fail(path, f"must be {word} {bound:g}, got {value:g}")
                return None
        return int(value) if integer else value

    def numbers(self, section: str | None, key: str, default: Any = _MISSING, *,
                length: int | None = None, ge: float | None = None,
                gt: float | None = None, le: float | None = None,
                integer: bool = False, min_length: int = 0) -> np.ndarray | None:
        """A list of finite numbers (optionally of a given length or at least ``min_length``, sign, upper
        bound; whole numbers)."""
        value = self.raw(section, key, default)
        if value is None:
            return None
        path = _field_path(section, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, list):
            self.fail(path, f"must be a list of numbers, got {value!r}")
            return None
        not_numbers = [i for i, v in enumerate(value) if isinstance(v, bool) or not isinstance(v, (int, float))]
        if not_numbers:
            self.fail(path, f"must be a list of numbers: {name_entries(not_numbers, value, 'is not a number')}")
            return None
        arr = np.asarray(value, dtype=float)
        checks = [(~np.isfinite(arr), "is not finite"),
                  (np.abs(arr) > MAX_MAGNITUDE, f"must be at most {MAX_MAGNITUDE:g} in magnitude")]
        if integer:
            checks.append((arr != np.round(arr), "must be a whole number"))
        for bound, word in ((ge, ">="), (gt, ">"), (le, "<=")):
            if bound is not None:
                mask = {">=": arr < bound, ">": arr <= bound, "<=": arr > bound}[word]
                checks.append((mask, f"must be {word} {bound:g}"))
        finite = np.isfinite(arr)
        failed = False
        for n, (mask, what) in enumerate(checks):
            bad = np.flatnonzero(mask if n == 0 else mask & finite).tolist()
            if bad:
                self.fail(path, name_entries(bad, value, what))
                failed = True
        if length is not None and arr.size != length:
            self.fail(path, f"must have {length} entries, got {arr.size}")
            failed = True
        if arr.size < min_length:
            self.fail(path, f"must have at least {min_length} entr{'y' if min_length == 1 else 'ies'}, got {arr.size}")
            failed = True
        return None if failed else arr

    def string(self, section: str | None, key: str, default: Any = _MISSING, *,
               choices: Iterable[str] | None = None) -> Any:
        """A string, optionally one of ``choices``."""
        value = self.raw(section, key, default)
        if value is None:
            return None
        path = _field_path(section, key)
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {value!r}")
            return None
        if choices is not None:
            choices = list(choices)
            if value not in choices:
                self.fail(path, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
                return None
        return value

    def sweep(self, section: str | None, key: str, default: Any = _MISSING, *,
              limit: int = MAX_SWEEP_POINTS) -> tuple[float, float, float] | None:
        """A ``[start, stop, step]`` grid (stop included) of at most ``limit`` points; None when invalid.

        Examples
        --------
        >>> chk = Checker({"study": {"sweep": [0.0, 8.0, 1e-5]}})
        >>> chk.sweep("study", "sweep") is None, chk.problems[0][:39]
        (True, '[study].sweep: gives 800,001 points, mo')
        """
        values = self.numbers(section, key, default, length=3, ge=0)
        if values is None:
            return None
        start, stop, step = (float(v) for v in values)
        path = _field_path(section, key)
        if step <= 0 or stop < start:
            self.fail(path, f"must be [start, stop, step] with step > 0 and stop >= start, got {values.tolist()}")
            return None
        points = math.floor((stop - start) / step + 0.5) + 1
        if points > limit:
            self.fail(path, f"gives {points:,} points, more than the limit of {limit:,}; use a larger step")
            return None
        return start, stop, step

    def timezone(self, section: str | None, key: str, default: Any = _MISSING) -> Any:
        """An IANA time-zone name that exists (``"America/Los_Angeles"``); None when invalid."""
        value = self.string(section, key, default)
        if value is None:
            return None
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            self.fail(_field_path(section, key), f"unknown time zone {value!r} (an IANA name such as "
                                                 "'America/Los_Angeles')")
            return None
        return value

    def check(self, condition: bool, path: str, message: str) -> bool:
        """Record ``message`` at ``path`` unless ``condition`` holds."""
        if not condition:
            self.fail(path, message)
        return condition

    def unknown_keys(self, section: str | None, allowed: Iterable[str]) -> None:
        """Flag keys of ``[section]`` that no model reads (typos must not pass silently)."""
        table = self.section(section, required=False)
        allowed = set(allowed)
        for key in table:
            if key not in allowed:
                self.fail(_field_path(section, key),
                          f"unknown key (known: {', '.join(sorted(allowed))})")

    def declared_keys(self, schema: Any, sections: Iterable[str] | None = None, variant: str | None = None
                      ) -> None:
        """Flag keys no field of ``schema`` declares, in ``sections`` (default: the top level and every
        plain table of the schema; arrays of tables are checked entry by entry by their reader)."""
        if sections is None:
            sections = [s for s in schema.section_names() if "." not in s and s not in schema.tables]
        for section in sections:
            self.unknown_keys(section or None, schema.keys(section, variant))

    def raise_if_any(self) -> None:
        """Raise one :class:`InstanceError` listing every problem recorded."""
        if self.problems:
            raise InstanceError(self.problems, self.source)


# --------------------------------------------------------------------------
# Instance documents and the model registry
# --------------------------------------------------------------------------
@dataclass
class Instance:
    """A parsed instance file: which model, its raw parameters, where it lives."""

    model: str
    path: Path
    data: dict[str, Any]
    name: str = ""

    def resolve(self, relative: str) -> Path:
        """A data file named in the instance: a shipped dataset's name (``"pjm_dayton"``) or a path
        relative to the instance file (``"data/pjm_dayton_hourly.csv"``)."""
        return resolve_data(relative, self.path.parent)

    def checker(self) -> Checker:
        return Checker(self.data, str(self.path))


#: The built-in model families: instance ``model`` name -> module defining (and registering) its study.
#: A family is imported only when an instance names it (``gridgames --help`` imports none).
BUILTIN_MODELS: dict[str, str] = {
    "economic_dispatch": "gridgames.models.dispatch.study",
    "stackelberg_pricing": "gridgames.models.stackelberg.study",
    "microgrid_market": "gridgames.models.microgrid.study",
    "tou_pricing": "gridgames.models.tou.study",
    "rtp": "gridgames.models.rtp.study",
}


@dataclass
class ModelEntry:
    """How the CLI runs one model family from an instance.

    ``study`` is the family's :class:`~gridgames.models.study.Study` (its
    declared options and methods); ``run(instance, **opts)`` is ``study.run``
    for families registered with :func:`register_study`.
    """

    name: str
    run: Callable[..., Any]
    description: str = ""
    methods: tuple[str, ...] = field(default_factory=tuple)
    study: Any = None


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, run: Callable[..., Any], description: str = "",
                   methods: Iterable[str] = ()) -> None:
    """Make ``model = "<name>"`` in an instance file run ``run(instance, **opts)``."""
    _MODELS[name] = ModelEntry(name, run, description, tuple(methods))


def register_study(study: Any) -> Any:
    """Register a :class:`~gridgames.models.study.Study` instance under its ``name``; returns it."""
    _MODELS[study.name] = ModelEntry(study.name, study.run, study.description, tuple(study.methods), study)
    return study


def known_models() -> list[str]:
    """Every model name an instance can use, without importing any family."""
    return sorted(set(BUILTIN_MODELS) | set(_MODELS))


def get_model(name: str) -> ModelEntry:
    """The registered family ``name``, importing only its own module.

    Raises
    ------
    InstanceError
        ``name`` is no known model.
    """
    if name not in _MODELS and name in BUILTIN_MODELS:
        importlib.import_module(BUILTIN_MODELS[name])
    if name not in _MODELS:
        raise InstanceError([f"model: must be one of {', '.join(map(repr, known_models()))}, got {name!r}"])
    return _MODELS[name]


def registered_models() -> dict[str, ModelEntry]:
    """All model families an instance can name (imports the built-in ones)."""
    for module in BUILTIN_MODELS.values():
        importlib.import_module(module)
    return dict(_MODELS)


def model_fields(name: str) -> Any:
    """The declared instance fields (:class:`~gridgames.models.schema.Schema`) of model ``name``.

    Raises
    ------
    InstanceError
        ``name`` is no known model (naming the known ones), or it declares no fields.
    """
    try:
        entry = get_model(name)
    except InstanceError:
        raise InstanceError([f"unknown model {name!r}; known models: {', '.join(known_models())}"]) from None
    schema = getattr(entry.study, "fields", None)
    if schema is None:
        raise InstanceError([f"model {name!r} declares no instance fields"])
    return schema


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is an :class:`InstanceError`."""
    path = Path(path)
    if not path.is_file():
        raise InstanceError([f"file not found: {path}"], str(path))
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InstanceError([f"not valid TOML: {exc}"], str(path)) from None
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start:exc.start + 1]
        raise InstanceError([f"not a text (UTF-8) TOML file: byte {exc.start} is {bad!r}"], str(path)) from None
    except OSError as exc:
        raise InstanceError([f"cannot read the file: {exc.strerror or exc}"], str(path)) from None


def load_instance(path: str | Path) -> Instance:
    """Parse and check the envelope of an instance file.

    Only ``model`` and ``name`` are checked here; the model family validates
    its own sections (all problems reported at once).  A bare name that is no
    file (``"dispatch_small"``) opens the shipped instance of that name.

    Raises
    ------
    InstanceError
        Missing file, invalid TOML (with line and column), or an unknown model.
    """
    path = Path(path)
    if not path.is_file() and path.parent == Path(".") and path.suffix in ("", ".toml"):
        path = instance_path(path.name)     # a shipped instance by name: "dispatch_small"
    data = read_toml(path)
    chk = Checker(data, str(path))
    model = chk.string(None, "model", choices=known_models())
    name = chk.string(None, "name", default=path.stem)
    chk.raise_if_any()
    return Instance(model=model, path=path.resolve(), data=data, name=name)
