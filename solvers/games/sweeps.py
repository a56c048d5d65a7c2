"""Best-response iteration: Gauss–Seidel (players in turn) and Jacobi (all from one profile).

Used by :func:`~gridgames.solvers.games.nash.solve_nash`; each best response
comes from :class:`~gridgames.solvers.games.responses.BestResponses`.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from pyomo.core.expr.visitor import identify_variables

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.responses import BestResponses
from gridgames.solvers.games.structure import Agent, OwnFreePart
from gridgames.solvers.result import SolveResult, SolveStatus

log = logging.getLogger(__name__)

#: Jacobi halves its damping when a step reverses the previous one without shrinking below this share
OSCILLATION_RATIO = 0.5
MIN_DAMPING = 1.0 / 64


def _oscillates(step: np.ndarray, previous: np.ndarray | None) -> bool:
    """The profile jumped back: the step points against the previous one and is not much shorter."""
    if previous is None:
        return False
    size, before = float(np.linalg.norm(step)), float(np.linalg.norm(previous))
    return float(step @ previous) < 0.0 and size > OSCILLATION_RATIO * before


def _failure_hint(agent: Agent, res: SolveResult, jacobi: bool) -> str:
    """Why a player's best response may have failed, and what to use: its payoff undefined at the
    current profile (0/0 at a bound), or shared constraints leaving it no feasible answer."""
    try:
        agent.value()
    except ModelError as exc:
        return (f"; {exc} at the current profile (a start at a singularity such as 0/0 at a bound?): "
                "start inside the box, or use method='mcp' or 'kkt' (they move the start off the bounds)")
    if res.status is not SolveStatus.INFEASIBLE:
        return ""
    others = {id(v) for v in agent.parameters}   # an own constraint that reads other players' strategies couples too
    own = [c for c in agent.constraints
           if any(id(v) in others for v in identify_variables(c.body, include_fixed=False))]
    if not agent.shared and not own:
        return ""
    parts = []
    if agent.shared:
        parts.append("the shared constraint(s) " + ", ".join(c.name for c in agent.shared[:3]))
    if own:
        parts.append("its own constraint(s) on the others' strategies " + ", ".join(c.name for c in own[:3]))
    how = ("the players moved together (Jacobi) and left no room in " if jacobi
           else "the other players' strategies leave no room in ")
    cure = ("'mcp' (the variational equilibrium) or 'kkt'" if not own
            else "'kkt' or 'mcp' (they solve every player's conditions at once)")
    return (f"; {how}{' and '.join(parts)}, so this player has no feasible answer: use method='gauss-seidel' "
            f"from a feasible start, {cure}")


#: profiles kept to recognise a cycle of the iterates (periods 2 .. CYCLE_MEMORY)
CYCLE_MEMORY = 8


def _period(profiles: list[np.ndarray], profile: np.ndarray, tol: float) -> int:
    """Period L >= 2 of a cycle ending at ``profile`` (it equals, within ``tol`` relative, the profile L
    iterations back), or 0."""
    for period in range(2, len(profiles) + 1):
        if np.max(np.abs(profiles[-period] - profile) / (1.0 + np.abs(profile)), initial=0.0) <= tol:
            return period
    return 0


def _sweep_gap(br: BestResponses, agents: Sequence[Agent]) -> float:
    """Largest relative gain ``|gain_i| / max(1, |f_i − c_i|)`` of the last sweep's best responses (inf if
    unknown); ``c_i``: the terms of player i's payoff it cannot change (:class:`OwnFreePart`, now).

    The magnitude: a clearly *negative* gain means the profile does better than the player's best
    response, i.e. it is outside the player's feasible set, which is no reason to stop."""
    part = OwnFreePart()
    fixed = np.array([part(a.objective.expr, {id(v) for v in a.variables}) for a in agents])
    gains = np.abs(br.gains) / np.maximum(1.0, np.abs(br.current - fixed))
    return float(np.max(gains)) if gains.size and np.all(np.isfinite(gains)) else float("inf")


#: times the sweeps restart from a nonconvex player's global (SCIP) best response
GLOBAL_RESTARTS = 3


