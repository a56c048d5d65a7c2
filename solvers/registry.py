"""The solver registry: one name per backend, capabilities declared up front.

>>> from gridgames.solvers import available_solvers, get_solver
>>> "highs" in available_solvers()
True
>>> result = get_solver("highs", time_limit=10).solve(model)   # doctest: +SKIP

A backend is any object with ``name``, ``features``, ``solve(model, **kw) ->
SolveResult`` and a class-level ``available()``.  Built in: ``highs``,
``ipopt``, ``scip``, ``scipy``; any other Pyomo solver passes through as
``pyomo:<name>`` (``pyomo:gurobi``, ``pyomo:cplex_direct`` ...).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gridgames.solvers.errors import SolverNotAvailableError, UnknownSolverError
from gridgames.solvers.result import SolveResult

#: Problem classes a backend may declare in ``features``.
FEATURES = ("lp", "qp", "milp", "miqp", "nlp", "minlp", "global", "duals")


class Solver(Protocol):
    """What the rest of gridgames expects from a backend."""

    name: str
    features: frozenset[str]

    def solve(self, model: Any, **kwargs: Any) -> SolveResult: ...


@dataclass(frozen=True)
class SolverInfo:
    """A registry entry: how to build a backend and what it needs installed."""

    name: str
    factory: Callable[..., Solver]
    package: str
    features: frozenset[str]
    description: str
    is_available: Callable[[], bool]

    @property
    def available(self) -> bool:
        return bool(self.is_available())


_REGISTRY: dict[str, SolverInfo] = {}


def register_solver(name: str, factory: Callable[..., Solver], *, package: str = "",
                    features: set[str] | frozenset[str] = frozenset(), description: str = "",
                    is_available: Callable[[], bool] | None = None) -> None:
    """Register (or replace) a solver backend under ``name``.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"highs"``; ``"pyomo:"`` prefixes are reserved.
    factory : callable
        ``factory(**options) -> Solver``.
    package : str
        The pip package to name when the solver is missing.
    features : set of str
        Subset of :data:`FEATURES`.
    description : str
        One line for ``gridgames solvers``.
    is_available : callable, optional
        Cheap check; defaults to ``factory.available`` when it exists, else True.
    """
    if name.startswith("pyomo:"):
        raise ValueError("names starting with 'pyomo:' are reserved for Pyomo pass-through solvers")
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown features {sorted(unknown)}; choose from {FEATURES}")
    check = is_available or getattr(factory, "available", None) or (lambda: True)
    _REGISTRY[name] = SolverInfo(name, factory, package or name, frozenset(features),
                                 description, check)


def _ensure_builtins() -> None:
    if not _REGISTRY:
        from gridgames.solvers import builtins  # noqa: F401  (registers on import)


def list_solvers() -> list[SolverInfo]:
    """Every registered solver, available or not, in registration order."""
    _ensure_builtins()
    return list(_REGISTRY.values())


def available_solvers() -> list[str]:
    """Names of the registered solvers whose packages are installed."""
    return [info.name for info in list_solvers() if info.available]


def solver_info(name: str) -> SolverInfo:
    """The registry entry for ``name`` (``pyomo:<name>`` entries are made on demand)."""
    _ensure_builtins()
    if name.startswith("pyomo:"):
        from gridgames.solvers.pyomo_backend import pyomo_passthrough_info
        return pyomo_passthrough_info(name.removeprefix("pyomo:"))
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UnknownSolverError(
            f"unknown solver {name!r}; registered: {known}; any Pyomo solver works as 'pyomo:<name>'"
        ) from None


def get_solver(name: str, **options: Any) -> Solver:
    """Build the backend ``name`` with solver ``options``.

    Raises
    ------
    UnknownSolverError
        ``name`` is not registered.
    SolverNotAvailableError
        The backend's package is not installed; the message names it.
    """
    info = solver_info(name)
    if not info.available:
        raise SolverNotAvailableError(info.name, info.package)
    return info.factory(**options)


def require_features(solver: Solver, needed: set[str], what: str) -> None:
    """Refuse a model the backend cannot solve, before any work is done."""
    from gridgames.solvers.errors import UnsupportedModelError

    missing = set(needed) - set(solver.features)
    if missing:
        able = [i.name for i in list_solvers() if needed <= i.features and i.available]
        raise UnsupportedModelError(
            f"solver '{solver.name}' cannot solve {what} (needs {', '.join(sorted(missing))}); "
            f"use one of: {', '.join(able) or 'none installed'}")
