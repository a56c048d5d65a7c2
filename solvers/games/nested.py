"""The ``nested`` bilevel method: a pymoo algorithm over the leader's variables.

Each candidate leader decision ``x`` is evaluated by fixing the leader's
variables at ``x``, solving every follower to optimality (each follower's
block is solved by a persistent backend built once, see
:class:`~gridgames.solvers.games.agent_solve.AgentSolver`), then reading the
leader's objective and constraint violations.  That evaluation is
:class:`LeaderEvaluator`, a plain callable on a numpy vector, so it can be
mapped over processes here or over a Dask cluster by the caller
(``map_fn=client.map``-style adapters).

Candidates are evaluated in parallel with ``workers > 1``: a fork-based
process pool, each worker holding its own copy of the model and its own
solver objects (built lazily inside the worker).
"""
from __future__ import annotations

import logging
import math
import multiprocessing as mp
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pymoo.algorithms.soo.nonconvex.ga import GA
from pymoo.core.callback import Callback
from pymoo.core.problem import Problem
from pymoo.core.termination import Termination
from pymoo.optimize import minimize

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.agent_solve import GLOBAL_OPTIONS, AgentSolver, global_solver_if_nonconvex
from gridgames.solvers.games.structure import Agent, FixedVariables, LeaderPart, values_text
from gridgames.solvers.result import SolveResult, SolveStatus

log = logging.getLogger(__name__)

#: Objective given to a candidate at which some follower has no optimal answer.
INFEASIBLE_PENALTY = 1e20


