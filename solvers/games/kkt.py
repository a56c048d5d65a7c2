"""KKT conditions of a convex agent (follower or player), written into a Pyomo block.

For an agent with decisions ``y`` and parameters ``x`` (leader variables or
other players' strategies) whose problem, for fixed ``x``, is::

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

Smooth nonlinear agents (``smooth=True``, the ``kkt`` method only): an
objective that is not quadratic, or a constraint that is nonlinear in ``y``,
is differentiated symbolically (:mod:`~gridgames.solvers.games.smooth`) and
the multipliers multiply the exact constraint gradients.  Its convexity is
*sampled* (``KKTBlock.convexity == "sampled"``) instead of proved: a
minimised objective and a ``g ≤ ub`` body must be convex, a ``g ≥ lb`` body
concave, and a nonlinear equality is refused.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.common.numeric_types import native_numeric_types
from pyomo.core.base.var import VarData
from pyomo.core.expr.calculus.diff_with_pyomo import DifferentiationException
from pyomo.repn.standard_repn import generate_standard_repn

from gridgames.solvers.convexity import convexity_defect, quadratic_hessian
from gridgames.solvers.errors import ModelError, UnsupportedModelError
from gridgames.solvers.games.smooth import sampled_convexity_violation, symbolic_gradient
from gridgames.solvers.games.structure import Agent, FixedVariables, bound_of

_CONVEXITY_TOL = 1e-9


_KIND_TEXT = {"lower": "{} (lower)", "upper": "{} (upper)", "lb": "{} >= lower bound",
              "ub": "{} <= upper bound"}


@dataclass
class Pair:
    """One complementarity pair ``0 ≤ slack ⟂ multiplier ≥ 0``.

    ``source`` is the constraint (``kind`` lower/upper side) or the variable
    (``kind`` lb/ub) the pair comes from; the label is built only when a
    message needs it (Pyomo names are slow to compute for 10⁵ pairs).
    """

    slack: object          # Pyomo expression, ≥ 0 when feasible
    multiplier: VarData
    source: object
    kind: str
    bound_term: object = 0.0   # t_k in σ_k = a_kᵀy − t_k (for the dual objective)

    @property
    def label(self) -> str:
        return _KIND_TEXT[self.kind].format(self.source.name)

    @property
    def is_variable_bound(self) -> bool:
        return self.kind in ("lb", "ub")


@dataclass
class KKTBlock:
    """The KKT system of one agent, attached to the model as a block."""

    agent: Agent
    block: pyo.Block
    pairs: list[Pair] = field(default_factory=list)
    equality_multipliers: list[VarData] = field(default_factory=list)
    #: the constraint each equality multiplier belongs to
    equality_sources: list[object] = field(default_factory=list)
    #: Σ_k μ_k·(bound term) + Σ_e π_e·(rhs term): the dual objective of a linear agent
    dual_objective: object = 0.0
    #: the agent's objective written in its own sense (s·f), linear part only
    linear_agent: bool = False
    #: the constant part of s·f (terms without the agent's variables)
    objective_constant: object = 0.0
    stationarity_rows: list[object] = field(default_factory=list)
    #: "proved" (linear/quadratic) or "sampled" (a smooth nonlinear part checked at sampled points)
    convexity: str = "proved"


def _unsupported(agent: Agent, what: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"{agent.name}: {what}. KKT-based methods need a convex agent (a linear or quadratic objective "
        f"with a positive semidefinite Hessian in its own variables, linear constraints, no integer variables; "
        f"method 'kkt' also takes smooth convex nonlinear objectives and constraints); for a bilevel follower use "
        f"method='nested', "
        f"for a Nash player method='gauss-seidel' or 'jacobi' (best responses by a solver for its class)")


class NotQuadraticError(UnsupportedModelError):
    """A term that is not linear/quadratic in the agent's own variables (``kkt`` may still take it)."""


