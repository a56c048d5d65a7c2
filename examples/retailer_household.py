"""A retailer sets hourly prices; a household with a flexible load answers.  Checked in closed form.

Follower (the household, hours t = 1..T): buys x_t kWh, must get its daily energy
E = sum_t d_t, and dislikes moving away from its preferred profile d_t:

    min_x  sum_t p_t x_t + (c/2) sum_t (x_t - d_t)^2   s.t.  sum_t x_t = E,  0 <= x_t <= 3

Leader (the retailer): buys at wholesale cost k_t, sells at p_t, and the regulator
fixes the average tariff: (1/T) sum_t p_t = P.  It maximises sum_t (p_t - k_t) x_t.

Closed form.  The household's KKT conditions give x_t = d_t - (p_t - P)/c (the
energy-balance multiplier equals the mean price P).  Substituting, the retailer's
revenue is a concave quadratic in p; its stationarity with the average-price
constraint gives
    p_t = P + c (d_t - dbar)/2 + (k_t - kbar)/2,   x_t = (d_t + dbar)/2 - (k_t - kbar)/(2c)
with dbar, kbar the means of d and k (valid while 0 < x_t < 3, true for the data below).

Solved by `kkt` (Ipopt, local) and `kkt-bigm` (SCIP, global: the p*x products make it an
MIQCP).  `strong-duality` is for linear followers only; this one is a QP.

Run:  python examples/retailer_household.py
"""
import numpy as np
import pyomo.environ as pyo

import gridgames as gg

D = np.array([0.8, 0.6, 1.0, 1.6, 2.2, 1.4])        # preferred load, kWh per hour
K = np.array([0.05, 0.04, 0.08, 0.15, 0.20, 0.10])  # wholesale cost, $/kWh
C, P = 0.5, 0.25                                   # comfort weight $/kWh^2, average tariff $/kWh
T = len(D)
P_STAR = P + C * (D - D.mean()) / 2 + (K - K.mean()) / 2
X_STAR = (D + D.mean()) / 2 - (K - K.mean()) / (2 * C)
PROFIT_STAR = float((P_STAR - K) @ X_STAR)


def build() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, T - 1)
    m.p = pyo.Var(m.T, bounds=(0.0, 1.0), initialize=P)           # leader: hourly prices
    m.average = pyo.Constraint(expr=sum(m.p[t] for t in m.T) == T * P)
    m.house = pyo.Block()                                          # follower block
    h = m.house
    h.x = pyo.Var(m.T, bounds=(0.0, 3.0), initialize=lambda _, t: D[t])
    h.energy = pyo.Constraint(expr=sum(h.x[t] for t in m.T) == D.sum())
    h.cost = pyo.Objective(expr=sum(m.p[t] * h.x[t] + C / 2 * (h.x[t] - D[t]) ** 2 for t in m.T))
    m.profit = pyo.Objective(expr=sum((m.p[t] - K[t]) * h.x[t] for t in m.T), sense=pyo.maximize)
    return m


def main() -> None:
    # kkt-bigm needs a bound on the household's multipliers: by stationarity they are at most
    # |p_t| + c |x_t - d_t| + |lambda| < 10 $/kWh here.
    # The profit is flat near its optimum (curvature 2/c per hour), so SCIP's branch and bound,
    # stopping at a 1e-9 relative gap, pins the prices only to ~1e-4 $/kWh: tolerances per method.
    runs = (("kkt", {}, 1e-6), ("kkt-bigm", {"multiplier_bound": 10.0}, 5e-4))
    for method, options, tol in runs:
        m = build()
        res = gg.solve_bilevel(m, m.house, method=method, **options)
        prices = np.array([pyo.value(m.p[t]) for t in m.T])
        loads = np.array([pyo.value(m.house.x[t]) for t in m.T])
        print(f"\n{method}: {res.status.value}, profit {res.objective:.6f} $ "
              f"(closed form {PROFIT_STAR:.6f} $), follower gap {res.follower_gap:.1e}, {res.solve_time:.2f} s")
        print(f"{'hour':<6}{'price $/kWh':>12}{'closed form':>13}{'load kWh':>10}{'preferred':>11}")
        for t in range(T):
            print(f"{t:<6}{prices[t]:>12.5f}{P_STAR[t]:>13.5f}{loads[t]:>10.4f}{D[t]:>11.2f}")
        assert res.ok, res.message
        assert res.follower_gap < 1e-6, res.follower_gap      # the household really best-responds
        assert abs(res.objective - PROFIT_STAR) < 1e-6, (res.objective, PROFIT_STAR)
        assert np.abs(prices - P_STAR).max() < tol, prices - P_STAR
        assert np.abs(loads - X_STAR).max() < tol, loads - X_STAR


if __name__ == "__main__":
    main()
