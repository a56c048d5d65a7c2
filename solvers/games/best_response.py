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

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.visitor import ExpressionReplacementVisitor, identify_mutable_parameters, identify_variables

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.agent_solve import AgentSolver
from gridgames.solvers.games.game_parts import Aggregates
from gridgames.solvers.games.structure import objective_value
from gridgames.solvers.result import SolveResult

log = logging.getLogger(__name__)


class AggregateValues:
    """The current value of every aggregate ``e = E x + e0``, kept up to date incrementally.

    :meth:`sync` reads all variables once (vectorised); :meth:`moved` applies one
    player's change ``E[:, own] Δx`` so a Gauss-Seidel sweep never re-evaluates
    a market total (an O(N) Pyomo walk) per player.
    """

    def __init__(self, aggregates: Aggregates) -> None:
        self.aggregates = aggregates
        self.values = np.zeros(len(aggregates.expressions))
        self.sync()
        self._entries = entries_by_variable(aggregates)

    def entries_of(self, variables: list) -> list[tuple[int, int, float]]:
        """``(aggregate, position in variables, coefficient)`` of every entry of E on ``variables``."""
        return [(j, k, c) for k, v in enumerate(variables) for j, c in self._entries.get(id(v), ())]

    def sync(self) -> None:
        """Recompute every aggregate from the variables' current values (a value of None counts as 0)."""
        agg = self.aggregates
        x = np.array([v.value if v.value is not None else 0.0 for v in agg.vars], dtype=float)
        self.values = agg.const + np.bincount(agg.rows, weights=agg.coef * x, minlength=len(agg.expressions))

    def moved(self, rows: np.ndarray, coef: np.ndarray, step: np.ndarray) -> None:
        """Add ``Σ coef · step`` to the aggregates ``rows`` (one player's own entries)."""
        np.add.at(self.values, rows, coef * step)


#: Ipopt settings of a re-solve whose data moved a little: start from the previous primal-dual point with
#: a small barrier parameter.  Halved the time per best response of the microgrid sweeps (5.9 -> 2.9 ms at
#: 50 buyers, same iterates to 1e-10); a solve that fails with them is repeated without (see ``solve``).
#: Applied by default only to players without shared constraints: with every capacity binding (a 12-buyer,
#: 4-seller market) the warm-started sweeps reached a profile that left a buyer an empty feasible set
#: (iteration limit also from a cold start), where the cold sweeps converge.  Pass them in
#: ``solver_options`` to use them anyway.
WARM_START = {"warm_start_multipliers": True, "mu_init": 1e-6, "warm_start_bound_push": 1e-9,
              "warm_start_mult_bound_push": 1e-9}


def entries_by_variable(aggregates: Aggregates) -> dict[int, list[tuple[int, float]]]:
    """``id(var)`` → its ``(aggregate, coefficient)`` entries of E (one pass over E)."""
    out: dict[int, list[tuple[int, float]]] = {}
    for j, v, c in zip(aggregates.rows.tolist(), aggregates.vars, aggregates.coef.tolist()):
        out.setdefault(id(v), []).append((j, c))
    return out


def _lifter(substitution: dict[int, Any]) -> Any:
    """``expr -> lift(expr, substitution)`` (:func:`~gridgames.solvers.games.game_parts.lift`) by one visitor."""
    if not substitution:
        return lambda expr: expr
    return ExpressionReplacementVisitor(substitute=substitution, descend_into_named_expressions=True,
                                        remove_named_expressions=True).walk_expression


def _fallback_value(v: Any) -> float:
    """The value a fixed parameter takes when the variable has none (as ``FixedVariables`` does)."""
    if v.value is not None:
        return float(v.value)
    lo, hi = v.bounds
    return float(lo if lo is not None else (hi if hi is not None else 0.0))


