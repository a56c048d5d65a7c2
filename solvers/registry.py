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

import inspect
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from gridgames.solvers.errors import (GridGamesError, SolverNotAvailableError, SolverRegistrationError,
                                      UnknownSolverError)
from gridgames.solvers.options import unknown_options
from gridgames.solvers.result import SolveResult, SolveStatus
from gridgames.solvers.validate import supports, validate_model

log = logging.getLogger(__name__)

#: Problem classes a backend may declare in ``features``.
FEATURES = ("lp", "qp", "milp", "miqp", "nlp", "minlp", "global", "duals")


class Solver(Protocol):
    """What the rest of gridgames expects from a backend."""

    name: str
    features: frozenset[str]

    def solve(self, model: Any, **kwargs: Any) -> SolveResult: ...


@dataclass(frozen=True)
class SolverInfo:
    """A registry entry: how to build a backend and what it needs installed.

    Attributes
    ----------
    hint : str
        How to install the solver when it is missing (default: ``pip install <package>``).
    features_known : bool
        False for a Pyomo plug-in gridgames knows nothing about (``features`` is then empty).
    checks_model : bool
        The backend runs :func:`gridgames.solvers.validate.validate_model`
        itself (built-ins and pass-through do); otherwise :func:`get_solver`
        wraps it in a :class:`CheckedSolver`.
    """

    name: str
    factory: Callable[..., Solver]
    package: str
    features: frozenset[str]
    description: str
    is_available: Callable[[], bool]
    hint: str = ""
    features_known: bool = True
    checks_model: bool = False

    @property
    def available(self) -> bool:
        return bool(self.is_available())

    @property
    def install_hint(self) -> str:
        """What to run to install the solver."""
        return self.hint or f"pip install {self.package}"


_REGISTRY: dict[str, SolverInfo] = {}


def _check_registration(name: Any, factory: Any, features: Any) -> frozenset[str]:
    """Refuse a registration that would break the registry; the features as a frozenset."""
    if not isinstance(name, str) or not name.strip() or name != name.strip() or any(c.isspace() for c in name):
        raise SolverRegistrationError(f"solver name must be a non-empty string without spaces, got {name!r}")
    if name.startswith("pyomo:"):
        raise SolverRegistrationError("names starting with 'pyomo:' are reserved for Pyomo pass-through solvers")
    if not callable(factory):
        raise SolverRegistrationError(f"register_solver({name!r}): factory must be callable "
                                      f"(a class or function returning a solver), got {type(factory).__name__}")
    if isinstance(features, str) or not all(isinstance(f, str) for f in features):
        raise SolverRegistrationError(f"register_solver({name!r}): features must be a set of strings, "
                                      f"e.g. {{'lp', 'milp'}}, got {features!r}")
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise SolverRegistrationError(f"register_solver({name!r}): unknown features {sorted(unknown)}; "
                                      f"choose from {FEATURES}")
    return frozenset(features)


def register_solver(name: str, factory: Callable[..., Solver], *, package: str = "",
                    features: set[str] | frozenset[str] = frozenset(), description: str = "",
                    is_available: Callable[[], bool] | None = None, hint: str = "",
                    replace: bool = False, checks_model: bool = False) -> None:
    """Register a solver backend under ``name``.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"highs"``; ``"pyomo:"`` prefixes are reserved.
    factory : callable
        ``factory(**options) -> Solver``: what it returns must have ``solve``.
        Its keyword parameters are the backend's options (unknown ones are
        refused by :func:`get_solver` unless it takes ``**kwargs``).
    package : str
        The pip package to name when the solver is missing.
    features : set of str
        Subset of :data:`FEATURES`; models of other classes are refused before
        the backend sees them.  Empty: taken from the backend's own
        ``features`` attribute, else not checked.
    description : str
        One line for ``gridgames solvers``.
    is_available : callable, optional
        Cheap check; defaults to ``factory.available`` when it exists, else True.
    hint : str
        How to install it, when ``pip install <package>`` is not the answer.
    replace : bool
        Replace an existing entry of the same name (a built-in included).
    checks_model : bool
        The backend validates models itself (see :class:`SolverInfo`).

    Raises
    ------
    SolverRegistrationError
        A bad name, a factory that is not callable, unknown features, or a
        name already registered without ``replace=True``.

    Examples
    --------
    >>> register_solver("my-lp", MyLP, package="my-lp-py", features={"lp"})  # doctest: +SKIP
    """
    frozen = _check_registration(name, factory, features)
    _ensure_builtins()
    if name in _REGISTRY and not replace:
        raise SolverRegistrationError(f"solver {name!r} is already registered ({_REGISTRY[name].description or 'custom'}); "
                                      "pass replace=True to replace it, or choose another name")
    check = is_available or getattr(factory, "available", None) or (lambda: True)
    _REGISTRY[name] = SolverInfo(name, factory, package or name, frozen, description, check, hint=hint,
                                 checks_model=checks_model)


