"""Cournot oligopoly with a shared capacity cap: the variational equilibrium, checked in closed form.

Four firms sell into one market with inverse demand P(Q) = a - b Q, Q = sum_i q_i;
firm i maximises (P(Q) - c_i) q_i.  Unconstrained, the Nash equilibrium is
q_i = (a - (N+1) c_i + sum_j c_j) / ((N+1) b) = (25, 15, 5, 20), Q = 65.

Add a shared constraint, a transmission cap sum_i q_i <= K = 50.  A generalized
Nash game has a continuum of equilibria on the cap; the *variational* one gives
the cap one multiplier mu shared by all firms (a common scarcity price).
Each firm's KKT condition with that multiplier:

    a - b Q - b q_i - c_i - mu = 0          =>  q_i = (a - c_i - mu) / b - Q
Summing over i with Q = K (the cap binds):
    N b K = N (a - mu) - sum_j c_j - N b K  =>  mu = a - (sum_j c_j + (N + 1) b K) / N
With a = 100, b = 1, c = (10, 20, 30, 15), K = 50:
    mu = 100 - (75 + 250) / 4 = 18.75,  q_i = 31.25 - c_i = (21.25, 11.25, 1.25, 16.25).
mu > 0 and every q_i > 0, so the closed form holds.

Run:  python examples/cournot_shared_constraint.py
"""
import pyomo.environ as pyo

import gridgames as gg

A, B, K = 100.0, 1.0, 50.0
COSTS = [10.0, 20.0, 30.0, 15.0]
N = len(COSTS)
MU = A - (sum(COSTS) + (N + 1) * B * K) / N
CLOSED_FORM = [(A - c - MU) / B - K for c in COSTS]


def build() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(N))                          # one block per player
    for i in range(N):
        m.F[i].q = pyo.Var(bounds=(0, 200), initialize=0.0)
    total = sum(m.F[i].q for i in range(N))
    for i in range(N):
        m.F[i].profit = pyo.Objective(expr=(A - B * total - COSTS[i]) * m.F[i].q, sense=pyo.maximize)
    m.cap = pyo.Constraint(expr=total <= K)            # outside every player block: shared
    return m


def main() -> None:
    m = build()
    res = gg.solve_nash(m, m.F, method="kkt", variational=True)
    q = [pyo.value(m.F[i].q) for i in range(N)]
    print(f"status {res.status.value}, Nash gap {res.gap:.2e}, scarcity price mu = {MU:.4g}")
    print(f"{'firm':<6}{'cost':>6}{'q (kkt, VE)':>14}{'q (closed form)':>17}")
    for i in range(N):
        print(f"{i:<6}{COSTS[i]:>6.1f}{q[i]:>14.6f}{CLOSED_FORM[i]:>17.6f}")
    assert res.ok, res.message
    assert res.gap < 1e-6, res.gap                       # no firm gains by deviating within the cap
    assert abs(sum(q) - K) < 1e-6, sum(q)                # the cap binds
    assert max(abs(a - b) for a, b in zip(q, CLOSED_FORM)) < 1e-5, q

    # The generalized equilibrium is not unique: at (25, 15, 5, 5) every firm's unconstrained best
    # response exceeds its room under the cap, so no firm can gain -- yet the implied scarcity
    # prices differ per firm, so it is not the variational equilibrium.
    for i, value in enumerate([25.0, 15.0, 5.0, 5.0]):
        m.F[i].q.value = value
    gains = gg.nash_gap(m, m.F)
    print("another generalized equilibrium (25, 15, 5, 5), gains:", {k: f"{v:.1e}" for k, v in gains.items()})
    assert max(gains.values()) < 1e-6, gains


if __name__ == "__main__":
    main()