#: sweeps over which a strategy change that does not fall below STALL_RATIO of its value counts as stalled
#: (a contraction factor above 0.9995 per sweep also stalls by this test: STALL_GAP then decides)
STALL_SWEEPS = 20
STALL_RATIO = 0.99
#: a stalled iteration stops only when the Nash gap *at the profile* (every player re-solved) is at most this,
#: relative (and within gap_tol): a slowly contracting game also stalls by the ratio test, with small gains
#: in the sweep while the profile is still far from its equilibrium (60 Cournot firms: sweep gains 1e-5,
#: Nash gap 3e-4); a profile that only jitters within the best responses' accuracy has a gap of ~0
STALL_GAP = 1e-12
#: ... or when it is at most this fraction of ``gap_tol`` and has not halved since the previous stall check
#: (20 sweeps before): a profile drifting along a set of equilibria by a solver's feasibility tolerance keeps
#: a small constant gap (3 players, two shared rows: 1.8e-8 per sweep at a gap of 2.2e-7, 500 sweeps run)
STALL_SETTLED = 1e-2


def _stalled(history: list[float], checked: int) -> bool:
    """The strategy change has not fallen below ``STALL_RATIO`` of its value ``STALL_SWEEPS`` sweeps ago, and
    the profile's gap was last checked (iteration ``checked``) at least that long ago."""
    n = len(history)
    return (n > STALL_SWEEPS and n - checked >= STALL_SWEEPS
            and history[-1] >= STALL_RATIO * history[-1 - STALL_SWEEPS])


def _profile_gap(br: BestResponses, agents: Sequence[Agent]) -> float:
    """The Nash gap at the current profile, each player's gain relative to ``max(1, |f_i − c_i|)`` (inf when a
    best response fails there)."""
    try:
        gaps = br.gaps()
    except ModelError:
        return float("inf")
    part = OwnFreePart()
    relative = [abs(gaps[a.name]) / max(1.0, abs(br.values[a.name] - part(a.objective.expr,
                                                                          {id(v) for v in a.variables})))
                for a in agents]
    return float(max(relative)) if relative and all(np.isfinite(relative)) else float("inf")


