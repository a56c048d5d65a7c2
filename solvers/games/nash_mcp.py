"""``solve_nash(method="mcp")``: the stacked KKT system solved by semismooth Newton.

The game's KKT conditions are assembled numerically
(:class:`~gridgames.solvers.games.stacked_kkt.StackedKKT`) and solved by
:func:`~gridgames.solvers.games.mcp.solve_mcp`.  Shared-constraint
multipliers are tied, so the answer is the **variational equilibrium** of a
generalized Nash game (a Nash equilibrium when there are no shared
constraints).  A KKT point is an equilibrium when every player's problem is
convex in its own variables; ``verify=True`` (the default) checks it with
:func:`~gridgames.solvers.games.nash.nash_gap` (every player re-solved alone),
which costs one solve per player and is the slow part on large games.

When Newton fails (line search stalls, iteration limit) the game goes to the
Scholtes–Ipopt path of ``method="kkt"`` with ``variational=True`` and the
result's message says so.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.block import BlockData

from gridgames.solvers.errors import GridGamesError, ModelError
from gridgames.solvers.games.agent_solve import runaway_suspects
from gridgames.solvers.games.mcp import solve_mcp
from gridgames.solvers.games.multipliers import estimate_multipliers
from gridgames.solvers.games.results import NashResult
from gridgames.solvers.games.status import gap_limit, judge_local, judge_runaway
from gridgames.solvers.games.stacked_kkt import StackedKKT
from gridgames.solvers.games.structure import OwnFreePart
from gridgames.solvers.result import SolveStatus
from gridgames.solvers.validate import check_finite

log = logging.getLogger(__name__)

#: options ``solve_nash(method="mcp")`` accepts
MCP_OPTIONS = {"tol", "max_iter", "verify", "gap_tol", "fallback", "solver_options"}


def _status(gaps: dict[str, float], values: dict[str, float], gap_tol: float) -> tuple[SolveStatus, str]:
    """Verdict from each player's gap, against ``gap_tol · max(1, |its objective|)`` (empty gaps: not verified)."""
    if not gaps:
        return SolveStatus.LOCALLY_OPTIMAL, ("KKT point of every player (an equilibrium when the players' "
                                             "problems are convex); not verified (verify=False)")
    limits = {name: gap_limit(values.get(name, float("nan")), gap_tol) for name in gaps}
    bad = [name for name, gap in gaps.items() if not gap <= limits[name]]
    if not bad:
        return SolveStatus.OPTIMAL, (f"verified: no player gains more than {gap_tol:.0e} x max(1, |its objective|) "
                                     f"by deviating (largest gain {max(gaps.values()):.2e})")
    worst = max(bad, key=lambda n: gaps[n] / limits[n] if np.isfinite(gaps[n]) else np.inf)
    more = f" ({len(bad) - 1} more players)" if len(bad) > 1 else ""
    return SolveStatus.NOT_EQUILIBRIUM, (f"KKT point is not an equilibrium: player '{worst}' gains {gaps[worst]:.3e} "
                                         f"> {limits[worst]:.1e} (gap_tol x max(1, |its objective|)) by deviating"
                                         f"{more} (a player's problem is not convex in its own variables?)")


#: a start where the KKT system is undefined moves this far into the box (relative, as Ipopt's bound_push)
BOUND_PUSH = 1e-2


def defined_start(system: StackedKKT) -> np.ndarray:
    """The system's start; where its KKT conditions are undefined there (e.g. ``q**-0.9`` at ``q = 0``),
    the players' variables at a bound are first moved into the box by :data:`BOUND_PUSH` (relative).

    Raises
    ------
    ModelError
        Still undefined after the move, naming the first player whose conditions are.
    """
    z = system.start()
    with np.errstate(all="ignore"):
        if np.all(np.isfinite(system.F(z))):
            return z
        n_y = system.n_y
        lb, ub = system.lb[:n_y], system.ub[:n_y]
        push = np.minimum(BOUND_PUSH * np.maximum(1.0, np.abs(z[:n_y])), 0.5 * (ub - lb))
        y = np.clip(z[:n_y], lb + push, ub - push)
        for k, v in enumerate(system.columns):
            if system.col_owner[k] >= 0 and y[k] != z[k]:
                v.set_value(float(y[k]), skip_validation=True)
        z = system.start()
        f = system.F(z)
    if np.all(np.isfinite(f)):
        log.info("mcp: the KKT conditions are undefined at the start; variables at a bound moved into the box")
        return z
    check_finite(system.game.blocks[0].model())    # NaN data: named by the component that holds it
    bad = np.flatnonzero(~np.isfinite(f))
    owners = [int(system.col_owner[k]) for k in bad if k < system.n_y and system.col_owner[k] >= 0]
    who = f"player '{system.game.names[owners[0]]}'" if owners else "a constraint row"
    raise ModelError(f"method 'mcp': the KKT conditions of {who} are undefined at the start, even with the "
                     "variables moved off their bounds: set initial values where every objective and constraint "
                     "is defined")


