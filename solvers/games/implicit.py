"""The ``implicit`` bilevel method: the leader optimises over the followers' response function.

For followers whose problems are strictly convex at every leader decision
``x`` (a unique response ``y(x)``), the bilevel problem is the single-level
*reduced* problem

    min_x  Φ(x) = s · F(x, y(x))      over the leader's box,

(``s = ±1`` the leader's sense).  Three pieces, all on arrays:

1. **Response** ``y(x)``: the followers' stacked KKT conditions at fixed ``x``
   (:class:`~gridgames.solvers.games.stacked_kkt.StackedKKT`, the leader's
   variables as parameter columns) solved by semismooth Newton
   (:func:`~gridgames.solvers.games.mcp.solve_mcp`), warm-started from the
   previous response.
2. **Gradient** ``∇Φ`` by the adjoint of the active-set KKT system: with
   ``z = (y, λ)``, the components off their bounds (the *inactive set* I)
   satisfy ``F_I(z, x) = 0`` and those at a bound stay there, so
   ``dz_I/dx = −J_II⁻¹ ∂F_I/∂x`` and one sparse solve
   ``J_IIᵀ μ = ∇_{z_I} F`` gives ``∇Φ = s (∇_x F − (∂F_I/∂x)ᵀ μ)``.
   A component at its bound with ``F_i = 0`` (degenerate: strict
   complementarity fails) is kept at its bound: the gradient is then the
   one-sided (directional) derivative for moves that keep it there; the
   number of such components is reported (``extra["degenerate"]``).
3. **Reduced problem**: L-BFGS-B (:func:`scipy.optimize.minimize`) over the
   leader's variable bounds.  Leaders with constraints are refused
   (:class:`~gridgames.solvers.errors.UnsupportedModelError`: use ``kkt``).

Followers playing a Nash game (a follower's problem uses another's variables,
e.g. buyers sharing a market total) are taken as they are: their stacked KKT
system is the MCP of their game, its solution the response.  Strict convexity
of each follower then does not make the response unique; instead the answer
must be *regular*: the Jacobian block of the followers' KKT system on their
free variables and active multipliers nonsingular
(:func:`~gridgames.solvers.games.implicit_checks.regularity`), otherwise the
status is ``feasible`` with a message saying so.  ``extra["unique_response"]``
is True when the followers' game is strictly monotone at the first and the last
response (their equilibrium is then unique), False when regularity fails,
None otherwise (locally unique).  An adjoint solve whose sparse LU fails falls
back to least squares (counted in ``extra["least_squares"]`` and the message);
a failed response is retried from its primal values and then from the model's
start, each with multipliers estimated by a linear program
(:mod:`~gridgames.solvers.games.multipliers`; ``extra["multiplier_estimates"]``).

Certificate.  ``locally_optimal`` needs the projected gradient
``‖P(x − ∇Φ) − x‖∞`` within ``tol · max(1, ‖∇Φ(x₀)‖∞)``, every response solved
to ``follower_tol``, the followers' KKT system regular at the answer and (one
follower, or independent ones) the followers strictly convex (the Hessian of their
objectives in their own variables positive definite, tested by an LDLᵀ
factorisation at the first and the last response); ``solve_bilevel`` then
re-solves every follower (``verify=True``).  Otherwise the status is
``feasible`` (the point is bilevel feasible, optimality not reached) with the
numbers in the message.
"""
from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.sparse.linalg import MatrixRankWarning, lsqr, splu

from gridgames.solvers.errors import ModelError, UnsupportedModelError
from gridgames.solvers.games.agent_solve import unsolved_followers
from gridgames.solvers.games.implicit_checks import (active_set, regularity, strict_convexity,
                                                     strict_monotonicity)
from gridgames.solvers.games.implicit_search import (FLAT_SCAN, MAX_KINK_ESCAPES, ResponseFailed, TrustBox,
                                                     escape_kink, feasible_start, is_flat, projected_gradient,
                                                     scan_diagonal)
