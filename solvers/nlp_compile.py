"""Translate a Pyomo model into index arrays an NLP solver can evaluate with numpy.

:func:`compile_model` runs once per model *structure*.  For every active
component it takes the standard representation with symbolic coefficients
(:func:`~gridgames.solvers.quick_repn.quick_repn`: the sums, products and
squares large models are made of read by node class, the rest by Pyomo's
``generate_standard_repn(..., quadratic=True, compute_values=False)``):

* linear and quadratic parts become (row, column, coefficient) arrays;
* the nonlinear part is split into terms, each reduced to a template
  (:mod:`gridgames.solvers.nlp_terms`); terms of equal template form a
  :class:`TermGroup` evaluated by one vectorised call;
* coefficients, constants and bounds that depend on mutable Params or fixed
  Vars are kept as Pyomo objects in :class:`CoefVector` and evaluated once per
  solve (:meth:`CoefVector.evaluate`), never per iteration.

What counts as *structure* is recorded in :class:`StructureSignature`; see
:func:`structure_signature` for the invalidation rule.
"""
from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pyomo.common.gc_manager import PauseGC
from pyomo.common.numeric_types import native_numeric_types
from pyomo.core import Constraint, Objective, Var
from pyomo.core.expr.numvalue import value as pyo_value

from gridgames.solvers.errors import ModelError, UnsupportedModelError
from gridgames.solvers.nlp_terms import (
    TemplateFunctions,
    UnsupportedExpressionError,
    compile_template,
    is_structural_zero,
    split_terms,
    term_template,
)
from gridgames.solvers.quick_repn import quick_repn

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------
# Numbers known only at solve time
# --------------------------------------------------------------------------
class CoefVector:
    """A vector of coefficients, some of them Pyomo objects evaluated per solve.

    Parameters
    ----------
    items : sequence
        Python numbers, ``None`` (replaced by ``fill``), or Pyomo numeric
        objects (mutable Params, fixed Vars, expressions of those).
    fill : float
        Value used for ``None`` items (e.g. ``-inf`` for a missing lower bound).
    owners : sequence, optional
        The component each item belongs to (anything with a ``name``, or a
        string), named in error messages only, so nothing is formatted up front.
    """

    def __init__(self, items: Sequence[Any], fill: float = 0.0,
                 owners: Sequence[Any] | None = None) -> None:
        base = np.empty(len(items))
        dyn_idx: list[int] = []
        dyn_obj: list[Any] = []
        for i, item in enumerate(items):
            if item is None:
                base[i] = fill
            elif item.__class__ in native_numeric_types:
                base[i] = item
            elif item.is_constant():
                base[i] = pyo_value(item)
            elif is_structural_zero(item):
                base[i] = 0.0
            else:
                base[i] = np.nan
                dyn_idx.append(i)
                dyn_obj.append(item)
        self.base = base
        self.dyn_idx = np.asarray(dyn_idx, dtype=np.int64)
        self.dyn_obj = dyn_obj
        self.owners = owners

    def __len__(self) -> int:
        return len(self.base)

    @property
    def n_dynamic(self) -> int:
        """How many entries are re-evaluated at each solve."""
        return len(self.dyn_obj)

    def evaluate(self) -> np.ndarray:
        """Current values as a float array.

        Raises
        ------
        ModelError
            When a Param or fixed Var has no value (naming it and its component).
        """
        if not self.dyn_obj:
            return self.base
        out = self.base.copy()
        raw = [pyo_value(o, exception=False) for o in self.dyn_obj]
        vals = np.array([np.nan if v is None else v for v in raw], dtype=float)
        bad = np.flatnonzero(~np.isfinite(vals))
        if bad.size:
            k = int(bad[0])
            owner = self.owners[self.dyn_idx[k]] if self.owners is not None else None
            where = f" in {_describe(owner)}" if owner is not None else ""
            if raw[k] is None:
                raise ModelError(f"'{self.dyn_obj[k]}'{where} has no numeric value "
                                 "(an uninitialised mutable Param or fixed Var?)")
            raise ModelError(f"non-finite data in the model: '{self.dyn_obj[k]}'{where} = {vals[k]:g}")
        out[self.dyn_idx] = vals
        return out


