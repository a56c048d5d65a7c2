"""Nonlinear terms of a Pyomo model as templates compiled once into numpy code.

A *term* is one summand of the nonlinear part of a constraint body or of the
objective, e.g. ``exp(x[t])`` or ``price[t] * x[t]**2 * y[t]``.  A year of hourly
data gives thousands of terms with the same *shape*: they differ only in which
variables and which numbers (Params, fixed Vars, constants) fill the slots.

:func:`term_template` walks one term and returns its shape as a hashable key
(variables replaced by ``x0, x1, ...`` in order of first appearance, data by
``p0, p1, ...`` in walk order), the variables and the data objects.
:func:`compile_template` turns a key into a :class:`TemplateFunctions` with the
value, the gradient and the lower-triangle Hessian as vectorised numpy
functions derived symbolically with sympy, cached per key for the process.
Evaluating 8760 copies of a term is then one numpy call over index arrays.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy
from pyomo.common.numeric_types import native_numeric_types
from pyomo.core.expr.numeric_expr import (
    DivisionExpression,
    MonomialTermExpression,
    NegationExpression,
    PowExpression,
    ProductExpression,
    SumExpression,
    UnaryFunctionExpression,
)

logger = logging.getLogger(__name__)

#: Pyomo unary function name -> sympy builder.  Non-smooth functions (abs,
#: floor, ceil) are left out on purpose: Ipopt needs twice-differentiable terms.
_FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "exp": sympy.exp,
    "log": sympy.log,
    "log10": lambda a: sympy.log(a) / sympy.log(10),
    "sqrt": sympy.sqrt,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
    "asin": sympy.asin,
    "acos": sympy.acos,
    "atan": sympy.atan,
    "sinh": sympy.sinh,
    "cosh": sympy.cosh,
    "tanh": sympy.tanh,
    "asinh": sympy.asinh,
    "acosh": sympy.acosh,
    "atanh": sympy.atanh,
}

Key = tuple  # nested tuples: ("x", k) | ("p",) | ("c", v) | (op, *children)


class UnsupportedExpressionError(ValueError):
    """A node the bridge cannot differentiate (raised with a readable description)."""


# --------------------------------------------------------------------------
# Structural zeros (standard_repn with compute_values=False leaves ``p*0`` junk)
# --------------------------------------------------------------------------
def is_structural_zero(expr: Any) -> bool:
    """True when ``expr`` is zero whatever the Param values are.

    Recognises the literal 0, products with a zero factor, sums of zeros,
    negations and quotients of zeros.  Used to drop the ``p*0`` terms that
    :func:`pyomo.repn.standard_repn.generate_standard_repn` leaves behind when
    it keeps coefficients symbolic.  Iterative, so deeply nested sums are fine.
    """
    if expr.__class__ in native_numeric_types:
        return expr == 0
    if not expr.is_expression_type():  # Params, Vars, numeric constants
        return False
    done: dict[int, bool] = {}
    stack: list[tuple[Any, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        cls = node.__class__
        if cls in native_numeric_types:
            done[id(node)] = node == 0
            continue
        if not node.is_expression_type():
            done[id(node)] = False
            continue
        if node.is_named_expression_type():
            kids, rule = [node.expr], "all"
        elif isinstance(node, ProductExpression):
            kids, rule = list(node.args), "any"
        elif isinstance(node, SumExpression):
            kids, rule = list(node.args), "all"
        elif isinstance(node, (NegationExpression, DivisionExpression)):
            kids, rule = [node.args[0]], "all"
        else:
            done[id(node)] = False
            continue
        if not expanded:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in done)
            continue
        vals = [done[id(k)] for k in kids]
        done[id(node)] = any(vals) if rule == "any" else all(vals)
    return done[id(expr)]


# --------------------------------------------------------------------------
# Pyomo term -> (key, variables, data)
# --------------------------------------------------------------------------
class _TermWalker:
    """One pass over a term; collects free variables and data leaves in order."""

    def __init__(self) -> None:
        self.var_pos: dict[int, int] = {}
        self.variables: list[Any] = []
        self.data: list[Any] = []

    def data_leaf(self, obj: Any) -> Key | None:
        if is_structural_zero(obj):
            return None
        self.data.append(obj)
        return ("p",)

    def walk(self, node: Any, exponent: bool = False) -> tuple[Key | None, bool]:
        """Return (key or None for a structural zero, has_free_variable)."""
        cls = node.__class__
        if cls in native_numeric_types:
            if exponent:
                v = float(node)
                return ("c", int(v) if v.is_integer() else v), False
            return self.data_leaf(node), False
        if node.is_variable_type():
            if node.fixed:
                return self.data_leaf(node), False
            pos = self.var_pos.get(id(node))
            if pos is None:
                pos = self.var_pos[id(node)] = len(self.variables)
                self.variables.append(node)
            return ("x", pos), True
        if not node.is_potentially_variable():  # Params and NPV expressions
            if exponent and node.is_constant():
                return self.walk(node(), exponent=True)
            return self.data_leaf(node), False
        if node.is_named_expression_type():
            return self.walk(node.expr, exponent)
        if not node.is_expression_type():
            raise UnsupportedExpressionError(f"unsupported leaf {node!r} of type {cls.__name__}")

        start = len(self.data)
        if isinstance(node, SumExpression):
            parts = [self.walk(a) for a in node.args]
            keep = [(k, f) for k, f in parts if k is not None]
            if not keep:
                return None, False
            key: Key | None = keep[0][0] if len(keep) == 1 else ("sum", *(k for k, _ in keep))
            free = any(f for _, f in keep)
        elif isinstance(node, (ProductExpression, MonomialTermExpression)):
            (ka, fa), (kb, fb) = self.walk(node.args[0]), self.walk(node.args[1])
            if ka is None or kb is None:
                del self.data[start:]
                return None, False
            key, free = ("mul", ka, kb), fa or fb
        elif isinstance(node, DivisionExpression):
            (ka, fa), (kb, fb) = self.walk(node.args[0]), self.walk(node.args[1])
            if ka is None:
                del self.data[start:]
                return None, False
            if kb is None:
                raise UnsupportedExpressionError(f"division by a structural zero in {node}")
            key, free = ("div", ka, kb), fa or fb
        elif isinstance(node, PowExpression):
            (ka, fa), (kb, fb) = self.walk(node.args[0]), self.walk(node.args[1], exponent=True)
            if ka is None:
                ka = ("c", 0)
            if kb is None:
                kb = ("c", 0)
            key, free = ("pow", ka, kb), fa or fb
        elif isinstance(node, NegationExpression):
            ka, free = self.walk(node.args[0])
            if ka is None:
                return None, False
            key = ("neg", ka)
        elif isinstance(node, UnaryFunctionExpression):
            name = node.getname()
            if name not in _FUNCTIONS:
                raise UnsupportedExpressionError(
                    f"function '{name}' is not supported (Ipopt needs smooth terms; "
                    f"supported: {', '.join(sorted(_FUNCTIONS))})")
            ka, free = self.walk(node.args[0])
            key = ("fn", name, ka if ka is not None else ("c", 0))
        else:
            raise UnsupportedExpressionError(
                f"expression type {cls.__name__} is not supported ({node})")
        if not free:  # everything below is data: evaluate the node as one number
            del self.data[start:]
            return self.data_leaf(node), False
        return key, True


def split_terms(expr: Any) -> list[Any]:
    """Flatten the top-level sums of ``expr`` into a list of summands."""
    out: list[Any] = []
    stack = [expr]
    while stack:
        e = stack.pop()
        if e.__class__ not in native_numeric_types and e.is_expression_type() \
                and e.is_named_expression_type():
            stack.append(e.expr)
        elif isinstance(e, SumExpression) and e.is_potentially_variable():
            stack.extend(reversed(e.args))
        else:
            out.append(e)
    return out


def term_template(term: Any) -> tuple[Key | None, list[Any], list[Any]]:
    """Shape of one nonlinear term.

    Parameters
    ----------
    term : Pyomo expression
        One summand (see :func:`split_terms`).

    Returns
    -------
    key : tuple or None
        Hashable template; None when the term is structurally zero.  A key
        without free variables is returned as ``("p",)`` with the whole term
        as its only data leaf.
    variables : list of VarData
        Free variables, in the order of the key's ``x0, x1, ...``.
    data : list
        Numbers, Params, fixed Vars or fixed sub-expressions, in the order of
        the key's ``p0, p1, ...``; evaluated at solve time.

    Raises
    ------
    UnsupportedExpressionError
        For non-smooth or unknown node types, with a description of the node.
    """
    w = _TermWalker()
    key, _ = w.walk(term)
    return key, w.variables, w.data


# --------------------------------------------------------------------------
# Template key -> sympy -> numpy callables
# --------------------------------------------------------------------------
def _key_to_sympy(key: Key, xs: list[sympy.Symbol], ps: list[sympy.Symbol], counter: list[int]) -> Any:
    tag = key[0]
    if tag == "x":
        return xs[key[1]]
    if tag == "p":
        s = ps[counter[0]]
        counter[0] += 1
        return s
    if tag == "c":
        return sympy.Integer(key[1]) if isinstance(key[1], int) else sympy.Float(key[1])
    args = [_key_to_sympy(k, xs, ps, counter) for k in key[1:]] if tag != "fn" else None
    if tag == "sum":
        return sympy.Add(*args)
    if tag == "mul":
        return args[0] * args[1]
    if tag == "div":
        return args[0] / args[1]
    if tag == "pow":
        return args[0] ** args[1]
    if tag == "neg":
        return -args[0]
    if tag == "fn":
        return _FUNCTIONS[key[1]](_key_to_sympy(key[2], xs, ps, counter))
    raise ValueError(f"bad template tag {tag!r}")


def _count(key: Key, tag: str) -> int:
    if key[0] == tag:
        return 1
    if key[0] in ("x", "p", "c"):
        return 0
    return sum(_count(k, tag) for k in key[1:] if isinstance(k, tuple))


def _max_x(key: Key) -> int:
    if key[0] == "x":
        return key[1] + 1
    if key[0] in ("p", "c"):
        return 0
    return max((_max_x(k) for k in key[1:] if isinstance(k, tuple)), default=0)


@dataclass(frozen=True)
class TemplateFunctions:
    """Compiled value, gradient and Hessian of one term template.

    Every callable takes ``(*x_columns, *p_columns)`` (numpy arrays of equal
    length N) and returns arrays of length N (or scalars, see :meth:`full`).

    Attributes
    ----------
    n_x, n_p : int
        Number of variable and data slots.
    value : callable
        Term values.
    grad : callable
        Tuple of ``n_x`` partial derivatives.
    hess_pairs : tuple of (int, int)
        Slot pairs ``(a, b)`` with ``a <= b`` whose second derivative is not
        identically zero.
    hess : callable or None
        Tuple of the second derivatives in ``hess_pairs`` order.
    expr : sympy expression
        The template itself (for messages and tests).
    """

    n_x: int
    n_p: int
    value: Callable[..., Any]
    grad: Callable[..., Any]
    hess_pairs: tuple[tuple[int, int], ...]
    hess: Callable[..., Any] | None
    expr: Any

    @staticmethod
    def full(values: Any, n: int) -> np.ndarray:
        """Broadcast a callable's output (array or constant) to a float array of length n."""
        arr = np.asarray(values, dtype=float)
        return arr if arr.shape == (n,) else np.broadcast_to(arr, (n,))