class LeaderEvaluator:
    """Leader objective and constraint violations at a leader decision ``x``.

    Parameters
    ----------
    model : Block
        The bilevel model.
    leader : LeaderPart
        The leader's variables (their order defines ``x``), objective, constraints.
    followers : list of Agent
        The follower blocks.
    follower_solver : str, optional
        Registry name for the followers (default: chosen per follower class).
    feasibility_tol : float
        Constraint violations below this count as satisfied.
    """

    def __init__(self, model: pyo.Block, leader: LeaderPart, followers: Sequence[Agent],
                 follower_solver: str | None = None, solver_options: dict | None = None,
                 feasibility_tol: float = 1e-6) -> None:
        self.model = model
        self.leader = leader
        self.followers = list(followers)
        self.follower_solver = follower_solver
        self.solver_options = solver_options
        self.tol = feasibility_tol
        self._solvers: list[AgentSolver] | None = None
        self._box: tuple[np.ndarray, np.ndarray] | None = None
        self.lower_evaluations = 0
        #: ``(follower, result)`` of the followers that had no optimal answer at the last candidate
        self.last_failures: list[tuple[str, SolveResult]] = []
        #: how the followers' solvers were chosen, where it matters (for the result's message)
        self.notes: list[str] = []
        self.integer_mask = np.array([not v.is_continuous() for v in leader.variables])
        self.n_constraints = sum(_n_rows(c) for c in leader.constraints) + 1  # +1: follower feasibility
        #: the followers use each other's variables: their reaction is the lower level's Nash equilibrium
        self.nash = followers_coupled(self.followers)

    @property
    def solvers(self) -> list[AgentSolver]:
        if self._solvers is None:  # built lazily: inside each worker process after a fork
            self._solvers = []
            for f in self.followers:
                name, why = global_solver_if_nonconvex(f, self.follower_solver)
                if why:
                    self.notes.append(f"follower '{f.name}' solved by SCIP (global): {why}")
                options = {**GLOBAL_OPTIONS, **(self.solver_options or {})} if why else self.solver_options
                self._solvers.append(AgentSolver(f, name, options))
        return self._solvers

    def narrow(self, lower: np.ndarray, upper: np.ndarray) -> None:
        """Search a smaller box than the variables' bounds (clipped to them); it may bound a free variable."""
        lo, hi, _ = self._own_bounds()
        lower = np.maximum(np.broadcast_to(np.asarray(lower, float), lo.shape), lo)
        upper = np.minimum(np.broadcast_to(np.asarray(upper, float), hi.shape), hi)
        if np.any(lower > upper):
            raise ModelError("search_bounds: a lower bound exceeds the upper bound (after clipping to "
                             "the variables' own bounds)")
        open_ = [v.name for v, a, b in zip(self.leader.variables, lower, upper)
                 if not (np.isfinite(a) and np.isfinite(b))]
        if open_:
            raise ModelError("method='nested' searches a box: search_bounds leaves the leader variables "
                             + ", ".join(open_[:6]) + (" ..." if len(open_) > 6 else "") + " without a finite bound")
        self._box = (lower, upper)

    def _own_bounds(self) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The leader variables' own bounds (±inf where none) and the names of those not finite."""
        lo, hi, missing = [], [], []
        for v in self.leader.variables:
            lb, ub = v.bounds
            if lb is None or ub is None or not (math.isfinite(lb) and math.isfinite(ub)):
                missing.append(v.name)
            lo.append(lb if lb is not None else -np.inf)
            hi.append(ub if ub is not None else np.inf)
        return np.asarray(lo, float), np.asarray(hi, float), missing

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Finite bounds of the leader's variables (the search box)."""
        if self._box is not None:
            return self._box
        lo, hi, missing = self._own_bounds()
        if missing:
            raise ModelError("method='nested' searches a box: give finite bounds to the leader variables "
                             + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else "")
                             + " (or search_bounds=(lower, upper))")
        return lo, hi

    def set_leader(self, x: np.ndarray) -> None:
        x = np.where(self.integer_mask, np.round(x), x)
        for v, value in zip(self.leader.variables, x):
            v.set_value(float(value), skip_validation=True)

    def solve_followers(self) -> list[SolveResult]:
        """Solve every follower at the current leader values (loaded into the model).

        Followers that use each other's variables are solved together: their
        Nash equilibrium at these leader values (:func:`lower_level_equilibrium`),
        one result for all of them.
        """
        if self.nash:
            results = [lower_level_equilibrium(self.model, self.leader, self.followers, self.solver_options)]
        else:
            results = [s.solve() for s in self.solvers]
        self.lower_evaluations += len(results)
        return results

    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """``(F, G)``: the leader objective to minimise and violations (≤ 0 is feasible)."""
        self.set_leader(np.asarray(x, dtype=float))
        results = self.solve_followers()
        g = np.zeros(self.n_constraints)
        names = (["the followers' equilibrium"] if self.nash else [a.name for a in self.followers])
        self.last_failures = [(n, r) for n, r in zip(names, results) if not r.ok]
        if self.last_failures:
            g[-1] = 1.0
            return INFEASIBLE_PENALTY, g
        sense = 1.0 if self.leader.objective.sense == pyo.minimize else -1.0
        f = sense * float(pyo.value(self.leader.objective.expr))
        if np.isnan(f):
            raise ModelError(f"the leader's objective '{self.leader.objective.name}' is NaN at "
                             f"{values_text(self.leader.variables)}: "
                             "check its data (a NaN parameter?) and the followers' answers")
        i = 0
        for con in self.leader.constraints:
            body = float(pyo.value(con.body))
            lo = None if con.lower is None else float(pyo.value(con.lower))
            hi = None if con.upper is None else float(pyo.value(con.upper))
            if con.equality:
                g[i] = abs(body - hi) - self.tol
                i += 1
                continue
            if lo is not None:
                g[i] = lo - body - self.tol
                i += 1
            if hi is not None:
                g[i] = body - hi - self.tol
                i += 1
        g[-1] = -1.0
        return f, g


def _no_feasible_candidate(evaluator: LeaderEvaluator) -> tuple[SolveStatus, str]:
    """Status and reason when no candidate was feasible, from a candidate at the box's centre.

    A search that found no feasible candidate proves nothing: ``iteration_limit``
    (more generations, a larger population, ``initial=`` or a KKT method may find
    one), with what the centre of the box shows; ``error`` when a follower's solve
    failed there (an unsuitable solver, a numerical failure) or a follower is unbounded.
    """
    lo, hi = evaluator.bounds()
    _, g = evaluator(0.5 * (lo + hi))
    hint = "not a proof of infeasibility: try more generations, initial=, or a KKT method"
    if not evaluator.last_failures:
        worst = float(np.max(g[:-1], initial=0.0))
        return SolveStatus.ITERATION_LIMIT, (f"{hint}; e.g. at the centre of the box the followers answer and the "
                                             f"leader's constraints are violated by {worst:.3g}")
    name, r = evaluator.last_failures[0]
    more = f" (and {len(evaluator.last_failures) - 1} more)" if len(evaluator.last_failures) > 1 else ""
    if r.status is SolveStatus.INFEASIBLE:
        return SolveStatus.ITERATION_LIMIT, f"{hint}; e.g. at the centre of the box follower {name}{more} is infeasible"
    if r.status is SolveStatus.UNBOUNDED:
        return SolveStatus.ERROR, (f"e.g. at the centre of the box follower {name}{more} is unbounded: it has "
                                   "no optimal answer, so the bilevel problem is ill-posed there")
    return SolveStatus.ERROR, (f"e.g. at the centre of the box the solve of follower {name}{more} failed "
                               f"({r.status}: {r.message}); that is not evidence of infeasibility")