_LOADING: list[bool] = []


#: installed packages register their solvers through entry points in this group, each naming a
#: function that calls :func:`register_solver` (``[project.entry-points."gridgames.solvers"]``
#: ``mine = "my_package.gg:register"``), so the CLI and every entry point know them by name
ENTRY_POINT_GROUP = "gridgames.solvers"


def _solver_entry_points() -> list[Any]:
    from importlib.metadata import entry_points
    return list(entry_points(group=ENTRY_POINT_GROUP))


def _load_entry_points() -> None:
    """Run every installed package's registration function; a broken one is logged, naming it, and skipped
    (one bad plug-in must not take the built-ins and the CLI down with it)."""
    for ep in _solver_entry_points():
        try:
            register = ep.load()
            register()
        except Exception as exc:  # noqa: BLE001 - reported by name, the other solvers stay usable
            log.warning("solver entry point %r (%s, group %s) failed: %s: %s", ep.name, ep.value,
                        ENTRY_POINT_GROUP, type(exc).__name__, exc)


def _ensure_builtins() -> None:
    if not _REGISTRY and not _LOADING:
        _LOADING.append(True)
        try:
            from gridgames.solvers.builtins import register_builtins
            register_builtins()
            _load_entry_points()
        finally:
            _LOADING.clear()


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
    if not isinstance(name, str):
        raise UnknownSolverError(f"a solver name is a string such as 'highs', got {type(name).__name__} {name!r}")
    if name.startswith("pyomo:"):
        from gridgames.solvers.passthrough import pyomo_passthrough_info
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

    Every backend takes the common options ``time_limit``, ``mip_gap`` and
    ``threads`` (see :mod:`gridgames.solvers.options`) and its own native ones.

    Raises
    ------
    UnknownSolverError
        ``name`` is not registered (nor a Pyomo plug-in).
    SolverNotAvailableError
        The backend is not installed; the message says how to install it.
    SolverOptionError
        An unknown option (the valid ones are named) or a bad value.
    SolverRegistrationError
        A custom factory that raised or did not return a solver.

    Examples
    --------
    >>> get_solver("highs", time_limit=10, mip_gap=1e-6).name
    'highs'
    """
    info = solver_info(name)
    if not info.available:
        raise SolverNotAvailableError(info.name, info.package, hint=info.hint)
    if not info.checks_model:
        _check_factory_options(info, options)
    if info.checks_model:
        solver = info.factory(**options)
    else:
        try:
            solver = info.factory(**options)
        except GridGamesError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plug-in's factory failed: name it
            raise SolverRegistrationError(f"solver {name!r}: its factory raised {type(exc).__name__}: {exc}") \
                from exc
    if not callable(getattr(solver, "solve", None)):
        raise SolverRegistrationError(f"solver {name!r}: its factory returned {type(solver).__name__}, "
                                      "which has no solve(model) method")
    return solver if info.checks_model else CheckedSolver(solver, info)


def _check_factory_options(info: SolverInfo, options: dict[str, Any]) -> None:
    """Refuse options a custom factory's signature does not take (it cannot say so clearly itself)."""
    try:
        signature = inspect.signature(info.factory)
    except (TypeError, ValueError):
        return
    params = signature.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    valid = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    unknown = [k for k in options if k not in valid]
    if unknown:
        raise unknown_options(info.name, unknown, valid)