def analyse_quadratic_agent(agent: Agent, constraints: list | None = None, *,
                            objective: bool = True) -> tuple[object, list]:
    """Standard representations of the agent's objective and constraints, checked.

    With the agent's parameters fixed, the objective must be linear or quadratic
    and the constraints linear in the agent's own variables (coefficients may
    depend on the parameters), with no integer variables and a convex objective.

    ``objective=False`` leaves the objective out (its gradient and convexity come from elsewhere:
    lifted totals); the objective repn returned is then None.

    Returns
    -------
    (objective repn, [(constraint, repn), ...])
        Coefficients are Pyomo expressions of the parameters (``compute_values=False``).

    Raises
    ------
    UnsupportedModelError
        Naming the agent, the offending variable or term, and suggesting ``nested``.
    """
    for v in agent.variables:
        if not v.is_continuous():
            raise _unsupported(agent, f"variable '{v.name}' is integer")
    constraints = agent.constraints if constraints is None else constraints
    with FixedVariables(agent.parameters):
        repn = generate_standard_repn(agent.objective.expr, quadratic=True, compute_values=False) \
            if objective else None
        if repn is not None and repn.nonlinear_expr is not None:
            raise _not_quadratic(agent, f"objective term '{repn.nonlinear_expr}' is not linear or quadratic "
                                      "in the agent's own variables")
        con_repns = []
        for con in constraints:
            crepn = generate_standard_repn(con.body, quadratic=False, compute_values=False)
            if crepn.nonlinear_expr is not None:
                raise _not_quadratic(agent, f"constraint '{con.name}' is nonlinear in the agent's own "
                                          f"variables ('{crepn.nonlinear_expr}')")
            con_repns.append((con, crepn))
    if repn is not None:
        _check_convex(agent, repn)
    return repn, con_repns


def _not_quadratic(agent: Agent, what: str) -> NotQuadraticError:
    return NotQuadraticError(str(_unsupported(agent, what)))


def check_kkt_applicable(agent: Agent) -> None:
    """Refuse integer variables and non-convex or non-quadratic agents, naming the term."""
    analyse_quadratic_agent(agent)


def _check_convex(agent: Agent, repn) -> None:
    """The Hessian of s·f in the agent's variables must be positive semidefinite."""
    if not repn.quadratic_vars:
        return
    index = {id(v): i for i, v in enumerate(agent.variables)}
    n_terms = len(repn.quadratic_vars)
    rows, cols, coef = np.empty(n_terms, int), np.empty(n_terms, int), np.empty(n_terms)
    for t, ((a, b), c) in enumerate(zip(repn.quadratic_vars, repn.quadratic_coefs)):
        if not _is_constant(c):
            raise _not_quadratic(agent, f"the quadratic coefficient '{c}' of {a.name}*{b.name} depends on "
                                      "other agents' variables, so convexity cannot be certified")
        rows[t], cols[t], coef[t] = index[id(a)], index[id(b)], agent.sense * float(pyo.value(c))
    diagonal = rows == cols
    smallest = -convexity_defect(quadratic_hessian(rows, cols, coef, len(agent.variables)))
    if smallest < -_CONVEXITY_TOL * max(1.0, float(np.abs(coef).max())):
        t = int(np.argmin(np.where(diagonal, coef, -np.abs(coef))))
        a, b = repn.quadratic_vars[t]
        shape, sense = ("convex", "minimisation") if agent.sense > 0 else ("concave", "maximisation")
        raise _unsupported(agent, f"the objective is not {shape} for a {sense}: its Hessian has eigenvalue "
                                  f"{smallest * agent.sense:.4g} (look at the term {coef[t] * agent.sense:+.4g}"
                                  f"*{a.name}*{b.name})")


def _is_constant(expr) -> bool:
    """True for numbers and expressions of Params only (no variables, fixed or not)."""
    if isinstance(expr, (int, float)):
        return True
    from pyomo.core.expr.visitor import identify_variables
    return next(identify_variables(expr, include_fixed=True), None) is None


def _sum(terms: list) -> object:
    return sum(terms) if terms else 0.0


