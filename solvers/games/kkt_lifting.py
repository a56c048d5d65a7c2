"""Market totals lifted out of the players' stationarity rows (``solve_nash(method="kkt")``).

In an aggregative game a player's payoff depends on a total of everyone's
strategies, ``f_i(y_i, Q)`` with ``Q = Σ_j w_j y_j + q0`` (a market quantity, a
load in each hour).  Differentiated as written, every stationarity row of
every player holds all N players' variables: N² non-zeros, and Ipopt's
factorisations of the dense blocks dominate (an EV-charging game of 40
players × 24 hours: 15 s of Ipopt for a 2,920-variable system).

Lifted, each total becomes one free variable ``t`` with its definition row
``t = Σ_j w_j y_j + q0`` beside the KKT conditions, and the chain rule gives
player i's row for ``y_ik`` as ``∂f_i/∂y_ik + w_ik ∂f_i/∂t`` — a handful of
terms.  The totals are the ones ``mcp`` lifts
(:func:`~gridgames.solvers.games.game_parts.find_aggregates`: named
Expressions mixing several players' variables, and linear sums written inline
in several payoffs).  Only objective gradients change; constraints, bounds
and convexity checks are the agents' own, as before.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.modeling import unique_component_name
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.core.expr.visitor import identify_variables
from pyomo.repn.standard_repn import generate_standard_repn

from gridgames.solvers.convexity import is_convex, quadratic_hessian
from gridgames.solvers.games.game_parts import find_aggregates, lift
from gridgames.solvers.games.structure import Agent, FixedVariables


@dataclass
class LiftedTotals:
    """Totals as variables on a scratch block of the model, with their definitions.

    Attributes
    ----------
    block : Block
        ``t[j]`` (free) and ``define[j]: t[j] == Σ w y + q0``; removed by :meth:`remove`.
    substitution : dict
        ``id(total expression) -> t[j]`` for :func:`~gridgames.solvers.games.game_parts.lift`.
    weights : dict
        ``id(player variable) -> [(t[j], w), ...]``: the totals a variable enters, and its weight.
    names : list of str
        Each total's name (for messages and ``extra``).
    """

    model: pyo.Block
    block: pyo.Block
    substitution: dict
    weights: dict
    names: list[str]

    def remove(self) -> None:
        self.model.del_component(self.block)


def lift_totals(model: pyo.Block, agents: Sequence[Agent], *, bounded: bool = False) -> LiftedTotals | None:
    """Add a variable and a definition row for each market total of the players' payoffs; None if none.

    A total that reads a free variable no player owns (a leader's, an unowned one) is left as written.
    ``bounded=True`` gives each total variable the bounds its definition implies (for the global
    method, whose big-M bounds are derived through them; a local solver gets free totals, no extra
    barrier terms).
    """
    owner = {id(v): i for i, a in enumerate(agents) for v in a.variables}
    found = find_aggregates(model, [a.block for a in agents], owner,
                            parts=[(a.objective, list(a.constraints)) for a in agents])
    by_total: dict[int, list] = {}   # one pass over the entries (24 hourly totals of 100 players: not 24 passes)
    for r, v, c in zip(found.rows.tolist(), found.vars, found.coef.tolist()):
        by_total.setdefault(r, []).append((v, c))
    keep = [(j, by_total.get(j, [])) for j in range(len(found.expressions))
            if all(id(v) in owner or v.fixed for v, _ in by_total.get(j, []))]
    if not keep:
        return None
    blk = pyo.Block(concrete=True)
    model.add_component(unique_component_name(model, "_gg_lifted_totals"), blk)
    blk.t = pyo.Var(range(len(keep)))
    substitution, weights, definitions = {}, {}, []
    for k, (j, entries) in enumerate(keep):
        t = blk.t[k]
        substitution[id(found.expressions[j])] = t
        free = [(v, c) for v, c in entries if not v.fixed]
        constant = float(found.const[j]) + sum(c * float(v.value) for v, c in entries if v.fixed)
        for v, c in free:
            weights.setdefault(id(v), []).append((t, c))
        t.value = constant + sum(c * float(v.value if v.value is not None else 0.0) for v, c in free)
        if bounded:
            t.setlb(_implied_bound(constant, free, lower=True))
            t.setub(_implied_bound(constant, free, lower=False))
        definitions.append(LinearExpression(constant=constant, linear_coefs=[c for _, c in free],
                                            linear_vars=[v for v, _ in free]))
    blk.define = pyo.Constraint(range(len(keep)), rule=lambda _, k: blk.t[k] - definitions[k] == 0.0)
    names = [found.names[j] for j, _ in keep]
    repeated = {n for n, count in Counter(names).items() if count > 1}   # inline sums of one payoff
    names = [f"{n} (#{k + 1})" if n in repeated else n for k, n in enumerate(names)]
    return LiftedTotals(model, blk, substitution, weights, names)


def _implied_bound(constant: float, free: list, *, lower: bool) -> float | None:
    """The total's lower (upper) bound from its variables' bounds (interval arithmetic), None if unbounded."""
    total = constant
    for v, c in free:
        bound = v.lb if (c > 0) == lower else v.ub
        if bound is None:
            return None
        total += c * float(bound)
    return total


def lifted_objective_gradient(agent: Agent, totals: LiftedTotals) -> list[list] | None:
    """Terms of ``∂(s·f)/∂y_k`` through the lifted totals (the chain rule), or None to differentiate as written.

    Same shape as the gradient :func:`~gridgames.solvers.games.kkt.build_kkt_block` reads off the
    objective: one list of terms per own variable, expressions of the variable, the totals and the
    parameters.  Only for an objective that reads a total and is quadratic in ``(y, t)`` with constant
    quadratic coefficients, whose Hessian in ``y`` (``Jᵀ H J``, ``J = [I; W]``) is proved positive
    semidefinite here; anything else (None) goes the usual way, with its usual checks and messages.
    """
    expr = lift(agent.objective.expr, totals.substitution)
    read = {id(v): v for v in identify_variables(expr, include_fixed=False) if v.parent_block() is totals.block}
    if not read:
        return None
    wrt = list(agent.variables) + list(read.values())
    with FixedVariables(agent.parameters):
        repn = generate_standard_repn(expr, quadratic=True, compute_values=False)
    if repn.nonlinear_expr is not None or not _convex_in_own(agent, repn, wrt, totals):
        return None
    direct = _quadratic_terms(repn, wrt)
    position = {id(v): k for k, v in enumerate(wrt)}
    gradient = []
    for k, v in enumerate(agent.variables):
        terms = [agent.sense * g for g in direct[k]]
        for t, w in totals.weights.get(id(v), ()):
            if id(t) in position:
                terms.extend(agent.sense * w * g for g in direct[position[id(t)]])
        gradient.append(terms)
    return gradient


def _convex_in_own(agent: Agent, repn, wrt: list, totals: LiftedTotals) -> bool:
    """``s·f`` convex in the agent's own variables, through the totals: ``Jᵀ H J ⪰ 0``."""
    if not repn.quadratic_vars:
        return True
    index = {id(v): i for i, v in enumerate(wrt)}
    rows, cols, coef = [], [], []
    for (a, b), c in zip(repn.quadratic_vars, repn.quadratic_coefs):
        if not isinstance(c, (int, float)) and next(identify_variables(c, include_fixed=True), None) is not None:
            return False
        rows.append(index[id(a)])
        cols.append(index[id(b)])
        coef.append(agent.sense * float(pyo.value(c)))
    n = len(agent.variables)
    H = quadratic_hessian(np.array(rows), np.array(cols), np.array(coef), len(wrt))
    J = sp.lil_matrix((len(wrt), n))
    for k, v in enumerate(agent.variables):
        J[k, k] = 1.0
        for t, w in totals.weights.get(id(v), ()):
            if id(t) in index:
                J[index[id(t)], k] = w
    J = J.tocsr()
    own = (J.T @ H @ J).tocsr()
    return is_convex(own)


def _quadratic_terms(repn, wrt: list) -> list[list]:
    """Terms of ``∂f/∂v`` for each ``v`` in ``wrt`` from a quadratic standard representation."""
    index = {id(v): i for i, v in enumerate(wrt)}
    grad: list[list] = [[] for _ in wrt]
    for v, coef in zip(repn.linear_vars, repn.linear_coefs):
        if id(v) in index:
            grad[index[id(v)]].append(coef)
    for (a, b), coef in zip(repn.quadratic_vars, repn.quadratic_coefs):
        if id(a) in index:
            grad[index[id(a)]].append(coef * b)
        if id(b) in index:
            grad[index[id(b)]].append(coef * a)
    return grad