# --------------------------------------------------------------------------
# Compiled model
# --------------------------------------------------------------------------
@dataclass
class TermGroup:
    """All nonlinear terms of one template, in the objective or in constraints.

    Attributes
    ----------
    fn : TemplateFunctions
        Compiled value / gradient / Hessian.
    rows : ndarray of int
        Ipopt constraint row of each term (unused for the objective group).
    cols : ndarray of int, shape (N, n_x)
        Ipopt variable index filling each variable slot.
    data : CoefVector
        ``N * n_p`` data values, row-major (term by term).
    is_objective : bool
    """

    fn: TemplateFunctions
    rows: np.ndarray
    cols: np.ndarray
    data: CoefVector
    is_objective: bool

    @property
    def size(self) -> int:
        return self.cols.shape[0]


@dataclass
class StructureSignature:
    """What the compiled structure depends on (compared before every solve)."""

    objective_ids: tuple[tuple[int, int], ...]
    constraint_ids: list[tuple[int, int]]
    free_vars: list[Any]
    fixed_vars: list[Any]


@dataclass
class CompiledNLP:
    """A Pyomo model as index arrays and compiled term groups.

    Rows are numbered over the *Ipopt* constraints (active constraints with at
    least one free variable); constraints whose body only holds constants are
    kept apart in ``trivial`` and checked at solve time.
    """

    objective: Any
    variables: list[Any]
    constraints: list[Any]
    obj_const: CoefVector
    obj_lin_cols: np.ndarray
    obj_lin_coef: CoefVector
    obj_quad_i: np.ndarray
    obj_quad_j: np.ndarray
    obj_quad_coef: CoefVector
    con_const: CoefVector
    con_lower: CoefVector
    con_upper: CoefVector
    con_lin_rows: np.ndarray
    con_lin_cols: np.ndarray
    con_lin_coef: CoefVector
    con_quad_rows: np.ndarray
    con_quad_i: np.ndarray
    con_quad_j: np.ndarray
    con_quad_coef: CoefVector
    groups: list[TermGroup]
    trivial: list[Any]
    trivial_value: CoefVector
    trivial_lower: CoefVector
    trivial_upper: CoefVector
    signature: StructureSignature
    compile_time: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.variables)

    @property
    def m(self) -> int:
        return len(self.constraints)


def _active_objectives(model: Any) -> list[Any]:
    return list(model.component_data_objects(Objective, active=True, descend_into=True))


def _active_constraints(model: Any) -> list[Any]:
    return list(model.component_data_objects(Constraint, active=True, descend_into=True))


def structure_signature(model: Any, variables: Iterable[Any] | None = None,
                        fixed_vars: Iterable[Any] | None = None) -> StructureSignature:
    """Identity of everything the compiled structure depends on.

    A compiled model stays valid while (1) the active objective and the
    active constraints are the same component data objects holding the same
    expression objects (``id(con)``, ``id(con.expr)``: activating,
    deactivating, adding, deleting or ``set_value`` on a constraint changes
    this), (2) no free variable of the compiled model has been fixed and
    (3) every variable that was fixed at compile time is still fixed.
    Values of mutable Params, of fixed Vars, variable bounds and the objective
    sense are read at every solve and never force a re-translation.
    """
    objs = _active_objectives(model)
    cons = _active_constraints(model)
    if fixed_vars is None:
        fixed_vars = [v for v in model.component_data_objects(Var, descend_into=True) if v.fixed]
    return StructureSignature(
        objective_ids=tuple((id(o), id(o.expr)) for o in objs),
        constraint_ids=[(id(c), id(c.expr)) for c in cons],
        free_vars=list(variables) if variables is not None else [],
        fixed_vars=list(fixed_vars),
    )


def signature_still_valid(model: Any, sig: StructureSignature) -> bool:
    """Cheap check (one pass over active components and variables) of :func:`structure_signature`."""
    objs = _active_objectives(model)
    if tuple((id(o), id(o.expr)) for o in objs) != sig.objective_ids:
        return False
    if [(id(c), id(c.expr)) for c in _active_constraints(model)] != sig.constraint_ids:
        return False
    if any(v.fixed for v in sig.free_vars):
        return False
    return all(v.fixed for v in sig.fixed_vars)