def followers_coupled(followers: Sequence[Agent]) -> bool:
    """True when some follower uses another follower's variable (a Nash game at the lower level)."""
    own = {id(v) for f in followers for v in f.variables}
    return any(id(p) in own for f in followers for p in f.parameters)


def lower_level_equilibrium(model: pyo.Block, leader: LeaderPart, followers: Sequence[Agent],
                            solver_options: dict | None = None) -> SolveResult:
    """The followers' Nash equilibrium at the current leader values (loaded into the model).

    The leader's variables are fixed and its constraints deactivated while
    :func:`~gridgames.solvers.games.nash.solve_nash` (``method="mcp"``:
    semismooth Newton on the followers' stacked KKT conditions, Scholtes-Ipopt
    when Newton fails) runs, so the leader's rows are not mistaken for shared
    constraints of the followers' game.  Not verified here: ``solve_bilevel``'s
    follower check at the returned point is the followers' Nash gap.
    """
    from gridgames.solvers.games.nash import solve_nash_within   # nash -> kkt_methods; imported lazily

    active = [c for c in leader.constraints if c.active]
    for c in active:
        c.deactivate()
    try:
        with FixedVariables(leader.variables):
            res = solve_nash_within(model, [f.block for f in followers], method="mcp", verify=False,
                             solver_options=solver_options)
    finally:
        for c in active:
            c.activate()
    return SolveResult(res.status, res.objective, res.solve_time, res.iterations, "mcp", res.message)


def _n_rows(con) -> int:
    if con.equality:
        return 1
    return int(con.lower is not None) + int(con.upper is not None)


# --- process pool plumbing (fork: the model is inherited, not pickled) ------
_WORKER_EVALUATOR: LeaderEvaluator | None = None


def _worker_init(evaluator: LeaderEvaluator) -> None:
    global _WORKER_EVALUATOR
    _WORKER_EVALUATOR = evaluator


def _worker_eval(x: np.ndarray) -> tuple[float, np.ndarray, int]:
    assert _WORKER_EVALUATOR is not None
    before = _WORKER_EVALUATOR.lower_evaluations
    f, g = _WORKER_EVALUATOR(x)
    return f, g, _WORKER_EVALUATOR.lower_evaluations - before


