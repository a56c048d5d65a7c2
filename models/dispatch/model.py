"""The economic dispatch as a Pyomo model.

Generators g with quadratic cost ``a_g P² + b_g P`` meet a real hourly load
``D_t`` (BPAT, one day) within capacity and ramp limits::

    min  Σ_t Σ_g a_g P_gt² + b_g P_gt
    s.t. Σ_g P_gt = D_t                      (balance, dual = marginal price)
         Pmin_g ≤ P_gt ≤ Pmax_g
         |P_gt − P_g,t−1| ≤ R_g

A convex QP with linear constraints, so HiGHS, Ipopt, SCIP and scipy must
all agree on the optimum; the duals of the balance rows are the hourly
marginal prices, a check of each solver's dual sign convention.
"""
from __future__ import annotations

import pyomo.environ as pyo

from gridgames.models.dispatch.config import DispatchData


def build_dispatch_model(data: DispatchData) -> pyo.ConcreteModel:
    """The dispatch QP as a Pyomo model with a ``dual`` import Suffix."""
    m = pyo.ConcreteModel(name="economic_dispatch")
    m.G = pyo.RangeSet(0, len(data.a) - 1)
    m.T = pyo.RangeSet(0, len(data.load) - 1)
    m.P = pyo.Var(m.G, m.T, bounds=lambda _, g, t: (data.pmin[g], data.pmax[g]))
    m.balance = pyo.Constraint(m.T, rule=lambda m, t: sum(m.P[g, t] for g in m.G) == float(data.load.iloc[t]))
    m.ramp_up = pyo.Constraint(m.G, m.T, rule=lambda m, g, t: pyo.Constraint.Skip if t == 0
                               else m.P[g, t] - m.P[g, t - 1] <= data.ramp[g])
    m.ramp_down = pyo.Constraint(m.G, m.T, rule=lambda m, g, t: pyo.Constraint.Skip if t == 0
                                 else m.P[g, t - 1] - m.P[g, t] <= data.ramp[g])
    m.cost = pyo.Objective(expr=sum(data.a[g] * m.P[g, t] ** 2 + data.b[g] * m.P[g, t]
                                    for g in m.G for t in m.T))
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m
