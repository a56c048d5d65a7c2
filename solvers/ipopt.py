"""Ipopt for Pyomo models through cyipopt, without Pyomo's ASL-based plug-in.

Pyomo's own ``cyipopt`` interface needs the PyNumero ASL library; this bridge
translates the model itself (:mod:`gridgames.solvers.nlp_compile`) and hands
numpy callbacks (:mod:`gridgames.solvers.nlp_eval`) to :class:`cyipopt.Problem`.

Caching and invalidation
------------------------
The translation is cached per model object (a weak-key dictionary, so the
cache dies with the model).  Before every solve the cache entry is checked
with :func:`gridgames.solvers.nlp_compile.signature_still_valid`: it is reused
while the active objective and constraints are the same objects with the same
expression objects, no translated variable has been fixed and every variable
that was fixed stays fixed.  New values of mutable Params, of fixed Vars, of
variable bounds and a new objective sense are simply read at the next solve.
Anything else (activate/deactivate, add/delete a constraint, ``set_value``,
``fix``/``unfix``) triggers a fresh translation.  ``result.extra["translated"]``
says which happened; :func:`clear_cache` drops a model's entry by hand - needed
only after changes the check cannot see, such as a new domain (e.g. Binary) on
an already translated variable or a rebuilt named ``Expression`` inside a
constraint whose own expression object is unchanged.
"""
from __future__ import annotations

import difflib
import functools
import logging
import math
import time
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from gridgames.solvers.bounds import bounds_arrays
from gridgames.solvers.errors import ModelError, SolverNotAvailableError, SolverOptionError
from gridgames.solvers.options import COMMON_OPTIONS, check_common_values
from gridgames.solvers.result import SolveResult, SolveStatus

logger = logging.getLogger(__name__)

#: cyipopt ``info["status"]`` -> our status.  -5 (wall-time limit) is also a time limit.
_STATUS = {
    0: SolveStatus.LOCALLY_OPTIMAL,
    1: SolveStatus.LOCALLY_OPTIMAL,
    2: SolveStatus.INFEASIBLE,
    -1: SolveStatus.ITERATION_LIMIT,
    -4: SolveStatus.TIME_LIMIT,
    -5: SolveStatus.TIME_LIMIT,
    4: SolveStatus.UNBOUNDED,
}


def ipopt_status(code: int) -> SolveStatus:
    """Our status for a cyipopt ``info["status"]`` code (``error`` for codes without a meaning here)."""
    return _STATUS.get(int(code), SolveStatus.ERROR)


#: Ipopt options suggested when a name is misspelled (Ipopt itself cannot list its options here)
_POPULAR = ("tol", "max_iter", "max_cpu_time", "max_wall_time", "print_level", "linear_solver", "mu_init",
            "constr_viol_tol", "acceptable_tol", "bound_relax_factor", "warm_start_init_point", "mu_strategy",
            "hessian_approximation", "nlp_scaling_method", "honor_original_bounds")
#: statuses after which the last iterate is loaded into the model
_LOADABLE = {SolveStatus.LOCALLY_OPTIMAL, SolveStatus.ITERATION_LIMIT, SolveStatus.TIME_LIMIT}


@dataclass
class _CacheEntry:
    compiled: Any
    evaluator: Any
    multipliers: tuple[float, np.ndarray, np.ndarray, np.ndarray] | None = None


_CACHE: "weakref.WeakKeyDictionary[Any, _CacheEntry]" = weakref.WeakKeyDictionary()


def clear_cache(model: Any | None = None) -> None:
    """Forget the translation of ``model`` (of every model when None)."""
    if model is None:
        _CACHE.clear()
    else:
        _CACHE.pop(model, None)


def _trivial_violations(nlp: Any, tol: float) -> list[str]:
    """Constraints without free variables whose constant body breaks a bound."""
    if not nlp.trivial:
        return []
    val, lo, up = nlp.trivial_value.evaluate(), nlp.trivial_lower.evaluate(), nlp.trivial_upper.evaluate()
    bad = np.flatnonzero((val < lo - tol * (1 + np.abs(lo))) | (val > up + tol * (1 + np.abs(up))))
    return [f"constraint '{nlp.trivial[i].name}' has only fixed terms: {val[i]:.6g} not in "
            f"[{lo[i]:.6g}, {up[i]:.6g}]" for i in bad]


