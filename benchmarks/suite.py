"""The benchmark suite's vocabulary: cases, case families, and the row every case returns.

A **case** is one measurement — a model or test problem, a size, a method, a
solver — declared as data: a picklable module-level function and the keyword
arguments to call it with.  A **case family** is a function that lists cases;
it registers itself with :func:`case_family` and lives in one
``benchmarks/cases_<family>.py`` file.  The runner
(:mod:`gridgames.benchmarks.runner`) executes cases locally or on Dask and
stores one JSON file per case; the reporter
(:mod:`gridgames.benchmarks.report`) turns the files into tables and plots.

Example
-------
>>> from gridgames.benchmarks.suite import Case, case_family
>>> def run_square(*, n: int) -> dict:
...     return {"method": "closed form", "size": n, "objective": n * n, "reference": n * n,
...             "leader_gap": 0.0, "status": "optimal"}
>>> @case_family("squares")
... def squares() -> list[Case]:
...     return [Case("squares", f"n{n}", run_square, {"n": n}, smoke=n == 1) for n in (1, 2)]
"""
from __future__ import annotations

import fnmatch
import hashlib
import importlib
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from gridgames.benchmarks.tolerance import FamilyTolerance, Tolerance, tolerance_for
from gridgames.solvers.errors import GridGamesError

#: The columns every case's row may fill; missing ones are left empty.
ROW_FIELDS = ("method", "solver", "size", "objective", "reference", "leader_gap", "eq_gap",
              "wall_time", "solver_time", "upper_evals", "lower_evals", "status")

#: Modules holding case families, imported by :func:`all_cases` (one per model family).
FAMILY_MODULES = ("cases_instances", "cases_bolib", "cases_engine", "cases_engine_scale", "cases_epec",
                  "cases_forecast", "cases_microgrid", "cases_rtp", "cases_smd", "cases_tou")

#: smoke: the smallest size of every case (CI); full: every case except the
#: scale studies; scale: the large studies split into many cases (TOU city year)
SUITES = ("smoke", "full", "scale")

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_FAMILIES: dict[str, Callable[[], list["Case"]]] = {}
_TOLERANCES: dict[str, FamilyTolerance] = {}
#: entry-point group through which installed packages add case families
ENTRY_POINT_GROUP = "gridgames.benchmarks"


class BenchmarkError(GridGamesError):
    """A malformed case declaration or suite selection."""


