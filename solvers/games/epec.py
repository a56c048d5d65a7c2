"""Multi-leader games (EPEC): Nash equilibria between leaders who each anticipate the same followers.

Each **leader** is a Pyomo block with its own variables, constraints and one
active objective; the **followers** are blocks of the ordinary bilevel
convention (:func:`~gridgames.solvers.games.bilevel.solve_bilevel`), whose
problems may use every leader's variables and each other's (the followers
then play a Nash game at the lower level, stated by their stacked KKT
conditions in ``kkt``).  Each leader's problem, with the
other leaders' decisions fixed, is an MPEC: a bilevel problem over the
followers.  An equilibrium of the leaders' game (an EPEC solution) is a
profile where no leader gains by changing its decision alone, the followers
re-optimising.

Diagonalisation (Gauss–Seidel over leaders): each leader's MPEC is solved in
turn by ``solve_bilevel`` (``kkt``: Scholtes–Ipopt, local) with the others'
decisions fixed, until a whole sweep changes no decision by more than
``tol``.  The iteration need not converge: when the profile returns to one
seen ``L`` sweeps before, :func:`solve_epec` stops and reports a **cycle** of
length L with the leaders' gains along it, and returns the best approximate
equilibrium seen (the profile whose largest leader gain is smallest).

Leaders' Nash gap: at the returned profile every leader's MPEC is re-solved
alone (``check_method``, ``kkt-bigm`` by default: global, MILP/MINLP with
big-M complementarity) and its gain over its current value is reported.
When the check is local (``kkt``, or ``kkt-bigm`` refused the followers, e.g.
nonlinear ones) a passed check gives ``locally_optimal``, not ``optimal``:
no leader gains by a deviation the local re-solve finds (``extra["gap_check"]``).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.block import BlockData

from gridgames.solvers.errors import GridGamesError, ModelError
from gridgames.solvers.games.bilevel import BILEVEL_METHODS, solve_bilevel, verify_followers
from gridgames.solvers.games.epec_joint import EPS_FINAL, solve_joint
from gridgames.solvers.games.results import NashResult
from gridgames.solvers.games.game_parts import block_parts
from gridgames.solvers.games.status import judge
from gridgames.solvers.games.structure import (Agent, FixedVariables, OwnFreePart, _as_blocks, analyse_agents,
                                             inside_any)
from gridgames.solvers.result import SolveStatus
from gridgames.solvers.validate import check_finite

log = logging.getLogger(__name__)

#: ways to find the leaders' equilibrium
EPEC_METHODS = ("diagonalisation", "joint")
#: gap-check methods that solve each leader's bilevel problem globally (others certify a local equilibrium)
GLOBAL_CHECKS = ("kkt-bigm", "kkt-sos1", "strong-duality")
#: seconds each leader's global re-solve in the gap check may take (the solvers' common ``time_limit``)
#: unless the caller's ``solver_options`` say otherwise
CHECK_TIME_LIMIT = 60.0


@dataclass(repr=False)
class EPECResult(NashResult):
    """Outcome of :func:`solve_epec` (``gap``: the leaders' largest gain at the returned profile).

    Attributes
    ----------
    cycle_length : int
        Sweeps in the cycle diagonalisation fell into (0: no cycle).
    cycle_gains : list of dict
        Each leader's gain from its re-solve at each sweep of the cycle.
    sweep_gains : list of dict
        Each leader's gain from its re-solve, per sweep.
    profiles : list of ndarray
        The leaders' decisions after each sweep.
    """

    cycle_length: int = 0
    cycle_gains: list[dict[str, float]] = field(default_factory=list)
    sweep_gains: list[dict[str, float]] = field(default_factory=list)
    profiles: list[np.ndarray] = field(default_factory=list)


def _leaders(leaders: BlockData | Iterable[BlockData], followers: list[BlockData]) -> list[Agent]:
    f_ids = {id(f) for f in followers}
    out = []
    for block in _as_blocks(leaders):
        if inside_any(block, f_ids) or id(block) in f_ids:
            raise ModelError(f"leader block '{block.name}' is also (inside) a follower block")
        objective, own, cons = block_parts(block, "leader", f_ids)
        out.append(Agent(block, own, objective, cons))
    return out


class _Deactivated:
    """Context manager: deactivate components, re-activate them on exit."""

    def __init__(self, components: Sequence[Any]) -> None:
        self.components = [c for c in components if c.active]

    def __enter__(self) -> "_Deactivated":
        for c in self.components:
            c.deactivate()
        return self

    def __exit__(self, *exc: object) -> None:
        for c in self.components:
            c.activate()


def _mpec(model: pyo.Block, leaders: list[Agent], k: int, followers: list[BlockData], method: str,
          options: dict) -> Any:
    """Leader k's bilevel problem with the other leaders fixed (values loaded)."""
    others = [leaders[j] for j in range(len(leaders)) if j != k]
    with FixedVariables([v for o in others for v in o.variables]), \
            _Deactivated([o.objective for o in others] + [c for o in others for c in o.constraints]):
        return solve_bilevel(model, followers, method=method, verify=False, **options)


def _values(agent: Agent) -> np.ndarray:
    return np.array(agent.snapshot(), dtype=float)


def _follower_vars(followers: list[BlockData]) -> list:
    return [v for f in followers for v in f.component_data_objects(pyo.Var, descend_into=True) if not v.fixed]


def _set(variables: Sequence[Any], values: Sequence[float | None]) -> None:
    for v, x in zip(variables, values):
        v.set_value(x, skip_validation=True)


def leader_gains(model: pyo.Block, leaders: list[Agent], followers: list[BlockData], method: str,
                 options: dict, unproven: list[str] | None = None) -> dict[str, float]:
    """Each leader's gain from re-solving its MPEC alone at the current profile (point restored).

    The followers must be at their response to the current profile.  ``unproven``
    collects the leaders whose re-solve ended without a proof (e.g. SCIP at its
    time limit: the gain is then a lower bound).
    """
    fvars = _follower_vars(followers)
    gains = {}
    for k, leader in enumerate(leaders):
        current = float(pyo.value(leader.objective.expr))
        saved, fsaved = _values(leader), [v.value for v in fvars]
        res = _mpec(model, leaders, k, followers, method, options)
        if not res.ok:
            raise ModelError(f"leader '{leader.name}': its bilevel problem failed in the gap check "
                             f"({res.status}: {res.message})")
        if unproven is not None and res.status is not SolveStatus.OPTIMAL:
            unproven.append(leader.name)
        best = float(pyo.value(leader.objective.expr))
        gains[leader.name] = (current - best) * leader.sense
        _set(leader.variables, saved)
        _set(fvars, fsaved)
    return gains


def _cycle(profiles: list[np.ndarray], tol: float) -> int:
    """Length L of a cycle ending at the last profile (0 when it repeats no earlier one)."""
    last = profiles[-1]
    for length in range(2, len(profiles)):
        if np.max(np.abs(profiles[-1 - length] - last) / (1.0 + np.abs(last))) <= tol:
            return length
    return 0


def solve_epec(model: pyo.Block, leaders: BlockData | Iterable[BlockData],
               followers: BlockData | Iterable[BlockData], *, max_iter: int = 50, tol: float = 1e-7,
               bilevel_method: str = "kkt", check_method: str | None = "kkt-bigm",
               bilevel_options: dict | None = None, method: str = "diagonalisation",
               joint_options: dict | None = None, gap_tol: float = 1e-6,
               first_sweep_options: dict | None = None) -> EPECResult:
    """Equilibrium between leaders sharing followers (see the module docstring).

    Parameters
    ----------
    model : Block
        The game; current values are the starting profile.
    leaders : Block or iterable of Blocks
        One block per leader (its objective, variables and constraints).
    followers : Block or iterable of Blocks
        The followers every leader anticipates (bilevel convention).
    max_iter : int
        Sweeps over the leaders.
    tol : float
        Largest relative change of a leader decision in a sweep at convergence;
        also the tolerance for recognising a repeated profile (a cycle).
    bilevel_method : str
        ``solve_bilevel`` method for each leader's MPEC in the sweeps (``kkt``).
    check_method : str or None
        Method of the final gap check (``kkt-bigm``: global where big-M bounds can
        be derived; falls back to ``bilevel_method`` when it refuses the problem);
        None skips the check.
    bilevel_options : dict, optional
        Options passed to every ``solve_bilevel`` call.
    first_sweep_options : dict, optional
        Options added to ``bilevel_options`` in the first sweep only (diagonalisation),
        e.g. ``{"scan": 12}`` for ``implicit``: a look over each leader's box from the
        cold start, the later sweeps being warm-started from the previous one.
    method : {'diagonalisation', 'joint'}
        ``joint``: every leader's regularised MPEC conditions stacked and solved
        at once (:mod:`~gridgames.solvers.games.epec_joint`); ``max_iter`` and
        ``bilevel_method`` then only matter for the gap check's fallback.
    gap_tol : float
        A leader gaining more than ``gap_tol·max(1, |its objective|)`` in the
        check turns ``optimal`` into ``not_equilibrium``.
    joint_options : dict, optional
        ``eps_start``, ``eps_final``, ``eps_factor``, ``solver``, ``solver_options``
        of :func:`~gridgames.solvers.games.epec_joint.solve_joint`.

    Returns
    -------
    EPECResult
        ``status`` optimal (converged, global check passed or skipped), locally_optimal
        (converged, local check passed), not_equilibrium
        (converged, but a leader gains more than ``gap_tol``), iteration_limit,
        or error (a cycle: ``cycle_length``, ``cycle_gains``; the best approximate
        equilibrium seen is loaded).
    """
    start = time.perf_counter()
    if method not in EPEC_METHODS:
        raise ModelError(f"EPEC method must be one of {', '.join(EPEC_METHODS)}, got {method!r}")
    if joint_options and method != "joint":
        raise ModelError("joint_options apply to method='joint' only")
    if first_sweep_options and method != "diagonalisation":
        raise ModelError("first_sweep_options apply to method='diagonalisation' only")
    if bilevel_method not in BILEVEL_METHODS:
        raise ModelError(f"bilevel_method must be one of {', '.join(BILEVEL_METHODS)}, got {bilevel_method!r}")
    if check_method is not None and check_method not in BILEVEL_METHODS:
        raise ModelError(f"check_method must be one of {', '.join(BILEVEL_METHODS)} (or None: no gap check), "
                         f"got {check_method!r}")
    if bilevel_options is not None and not isinstance(bilevel_options, Mapping):
        raise ModelError(f"bilevel_options must be a dict of solve_bilevel options, got "
                         f"{type(bilevel_options).__name__} {bilevel_options!r:.60}")
    fblocks = _as_blocks(followers)
    lead = _leaders(leaders, fblocks)
    options = dict(bilevel_options or {})
    if method == "joint":
        result = _joint(model, lead, fblocks, joint_options or {})
        return _finish(result, model, lead, fblocks, check_method if result.ok else None, bilevel_method,
                       options, start, gap_tol)
    fvars = _follower_vars(fblocks)
    profiles: list[np.ndarray] = []
    points: list[tuple[list[np.ndarray], list]] = []
    sweep_gains: list[dict[str, float]] = []
    history: list[float] = []
    status, message, cycle = SolveStatus.ITERATION_LIMIT, f"no convergence in {max_iter} sweeps", 0
    for it in range(1, max_iter + 1):
        before = np.concatenate([_values(l) for l in lead])
        gains = {}
        for k, leader in enumerate(lead):
            current = float(pyo.value(leader.objective.expr)) if it > 1 else float("nan")
            sweep_options = {**options, **(first_sweep_options or {})} if it == 1 else options
            res = _mpec(model, lead, k, fblocks, bilevel_method, sweep_options)
            if not res.ok:
                status, message = SolveStatus.ERROR, (f"leader '{leader.name}': its bilevel problem failed in "
                                                      f"sweep {it} ({res.status}: {res.message})")
                break
            gains[leader.name] = (current - float(pyo.value(leader.objective.expr))) * leader.sense
        else:
            profile = np.concatenate([_values(l) for l in lead])
            change = float(np.max(np.abs(profile - before) / (1.0 + np.abs(before))))
            profiles.append(profile)
            points.append(([_values(l) for l in lead], [v.value for v in fvars]))
            sweep_gains.append(gains)
            history.append(change)
            log.debug("EPEC sweep %d: change %.3e, gains %s", it, change, gains)
            if change <= tol:
                status = SolveStatus.OPTIMAL
                message = f"leaders' decisions changed by {change:.2e} <= tol in sweep {it}"
                break
            cycle = _cycle(profiles, tol)
            if cycle:
                status = SolveStatus.ERROR
                message = f"diagonalisation cycles: the profile of sweep {it} repeats sweep {it - cycle}"
                break
            continue
        break
    result = EPECResult(status=status, objective=None, solve_time=0.0, iterations=len(profiles),
                        solver=bilevel_method, message=message, method="epec-diagonalisation",
                        history=history, cycle_length=cycle, sweep_gains=sweep_gains, profiles=profiles)
    if cycle:
        result.cycle_gains = sweep_gains[-cycle:]
        worst = [max(g.values()) if not any(np.isnan(list(g.values()))) else np.inf for g in sweep_gains]
        best = int(np.argmin(worst))
        leader_vals, follower_vals = points[best]
        for l, vals in zip(lead, leader_vals):
            _set(l.variables, vals)
        _set(fvars, follower_vals)
        result.message += (f"; cycle of length {cycle}, largest leader gain in each of its sweeps "
                           + ", ".join(f"{max(g.values()):.3g}" for g in result.cycle_gains)
                           + f"; best approximate equilibrium loaded: the profile of sweep {best + 1}, whose "
                             f"sweep had the smallest largest gain ({worst[best]:.3g}; gains in a sweep are "
                             "measured as the leaders move in turn; the leaders' gap reported is the profile's own)")
    return _finish(result, model, lead, fblocks, check_method if profiles else None, bilevel_method, options,
                   start, gap_tol)


def _joint(model: pyo.Block, lead: list[Agent], fblocks: list[BlockData], joint_options: dict) -> EPECResult:
    unknown = set(joint_options) - {"eps_start", "eps_final", "eps_factor", "solver", "solver_options"}
    if unknown:
        raise ModelError(f"joint_options: unknown option(s) {', '.join(sorted(unknown))}")
    followers = analyse_agents(model, fblocks, role="follower")
    check_finite(model)   # NaN data named at the user's component, not at a row of the stacked conditions
    out = solve_joint(model, lead, followers, **joint_options)
    ok = out.eps_reached is not None
    status = SolveStatus.OPTIMAL if ok else SolveStatus.ERROR
    if ok and out.eps_path[-1] > joint_options.get("eps_final", EPS_FINAL):
        status = SolveStatus.FEASIBLE   # complementarity only holds to the eps reached
    message = (f"stacked leaders' conditions solved down to eps={out.eps_reached:.1e} in {out.solves} NLP solves "
               f"({out.rows} rows, {out.columns} columns)" if ok else
               f"the stacked leaders' conditions failed at the first eps ({out.result.status}: "
               f"{out.result.message})")
    if ok and out.result.status is not SolveStatus.OPTIMAL and not out.result.ok:
        message += f"; the next eps failed ({out.result.status})"
    return EPECResult(status=status, objective=None, solve_time=0.0, iterations=out.solves, solver="ipopt",
                      message=message, method="epec-joint", history=list(out.eps_path))


def _finish(result: EPECResult, model: pyo.Block, lead: list[Agent], fblocks: list[BlockData],
            check_method: str | None, bilevel_method: str, options: dict, start: float,
            gap_tol: float) -> EPECResult:
    """Leaders' gap check (when asked and the method produced a point), objectives, time."""
    used = check_method
    unproven: list[str] = []
    if check_method is not None:
        try:
            check_options = options
            if check_method in GLOBAL_CHECKS:
                # a global MPEC solve can run for hours (SCIP on a badly scaled big-M model): bounded here, and
                # a check stopped at the limit proves nothing (the status says so below)
                check_options = {**options, "solver_options": {"time_limit": CHECK_TIME_LIMIT,
                                                               **options.get("solver_options", {})}}
            gaps = leader_gains(model, lead, fblocks, check_method, check_options, unproven)
        except GridGamesError as exc:
            log.info("gap check with %s refused (%s); using %s", check_method, exc, bilevel_method)
            gaps = leader_gains(model, lead, fblocks, bilevel_method, options)
            used = bilevel_method
            result.message += f"; gap check by {bilevel_method} ({check_method} refused: {exc})"
        result.player_gaps, result.gap = gaps, max(gaps.values())
        result.extra["gap_check"] = {"method": used, "global": used in GLOBAL_CHECKS}
    result.player_objectives = {l.name: float(pyo.value(l.objective.expr)) for l in lead}
    if result.player_gaps and result.status is SolveStatus.ITERATION_LIMIT and all(
            g <= gap_tol * max(1.0, abs(result.player_objectives[n])) for n, g in result.player_gaps.items()):
        # the sweeps kept moving (e.g. inside a set of equilibria) but no leader gains at the returned profile
        result.status = SolveStatus.OPTIMAL
        result.message += (f"; yet no leader gains more than gap_tol x max(1, |its objective|) by re-solving its "
                           f"bilevel problem at the last profile (largest gain {result.gap:.2e}): an equilibrium")
    if result.player_gaps and result.status is not SolveStatus.OPTIMAL:
        worst = max(result.player_gaps, key=result.player_gaps.get)
        result.message += f"; leaders' gap at the returned profile {result.gap:.3g} (leader '{worst}')"
    if result.player_gaps and result.status is SolveStatus.OPTIMAL:
        worst = max(result.player_gaps, key=result.player_gaps.get)
        allowed = gap_tol * max(1.0, abs(result.player_objectives[worst]))
        if result.gap > allowed:
            result.status = SolveStatus.NOT_EQUILIBRIUM
            result.message += (f"; but leader '{worst}' gains {result.gap:.3g} > {allowed:.1e} by re-solving "
                               "its bilevel problem: not an equilibrium")
    if result.status is SolveStatus.OPTIMAL and used in GLOBAL_CHECKS and unproven:
        result.status = SolveStatus.LOCALLY_OPTIMAL
        result.message += (f"; the global re-solve of leader(s) {', '.join(repr(n) for n in unproven[:3])} "
                           f"stopped without a proof (time limit {CHECK_TIME_LIMIT:.0f} s): their gains are lower "
                           "bounds")
    if result.status is SolveStatus.OPTIMAL and used is not None and used not in GLOBAL_CHECKS:
        result.status = SolveStatus.LOCALLY_OPTIMAL
        result.message += (f"; leaders' gap {result.gap:.3g} from local re-solves ({used}): no leader gains by a "
                           "deviation those find, a better one far away is not excluded")
    if result.player_gaps and result.status.is_ok:
        worst = min(result.player_gaps, key=result.player_gaps.get)
        allowed = gap_tol * max(1.0, abs(result.player_objectives[worst]))
        if result.player_gaps[worst] < -allowed:
            result.status = SolveStatus.FEASIBLE
            result.message += (f"; leader '{worst}' does better at the returned profile than its own best bilevel "
                               f"answer (by {-result.player_gaps[worst]:.3g} > {allowed:.1e}): the followers are "
                               "not exactly at their response (a loose eps_final?), so nothing is certified")
    if result.status is SolveStatus.OPTIMAL and used is None:
        result.status = SolveStatus.LOCALLY_OPTIMAL
        result.message += ("; no leaders' gap check (check_method=None): each leader's MPEC was solved "
                           f"by '{bilevel_method}' only")
    if result.status.has_point:
        _check_followers(result, model, fblocks, gap_tol)
    result.objective = float(sum(result.player_objectives.values()))
    result.solve_time = time.perf_counter() - start
    return result


def _check_followers(result: EPECResult, model: pyo.Block, fblocks: list[BlockData], gap_tol: float) -> None:
    """The followers' certificate at the returned profile: each re-solved alone (:func:`verify`); a gain
    above tolerance makes the status ``follower_not_optimal`` (the leaders' gaps assume the followers'
    response, so they certify nothing without it)."""
    agents = analyse_agents(model, fblocks)
    checks = verify_followers(model, agents)
    part = OwnFreePart()
    const = {a.name: a.objective_constant(part) for a in agents}
    result.extra["follower_gaps"] = {c.name: c.gap for c in checks}
    judge(result, {c.name: (c.gap, c.value - const[c.name]) for c in checks}, gap_tol=gap_tol,
          failed=SolveStatus.FOLLOWER_NOT_OPTIMAL, role="follower")