class NestedBilevelProblem(Problem):
    """The leader's problem as a pymoo ``Problem``; followers solved inside ``_evaluate``.

    Parameters
    ----------
    evaluator : LeaderEvaluator
    map_fn : callable, optional
        ``map_fn(func, list_of_x) -> iterable of (F, G, lower_solves)``; defaults to
        the built-in map (serial).  Inject a process pool's or a cluster's map here.
    """

    def __init__(self, evaluator: LeaderEvaluator,
                 map_fn: Callable[[Callable, Iterable], Iterable] | None = None) -> None:
        xl, xu = evaluator.bounds()
        super().__init__(n_var=len(xl), n_obj=1, n_ieq_constr=evaluator.n_constraints, xl=xl, xu=xu)
        self.evaluator = evaluator
        self.map_fn = map_fn
        self.upper_evaluations = 0
        self.lower_evaluations = 0

    def _evaluate(self, X: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
        if self.map_fn is None:
            rows = []
            for x in X:
                before = self.evaluator.lower_evaluations
                f, g = self.evaluator(x)
                rows.append((f, g, self.evaluator.lower_evaluations - before))
        else:
            rows = list(self.map_fn(_worker_eval, list(X)))
        self.upper_evaluations += len(rows)
        self.lower_evaluations += sum(r[2] for r in rows)
        out["F"] = np.array([[r[0]] for r in rows])
        out["G"] = np.array([r[1] for r in rows])


class _Progress(Callback):
    def __init__(self, total: int | None) -> None:
        super().__init__()
        from tqdm.auto import tqdm
        self.bar = tqdm(total=total, desc="nested search", unit="gen", leave=False)

    def notify(self, algorithm: Any) -> None:
        best = algorithm.opt.get("F")
        self.bar.set_postfix(best=f"{float(best.min()):.6g}" if best is not None and len(best) else "-")
        self.bar.update(1)


def polish(evaluator: LeaderEvaluator, x0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
           max_evaluations: int) -> tuple[np.ndarray, float, int]:
    """Derivative-free local refinement of a leader point (bounded Powell).

    Every evaluation re-solves the followers, so this stays a *nested* method:
    no follower derivative is used.  Infeasible points get a penalty
    proportional to their violation.  Returns ``(x, F, evaluations)``.
    """
    from scipy.optimize import minimize as scipy_minimize

    count = 0

    def penalised(x: np.ndarray) -> float:
        nonlocal count
        count += 1
        f, g = evaluator(np.clip(x, lo, hi))
        violation = float(np.maximum(g, 0.0).sum())
        return f + (1e6 * (1.0 + abs(f)) * violation if violation > 0 else 0.0)

    res = scipy_minimize(penalised, np.clip(x0, lo, hi), method="Powell", bounds=list(zip(lo, hi)),
                         options={"maxfev": max_evaluations, "xtol": 1e-8, "ftol": 1e-12})
    return np.clip(res.x, lo, hi), float(res.fun), count


#: the GA stops early when the best leader objective improved by at most ``STALL_RTOL·max(1, abs(best))`` over the
#: last STALL_GENERATIONS generations (relative: a leader objective in 1e-9 units stops no sooner than one in
#: units); the polish refines after
STALL_GENERATIONS = 25
STALL_RTOL = 1e-6


class StallTermination(Termination):
    """pymoo termination: ``n_max_gen`` generations at most, or a stall of the best feasible objective
    (no improvement above ``rtol·max(1, |best|)`` in ``period`` generations)."""

    def __init__(self, n_max_gen: int, period: int = STALL_GENERATIONS, rtol: float = STALL_RTOL) -> None:
        super().__init__()
        self.n_max_gen, self.period, self.rtol = n_max_gen, period, rtol
        self.best: list[float] = []

    def _update(self, algorithm: Any) -> float:
        opt = algorithm.opt
        feasible = opt.get("F")[opt.get("feas")] if opt is not None and len(opt) else np.empty((0, 1))
        self.best.append(float(feasible.min()) if feasible.size else float("inf"))
        if len(self.best) > self.period:
            old, now = self.best[-1 - self.period], self.best[-1]
            if np.isfinite(old) and old - now <= self.rtol * max(1.0, abs(now)):
                return 1.0
        return min(1.0, algorithm.n_gen / self.n_max_gen)


def stall_termination(n_gen: int) -> Termination:
    """``n_gen`` generations at most, fewer on a stall (:class:`StallTermination`)."""
    return StallTermination(n_gen)


def solve_nested(model: pyo.Block, leader: LeaderPart, followers: Sequence[Agent], *,
                 algorithm: Any = None, n_gen: int = 100, pop_size: int = 40, seed: int | None = 1,
                 termination: Any = None, workers: int = 1, follower_solver: str | None = None,
                 solver_options: dict | None = None, map_fn: Callable | None = None,
                 progress: bool = False, initial: np.ndarray | None = None,
                 search_bounds: tuple[np.ndarray, np.ndarray] | None = None,
                 polish_evaluations: int | None = None) -> tuple[SolveResult, dict]:
    """Run a pymoo algorithm over the leader's variables; load the best point into the model.

    Parameters
    ----------
    algorithm : pymoo Algorithm, optional
        Default: ``GA(pop_size)`` (elitist (μ+λ) survival).  PSO, DE or any
        single-objective pymoo algorithm object may be passed; it is run in
        place (not copied), so its state can be read afterwards.
    n_gen, termination :
        At most ``n_gen`` generations, fewer when the best leader objective has not
        improved by more than ``STALL_RTOL·max(1, |best|)`` in ``STALL_GENERATIONS`` generations;
        or any pymoo termination object (takes precedence; ``("n_gen", n)`` runs
        all ``n``).
    workers : int
        Processes evaluating candidates in parallel (fork start method).
    map_fn : callable, optional
        Overrides ``workers``: a map over candidates, e.g. a Dask client's.
    initial : array, optional
        A leader point to seed the population with (e.g. a KKT solution).
    search_bounds : (lower, upper) arrays, optional
        A narrower box for the search than the leader variables' bounds (e.g.
        prices between cost and the followers' choke price).
    polish_evaluations : int, optional
        Budget of the local Powell refinement run from the algorithm's best
        point (default ``200 * n_var``; 0 switches it off).

    Returns
    -------
    (SolveResult, stats)
        ``stats`` has ``upper_evaluations``, ``lower_evaluations`` and the
        convergence ``history`` (best leader objective per generation).
    """
    start = time.perf_counter()
    evaluator = LeaderEvaluator(model, leader, followers, follower_solver, solver_options)
    if search_bounds is not None:
        evaluator.narrow(*search_bounds)
    if algorithm is None:
        algorithm = GA(pop_size=pop_size, eliminate_duplicates=True)
    if initial is not None:
        from pymoo.core.population import Population
        xl, xu = evaluator.bounds()
        rng = np.random.default_rng(seed)
        size = getattr(algorithm, "pop_size", pop_size) or pop_size
        X = rng.uniform(xl, xu, (size, len(xl)))
        X[0] = np.clip(initial, xl, xu)
        algorithm.initialization.sampling = Population.new(X=X)
    pool = None
    if map_fn is None and workers > 1:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork"),
                                   initializer=_worker_init, initargs=(evaluator,))
        map_fn = lambda fn, xs: pool.map(fn, xs, chunksize=max(1, len(xs) // (4 * workers)))  # noqa: E731
    elif map_fn is not None:
        _worker_init(evaluator)
    problem = NestedBilevelProblem(evaluator, map_fn)
    history: list[float] = []

    class _History(Callback):
        def notify(self, algorithm: Any) -> None:
            history.append(float(algorithm.opt.get("F").min()))

    callbacks = [_History()]
    if progress:
        callbacks.append(_Progress(n_gen if termination is None else None))
    try:
        # copy_algorithm=False: a caller's algorithm object is the one that runs, so its state
        # (population, per-generation records of a subclass) is readable afterwards
        res = minimize(problem, algorithm, termination or stall_termination(n_gen), seed=seed, verbose=False,
                       callback=_Chain(callbacks), copy_algorithm=False)
    finally:
        if pool is not None:
            pool.shutdown()
        if progress:
            callbacks[-1].bar.close()
    stats = {"upper_evaluations": problem.upper_evaluations, "history": history,
             "lower_evaluations": problem.lower_evaluations + evaluator.lower_evaluations}
    if res.X is None:
        status, why = _no_feasible_candidate(evaluator)
        return SolveResult(status, None, time.perf_counter() - start, len(history),
                           "nested", f"no feasible leader decision found in {problem.upper_evaluations} "
                           f"candidates; {why}"), stats
    x_best = np.atleast_1d(res.X).astype(float)
    budget = 200 * len(x_best) if polish_evaluations is None else polish_evaluations
    if budget > 0:
        f_ga = float(np.atleast_1d(res.F)[0])
        xl, xu = evaluator.bounds()
        x_pol, f_pol, n_pol = polish(evaluator, x_best, xl, xu, budget)
        stats["polish_evaluations"] = n_pol
        stats["upper_evaluations"] += n_pol
        stats["ga_objective"] = f_ga
        if f_pol < f_ga:
            x_best = x_pol
    f_best, g_best = evaluator(x_best)   # re-evaluate here so the point is loaded into this model
    stats["lower_evaluations"] = problem.lower_evaluations + evaluator.lower_evaluations
    sense = 1.0 if leader.objective.sense == pyo.minimize else -1.0
    feasible = f_best < INFEASIBLE_PENALTY and np.all(g_best <= 0)
    status = SolveStatus.LOCALLY_OPTIMAL if feasible else SolveStatus.ITERATION_LIMIT
    return SolveResult(status, sense * f_best if feasible else None, time.perf_counter() - start,
                       len(history), "nested",
                       f"pymoo {type(algorithm).__name__}: {len(history)} generations, "
                       f"{problem.upper_evaluations} leader candidates"
                       + "".join(f"; {note}" for note in evaluator.notes)), stats


class _Chain(Callback):
    def __init__(self, callbacks: list[Callback]) -> None:
        super().__init__()
        self.callbacks = callbacks

    def notify(self, algorithm: Any) -> None:
        for cb in self.callbacks:
            cb.notify(algorithm)