class IpoptSolver:
    """Interior-point NLP solver (Ipopt via cyipopt) for continuous Pyomo models.

    Parameters
    ----------
    time_limit : float, optional
        Seconds of CPU time; mapped to Ipopt's ``max_cpu_time``.  The other
        common options have no Ipopt counterpart and are refused when set:
        ``mip_gap`` (Ipopt solves continuous models only) and ``threads``
        (the bundled Ipopt runs serially).
    warm_start_multipliers : bool, default False
        On a re-solve of the same structure, also pass the previous constraint
        and bound multipliers and set ``warm_start_init_point=yes``.  Off by
        default: a primal warm start alone is more robust when the Params moved far.
    **options
        Ipopt options passed through unchanged (``tol``, ``max_iter``,
        ``print_level``, ``linear_solver``, ``max_cpu_time``, ...).  Names and
        types are checked by Ipopt when the solver is created.

    Examples
    --------
    >>> import pyomo.environ as pyo
    >>> m = pyo.ConcreteModel()
    >>> m.x = pyo.Var(initialize=1.0)
    >>> m.o = pyo.Objective(expr=(m.x - 2) ** 2)
    >>> IpoptSolver(tol=1e-10).solve(m).status.value
    'locally_optimal'
    """

    name = "ipopt"
    #: problem classes handled (see gridgames.solvers.registry.FEATURES)
    features = frozenset({"lp", "qp", "nlp", "duals"})

    def __init__(self, *, time_limit: float | None = None, warm_start_multipliers: bool = False,
                 **options: Any) -> None:
        self.options: dict[str, Any] = dict(options)
        check_common_values(self.name, {"time_limit": time_limit})
        for key, why in (("mip_gap", "Ipopt solves continuous models only"),
                         ("threads", "the bundled Ipopt (MUMPS) runs serially")):
            if self.options.get(key) is not None:
                raise SolverOptionError(f"solver 'ipopt': option '{key}' does not apply ({why}); "
                                        "use 'scip' or 'highs' for it")
            self.options.pop(key, None)
        if time_limit is not None:
            self.options["max_cpu_time"] = float(time_limit)
        self.warm_start_multipliers = bool(warm_start_multipliers)
        if self.available():
            self._check_options()

    # ------------------------------------------------------------------
    @classmethod
    @functools.cache
    def available(cls) -> bool:
        """True when the ``cyipopt`` module (with its bundled Ipopt) imports."""
        try:
            import cyipopt  # noqa: F401
        except ImportError:
            return False
        return True

    def _check_options(self) -> None:
        """Let Ipopt reject unknown option names or wrong value types now, not mid-run."""
        import cyipopt
        from pyomo.common.tee import capture_output

        probe = cyipopt.Problem(n=1, m=0, problem_obj=_Probe(), lb=[0.0], ub=[1.0])
        try:
            for key, val in self.options.items():
                try:
                    with capture_output(capture_fd=True):  # Ipopt prints its own complaint too
                        probe.add_option(key, val)
                except (TypeError, ValueError) as exc:
                    close = difflib.get_close_matches(key, [*COMMON_OPTIONS, *_POPULAR], n=2, cutoff=0.7)
                    if key in close:
                        hint = ": a known name, so the value is out of range or of the wrong type"
                    else:
                        hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
                    raise SolverOptionError(
                        f"solver 'ipopt': Ipopt rejected the option {key}={val!r}{hint} ({exc}); common options: "
                        f"{', '.join(COMMON_OPTIONS)}; Ipopt's own: https://coin-or.github.io/Ipopt/OPTIONS.html"
                    ) from None
        finally:
            probe.close()

    # ------------------------------------------------------------------
    @staticmethod
    def _reusable(model: Any) -> _CacheEntry | None:
        """The cached translation of ``model`` while its structure is unchanged, else None."""
        from gridgames.solvers.nlp_compile import signature_still_valid

        entry = _CACHE.get(model)
        if entry is not None and signature_still_valid(model, entry.compiled.signature):
            return entry
        return None

    def _translation(self, model: Any) -> tuple[_CacheEntry, bool]:
        """The cached translation when still valid (and False), else a new one (and True); the whole-model
        finite check runs before a new translation only."""
        from gridgames.solvers.nlp_compile import compile_model
        from gridgames.solvers.nlp_eval import NLPEvaluator
        from gridgames.solvers.validate import check_finite

        entry = self._reusable(model)
        if entry is not None:
            return entry, False
        check_finite(model)
        compiled = compile_model(model)
        entry = _CacheEntry(compiled, NLPEvaluator(compiled) if compiled.n else None)
        _CACHE[model] = entry
        return entry, True

    def solve(self, model: Any, *, tee: bool = False, warmstart: bool = True,
              load_solutions: bool = True) -> SolveResult:
        """Solve a continuous Pyomo model with Ipopt.

        Parameters
        ----------
        model : pyomo ConcreteModel (or Block)
            Exactly one active Objective; active Constraints of any kind
            (equality, inequality, ranged); continuous variables.
        tee : bool
            Show Ipopt's log (otherwise ``print_level=0`` and no banner).
        warmstart : bool
            Start from the variables' current values (clipped into their
            bounds, ``None`` -> 0); otherwise from 0 projected into the bounds.
        load_solutions : bool
            Write the returned point into the variables, and the constraint
            duals / reduced costs into ``model.dual`` / ``model.rc`` when those
            IMPORT Suffixes exist.  The point is loaded for locally optimal,
            iteration-limit and time-limit outcomes only.

        Returns
        -------
        SolveResult
            ``solver="ipopt"``; ``extra`` holds ``ipopt_status``,
            ``translated`` (False when the cached translation was reused),
            ``translation_time``, ``ipopt_time``, sizes and the
            ``x`` / ``mult_g`` arrays of the raw Ipopt answer.

        Raises
        ------
        SolverNotAvailableError
            cyipopt is not installed.
        ModelError, UnsupportedModelError
            Malformed model (no or several active objectives, a mutable Param
            or fixed Var without a value, a NaN or infinite coefficient,
            constant or bound) or one Ipopt cannot take (unfixed
            integer variables, non-smooth functions).  Solver failures never
            raise: they come back as a status.
        """
        if not self.available():
            raise SolverNotAvailableError("ipopt", "cyipopt-wheels")
        import cyipopt

        t0 = time.perf_counter()
        # the problem class is checked by the translation (it names the integer variable or the
        # non-smooth function); non-finite data is refused here, before any work.  A re-solve of an
        # unchanged structure skips the whole-model walk: its fixed numbers were checked when it was
        # translated, and everything that can change (mutable Params, fixed Vars, variable bounds)
        # is re-read below, where a non-finite value is refused by name
        entry, translated = self._translation(model)
        nlp, ev = entry.compiled, entry.evaluator
        sense = 1.0 if nlp.objective.is_minimizing() else -1.0
        tol = float(self.options.get("constr_viol_tol", 1e-6))
        violated = _trivial_violations(nlp, tol)
        if violated or nlp.n == 0:
            return self._without_ipopt(model, nlp, violated, t0, translated, load_solutions)

        ev.bind(sense)
        lb, ub = self._variable_bounds(nlp)
        const = nlp.con_const.evaluate()
        cl = nlp.con_lower.evaluate() - const
        cu = nlp.con_upper.evaluate() - const
        t_translate = time.perf_counter() - t0
        bad = np.flatnonzero(lb > ub)
        if bad.size:
            v = nlp.variables[int(bad[0])]
            return SolveResult(SolveStatus.INFEASIBLE, None, time.perf_counter() - t0, 0, self.name,
                               f"variable '{v.name}' has lower bound {lb[bad[0]]:g} > upper bound {ub[bad[0]]:g}",
                               {"translated": translated, "translation_time": t_translate})
        bad = np.flatnonzero(cl > cu)
        if bad.size:
            c = nlp.constraints[int(bad[0])]
            return SolveResult(SolveStatus.INFEASIBLE, None, time.perf_counter() - t0, 0, self.name,
                               f"constraint '{c.name}' has lower bound > upper bound",
                               {"translated": translated, "translation_time": t_translate})

        x0 = self._start_point(nlp, lb, ub, warmstart)
        problem = cyipopt.Problem(n=nlp.n, m=nlp.m, problem_obj=ev, lb=lb, ub=ub, cl=cl, cu=cu)
        multipliers: dict[str, np.ndarray] = {}
        try:
            opts = dict(self.options)
            opts.setdefault("sb", "yes")  # no banner
            if not tee:
                opts["print_level"] = 0
            use_mult = (warmstart and self.warm_start_multipliers and entry.multipliers is not None
                        and entry.multipliers[0] == sense)
            if use_mult:
                opts["warm_start_init_point"] = "yes"
                _, lam, zl, zu = entry.multipliers
                multipliers = {"lagrange": lam, "zl": zl, "zu": zu}
            for key, val in opts.items():
                problem.add_option(key, val)
            t1 = time.perf_counter()
            try:
                x, info = problem.solve(x0, **multipliers)
            except Exception as exc:  # a failure inside Ipopt/cyipopt is a status, not a crash
                logger.exception("cyipopt failed")
                return SolveResult(SolveStatus.ERROR, None, time.perf_counter() - t0, ev.iterations,
                                   self.name, f"cyipopt raised {type(exc).__name__}: {exc}",
                                   {"translated": translated, "translation_time": t_translate})
            t_ipopt = time.perf_counter() - t1
        finally:
            problem.close()

        code = int(info["status"])
        status = _STATUS.get(code, SolveStatus.ERROR)
        msg = info["status_msg"]
        msg = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
        if code == 1 and "acceptable" not in msg.lower():
            msg = f"solved to acceptable level: {msg}"
        entry.multipliers = (sense, info["mult_g"].copy(), info["mult_x_L"].copy(), info["mult_x_U"].copy())
        objective = None
        if status in _LOADABLE:
            objective = sense * float(info["obj_val"])
            if load_solutions:
                self._load(model, nlp, x, info, sense)
        extra = {
            "ipopt_status": code, "translated": translated, "translation_time": t_translate,
            "ipopt_time": t_ipopt, "n_vars": nlp.n, "n_cons": nlp.m,
            "jac_nnz": ev.jac_nnz, "hess_nnz": ev.hess_nnz, "x": x, "mult_g": info["mult_g"],
        }
        result = SolveResult(status, objective, time.perf_counter() - t0, ev.iterations, self.name, msg, extra)
        logger.info("ipopt: %s after %d iterations (%.3fs, translated=%s)", status, ev.iterations,
                    result.solve_time, translated)
        return result

    # ------------------------------------------------------------------
    @staticmethod
    def _variable_bounds(nlp: Any) -> tuple[np.ndarray, np.ndarray]:
        try:
            lb, ub = bounds_arrays(nlp.variables)
        except ValueError as exc:  # Pyomo refuses a NaN bound itself (from a mutable Param)
            raise ModelError(f"non-finite data in the model: {exc}") from None
        bad = np.flatnonzero(np.isnan(lb) | np.isnan(ub) | (lb == np.inf) | (ub == -np.inf))
        if bad.size:
            v = nlp.variables[int(bad[0])]
            raise ModelError(f"non-finite data in the model: variable '{v.name}' has bounds "
                             f"({lb[bad[0]]:g}, {ub[bad[0]]:g})")
        return lb, ub

    @staticmethod
    def _start_point(nlp: Any, lb: np.ndarray, ub: np.ndarray, warmstart: bool) -> np.ndarray:
        if warmstart:
            x0 = np.array([v.value for v in nlp.variables], dtype=float)  # None -> nan
            x0[np.isnan(x0)] = 0.0
        else:
            x0 = np.zeros(nlp.n)
        return np.clip(x0, lb, ub)

    @staticmethod
    def _suffix(model: Any, name: str) -> Any:
        from pyomo.core.base.suffix import Suffix

        s = model.component(name)
        return s if isinstance(s, Suffix) and s.import_enabled() else None

    def _load(self, model: Any, nlp: Any, x: np.ndarray, info: dict[str, Any], sense: float) -> None:
        for v, val in zip(nlp.variables, x.tolist()):
            v.set_value(val, skip_validation=True)
        dual = self._suffix(model, "dual")
        if dual is not None:
            # Ipopt's Lagrangian is f + lambda^T g for the minimised sense*f, so
            # d(objective)/d(rhs) = -sense * lambda (Pyomo's sign convention).
            duals = (-sense * info["mult_g"]).tolist()
            for c, d in zip(nlp.constraints, duals):
                dual[c] = d
            for c in nlp.trivial:
                dual[c] = 0.0
        rc = self._suffix(model, "rc")
        if rc is not None:
            red = (sense * (info["mult_x_L"] - info["mult_x_U"])).tolist()
            for v, r in zip(nlp.variables, red):
                rc[v] = r

    def _without_ipopt(self, model: Any, nlp: Any, violated: list[str], t0: float,
                       translated: bool, load_solutions: bool) -> SolveResult:
        """No free variables left, or a constant constraint is violated."""
        extra = {"translated": translated, "ipopt_status": None}
        if violated:
            return SolveResult(SolveStatus.INFEASIBLE, None, time.perf_counter() - t0, 0, self.name,
                               "; ".join(violated[:3]), extra)
        from pyomo.core.expr.numvalue import value as pyo_value

        obj = float(pyo_value(nlp.objective.expr))
        if load_solutions:
            dual = self._suffix(model, "dual")
            for c in nlp.trivial if dual is not None else ():
                dual[c] = 0.0
        status = SolveStatus.OPTIMAL if math.isfinite(obj) else SolveStatus.ERROR
        return SolveResult(status, obj, time.perf_counter() - t0, 0, self.name,
                           "all variables are fixed: nothing for Ipopt to do", extra)


class _Probe:
    """Smallest problem object cyipopt accepts (used to validate options)."""

    def objective(self, x: np.ndarray) -> float:
        return float(x[0])

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return np.ones(1)