@dataclass(frozen=True)
class Case:
    """One benchmark measurement.

    Parameters
    ----------
    family : str
        The family that declared it (also the results sub-folder).
    name : str
        Unique within the family; lower case, digits, ``.``, ``_``, ``-``.
    func : callable
        Module-level function called as ``func(**params)``; returns a dict with
        keys from :data:`ROW_FIELDS` (others are kept as extra columns).
    params : dict
        JSON-serialisable keyword arguments; they are part of the case's
        identity, so changing them makes the stored result stale.
    smoke : bool
        Part of the smoke suite (the smallest size of each case; the whole
        smoke suite runs in CI in under three minutes).
    scale : bool
        Part of the ``scale`` suite only (thousands of cases of one large
        study, e.g. every seller-day of the TOU city year), not of ``full``.
    """

    family: str
    name: str
    func: Callable[..., dict]
    params: dict[str, Any] = field(default_factory=dict)
    smoke: bool = False
    scale: bool = False

    def __post_init__(self) -> None:
        for what, value in (("family", self.family), ("name", self.name)):
            if not _NAME.match(value):
                raise BenchmarkError(f"case {what} {value!r} must match [a-z0-9][a-z0-9._-]*")
        try:
            json.dumps(self.params, sort_keys=True)
        except TypeError as exc:
            raise BenchmarkError(f"case {self.key}: params must be JSON-serialisable ({exc})") from None

    @property
    def key(self) -> str:
        """``family/name``: the case's identity across runs."""
        return f"{self.family}/{self.name}"

    @property
    def fingerprint(self) -> str:
        """Hash of the function's qualified name and the params: a stored result is reused only if equal."""
        text = json.dumps({"func": f"{self.func.__module__}.{self.func.__qualname__}",
                           "params": self.params}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def case_family(name: str, *, tolerance: FamilyTolerance = None
                ) -> Callable[[Callable[[], list[Case]]], Callable[[], list[Case]]]:
    """Register ``generator() -> list[Case]`` as the case family ``name``.

    Parameters
    ----------
    name : str
        The family's name (results sub-folder, ``--cases`` prefix).
    tolerance : Tolerance or mapping, optional
        What a row must show to pass (:mod:`gridgames.benchmarks.tolerance`):
        one :class:`~gridgames.benchmarks.tolerance.Tolerance`, or a mapping
        from method patterns to tolerances (first match wins).  Without one,
        the report's ``check`` column says ``-``.
    """
    if not _NAME.match(name):
        raise BenchmarkError(f"family name {name!r} must match [a-z0-9][a-z0-9._-]*")
    if tolerance is not None and not isinstance(tolerance, Tolerance) and not (
            isinstance(tolerance, dict) and all(isinstance(t, Tolerance) for t in tolerance.values())):
        raise BenchmarkError(f"family {name!r}: tolerance must be a Tolerance or a dict of method pattern -> "
                             f"Tolerance, got {type(tolerance).__name__}")

    def register(generator: Callable[[], list[Case]]) -> Callable[[], list[Case]]:
        _FAMILIES[name] = generator
        _TOLERANCES[name] = tolerance
        return generator
    return register


def row_tolerance(family: str, method: str | None) -> Tolerance | None:
    """The tolerance family ``family`` declares for rows of ``method`` (None: none declared)."""
    return tolerance_for(_TOLERANCES.get(family), method)


def _entry_point_modules() -> list[str]:
    from importlib.metadata import entry_points  # noqa: PLC0415
    return [ep.value.split(":")[0] for ep in entry_points(group=ENTRY_POINT_GROUP)]


def families() -> dict[str, Callable[[], list[Case]]]:
    """Every registered family: the package's (:data:`FAMILY_MODULES`), those of installed
    packages (entry points in the ``gridgames.benchmarks`` group, each naming a module), and
    those of modules loaded with :func:`load_case_module`."""
    for module in FAMILY_MODULES:
        importlib.import_module(f"gridgames.benchmarks.{module}")
    for module in _entry_point_modules():
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 — a broken plug-in is named, not a traceback
            raise BenchmarkError(f"benchmark entry point module {module!r} (group {ENTRY_POINT_GROUP}) "
                                 f"failed to import: {type(exc).__name__}: {exc}") from None
    return dict(_FAMILIES)


def load_case_module(source: str | Path) -> ModuleType:
    """Import a module of case families kept outside the package (``gridgames bench --module``).

    Parameters
    ----------
    source : str or Path
        A ``.py`` file, or the dotted name of an importable module.  Its
        ``@case_family`` declarations register on import.  A file's module is
        pickled by value, so Dask worker processes can run its cases without
        having the file on their path.

    Raises
    ------
    BenchmarkError
        No such file or module, or the module fails to import (its error named).
    """
    path = Path(source)
    before = set(_FAMILIES)
    try:
        if path.suffix == ".py" or path.exists():
            if not path.is_file():
                raise BenchmarkError(f"--module {source}: no such file")
            name = f"gridgames_cases_{re.sub(r'[^0-9a-zA-Z_]', '_', path.stem)}"
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise BenchmarkError(f"--module {source}: not a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            import cloudpickle  # noqa: PLC0415 (ships with dask)
            cloudpickle.register_pickle_by_value(module)
        else:
            module = importlib.import_module(str(source))
    except BenchmarkError:
        raise
    except Exception as exc:  # noqa: BLE001 — the user's module: name it and its error
        raise BenchmarkError(f"--module {source}: failed to import: {type(exc).__name__}: {exc}") from None
    if not set(_FAMILIES) - before and not any(getattr(g, "__module__", None) == module.__name__
                                                for g in _FAMILIES.values()):
        raise BenchmarkError(f"--module {source}: declares no case family (decorate a function with "
                             f"@case_family(name))")
    return module


def all_cases(suite: str = "full", pattern: str | None = None) -> list[Case]:
    """The cases of a suite, optionally filtered.

    Parameters
    ----------
    suite : {'smoke', 'full', 'scale'}
        ``smoke`` keeps only cases marked ``smoke=True``, ``scale`` only those
        marked ``scale=True``; ``full`` is everything but the ``scale`` cases.
    pattern : str, optional
        Shell-style pattern matched against ``family/name`` (``"smd/*"``,
        ``"*kkt*"``); a comma separates alternatives.

    Raises
    ------
    BenchmarkError
        Unknown suite, duplicate case keys, or a pattern that matches nothing.
    """
    if suite not in SUITES:
        raise BenchmarkError(f"unknown suite {suite!r}; choose one of {', '.join(SUITES)}")
    cases: list[Case] = []
    for family, generator in families().items():
        for case in generator():
            if case.family != family:
                raise BenchmarkError(f"family {family!r} declared a case of family {case.family!r}")
            cases.append(case)
    keys = [c.key for c in cases]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    if duplicates:
        raise BenchmarkError(f"duplicate case keys: {', '.join(duplicates)}")
    if suite == "smoke":
        cases = [c for c in cases if c.smoke]
    elif suite == "scale":
        cases = [c for c in cases if c.scale]
    else:
        cases = [c for c in cases if not c.scale]
    if pattern:
        alternatives = [p.strip() for p in pattern.split(",") if p.strip()]
        cases = [c for c in cases if any(fnmatch.fnmatchcase(c.key, p) for p in alternatives)]
        if not cases:
            raise BenchmarkError(f"no {suite} case matches {pattern!r}")
    return cases
