"""The players of a game and their best responses: per player, or all at once as one separable model.

:func:`players_of` analyses the player blocks in time linear in the game's
size (each named Expression's variables are collected once, not once per
player that reads it).  :class:`BestResponses` holds one persistent solver per
player and, when the game is aggregative and its players are solved by Ipopt,
a :class:`~gridgames.solvers.games.batch.BatchResponses` that answers all
players at one profile by one solve (Jacobi steps, Nash gaps).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.numeric_types import native_types
from pyomo.core.base.block import BlockData
from pyomo.core.expr.visitor import identify_variables

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.agent_solve import AgentSolver
from gridgames.solvers.games.batch import BatchResponses
from gridgames.solvers.games.best_response import AggregateAgentSolver, AggregateValues
from gridgames.solvers.games.stacked_kkt import find_aggregates, find_players
from gridgames.solvers.games.structure import Agent
from gridgames.solvers.result import SolveResult

log = logging.getLogger(__name__)

#: ``batch=None`` joins the players' best responses into one solve from this many players on
BATCH_MIN_PLAYERS = 20


class _VariableFinder:
    """Unfixed variables of expressions; a named Expression's are collected once and re-used."""

    def __init__(self) -> None:
        self.named: dict[int, dict[int, Any]] = {}

    def __call__(self, expr: Any) -> dict[int, Any]:
        found: dict[int, Any] = {}
        stack = [expr]
        while stack:
            node = stack.pop()
            if node.__class__ in native_types:
                continue
            if node.is_named_expression_type():
                key = id(node)
                if key not in self.named:
                    self.named[key] = {id(v): v for v in identify_variables(node, include_fixed=False)}
                found.update(self.named[key])
            elif node.is_expression_type():
                stack.extend(node.args)
            elif node.is_variable_type() and not node.fixed:
                found[id(node)] = node
        return found


