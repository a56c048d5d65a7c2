"""Backends that go through Pyomo's own solver interfaces.

* :class:`PyomoContribSolver` wraps a solver of Pyomo's new interface
  (``pyomo.contrib.solver``): ``highs`` (highspy) and ``scip`` (pyscipopt).
  The wrapped object is persistent: re-solving the same model after changing
  mutable Params or fixed values only sends the changes.
* :class:`PyomoLegacySolver` (in :mod:`gridgames.solvers.passthrough`)
  passes any other Pyomo solver through (``pyomo:gurobi``, ``pyomo:cplex_direct`` ...).

Both translate Pyomo's termination information into :class:`SolveResult`.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import os
import re
import sys
import tempfile
import threading
import time
from functools import cache
from typing import Any

import pyomo.environ as pyo
from pyomo.contrib.solver.common.results import SolutionStatus, TerminationCondition
from pyomo.contrib.solver.common.util import NoDualsError

from gridgames.solvers.errors import SolverNotAvailableError
from gridgames.solvers.model_class import classify, objective_convexity_defect
from gridgames.solvers.options import (check_common_values, check_names, highs_option_names, highs_setter,
                                       probe_values, scip_option_names, scip_setter)
from gridgames.solvers.result import SolveResult, SolveStatus
from gridgames.solvers.validate import check_finite, validate_model

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


def _nonconvex_note(model: pyo.Block) -> str:
    """Why HiGHS may have failed on a QP: a nonconvex objective (HiGHS solves convex QPs only)."""
    defect = objective_convexity_defect(model)
    if not defect > 0.0:
        return ""
    return (f"; the objective is not convex (its Hessian has the eigenvalue {-defect:.4g}) and HiGHS solves "
            "convex QPs only: use 'scip' (global) or 'ipopt' (local)")


class PyomoContribSolver:
    """A ``pyomo.contrib.solver`` backend with our options and result type.

    Parameters
    ----------
    time_limit : float, optional
        Wall-time limit in seconds.
    mip_gap : float, optional
        Relative MIP gap.
    threads : int, optional
        Threads the solver may use.
    **options
        Native options of the solver itself (HiGHS / SCIP names); names and
        values are checked against the installed library now, not mid-run.

    Raises
    ------
    SolverOptionError
        An unknown option name (the closest valid ones are suggested) or a
        value the library refuses.
    """

    #: set by subclasses
    name: str = ""
    package: str = ""
    features: frozenset[str] = frozenset()
    _factory_path: tuple[str, str] = ("", "")
    #: where the native option names are documented
    options_url: str = ""
    #: alternatives named when a model class is refused
    alternatives: str = "Try 'scip' (MIQP/MINLP, global) or 'ipopt' (continuous NLP)."

    def __init__(self, time_limit: float | None = None, mip_gap: float | None = None,
                 threads: int | None = None, **options: Any) -> None:
        check_common_values(self.name, {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads})
        self._check_native(options)
        module, cls = self._factory_path
        mod = __import__(module, fromlist=[cls])
        self._solver = getattr(mod, cls)()
        self.time_limit = time_limit
        self.mip_gap = mip_gap
        self.threads = None if threads is None else int(threads)
        self.options = options

    @classmethod
    def native_option_names(cls) -> frozenset[str]:
        """Every native option name of the installed solver library."""
        return frozenset()

    @staticmethod
    def _try_option(key: str, value: Any) -> str | None:
        """None when the library takes ``key = value``, else its complaint."""
        return None

    def _check_native(self, options: dict[str, Any]) -> None:
        if not options:
            return
        check_names(self.name, options, self.native_option_names(), where=self.options_url)
        probe_values(self.name, options, self._try_option)

    @classmethod
    def available(cls) -> bool:
        return _contrib_available(cls._factory_path)

    def check_model(self, model: pyo.Block, mc: Any = None) -> Any:
        """Refuse a model class this backend cannot solve, or non-finite data; the model's class."""
        return validate_model(model, self.name, self.features, alternatives=self.alternatives, mc=mc)

    def solve(self, model: pyo.Block, *, tee: bool = False, check: bool = True,
              load_solutions: bool = True, **overrides: Any) -> SolveResult:
        """Solve ``model``; values go into its variables, duals into ``model.dual``.

        ``check=False`` skips the model checks (class, finite data) for fast
        re-solves of a model already checked; a non-finite objective is still
        never reported as a solution.  ``overrides`` are native options for
        this solve only.
        """
        if check:
            self.check_model(model)
        if overrides:
            check_names(self.name, overrides, self.native_option_names(), where=self.options_url,
                        common=False)
        options = {**self.options, **overrides}
        start = time.perf_counter()
        try:
            res = self._solver.solve(
                model, tee=tee, load_solutions=False, raise_exception_on_nonoptimal_result=False,
                time_limit=self.time_limit, rel_gap=self.mip_gap, threads=self.threads,
                solver_options=options)
        except Exception as exc:  # noqa: BLE001 - the solver library failed: report, don't crash
            log.warning("%s raised %s: %s", self.name, type(exc).__name__, exc)
            return SolveResult(SolveStatus.ERROR, None, time.perf_counter() - start, None, self.name,
                               _failure_message(self.name, model, exc))
        if res.termination_condition == _TC.interrupted:
            # SCIP catches Ctrl-C itself and returns: pass the interrupt on, or a long run would go on
            raise KeyboardInterrupt(f"{self.name} was interrupted")
        status = self._status(res)
        if res.termination_condition == _TC.infeasibleOrUnbounded:
            status = self._disambiguate(model, tee, options) or status
        has_point = res.solution_status in (SolutionStatus.feasible, SolutionStatus.optimal)
        objective = res.incumbent_objective if has_point else None
        if has_point and not _finite(objective):
            check_finite(model)  # names the culprit when the data is at fault
            status, has_point, objective = SolveStatus.ERROR, False, None
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
        message = f"{_words(res.termination_condition.name)} (solution: {_words(res.solution_status.name)})"
        if status is SolveStatus.ERROR and res.incumbent_objective is not None and objective is None:
            message += f"; the solver's objective {res.incumbent_objective} is not finite"
        if status is SolveStatus.ERROR and self.name == "highs":
            message += _nonconvex_note(model)
        return SolveResult(
            status=status,
            objective=objective,
            solve_time=time.perf_counter() - start,
            iterations=iterations,
            solver=self.name,
            message=message,
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


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


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


_HIGHS_THREADS: list[int] = []


def _highs_scheduler(threads: int) -> None:
    """HiGHS keeps one thread pool per process and fails a run asking for another size: rebuild it."""
    if _HIGHS_THREADS != [threads]:
        import highspy

        highspy.Highs.resetGlobalScheduler(True)
        _HIGHS_THREADS[:] = [threads]


class HighsSolver(PyomoContribSolver):
    """HiGHS through highspy: LP, convex QP (linear constraints), MILP. Persistent."""

    name = "highs"
    package = "highspy"
    features = frozenset({"lp", "qp", "milp", "duals"})
    _factory_path = ("gridgames.solvers.highs_quiet", "QuietHighs")
    options_url = "https://ergo-code.github.io/HiGHS/stable/options/definitions/"
    native_option_names = staticmethod(highs_option_names)
    _try_option = staticmethod(highs_setter)
    #: the QP regularisation of the last checked model (None: HiGHS' default), and that model's id
    _qp_regularization: float | None = None
    _hessian_of: int | None = None

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
            if mc.kind == "qp":
                # HiGHS adds 1e-7·‖x‖² to a QP (qp_regularization_value; without it, it fails on a semidefinite
                # Hessian): next to Hessian entries of 2e-6 (a Cournot game in kW) its "optimal" point was 5 %
                # off. The term is scaled down with the smallest entry (re-solves of this model keep it).
                if self._hessian_of != id(model):   # once per model: a persistent re-solve changes data only
                    smallest = _refuse_dropped_hessian(model)
                    self._qp_regularization = QP_REGULARIZATION * min(1.0, smallest) if smallest else None
                    self._hessian_of = id(model)
        if "qp_regularization_value" not in {**self.options, **kwargs} and self._qp_regularization is not None:
            kwargs["qp_regularization_value"] = self._qp_regularization
        if self.threads is not None:
            _highs_scheduler(self.threads)
        result = super().solve(model, tee=tee, check=False, **kwargs)
        # Pyomo turns HiGHS' console log on inside its captured solve and leaves it on: the next update of the
        # persistent model (a coefficient set to 0) would print warnings to stdout, outside any capture
        highs = getattr(self._solver, "_solver_model", None)
        if highs is not None:
            highs.setOptionValue("log_to_console", False)
        if result.status is SolveStatus.UNBOUNDED and check and mc.kind == "qp":
            # HiGHS 1.16: min (x - 4e7)^2 over x >= 0 is "unbounded" (4e6 is solved)
            result.message += ("; HiGHS' QP solver also says so for a convex QP whose optimum lies far "
                               "(~1e7) from its start: confirm with solver='ipopt'")
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
    options_url = "https://www.scipopt.org/doc/html/PARAMETERS.php"
    alternatives = ""
    native_option_names = staticmethod(scip_option_names)
    _try_option = staticmethod(scip_setter)

    def solve(self, model: pyo.Block, *, tee: bool = False, **kwargs: Any) -> SolveResult:
        # Pyomo captures solver output through a pipe drained by a Python thread,
        # but pyscipopt's optimize() holds the GIL: once SCIP has printed more than
        # the pipe buffer (a long branch-and-bound log, or SoPlex's "Cannot set
        # feasibility tolerance" written straight to stderr whatever the verbosity)
        # it blocks on the write and never reaches its time-limit check.  SCIP's
        # output therefore goes to a temporary file (printed afterwards with tee).
        if not tee:
            kwargs.setdefault("display/verblevel", 0)
        with _scip_output_to_file(tee):
            result = super().solve(model, tee=False, **kwargs)
        if result.status is SolveStatus.OPTIMAL:
            result.message += " (global)"
        return result


# The pass-through backend lives in its own module; its names stay importable from here.
from gridgames.solvers.passthrough import PyomoLegacySolver, pyomo_passthrough_info  # noqa: E402

__all__ = ["HighsSolver", "ScipSolver", "PyomoLegacySolver", "SolverNotAvailableError", "pyomo_passthrough_info"]


#: HiGHS' default ``qp_regularization_value``, used as it is next to Hessian entries of 1 or more
QP_REGULARIZATION = 1e-7


def _refuse_dropped_hessian(model: pyo.Block) -> float | None:
    """The smallest nonzero absolute quadratic coefficient of the objective (None: none), refused when HiGHS would
    silently drop it (below its ``small_matrix_value``, 1e-9): a Cournot game in kW with payoffs in M$
    (entries 2e-12) was solved as an LP, every firm at q = 0, ``optimal``.

    Raises
    ------
    UnsupportedModelError
    """
    from gridgames.solvers.errors import UnsupportedModelError
    from gridgames.solvers.scaling import HIGHS_SMALL, smallest_hessian_entry

    smallest = smallest_hessian_entry(model)
    if smallest is not None and smallest < HIGHS_SMALL:
        raise UnsupportedModelError(f"highs drops quadratic objective coefficients below {HIGHS_SMALL:g}, and this "
                                    f"objective has one of {smallest:.1e}: it would solve another problem; restate "
                                    "the model in units that bring its coefficients nearer 1, or use solver='ipopt'")
    return smallest


def _words(name: str) -> str:
    """Pyomo's camel-case status names as words: ``provenInfeasible`` -> ``proven infeasible``."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).lower()


def _failure_message(solver: str, model: pyo.Block, exc: Exception) -> str:
    """What a solver interface's exception means; for an expression type it cannot take (Pyomo's
    ``unrecognized expression type``: ``abs``, ``Expr_if``, ...), which component holds it."""
    text = f"{solver} failed: {type(exc).__name__}: {exc}"
    match = re.search(r"expression type:? <class '[\w.]*?(\w+)'>", str(exc))
    if not match:
        return text
    kind = match.group(1)
    for comp in model.component_data_objects((pyo.Objective, pyo.Constraint), active=True, descend_into=True):
        stack = [comp.expr]
        while stack:
            node = stack.pop()
            if type(node).__name__ == kind:
                return (f"{solver} cannot take the expression type {kind} in '{comp.name}' (its Pyomo "
                        "interface does not translate it): state it without abs()/Expr_if (e.g. an epigraph "
                        "variable t >= e, t >= -e) or use a method or solver that does not send this "
                        f"component to {solver}")
            stack.extend(getattr(node, "args", ()) if getattr(node, "is_expression_type", lambda: False)() else ())
    return text


@contextlib.contextmanager
def _fd_capture_to_file(output: Any = None, capture_fd: bool = True) -> Any:
    """Stand-in for Pyomo's ``capture_output`` inside its SCIP interface: file descriptors 1 and 2 go
    to a temporary file (no pipe, no draining thread, so no deadlock while SCIP holds the GIL)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield output
        finally:
            _libc_flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            tmp.seek(0)
            _SCIP_LOG.text = tmp.read().decode(errors="replace")


_SCIP_LOG = threading.local()


def _libc_flush() -> None:
    """Flush C stdio buffers (SCIP prints with printf) before the descriptors are put back."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):   # no C library handle: nothing buffered we can reach
        pass


@contextlib.contextmanager
def _scip_output_to_file(tee: bool) -> Any:
    """Route Pyomo's SCIP interface through :func:`_fd_capture_to_file`; print the log if ``tee``."""
    from pyomo.contrib.solver.solvers.scip import scip_direct

    original = scip_direct.capture_output
    scip_direct.capture_output = _fd_capture_to_file
    _SCIP_LOG.text = ""
    try:
        yield
    finally:
        scip_direct.capture_output = original
        if tee and _SCIP_LOG.text:
            sys.stdout.write(_SCIP_LOG.text)