def _quadratic_gradient(agent: Agent, repn) -> list[list]:
    """Terms of ∂(s·f)/∂y_j read off a linear/quadratic standard representation."""
    index = {id(v): i for i, v in enumerate(agent.variables)}
    grad: list[list] = [[] for _ in agent.variables]
    for v, coef in zip(repn.linear_vars, repn.linear_coefs):
        grad[index[id(v)]].append(agent.sense * coef)
    for (a, b), coef in zip(repn.quadratic_vars, repn.quadratic_coefs):
        i, j = index[id(a)], index[id(b)]
        grad[i].append(agent.sense * coef * b)
        grad[j].append(agent.sense * coef * a)
    return grad


def _linear_terms(agent: Agent, con, crepn, index: dict[int, int]) -> tuple[list[tuple[int, object]], object]:
    """``[(j, ∂body/∂y_j)]`` of a constraint linear in y, and the parameters' part of its body."""
    coefs = [(index[id(v)], c) for v, c in zip(crepn.linear_vars, crepn.linear_coefs) if id(v) in index]
    own = sum(c * agent.variables[i] for i, c in coefs) if coefs else 0.0
    return coefs, con.body - own


def _smooth_terms(agent: Agent, constraints: list) -> tuple[list[list], list, str]:
    """Objective gradient and constraint terms of a smooth agent; convexity proved or sampled.

    A term Pyomo cannot differentiate (``Expr_if``, ``abs``) is refused, naming the agent.
    """
    try:
        return _differentiated_terms(agent, constraints)
    except DifferentiationException as exc:
        raise _unsupported(agent, f"a term has no symbolic derivative ({exc}): state it without "
                                  "Expr_if/abs (e.g. a price cap min(a, b) as a variable p <= a, p <= b "
                                  "the player optimises, or an epigraph variable)") from None


def _differentiated_terms(agent: Agent, constraints: list) -> tuple[list[list], list, str]:
    """:func:`_smooth_terms` without the error translation.

    Quadratic objectives and linear constraints keep the exact representation
    path; anything else is differentiated symbolically and its convexity
    sampled (see :mod:`~gridgames.solvers.games.smooth`).
    """
    convexity = "proved"
    with FixedVariables(agent.parameters):
        repn = generate_standard_repn(agent.objective.expr, quadratic=True, compute_values=False)
        crepns = [generate_standard_repn(c.body, quadratic=False, compute_values=False) for c in constraints]
    if repn.nonlinear_expr is None and all(_is_constant(c) for c in repn.quadratic_coefs):
        _check_convex(agent, repn)
        grad = _quadratic_gradient(agent, repn)
    else:
        expr = agent.sense * agent.objective.expr
        gradient = symbolic_gradient(expr, agent.variables)
        why = sampled_convexity_violation(expr, agent.variables, agent.parameters, gradient)
        if why:
            sense = "minimisation" if agent.sense > 0 else "maximisation"
            raise _unsupported(agent, f"the objective is not {'convex' if agent.sense > 0 else 'concave'} "
                                      f"for a {sense}: {why}")
        grad = [[g] for g in gradient]
        convexity = "sampled"
    index = {id(v): i for i, v in enumerate(agent.variables)}
    terms = []
    for con, crepn in zip(constraints, crepns):
        if crepn.nonlinear_expr is None:
            terms.append((con, *_linear_terms(agent, con, crepn, index)))
            continue
        if con.equality:
            raise _unsupported(agent, f"constraint '{con.name}' is a nonlinear equality in the agent's own "
                                      "variables, which is not a convex set")
        gradient = symbolic_gradient(con.body, agent.variables)
        for side, expr, shape in (("upper", con.body, "convex"), ("lower", -con.body, "concave")):
            has = con.has_ub() if side == "upper" else con.has_lb()
            why = has and sampled_convexity_violation(
                expr, agent.variables, agent.parameters,
                gradient if side == "upper" else [-g for g in gradient])
            if why:
                raise _unsupported(agent, f"constraint '{con.name}' ({side} side) needs a {shape} body: {why}")
        terms.append((con, [(i, g) for i, g in enumerate(gradient)
                            if not (isinstance(g, (int, float)) and g == 0)], None))
        convexity = "sampled"
    return grad, terms, convexity


