"""The joint EPEC method: every leader's regularised MPEC optimality conditions stacked in one system.

Leader i's problem, the other leaders fixed, is an MPEC over the followers'
KKT conditions (stationarity ``h(x, y, λ) = 0``, ``s(x, y) ≥ 0``, ``λ ≥ 0``),
whose complementarity is regularised Scholtes-style: ``λ_j s_j(x, y) ≤ ε``.
That regularised problem is an ordinary NLP in leader i's variables ``x_i``
and the *shared* follower variables ``y`` and multipliers ``λ``.  Its own
first-order conditions are, with leader i's multipliers ``ν_i`` (equalities),
``α_i, β_i ≥ 0`` (lower/upper sides of inequalities) and ``γ_i, δ_i ≥ 0``
(variable bounds)::

    ∇_{x_i, y, λ} [ φ_i + ν_iᵀ c_E + (β_i − α_i)ᵀ c_I ] − γ_i + δ_i = 0
    α_i ⊥ c_I − lower ≥ 0,  β_i ⊥ upper − c_I ≥ 0,  γ_i ⊥ z − lb ≥ 0,  δ_i ⊥ ub − z ≥ 0

with ``φ_i`` leader i's objective written for minimisation.  Every leader has
its own copy of the multipliers of the follower system (each prices the
shared constraints its own way).  The joint method writes all leaders'
conditions, the followers' regularised KKT system once, and the leaders' own
complementarity regularised the same way (``α s ≤ ε``), and solves the
result as one feasibility NLP (zero objective, Ipopt), for ε = ε₀, ε₀·f, … →
``eps_final``, each solve warm-started from the last.

Derivatives are exact symbolic ones (:func:`~gridgames.solvers.games.smooth.symbolic_gradient`).

Known limit: a solution of this system is a point where every leader's
regularised problem is *stationary*, not necessarily where each leader's
MPEC is globally (or even locally) optimal, and the stacked system may have
no solution at all when the EPEC has none in pure strategies.  That is why
:func:`~gridgames.solvers.games.epec.solve_epec` certifies the answer by the
same leaders'-gap re-solve as diagonalisation and reports it honestly.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pyomo.environ as pyo
from pyomo.common.modeling import unique_component_name
from pyomo.core.expr.visitor import identify_variables

from gridgames.solvers.games.kkt import KKTBlock
from gridgames.solvers.games.kkt_methods import Reformulation
from gridgames.solvers.games.modes import Scholtes
from gridgames.solvers.games.smooth import symbolic_gradient
from gridgames.solvers.games.structure import Agent, bound_of
from gridgames.solvers.registry import get_solver
from gridgames.solvers.result import SolveResult

log = logging.getLogger(__name__)

#: default smallest regularisation of the leaders' and followers' complementarity
EPS_FINAL = 1e-9


@dataclass
class JointOutcome:
    """What one run of the joint method reached."""

    result: SolveResult
    eps_reached: float | None
    solves: int
    rows: int = 0
    columns: int = 0
    eps_path: list[float] = field(default_factory=list)


def _sum(terms: list) -> object:
    return sum(terms[1:], terms[0]) if terms else 0.0


def _free_vars(expr: object) -> list:
    return list(identify_variables(expr, include_fixed=False))


def _leader_conditions(blk: pyo.Block, k: int, leader: Agent, others: set[int], constraints: list,
                       shared_vars: list, eps: pyo.Param) -> None:
    """Add leader k's stationarity and regularised complementarity to ``blk`` (see the module docstring)."""
    z = [v for v in leader.variables if not v.fixed] + shared_vars
    zid = {id(v) for v in z}
    phi = leader.objective.expr if leader.sense == 1 else -leader.objective.expr
    rows: list[list] = [[g] for g in symbolic_gradient(phi, z)]
    eq, ineq = [], []
    for con in constraints:
        if id(con) in others or not any(id(v) in zid for v in _free_vars(con.body)):
            continue
        if con.equality:
            eq.append(symbolic_gradient(con.body, z))
            continue
        if con.has_lb():
            ineq.append(con.body - con.lower)
        if con.has_ub():
            ineq.append(con.upper - con.body)
    bounds = [(v - bound_of(v, "lower"), j, 1.0) for j, v in enumerate(z) if v.has_lb()] + \
             [(bound_of(v, "upper") - v, j, -1.0) for j, v in enumerate(z) if v.has_ub()]
    nu = pyo.Var(range(len(eq)), initialize=0.0)
    alpha = pyo.Var(range(len(ineq) + len(bounds)), within=pyo.NonNegativeReals, initialize=0.0)
    blk.add_component(f"nu_{k}", nu)
    blk.add_component(f"alpha_{k}", alpha)
    for e, grad in enumerate(eq):
        for j, g in enumerate(grad):
            if not (isinstance(g, float) and g == 0.0):
                rows[j].append(nu[e] * g)
    slacks = []
    for a, slack in enumerate(ineq):
        for j, g in enumerate(symbolic_gradient(slack, z)):
            if not (isinstance(g, float) and g == 0.0):
                rows[j].append(-alpha[a] * g)
        slacks.append(slack)
    for b, (slack, j, sign) in enumerate(bounds, start=len(ineq)):
        rows[j].append(-sign * alpha[b])
        slacks.append(slack)
    keep = [j for j, r in enumerate(rows) if any(not (isinstance(t, (int, float)) and t == 0) for t in r)]
    blk.add_component(f"stationarity_{k}", pyo.Constraint(keep, rule=lambda _, j: (_sum(rows[j]), 0.0)))
    blk.add_component(f"complementarity_{k}", pyo.Constraint(
        range(len(slacks)), rule=lambda _, a: alpha[a] * slacks[a] <= eps))


