"""KKT conditions of a convex agent (follower or player), written into a Pyomo block.

For an agent with decisions ``y`` and parameters ``x`` (leader variables or
other players' strategies) whose problem, for fixed ``x``, is

    min_y  s·f(x, y)                    s = +1 (min) or -1 (max)
    s.t.   lb_i ≤ a_i(x)ᵀy + b_i(x) ≤ ub_i     (active constraints of the block)
           l_j ≤ y_j ≤ u_j                    (variable bounds)

with ``f`` quadratic and convex in ``y`` (linear and quadratic coefficients may
depend on ``x``), the Lagrangian is

    L = s·f − Σ_k μ_k σ_k(x, y) − Σ_e π_e h_e(x, y),

where every one-sided inequality is written as a slack ``σ_k ≥ 0`` with a
multiplier ``μ_k ≥ 0`` and every equality ``h_e = 0`` has a free ``π_e``.  The
KKT conditions are primal feasibility (the agent's own constraints, kept),
stationarity ``∇_y L = 0`` (added), ``μ ≥ 0`` and complementarity
``μ_k σ_k = 0``, which each method states its own way (Scholtes products,
big-M switches, or strong duality).

The gradient is read off Pyomo's standard representation with ``x`` fixed,
so it is exact and symbolic in ``x``; no numerical differentiation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.var import VarData
from pyomo.repn.standard_repn import generate_standard_repn

from gridgames.solvers.errors import UnsupportedModelError
from gridgames.solvers.games.structure import Agent, FixedVariables

_CONVEXITY_TOL = 1e-9


@dataclass
class Pair:
    """One complementarity pair ``0 ≤ slack ⟂ multiplier ≥ 0``."""

    slack: object          # Pyomo expression, ≥ 0 when feasible
    multiplier: VarData
    label: str
    constant_part: object = 0.0   # the slack's bound term (for the dual objective)


@dataclass
class KKTBlock:
    """The KKT system of one agent, attached to the model as a block."""

    agent: Agent
    block: pyo.Block
    pairs: list[Pair] = field(default_factory=list)
    equality_multipliers: list[VarData] = field(default_factory=list)
    #: Σ_k μ_k·(bound term) + Σ_e π_e·(rhs term): the dual objective of a linear agent
    dual_objective: object = 0.0
    #: the agent's objective written in its own sense (s·f), linear part only
    linear_agent: bool = False
    #: the constant part of s·f (terms without the agent's variables)
    objective_constant: object = 0.0
    stationarity_rows: list[object] = field(default_factory=list)


def _unsupported(agent: Agent, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"{agent.name}: {what}. KKT-based methods need a convex agent (linear, or quadratic "
        f"with a positive semidefinite Hessian in its own variables, and no integer variables); "
        f"use method='nested' instead")


def check_kkt_applicable(agent: Agent) -> None:
    """Refuse integer variables and non-convex or non-quadratic agents, naming the term."""
    for v in agent.variables:
        if not v.is_continuous():
            raise _unsupported(agent, f"variable '{v.name}' is integer")
    with FixedVariables(agent.parameters):
        repn = generate_standard_repn(agent.objective.expr, quadratic=True, compute_values=False)
        if repn.nonlinear_expr is not None:
            raise _unsupported(agent, f"objective term '{repn.nonlinear_expr}' is not linear or quadratic "
                                      "in the agent's own variables")
        for con in agent.constraints:
            crepn = generate_standard_repn(con.body, quadratic=False, compute_values=False)
            if crepn.nonlinear_expr is not None:
                raise _unsupported(agent, f"constraint '{con.name}' is nonlinear in the agent's own "
                                          f"variables ('{crepn.nonlinear_expr}')")
        _check_convex(agent, repn)


def _check_convex(agent: Agent, repn) -> None:
    if not repn.quadratic_vars:
        return
    index = {id(v): i for i, v in enumerate(agent.variables)}
    n = len(agent.variables)
    rows, cols, vals, terms = [], [], [], []
    for (a, b), coef in zip(repn.quadratic_vars, repn.quadratic_coefs):
        if not _is_constant(coef):
            raise _unsupported(agent, f"the quadratic coefficient '{coef}' of {a.name}*{b.name} depends on "
                                      "other agents' variables, so convexity cannot be certified")
        c = agent.sense * float(pyo.value(coef))
        i, j = index[id(a)], index[id(b)]
        rows += [i, j]
        cols += [j, i]
        vals += [c, c]  # Hessian of c*y_i*y_j: c off-diagonal (twice for i == j)
        terms.append((c, a.name, b.name))
    hess = np.zeros((n, n)) if n <= 2000 else None
    if hess is not None:
        np.add.at(hess, (rows, cols), vals)
        eig = np.linalg.eigvalsh(hess)
        smallest = float(eig[0])
    else:
        from scipy.sparse import coo_matrix
        from scipy.sparse.linalg import eigsh

        h = coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr()
        diag_only = (h - coo_matrix((h.diagonal(), (range(n), range(n))), shape=(n, n))).count_nonzero() == 0
        smallest = float(h.diagonal().min()) if diag_only else float(eigsh(h, k=1, which="SA")[0][0])
    scale = max(1.0, float(np.max(np.abs(vals))))
    if smallest < -_CONVEXITY_TOL * scale:
        worst = min(terms, key=lambda t: t[0] if t[1] == t[2] else -abs(t[0]))
        sense = "minimisation" if agent.sense > 0 else "maximisation"
        raise _unsupported(agent, f"the objective is not convex for a {sense}: its Hessian has eigenvalue "
                                  f"{smallest:.4g} (look at the term {worst[0] * agent.sense:+.4g}*{worst[1]}*{worst[2]})")


def _is_constant(expr) -> bool:
    """True for numbers and expressions of Params only (no variables, fixed or not)."""
    if isinstance(expr, (int, float)):
        return True
    from pyomo.core.expr.visitor import identify_variables
    return next(identify_variables(expr, include_fixed=True), None) is None


def _sum(terms: list) -> object:
    return sum(terms) if terms else 0.0


def build_kkt_block(model: pyo.Block, agent: Agent, name: str,
                    shared_constraints: list | None = None) -> KKTBlock:
    """Attach the agent's stationarity conditions and multipliers to ``model.<name>``.

    Complementarity is *not* added here; each method adds it its own way
    from :attr:`KKTBlock.pairs`.
    """
    check_kkt_applicable(agent)
    blk = pyo.Block(concrete=True)
    model.add_component(name, blk)
    kkt = KKTBlock(agent, blk)
    n = len(agent.variables)
    index = {id(v): i for i, v in enumerate(agent.variables)}
    grad: list[list] = [[] for _ in range(n)]   # terms of ∂(s·f)/∂y_j

    constraints = list(agent.constraints) + list(shared_constraints or [])
    with FixedVariables(agent.parameters):
        repn = generate_standard_repn(agent.objective.expr, quadratic=True, compute_values=False)
        for v, coef in zip(repn.linear_vars, repn.linear_coefs):
            grad[index[id(v)]].append(agent.sense * coef)
        for (a, b), coef in zip(repn.quadratic_vars, repn.quadratic_coefs):
            i, j = index[id(a)], index[id(b)]
            grad[i].append(agent.sense * coef * b)
            grad[j].append(agent.sense * coef * a)
        kkt.linear_agent = not repn.quadratic_vars
        kkt.objective_constant = agent.sense * repn.constant
        con_repns = []
        for con in constraints:
            crepn = generate_standard_repn(con.body, quadratic=False, compute_values=False)
            if crepn.nonlinear_expr is not None:
                raise _unsupported(agent, f"constraint '{con.name}' is nonlinear in the agent's variables")
            con_repns.append((con, crepn))

    # One slack/multiplier pair per one-sided inequality and per finite variable bound.
    specs: list[tuple[object, list[tuple[int, object]], str, object]] = []  # slack, gradient, label, bound
    eq_specs: list[tuple[object, list[tuple[int, object]], object]] = []
    for con, crepn in con_repns:
        coefs = [(index[id(v)], c) for v, c in zip(crepn.linear_vars, crepn.linear_coefs) if id(v) in index]
        if not coefs:
            continue  # does not involve this agent's variables
        own = sum(c * agent.variables[i] for i, c in coefs)
        rest = con.body - own  # parameters' part of the body
        if con.equality:
            eq_specs.append((con.body - con.upper, coefs, con.upper - rest))
            continue
        if con.has_lb():
            specs.append((con.body - con.lower, coefs, f"{con.name} (lower)", con.lower - rest))
        if con.has_ub():
            specs.append((con.upper - con.body, [(i, -c) for i, c in coefs], f"{con.name} (upper)",
                          -(con.upper - rest)))
    for i, v in enumerate(agent.variables):
        if v.has_lb():
            specs.append((v - v.lower, [(i, 1.0)], f"{v.name} >= lower bound", v.lower))
        if v.has_ub():
            specs.append((v.upper - v, [(i, -1.0)], f"{v.name} <= upper bound", -v.upper))

    blk.mu = pyo.Var(range(len(specs)), within=pyo.NonNegativeReals, initialize=0.0)
    blk.pi = pyo.Var(range(len(eq_specs)), initialize=0.0)
    for k, (slack, coefs, label, bound_term) in enumerate(specs):
        for i, c in coefs:
            grad[i].append(-c * blk.mu[k])
        kkt.pairs.append(Pair(slack, blk.mu[k], label, bound_term))
    for e, (_, coefs, rhs) in enumerate(eq_specs):
        for i, c in coefs:
            grad[i].append(-c * blk.pi[e])
        kkt.equality_multipliers.append(blk.pi[e])
    kkt.dual_objective = _sum([blk.mu[k] * spec[3] for k, spec in enumerate(specs)]) + \
        _sum([blk.pi[e] * spec[2] for e, spec in enumerate(eq_specs)])
    blk.stationarity = pyo.Constraint(range(n), rule=lambda _, j: (_sum(grad[j]), 0.0))
    kkt.stationarity_rows = grad
    return kkt


def complementarity_residual(kkt: KKTBlock) -> float:
    """max_k |μ_k σ_k| at the current point (0 at an exact KKT point; nan without a point)."""
    if not kkt.pairs:
        return 0.0
    if any(p.multiplier.value is None for p in kkt.pairs) or any(
            v.value is None for v in kkt.agent.variables):
        return float("nan")
    return max(abs(float(pyo.value(p.multiplier)) * float(pyo.value(p.slack))) for p in kkt.pairs)