def players_of(model: pyo.Block, players: BlockData | Iterable[BlockData]) -> list[Agent]:
    """Analyse the player blocks and attach the shared constraints that bind each.

    Returns
    -------
    list of Agent
        One per player: its variables, objective, constraints, the other
        variables it reads (``parameters``) and the shared constraints
        (outside every player block) that involve its variables.

    Raises
    ------
    ModelError
        A player without exactly one active objective or without unfixed
        variables, or nested inside another player.
    """
    found = find_players(model, players)
    variables_of = _VariableFinder()
    owner = {id(v): i for i, vs in enumerate(found.variables) for v in vs}
    reads: list[dict[int, Any]] = []
    for objective, constraints in zip(found.objectives, found.constraints):
        seen = variables_of(objective.expr)
        for con in constraints:
            seen.update(variables_of(con.body))
        reads.append(seen)
    shared: list[list] = [[] for _ in found.blocks]
    for con in found.shared:
        con_vars = variables_of(con.body)
        for i in sorted({owner[k] for k in con_vars if k in owner}):
            shared[i].append(con)
            reads[i].update(con_vars)
    agents = []
    for i, block in enumerate(found.blocks):
        params = [v for k, v in reads[i].items() if owner.get(k) != i]
        agents.append(Agent(block, found.variables[i], found.objectives[i], found.constraints[i], params, shared[i]))
    return agents


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
        when the game is aggregative, every player is solved by Ipopt and there are at
        least :data:`BATCH_MIN_PLAYERS`; True whenever the game allows it; False never.
    """

    def __init__(self, agents: list[Agent], solver: str | None, options: dict | None,
                 model: pyo.Block | None = None, batch: bool | None = None) -> None:
        self.agents = list(agents)
        self.tracker: AggregateValues | None = None
        pool: dict = {}
        aggregates = None
        if model is not None:  # aggregative game: players share templates, re-solves only change Params
            owner = {id(v): i for i, a in enumerate(self.agents) for v in a.variables}
            aggregates = find_aggregates(model, [a.block for a in self.agents], owner)
        if aggregates is not None and aggregates.expressions:
            self.tracker = AggregateValues(aggregates)
            self.solvers = [AggregateAgentSolver(a, solver, options, pool, aggregates, self.tracker) for a in agents]
        else:
            self.solvers = [AgentSolver(a, solver, options, pool) for a in agents]
        self.batch_reason = self._batch_refusal(batch)
        self._joint: dict[str, BatchResponses] = {}
        #: each player's objective at the profile of the last :meth:`gaps`
        self.values: dict[str, float] = {}

    def _batch_refusal(self, batch: bool | None) -> str | None:
        """Why best responses are not joined (None: they are)."""
        if batch is False:
            return "batch=False"
        if self.tracker is None:
            return "the game has no aggregates (market totals as named Expressions)"
        names = {s.solver_name for s in self.solvers}
        if names != {"ipopt"}:
            return f"the players are solved by {', '.join(sorted(map(str, names)))}, not by ipopt alone"
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
        return sum(s.solves for s in self.solvers)

    @property
    def translation_time(self) -> float:
        """Seconds the backends spent translating (per-player models and joint models)."""
        return sum(s.translation_time for s in self.solvers) + sum(j.translation_time for j in self._joint.values())

    @property
    def fallbacks(self) -> list[str]:
        """Players re-solved alone after a joint solve did not stand for them (and why)."""
        return [line for joint in self._joint.values() for line in joint.fallbacks]

    def report(self) -> dict[str, Any]:
        """How the best responses were computed (for ``result.extra["best_responses"]``)."""
        joint = list(self._joint.values())
        return {"batched": self.batched, "why_not": self.batch_reason, "player_solves": self.solves,
                "joint_solves": sum(j.joint_solves for j in joint), "joint_time": sum(j.time for j in joint),
                "translation_time": self.translation_time,
                "fallbacks": self.fallbacks}

    def _joint_solver(self, kind: str) -> BatchResponses:
        """The joint model for iterations (``strict``) or gap checks (``check``), built on first use."""
        if kind not in self._joint:
            first = self.solvers[0]
            options = first.check_options() if kind == "check" else first._options_for(first.solver_name)
            self._joint[kind] = BatchResponses(self.solvers, options, check=kind == "check")
        return self._joint[kind]

    def sync(self) -> None:
        """Re-read the aggregates from the variables (after values changed outside :meth:`move`)."""
        if self.tracker is not None:
            self.tracker.sync()

    def move(self, i: int, values: np.ndarray) -> None:
        """Set player i's strategy, keeping the aggregates current."""
        solver = self.solvers[i]
        agent = self.agents[i]
        if self.tracker is not None:
            step = np.asarray(values, float) - solver.own_values()
            self.tracker.moved(solver.own_rows, solver.own_coef, step[solver.own_cols])
        for v, x in zip(agent.variables, values):
            v.set_value(float(x), skip_validation=True)

    def respond(self, i: int) -> tuple[np.ndarray, SolveResult]:
        """Player i's best response (values returned; the player's variables restored)."""
        agent = self.agents[i]
        saved = agent.snapshot()
        result = self.solvers[i].solve()
        response = np.array([v.value for v in agent.variables], dtype=float)
        agent.restore(saved)
        return response, result

    def respond_all(self) -> list[tuple[np.ndarray, SolveResult]]:
        """Every player's best response to the current profile (one joint solve when batched)."""
        self.sync()
        if not self.batched:
            return [self.respond(i) for i in range(len(self.agents))]
        answer = self._joint_solver("strict").solve()
        return list(zip(answer.responses, answer.results))

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
            current, best, results = answer.current, answer.best, answer.results
        else:
            current, best, results = [], [], []
            for agent, solver in zip(self.agents, self.solvers):
                if isinstance(solver, AggregateAgentSolver):
                    solver.refresh()
                    current.append(solver.view_value())
                else:
                    current.append(agent.value())
                value, res = solver.best_response_value()
                best.append(value)
                results.append(res)
        out = {}
        self.values = {}
        for agent, now, value, res in zip(self.agents, current, best, results):
            if not res.ok:
                raise ModelError(f"player '{agent.name}' has no best response at the current point "
                                 f"({res.status}: {res.message})")
            self.values[agent.name] = float(now)
            out[agent.name] = float(now - value) if agent.sense > 0 else float(value - now)
        return out