class _Builder:
    """Accumulates the pieces of a :class:`CompiledNLP` component by component."""

    def __init__(self) -> None:
        self.var_index: dict[int, int] = {}
        self.variables: list[Any] = []
        self.lin = defaultdict(list)     # "obj_lin_cols", "con_quad_coef", ... -> list
        self.terms: dict[tuple[Any, bool], list[tuple[int, list[int], list[Any]]]] = defaultdict(list)

    def col(self, var: Any, owner: Any) -> int:
        j = self.var_index.get(id(var))
        if j is None:
            if not var.is_continuous():
                raise UnsupportedModelError(
                    f"variable '{var.name}' (in {_describe(owner)}) has the discrete domain {var.domain}: "
                    "Ipopt solves continuous problems only; use the 'highs' (MILP/MIQP) or "
                    "'scip' (MINLP) solver, or fix the variable")
            j = self.var_index[id(var)] = len(self.variables)
            self.variables.append(var)
        return j

    def cols(self, variables: list[Any], owner: Any) -> list[int]:
        """Column of each variable (registering the new ones), one dict lookup each."""
        get = self.var_index.get
        found = [get(id(v)) for v in variables]
        if None in found:
            found = [self.col(v, owner) if j is None else j for v, j in zip(variables, found)]
        return found

    def add_repn(self, expr: Any, owner: Any, row: int | None) -> tuple[Any, bool]:
        """Add one body/objective; return (constant item(s), has_free_variables).

        ``owner`` is the component (its name is only formatted for an error).
        """
        try:
            repn = quick_repn(expr)
        except (ValueError, TypeError, AttributeError) as exc:
            raise UnsupportedModelError(f"{_describe(owner)}: cannot be translated for Ipopt ({exc})") from None
        tag = "obj" if row is None else "con"
        free = False
        r = row if row is not None else -1
        lin_c, lin_v = repn.linear_coefs, repn.linear_vars
        quad_c, quad_v = repn.quadratic_coefs, repn.quadratic_vars
        if not all(c.__class__ in native_numeric_types for c in lin_c):
            keep = [k for k, c in enumerate(lin_c) if not is_structural_zero(c)]
            lin_c, lin_v = [lin_c[k] for k in keep], [lin_v[k] for k in keep]
        if not all(c.__class__ in native_numeric_types for c in quad_c):
            keep = [k for k, c in enumerate(quad_c) if not is_structural_zero(c)]
            quad_c, quad_v = [quad_c[k] for k in keep], [quad_v[k] for k in keep]
        if lin_c:
            self.lin[tag + "_lin_rows"].extend([r] * len(lin_c))
            self.lin[tag + "_lin_cols"].extend(self.cols(lin_v, owner))
            self.lin[tag + "_lin_coef"].extend(lin_c)
            free = True
        if quad_c:
            self.lin[tag + "_quad_rows"].extend([r] * len(quad_c))
            self.lin[tag + "_quad_i"].extend(self.cols([p[0] for p in quad_v], owner))
            self.lin[tag + "_quad_j"].extend(self.cols([p[1] for p in quad_v], owner))
            self.lin[tag + "_quad_coef"].extend(quad_c)
            free = True
        const_items: list[Any] = [repn.constant]
        if repn.nonlinear_expr is not None:
            for term in split_terms(repn.nonlinear_expr):
                try:
                    key, tvars, tdata = term_template(term)
                except UnsupportedExpressionError as exc:
                    raise UnsupportedModelError(f"{_describe(owner)}: {exc}") from None
                if key is None:
                    continue
                if not tvars:  # only data: a constant
                    const_items.append(tdata[0])
                    continue
                cols_t = [self.col(v, owner) for v in tvars]
                self.terms[(key, row is None)].append((row if row is not None else -1, cols_t, tdata))
                free = True
        return const_items, free


def _describe(component: Any) -> str:
    """``constraint 'c[3]'`` / ``objective 'cost'`` for messages."""
    if isinstance(component, str):
        return component
    kind = "objective" if component.ctype is Objective else "constraint"
    return f"{kind} '{component.name}'"


def _sum_items(items: list[Any]) -> Any:
    items = [i for i in items if not is_structural_zero(i)]
    if not items:
        return 0.0
    if len(items) == 1:
        return items[0]
    return sum(items[1:], items[0])


def compile_model(model: Any) -> CompiledNLP:
    """Translate the active part of a Pyomo model (see module docstring).

    Parameters
    ----------
    model : pyomo Block (usually a ConcreteModel)

    Returns
    -------
    CompiledNLP

    Raises
    ------
    ModelError
        No active objective, or more than one.
    UnsupportedModelError
        An unfixed integer/binary variable, or an expression Ipopt cannot take
        (non-smooth function, unknown node type), naming the component.
    """
    # the cyclic garbage collector would otherwise run over the model's
    # millions of live objects again and again while we allocate (as Pyomo's writers do)
    with PauseGC():
        return _compile_model(model)


