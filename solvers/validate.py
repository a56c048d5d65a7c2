"""Checks every backend runs on a model before handing it to a solver.

* :func:`check_finite` refuses NaN and infinite numbers where a finite one is
  needed: coefficients and constants of the active objective and constraints
  (numbers, mutable Params, fixed Vars), constraint bounds (``+inf`` as an
  upper bound means "no bound" and is fine; NaN, ``-inf`` upper or ``+inf``
  lower are not), and variable bounds.  HiGHS would otherwise report
  ``optimal`` with a NaN objective.
* :func:`check_features` refuses a model class the backend has not declared
  (an LP is accepted by a QP, NLP or MILP solver: see :data:`SUBSUMES`).
* :func:`validate_model` runs both and returns the model's :class:`ModelClass`.

>>> import pyomo.environ as pyo
>>> m = pyo.ConcreteModel()
>>> m.x = pyo.Var(bounds=(0, 1))
>>> m.o = pyo.Objective(expr=float("nan") * m.x)
>>> check_finite(m)
Traceback (most recent call last):
...
gridgames.solvers.errors.ModelError: non-finite data in the model: objective 'o': coefficient nan in term nan*x
"""
from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Iterator
from typing import Any

import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import MonomialTermExpression, ProductExpression

from gridgames.solvers.bounds import bounds_arrays
from gridgames.solvers.errors import GridGamesError, ModelError, UnsupportedModelError
from gridgames.solvers.model_class import ModelClass, classify

log = logging.getLogger(__name__)

#: A model of the key's class is also solved by a backend declaring any of the values.
SUBSUMES: dict[str, frozenset[str]] = {
    "lp": frozenset({"lp", "qp", "nlp", "milp", "miqp", "minlp"}),
    "qp": frozenset({"qp", "nlp", "miqp", "minlp"}),
    "nlp": frozenset({"nlp", "minlp"}),
    "milp": frozenset({"milp", "miqp", "minlp"}),
    "miqp": frozenset({"miqp", "minlp"}),
    "minlp": frozenset({"minlp"}),
}

#: At most this many problems are listed in one error message.
MAX_LISTED = 5


