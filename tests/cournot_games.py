"""A Cournot game written three ways, for tests of how the engine reads market totals."""
from __future__ import annotations

from collections.abc import Sequence

import pyomo.environ as pyo


def cournot(costs: Sequence[float], total_as: str = "named", *, a: float = 100.0, b: float = 1.0,
            own_quadratic: float = 0.0) -> pyo.ConcreteModel:
    """Firms ``F[i]`` maximising ``(a − b Q) q_i − c_i q_i − own_quadratic q_i²``, ``q_i ∈ [0, 200]``, with the
    market total ``Q`` written ``named`` (an Expression), ``inline`` (one Python expression every payoff holds)
    or ``rebuilt`` (a new sum inside each payoff)."""
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(len(costs)))
    for i in m.F:
        m.F[i].q = pyo.Var(bounds=(0, 200), initialize=0.0)
    total = sum(m.F[j].q for j in m.F)
    if total_as == "named":
        m.Q = pyo.Expression(expr=total)
        total = m.Q
    for i in m.F:
        if total_as == "rebuilt":
            total = sum(m.F[j].q for j in m.F)
        q = m.F[i].q
        m.F[i].profit = pyo.Objective(expr=(a - b * total) * q - costs[i] * q - own_quadratic * q ** 2,
                                      sense=pyo.maximize)
    return m
