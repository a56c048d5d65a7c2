"""Follower duals for the leader: BilevelJuMP's ``DualOf`` for Pyomo models.

``dual_of(constraint)`` returns a variable the leader may use in its
objective or constraints (a market-clearing price set by a follower's
balance constraint, a congestion rent ...).  It is a placeholder: the KKT
reformulations (``kkt``, ``kkt-bigm``, ``kkt-sos1``, ``strong-duality``)
bind it to the constraint's multiplier, in the follower's minimisation
form ``s·f`` (``s = −1`` for a maximiser):

* an equality ``body = b``: its multiplier ``π``, which is ``∂(s·f*)/∂b``;
* an inequality: ``μ_lower − μ_upper``, the same sensitivity for a shift of
  both bounds (``≥ 0`` for a ``≥`` row of a minimiser, ``≤ 0`` for a ``≤`` row).

An equality's multiplier is free, and a price times a leader quantity is
a product SCIP must bound: under ``kkt-bigm``/``kkt-sos1`` give the
placeholder bounds (``price.setub(100)``) unless the model bounds it
otherwise; ``strong-duality`` and ``kkt`` need none.  A bound of yours that
the placeholder reaches at the answer makes the status ``feasible``
(:func:`placeholder_bounds_active`).

Example (a generator dispatch whose balance price the leader pays)::

    m.iso.balance = pyo.Constraint(expr=m.iso.g1 + m.iso.g2 == m.d)
    price = gg.dual_of(m.iso.balance)
    m.obj = pyo.Objective(expr=30*m.d - m.d**2 - price*m.d, sense=pyo.maximize)
    gg.solve_bilevel(m, m.iso, method="kkt-bigm")
"""
from __future__ import annotations

import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.core.base.constraint import ConstraintData
from pyomo.core.base.var import VarData

from gridgames.solvers.errors import ModelError

_MAP = "_gg_dual_of_map"
_VARS = "_gg_dual_of"
_BIND = "_gg_dual_of_bind"


def dual_of(constraint: ConstraintData) -> VarData:
    """The multiplier of a follower's ``constraint`` as a variable of the leader's problem.

    The same constraint always gives the same variable.  Only the KKT-based
    methods can solve a model that uses it (``nested`` and ``analytic`` raise).
    """
    if not isinstance(constraint, ConstraintData) or constraint.is_indexed():
        raise ModelError(f"dual_of needs one constraint (a ConstraintData), got {type(constraint).__name__}")
    model = constraint.model()
    if not hasattr(model, _MAP):
        setattr(model, _MAP, ComponentMap())
        model.add_component(_VARS, pyo.Var(pyo.Any, dense=False))
    mapping = getattr(model, _MAP)
    if constraint not in mapping:
        mapping[constraint] = getattr(model, _VARS)[len(mapping)]
    return mapping[constraint]


def dual_variables(model: pyo.Block) -> ComponentMap:
    """Constraint → placeholder variable for every ``dual_of`` call on ``model`` (empty if none)."""
    return getattr(model.model(), _MAP, ComponentMap())


def bind_duals(model: pyo.Block, blocks: list) -> None:
    """Add ``placeholder = multiplier`` rows for every ``dual_of`` constraint (in a block removed with
    the first KKT block).

    Raises
    ------
    ModelError
        A ``dual_of`` constraint that is not a constraint of any follower.
    """
    mapping = dual_variables(model)
    if not len(mapping) or not blocks:
        return
    rows = []
    for con, var in mapping.items():
        expr = None
        for kkt in blocks:
            for src, pi in zip(kkt.equality_sources, kkt.equality_multipliers):
                if src is con:
                    expr = pi
            sides = [(p.multiplier, +1 if p.kind == "lower" else -1) for p in kkt.pairs if p.source is con]
            if sides:
                expr = sum(sign * mu for mu, sign in sides)
        if expr is None:
            raise ModelError(f"dual_of('{con.name}'): not a constraint of any follower (or it does not involve "
                             "the follower's variables), so it has no multiplier")
        rows.append((var, expr))
    blocks[0].block.add_component(_BIND, pyo.Constraint(range(len(rows)), rule=lambda _, i: rows[i][0] == rows[i][1]))


def placeholder_bounds_active(model: pyo.Block, tol: float = 1e-6) -> list[str]:
    """Names of ``dual_of`` placeholders sitting at a bound the user gave them."""
    active = []
    for con, var in dual_variables(model).items():
        if var.value is None:
            continue
        for bound in (var.lb, var.ub):
            if bound is not None and abs(var.value - bound) <= tol * max(1.0, abs(bound)):
                active.append(f"dual_of({con.name})")
    return active
