"""Variable bounds as numpy arrays, read fast.

``VarData.bounds`` resolves the domain's bounds and each bound's value on every
call (1.1-1.6 s for the pricing family's 876,000 buyer variables).
:func:`bounds_arrays` reads the raw bounds in bulk, asks each distinct domain
once and takes a bound that is a plain number as it is (0.6-0.7 s there, same
run); a bound that is a Param or an expression goes through ``VarData.bounds``,
and so does everything when a bound is not finite, so the answer is the same.

:func:`all_continuous` answers ``VarData.is_continuous`` for a whole list the same way.

Examples
--------
>>> import pyomo.environ as pyo
>>> m = pyo.ConcreteModel()
>>> m.x = pyo.Var([0, 1], bounds=(0.0, 5.0))
>>> m.y = pyo.Var(domain=pyo.NonNegativeReals)
>>> lb, ub = bounds_arrays([m.x[0], m.x[1], m.y])
>>> lb.tolist(), ub.tolist()
([0.0, 0.0, 0.0], [5.0, 5.0, inf])
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def bounds_arrays(variables: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``(lb, ub)`` of ``variables`` as float arrays, ``∓inf`` where there is no bound.

    Parameters
    ----------
    variables : sequence of VarData
        Pyomo scalar variables (any mix of components and domains).

    Returns
    -------
    lb, ub : ndarray
        The tighter of each variable's own bounds and its domain's, as ``VarData.bounds`` gives them.
    """
    variables = list(variables)
    if not variables:
        return np.zeros(0), np.zeros(0)
    try:  # VarData's slots (Pyomo >= 6.7): plain reads, checked below
        raw_lo = [v._lb for v in variables]
        raw_hi = [v._ub for v in variables]
        domains = [v._domain for v in variables]
    except AttributeError:
        return _slow(variables)
    odd: list[int] = []  # a Param or an expression as a bound: Pyomo evaluates those
    if not (set(map(type, raw_lo)) | set(map(type, raw_hi))) <= _PLAIN:
        odd = [k for k, (a, b) in enumerate(zip(raw_lo, raw_hi)) if type(a) not in _PLAIN or type(b) not in _PLAIN]
        for k in odd:
            raw_lo[k] = raw_hi[k] = None
    lb = np.array(raw_lo, float)  # None -> nan
    ub = np.array(raw_hi, float)
    if np.isinf(lb).any() or np.isinf(ub).any() or np.isnan(lb).sum() != raw_lo.count(None) \
            or np.isnan(ub).sum() != raw_hi.count(None):
        return _slow(variables)  # non-finite bounds (a nan is not "no bound"): Pyomo's rules and errors apply
    lb[np.isnan(lb)] = -np.inf
    ub[np.isnan(ub)] = np.inf
    ids = [id(d) for d in domains]
    first = {}  # each distinct domain object (most models: one or two)
    for i, d in zip(ids, domains):
        if i not in first:
            first[i] = d
    try:
        dom = {i: _domain_bounds(d) for i, d in first.items()}
    except (AttributeError, TypeError, ValueError):
        return _slow(variables)
    if len(dom) == 1:
        (dl, du), = dom.values()
        np.maximum(lb, dl, out=lb)
        np.minimum(ub, du, out=ub)
    elif dom:
        column = {i: j for j, i in enumerate(dom)}
        table = np.array(list(dom.values()), float)
        which = np.fromiter((column[i] for i in ids), np.int64, count=len(ids))
        np.maximum(lb, table[which, 0], out=lb)
        np.minimum(ub, table[which, 1], out=ub)
    if odd:
        lb[odd], ub[odd] = _slow([variables[k] for k in odd])
    return lb, ub


_PLAIN = {float, int, type(None)}


def _domain_bounds(domain: Any) -> tuple[float, float]:
    lo, hi = domain.bounds()
    return (-math.inf if lo is None else float(lo)), (math.inf if hi is None else float(hi))


def _slow(variables: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``VarData.bounds`` one variable at a time."""
    bounds = [v.bounds for v in variables]
    return (np.array([-math.inf if lo is None else lo for lo, _ in bounds], float),
            np.array([math.inf if hi is None else hi for _, hi in bounds], float))


def all_continuous(variables: Sequence[Any]) -> bool:
    """True when every variable's domain is a continuous real range (``VarData.is_continuous``),
    asking each distinct domain once."""
    domains: dict[int, Any] = {}
    for v in variables:
        d = v.domain
        if id(d) not in domains:
            domains[id(d)] = v
    return all(v.is_continuous() for v in domains.values())
