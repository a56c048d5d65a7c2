"""``scipy``: scipy.optimize as a backend, the baseline the papers used.

* LP and MILP go to :func:`scipy.optimize.milp` (HiGHS inside scipy) with the
  rows read from Pyomo's standard representation.
* QP and NLP go to :func:`scipy.optimize.minimize` with SLSQP, driven by the
  same compiled callbacks as the Ipopt bridge (:mod:`gridgames.solvers.nlp_compile`),
  so gradients and Jacobians are exact.  SLSQP is dense: meant for small models.

No duals are reported (``milp`` and SLSQP do not return them in a form we can
trust for every case); the ``dual`` Suffix, if any, is cleared.
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.repn.standard_repn import generate_standard_repn
from scipy import optimize, sparse
from threadpoolctl import threadpool_limits

from gridgames.solvers.errors import SolverOptionError
from gridgames.solvers.options import check_common_values
from gridgames.solvers.result import SolveResult, SolveStatus
from gridgames.solvers.validate import validate_model

# scipy.optimize.milp status codes
_MILP_STATUS = {0: SolveStatus.OPTIMAL, 1: SolveStatus.ITERATION_LIMIT, 2: SolveStatus.INFEASIBLE,
                3: SolveStatus.UNBOUNDED, 4: SolveStatus.ERROR}
# SLSQP exit modes (scipy/optimize/_slsqp_py.py)
_SLSQP_STATUS = {0: SolveStatus.LOCALLY_OPTIMAL, 2: SolveStatus.INFEASIBLE, 4: SolveStatus.INFEASIBLE,
                 9: SolveStatus.ITERATION_LIMIT}


class _TimeUp(Exception):
    """Raised from inside SLSQP's objective once the time limit has passed (carries the point)."""


