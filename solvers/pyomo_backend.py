"""Backends that go through Pyomo's own solver interfaces.

* :class:`PyomoContribSolver` wraps a solver of Pyomo's new interface
  (``pyomo.contrib.solver``): ``highs`` (highspy) and ``scip`` (pyscipopt).
  The wrapped object is persistent: re-solving the same model after changing
  mutable Params or fixed values only sends the changes.
* :class:`PyomoLegacySolver` passes any other Pyomo solver through
  (``pyomo:gurobi``, ``pyomo:cplex_direct`` ...).

Both translate Pyomo's termination information into :class:`SolveResult`.
"""
from __future__ import annotations

import logging
import time
from functools import cache
from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.common.util import NoDualsError
from pyomo.opt import TerminationCondition as LegacyTC

from gridgames.solvers.errors import SolverNotAvailableError, UnsupportedModelError
from gridgames.solvers.model_class import classify
from gridgames.solvers.result import SolveResult, SolveStatus

log = logging.getLogger(__name__)

_TC = TerminationCondition
_STATUS_OF_TC = {
    _TC.convergenceCriteriaSatisfied: SolveStatus.OPTIMAL,
    _TC.maxTimeLimit: SolveStatus.TIME_LIMIT,
    _TC.iterationLimit: SolveStatus.ITERATION_LIMIT,
    _TC.objectiveLimit: SolveStatus.ITERATION_LIMIT,
    _TC.minStepLength: SolveStatus.ERROR,
    _TC.unbounded: SolveStatus.UNBOUNDED,
    _TC.provenInfeasible: SolveStatus.INFEASIBLE,
    _TC.locallyInfeasible: SolveStatus.INFEASIBLE,
    _TC.infeasibleOrUnbounded: SolveStatus.INFEASIBLE,
    _TC.error: SolveStatus.ERROR,
    _TC.interrupted: SolveStatus.ERROR,
    _TC.licensingProblems: SolveStatus.ERROR,
    _TC.emptyModel: SolveStatus.ERROR,
    _TC.unknown: SolveStatus.ERROR,
}


def _load_duals(model: pyo.Block, duals: dict) -> None:
    suffix = model.component("dual")
    if isinstance(suffix, pyo.Suffix) and suffix.import_enabled():
        suffix.clear()
        suffix.update(duals)