from gridgames.solvers.games.mcp import solve_mcp
from gridgames.solvers.games.multipliers import estimate_multipliers
from gridgames.solvers.games.stacked_kkt import StackedKKT
from gridgames.solvers.games.structure import Agent, LeaderPart
from gridgames.solvers.nlp_compile import compile_model
from gridgames.solvers.nlp_eval import NLPEvaluator
from gridgames.solvers.result import SolveResult, SolveStatus

log = logging.getLogger(__name__)

#: options ``solve_bilevel(method="implicit")`` accepts
IMPLICIT_OPTIONS = {"tol", "max_iter", "memory", "follower_tol", "follower_max_iter", "scan"}
def check_leader(leader: LeaderPart) -> None:
    """Refuse what the reduced problem cannot take: leader constraints, discrete leader variables.

    Raises
    ------
    UnsupportedModelError
        Naming the constraints or the variable.
    """
    if leader.constraints:
        names = ", ".join(c.name for c in leader.constraints[:5])
        more = f" and {len(leader.constraints) - 5} more" if len(leader.constraints) > 5 else ""
        raise UnsupportedModelError(
            f"method='implicit' optimises over the leader's variable bounds only; the leader has the "
            f"constraint(s) {names}{more} (use method='kkt', or write them as variable bounds)")
    discrete = [v for v in leader.variables if not v.is_continuous()]
    if discrete:
        raise UnsupportedModelError(f"method='implicit' needs continuous leader variables; '{discrete[0].name}' "
                                    f"has the domain {discrete[0].domain} (use method='kkt-bigm' or 'nested')")