class ScipySolver:
    """scipy.optimize for small LP / MILP / NLP models.

    Parameters
    ----------
    time_limit : float, optional
        Seconds: ``milp``'s own limit; SLSQP is stopped at the first function
        evaluation past it (status ``time_limit``, last iterate loaded).
    mip_gap : float, optional
        ``milp``'s ``mip_rel_gap``.
    threads : None
        Refused when set: scipy's solvers run serially.
    maxiter : int
        SLSQP iteration limit.
    ftol : float
        SLSQP precision goal.

    Raises
    ------
    SolverOptionError
        A bad value, or ``threads``.
    """

    name = "scipy"
    features = frozenset({"lp", "qp", "milp", "nlp"})
    #: the native options (besides the common ones)
    native_options = ("maxiter", "ftol")

    def __init__(self, time_limit: float | None = None, mip_gap: float | None = None,
                 threads: int | None = None, maxiter: int = 500, ftol: float = 1e-10) -> None:
        check_common_values(self.name, {"time_limit": time_limit, "mip_gap": mip_gap})
        if threads is not None:
            raise SolverOptionError("solver 'scipy': option 'threads' does not apply (scipy.optimize runs "
                                    "serially); use 'highs' or 'scip' for it")
        bad = [f"maxiter={maxiter!r} (expected an integer >= 1)"] if not (
            isinstance(maxiter, int) and not isinstance(maxiter, bool) and maxiter >= 1) else []
        if not (isinstance(ftol, (int, float)) and not isinstance(ftol, bool) and 0 < ftol < math.inf):
            bad.append(f"ftol={ftol!r} (expected a number > 0)")
        if bad:
            raise SolverOptionError(f"solver 'scipy': invalid value of {', '.join(bad)}")
        self.time_limit, self.mip_gap, self.maxiter, self.ftol = time_limit, mip_gap, maxiter, ftol

    def solve(self, model: pyo.Block, *, tee: bool = False, **_: Any) -> SolveResult:
        start = time.perf_counter()
        kind = validate_model(model, self.name, self.features, alternatives="Try 'scip'.").kind
        suffix = model.component("dual")
        if isinstance(suffix, pyo.Suffix):
            suffix.clear()
        if kind in ("lp", "milp"):
            status, objective, message, iters = self._solve_linear(model, tee)
        else:
            status, objective, message, iters = self._solve_nonlinear(model, tee)
        return SolveResult(status, objective, time.perf_counter() - start, iters, self.name, message)

    # ------------------------------------------------------------------ LP / MILP
    def _solve_linear(self, model: pyo.Block, tee: bool) -> tuple[SolveStatus, float | None, str, int | None]:
        obj = next(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
        sense = 1.0 if obj.sense == pyo.minimize else -1.0
        index: dict[int, int] = {}
        variables: list[Any] = []

        def col(v: Any) -> int:
            if id(v) not in index:
                index[id(v)] = len(variables)
                variables.append(v)
            return index[id(v)]

        orepn = generate_standard_repn(obj.expr)
        c_entries = [(col(v), float(a)) for v, a in zip(orepn.linear_vars, orepn.linear_coefs)]
        rows, cols, vals, lo, hi = [], [], [], [], []
        for r, con in enumerate(model.component_data_objects(pyo.Constraint, active=True, descend_into=True)):
            repn = generate_standard_repn(con.body)
            for v, a in zip(repn.linear_vars, repn.linear_coefs):
                rows.append(r)
                cols.append(col(v))
                vals.append(float(a))
            const = float(repn.constant)
            lo.append(-np.inf if con.lower is None else float(pyo.value(con.lower)) - const)
            hi.append(np.inf if con.upper is None else float(pyo.value(con.upper)) - const)
        n = len(variables)
        cvec = np.zeros(n)
        for j, a in c_entries:
            cvec[j] += sense * a
        bounds = optimize.Bounds([-np.inf if v.lb is None else v.lb for v in variables],
                                 [np.inf if v.ub is None else v.ub for v in variables])
        integrality = np.array([0 if v.is_continuous() else 1 for v in variables])
        constraints = []
        if lo:
            a_mat = sparse.csr_array((vals, (rows, cols)), shape=(len(lo), n))
            constraints = [optimize.LinearConstraint(a_mat, lo, hi)]
        options = {"disp": tee}
        if self.time_limit:
            options["time_limit"] = self.time_limit
        if self.mip_gap is not None:
            options["mip_rel_gap"] = self.mip_gap
        res = optimize.milp(cvec, integrality=integrality, bounds=bounds, constraints=constraints,
                            options=options)
        status = _MILP_STATUS.get(res.status, SolveStatus.ERROR)
        if res.x is None or not status.is_ok:
            return status, None, res.message, None
        for v, x in zip(variables, res.x):
            v.set_value(float(round(x)) if not v.is_continuous() else float(x), skip_validation=True)
        return status, float(pyo.value(obj.expr)), res.message, None

    # ------------------------------------------------------------------ NLP
    def _solve_nonlinear(self, model: pyo.Block, tee: bool) -> tuple[SolveStatus, float | None, str, int | None]:
        from gridgames.solvers.nlp_compile import compile_model
        from gridgames.solvers.nlp_eval import NLPEvaluator

        nlp = compile_model(model)
        ev = NLPEvaluator(nlp)
        sense = 1.0 if nlp.objective.is_minimizing() else -1.0
        ev.bind(sense)
        lb = np.array([-np.inf if v.lb is None else v.lb for v in nlp.variables], float)
        ub = np.array([np.inf if v.ub is None else v.ub for v in nlp.variables], float)
        const = nlp.con_const.evaluate()
        cl, cu = nlp.con_lower.evaluate() - const, nlp.con_upper.evaluate() - const
        x0 = np.array([0.0 if v.value is None else v.value for v in nlp.variables], float)
        x0 = np.clip(x0, lb, ub)
        constraints = []
        equal = cl == cu
        for rows in (equal, ~equal):   # SLSQP wants equalities and inequalities apart
            if rows.any():
                constraints.append(optimize.NonlinearConstraint(
                    lambda x, r=rows: ev.constraints(x)[r], cl[rows], cu[rows],
                    jac=lambda x, r=rows: ev.dense_jacobian(x)[r]))
        deadline = None if self.time_limit is None else time.perf_counter() + self.time_limit

        def objective(x: np.ndarray) -> float:
            if deadline is not None and time.perf_counter() > deadline:
                raise _TimeUp(np.array(x, dtype=float))
            return ev.objective(x)

        try:
            # SLSQP's small dense steps gain nothing from BLAS threads; on 2 busy cores they cost 2-3x.
            with threadpool_limits(limits=1, user_api="blas"):
                res = optimize.minimize(objective, x0, jac=ev.gradient, method="SLSQP",
                                        bounds=optimize.Bounds(lb, ub), constraints=constraints,
                                        options={"maxiter": self.maxiter, "ftol": self.ftol, "disp": tee})
        except _TimeUp as stop:
            x = stop.args[0]
            for v, xi in zip(nlp.variables, x):
                v.set_value(float(xi), skip_validation=True)
            return (SolveStatus.TIME_LIMIT, sense * float(ev.objective(x)),
                    f"time limit of {self.time_limit} s reached (last iterate loaded)", None)
        status = _SLSQP_STATUS.get(int(res.status), SolveStatus.ERROR)
        if status is SolveStatus.LOCALLY_OPTIMAL and nlp.m:
            g = ev.constraints(res.x)
            if np.any(g < cl - 1e-6) or np.any(g > cu + 1e-6):
                status = SolveStatus.INFEASIBLE
        if not status.is_ok and status is not SolveStatus.ITERATION_LIMIT:
            return status, None, str(res.message), int(res.nit)
        for v, x in zip(nlp.variables, res.x):
            v.set_value(float(x), skip_validation=True)
        return status, sense * float(res.fun), str(res.message), int(res.nit)