def nonconvexity(agent: Agent) -> str | None:
    """Why an agent's problem may not be convex in its own variables, or None.

    Proved for quadratic objectives with linear constraints, sampled for smooth
    nonlinear ones (:mod:`~gridgames.solvers.games.smooth`), as the KKT methods
    check it.  A local solver's answer for an agent with a reason here may not
    be its best response.
    """
    try:
        _smooth_terms(agent, list(agent.constraints))
    except (UnsupportedModelError, NotQuadraticError) as exc:
        return str(exc).split(". KKT-based methods")[0]
    return None


def build_kkt_block(model: pyo.Block, agent: Agent, name: str,
                    shared_constraints: list | None = None, *, smooth: bool = False,
                    objective_gradient: list[list] | None = None) -> KKTBlock:
    """Attach the agent's stationarity conditions and multipliers to ``model.<name>``.

    Complementarity is *not* added here; each method adds it its own way
    from :attr:`KKTBlock.pairs`.  ``smooth=True`` also takes smooth convex
    nonlinear agents (exact symbolic gradients, sampled convexity; see the
    module docstring); the default refuses them.  ``objective_gradient``
    replaces the objective's terms of each stationarity row (the same
    derivative written through lifted totals,
    :mod:`~gridgames.solvers.games.kkt_lifting`); the checks stay on the
    agent's own objective.
    """
    constraints = list(agent.constraints) + list(shared_constraints or [])
    blk = pyo.Block(concrete=True)
    try:
        repn, con_repns = analyse_quadratic_agent(agent, constraints, objective=objective_gradient is None)
    except NotQuadraticError:
        if not smooth:
            raise
        grad, terms, convexity = _smooth_terms(agent, constraints)
        model.add_component(name, blk)
        kkt = KKTBlock(agent, blk, convexity=convexity)
    else:
        model.add_component(name, blk)
        kkt = KKTBlock(agent, blk)
        index = {id(v): i for i, v in enumerate(agent.variables)}
        terms = [(con, *_linear_terms(agent, con, crepn, index)) for con, crepn in con_repns]
        if repn is not None:
            grad = _quadratic_gradient(agent, repn)
            kkt.linear_agent = not repn.quadratic_vars
            kkt.objective_constant = agent.sense * repn.constant
    if objective_gradient is not None:
        grad = [list(terms) for terms in objective_gradient]
    n = len(agent.variables)

    # One slack/multiplier pair per one-sided inequality and per finite variable bound.
    # rest is the parameters' part of a linear body (None for a nonlinear one: no dual objective term)
    specs: list[tuple[object, list[tuple[int, object]], object, str, object]] = []  # slack, grad, source, kind, t
    eq_specs: list[tuple[object, list[tuple[int, object]], object]] = []
    for con, coefs, rest in terms:
        if not coefs:
            continue  # does not involve this agent's variables
        if con.equality:
            eq_specs.append((con.body - con.upper, coefs, con.upper - rest))
            kkt.equality_sources.append(con)
            continue
        if con.has_lb():
            specs.append((con.body - con.lower, coefs, con, "lower", 0.0 if rest is None else con.lower - rest))
        if con.has_ub():
            specs.append((con.upper - con.body, [(i, -c) for i, c in coefs], con, "upper",
                          0.0 if rest is None else -(con.upper - rest)))
    for i, v in enumerate(agent.variables):
        if v.has_lb():
            specs.append((v - bound_of(v, "lower"), [(i, 1.0)], v, "lb", bound_of(v, "lower")))
        if v.has_ub():
            specs.append((bound_of(v, "upper") - v, [(i, -1.0)], v, "ub", -bound_of(v, "upper")))

    blk.mu = pyo.Var(range(len(specs)), within=pyo.NonNegativeReals, initialize=0.0)
    blk.pi = pyo.Var(range(len(eq_specs)), initialize=0.0)
    for k, (slack, coefs, source, kind, bound_term) in enumerate(specs):
        for i, c in coefs:
            grad[i].append(-c * blk.mu[k])
        kkt.pairs.append(Pair(slack, blk.mu[k], source, kind, bound_term))
    for e, (_, coefs, rhs) in enumerate(eq_specs):
        for i, c in coefs:
            grad[i].append(-c * blk.pi[e])
        kkt.equality_multipliers.append(blk.pi[e])
    kkt.dual_objective = _sum([blk.mu[k] * spec[4] for k, spec in enumerate(specs)]) + \
        _sum([blk.pi[e] * spec[2] for e, spec in enumerate(eq_specs)])
    rows = [_sum(g) for g in grad]
    for v, row in zip(agent.variables, rows):
        if row.__class__ in native_numeric_types and row != 0:   # no bound, no constraint, a linear pull
            raise ModelError(f"{agent.name}: its objective changes at the constant rate {row:g} in '{v.name}', which "
                             "no bound or constraint limits: the problem is unbounded (no optimum, no KKT point)")
    blk.stationarity = pyo.Constraint(range(n), rule=lambda _, j: (rows[j], 0.0)
                                      if rows[j].__class__ not in native_numeric_types else pyo.Constraint.Skip)
    kkt.stationarity_rows = grad
    return kkt


