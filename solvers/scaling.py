"""How widely a model's coefficients spread: a hint when a solver's absolute tolerances may decide its answer.

Solvers compare residuals and reduced costs with absolute tolerances (SCIP: coefficients below
1e-9 are zero, rows hold to 1e-6; HiGHS: dual tolerance 1e-7).  A model stated in units that make
some coefficients tiny (a discomfort weight of 0.8e-6 $/Wh², a cost slope of 2e-8) next to large
ones (bounds of 12,000 Wh) can then be called infeasible, or optimal at a wrong point.

>>> import pyomo.environ as pyo
>>> m = pyo.ConcreteModel(); m.x = pyo.Var(); m.c = pyo.Constraint(expr=2e-8 * m.x <= 12000)
>>> coefficient_range(m)
(2e-08, 12000.0)
>>> scaling_note(m)[:40]
'; the model is badly scaled: coefficient'
"""
from __future__ import annotations

import pyomo.environ as pyo
from pyomo.repn.standard_repn import generate_standard_repn

#: coefficients below this (absolute) or a spread above :data:`WIDE_SPREAD` make :func:`scaling_note` speak
TINY = 1e-7
WIDE_SPREAD = 1e10


def coefficient_range(model: pyo.Block, skip: tuple = ()) -> tuple[float, float] | None:
    """Smallest and largest nonzero absolute coefficient (linear, quadratic, constant and row bounds) of the active
    objectives (but those in ``skip``) and constraints; None when there is none or a term is not polynomial of
    degree ≤ 2."""
    values: list[float] = []
    left_out = {id(o) for o in skip}
    parts = [(o.expr, ()) for o in model.component_data_objects(pyo.Objective, active=True, descend_into=True)
             if id(o) not in left_out]
    parts += [(c.body, (c.lower, c.upper))
              for c in model.component_data_objects(pyo.Constraint, active=True, descend_into=True)]
    for expr, bounds in parts:
        repn = generate_standard_repn(expr, quadratic=True, compute_values=True)
        if repn.nonlinear_expr is not None:
            return None
        values += [abs(float(c)) for c in list(repn.linear_coefs) + list(repn.quadratic_coefs)]
        values += [abs(float(pyo.value(b))) for b in bounds if b is not None]
    values = [v for v in values if v > 0.0]
    return (min(values), max(values)) if values else None


def scaling_note(model: pyo.Block, skip: tuple = ()) -> str:
    """``"; the model is badly scaled: ..."`` when :func:`coefficient_range` finds a coefficient below
    :data:`TINY` or a spread above :data:`WIDE_SPREAD`; ``""`` otherwise.  ``skip``: objectives left out
    (a bilevel leader's cannot make the model infeasible; its followers' become rows of the reformulation)."""
    found = coefficient_range(model, skip)
    if found is None:
        return ""
    low, high = found
    if low >= TINY and high / low <= WIDE_SPREAD:
        return ""
    return (f"; the model is badly scaled: coefficients from {low:.1e} to {high:.1e} (a spread of {high / low:.0e}), "
            "where solvers' absolute tolerances (1e-9 to 1e-6) can make a feasible model look infeasible or stop "
            "at a wrong point: restate it in units that bring its coefficients within about 1e-4 to 1e4")


#: HiGHS drops matrix and Hessian entries below this (its ``small_matrix_value``)
HIGHS_SMALL = 1e-9


def smallest_hessian_entry(model: pyo.Block) -> float | None:
    """The smallest nonzero absolute quadratic coefficient of the active objective (None: no quadratic term)."""
    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1:
        return None
    repn = generate_standard_repn(objectives[0].expr, quadratic=True, compute_values=True)
    found = [abs(float(c)) for c in repn.quadratic_coefs if float(c) != 0.0]
    return min(found) if found else None
