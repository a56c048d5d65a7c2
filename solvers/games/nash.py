"""``solve_nash`` and ``nash_gap``: Nash equilibria of games declared as Pyomo blocks.

Each player is a Block with its own variables, constraints and one objective,
which may reference other players' variables.  Constraints *outside* every
player block that involve players' variables are **shared constraints**: each
involved player must respect them given the others' strategies, which makes
the game a generalized Nash equilibrium problem (GNEP).  What each method
returns:

* ``gauss-seidel`` / ``jacobi`` — best-response iteration.  A fixed point is a
  Nash equilibrium; with shared constraints it is a generalized Nash
  equilibrium (each player optimal within the shared set given the others),
  not necessarily the *variational* one.  In an aggregative game whose players
  Ipopt would solve, each best response is Newton on the player's KKT system,
  compiled once with the others' data as a numpy vector and certified (residual,
  curvature), Ipopt only where that fails
  (:mod:`~gridgames.solvers.games.compiled_player`; ``newton=False`` for Ipopt
  throughout, Jacobi's steps then one joint Ipopt solve).  ``gap_stop=True`` also stops on the sweep's own
  best responses' gap.
* ``kkt`` — all players' KKT conditions stacked into one complementarity system.
  Each player has its own multiplier on a shared constraint, so the solution is
  a GNE; ``variational=True`` forces the players' multipliers of each shared
  constraint to be equal, which selects the variational equilibrium.  Solved by
  Ipopt through a Scholtes sequence, or by SCIP as a big-M feasibility MINLP
  (``solver="scip"``) for a global answer.  With Ipopt, players may be smooth
  convex nonlinear (symbolic gradients, sampled convexity:
  ``result.extra["convexity"]``); SCIP takes linear/quadratic players only.
* ``mcp`` — the same stacked KKT conditions assembled numerically from the
  Ipopt bridge's compiled derivatives and solved by semismooth Newton
  (:mod:`gridgames.solvers.games.nash_mcp`); shared multipliers tied
  (variational equilibrium); linear in the game's size.
* ``epec`` — the players are leaders anticipating shared follower blocks
  (``followers=``); diagonalisation over the leaders' MPECs with cycle
  detection (:mod:`gridgames.solvers.games.epec`).
* ``pso`` — pymoo's PSO minimising the sum of players' regrets (the microgrid
  paper's approach), kept as a baseline; the inertia weight schedule can be
  passed in.

``nash_gap`` is the honest check for all of them: each player's gain from its
best response against the others' current strategies.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.block import BlockData

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.agent_solve import runaway_suspects, unsolved_followers
from gridgames.solvers.games.nash_kkt import solve_nash_kkt
from gridgames.solvers.games.results import NashResult
from gridgames.solvers.games.status import (FEAS_TOL, GAP_TOL, check_on_error, check_options, check_tolerances,
                                          finish, gap_limit, judge, judge_feasibility, judge_local, judge_runaway)
from gridgames.solvers.games.game_parts import integer_variable, refuse_stray_objectives
from gridgames.solvers.games.players import players_of, refuse_integer
from gridgames.solvers.games.responses import BestResponses, profile_gaps
from gridgames.solvers.games.structure import Agent, OwnFreePart, _as_blocks
from gridgames.solvers.games.sweeps import GLOBAL_RESTARTS, best_response_iteration
from gridgames.solvers.games.values import record_values
from gridgames.solvers.result import SolveResult, SolveStatus
from gridgames.solvers.validate import check_finite, finite_data_named

log = logging.getLogger(__name__)

NASH_METHODS = ("gauss-seidel", "jacobi", "kkt", "pso", "mcp", "epec")


#: the name this module always used for the best-response machinery
_BestResponses = BestResponses


def nash_gap(model: pyo.Block, players: BlockData | Iterable[BlockData], solver: str | None = None, *,
             batch: bool | None = None, newton: bool = False) -> dict[str, float]:
    """Each player's gain from deviating alone to its best response.

    Parameters
    ----------
    model : Block
        The game, with the strategies to check loaded as variable values.
    players : Block or iterable of Blocks
    solver : str, optional
        Solver for the best responses (default chosen per player class).
    batch : bool, optional
        Solve all players' best responses as one separable model (one Ipopt call, or
        one HiGHS call for LP/QP players; :mod:`~gridgames.solvers.games.batch`): None
        (default) from 20 players on in an aggregative game of continuous players
        solved by Ipopt or HiGHS, True whenever possible, False never.
        A player the joint answer does not stand for is re-solved alone.
    newton : bool, default False
        Best responses by Newton on each player's compiled KKT system, certified
        (residual, curvature on the active face) or re-solved by Ipopt
        (:mod:`~gridgames.solvers.games.compiled_player`), for every player of an
        aggregative game.  Exact to the last digits, but each player's structure is
        compiled first (about 10 ms a player): it pays off when the structures are
        re-used, as in :func:`solve_nash`'s sweeps (whose final gap uses them).

    Returns
    -------
    dict
        Player name → gain (≥ 0 up to solver tolerance; 0 at a Nash equilibrium;
        ``inf`` when the profile violates the player's own constraints or bounds by
        more than ``VIOLATION_FACTOR · FEAS_TOL`` relative: an infeasible strategy can
        show a negative gain, which certifies nothing; ``nan`` for the others when the
        infeasible profile leaves some player no feasible answer).
        ``max(nash_gap(...).values())`` is the equilibrium gap reported by
        :func:`solve_nash`.

    Raises
    ------
    ModelError
        When a player's variable has no value (nothing to check: solve the game
        or set the strategies first).
    """
    return checked_gaps(model, players, solver, batch=batch, newton=newton)[0]


def checked_gaps(model: pyo.Block, players: BlockData | Iterable[BlockData], solver: str | None = None, *,
                 batch: bool | None = None, newton: bool = False) -> tuple[dict[str, float], BestResponses]:
    """:func:`nash_gap` and the best responses that computed it (which players were checked only
    locally: :meth:`~gridgames.solvers.games.responses.BestResponses.local_only`)."""
    agents = players_of(model, players)
    unset = [v.name for a in agents for v in a.variables if v.value is None]
    if unset:
        raise ModelError(f"nash_gap needs the strategies to check as variable values; {len(unset)} variable(s) "
                         f"have none ({', '.join(unset[:5])}{', ...' if len(unset) > 5 else ''}): "
                         "solve the game first or set the values")
    br = BestResponses(agents, solver, None, model, batch, True if newton else False)
    return profile_gaps(agents, br)[0], br


def _set(agent: Agent, values: np.ndarray) -> None:
    for v, x in zip(agent.variables, values):
        v.set_value(float(x), skip_validation=True)


def _initial_values(agents: Sequence[Agent]) -> None:
    for a in agents:
        for v in a.variables:
            if v.value is None:
                lo, hi = v.bounds
                v.set_value(lo if lo is not None else (hi if hi is not None else 0.0), skip_validation=True)


def _objective_sum(agents: Sequence[Agent]) -> float | None:
    """The players' objectives summed at the current profile (None where one is undefined), for a result
    whose gaps could not be computed (not the reformulation's placeholder objective)."""
    try:
        return float(sum(a.value() for a in agents))
    except ModelError:
        return None


#: the regret of a particle where some player has no best response (pso)
REGRET_NO_RESPONSE = 1e30


def _solve_pso(agents: Sequence[Agent], br: BestResponses, *, pop_size: int, n_gen: int,
               seed: int | None, algorithm: Any) -> tuple[SolveResult, list[float]]:
    """pymoo PSO over all strategies, minimising Σ_i regret_i (the paper's baseline)."""
    from pymoo.algorithms.soo.nonconvex.pso import PSO
    from pymoo.core.problem import ElementwiseProblem
    from pymoo.optimize import minimize

    variables = [v for a in agents for v in a.variables]
    lo = np.array([v.lb if v.lb is not None else np.nan for v in variables], float)
    hi = np.array([v.ub if v.ub is not None else np.nan for v in variables], float)
    if np.isnan(lo).any() or np.isnan(hi).any():
        raise ModelError("method='pso' searches a box: every player variable needs finite bounds")
    sizes = np.cumsum([0] + [len(a.variables) for a in agents])

    def regret(x: np.ndarray) -> tuple[float, float]:
        for k, agent in enumerate(agents):
            _set(agent, x[sizes[k]:sizes[k + 1]])
        violation = 0.0
        for agent in agents:
            for con in list(agent.constraints) + agent.shared:
                body = pyo.value(con.body)
                if con.has_lb():
                    violation = max(violation, pyo.value(con.lower) - body)
                if con.has_ub():
                    violation = max(violation, body - pyo.value(con.upper))
        if violation > 1e-9:
            # outside the constraints the players' problems may have no answer at all (a shared limit the
            # others already exceed): the swarm ranks infeasible particles by their violation alone
            return 0.0, violation
        try:
            gains = br.gaps()
        except ModelError:      # a player without a best response here: the worst regret, not a traceback
            return REGRET_NO_RESPONSE, violation
        return float(sum(max(g, 0.0) for g in gains.values())), violation

    class RegretProblem(ElementwiseProblem):
        def __init__(self) -> None:
            super().__init__(n_var=len(variables), n_obj=1, n_ieq_constr=1, xl=lo, xu=hi)

        def _evaluate(self, x: np.ndarray, out: dict, *args: Any, **kwargs: Any) -> None:
            f, g = regret(x)
            out["F"], out["G"] = f, g - 1e-9

    history: list[float] = []
    from pymoo.core.callback import Callback

    class _History(Callback):
        def notify(self, algorithm: Any) -> None:
            history.append(float(algorithm.opt.get("F").min()))

    start = time.perf_counter()
    from gridgames.solvers.games.nested import stall_termination

    res = minimize(RegretProblem(), algorithm or PSO(pop_size=pop_size), stall_termination(n_gen), seed=seed,
                   callback=_History(), verbose=False)
    if res.X is None:
        message = (f"PSO found no point satisfying the players' constraints in {n_gen} generations (not a "
                   "proof of infeasibility: equality constraints are hard for PSO; try 'mcp' or 'kkt')")
        return SolveResult(SolveStatus.ITERATION_LIMIT, None, time.perf_counter() - start, n_gen, "pso",
                           message), history
    regret(np.atleast_1d(res.X))
    ran = len(history)   # generations run (pymoo's n_gen counts the next one)
    return SolveResult(SolveStatus.FEASIBLE, float(np.atleast_1d(res.F)[0]), time.perf_counter() - start,
                       ran, "pso", f"pymoo PSO, {ran} generations (a heuristic: optimality not "
                                   "certified)"), history


_OPTIONS: dict[str, set[str]] = {
    "gauss-seidel": {"tol", "max_iter", "damping", "batch", "newton", "gap_stop", "solver_options"},
    "jacobi": {"tol", "max_iter", "damping", "adaptive", "batch", "newton", "gap_stop", "solver_options"},
    "kkt": {"variational", "eps_start", "eps_final", "eps_factor", "bigm", "multiplier_bound",
            "solver_options"},
    "pso": {"pop_size", "n_gen", "seed", "algorithm", "solver_options"},
    "mcp": {"tol", "max_iter", "verify", "gap_tol", "fallback", "solver_options"},
    "epec": {"followers", "tol", "max_iter", "bilevel_method", "check_method", "bilevel_options", "epec_method",
             "joint_options"},
}


def solve_nash(model: pyo.Block, players: BlockData | Iterable[BlockData], method: str = "gauss-seidel",
               solver: str | None = None, *, gap_tol: float = GAP_TOL, on_error: str = "return",
               **options: Any) -> NashResult:
    """Find a Nash equilibrium of a game declared as one Pyomo block per player.

    Parameters
    ----------
    model : Block
        The game.  Variables' current values are the starting point.
    players : Block or iterable of Blocks
        One block per player (an indexed Block counts as one player per index).
    method : {'gauss-seidel', 'jacobi', 'kkt', 'pso', 'mcp', 'epec'}
        See the module docstring for the equilibrium concept each returns.
    solver : str, optional
        Best-response solver (iterations, ``pso``, and the gap check) or the
        ``kkt`` system's solver (``ipopt`` default, ``scip`` for a global check).
    **options
        ``tol`` (1e-8), ``max_iter`` (500), ``damping`` (1.0 = plain best
        response; ``x ← (1−ω)x + ω·BR``) for the iterations; ``adaptive``
        (Jacobi, default True: halve ω when the iterates oscillate); ``batch`` (iterations:
        join all players' best responses at one profile into one solve, Jacobi steps and
        the final gap; see :func:`nash_gap`); ``newton`` (iterations: best responses by
        Newton on each player's compiled KKT system, see :func:`nash_gap`; default
        automatic: the Ipopt and convex-QP players of an aggregative game); ``gap_stop``
        (iterations, default False: also stop when every player's gain from its best
        response in a sweep is at most ``gap_tol · max(1, |its objective|)``); ``variational``,
        ``eps_*``, ``bigm``, ``multiplier_bound`` for ``kkt``; ``pop_size``,
        ``n_gen``, ``seed``, ``algorithm`` for ``pso``; ``tol``, ``max_iter``,
        ``verify``, ``gap_tol``, ``fallback`` for ``mcp``
        (:func:`~gridgames.solvers.games.nash_mcp.solve_nash_mcp`); ``followers``
        (required), ``tol``, ``max_iter``, ``bilevel_method``, ``check_method``,
        ``bilevel_options``, ``epec_method`` (``diagonalisation`` or ``joint``),
        ``joint_options`` for ``epec`` (players are leaders,
        :func:`~gridgames.solvers.games.epec.solve_epec`); ``solver_options``.
    gap_tol : float
        A player that gains more than ``gap_tol · max(1, |its objective|)`` (default
        1e-5) by deviating makes the status ``not_equilibrium``, with a message
        naming it and its gain.
    on_error : {'return', 'raise'}
        ``raise``: any status that is not a success raises
        :class:`~gridgames.solvers.errors.SolveFailedError`.

    Returns
    -------
    NashResult
        Values loaded into the model; ``gap`` from :func:`nash_gap`.  ``pso``
        reports ``feasible`` at best (a heuristic).
    """
    players = _as_blocks(players)
    followers = options.get("followers") if method == "epec" else None
    # (a bad method or option, or an EPEC without followers, gets its own error below first)
    if method in NASH_METHODS and set(options) <= _OPTIONS[method] and (method != "epec" or followers is not None):
        refuse_stray_objectives(model, players + (_as_blocks(followers) if followers is not None else []))
    with finite_data_named(model):   # a Param without a value deep in a solver's set-up: named, not a ValueError
        return solve_nash_within(model, players, method, solver, gap_tol=gap_tol, on_error=on_error, **options)


def solve_nash_within(model: pyo.Block, players: BlockData | Iterable[BlockData], method: str = "gauss-seidel",
                      solver: str | None = None, *, gap_tol: float = GAP_TOL, on_error: str = "return",
                      **options: Any) -> NashResult:
    """:func:`solve_nash` for a game inside a larger model, e.g. a bilevel model's lower level.

    Active objectives outside the players (the leader's) are left alone instead of
    refused; everything else is as :func:`solve_nash`.
    """
    if method not in NASH_METHODS:
        raise ModelError(f"unknown Nash method {method!r}; choose one of {', '.join(NASH_METHODS)}")
    check_on_error(on_error)
    check_options(method, options, _OPTIONS[method], ("solver", "gap_tol", "on_error"))
    check_tolerances(gap_tol, options)
    if method == "mcp":  # assembles its own structure in linear time (players_of walks every expression)
        from gridgames.solvers.games.nash_mcp import solve_nash_mcp
        return finish(record_values(solve_nash_mcp(model, players, solver, gap_tol=gap_tol, **options), model,
                                    players=players), on_error)
    if method == "epec":  # players are leaders sharing follower blocks
        from gridgames.solvers.games.epec import solve_epec
        if options.get("followers") is None:
            raise ModelError("method 'epec' needs followers=: the follower block(s) every leader anticipates")
        epec_method = options.pop("epec_method", "diagonalisation")
        return finish(record_values(solve_epec(model, players, method=epec_method, gap_tol=gap_tol, **options),
                                    model, players=players, followers=options["followers"]), on_error)
    start = time.perf_counter()
    agents = players_of(model, players)
    integer = integer_variable((a.name, a.variables) for a in agents)
    if integer is not None and method in ("kkt", "pso"):
        refuse_integer(method, integer)
    _initial_values(agents)
    timings = {"analyse": time.perf_counter() - start}
    solver_options = options.get("solver_options")
    br_solver = None if method == "kkt" else solver
    batch = options.get("batch")
    if batch not in (None, True, False):
        raise ModelError(f"batch must be True, False or None (automatic), got {batch!r}")
    history: list[float] = []
    if method in ("gauss-seidel", "jacobi"):
        damping = float(options.get("damping", 1.0))   # (its range checked with the other options)
        adaptive = method == "jacobi" and bool(options.get("adaptive", integer is None))
        if integer is not None and (damping < 1.0 or adaptive):
            what = f"damping={damping:g}" if damping < 1.0 else "adaptive=True"
            raise ModelError(f"{what} averages strategies, which the integer variable '{integer[1].name}' of "
                             f"player '{integer[0]}' cannot take: use damping=1 (and adaptive=False)")
        t0 = time.perf_counter()
        # Newton best responses by default for both (1,000 uncapacitated buyers from the start, 2026-12-06:
        # a Jacobi step 3.2 s by Newton against 5.8 s by one joint Ipopt solve; RESULTS.md)
        newton = options.get("newton")
        br = BestResponses(agents, br_solver, solver_options, model, batch, newton)
        br.compile()
        timings["setup"] = time.perf_counter() - t0
        restarts: list[str] = []
        while True:
            status, iterations, steps, message = best_response_iteration(
                agents, br, jacobi=method == "jacobi", tol=float(options.get("tol", 1e-8)),
                max_iter=int(options.get("max_iter", 500)), damping=damping,
                adaptive=adaptive,
                gap_stop=gap_tol if options.get("gap_stop", False) else None, stall_gap=gap_tol)
            history += steps
            if (len(restarts) >= GLOBAL_RESTARTS or not br.global_players
                    or status not in (SolveStatus.OPTIMAL, SolveStatus.ITERATION_LIMIT)):
                break
            # a nonconvex player's local best responses settled where SCIP finds a better one: move it there
            moves = br.global_moves(gap_tol)
            if not moves:
                break
            for i, x in moves.items():
                br.move(i, x)
            restarts.append(", ".join(f"'{agents[i].name}'" for i in moves))
        if restarts:
            message += "; restarted from SCIP's global best response of " + "; then ".join(restarts)
        timings["iterate"] = time.perf_counter() - t0 - timings["setup"]
        base = SolveResult(status, None, 0.0, iterations, br.solvers[0].solver_name, message)
    elif method == "kkt":
        check_finite(model)   # NaN data named here, not as a row of the reformulation
        base = solve_nash_kkt(model, agents, solver, variational=bool(options.get("variational", False)),
                              eps_start=options.get("eps_start", 1e-2), eps_final=options.get("eps_final", 1e-10),
                              eps_factor=options.get("eps_factor", 1e-4), bigm=options.get("bigm"),
                              multiplier_bound=options.get("multiplier_bound"), solver_options=solver_options)
        br = BestResponses(agents, None, None, model, batch, newton=False)
        if base.status in (SolveStatus.INFEASIBLE, SolveStatus.ERROR, SolveStatus.UNBOUNDED):
            base.message += unsolved_followers(agents, role="player")   # which player has no optimum alone
    else:
        check_finite(model)     # the swarm reads bounds and rows directly: NaN data named here
        br = BestResponses(agents, br_solver, solver_options, model, batch, newton=False)
        base, history = _solve_pso(agents, br, pop_size=options.get("pop_size", 40),
                                   n_gen=options.get("n_gen", 100), seed=options.get("seed", 1),
                                   algorithm=options.get("algorithm"))
    result = NashResult(**{**base.__dict__}, method=method, history=history)
    if base.status.is_ok or base.status is SolveStatus.ITERATION_LIMIT:
        t0 = time.perf_counter()
        try:
            gaps, infeasible, note = profile_gaps(agents, br)
            result.message += f"; {note}" if note else ""
        except ModelError as exc:
            # e.g. a payoff undefined at the profile (0/0 at a bound): a status, not a traceback
            gaps = None
            result.status = SolveStatus.ERROR
            other = "" if method == "kkt" else ", or use method='mcp' or 'kkt'"
            result.message += (f"; the Nash gap at the returned profile could not be computed: {exc} (is a "
                               f"payoff undefined there, e.g. 0/0 at a bound? start inside the box{other})")
            result.objective = _objective_sum(agents)
        timings["verify"] = time.perf_counter() - t0
    else:
        gaps = None
    if gaps is not None:
        result.player_objectives = {a.name: br.values[a.name] if a.name in br.values else a.value() for a in agents}
        result.objective = sum(result.player_objectives.values())
        # tolerances scale with each objective without its constant (a constant changes no decision)
        part = OwnFreePart()
        scale = {a.name: result.player_objectives[a.name] - a.objective_constant(part) for a in agents}
        result.player_gaps = gaps       # inf for a player outside its own feasible set (profile_gaps)
        result.gap = max(gaps.values())
        judge_feasibility(result, {n: (v, gaps[n], scale[n], False) for n, v in infeasible.items()},
                          gap_tol=gap_tol, feas_tol=FEAS_TOL, failed=SolveStatus.NOT_EQUILIBRIUM, role="player")
        judge(result, {n: (g, scale[n]) for n, g in gaps.items()}, gap_tol=gap_tol,
              failed=SolveStatus.NOT_EQUILIBRIUM, role="player")
        if (result.status is base.status   # (not when a check above already downgraded it)
                and ((base.status is SolveStatus.ITERATION_LIMIT and method in ("gauss-seidel", "jacobi"))
                     or (base.status is SolveStatus.LOCALLY_OPTIMAL and method == "kkt"))
                and all(g <= gap_limit(scale[n], gap_tol) for n, g in gaps.items())):
            # the iterates kept moving (e.g. along a set of generalized equilibria), or the KKT solver is a
            # local one, but the certificate holds: every player's best response re-solved alone
            result.status = SolveStatus.OPTIMAL
            result.message += (f"; {'yet ' if method != 'kkt' else ''}no player gains more than gap_tol x "
                               f"max(1, |its objective|) at the {'last' if method != 'kkt' else 'returned'} "
                               f"profile (largest gain {result.gap:.2e}): an equilibrium")
    if gaps is not None:
        judge_runaway(result, runaway_suspects(agents, lambda i: br.solvers[i].nonlinear),
                      failed=SolveStatus.NOT_EQUILIBRIUM, role="player")
    if br.global_players:
        result.message += ("; gains re-checked by SCIP (global) for player(s) whose problem looked nonconvex: "
                           + "; ".join(f"'{n}' ({why})" for n, why in list(br.global_players.items())[:3]))
    if result.status is SolveStatus.OPTIMAL:
        result.extra["checked_locally"] = br.local_only()   # a caller with its own global check may lift the cap
        judge_local(result, result.extra["checked_locally"], role="player")
    if br.uncertified and result.status is SolveStatus.OPTIMAL:
        result.status = SolveStatus.LOCALLY_OPTIMAL
        result.message += (f"; SCIP stopped at its time limit for {', '.join(repr(n) for n in br.uncertified[:3])}: "
                           "their gains are lower bounds, a better response far away is not excluded")
    loose = br.loose_mip_gap()
    if loose and result.status.is_optimal:
        result.status = SolveStatus.FEASIBLE
        result.message += (f"; the best responses of {', '.join(repr(n) for n in loose[:3])} stop at a MIP gap "
                           "looser than the gap tolerance (the mip_gap you gave, or a solver's own default that "
                           "gridgames cannot set): their gains are not certified")
    result.best_response_solves = br.solves
    result.extra["best_responses"] = br.report()
    if br.fallbacks:
        result.message += (f"; {len(br.fallbacks)} best response(s) re-solved alone after a joint solve: "
                           + "; ".join(br.fallbacks[:3]))
    result.solve_time = time.perf_counter() - start
    #: of which the backends' translations (per-player and joint models, all phases)
    result.extra["timings"] = {**timings, "translate": br.translation_time, "total": result.solve_time}
    record_values(result, model, players=players)
    return finish(result, on_error)