def solve_joint(model: pyo.Block, leaders: Sequence[Agent], followers: Sequence[Agent], *, solver: str = "ipopt",
                eps_start: float = 1e-2, eps_final: float = EPS_FINAL, eps_factor: float = 1e-2,
                solver_options: dict | None = None) -> JointOutcome:
    """Solve the stacked leaders' + followers' conditions (module docstring) for ε → ``eps_final``.

    The leaders' and followers' objectives are deactivated while it runs and
    every added component is removed afterwards; the point reached (the last
    ε that solved) stays loaded.
    """
    start = time.perf_counter()
    nlp = get_solver(solver, **(solver_options or {}))
    leader_objs = [l.objective for l in leaders]
    for o in leader_objs:
        o.deactivate()
    blk_name = unique_component_name(model, "_gg_epec_joint")
    try:
        with Reformulation(model, list(followers), smooth=True) as blocks:
            blk = pyo.Block(concrete=True)
            model.add_component(blk_name, blk)
            blk.eps = pyo.Param(mutable=True, initialize=eps_start)
            for kkt in blocks:
                Scholtes(eps_start).add(kkt)
            _stack_leaders(model, blk, leaders, blocks)
            blk.zero = pyo.Objective(expr=0.0 * _anchor(leaders))
            outcome = _eps_loop(model, blk, blocks, nlp, eps_start, eps_final, eps_factor)
            outcome.rows = sum(1 for _ in model.component_data_objects(pyo.Constraint, active=True))
            outcome.columns = sum(1 for v in model.component_data_objects(pyo.Var) if not v.fixed)
    finally:
        if model.component(blk_name) is not None:   # also after an error: the user's model is left as it was
            model.del_component(blk_name)
        for o in leader_objs:
            o.activate()
    outcome.result.solve_time = time.perf_counter() - start
    return outcome


def _anchor(leaders: Sequence[Agent]) -> object:
    return next(v for l in leaders for v in l.variables if not v.fixed)


def _stack_leaders(model: pyo.Block, blk: pyo.Block, leaders: Sequence[Agent], blocks: list[KKTBlock]) -> None:
    shared = [v for f in (k.agent for k in blocks) for v in f.variables if not v.fixed]
    shared += [p.multiplier for k in blocks for p in k.pairs] + [m for k in blocks for m in k.equality_multipliers]
    constraints = list(model.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    for k, leader in enumerate(leaders):
        others = {id(c) for j, l in enumerate(leaders) if j != k for c in l.constraints}
        _leader_conditions(blk, k, leader, others, constraints, shared, blk.eps)


def _eps_loop(model: pyo.Block, blk: pyo.Block, blocks: list[KKTBlock], nlp, eps_start: float,
              eps_final: float, eps_factor: float) -> JointOutcome:
    eps, reached, solves, path = eps_start, None, 0, []
    saved: list | None = None
    last = None
    variables = list(model.component_data_objects(pyo.Var, descend_into=True))
    while True:
        blk.eps.set_value(eps)
        for kkt in blocks:
            kkt.block.eps.set_value(eps)
        last = nlp.solve(model)
        solves += 1
        log.info("joint EPEC eps=%.1e status=%s", eps, last.status)
        if not last.ok:
            if saved is not None:
                for v, x in zip(variables, saved):
                    v.set_value(x, skip_validation=True)
            break
        reached, saved = eps, [v.value for v in variables]
        path.append(eps)
        if eps <= eps_final:
            break
        eps = max(eps * eps_factor, eps_final)
    return JointOutcome(last, reached, solves, eps_path=path)
