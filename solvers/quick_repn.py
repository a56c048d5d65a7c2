"""A fast standard representation for the sums large models are made of.

:func:`quick_repn` returns what
``generate_standard_repn(expr, quadratic=True, compute_values=False)`` returns
(constant, linear and quadratic parts, nonlinear remainder) for the terms it
recognises by their node class alone, without Pyomo's general visitor:

* numbers, unfixed variables, ``c·x`` (``MonomialTermExpression``),
* ``x·y``, ``x**2``, products and quotients of those with numbers,
* sums (``SumExpression``, ``LinearExpression``), negations and named
  Expressions of all the above.

Every other summand (mutable Params, fixed Vars, nonlinear functions, products
of sums, ...) is collected and handed, as one sum, to
:func:`~pyomo.repn.standard_repn.generate_standard_repn` with
``compute_values=False``, whose answer is merged in: coefficients that depend on
data stay symbolic, exactly as before.  Terms in the same variable (pair) are
merged and exact zeros dropped, as the standard representation does.

Measured on the pricing family (``benchmarks/pricing_family``, one follower's
objective of 26,280 terms): about a sixth of the time of the standard
representation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyomo.common.numeric_types import native_numeric_types
from pyomo.core.expr.numeric_expr import (
    DivisionExpression,
    LinearExpression,
    MonomialTermExpression,
    NegationExpression,
    PowExpression,
    ProductExpression,
    SumExpression,
)
from pyomo.repn.standard_repn import generate_standard_repn

_SUMS = (SumExpression, LinearExpression)


@dataclass
class QuickRepn:
    """The parts of a standard representation (same attribute names as Pyomo's ``StandardRepn``)."""

    constant: Any = 0.0
    linear_vars: list = field(default_factory=list)
    linear_coefs: list = field(default_factory=list)
    quadratic_vars: list = field(default_factory=list)
    quadratic_coefs: list = field(default_factory=list)
    nonlinear_expr: Any = None

    def is_linear(self) -> bool:
        return not self.quadratic_vars and self.nonlinear_expr is None


_VAR_CLASSES: set[type] = set()   #: classes seen to be variables (filled as met)
_OTHER_CLASSES: set[type] = set()  #: leaf classes seen not to be variables (Params, ...)


def _is_var_class(node: Any) -> bool:
    """True when ``node`` is a variable (fixed or not), decided once per class."""
    cls = node.__class__
    if cls in _VAR_CLASSES:
        return True
    if cls in _OTHER_CLASSES or cls in native_numeric_types:
        return False
    if not node.is_expression_type() and node.is_variable_type():
        _VAR_CLASSES.add(cls)
        return True
    _OTHER_CLASSES.add(cls)
    return False


def _factor(node: Any) -> tuple[float, Any, Any] | None:
    """``(c, x, y)`` for a factor ``c``, ``c·x`` or ``x**2`` with x unfixed (x, y None when absent)."""
    cls = node.__class__
    if cls in native_numeric_types:
        return node, None, None
    if cls in _VAR_CLASSES or _is_var_class(node):
        return (1.0, node, None) if not node.fixed else None
    if cls is MonomialTermExpression:
        c, v = node._args_
        if c.__class__ in native_numeric_types and _is_var_class(v) and not v.fixed:
            return c, v, None
        return None
    if cls is PowExpression:
        base, exp = node._args_
        if exp.__class__ in native_numeric_types and exp == 2 and _is_var_class(base) and not base.fixed:
            return 1.0, base, base
    return None


def _term(node: Any) -> tuple[float, Any, Any] | None:
    """A summand of degree ≤ 2 with number coefficients as ``(c, x, y)``; None for anything else."""
    cls = node.__class__
    if cls is ProductExpression:
        a, b = node._args_
        fa = _factor(a)
        if fa is None:
            return None
        fb = _factor(b)
        if fb is None:
            return None
        if fa[1] is None:
            return fa[0] * fb[0], fb[1], fb[2]
        if fb[1] is None:
            return fa[0] * fb[0], fa[1], fa[2]
        if fa[2] is not None or fb[2] is not None:
            return None
        return fa[0] * fb[0], fa[1], fb[1]
    return _factor(node)


def quick_repn(expr: Any) -> QuickRepn:
    """Standard representation of ``expr`` (see the module docstring).

    Parameters
    ----------
    expr : Pyomo expression, variable or number

    Returns
    -------
    QuickRepn
        ``constant`` (a number or, when data enter it, a Pyomo expression),
        ``linear_vars``/``linear_coefs``, ``quadratic_vars`` (pairs) /
        ``quadratic_coefs`` and ``nonlinear_expr`` (None when there is none).
    """
    lin: dict[int, list] = {}
    quad: dict[tuple[int, int], list] = {}
    const = 0.0
    rest: list[tuple[Any, float]] = []
    stack: list[tuple[Any, float]] = [(expr, 1.0)]
    natives = native_numeric_types
    while stack:
        node, s = stack.pop()
        cls = node.__class__
        if cls in _SUMS:
            todo = [(a, s) for a in node.args]
        else:
            todo = [(node, s)]
        for node, s in todo:
            cls = node.__class__
            while cls is NegationExpression:
                node = node._args_[0]
                s = -s
                cls = node.__class__
            if cls in natives:
                const += s * node
                continue
            if cls in _SUMS:
                stack.append((node, s))
                continue
            if cls is DivisionExpression:
                a, b = node._args_
                if b.__class__ in natives and b != 0:
                    stack.append((a, s / b))
                else:
                    rest.append((node, s))
                continue
            if cls not in _VAR_CLASSES and cls is not MonomialTermExpression and cls is not PowExpression \
                    and cls is not ProductExpression and node.is_expression_type() \
                    and node.is_named_expression_type():
                stack.append((node.expr, s))
                continue
            term = _term(node)
            if term is None:
                if cls is ProductExpression:
                    a, b = node._args_
                    if a.__class__ in natives:
                        stack.append((b, s * a))
                        continue
                    if b.__class__ in natives:
                        stack.append((a, s * b))
                        continue
                rest.append((node, s))
                continue
            c, x, y = term
            c *= s
            if x is None:
                const += c
            elif y is None:
                entry = lin.get(id(x))
                if entry is None:
                    lin[id(x)] = [x, c]
                else:
                    entry[1] += c
            else:
                key = (id(x), id(y)) if id(x) <= id(y) else (id(y), id(x))
                entry = quad.get(key)
                if entry is None:
                    quad[key] = [(x, y), c]
                else:
                    entry[1] += c
    nonlinear = None
    if rest:
        body = sum((node if s == 1.0 else s * node for node, s in rest[1:]),
                   rest[0][0] if rest[0][1] == 1.0 else rest[0][1] * rest[0][0])
        other = generate_standard_repn(body, quadratic=True, compute_values=False)
        for c, v in zip(other.linear_coefs, other.linear_vars):
            entry = lin.get(id(v))
            if entry is None:
                lin[id(v)] = [v, c]
            else:
                entry[1] = entry[1] + c
        for c, (x, y) in zip(other.quadratic_coefs, other.quadratic_vars):
            key = (id(x), id(y)) if id(x) <= id(y) else (id(y), id(x))
            entry = quad.get(key)
            if entry is None:
                quad[key] = [(x, y), c]
            else:
                entry[1] = entry[1] + c
        if other.constant.__class__ not in native_numeric_types or other.constant != 0:
            const = other.constant + const if const != 0 else other.constant
        nonlinear = other.nonlinear_expr
    out = QuickRepn(constant=const, nonlinear_expr=nonlinear)
    for v, c in lin.values():
        if c.__class__ in native_numeric_types and c == 0:
            continue
        out.linear_vars.append(v)
        out.linear_coefs.append(c)
    for pair, c in quad.values():
        if c.__class__ in native_numeric_types and c == 0:
            continue
        out.quadratic_vars.append(pair)
        out.quadratic_coefs.append(c)
    return out
