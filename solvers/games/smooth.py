"""Exact gradients and a sampled convexity check for smooth nonlinear agents.

The KKT methods need ``∇_y (s·f)`` and, for a nonlinear constraint, ``∇_y g``
in the agent's own variables ``y``.  Both come from Pyomo's symbolic reverse
mode (:func:`pyomo.core.expr.calculus.derivatives.differentiate`), so they are
exact expressions in ``y`` and in the parameters ``x`` — no finite differences.

Convexity of a quadratic is proved from its constant Hessian
(:func:`gridgames.solvers.games.kkt._check_convex`).  For any other smooth
expression it is *checked, not proved*: the symbolic Hessian in ``y`` is
evaluated at :data:`SAMPLES` points drawn inside the bounds of ``y`` and ``x``
(uniformly where both bounds are finite, around the current value where one
is infinite) and at the current point; a negative eigenvalue at any of them
refuses the agent, naming it and the eigenvalue.  A non-convex function can
pass (its negative curvature may lie between the samples); a convex one never
fails.

Example
-------
>>> import pyomo.environ as pyo
>>> m = pyo.ConcreteModel(); m.q = pyo.Var(bounds=(0, 10))
>>> [str(g) for g in symbolic_gradient(pyo.log(1 + m.q), [m.q])]
['1/(1 + q)']
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from io import StringIO

import numpy as np
import pyomo.environ as pyo
from pyomo.common.log import LoggingIntercept
from pyomo.core.base.var import VarData
from pyomo.core.expr.calculus.derivatives import Modes, differentiate
from pyomo.core.expr.visitor import identify_variables

log = logging.getLogger(__name__)

#: sampled points per expression (plus the current point)
SAMPLES = 12
#: relative tolerance on the smallest eigenvalue
EIGEN_TOL = 1e-8


def symbolic_gradient(expr: object, variables: Sequence[VarData]) -> list[object]:
    """``[∂expr/∂v for v in variables]`` as Pyomo expressions (0.0 where ``v`` does not appear)."""
    if isinstance(expr, (int, float)):
        return [0.0] * len(variables)
    present = {id(v) for v in identify_variables(expr, include_fixed=False)}
    wrt = [v for v in variables if id(v) in present]
    if not wrt:
        return [0.0] * len(variables)
    derivs = dict(zip((id(v) for v in wrt), differentiate(expr, wrt_list=wrt, mode=Modes.reverse_symbolic)))
    return [derivs.get(id(v), 0.0) for v in variables]


def symbolic_hessian(gradient: Sequence[object], variables: Sequence[VarData]) -> dict[tuple[int, int], object]:
    """Nonzero entries ``(i, j) → ∂²/∂v_i∂v_j`` of the Hessian, from the gradient's expressions."""
    index = {id(v): k for k, v in enumerate(variables)}
    entries: dict[tuple[int, int], object] = {}
    for i, g in enumerate(gradient):
        if isinstance(g, (int, float)):
            continue
        wrt = [v for v in identify_variables(g, include_fixed=False) if id(v) in index]
        if not wrt:
            continue
        for v, d in zip(wrt, differentiate(g, wrt_list=wrt, mode=Modes.reverse_symbolic)):
            if not (isinstance(d, (int, float)) and d == 0):
                entries[(i, index[id(v)])] = d
    return entries


def _draw(v: VarData, rng: np.random.Generator) -> float:
    lo, hi = v.bounds
    x0 = v.value if v.value is not None else (lo if lo is not None else (hi if hi is not None else 0.0))
    if lo is not None and hi is not None:
        return float(rng.uniform(lo, hi))
    step = float(rng.normal(0.0, max(1.0, abs(x0))))
    if lo is not None:
        return float(lo + abs(x0 - lo + step))
    if hi is not None:
        return float(hi - abs(hi - x0 + step))
    return float(x0 + step)


def smallest_sampled_eigenvalue(hessian: dict[tuple[int, int], object], variables: Sequence[VarData],
                                others: Sequence[VarData], *, samples: int = SAMPLES,
                                seed: int = 0) -> tuple[float, float, int]:
    """Smallest eigenvalue of the Hessian over the sampled points.

    ``variables`` index the Hessian; ``others`` (parameters) are sampled too.
    Values are restored afterwards.  Returns ``(smallest eigenvalue, largest
    |entry| seen, points evaluated)``; points where an entry is undefined
    (log of a negative number, ...) are skipped.
    """
    if not hessian:
        return 0.0, 0.0, 1
    cols = sorted({k for ij in hessian for k in ij})
    pos = {k: p for p, k in enumerate(cols)}
    sampled = [v for v in list(variables) + list(others) if not v.fixed]
    saved = [v.value for v in sampled]
    rng = np.random.default_rng(seed)
    smallest, scale, evaluated = np.inf, 0.0, 0
    try:
        for s in range(samples + 1):
            if s:   # point 0 is the current one
                for v in sampled:
                    v.set_value(_draw(v, rng), skip_validation=True)
            elif any(x is None for x in saved):
                continue    # no current point (a variable without a value): Pyomo would log an error

            h = np.zeros((len(cols), len(cols)))
            try:
                with LoggingIntercept(StringIO(), "pyomo", logging.ERROR):  # Pyomo logs a failure, then raises
                    for (i, j), expr in hessian.items():
                        h[pos[i], pos[j]] = float(pyo.value(expr))
            except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                continue
            if not np.all(np.isfinite(h)):
                continue
            h = 0.5 * (h + h.T)
            smallest = min(smallest, float(np.linalg.eigvalsh(h)[0]))
            scale = max(scale, float(np.abs(h).max()))
            evaluated += 1
    finally:
        for v, x in zip(sampled, saved):
            v.set_value(x, skip_validation=True)
    return float(smallest), scale, evaluated


def sampled_convexity_violation(expr: object, variables: Sequence[VarData], others: Sequence[VarData],
                                gradient: Sequence[object] | None = None) -> str | None:
    """Why ``expr`` is not convex in ``variables`` at some sampled point, or None if every sample is PSD."""
    grad = symbolic_gradient(expr, variables) if gradient is None else gradient
    smallest, scale, evaluated = smallest_sampled_eigenvalue(symbolic_hessian(grad, variables), variables, others)
    if evaluated == 0:
        return f"its Hessian is undefined at all {SAMPLES + 1} sampled points inside the bounds"
    if smallest < -EIGEN_TOL * max(1.0, scale):
        return f"its Hessian has the negative eigenvalue {smallest:.4g} at a sampled point inside the bounds"
    log.debug("sampled convexity: smallest eigenvalue %.3g over %d points", smallest, evaluated)
    return None