def _compile_model(model: Any) -> CompiledNLP:
    t0 = time.perf_counter()
    objs = _active_objectives(model)
    if len(objs) != 1:
        names = ", ".join(o.name for o in objs[:5])
        raise ModelError(f"model '{model.name}' has {len(objs)} active objectives"
                         + (f" ({names})" if names else "")
                         + "; Ipopt needs exactly one (deactivate the others)")
    obj = objs[0]
    b = _Builder()
    obj_const_items, _ = b.add_repn(obj.expr, obj, None)

    constraints, trivial = [], []
    const_items, lower_items, upper_items = [], [], []
    triv_items, triv_lower, triv_upper = [], [], []
    for con in _active_constraints(model):
        try:  # bounds come back as None, numbers or fixed expressions
            lower, body, upper = con.to_bounded_expression()
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{_describe(con)}: {exc}") from None
        row = len(constraints)
        items, free = b.add_repn(body, con, row)
        if not free:
            trivial.append(con)
            triv_items.append(_sum_items(items))
            triv_lower.append(lower)
            triv_upper.append(upper)
            continue
        constraints.append(con)
        const_items.append(_sum_items(items))
        lower_items.append(lower)
        upper_items.append(upper)

    arr = lambda key: np.asarray(b.lin[key], dtype=np.int64)  # noqa: E731

    groups: list[TermGroup] = []
    for (key, is_obj), entries in b.terms.items():
        try:
            fn = compile_template(key)
        except UnsupportedExpressionError as exc:
            owner = obj if is_obj else constraints[entries[0][0]]
            raise UnsupportedModelError(f"{_describe(owner)}: {exc}") from None
        rows = np.fromiter((e[0] for e in entries), dtype=np.int64, count=len(entries))
        cols = np.array([e[1] for e in entries], dtype=np.int64).reshape(len(entries), fn.n_x)
        data_items = [d for e in entries for d in e[2]]
        owners = [obj] * len(data_items) if is_obj else [constraints[e[0]] for e in entries for _ in e[2]]
        groups.append(TermGroup(fn, rows, cols, CoefVector(data_items, owners=owners), is_obj))

    fixed_vars = [v for v in model.component_data_objects(Var, descend_into=True) if v.fixed]
    compiled = CompiledNLP(
        objective=obj,
        variables=b.variables,
        constraints=constraints,
        obj_const=CoefVector([_sum_items(obj_const_items)], owners=[obj]),
        obj_lin_cols=arr("obj_lin_cols"),
        obj_lin_coef=CoefVector(b.lin["obj_lin_coef"]),
        obj_quad_i=arr("obj_quad_i"),
        obj_quad_j=arr("obj_quad_j"),
        obj_quad_coef=CoefVector(b.lin["obj_quad_coef"]),
        con_const=CoefVector(const_items, owners=constraints),
        con_lower=CoefVector(lower_items, fill=-np.inf, owners=constraints),
        con_upper=CoefVector(upper_items, fill=np.inf, owners=constraints),
        con_lin_rows=arr("con_lin_rows"),
        con_lin_cols=arr("con_lin_cols"),
        con_lin_coef=CoefVector(b.lin["con_lin_coef"]),
        con_quad_rows=arr("con_quad_rows"),
        con_quad_i=arr("con_quad_i"),
        con_quad_j=arr("con_quad_j"),
        con_quad_coef=CoefVector(b.lin["con_quad_coef"]),
        groups=groups,
        trivial=trivial,
        trivial_value=CoefVector(triv_items),
        trivial_lower=CoefVector(triv_lower, fill=-np.inf),
        trivial_upper=CoefVector(triv_upper, fill=np.inf),
        signature=structure_signature(model, b.variables, fixed_vars),
    )
    compiled.compile_time = time.perf_counter() - t0
    compiled.stats = {
        "n_vars": compiled.n, "n_cons": compiled.m, "n_trivial_cons": len(trivial),
        "n_groups": len(groups), "n_nonlinear_terms": int(sum(g.size for g in groups)),
        "templates": [g.fn.expr for g in groups],  # sympy expressions: printed only when the debug log is on
    }
    logger.debug("compiled model '%s' in %.3fs: %s", model.name, compiled.compile_time, compiled.stats)
    return compiled
