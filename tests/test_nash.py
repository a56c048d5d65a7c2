"""solve_nash and nash_gap on games with textbook closed forms."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers import ModelError, SolveStatus, nash_gap, solve_nash

# ---------------------------------------------------------------------------
# n-firm Cournot oligopoly, inverse demand P = a - b Q, constant marginal
# costs c_i.  Firm i maximises (a - b Q) q_i - c_i q_i; first-order condition
# a - b Q - b q_i - c_i = 0.  Summing over i: n a - (n + 1) b Q - Σc = 0, so
# Q = (n a - Σc) / ((n + 1) b) and q_i = (a - c_i) / b - Q
#   = (a - (n + 1) c_i + Σc) / ((n + 1) b)            (all positive here).
# ---------------------------------------------------------------------------
A, B = 100.0, 1.0
COSTS = np.array([10.0, 20.0, 30.0, 15.0])
Q_STAR = (A - (len(COSTS) + 1) * COSTS + COSTS.sum()) / ((len(COSTS) + 1) * B)   # 25, 15, 5, 20


def cournot(costs=COSTS) -> pyo.ConcreteModel:
    n = len(costs)
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(n))
    for i in range(n):
        m.F[i].q = pyo.Var(bounds=(0, 200), initialize=0.0)
    total = sum(m.F[j].q for j in range(n))
    for i in range(n):
        m.F[i].profit = pyo.Objective(expr=(A - B * total) * m.F[i].q - costs[i] * m.F[i].q,
                                      sense=pyo.maximize)
    return m


def quantities(m) -> np.ndarray:
    return np.array([m.F[i].q.value for i in m.F])


@pytest.mark.parametrize("method,options,tol", [
    ("gauss-seidel", {}, 1e-5),
    ("jacobi", {"damping": 0.5}, 1e-5),
    ("kkt", {}, 1e-6),
    ("kkt", {"multiplier_bound": 1e3}, 1e-5),   # with solver="scip" below
    ("pso", {"n_gen": 40, "pop_size": 24, "seed": 2}, 0.1),
])
def test_cournot_closed_form(method, options, tol):
    m = cournot()
    solver = "scip" if "multiplier_bound" in options else None
    result = solve_nash(m, m.F, method=method, solver=solver, **options)
    if method == "pso":   # a heuristic never claims optimality; its gap (~0.1) exceeds the 1e-6 tolerance
        assert result.status in (SolveStatus.FEASIBLE, SolveStatus.NOT_EQUILIBRIUM), result.message
        assert result.status is SolveStatus.FEASIBLE or "gap" in result.message
    else:   # kkt's Ipopt says "locally optimal"; the Nash gap of convex players certifies the equilibrium
        assert result.status is SolveStatus.OPTIMAL, result.message
    np.testing.assert_allclose(quantities(m), Q_STAR, atol=tol * 100 if method == "pso" else tol * 25)
    assert result.gap == pytest.approx(0.0, abs=1e-6 if method != "pso" else 0.5)
    assert set(result.player_gaps) == {f"F[{i}]" for i in range(4)}


def test_jacobi_oscillates_without_damping_and_converges_with_it():
    # Jacobi's best-response map for Cournot is q <- (a - c - b Σ_{j≠i} q_j) / 2b with
    # iteration matrix -(J - I)/2: eigenvalue -(n-1)/2 = -1.5 for n = 4, so plain
    # Jacobi diverges (clipped at the bounds it cycles); damping ω = 0.5 maps the
    # eigenvalue to 1 - ω + ω(-1.5) = -0.25: a contraction.
    m = cournot()
    plain = solve_nash(m, m.F, method="jacobi", max_iter=60, adaptive=False)
    assert plain.status is SolveStatus.ITERATION_LIMIT
    assert plain.gap > 1.0
    m = cournot()
    damped = solve_nash(m, m.F, method="jacobi", damping=0.5, max_iter=200, adaptive=False)
    assert damped.status is SolveStatus.OPTIMAL
    assert damped.gap < 1e-6
    assert damped.iterations < 200
    m = cournot()   # by default Jacobi notices the oscillation and damps itself
    selfdamped = solve_nash(m, m.F, method="jacobi", max_iter=200)
    assert selfdamped.status is SolveStatus.OPTIMAL and "damping halved" in selfdamped.message
    np.testing.assert_allclose(quantities(m), Q_STAR, atol=1e-5)


def test_undamped_jacobi_on_three_firm_cournot_converges_by_damping_itself():
    """n = 3: the Jacobi iteration matrix −(J − I)/2 has eigenvalue −(n−1)/2 = −1, so plain Jacobi
    cycles for ever (|λ| = 1) — it stops at its iteration limit.  Self-damping halves ω once the
    steps reverse: ω = ½ gives 1 − ω + ω(−1) = 0 on that mode, and the closed form
    q_i = (a − 4 c_i + Σc) / 4b = (30, 20, 10) is reached."""
    costs = np.array([10.0, 20.0, 30.0])
    q_star = (A - 4 * costs + costs.sum()) / (4 * B)
    m = cournot(costs)
    plain = solve_nash(m, m.F, method="jacobi", max_iter=40, adaptive=False)
    assert plain.status is SolveStatus.ITERATION_LIMIT and plain.gap > 1.0
    m = cournot(costs)
    res = solve_nash(m, m.F, method="jacobi", max_iter=100)
    assert res.status is SolveStatus.OPTIMAL, res.message
    assert "damping halved to 0.5" in res.message
    np.testing.assert_allclose(quantities(m), q_star, atol=1e-6)
    assert res.gap < 1e-8


def test_nash_gap_is_positive_away_from_equilibrium_and_zero_at_it():
    m = cournot()
    for i, q in enumerate(Q_STAR):
        m.F[i].q.value = q
    gaps = nash_gap(m, m.F)
    assert max(gaps.values()) == pytest.approx(0.0, abs=1e-7)
    m.F[0].q.value = Q_STAR[0] + 5.0
    gaps = nash_gap(m, m.F)
    # firm 0 moving back from q0* + 5 gains b * 5^2 = 25 (its profit is concave with curvature 2b)
    assert gaps["F[0]"] == pytest.approx(25.0, rel=1e-6)
    assert all(g > 0 for g in gaps.values())


def test_shared_constraint_generalized_and_variational_equilibria():
    # Two players min (x_i - 8)^2 subject to the shared cap x_1 + x_2 <= 10.
    # Every point on x_1 + x_2 = 10 with x_i <= 8 is a generalized Nash
    # equilibrium; the variational one (equal multipliers) is symmetric: (5, 5).
    m = pyo.ConcreteModel()
    m.P = pyo.Block([1, 2])
    for i in (1, 2):
        m.P[i].x = pyo.Var(bounds=(0, 10), initialize=0.0)
        m.P[i].cost = pyo.Objective(expr=(m.P[i].x - 8) ** 2)
    m.cap = pyo.Constraint(expr=m.P[1].x + m.P[2].x <= 10)
    gs = solve_nash(m, m.P, method="gauss-seidel")
    assert gs.ok and gs.gap == pytest.approx(0.0, abs=1e-7)
    assert m.P[1].x.value + m.P[2].x.value == pytest.approx(10.0, abs=1e-6)
    assert m.P[1].x.value == pytest.approx(8.0, abs=1e-6)   # player 1 moved first and took 8
    ve = solve_nash(m, m.P, method="kkt", variational=True)
    assert ve.ok
    assert (m.P[1].x.value, m.P[2].x.value) == pytest.approx((5.0, 5.0), abs=1e-5)
    assert ve.gap == pytest.approx(0.0, abs=1e-6)


def test_bad_nash_calls():
    m = cournot()
    with pytest.raises(ModelError, match="unknown Nash method"):
        solve_nash(m, m.F, method="newton")
    with pytest.raises(ModelError, match="damping must be in"):
        solve_nash(m, m.F, method="jacobi", damping=1.5)
    with pytest.raises(ModelError, match="unknown option.*tolerance"):
        solve_nash(m, m.F, method="jacobi", tolerance=1e-3)


def test_gauss_seidel_with_ipopt_respects_a_binding_shared_cap():
    # Log utilities (NLP: Ipopt best responses) and one shared cap that binds.  With Ipopt's default
    # bound relaxation the first player overshot the cap by 5e-8 and the second player's problem was
    # infeasible; the engine now solves agents with shared constraints with bound_relax_factor = 0.
    m = pyo.ConcreteModel()
    m.P = pyo.Block([1, 2, 3])
    for i in (1, 2, 3):
        m.P[i].x = pyo.Var(bounds=(0, 10), initialize=0.0)
        m.P[i].u = pyo.Objective(expr=10 * pyo.log(1 + m.P[i].x) - m.P[i].x, sense=pyo.maximize)
    m.cap = pyo.Constraint(expr=m.P[1].x + m.P[2].x + m.P[3].x <= 5)
    result = solve_nash(m, m.P, method="gauss-seidel")
    x = np.array([pyo.value(m.P[i].x) for i in (1, 2, 3)])
    assert result.ok, result.message
    assert x.sum() <= 5 + 1e-9 and x[0] == pytest.approx(5, abs=1e-6)   # the first mover takes the cap
    assert abs(result.gap) < 1e-6


def test_nash_gap_refuses_a_game_with_no_strategies_loaded():
    """Before: the gaps were computed at values Pyomo made up (the lower bounds), silently."""
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(2))
    for i in range(2):
        m.F[i].q = pyo.Var(bounds=(0, 200))
    total = m.F[0].q + m.F[1].q
    for i in range(2):
        m.F[i].profit = pyo.Objective(expr=(100 - total) * m.F[i].q - 10 * m.F[i].q, sense=pyo.maximize)
    with pytest.raises(ModelError, match=r"F\[0\]\.q.*solve the game first"):
        nash_gap(m, m.F)
    m.F[0].q.set_value(30.0)
    m.F[1].q.set_value(30.0)     # the Cournot equilibrium of this symmetric game
    assert max(nash_gap(m, m.F).values()) < 1e-6