class CheckedSolver:
    """A custom backend behind the checks every built-in runs.

    Before each solve: the declared features and finite data
    (:func:`~gridgames.solvers.validate.validate_model`); after it: the
    result must be a :class:`SolveResult`, and a success claim becomes ``error``
    when its objective is not finite, a variable has no value, its values break a
    bound or constraint (relative ``CLAIM_VIOLATION_TOL``) or the model's objective
    at them is not the one reported.  Other attributes are the backend's.
    """

    def __init__(self, solver: Any, info: SolverInfo) -> None:
        self.solver = solver
        self.name = getattr(solver, "name", None) or info.name
        own = getattr(solver, "features", None)
        declared = info.features or (frozenset(own) if own else None)
        self.features = declared or frozenset()
        self._declared = declared

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.solver, attr)

    def solve(self, model: Any, **kwargs: Any) -> SolveResult:
        validate_model(model, self.name, self._declared)
        try:
            result = self.solver.solve(model, **kwargs)
        except GridGamesError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plug-in's failure is a result, as a built-in's is
            return SolveResult(SolveStatus.ERROR, None, 0.0, None, self.name,
                               f"solver '{self.name}' raised {type(exc).__name__}: {exc}")
        if not isinstance(result, SolveResult):
            raise SolverRegistrationError(f"solver '{self.name}' returned {type(result).__name__} from solve(), "
                                          "not a SolveResult")
        if result.status.is_ok and (result.objective is None or not math.isfinite(result.objective)):
            result.message = (f"{result.message}; " if result.message else "") + \
                f"reported {result.status.value} with objective {result.objective}: not a solution"
            result.status = SolveStatus.ERROR
        unset = _unset_variables(model) if result.status.is_ok else []
        if unset:
            result.message = (f"{result.message}; " if result.message else "") + \
                (f"solver '{self.name}' reported {result.status.value} but left {len(unset)} variable(s) without "
                 f"values ({', '.join(unset[:3])}): not a solution")
            result.status = SolveStatus.ERROR
        problem = _claim_problem(model, result) if result.status.is_ok else None
        if problem:
            result.message = (f"{result.message}; " if result.message else "") + \
                f"solver '{self.name}' reported {result.status.value} but {problem}: not a solution"
            result.status = SolveStatus.ERROR
        return result


#: a plug-in's point may break a bound or row by this much (relative to ``1 + |bound|``), the engine's own tolerance
CLAIM_VIOLATION_TOL = 1e-4
#: and its reported objective may differ from the model's objective at its point by this much
#: (times ``max(1, |value|)``)
CLAIM_OBJECTIVE_TOL = 1e-6


def _claim_problem(model: Any, result: SolveResult) -> str | None:
    """What is wrong with a plug-in's claimed solution: a bound or constraint its values break, or a reported
    objective the model's objective does not have at those values (None when nothing is)."""
    import pyomo.environ as pyo

    def value(expr: Any) -> float | None:   # None where undefined (log of a negative, 0/0): not judged here
        try:
            return pyo.value(expr, exception=False)
        except (ArithmeticError, ValueError, TypeError):
            return None

    worst, where = 0.0, ""
    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        body = value(con.body)
        for bound, sign in ((con.lower, 1.0), (con.upper, -1.0)):
            b = pyo.value(bound) if bound is not None else None
            if b is None or body is None:
                continue
            excess = sign * (b - body) / (1.0 + abs(b))
            if excess > worst:
                worst, where = excess, f"constraint '{con.name}' ({body:.6g} against {b:.6g})"
    for v in model.component_data_objects(pyo.Var, active=True, descend_into=True):
        if v.fixed or v.value is None:
            continue
        for bound, sign in ((v.lb, 1.0), (v.ub, -1.0)):
            if bound is not None and sign * (bound - v.value) / (1.0 + abs(bound)) > worst:
                worst, where = sign * (bound - v.value) / (1.0 + abs(bound)), \
                    f"the bound of '{v.name}' ({v.value:.6g} against {bound:.6g})"
    if worst > CLAIM_VIOLATION_TOL:
        return f"its values break {where}"
    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) == 1:
        at = value(objectives[0].expr)
        if at is not None and abs(at - result.objective) > CLAIM_OBJECTIVE_TOL * max(1.0, abs(at)):
            return (f"it reported the objective {result.objective:.6g} while '{objectives[0].name}' is {at:.6g} "
                    "at its values")
    return None


def _unset_variables(model: Any) -> list[str]:
    """Names of the unfixed variables of the active objectives and constraints that have no value."""
    import pyomo.environ as pyo
    from pyomo.core.expr.visitor import identify_variables

    seen: set[int] = set()
    out = []
    for comp in model.component_data_objects((pyo.Objective, pyo.Constraint), active=True, descend_into=True):
        for v in identify_variables(comp.expr, include_fixed=False):
            if id(v) not in seen:
                seen.add(id(v))
                if v.value is None:
                    out.append(v.name)
    return out


def require_features(solver: Solver, needed: set[str], what: str) -> None:
    """Refuse a model the backend cannot solve, before any work is done."""
    from gridgames.solvers.errors import UnsupportedModelError

    if all(supports(solver.features, kind) for kind in needed):
        return
    missing = {kind for kind in needed if not supports(solver.features, kind)}
    able = [i.name for i in list_solvers() if all(supports(i.features, k) for k in needed) and i.available]
    raise UnsupportedModelError(
        f"solver '{solver.name}' cannot solve {what} (needs {', '.join(sorted(missing))}); "
        f"use one of: {', '.join(able) or 'none installed'}")