_TEMPLATE_CACHE: dict[Key, TemplateFunctions] = {}


def clear_template_cache() -> None:
    """Forget every compiled template (they are otherwise kept for the process)."""
    _TEMPLATE_CACHE.clear()


def compile_template(key: Key) -> TemplateFunctions:
    """Differentiate a template symbolically and lambdify it for numpy (cached).

    Parameters
    ----------
    key : tuple
        A key from :func:`term_template`.

    Returns
    -------
    TemplateFunctions
    """
    hit = _TEMPLATE_CACHE.get(key)
    if hit is not None:
        return hit
    n_x, n_p = _max_x(key), _count(key, "p")
    # plain (complex) symbols on purpose: with real=True sympy rewrites
    # sqrt(x**2) as Abs(x), whose derivatives are not smooth
    xs = list(sympy.symbols(f"x0:{n_x}")) if n_x else []
    ps = list(sympy.symbols(f"p0:{n_p}")) if n_p else []
    expr = _key_to_sympy(key, xs, ps, [0])
    args = xs + ps
    grads = [sympy.diff(expr, x) for x in xs]
    pairs, second = [], []
    for a in range(n_x):
        for b in range(a, n_x):
            d2 = sympy.diff(grads[a], xs[b])
            if d2 != 0:
                pairs.append((a, b))
                second.append(d2)
    kinks = (sympy.Abs, sympy.sign, sympy.DiracDelta, sympy.Heaviside, sympy.Piecewise)
    if any(e.has(*kinks) for e in [expr, *grads, *second]):
        raise UnsupportedExpressionError(f"term {expr} is not twice differentiable")
    value = sympy.lambdify(args, expr, modules="numpy")
    grad = sympy.lambdify(args, grads, modules="numpy", cse=True)
    hess = sympy.lambdify(args, second, modules="numpy", cse=True) if second else None
    fn = TemplateFunctions(n_x, n_p, value, grad, tuple(pairs), hess, expr)
    _TEMPLATE_CACHE[key] = fn
    logger.debug("compiled template %s (%d vars, %d data, %d Hessian pairs)", expr, n_x, n_p, len(pairs))
    return fn
