"""Best responses of players in an aggregative game through persistent models whose only data change.

When a game's players see each other through named aggregates (a market
total ``Σ_i r_i`` declared as a Pyomo ``Expression``), fixing the other
players' variables inside the aggregate gives every player a *different*
expression (a sum over a different set of fixed variables): the Ipopt bridge
then derives a new symbolic template for each player, which costs far more
than the solve.  :class:`AggregateAgentSolver` writes player i's problem once
with each aggregate split into

    e_j(x) = p_ij + Σ_{a ∈ own(i)} E[j, a] x_a,      p_ij a mutable Param,

so all players share the same templates, the bridge's translation is cached
per player, and a re-solve only refreshes ``p_ij = e_j(x) − own part`` (the
others' contribution at the current point).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_mutable_parameters, identify_variables

from gridgames.solvers.games.agent_solve import AgentSolver
from gridgames.solvers.games.stacked_kkt import Aggregates, lift
from gridgames.solvers.games.structure import FixedVariables
from gridgames.solvers.registry import get_solver
from gridgames.solvers.result import SolveResult

log = logging.getLogger(__name__)


@dataclass
class AggregateAgentSolver(AgentSolver):
    """An :class:`AgentSolver` whose model sees the aggregates as ``Param + own part``.

    Parameters
    ----------
    agent, solver_name, options
        As for :class:`AgentSolver`.
    aggregates : Aggregates
        The game's aggregates (:func:`~gridgames.solvers.games.stacked_kkt.find_aggregates`).
    """

    aggregates: Aggregates | None = None
    _check_solver: Any = None

    def _target(self) -> pyo.Block:
        agg = self.aggregates
        own = {id(v) for v in self.agent.variables}
        view = pyo.Block(concrete=True)
        view.x = pyo.Reference(self.agent.variables)
        view.p = pyo.Param(range(len(agg.expressions)), mutable=True, initialize=0.0)
        parts: dict[int, list] = {}
        for j, v, c in zip(agg.rows, agg.vars, agg.coef):
            if id(v) in own:
                parts.setdefault(int(j), []).append(c * v)
        self._own_parts = {j: sum(terms[1:], terms[0]) for j, terms in parts.items()}
        sub = {id(e): view.p[j] + self._own_parts[j] if j in self._own_parts else view.p[j]
               for j, e in enumerate(agg.expressions)}
        obj = self.agent.objective
        view.obj = pyo.Objective(expr=lift(obj.expr, sub), sense=obj.sense)
        rows = []
        for con in list(self.agent.constraints) + list(self.agent.shared):
            lower, body, upper = con.to_bounded_expression(evaluate_bounds=True)
            rows.append((lower, lift(body, sub), upper))
        view.rows = pyo.Constraint(range(len(rows)), rule=lambda _, k: rows[k])
        exprs = [view.obj.expr] + [r[1] for r in rows]
        params = {id(p) for e in exprs for p in identify_mutable_parameters(e)}
        self._used = [j for j in range(len(agg.expressions)) if id(view.p[j]) in params]
        self._direct = [v for v in {id(v): v for e in exprs for v in identify_variables(e, include_fixed=False)
                                    if id(v) not in own}.values()]
        return view

    def best_response_value(self) -> tuple[float, SolveResult]:
        """As :class:`AgentSolver`, but Ipopt on a player with shared constraints relaxes bounds by
        ``1e-12 · max(1, |bound|)`` here (unless the caller set ``bound_relax_factor``).

        A point that meets a shared cap only up to rounding (an equilibrium from a Newton solve, the
        others' share read back as ``e_j − own part``) leaves a player at a zero request with an empty
        interior, where Ipopt cannot start.  The relaxation lets a deviation exceed a cap (a shared one
        or the player's own) by ``1e-12 · |cap|``, which can raise a gap by at most that much times
        the player's marginal value (1e-8 yuan on the microgrid market).
        Best-response *iterations* keep the strict setting (a relaxed response may overshoot a cap by
        more than the next player's variable bounds are relaxed).
        """
        if self.solver_name != "ipopt" or not self.agent.shared or "bound_relax_factor" in (self.options or {}):
            return super().best_response_value()
        if self._check_solver is None:
            self._check_solver = get_solver("ipopt", **{**self._options_for("ipopt"), "bound_relax_factor": 1e-12})
        strict, self._solver = self._solver, self._check_solver
        try:
            return super().best_response_value()
        finally:
            self._solver = strict

    def _refresh(self) -> None:
        """``p_j`` = the others' share of every aggregate at the current point."""
        for j in self._used:
            e, own = self.aggregates.expressions[j], self._own_parts.get(j)
            self.target.p[j].set_value(pyo.value(e) - (pyo.value(own) if own is not None else 0.0))

    def solve(self) -> SolveResult:
        """Best response at the current point (aggregates refreshed, direct parameters fixed)."""
        self._refresh()
        with FixedVariables(self._direct):
            return super().solve()