@dataclass
class AggregateAgentSolver(AgentSolver):
    """An :class:`AgentSolver` whose model sees only its own variables and mutable Params.

    Each aggregate becomes ``p[j] + own part`` and every other variable the
    player's expressions reference (another player's strategy, a leader's
    decision) becomes a Param ``q[k]`` holding its current value, so no
    variable is fixed or unfixed around a solve and the solver's translation is
    re-used with new data only.

    Parameters
    ----------
    agent, solver_name, options, pool
        As for :class:`AgentSolver`.
    aggregates : Aggregates
        The game's aggregates (:func:`~gridgames.solvers.games.game_parts.find_aggregates`).
    tracker : AggregateValues, optional
        Current aggregate values shared by all players (otherwise each aggregate is evaluated).
    """

    aggregates: Aggregates | None = None
    tracker: AggregateValues | None = None
    _check_solver: Any = None

    def _target(self) -> pyo.Block:
        agg = self.aggregates
        own_vars = self.agent.variables
        own = {id(v): k for k, v in enumerate(own_vars)}
        view = pyo.Block(concrete=True)
        view.x = pyo.Reference(own_vars)
        view.p = pyo.Param(range(len(agg.expressions)), mutable=True, initialize=0.0)
        tracker = self.tracker if self.tracker is not None else AggregateValues(agg)
        entries = tracker.entries_of(own_vars)
        parts: dict[int, list] = {}
        for j, k, c in entries:
            parts.setdefault(j, []).append(c * own_vars[k])
        self.own_rows = np.array([e[0] for e in entries], dtype=np.int64)
        self.own_cols = np.array([e[1] for e in entries], dtype=np.int64)
        self.own_coef = np.array([e[2] for e in entries], dtype=float)
        self._own_parts = {j: sum(terms[1:], terms[0]) for j, terms in parts.items()}
        sub = {id(e): view.p[j] + self._own_parts[j] if j in self._own_parts else view.p[j]
               for j, e in enumerate(agg.expressions)}
        obj = self.agent.objective
        lifted = _lifter(sub)   # one visitor for all the player's expressions (each costs ~1 ms to create)
        exprs = [lifted(obj.expr)]
        bounds = []
        for con in list(self.agent.constraints) + list(self.agent.shared):
            lower, body, upper = con.to_bounded_expression(evaluate_bounds=True)
            exprs.append(lifted(body))
            bounds.append((lower, upper))
        others = {id(v): v for e in exprs for v in identify_variables(e, include_fixed=False) if id(v) not in own}
        self.others = list(others.values())
        view.q = pyo.Param(range(len(self.others)), mutable=True, initialize=0.0)
        if self.others:
            direct = _lifter({id(v): view.q[k] for k, v in enumerate(self.others)})
            exprs = [direct(e) for e in exprs]
        view.obj = pyo.Objective(expr=exprs[0], sense=obj.sense)
        view.rows = pyo.Constraint(range(len(bounds)), rule=lambda _, k: (bounds[k][0], exprs[k + 1], bounds[k][1]))
        params = {id(p) for e in exprs for p in identify_mutable_parameters(e)}
        self._used = [j for j in range(len(agg.expressions)) if id(view.p[j]) in params]
        return view

    def _others_fixed(self) -> contextlib.AbstractContextManager:
        """Nothing to fix: the view holds no other agent's variable."""
        return contextlib.nullcontext()

    def _options_for(self, name: str) -> dict:
        """As :class:`AgentSolver`, plus :data:`WARM_START` for Ipopt on a player without shared constraints
        (unless the caller set any of its keys)."""
        options = super()._options_for(name)
        if name == "ipopt" and not self.agent.shared and not set(WARM_START) & set(self.options or {}):
            options.update(WARM_START)
        return options

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
        if not self.relaxed_for_checks():
            return super().best_response_value()
        if self._check_solver is None:
            self._check_solver = self._backend("ipopt", self.check_options())
        strict, self._solver = self._solver, self._check_solver
        try:
            return super().best_response_value()
        finally:
            self._solver = strict

    def relaxed_for_checks(self) -> bool:
        """True when a gap check uses the relaxed Ipopt options of :meth:`check_options`."""
        return (self.solver_name == "ipopt" and bool(self.agent.shared)
                and "bound_relax_factor" not in (self.options or {}))

    def check_options(self) -> dict:
        """Solver options of a gap check (see :meth:`best_response_value`)."""
        options = self._options_for(self.solver_name)
        if self.relaxed_for_checks():
            options["bound_relax_factor"] = 1e-12
        return options

    def own_values(self) -> np.ndarray:
        """The player's own variables' current values (None read as 0)."""
        return np.array([v.value if v.value is not None else 0.0 for v in self.agent.variables], dtype=float)

    def refresh(self) -> None:
        """``p_j`` = the others' share of every aggregate, ``q_k`` = the other variables' current values.

        Raises
        ------
        ModelError
            A non-finite value among them (naming the variable or aggregate): it never reaches a solver.
        """
        view = self.target
        theta = self.data()
        n_p = len(self.aggregates.expressions)
        for j in self._used:
            view.p[j].set_value(float(theta[j]))
        for k in range(len(self.others)):
            view.q[k].set_value(float(theta[n_p + k]))

    def data(self) -> np.ndarray:
        """θ = ``p`` (the others' share of every aggregate; 0 where the player reads none) followed by ``q``
        (the other variables' current values), as numbers: what :meth:`refresh` writes into the view.

        Raises
        ------
        ModelError
            A non-finite value among them (naming the variable or aggregate).
        """
        n_p = len(self.aggregates.expressions)
        theta = np.zeros(n_p + len(self.others))
        if self.tracker is not None:
            own = np.bincount(self.own_rows, weights=self.own_coef * self.own_values()[self.own_cols],
                              minlength=len(self.tracker.values))
            shares = self.tracker.values - own
            theta[self._used] = shares[self._used]
        else:
            for j in self._used:
                e, part = self.aggregates.expressions[j], self._own_parts.get(j)
                theta[j] = pyo.value(e) - (pyo.value(part) if part is not None else 0.0)
        theta[n_p:] = [_fallback_value(v) for v in self.others]
        if not np.all(np.isfinite(theta)):
            bad = [self.others[k].name for k in range(len(self.others)) if not np.isfinite(theta[n_p + k])]
            bad += [self.aggregates.names[j] for j in self._used if not np.isfinite(theta[j])]
            raise ModelError(f"player '{self.agent.name}' sees non-finite values of {', '.join(bad[:5])}")
        return theta

    def view_value(self) -> float:
        """The player's objective evaluated on its view (the others' share as refreshed)."""
        return objective_value(self.target.obj.expr, self.agent.name, self.agent.variables + self.agent.parameters)

    def objective_value(self) -> float:
        """As :meth:`view_value`: the view holds the player's own variables and Params only, so a payoff that
        reads a market total of N players costs O(1), not O(N), to evaluate."""
        return self.view_value()

    def solve(self) -> SolveResult:
        """Best response at the current point (aggregates and other variables refreshed).

        A warm-started Ipopt solve (:data:`WARM_START`) that fails is repeated from the
        primal point alone, with Ipopt's default barrier start.
        """
        self.refresh()
        start = self.agent.snapshot()
        result = super().solve()
        warm = getattr(self._solver, "options", {}).get("mu_init") == WARM_START["mu_init"]
        if not result.ok and warm and self.solver_name == "ipopt":
            cold = {k: v for k, v in self._solver.options.items() if k not in WARM_START}
            log.info("player %s: warm-started Ipopt ended %s; solving again from a cold start",
                     self.agent.name, result.status)
            self.agent.restore(start)  # a failed run may have loaded its last iterate
            result = self._backend("ipopt", cold).solve(self.target)
        return result