def best_response_iteration(agents: Sequence[Agent], br: BestResponses, *, jacobi: bool, tol: float,
                            max_iter: int, damping: float, adaptive: bool = False,
                            gap_stop: float | None = None,
                            stall_gap: float | None = None) -> tuple[SolveStatus, int, list[float], str]:
    """Gauss-Seidel (players update in turn) or Jacobi (all from the same profile).

    With ``adaptive`` (Jacobi's default), the damping ω is halved (down to
    1/64) whenever a whole step reverses the previous one without shrinking
    to half of it: the signature of a best-response map whose Jacobian has
    an eigenvalue ≤ −1 (plain Jacobi on a Cournot game with three or more
    firms), where ``x ← (1−ω)x + ω·BR`` contracts for ω small enough.

    With ``gap_stop``, the iteration also stops when every player's gain from its
    best response in the sweep, relative to ``max(1, |its objective|)``, is at most
    ``gap_stop``.  For Jacobi the gains are the Nash gaps of the profile the step
    started from, and the step is then not taken (that profile is returned); for
    Gauss-Seidel each gain is measured against the profile the player saw in its
    turn.  Either way the caller's final :func:`nash_gap` decides the status.

    With ``stall_gap``, iterates that keep moving by about the same amount for
    ``STALL_SWEEPS`` sweeps stop the iteration when the Nash gap at the profile
    (every player re-solved, relative as ``gap_stop``) is at most
    ``min(stall_gap, STALL_GAP)``: the best responses then move only within their
    own accuracy (a load-shifting game whose HiGHS responses jitter by 7.6e-7 each
    sweep at a gap of 0) or along a set of equilibria, and ``tol`` is never met;
    also when that gap is at most ``STALL_SETTLED · stall_gap`` and has not halved
    since the previous such check (a drift at a constant small gap).
    """
    history: list[float] = []
    checked = 0                          # iteration of the last stall check of the profile's gap
    last_gap = float("inf")              # the profile's gap at that check
    profiles: list[np.ndarray] = []      # the last CYCLE_MEMORY profiles, for cycle detection
    previous: np.ndarray | None = None
    notes: list[str] = []
    for it in range(1, max_iter + 1):
        change = 0.0
        responses, steps = [], []
        br.sync()
        joint = br.respond_all() if jacobi else None  # Jacobi: every response from the same profile
        if joint is not None:
            failed = next((i for i, (_, res) in enumerate(joint) if not res.ok), None)
            sweep_gap = _sweep_gap(br, agents) if failed is None and gap_stop is not None else None
            if sweep_gap is not None and sweep_gap <= gap_stop:
                return (SolveStatus.OPTIMAL, it, history,
                        f"relative gap of the best responses {sweep_gap:.2e} <= {gap_stop:.0e} at iteration "
                        f"{it} (profile before the step kept)" + "".join(notes))
        for i, agent in enumerate(agents):
            response, res = joint[i] if joint is not None else br.respond(i)
            if not res.ok:
                return SolveStatus.ERROR, it, history, (f"player '{agent.name}' best response failed at "
                                                        f"iteration {it}: {res.status} {res.message}"
                                                        + _failure_hint(agent, res, jacobi))
            current = np.array([v.value for v in agent.variables], dtype=float)
            new = (1.0 - damping) * current + damping * response
            change = max(change, float(np.max(np.abs(new - current) / (1.0 + np.abs(current)))))
            steps.append(new - current)
            if jacobi:
                responses.append(new)
            else:
                br.move(i, new)
        if jacobi:
            for i, new in enumerate(responses):
                br.move(i, new)
        history.append(change)
        log.debug("iteration %d: max relative strategy change %.3e", it, change)
        if change <= tol:
            return (SolveStatus.OPTIMAL, it, history,
                    f"strategy change {change:.2e} <= tol after {it} iterations" + "".join(notes))
        profile = np.concatenate([np.array([v.value for v in a.variables], dtype=float) for a in agents])
        period = _period(profiles, profile, tol)
        if period and not (jacobi and adaptive and damping > MIN_DAMPING):
            return (SolveStatus.ITERATION_LIMIT, it, history,
                    f"the iterates cycle with period {period} (iteration {it} repeats iteration {it - period}): "
                    "best responses alone do not reach an equilibrium from here; " + _cycle_hint(agents, jacobi)
                    + "".join(notes))
        profiles = (profiles + [profile])[-CYCLE_MEMORY:]
        sweep_gap = _sweep_gap(br, agents) if not jacobi and gap_stop is not None else None
        if sweep_gap is not None and sweep_gap <= gap_stop:
            return (SolveStatus.OPTIMAL, it, history,
                    f"relative gap of the sweep's best responses {sweep_gap:.2e} <= {gap_stop:.0e} after "
                    f"{it} iterations" + "".join(notes))
        # (not with players re-checked by SCIP: each gap would cost their global re-solves)
        if stall_gap is not None and not br.global_players and _stalled(history, checked):
            checked = it
            profile_gap = _profile_gap(br, agents)
            settled = profile_gap <= STALL_SETTLED * stall_gap and profile_gap >= 0.5 * last_gap
            last_gap = profile_gap
            if profile_gap <= min(stall_gap, STALL_GAP) or settled:
                return (SolveStatus.OPTIMAL, it, history,
                        f"the Nash gap of the profile is {profile_gap:.1e} x max(1, |its objective|) while the "
                        f"strategies kept moving by ~{change:.2e} per sweep for {STALL_SWEEPS} sweeps (best responses "
                        "accurate only to about that, a set of equilibria, or a very slow contraction): stopped "
                        f"after {it} iterations" + "".join(notes))
        step = np.concatenate(steps)
        if adaptive and damping > MIN_DAMPING and _oscillates(step, previous):
            damping = max(damping / 2.0, MIN_DAMPING)
            notes.append(f"; damping halved to {damping:g} at iteration {it} (oscillation)")
            step = None
        previous = step
    return SolveStatus.ITERATION_LIMIT, max_iter, history, (
        f"no convergence in {max_iter} iterations" + "".join(notes)
        + ("; with many players best responses move slowly (Cournot: the contraction factor nears 1): "
           "method='mcp' solves all players' KKT conditions at once" if len(agents) > 10 else ""))


def _cycle_hint(agents: Sequence[Agent], jacobi: bool) -> str:
    """What to try when the iterates cycle: the KKT methods and damping need continuous players."""
    if any(not v.is_continuous() for a in agents for v in a.variables):
        return ("with integer players a pure equilibrium may not exist at all: "
                + ("try method='gauss-seidel' (players in turn), " if jacobi else "")
                + "start from another profile, or enumerate the profiles it cycles through (the KKT methods "
                  "and damping need continuous players)")
    return "try method='mcp' or 'kkt' (their equilibrium, if one exists) or damping < 1"