class PyomoContribSolver:
    """A ``pyomo.contrib.solver`` backend with our options and result type.

    Parameters
    ----------
    time_limit : float, optional
        Wall-time limit in seconds.
    mip_gap : float, optional
        Relative MIP gap.
    **options
        Passed to the solver itself (HiGHS / SCIP option names).
    """

    #: set by subclasses
    name: str = ""
    package: str = ""
    features: frozenset[str] = frozenset()
    _factory_path: tuple[str, str] = ("", "")

    def __init__(self, time_limit: float | None = None, mip_gap: float | None = None,
                 **options: Any) -> None:
        module, cls = self._factory_path
        mod = __import__(module, fromlist=[cls])
        self._solver = getattr(mod, cls)()
        self.time_limit = time_limit
        self.mip_gap = mip_gap
        self.options = options

    @classmethod
    def available(cls) -> bool:
        return _contrib_available(cls._factory_path)

    def check_model(self, model: pyo.Block, mc: Any = None) -> None:
        """Refuse a model class this backend cannot solve, naming an alternative."""
        mc = classify(model) if mc is None else mc
        if mc.kind not in self.features:
            raise UnsupportedModelError(
                f"solver '{self.name}' cannot solve this model: it is {mc.kind.upper()} "
                f"({mc.n_vars} variables, {mc.n_constraints} constraints); "
                f"{self.name} handles {', '.join(sorted(f.upper() for f in self.features if f not in ('duals', 'global')))}."
                " Try 'scip' (MIQP/MINLP, global) or 'ipopt' (continuous NLP).")

    def solve(self, model: pyo.Block, *, tee: bool = False, check: bool = True,
              load_solutions: bool = True, **overrides: Any) -> SolveResult:
        """Solve ``model``; values go into its variables, duals into ``model.dual``."""
        if check:
            self.check_model(model)
        options = {**self.options, **overrides}
        start = time.perf_counter()
        try:
            res = self._solver.solve(
                model, tee=tee, load_solutions=False, raise_exception_on_nonoptimal_result=False,
                time_limit=self.time_limit, rel_gap=self.mip_gap, solver_options=options)
        except Exception as exc:  # noqa: BLE001 - the solver library failed: report, don't crash
            log.warning("%s raised %s: %s", self.name, type(exc).__name__, exc)
            return SolveResult(SolveStatus.ERROR, None, time.perf_counter() - start, None, self.name,
                               f"{self.name} failed: {type(exc).__name__}: {exc}")
        status = self._status(res)
        if res.termination_condition == _TC.infeasibleOrUnbounded:
            status = self._disambiguate(model, tee, options) or status
        has_point = res.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
        if has_point and load_solutions:
            res.solution_loader.load_vars()
            duals = {}
            if "duals" in self.features and status.is_ok:  # MIPs raise NoDualsError
                try:
                    duals = res.solution_loader.get_duals()
                except (NoDualsError, NotImplementedError) as exc:
                    log.debug("no duals from %s: %s", self.name, exc)
            _load_duals(model, duals)  # never leave another solve's duals behind
        extra = {}
        if res.objective_bound is not None:
            extra["objective_bound"] = res.objective_bound
        iterations = _first_count(res.extra_info, ("simplex_iteration_count", "ipm_iteration_count",
                                                   "mip_node_count", "nodes", "iterations"))
        return SolveResult(
            status=status,
            objective=res.incumbent_objective if has_point else None,
            solve_time=time.perf_counter() - start,
            iterations=iterations,
            solver=self.name,
            message=f"{res.termination_condition.name}; solution {res.solution_status.name}",
            extra=extra,
        )

    def _status(self, res: Any) -> SolveStatus:
        status = _STATUS_OF_TC.get(res.termination_condition, SolveStatus.ERROR)
        if status is SolveStatus.OPTIMAL and res.solution_status != SolutionStatus.optimal:
            status = SolveStatus.ERROR
        return status

    def _disambiguate(self, model: pyo.Block, tee: bool, options: dict) -> SolveStatus | None:
        """HiGHS' presolve may say 'infeasible or unbounded': ask again without it."""
        if self.name != "highs":
            return None
        res = self._solver.solve(model, tee=tee, load_solutions=False,
                                 raise_exception_on_nonoptimal_result=False,
                                 solver_options={**options, "presolve": "off"})
        return _STATUS_OF_TC.get(res.termination_condition)


def _first_count(info: Any, keys: tuple[str, ...]) -> int | None:
    """The first positive integer count among ``keys`` of a Pyomo ConfigDict."""
    for key in keys:
        try:
            value = info[key]
        except (KeyError, AttributeError, TypeError):
            continue
        if isinstance(value, (int, float)) and value > 0:
            return int(value)
    return None


@cache
def _contrib_available(path: tuple[str, str]) -> bool:
    module, cls = path
    try:
        mod = __import__(module, fromlist=[cls])
        return bool(getattr(mod, cls)().available())
    except Exception:  # noqa: BLE001 - any import/probe failure means "not available"
        return False


class HighsSolver(PyomoContribSolver):
    """HiGHS through highspy: LP, convex QP (linear constraints), MILP. Persistent."""

    name = "highs"
    package = "highspy"
    features = frozenset({"lp", "qp", "milp", "duals"})
    _factory_path = ("pyomo.contrib.solver.solvers.highs", "Highs")

    def solve(self, model: pyo.Block, *, tee: bool = False, check: bool = True, **kwargs: Any) -> SolveResult:
        # HiGHS' active-set QP solver can cycle on degenerate QPs whose Hessian
        # has low rank (a household's comfort term touches 24 of ~200 variables):
        # with no iteration limit it then runs until the time limit.  A default
        # limit of 50 iterations per row and column reports the cycling as
        # ITERATION_LIMIT in a fraction of a second, so a caller can switch to
        # Ipopt (the game engine does, see agent_solve.AgentSolver).
        if check:
            mc = classify(model)
            if mc.kind == "qp" and "qp_iteration_limit" not in {**self.options, **kwargs}:
                kwargs["qp_iteration_limit"] = max(10_000, 50 * (mc.n_vars + mc.n_constraints))
            self.check_model(model, mc)
        result = super().solve(model, tee=tee, check=False, **kwargs)
        if result.status is SolveStatus.ITERATION_LIMIT and "qp_iteration_limit" in kwargs:
            result.message += ("; HiGHS' QP solver hit its iteration limit (cycling on a degenerate QP?): "
                               "try solver='ipopt'")
        return result


