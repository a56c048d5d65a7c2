"""What kind of problem a Pyomo model is (LP, QP, MILP, NLP ...), cheaply.

Used to refuse a model a backend cannot handle before any work is done and
to pick a default solver.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables


@dataclass(frozen=True)
class ModelClass:
    """Summary of a model's structure.

    Attributes
    ----------
    degree : int or None
        Highest polynomial degree over the active objective and constraints
        (None when some expression is not polynomial, e.g. ``exp``).
    has_integers : bool
        Some unfixed variable in an active component is binary or integer.
    n_vars, n_constraints : int
        Sizes of the active part.
    variables : tuple
        The unfixed variables of the active part (each once); not compared.
    """

    degree: int | None
    has_integers: bool
    n_vars: int
    n_constraints: int
    variables: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def kind(self) -> str:
        """``lp``, ``qp``, ``nlp`` with an ``mi`` prefix when integers appear."""
        if self.degree is not None and self.degree <= 1:
            base = "lp"
        elif self.degree == 2:
            base = "qp"
        else:
            base = "nlp"
        return ("mi" + base) if self.has_integers else base

    @property
    def features(self) -> set[str]:
        """The backend features (see ``registry.FEATURES``) a solver needs."""
        return {self.kind}


def classify(model: pyo.Block) -> ModelClass:
    """Classify the active part of ``model``.

    Quadratic *constraints* make the model an NLP for our purposes (HiGHS
    accepts quadratic objectives only), so ``qp`` means quadratic objective and
    linear constraints.
    """
    degree = 0
    variables = {}
    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    constraints = list(model.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    for obj in objectives:
        d = obj.expr.polynomial_degree()
        degree = None if d is None or degree is None else max(degree, d)
        for v in identify_variables(obj.expr, include_fixed=False):
            variables[id(v)] = v
    for con in constraints:
        d = con.body.polynomial_degree()
        if d is None or d > 1:
            d = 3 if d is not None else None  # quadratic constraints: NLP class
        degree = None if d is None or degree is None else max(degree, d)
        for v in identify_variables(con.body, include_fixed=False):
            variables[id(v)] = v
    has_int = any(not v.is_continuous() for v in variables.values())
    return ModelClass(degree, has_int, len(variables), len(constraints), tuple(variables.values()))


def objective_convexity_defect(model: pyo.Block) -> float:
    """How far a quadratic objective of ``model`` is from convex in its sense: ``max(0, -λ_min)``.

    ``λ_min`` is the smallest eigenvalue of the Hessian of ``s·f`` (``s = +1``
    minimise, ``-1`` maximise) in the unfixed variables; fixed variables and
    parameters count at their current values.  0 for a convex (or linear)
    objective, or one within ``PSD_TOL`` (relative to the largest coefficient: eigenvalue
    rounding), ``nan`` when the objective is not polynomial of degree ≤ 2.

    Example
    -------
    >>> m = pyo.ConcreteModel(); m.x = pyo.Var(); m.y = pyo.Var()
    >>> m.o = pyo.Objective(expr=m.x**2 - 3 * m.y**2)
    >>> objective_convexity_defect(m)
    6.0
    """
    from pyomo.repn.standard_repn import generate_standard_repn

    from gridgames.solvers.convexity import PSD_TOL, convexity_defect, quadratic_hessian

    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1:
        return 0.0
    repn = generate_standard_repn(objectives[0].expr, quadratic=True, compute_values=True)
    if repn.nonlinear_expr is not None:
        return float("nan")
    if not repn.quadratic_vars:
        return 0.0
    sense = 1.0 if objectives[0].sense == pyo.minimize else -1.0
    index: dict[int, int] = {}
    pairs = [(index.setdefault(id(a), len(index)), index.setdefault(id(b), len(index)))
             for a, b in repn.quadratic_vars]
    rows, cols = np.array(pairs, np.int64).T
    coef = sense * np.array([float(c) for c in repn.quadratic_coefs])
    defect = convexity_defect(quadratic_hessian(rows, cols, coef, len(index)))
    # rounding: eigvalsh gives -2.6e-16 on a convex rank-deficient Hessian (a comfort term on a total), which
    # sent a household QP to SCIP (1.2-6 s against HiGHS' 0.05 s)
    return 0.0 if defect <= PSD_TOL * max(1.0, float(np.abs(coef).max())) else defect