def solve_nash_mcp(model: pyo.Block, players: BlockData | Iterable[BlockData], solver: str | None = None, *,
                   tol: float = 1e-9, max_iter: int = 100, verify: bool = True, gap_tol: float = 1e-6,
                   fallback: bool = True, solver_options: dict | None = None) -> NashResult:
    """Variational equilibrium by Newton on the stacked KKT system.

    Parameters
    ----------
    model : Block
        The game; current variable values are the starting point.
    players : Block or iterable of Blocks
    solver : str, optional
        Best-response solver of the verification and of the fallback's gap check.
    tol : float
        Complementarity residual ``‖Φ‖∞`` to reach.
    max_iter : int
        Newton iterations.
    verify : bool
        Re-solve every player alone at the answer (:func:`nash_gap`); the
        result's ``gap`` stays NaN when False.
    gap_tol : float
        Largest gain accepted as an equilibrium, per player: player i may gain at most
        ``gap_tol · max(1, |f_i|)`` (its objective at the answer), the rule of
        :func:`~gridgames.solvers.games.status.judge` used by every other method.
    fallback : bool
        Run the Scholtes–Ipopt ``kkt`` method when Newton fails.
    solver_options : dict, optional
        Options of the fallback's Ipopt solves.

    Returns
    -------
    NashResult
        ``extra["timings"]`` (seconds: analyse, lift, compile, assemble, solve,
        verify), ``extra["residual"]``, ``extra["shared_multipliers"]``
        (one per shared constraint side), ``extra["mcp_size"]``.

    Examples
    --------
    >>> import pyomo.environ as pyo, gridgames as gg
    >>> m = pyo.ConcreteModel()
    >>> m.F = pyo.Block(range(2))
    >>> for i in range(2):
    ...     m.F[i].q = pyo.Var(bounds=(0, 100))
    >>> m.Q = pyo.Expression(expr=m.F[0].q + m.F[1].q)
    >>> for i in range(2):
    ...     m.F[i].profit = pyo.Objective(expr=(90 - m.Q) * m.F[i].q, sense=pyo.maximize)
    >>> res = gg.solve_nash(m, m.F, method="mcp")
    >>> round(pyo.value(m.F[0].q), 8), str(res.status)
    (30.0, 'optimal')
    """
    start = time.perf_counter()
    try:
        system = StackedKKT(model, players)
    except ValueError:
        check_finite(model)     # Pyomo's error on a NaN bound or right-hand side: named by the component
        raise
    timings = dict(system.timings)
    start_z = defined_start(system)
    mcp = solve_mcp(system.F, system.J, system.lb, system.ub, start_z, tol=tol, max_iter=max_iter)
    retried = False
    if not mcp.ok and start_z.size > system.n_y:
        # the start's primal values with multipliers estimated by an LP instead of zero (a good primal
        # point with zero multipliers can keep Newton from converging: multipliers.py)
        again = solve_mcp(system.F, system.J, system.lb, system.ub, estimate_multipliers(system, start_z),
                          tol=tol, max_iter=max_iter)
        again.time += mcp.time
        retried, mcp = True, (again if again.ok or again.residual < mcp.residual else mcp)
    timings["solve"] = mcp.time
    # a failed Newton run may end outside the box (the reformulation does not keep iterates in it)
    system.load(mcp.x if mcp.ok else np.clip(mcp.x, system.lb, system.ub))
    extra: dict[str, Any] = {"timings": timings, "residual": mcp.residual,
                             "mcp_size": int(mcp.x.size), "newton_steps": mcp.newton_steps,
                             "gradient_steps": mcp.gradient_steps}
    message = f"semismooth Newton: {mcp.message}" + ("; retried from estimated multipliers" if retried else "")
    method_solver = "newton"
    if mcp.ok:
        extra["shared_multipliers"] = system.shared_multipliers(mcp.x)
    elif fallback:
        from gridgames.solvers.games.nash import solve_nash_within
        log.info("Newton on the stacked KKT system failed (%s); falling back to kkt (Scholtes-Ipopt)", mcp.message)
        t0 = time.perf_counter()
        try:
            back = solve_nash_within(model, players, method="kkt", solver=None, variational=True,
                              solver_options=solver_options)
        except GridGamesError as exc:
            back = None
            message += f"; fallback kkt (Scholtes-Ipopt) refused the game: {exc}"
        timings["fallback"] = time.perf_counter() - t0
        if back is not None:
            back.message = f"{message}; fell back to kkt (Scholtes-Ipopt): {back.message}"
            back.method = "mcp"
            back.extra.update(extra)
            back.solve_time = time.perf_counter() - start
            return back
    gaps: dict[str, float] = {}
    if mcp.ok and verify:
        from gridgames.solvers.games.nash import checked_gaps
        t0 = time.perf_counter()
        gaps, responses = checked_gaps(model, players, solver=solver)
        timings["verify"] = time.perf_counter() - t0
    gap = max(gaps.values()) if gaps else None
    values = system.player_values(mcp.x)
    # tolerances scale with each objective without its constant (a constant changes no decision)
    part = OwnFreePart()
    scale = {b.name: values[b.name] - part(o.expr, {id(v) for v in vs})
             for b, o, vs in zip(system.game.blocks, system.game.objectives, system.game.variables)} if gaps else values
    status, verdict = _status(gaps, scale, gap_tol) if mcp.ok else (mcp.status, "")
    result = NashResult(status=status, objective=float(sum(values.values())), solve_time=0.0,
                        iterations=mcp.iterations, solver=method_solver,
                        message=f"{message}; {verdict}" if verdict else message, extra=extra, method="mcp",
                        gap=float(gap) if gap is not None else float("nan"), player_gaps=gaps,
                        player_objectives=values, history=list(mcp.history))
    if result.status is SolveStatus.OPTIMAL and gaps:
        result.extra["checked_locally"] = responses.local_only()   # see solve_nash
        judge_local(result, result.extra["checked_locally"], role="player")
    if gaps:   # (the nonlinear players' unconstrained variables: see solve_nash)
        judge_runaway(result, runaway_suspects(responses.agents, lambda i: responses.solvers[i].nonlinear),
                      failed=SolveStatus.NOT_EQUILIBRIUM, role="player")
    result.best_response_solves = len(gaps)
    result.extra["gap_tol"] = gap_tol      # the summary's tolerance column, as judge() records it
    result.solve_time = time.perf_counter() - start
    timings["total"] = result.solve_time
    return result