def complementarity_residual(kkt: KKTBlock) -> float:
    """``max_k |μ_k σ_k|`` at the current point (0 at an exact KKT point; nan without a point)."""
    if not kkt.pairs:
        return 0.0
    if any(p.multiplier.value is None for p in kkt.pairs) or any(
            v.value is None for v in kkt.agent.variables):
        return float("nan")
    return max(abs(float(pyo.value(p.multiplier)) * float(pyo.value(p.slack))) for p in kkt.pairs)


#: followers with more rows or variables than this are not checked for dependent rows (a dense rank test)
DEPENDENT_ROWS_LIMIT = 400


def dependent_rows(agent: Agent) -> list[str]:
    """Names of the agent's linear constraints that repeat earlier ones: a row in the span of the
    equality rows before it, or parallel to an earlier row.  At a point where such rows are active
    the constraint gradients are dependent (LICQ fails): the multipliers are not unique and an
    interior-point solve of the KKT conditions may fail.  Empty for large agents (not checked)."""
    index = {id(v): j for j, v in enumerate(agent.variables)}
    if len(agent.constraints) > DEPENDENT_ROWS_LIMIT or len(index) > DEPENDENT_ROWS_LIMIT:
        return []
    rows, equality, names = [], [], []
    with FixedVariables(agent.parameters):
        for con in agent.constraints:
            repn = generate_standard_repn(con.body, quadratic=False)
            if repn.nonlinear_expr is not None:
                continue
            row = np.zeros(len(index))
            for v, c in zip(repn.linear_vars, repn.linear_coefs):
                if id(v) in index:
                    row[index[id(v)]] += float(c)
            if np.any(row):
                rows.append(row / np.linalg.norm(row))
                equality.append(bool(con.equality))
                names.append(con.name)
    out = []
    for k, row in enumerate(rows):
        eqs = np.array([rows[i] for i in range(k) if equality[i]])
        spanned = False
        if eqs.size:
            coef = np.linalg.lstsq(eqs.T, row, rcond=None)[0]
            spanned = float(np.linalg.norm(eqs.T @ coef - row)) < 1e-9
        parallel = any(abs(abs(float(rows[i] @ row)) - 1.0) < 1e-12 for i in range(k))
        if spanned or parallel:
            out.append(names[k])
    return out


def dependent_rows_note(agents: list[Agent]) -> str:
    """Why Ipopt may have failed on the KKT conditions: followers with repeated rows (LICQ fails)."""
    found = [(a.name, rows) for a in agents[:20] for rows in [dependent_rows(a)] if rows]
    if not found:
        return ""
    name, rows = found[0]
    return (f"; follower '{name}' has constraint rows that repeat earlier ones ({', '.join(rows[:3])}): where "
            "they are active its multipliers are not unique (LICQ fails), which the interior-point KKT solve "
            "may not survive: drop the redundant rows, or use method='kkt-bigm' or 'kkt-sos1'")
