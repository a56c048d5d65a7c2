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
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

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


def case_family(name: str) -> Callable[[Callable[[], list[Case]]], Callable[[], list[Case]]]:
    """Register ``generator() -> list[Case]`` as the case family ``name``."""
    if not _NAME.match(name):
        raise BenchmarkError(f"family name {name!r} must match [a-z0-9][a-z0-9._-]*")

    def register(generator: Callable[[], list[Case]]) -> Callable[[], list[Case]]:
        _FAMILIES[name] = generator
        return generator
    return register


def families() -> dict[str, Callable[[], list[Case]]]:
    """Every registered family (importing the modules of :data:`FAMILY_MODULES`)."""
    for module in FAMILY_MODULES:
        importlib.import_module(f"gridgames.benchmarks.{module}")
    return dict(_FAMILIES)


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
