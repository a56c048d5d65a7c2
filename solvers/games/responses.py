"""The players' best responses: per player, or all at once as one separable model.

:class:`BestResponses` holds one persistent solver per
player and, when the game is aggregative and its players are solved by Ipopt,
either (default) a :class:`~gridgames.solvers.games.compiled_player.CompiledPlayer`
per player, which answers a best response from numpy data by Newton on the
player's KKT system (Ipopt only when Newton's answer is not certified), or a
:class:`~gridgames.solvers.games.batch.BatchResponses` that answers all
players at one profile by one Ipopt solve (``batch=True``).

Each best response also gives the player's gain against the profile it
answered (:attr:`BestResponses.gains`): the gap-based stop of the sweeps.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyomo.environ as pyo

from gridgames.solvers.bounds import bounds_arrays
from gridgames.solvers.errors import GridGamesError, ModelError
from gridgames.solvers.games.agent_solve import (BEST_RESPONSE_MIP_GAP, GLOBAL_CHECKS, LARGE_QP, AgentSolver,
                                                 RelaxedAgent, bound_violation, global_best_response,
                                                 global_solver_if_nonconvex, violation_of)
from gridgames.solvers.games.batch import BatchResponses
from gridgames.solvers.games.best_response import AggregateAgentSolver, AggregateValues
from gridgames.solvers.games.compiled_player import CompiledPlayer, Response
from gridgames.solvers.games.game_parts import find_aggregates
from gridgames.solvers.games.status import FEAS_TOL, GAP_TOL, VIOLATION_FACTOR, gap_limit
from gridgames.solvers.games.structure import Agent
from gridgames.solvers.registry import available_solvers
from gridgames.solvers.result import SolveResult, SolveStatus

log = logging.getLogger(__name__)

#: ``batch=None`` joins the players' best responses into one solve from this many players on
BATCH_MIN_PLAYERS = 20


def _newton_by_default(solver: AgentSolver) -> bool:
    """Newton best responses unless asked otherwise: a player solved by Ipopt, or a convex QP solved by HiGHS
    (a KKT point of a convex QP is its global optimum; 20 Cournot firms: 2,020 responses, ~1 ms each
    against ~3 ms through Pyomo's persistent HiGHS)."""
    return solver.solver_name == "ipopt" or (solver.solver_name == "highs" and solver.kind == "qp")


class BestResponses:
    """One persistent solver per player; best responses and regrets, joined into one solve where possible.

    Parameters
    ----------
    agents : list of Agent
    solver : str, optional
        Best-response backend (default chosen per player).
    options : dict, optional
        Backend options.
    model : Block, optional
        The game; needed to find its aggregates (market totals as named Expressions).
    batch : bool, optional
        Join all players' best responses at one profile into one solve: None (default)
        when the game is aggregative, every player is solved by Ipopt (or every one by
        HiGHS as an LP/QP), there are at
        least :data:`BATCH_MIN_PLAYERS` and Newton best responses are off; True whenever
        the game allows it (and then in place of Newton); False never.
    newton : bool, optional
        Best responses by Newton on each player's compiled KKT system
        (:class:`~gridgames.solvers.games.compiled_player.CompiledPlayer`), Ipopt for a player
        whose Newton answer is not certified: None (default) for the Ipopt and convex-QP (HiGHS)
        players of an aggregative game unless ``batch=True``; True for every player of an aggregative game;
        False never.  ``options`` (Ipopt's) apply to the Ipopt solves only.
    """

    def __init__(self, agents: list[Agent], solver: str | None, options: dict | None,
                 model: pyo.Block | None = None, batch: bool | None = None,
                 newton: bool | None = None) -> None:
        self.agents = list(agents)
        self.tracker: AggregateValues | None = None
        pool: dict = {}
        aggregates = None
        if model is not None:  # aggregative game: players share templates, re-solves only change Params
            owner = {id(v): i for i, a in enumerate(self.agents) for v in a.variables}
            aggregates = find_aggregates(model, [a.block for a in self.agents], owner,
                                         parts=[(a.objective, a.constraints) for a in self.agents])
        if aggregates is not None and aggregates.expressions:
            self.tracker = AggregateValues(aggregates)
            self.solvers = [AggregateAgentSolver(a, solver, options, pool, aggregates, self.tracker) for a in agents]
        else:
            self.solvers = [AgentSolver(a, solver, options, pool) for a in agents]
        #: players whose problem looked nonconvex (sampled Hessian): name -> why; :meth:`gaps` re-solves them
        #: by SCIP (global) as well, when there are at most GLOBAL_CHECKS players and no solver was chosen
        #: (a sampled-convex nonlinear player is not: SCIP's spatial search on Q^(-1/1.1) payoffs stopped
        #: at its 5 s limit for each player, 25 s for five, without a certificate; :meth:`local_only`)
        self.global_players: dict[str, str] = {}
        if solver is None and len(self.agents) <= GLOBAL_CHECKS:
            for s, a in zip(self.solvers, self.agents):
                if s.solver_name != "scip":
                    _, why = global_solver_if_nonconvex(a)
                    if why:
                        self.global_players[a.name] = why
        #: players whose gain in the last :meth:`gaps` is a lower bound only (SCIP stopped at its limit)
        self.uncertified: list[str] = []
        self._global_cache: dict[str, tuple[tuple, tuple]] = {}
        if newton not in (None, True, False):
            raise ModelError(f"newton must be True, False or None (automatic), got {newton!r}")
        #: per player: use Newton (its compiled structure is built on first use)
        self._newton = [self.tracker is not None and newton is not False and isinstance(s, AggregateAgentSolver)
                        and (newton is True or (batch is not True and _newton_by_default(s)))
                        for s in self.solvers]
        self._compiled: list[CompiledPlayer | None] = [None] * len(self.solvers)
        self.batch_reason = self._batch_refusal(batch)
        if self.batch_reason is None and any(self._newton):
            self.batch_reason = "best responses by Newton (newton=False or batch=True for joint Ipopt solves)"
        self._joint: dict[str, BatchResponses] = {}
        #: each player's objective at the profile of the last :meth:`gaps`
        self.values: dict[str, float] = {}
        #: per player: its gain from its last best response against the profile it answered, and its
        #: objective there (NaN until it has answered); the sweeps' gap-based stop reads these
        self.gains = np.full(len(self.agents), np.nan)
        self.current = np.full(len(self.agents), np.nan)
        self.newton_solves = 0
        self._bound_cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        #: players whose Newton answer was not certified and who were solved by their backend (and why)
        self.newton_fallbacks: list[str] = []

    def _batch_refusal(self, batch: bool | None) -> str | None:
        """Why best responses are not joined (None: they are)."""
        if batch is False:
            return "batch=False"
        if self.tracker is None:
            return "the game has no aggregates (market totals as named Expressions)"
        names = {s.solver_name for s in self.solvers}
        if names == {"highs"}:
            integer = next((s for s in self.solvers if s.kind not in ("lp", "qp")), None)
            if integer is not None:   # a relative MIP gap of the joint problem bounds no single player's gap
                return f"player '{integer.agent.name}' is a {integer.kind.upper()} (joint solves: LP/QP players only)"
            if self._joint_backend() is None:
                return (f"a joint QP of more than {LARGE_QP} variables is slow in HiGHS' active-set solver, and "
                        "solver='highs' was named (the default would join them in one Ipopt solve)")
        elif names != {"ipopt"}:
            return (f"the players are solved by {', '.join(sorted(map(str, names)))}, not by ipopt alone "
                    "(nor by highs alone)")
        options = {repr(sorted(s.check_options().items())) for s in self.solvers}
        if len(options) > 1:
            return "the players' solver options differ"
        if batch is None and len(self.solvers) < BATCH_MIN_PLAYERS:
            return f"fewer than {BATCH_MIN_PLAYERS} players"
        return None

    @property
    def batched(self) -> bool:
        return self.batch_reason is None

    @property
    def solves(self) -> int:
        """Per-player best-response solves (backend and Newton)."""
        return sum(s.solves for s in self.solvers) + self.newton_solves

    @property
    def newton(self) -> bool:
        """True when some player's best responses are computed by Newton."""
        return any(self._newton)

    @property
    def translation_time(self) -> float:
        """Seconds the backends spent translating (per-player models and joint models)."""
        return sum(s.translation_time for s in self.solvers) + sum(j.translation_time for j in self._joint.values())

    @property
    def compile_time(self) -> float:
        """Seconds spent compiling the players' Newton structures."""
        return sum(c.compile_time for c in self._compiled if c is not None)

    def compile(self) -> None:
        """Build every Newton player's compiled structure now (otherwise at its first best response)."""
        for i in range(len(self.solvers)):
            self._compiled_player(i)

    @property
    def fallbacks(self) -> list[str]:
        """Players re-solved alone after a joint solve did not stand for them (and why)."""
        return [line for joint in self._joint.values() for line in joint.fallbacks]

    def local_only(self) -> list[str]:
        """Players whose gains came from a local solver (Ipopt, Newton) on a nonlinear problem that SCIP
        did not re-check (a solver was named, or more than ``GLOBAL_CHECKS`` players): a gain of 0 rules
        out a better response nearby only (as :func:`~gridgames.solvers.games.agent_solve.locally_checked`
        for followers)."""
        return [a.name for s, a in zip(self.solvers, self.agents)
                if s.solver_name != "scip" and a.name not in self.global_players and s.nonlinear]

    def loose_mip_gap(self) -> list[str]:
        """Integer players whose best responses stop at a caller's MIP gap above ``LOOSE_MIP_GAP``, or at a
        solver's own MIP gap gridgames cannot set (:attr:`AgentSolver.mip_gap_unknown`)."""
        return [a.name for s, a in zip(self.solvers, self.agents)
                if s.integer and ((s.options or {}).get("mip_gap", 0.0) > LOOSE_MIP_GAP or s.mip_gap_unknown)]

    def report(self) -> dict[str, Any]:
        """How the best responses were computed (for ``result.extra["best_responses"]``)."""
        joint = list(self._joint.values())
        return {"batched": self.batched, "why_not": self.batch_reason, "player_solves": self.solves,
                "global_checks": dict(self.global_players), "uncertified": list(self.uncertified),
                "joint_solves": sum(j.joint_solves for j in joint), "joint_time": sum(j.time for j in joint),
                "translation_time": self.translation_time,
                "fallbacks": self.fallbacks, "newton": self.newton, "newton_solves": self.newton_solves,
                "newton_compile_time": self.compile_time, "newton_fallbacks": self.newton_fallbacks}

    def _joint_solver(self, kind: str) -> BatchResponses:
        """The joint model for iterations (``strict``) or gap checks (``check``), built on first use.

        HiGHS players chosen by default are joined into one Ipopt solve when their joint QP has more than
        ``LARGE_QP`` variables (HiGHS' active-set QP solver slows down steeply with size).
        """
        if kind not in self._joint:
            first = self.solvers[0]
            name = self._joint_backend()
            options = first._options_for(name)
            if kind == "check" and name == "ipopt" and any(s.agent.shared for s in self.solvers) \
                    and "bound_relax_factor" not in (first.options or {}):
                options["bound_relax_factor"] = 1e-12   # as AggregateAgentSolver.check_options
            self._joint[kind] = BatchResponses(self.solvers, options, check=kind == "check", backend=name)
        return self._joint[kind]

    def _joint_backend(self) -> str | None:
        """The backend of a joint solve: the players' own, but Ipopt for a joint QP of more than ``LARGE_QP``
        variables of HiGHS players chosen by default; None when a named HiGHS would face such a QP."""
        name = self.solvers[0].solver_name
        if name != "highs" or not any(s.kind == "qp" for s in self.solvers) \
                or sum(len(s.agent.variables) for s in self.solvers) <= LARGE_QP:
            return name
        if all(s._chosen_by_default for s in self.solvers) and "ipopt" in available_solvers():
            return "ipopt"
        return None

    def sync(self) -> None:
        """Re-read the aggregates from the variables (after values changed outside :meth:`move`).

        A compiled player reads the game's mutable Params and its bounds once, at its first
        solve: they stay put while a game is solved.
        """
        if self.tracker is not None:
            self.tracker.sync()

    def _compiled_player(self, i: int) -> CompiledPlayer | None:
        """Player i's compiled structure, built on first use (None, and Newton off for it, if it cannot be)."""
        if self._compiled[i] is None and self._newton[i]:
            solver = self.solvers[i]
            try:
                self._compiled[i] = CompiledPlayer(solver.target, solver.agent.variables)
            except GridGamesError as exc:
                self._newton[i] = False
                self.newton_fallbacks.append(f"player '{solver.agent.name}': no compiled structure ({exc})")
        return self._compiled[i]

    def _newton_response(self, i: int) -> Response | None:
        """Player i's certified Newton best response at the current profile, or None (then its backend)."""
        compiled = self._compiled_player(i)
        if compiled is None:
            return None
        solver = self.solvers[i]
        answer = compiled.solve(solver.own_values(), solver.data())
        self.newton_solves += 1
        if not answer.result.ok:
            self.newton_fallbacks.append(f"player '{solver.agent.name}': {answer.result.message}")
            return None
        return answer

    def move(self, i: int, values: np.ndarray) -> None:
        """Set player i's strategy, keeping the aggregates current."""
        solver = self.solvers[i]
        agent = self.agents[i]
        if self.tracker is not None:
            step = np.asarray(values, float) - solver.own_values()
            self.tracker.moved(solver.own_rows, solver.own_coef, step[solver.own_cols])
        for v, x in zip(agent.variables, values):
            v.set_value(float(x), skip_validation=True)

    def _bounds(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Player i's variable bounds (read once)."""
        if i not in self._bound_cache:
            self._bound_cache[i] = bounds_arrays(self.agents[i].variables)
        return self._bound_cache[i]

    def respond(self, i: int) -> tuple[np.ndarray, SolveResult]:
        """Player i's best response (values returned; the player's variables restored).

        Its gain against the current profile goes to :attr:`gains` (NaN when the solve failed).
        """
        answer = self._newton_response(i) if self._newton[i] else None
        if answer is not None:
            self.gains[i], self.current[i] = answer.gain, answer.current
            return answer.x, answer.result
        agent, solver = self.agents[i], self.solvers[i]
        if isinstance(solver, AggregateAgentSolver):
            solver.refresh()
        try:
            now = solver.view_value() if isinstance(solver, AggregateAgentSolver) else agent.value()
        except ModelError:    # undefined at the current profile (a start at a singularity): no gain known
            now = float("nan")
        saved = agent.snapshot()
        result = solver.solve()
        best = (solver.view_value() if isinstance(solver, AggregateAgentSolver) else agent.value()) \
            if result.ok else float("nan")
        # Ipopt relaxes bounds by up to 1e-8: a response at a bound lands just outside it, where a payoff such
        # as w / (w + v) can be undefined or far off (Kelly's mechanism at w = v = 0); the bound is the answer
        response = np.clip(np.array([v.value for v in agent.variables], dtype=float), *self._bounds(i))
        agent.restore(saved)
        self.current[i] = now
        self.gains[i] = (now - best) if agent.sense > 0 else (best - now)
        return response, result

    def respond_all(self) -> list[tuple[np.ndarray, SolveResult]]:
        """Every player's best response to the current profile (one joint solve when batched)."""
        self.sync()
        if not self.batched:
            return [self.respond(i) for i in range(len(self.agents))]
        answer = self._joint_solver("strict").solve()
        self.current[:] = answer.current
        signs = np.array([a.sense for a in self.agents], float)
        self.gains[:] = signs * (answer.current - answer.best)
        return list(zip(answer.responses, answer.results))

    def global_moves(self, gap_tol: float) -> dict[int, np.ndarray]:
        """Players checked globally (:attr:`global_players`) whose SCIP best response beats their current
        objective by more than ``gap_tol · max(1, |objective|)``: index → that response."""
        self.sync()
        moves = {}
        for i, agent in enumerate(self.agents):
            if agent.name not in self.global_players:
                continue
            now = agent.value()
            found, res, response, _ = self._global_response(agent)
            if res.ok and (now - found) * agent.sense > gap_limit(now, gap_tol):
                moves[i] = np.array(response, float)
        return moves

    def _profile(self) -> tuple:
        return tuple(v.value for a in self.agents for v in a.variables)

    def _global_response(self, agent: Agent) -> tuple[float, SolveResult, list, bool]:
        """:func:`global_best_response`, re-used while the profile has not changed (a SCIP re-solve can take
        its whole time limit)."""
        profile = self._profile()
        cached = self._global_cache.get(agent.name)
        if cached is None or cached[0] != profile:
            cached = (profile, global_best_response(agent))
            self._global_cache[agent.name] = cached
        return cached[1]

    def gaps(self) -> dict[str, float]:
        """Each player's gain from its best response at the current profile.

        Raises
        ------
        ModelError
            A player without a best response there (named, with the solver's status).
        """
        self.sync()
        if self.batched:
            answer = self._joint_solver("check").solve()
            current, best, results = list(answer.current), list(answer.best), list(answer.results)
        else:
            current, best, results = [], [], []
            for i, (agent, solver) in enumerate(zip(self.agents, self.solvers)):
                newton = self._newton_response(i) if self._newton[i] else None
                if newton is not None:
                    now, value, res = newton.current, newton.value, newton.result
                else:
                    if isinstance(solver, AggregateAgentSolver):
                        solver.refresh()
                        now = solver.view_value()
                    else:
                        now = agent.value()
                    value, res = solver.best_response_value()
                current.append(now)
                best.append(value)
                results.append(res)
        # a player bound by a shared row the profile breaks (by a solver's tolerance) and losing by its strict
        # re-solve is judged on its rows relaxed to the profile: the strict one had to repair the others'
        # excess (only such players: a fresh model each, which would cost O(N²) for all of them); so is a player
        # infeasible alone (the profile breaks its own rows: its gap is then inf, see profile_gaps)
        broken = _bound_by_broken_shared_rows(self.agents)
        for i, (agent, solver) in enumerate(zip(self.agents, self.solvers)):
            res, now, value = results[i], current[i], best[i]
            if res.status is SolveStatus.INFEASIBLE or (
                    agent.name in broken and res.ok
                    and (value - now) * agent.sense > REPAIR_LOSS * max(1.0, abs(now))):
                best[i], results[i] = _relaxed_best_response_value(agent, solver)
        out = {}
        self.values = {}
        self.uncertified = []
        for agent, now, value, res in zip(self.agents, current, best, results):
            if not res.ok:
                raise ModelError(f"player '{agent.name}' has no best response at the current point "
                                 f"({res.status}: {res.message})")
            if agent.name in self.global_players:   # the local answer may miss a better response far away
                found, res_global, _, certified = self._global_response(agent)
                if res_global.ok and (found - value) * agent.sense < 0:
                    value = found
                if not certified:
                    self.uncertified.append(agent.name)
            self.values[agent.name] = float(now)
            out[agent.name] = float(now - value) if agent.sense > 0 else float(value - now)
        return out


#: a caller's relative MIP gap above this leaves integer players' gains uncertified (ten times the default)
LOOSE_MIP_GAP = 10 * BEST_RESPONSE_MIP_GAP
#: a loss (relative to ``max(1, |objective|)``) of a player's strict re-solve at a profile breaking a shared row
#: it is bound by, from which its gap is checked on its rows relaxed to the profile instead: the default gap
#: tolerance, since a smaller loss passes the certificate anyway (a 300-firm Scholtes answer overfilling its
#: cap sent every firm to a fresh model, 11 s, for losses of 2e-6 relative)
REPAIR_LOSS = GAP_TOL
#: room a relaxed gap check adds beyond the current point, relative to ``1 + |bound|``
RELAX_ROOM = 1e-12
#: a player's rows broken by more than this (relative to ``1 + |bound|``) at the profile: its gap is checked on
#: them relaxed to the profile
RELAX_TRIGGER = 1e-12


def _bound_by_broken_shared_rows(agents: Sequence[Agent]) -> set[str]:
    """Names of the players bound by a shared constraint violated beyond :data:`RELAX_TRIGGER` (relative)."""
    shared = {id(c): c for a in agents for c in a.shared}
    broken = {k for k, c in shared.items() if violation_of(c, scaled=True) > RELAX_TRIGGER}
    return {a.name for a in agents if any(id(c) in broken for c in a.shared)} if broken else set()


def _relaxed_best_response_value(agent: Agent, solver: AgentSolver) -> tuple[float, SolveResult]:
    """A player's best response with its own and shared constraints relaxed just enough to hold its current
    strategy: the others' strategies may pin it (a shared ``q_nm + q_mn = 0``) where a solver's tolerance
    leaves it just outside its own bounds, or fill a shared cap 1e-8 beyond its bound, with no strict answer.
    Each side moves to the current value plus :data:`RELAX_ROOM`: more room would be counted as a gain
    (an idle firm at a shared cap relaxed by 1e-6 x (1 + 200) gained 0.1)."""
    with RelaxedAgent(agent, RELAX_ROOM, shared=True, to_current=True):
        # a default choice stays one (HiGHS' QP solver fails on such nearly pinned columns; Ipopt then answers)
        relaxed = AgentSolver(agent, None if solver._chosen_by_default else solver.solver_name, solver.options)
        value, res = relaxed.best_response_value()
    if res.ok:
        res.message += "; solved with its constraints relaxed to hold its current strategy (no strict answer at " \
                       "this profile)"
    return value, res


def violations(agents: Sequence[Agent]) -> tuple[dict[str, float], float]:
    """Each player's largest relative violation (``1 + |bound|``) of its own constraints, bounds and
    shared constraints at the current profile, and the largest of the shared ones alone.  A shared
    constraint (a market limit on every player's total) is evaluated once, not once per player."""
    shared = {id(c): c for a in agents for c in a.shared}
    shared_v = {k: violation_of(c, scaled=True) for k, c in shared.items()}
    own = {a.name: max([violation_of(c, scaled=True) for c in a.constraints]
                       + [shared_v[id(c)] for c in a.shared] + [bound_violation(a.variables, scaled=True)])
           for a in agents}
    return own, max(shared_v.values(), default=0.0)


def profile_gaps(agents: Sequence[Agent], br: BestResponses) -> tuple[dict[str, float], dict[str, float], str]:
    """The players' gaps at the current profile as a certificate may read them.

    A player outside its own feasible set (relative violation above
    ``VIOLATION_FACTOR · FEAS_TOL``) gets ``inf``: its gain can be negative,
    which certifies nothing.  When the others' strategies break a shared
    constraint a player may have no feasible answer at all: the gaps are then
    ``nan`` (``inf`` for the violators) and the third item says why.

    Returns
    -------
    (gaps, violations, note)

    Raises
    ------
    ModelError
        A best response failed at a profile that breaks no shared constraint
        (a player whose own constraints admit no point; a payoff undefined there).
    """
    limit = VIOLATION_FACTOR * FEAS_TOL
    own, shared = violations(agents)
    note = ""
    try:
        gaps = br.gaps()
    except ModelError as exc:
        if not shared > limit:
            raise
        gaps, note = {a.name: math.nan for a in agents}, f"the profile violates a shared constraint ({exc})"
    for name, violation in own.items():
        if violation > limit:
            log.warning("the profile violates player '%s''s own constraints or bounds by %.3g (relative): "
                        "its gap is inf", name, violation)
            gaps[name] = math.inf
    return gaps, own, note
