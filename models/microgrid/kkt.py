"""Joint KKT system of the microgrid market for any satisfaction, solved by Ipopt (Scholtes relaxation).

The engine's ``solve_nash(method="kkt")`` accepts quadratic players only.  The
paper market has a log satisfaction and quadratic prices, which give cubic
payment terms, so this module writes the stacked KKT conditions of all buyers
directly:

    f'(r_im) − q_m(r_m) − q'_m(r_m) r_im − μ_m − λ_i + ν_im = 0,
    0 ≤ r_im ⊥ ν_im ≥ 0,   0 ≤ λ_i ⊥ X_i − Σ_m r_im ≥ 0,   0 ≤ μ_m ⊥ G_m − r_m ≥ 0.

One ``μ_m`` is shared by all buyers of seller m, which selects the variational
equilibrium, the same one as the vectorised solver.  The complementarities are
relaxed as ``a·b ≤ ε``, with ε = 1e-2, 1e-4, ..., 1e-10.  Ipopt solves each
relaxed NLP, warm-started from the previous one.  The model is built once
with a mutable ε.  ``f'`` comes from Pyomo's symbolic derivative of the
satisfaction's ``pyomo`` expression, so any plugged-in satisfaction works.
The floor must be inactive (``A_m ≥ c_m + ε_m``); otherwise use
``vectorised`` or ``gauss-seidel``.
"""
from __future__ import annotations

import time

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.calculus.derivatives import Modes, differentiate

from gridgames.models.microgrid.config import Market
from gridgames.models.microgrid.solve import MarketSolution, attach_gap
from gridgames.solvers.errors import ModelError
from gridgames.solvers.registry import get_solver
from gridgames.solvers.result import SolveStatus


def build_kkt(market: Market) -> pyo.ConcreteModel:
    """The relaxed joint KKT model (``model.eps`` is the mutable relaxation)."""
    if not market.floor_inactive:
        raise ModelError("kkt-nlp needs an inactive price floor (A_m >= c_m + eps_m for every seller); "
                         "use method 'vectorised' or 'gauss-seidel'")
    pairs = [(int(i), int(m)) for i, m in zip(*np.nonzero(market.avail))]
    mod = pyo.ConcreteModel(name="microgrid joint KKT")
    mod.P = pyo.Set(initialize=pairs, dimen=2)
    mod.I = pyo.Set(initialize=range(market.n_buyers))
    mod.M = pyo.Set(initialize=sorted({m for _, m in pairs}))
    mod.eps = pyo.Param(mutable=True, initialize=1e-2)
    share = {i: float(market.X[i]) / market.avail[i].sum() for i in range(market.n_buyers)}
    mod.r = pyo.Var(mod.P, bounds=lambda _, i, m: (0.0, float(market.X[i])), initialize=lambda _, i, m: share[i])
    mod.nu = pyo.Var(mod.P, within=pyo.NonNegativeReals, initialize=1.0)
    mod.lam = pyo.Var(mod.I, within=pyo.NonNegativeReals, initialize=1.0)
    mod.mu = pyo.Var(mod.M, within=pyo.NonNegativeReals, initialize=1.0)
    tot = {m: sum(mod.r[i, mm] for i, mm in pairs if mm == m) for m in mod.M}
    x = pyo.Var()   # a scratch variable to differentiate the satisfaction once per buyer
    mod.scratch = x

    def marginal(i: int):
        expr = market.satisfaction.pyomo(mod.scratch, float(market.X[i]), float(market.w[i]))
        return differentiate(expr, wrt=mod.scratch, mode=Modes.reverse_symbolic)

    from pyomo.core.expr.visitor import replace_expressions
    d1 = {i: marginal(i) for i in mod.I}

    def stationarity(_, i, m):
        fprime = replace_expressions(d1[i], {id(mod.scratch): mod.r[i, m]})
        A, B, C = (float(v[m]) for v in (market.A, market.B, market.C))
        price = A + B * tot[m] + C * tot[m] ** 2
        slope = B + 2.0 * C * tot[m]
        return fprime - price - slope * mod.r[i, m] - mod.mu[m] - mod.lam[i] + mod.nu[i, m] == 0

    mod.stationarity = pyo.Constraint(mod.P, rule=stationarity)
    demand = {i: sum(mod.r[i, m] for ii, m in pairs if ii == i) for i in mod.I}
    mod.demand = pyo.Constraint(mod.I, rule=lambda _, i: demand[i] <= float(market.X[i]))
    mod.capacity = pyo.Constraint(mod.M, rule=lambda _, m: tot[m] <= float(market.G[m]))
    mod.c_r = pyo.Constraint(mod.P, rule=lambda _, i, m: mod.r[i, m] * mod.nu[i, m] <= mod.eps)
    mod.c_lam = pyo.Constraint(mod.I, rule=lambda _, i: mod.lam[i] * (float(market.X[i]) - demand[i]) <= mod.eps)
    mod.c_mu = pyo.Constraint(mod.M, rule=lambda _, m: mod.mu[m] * (float(market.G[m]) - tot[m]) <= mod.eps)
    mod.obj = pyo.Objective(expr=0.0)
    return mod


def solve_kkt_nlp(market: Market, *, eps_final: float = 1e-10, solver_options: dict | None = None
                  ) -> MarketSolution:
    """Solve the joint KKT system (see the module docstring); ``nash_gap`` from the exact best responses."""
    t0 = time.perf_counter()
    mod = build_kkt(market)
    mod.scratch.fix(0.0)
    first = get_solver("ipopt", **(solver_options or {}))
    warm = get_solver("ipopt", **{"warm_start_init_point": "yes", "mu_init": 1e-6,
                                  "warm_start_bound_push": 1e-9, "warm_start_mult_bound_push": 1e-9,
                                  **(solver_options or {})})
    eps, steps, status, message = 1e-2, 0, SolveStatus.ERROR, ""
    while True:
        mod.eps.set_value(eps)
        res = (first if steps == 0 else warm).solve(mod)
        steps += 1
        status, message = res.status, f"Scholtes eps={eps:.0e}: {res.message}"
        if not res.ok or eps <= eps_final * (1 + 1e-9):
            break
        eps *= 1e-2
    r = np.zeros((market.n_buyers, market.n_sellers))
    for (i, m), v in mod.r.items():
        r[i, m] = v.value or 0.0
    mu = np.array([mod.mu[m].value if m in mod.M else 0.0 for m in range(market.n_sellers)])
    sol = MarketSolution(r=r, method="kkt-nlp", status=status, mu=mu,
                         lam=np.array([mod.lam[i].value for i in mod.I]), time=time.perf_counter() - t0,
                         iterations=steps, message=message,
                         market_status="capacity_binding" if np.any(mu > 1e-6) else "cleared")
    return attach_gap(market, sol)