class LeaderObjective:
    """The leader's objective compiled once, evaluated on ``(x, y)`` arrays (minimisation form)."""

    def __init__(self, leader: LeaderPart, system: StackedKKT) -> None:
        scratch = pyo.ConcreteModel(name="leader objective")
        scratch.obj = pyo.Objective(expr=leader.objective.expr)
        self.nlp = compile_model(scratch)
        self.ev = NLPEvaluator(self.nlp)
        self.sense = 1.0 if leader.objective.sense == pyo.minimize else -1.0
        self.ev.bind(self.sense)
        x_pos = {id(v): j for j, v in enumerate(leader.variables)}
        y_pos = {id(v): k for k, v in enumerate(system.columns)}
        cols = []
        for v in self.nlp.variables:
            if id(v) in x_pos:
                cols.append(x_pos[id(v)])
            elif id(v) in y_pos:
                cols.append(len(x_pos) + y_pos[id(v)])
            else:
                raise ModelError(f"variable '{v.name}' of the leader's objective is neither a leader variable "
                                 "nor used by its follower's problem, so no follower decides it")
        self.cols = np.array(cols, np.int64)
        self.n_x = len(x_pos)
        self.n_y = system.n_y

    def value_and_gradient(self, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``(s·F, ∇_x (s·F), ∇_y (s·F))``."""
        w = np.concatenate([x, y])[self.cols]
        val = self.ev.objective(w)
        full = np.zeros(self.n_x + self.n_y)
        np.add.at(full, self.cols, self.ev.gradient(w))
        return val, full[:self.n_x], full[self.n_x:]


class ReducedProblem:
    """``Φ(x)`` and ``∇Φ(x)`` by follower solve and adjoint (see the module docstring)."""

    def __init__(self, system: StackedKKT, objective: LeaderObjective, *, follower_tol: float,
                 follower_max_iter: int) -> None:
        self.system, self.objective = system, objective
        self.follower_tol, self.follower_max_iter = follower_tol, follower_max_iter
        self.z = system.start()
        self.solves = self.newton_steps = self.evaluations = 0
        self.solve_time = self.adjoint_time = 0.0
        self.degenerate = 0
        self.least_squares = 0   # adjoint solves that fell back to least squares (singular J_II)
        self._cache: tuple[np.ndarray, float, np.ndarray, np.ndarray] | None = None
        self.last_good: tuple[np.ndarray, np.ndarray] | None = None
        self.last_failed: np.ndarray | None = None
        self.responded = False          # self.z is a response (not the model's start)
        self.multiplier_estimates = 0

    def response(self, x: np.ndarray) -> np.ndarray:
        """The followers' KKT point ``z(x)`` (warm-started; one cold retry).

        Raises
        ------
        ResponseFailed
        """
        sys_ = self.system
        sys_.set_parameters(x)
        t0 = time.perf_counter()
        res = None
        for start in self._starts():
            # Levenberg-Marquardt where Newton fails to descend: a follower at a degenerate point (e.g. a
            # buyer buying nothing) has non-unique multipliers and a singular Newton matrix there
            res = solve_mcp(sys_.F, sys_.J, sys_.lb, sys_.ub, start, tol=self.follower_tol,
                            max_iter=self.follower_max_iter, levenberg_marquardt=True)
            self.solves += 1
            self.newton_steps += res.newton_steps
            if res.ok:
                break
        self.solve_time += time.perf_counter() - t0
        if not res.ok:
            self.last_failed = x.copy()
            raise ResponseFailed(res.message)
        self.z, self.responded = res.x, True
        return res.x

    def _starts(self):
        """Newton's starts, tried in turn: the previous response (once there is one), then its primal
        values and the model's with multipliers estimated by an LP (:mod:`.multipliers`)."""
        if self.responded:
            yield self.z
            self.multiplier_estimates += 1
            yield estimate_multipliers(self.system, self.z)
        self.multiplier_estimates += 1
        yield estimate_multipliers(self.system, self.system.start())

    def _adjoint(self, JT: sp.csc_matrix, rhs: np.ndarray) -> np.ndarray:
        """``μ`` with ``J_IIᵀ μ = rhs``: sparse LU, least squares (counted) when the matrix is singular."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", MatrixRankWarning)
                mu = splu(JT, permc_spec="MMD_AT_PLUS_A").solve(rhs)
            if np.all(np.isfinite(mu)):
                return mu
        except (RuntimeError, MatrixRankWarning):
            pass
        self.least_squares += 1
        return lsqr(JT, rhs, atol=1e-14, btol=1e-14, iter_lim=10 * rhs.size + 100)[0]

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(Φ(x), ∇Φ(x))`` for L-BFGS-B."""
        if self._cache is not None and np.array_equal(self._cache[0], x):
            return self._cache[1], self._cache[2]
        self.evaluations += 1
        z = self.response(x)
        sys_ = self.system
        t0 = time.perf_counter()
        val, gx, gy = self.objective.value_and_gradient(x, z[:sys_.n_y])
        free, degenerate = active_set(sys_, z, sys_.F(z), self.follower_tol)
        self.degenerate = int(degenerate.size)
        grad = self._gradient(z, gx, gy, free)
        self.adjoint_time += time.perf_counter() - t0
        self._cache = (x.copy(), val, grad, z)
        self.last_good = (x.copy(), z)
        return val, grad

    def _gradient(self, z: np.ndarray, gx: np.ndarray, gy: np.ndarray, free: np.ndarray) -> np.ndarray:
        """``∇Φ`` by the adjoint of the KKT system restricted to the components ``free``."""
        sys_ = self.system
        grad = gx
        if free.size:
            jz, jp = sys_.jacobians(z)
            rhs = np.concatenate([gy, np.zeros(z.size - sys_.n_y)])[free]
            if np.any(rhs != 0.0) and jp.nnz:
                grad = gx - jp[free].T @ self._adjoint(jz[free][:, free].T.tocsc(), rhs)
        return np.asarray(grad, float)

    def released_gradients(self, x: np.ndarray) -> list[np.ndarray]:
        """The other one-sided gradients of ``Φ`` at a degenerate ``x``.

        ``__call__`` keeps every degenerate component at its bound; on the other
        side of the kink it leaves the bound.  Returned: the gradient with all
        degenerate components released and, for up to five of them, with each one
        released alone (empty when ``x`` is not degenerate).
        """
        self(x)
        z, sys_ = self._cache[3], self.system
        free, degenerate = active_set(sys_, z, sys_.F(z), self.follower_tol)
        if not degenerate.size:
            return []
        _, gx, gy = self.objective.value_and_gradient(x, z[:sys_.n_y])
        subsets = [degenerate] + ([degenerate[[k]] for k in range(degenerate.size)]
                                  if 1 < degenerate.size <= 5 else [])
        return [self._gradient(z, gx, gy, np.union1d(free, s)) for s in subsets]


def _box(leader: LeaderPart) -> tuple[np.ndarray, np.ndarray]:
    lb = np.array([v.lb if v.lb is not None else -np.inf for v in leader.variables], float)
    ub = np.array([v.ub if v.ub is not None else np.inf for v in leader.variables], float)
    return lb, ub


def _start(leader: LeaderPart, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    x = np.array([v.value if v.value is not None else np.nan for v in leader.variables], float)
    lo, hi = np.where(np.isfinite(lb), lb, 0.0), np.where(np.isfinite(ub), ub, 0.0)
    mid = np.where(np.isfinite(lb) & np.isfinite(ub), 0.5 * (lo + hi),
                   np.where(np.isfinite(lb), lo, hi))
    return np.clip(np.where(np.isnan(x), mid, x), lb, ub)


def _refuse_non_unique(system: StackedKKT, z: np.ndarray) -> None:
    """Raise when a follower is not strictly convex at ``z`` (its response need not be unique).

    Raises
    ------
    UnsupportedModelError
    """
    convex, why = strict_convexity(system, z)
    if not convex:
        raise UnsupportedModelError(f"method='implicit' needs followers with a unique response: {why}; "
                                    "use method='kkt' or 'kkt-bigm'")


def nash_followers(agents: list[Agent]) -> bool:
    """Whether some follower's problem uses another follower's variables (a Nash game at the lower level)."""
    own = {id(v) for a in agents for v in a.variables}
    return any(id(v) in own for a in agents for v in a.parameters)


def solve_implicit(model: pyo.Block, leader: LeaderPart, agents: list[Agent], *, tol: float = 1e-6,
                   max_iter: int = 500, memory: int = 20, follower_tol: float = 1e-10,
                   follower_max_iter: int = 100, scan: int = 0) -> tuple[SolveResult, dict[str, Any]]:
    """Bilevel solve by implicit programming (see the module docstring).

    Parameters
    ----------
    model : Block
    leader : LeaderPart
    agents : list of Agent
        The followers.
    tol : float
        Projected-gradient tolerance, relative to ``max(1, ‖∇Φ(x₀)‖∞)``.
    max_iter : int
        L-BFGS-B iterations.
    memory : int
        L-BFGS-B memory (pairs kept).
    follower_tol : float
        Complementarity residual the followers' KKT system is solved to.
    follower_max_iter : int
        Newton iterations per response.
    scan : int
        Before L-BFGS-B, evaluate Φ at ``scan`` points evenly spaced along the
        diagonal of the leader's (finite) box and start from the best of them and
        the given start (default 0: the given start).  A cheap escape from a flat
        or poor start for a leader with one or a few variables (e.g. a margin
        whose revenue is flat until a price floor binds); each point is one
        follower solve.

    Returns
    -------
    (SolveResult, dict)
        The result (values loaded into ``model``; ``extra`` holds timings,
        iterations, follower solves, projected gradient, degenerate components)
        and the counters ``solve_bilevel`` records.
    """
    for name, value in (("tol", tol), ("follower_tol", follower_tol)):
        if not value > 0:
            raise ModelError(f"method='implicit': {name} must be positive, got {value!r}")
    for name, value in (("max_iter", max_iter), ("memory", memory), ("follower_max_iter", follower_max_iter)):
        if int(value) != value or value < 1:
            raise ModelError(f"method='implicit': {name} must be a positive integer, got {value!r}")
    if int(scan) != scan or scan < 0:
        raise ModelError(f"method='implicit': scan must be a non-negative integer, got {scan!r}")
    check_leader(leader)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    system = StackedKKT(model, [a.block for a in agents], parameters=leader.variables)
    timings.update({f"followers_{k}": v for k, v in system.timings.items()})
    t1 = time.perf_counter()
    objective = LeaderObjective(leader, system)
    timings["leader_compile"] = time.perf_counter() - t1
    timings["build"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    lb, ub = _box(leader)
    x0 = _start(leader, lb, ub)
    reduced = ReducedProblem(system, objective, follower_tol=follower_tol, follower_max_iter=follower_max_iter)
    history: list[float] = []
    start_note = ""
    try:
        try:
            val0, grad0 = reduced(x0)
        except ResponseFailed as exc:   # no response at the start: from the nearest leader point that has one
            x1 = feasible_start(model, leader.variables, x0)
            if x1 is None or np.array_equal(x1, x0):
                raise
            val0, grad0 = reduced(x1)
            x0, start_note = x1, f"; started from the nearest leader point with a follower response ({exc})"
    except ResponseFailed as exc:
        nash = nash_followers(agents)
        if not nash:
            _refuse_non_unique(system, system.start())
        timings["solve"] = time.perf_counter() - t0
        for v, value in zip(leader.variables, x0):
            v.set_value(float(value), skip_validation=True)
        return SolveResult(SolveStatus.ERROR, None, 0.0, 0, "implicit",
                           f"the followers' response could not be computed at the leader's start: "
                           f"{exc}{unsolved_followers(agents, leader.variables)}",
                           extra={"timings": timings}), {"lower_evaluations": reduced.solves}
    if scan:
        x0, val0, grad0 = scan_diagonal(reduced, x0, val0, grad0, lb, ub, int(scan))
    nash = nash_followers(agents)
    if not nash:
        _refuse_non_unique(system, reduced.z)
    monotone_start = strict_monotonicity(system, reduced.z)
    history.append(val0)     # minimisation form, as nested's (record_values turns it)
    pg_tol = tol * max(1.0, float(np.max(np.abs(grad0), initial=0.0)))
    failure = ""

    def record(xk: np.ndarray) -> None:
        val, _ = reduced(xk)
        history.append(val)

    kinks, kink_checked, flat_scans = 0, False, 0
    x, iterations = x0, 0
    trust = TrustBox(lb, ub)
    while True:
        while True:
            try:
                opt = minimize(reduced, x, jac=True, method="L-BFGS-B", bounds=trust.bounds(), callback=record,
                               options={"maxiter": max_iter - iterations, "maxcor": memory, "gtol": pg_tol,
                                        "ftol": 1e-15, "maxfun": 5 * max_iter + 20})
                x, opt_message, iterations = opt.x, str(opt.message), iterations + int(opt.nit)
            except ResponseFailed as exc:
                x, iterations = reduced.last_good[0], len(history) - 1
                if iterations < max_iter and trust.shrink(x, reduced.last_failed):
                    continue      # again from the last good point, no further than half-way to the failure
                failure, opt_message = str(exc), "stopped"
                break
            if iterations >= max_iter or kinks >= MAX_KINK_ESCAPES:
                break
            if trust.limits(x):
                trust.recentre(x)  # stopped on the trust region's edge, not the box's: go on from there
                continue
            try:
                reduced(x)
                escaped = escape_kink(reduced, x, lb, ub, pg_tol) if reduced.degenerate else None
            except ResponseFailed:
                escaped = None
            if escaped is None:
                kink_checked = bool(reduced.degenerate)
                break
            kinks += 1
            x = escaped
            history.append(reduced(x)[0])
        if failure or flat_scans or iterations >= max_iter or not is_flat(reduced, x, lb, ub):
            break
        # a plateau (gradient 0 to rounding, e.g. every follower at a bound: a price above every willingness to
        # pay): stationary says nothing here; scan the box once and search again from a better point
        flat_scans = 1
        val_flat = reduced(x)[0]
        x_scan, val_scan, _ = scan_diagonal(reduced, x, val_flat, reduced(x)[1], lb, ub, FLAT_SCAN)
        if not val_scan < val_flat - tol * max(1.0, abs(val_flat)):
            break
        x = x_scan
        history.append(val_scan)
    try:
        val, grad = reduced(x)
    except ResponseFailed as exc:
        failure = failure or str(exc)
        x = reduced.last_good[0]
        val, grad = reduced._cache[1], reduced._cache[2]
    if failure and reduced.last_failed is not None:     # why: e.g. a follower infeasible beyond x = 1
        for v, value in zip(leader.variables, reduced.last_failed):
            v.set_value(float(value), skip_validation=True)
        failure += unsolved_followers(agents, leader.variables)
    z = reduced._cache[3]        # the response at x (the cache holds the last successful evaluation)
    pg = projected_gradient(x, grad, lb, ub)
    convex, why = (True, "") if nash else strict_convexity(system, z)
    free, _ = active_set(system, z, system.F(z), follower_tol)
    regular, irregular_why = regularity(system.jacobians(z)[0], free, system)
    unique = (False if not regular else
              True if monotone_start and strict_monotonicity(system, z) else None)
    timings["solve"] = time.perf_counter() - t0
    timings["follower_solves"] = reduced.solve_time
    timings["adjoint"] = reduced.adjoint_time

    for v, value in zip(leader.variables, x):
        v.set_value(float(value), skip_validation=True)
    system.load(z)
    objective_value = objective.sense * val
    summary = (f"L-BFGS-B: {opt_message}; {iterations} iterations, {reduced.solves} follower solves; "
               f"projected gradient {pg:.2e} (tolerance {pg_tol:.1e}){start_note}")
    if trust.restrictions:
        summary += (f"; {trust.restrictions} restart(s) from the last good point inside a narrowed box after a "
                    "follower response failed")
    if kinks:
        summary += f"; left {kinks} kink(s) of the response where a one-sided derivative looked stationary"
    if reduced.degenerate:
        summary += (f"; {reduced.degenerate} follower components degenerate (at a bound with zero slack): "
                    + ("no descent on the other side of the kink either" if kink_checked
                       else "one-sided derivative only, the other side of the kink not checked"))
    if reduced.least_squares:
        summary += (f"; {reduced.least_squares} adjoint solves fell back to least squares (the followers' "
                    "active-set KKT matrix was singular)")
    if failure:
        status, message = SolveStatus.FEASIBLE, f"{summary}; a follower response failed ({failure}): last good point"
    elif not regular:
        status, message = SolveStatus.FEASIBLE, f"{summary}; at the answer {irregular_why}: not certified"
    elif not convex:
        status, message = SolveStatus.FEASIBLE, f"{summary}; at the answer {why}"
    elif flat_scans and is_flat(reduced, x, lb, ub):
        status, message = SolveStatus.FEASIBLE, (f"{summary}; the leader's objective is flat around the point "
                                                 "(gradient 0, the objective unchanged a step away) and a scan of "
                                                 f"{FLAT_SCAN} points along the box diagonal found nothing better: "
                                                 "not certified")
    elif pg <= pg_tol and reduced.degenerate and not kink_checked:
        status, message = SolveStatus.FEASIBLE, f"{summary}: not certified"
    elif pg <= pg_tol:
        status, message = SolveStatus.LOCALLY_OPTIMAL, f"{summary}: stationary point of the reduced problem"
    else:
        status, message = SolveStatus.FEASIBLE, f"{summary}: not stationary (projected gradient above tolerance)"
    extra = {"timings": timings, "iterations": iterations, "follower_solves": reduced.solves,
             "newton_steps": reduced.newton_steps, "multiplier_estimates": reduced.multiplier_estimates,
             "projected_gradient": pg, "projected_gradient_tol": pg_tol,
             "degenerate": reduced.degenerate, "kinks_left": kinks, "mcp_size": int(z.size),
             "least_squares": reduced.least_squares, "restrictions": trust.restrictions,
             "regular": regular, "unique_response": unique, "nash_followers": nash, "flat_scans": flat_scans}
    result = SolveResult(status, float(objective_value), 0.0, iterations, "implicit", message, extra=extra)
    log.info("implicit: %s (%s)", status, message)
    return result, {"upper_evaluations": reduced.evaluations, "lower_evaluations": reduced.solves,
                    "history": history}