class ScipSolver(PyomoContribSolver):
    """SCIP through pyscipopt: LP, MILP, MIQP, (MI)NLP, solved to global optimality.

    SCIP's own tolerances are kept (feasibility 1e-6).  SCIP moves a nonlinear
    objective into a constraint, so the optimal *objective* is accurate to about
    1e-7 relative but the optimal *point* of a flat quadratic only to about
    sqrt(1e-6) ~ 1e-3.  Tightening ``numerics/feastol`` to 1e-9 fixes that on
    small QPs but was seen to stall SCIP on bilinear KKT reformulations (past its
    time limit), so it is left to the caller: ``get_solver("scip", **{"numerics/feastol": 1e-9})``.
    """

    name = "scip"
    package = "pyscipopt"
    features = frozenset({"lp", "qp", "milp", "miqp", "nlp", "minlp", "global"})
    _factory_path = ("pyomo.contrib.solver.solvers.scip.scip_direct", "ScipDirect")

    def solve(self, model: pyo.Block, *, tee: bool = False, **kwargs: Any) -> SolveResult:
        # Pyomo captures solver output through a pipe drained by a Python thread,
        # but pyscipopt's optimize() holds the GIL: once SCIP has printed more than
        # the pipe buffer (a long branch-and-bound log) it blocks on the write and
        # never reaches its time-limit check.  Silence SCIP unless the user asks.
        if not tee:
            kwargs.setdefault("display/verblevel", 0)
        result = super().solve(model, tee=tee, **kwargs)
        if result.status is SolveStatus.OPTIMAL:
            result.message += " (global)"
        return result


# ---------------------------------------------------------------------------
# Pass-through to any other Pyomo solver
# ---------------------------------------------------------------------------
_LEGACY_STATUS = {
    LegacyTC.optimal: SolveStatus.OPTIMAL,
    LegacyTC.globallyOptimal: SolveStatus.OPTIMAL,
    LegacyTC.locallyOptimal: SolveStatus.LOCALLY_OPTIMAL,
    LegacyTC.infeasible: SolveStatus.INFEASIBLE,
    LegacyTC.unbounded: SolveStatus.UNBOUNDED,
    LegacyTC.infeasibleOrUnbounded: SolveStatus.INFEASIBLE,
    LegacyTC.maxIterations: SolveStatus.ITERATION_LIMIT,
    LegacyTC.maxTimeLimit: SolveStatus.TIME_LIMIT,
}


class PyomoLegacySolver:
    """Any solver Pyomo's ``SolverFactory`` knows, as ``pyomo:<name>``."""

    features = frozenset({"lp", "qp", "milp", "miqp", "nlp", "minlp"})

    def __init__(self, pyomo_name: str, **options: Any) -> None:
        self.pyomo_name = pyomo_name
        self.name = f"pyomo:{pyomo_name}"
        self.options = options
        self._solver = pyo.SolverFactory(pyomo_name)

    def solve(self, model: pyo.Block, *, tee: bool = False, **overrides: Any) -> SolveResult:
        start = time.perf_counter()
        res = self._solver.solve(model, tee=tee, load_solutions=False,
                                 options={**self.options, **overrides})
        tc = res.solver.termination_condition
        status = _LEGACY_STATUS.get(tc, SolveStatus.ERROR)
        objective = None
        if status.is_ok and len(res.solution) > 0:
            model.solutions.load_from(res)
            obj = next(model.component_data_objects(pyo.Objective, active=True))
            objective = pyo.value(obj)
        return SolveResult(status, objective, time.perf_counter() - start, None, self.name,
                           str(res.solver.message or tc))


def pyomo_passthrough_info(pyomo_name: str):
    """A registry entry built on demand for ``pyomo:<pyomo_name>``."""
    from gridgames.solvers.registry import SolverInfo

    def factory(**options: Any) -> PyomoLegacySolver:
        return PyomoLegacySolver(pyomo_name, **options)

    def is_available() -> bool:
        try:
            return bool(pyo.SolverFactory(pyomo_name).available(exception_flag=False))
        except Exception:  # noqa: BLE001 - unknown plug-ins raise various errors
            return False

    return SolverInfo(f"pyomo:{pyomo_name}", factory, pyomo_name, PyomoLegacySolver.features,
                      f"Pyomo's '{pyomo_name}' plug-in", is_available)


__all__ = ["HighsSolver", "ScipSolver", "PyomoLegacySolver", "SolverNotAvailableError"]