def _number(value: Any) -> float | None:
    """``value`` as a float, or None when it is not a plain number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _leaf_problem(node: Any) -> str | None:
    """What is wrong with one leaf of an expression tree (None when nothing is)."""
    if node.__class__ in (int, float, bool):
        return None if math.isfinite(node) else f"coefficient {node}"
    if not hasattr(node, "is_expression_type"):
        number = _number(node)  # numpy scalars
        return None if number is None or math.isfinite(number) else f"coefficient {number}"
    if node.is_variable_type():
        if not node.fixed:
            return None
        if node.value is None:
            return f"fixed variable '{node.name}' has no value"
        return None if math.isfinite(node.value) else f"fixed variable '{node.name}' = {node.value}"
    if node.is_parameter_type() or node.is_numeric_type() and not node.is_expression_type():
        try:
            number = _number(pyo.value(node, exception=False))
        except (ValueError, TypeError):
            number = None
        if number is not None and math.isfinite(number):
            return None
        label = f"Param '{node.name}'" if node.is_parameter_type() else f"constant {node}"
        return f"{label} has no numeric value" if number is None else f"{label} = {number}"
    return None


#: node class -> "expr" (walk its args), "leaf" (check its value) or "skip" (an unfixed-able Var is checked
#: through its bounds); filled as classes are met, so the walk costs one dict lookup per node
_KIND: dict[type, str] = {int: "num", float: "num", bool: "num"}


def _kind(node: Any) -> str:
    cls = node.__class__
    kind = _KIND.get(cls)
    if kind is None:
        if not hasattr(node, "is_expression_type"):
            kind = "leaf"
        elif node.is_expression_type():
            kind = "expr"
        elif node.is_variable_type():
            kind = "var"
        else:
            kind = "leaf"
        _KIND[cls] = kind
    return kind


def _all_finite(expr: Any, unfixed: dict[int, Any] | None = None) -> bool:
    """Fast pass: True when every number, Param and fixed Var in ``expr`` is finite.

    ``unfixed`` collects the unfixed variables met (complete only when the answer is True).
    """
    stack = [expr]
    isfinite = math.isfinite
    while stack:
        node = stack.pop()
        kind = _kind(node)
        if kind == "expr":
            stack.extend(node.args)
        elif kind == "num":
            if not isfinite(node):
                return False
        elif kind == "var":
            if not node.fixed:
                if unfixed is not None:
                    unfixed[id(node)] = node
            elif not _finite_value(node):
                return False
        elif not _finite_value(node) and _leaf_problem(node):
            return False
    return True


def _finite_value(node: Any) -> bool:
    """True when ``node.value`` is a finite number (Params, fixed Vars, constants); False when unsure."""
    try:
        return math.isfinite(node.value)
    except (AttributeError, TypeError, ValueError):
        return False


def _expression_problems(expr: Any, unfixed: dict[int, Any] | None = None) -> list[str]:
    """Non-finite numbers, Params and fixed Vars anywhere in ``expr``, described (``unfixed``: see
    :func:`_all_finite`)."""
    if _all_finite(expr, unfixed):
        return []
    problems: list[str] = []
    stack: list[tuple[Any, Any]] = [(expr, None)]
    while stack:
        node, parent = stack.pop()
        if _kind(node) == "expr":
            stack.extend((arg, node) for arg in node.args)
            continue
        problem = _leaf_problem(node)
        if problem is None:
            continue
        if isinstance(parent, (MonomialTermExpression, ProductExpression)):
            term = str(parent)
            problem += f" in term {term if len(term) <= 60 else term[:57] + '...'}"
        problems.append(problem)
        if len(problems) >= MAX_LISTED:
            break
    return problems


def _bound_problem(kind: str, value: Any, *, lower: bool) -> str | None:
    number = _number(value)
    if number is None:
        return None if value is None else f"{kind} bound {value!r} is not a number"
    if math.isnan(number):
        return f"{kind} bound is nan"
    if lower and number == math.inf:
        return f"{kind} bound is +inf"
    if not lower and number == -math.inf:
        return f"{kind} bound is -inf"
    return None


def _constraint_bound_problems(con: Any) -> list[str]:
    try:
        lb, ub = con.lb, con.ub  # Pyomo raises ValueError for NaN and wrong-sided infinite bounds
    except (ValueError, TypeError):
        lb = ub = math.nan
    if (lb is None or math.isfinite(lb)) and (ub is None or math.isfinite(ub)):
        return []
    out = []
    for lower, getter in ((True, "lower"), (False, "upper")):
        try:
            value = getattr(con, getter)
            value = None if value is None else pyo.value(value, exception=False)
        except (ValueError, TypeError) as exc:
            if "variable" in str(exc) and "Ranged" in str(exc):   # inequality(x, y, x + 1): not a data problem
                raise ModelError(f"constraint '{con.name}' is a ranged inequality whose {getter} side depends on "
                                 "a variable: write it as two constraints (lower <= body, body <= upper)") from None
            out.append(f"{getter} bound cannot be evaluated ({exc})")
            continue
        problem = _bound_problem(getter, value, lower=lower)
        if problem:
            out.append(problem)
    return out


def _variable_problems(variables: Iterable[Any]) -> list[str]:
    variables = list(variables)
    try:
        bounds_arrays(variables)  # in bulk; Pyomo's own check, one variable at a time, only to name a culprit
        return []
    except ValueError:
        pass
    out = []
    for var in variables:
        try:
            var.bounds  # noqa: B018 - Pyomo raises ValueError for NaN / wrong-sided infinite bounds
        except ValueError as exc:
            out.append(f"variable '{var.name}': {exc}")
        if len(out) >= MAX_LISTED:
            break
    return out


def _active(model: pyo.Block) -> Iterable[Any]:
    yield from model.component_data_objects(pyo.Objective, active=True, descend_into=True)
    yield from model.component_data_objects(pyo.Constraint, active=True, descend_into=True)


_NON_FINITE = "non-finite data in the model: "


@contextlib.contextmanager
def finite_data_named(model: pyo.Block) -> Iterator[None]:
    """Turn a library's error on non-finite data (e.g. Pyomo refusing a constraint with a NaN bound
    while a reformulation is built) into :func:`check_finite`'s ``ModelError`` naming the component.

    Other errors pass through unchanged.
    """
    try:
        yield
    except GridGamesError as exc:
        if str(exc).startswith(_NON_FINITE):
            check_finite(model)    # found in a solver's own copy (a view, lifted rows): name the user's component
        raise
    except (ValueError, ArithmeticError):
        check_finite(model)    # raises ModelError naming the non-finite data, if that is the cause
        raise


def check_finite(model: pyo.Block, mc: ModelClass | None = None) -> None:
    """Refuse non-finite coefficients, constants and bounds before any solve.

    Parameters
    ----------
    model : pyomo Block
        Its active objective(s) and constraints are checked, with the bounds
        of every unfixed variable they use.
    mc : ModelClass, optional
        The model's classification when already computed (its variables are reused).

    Raises
    ------
    ModelError
        Naming each offending component (at most :data:`MAX_LISTED`) and what
        is wrong: ``constraint 'c[3]': Param 'price[3]' = nan``.
    """
    problems: list[str] = []
    unfixed: dict[int, Any] = {}  # the variables the active components use, collected by the same walks
    for comp in _active(model):
        is_objective = comp.ctype is pyo.Objective
        found = _expression_problems(comp.expr if is_objective else comp.body, unfixed)
        if not is_objective:
            found += _constraint_bound_problems(comp)
        if found:
            where = f"{'objective' if is_objective else 'constraint'} '{comp.name}'"
            problems += [f"{where}: {p}" for p in found]
        if len(problems) >= MAX_LISTED:
            break
    if len(problems) < MAX_LISTED:
        variables = mc.variables if mc is not None else list(unfixed.values()) if not problems \
            else classify(model).variables  # a walk stopped early: not every variable was collected
        problems += _variable_problems(variables)
    if problems:
        raise ModelError(_NON_FINITE + "; ".join(problems[:MAX_LISTED])
                         + ("; ..." if len(problems) > MAX_LISTED else ""))


def supports(features: Iterable[str], kind: str) -> bool:
    """True when a backend declaring ``features`` can solve a model of class ``kind``."""
    return bool(SUBSUMES.get(kind, frozenset({kind})) & set(features))


def check_features(solver_name: str, features: Iterable[str], mc: ModelClass, *,
                   alternatives: str = "") -> None:
    """Refuse a model class the backend does not declare.

    Raises
    ------
    UnsupportedModelError
        Naming the model's class and size, what the backend handles, and
        ``alternatives`` (e.g. "try 'scip'").
    """
    if supports(features, mc.kind):
        return
    handles = sorted(f.upper() for f in features if f in SUBSUMES)
    raise UnsupportedModelError(
        f"solver '{solver_name}' cannot solve this model: it is {mc.kind.upper()} "
        f"({mc.n_vars} variables, {mc.n_constraints} constraints); "
        f"{solver_name} handles {', '.join(handles) or 'no declared problem class'}."
        + (f" {alternatives}" if alternatives else ""))


def validate_model(model: pyo.Block, solver_name: str, features: Iterable[str] | None, *,
                   alternatives: str = "", mc: ModelClass | None = None) -> ModelClass:
    """The checks every backend runs first: declared features, then finite data.

    Parameters
    ----------
    model : pyomo Block
    solver_name : str
        For the messages.
    features : set of str or None
        The backend's declared problem classes; None skips the class check
        (a Pyomo plug-in whose features gridgames does not know).
    alternatives : str
        Appended to an :class:`UnsupportedModelError`.
    mc : ModelClass, optional
        An already computed classification.

    Returns
    -------
    ModelClass
    """
    mc = classify(model) if mc is None else mc
    if features is not None:
        check_features(solver_name, features, mc, alternatives=alternatives)
    check_finite(model, mc)
    return mc
