"""solve_nash(method="mcp"): Newton on the numerically assembled stacked KKT system.

Independent answers: the Cournot closed form (derived in tests/test_nash.py), a
two-player game with a shared cap whose variational equilibrium is derived
below, and the microgrid market's vectorised numpy solver (its own aggregative
Newton method and exact best responses, no Pyomo).
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.models.microgrid.config import MarketSpec, random_market
from gridgames.models.microgrid.model import build_game, requests
from gridgames.models.microgrid.solve import buyer_payoffs, equilibrium, nash_gaps
from gridgames.solvers import ModelError, SolveStatus, solve_nash
from gridgames.solvers.games.stacked_kkt import StackedKKT
from cournot_games import cournot as cournot_game

A, B = 100.0, 1.0
COSTS = np.array([10.0, 20.0, 30.0, 15.0])
Q_STAR = (A - (len(COSTS) + 1) * COSTS + COSTS.sum()) / ((len(COSTS) + 1) * B)   # 25, 15, 5, 20


def cournot(total_as: str) -> pyo.ConcreteModel:
    """The 4-firm Cournot game, P = 100 − Q (:func:`cournot_games.cournot`)."""
    return cournot_game(COSTS, total_as, a=A, b=B)


@pytest.mark.parametrize("total_as, lifted", [("named", 1), ("inline", 1), ("rebuilt", 0)])
def test_cournot_closed_form_with_and_without_lifting(total_as, lifted):
    m = cournot(total_as)
    res = solve_nash(m, m.F, method="mcp")
    assert res.status is SolveStatus.OPTIMAL, res.message
    np.testing.assert_allclose([m.F[i].q.value for i in m.F], Q_STAR, atol=1e-9)
    assert res.gap == pytest.approx(0.0, abs=1e-7)
    assert res.extra["mcp_size"] == 4 + lifted       # a lifted total is one more unknown
    assert {"analyse", "compile", "solve", "verify"} <= set(res.extra["timings"])


def test_shared_cap_gives_the_variational_equilibrium():
    """min (x_i − τ_i)², x_i ∈ [0, 2], shared x_1 + x_2 ≤ 1, τ = (1, 0.8).

    One multiplier μ for both: 2(x_i − τ_i) + μ = 0 and x_1 + x_2 = 1 give
    μ = τ_1 + τ_2 − 1 = 0.8 and x = τ − μ/2 = (0.6, 0.4).  (Generalized Nash
    equilibria form the whole segment x_1 + x_2 = 1 between the players' targets;
    the variational one is the single point with equal multipliers.)
    """
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(2))
    tau = (1.0, 0.8)
    for i in range(2):
        m.P[i].x = pyo.Var(bounds=(0, 2), initialize=0.0)
        m.P[i].obj = pyo.Objective(expr=(m.P[i].x - tau[i]) ** 2)
    m.cap = pyo.Constraint(expr=m.P[0].x + m.P[1].x <= 1)
    res = solve_nash(m, m.P, method="mcp")
    assert res.ok, res.message
    np.testing.assert_allclose([m.P[0].x.value, m.P[1].x.value], [0.6, 0.4], atol=1e-10)
    assert res.extra["shared_multipliers"]["cap"] == pytest.approx(0.8, abs=1e-10)
    assert res.gap == pytest.approx(0.0, abs=1e-8)


def test_own_equality_and_lower_bound_rows():
    """Player 0: min x² + y² − x·z s.t. x + y = 1, x ≥ 0.7 (rows), x ≤ 0.9 (bound); player 1: min (z − x)².

    Player 1 copies x.  Player 0, with y = 1 − x, has derivative 4x − 2 − z: unconstrained
    x = (2 + z)/4, so at z = x it wants x = 2/3 < 0.7: the row x ≥ 0.7 binds, x = 0.7, y = 0.3,
    z = 0.7 (player 0 at z = 0.7 wants 0.675 < 0.7: the row still binds).
    """
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(2))
    m.P[0].x = pyo.Var(bounds=(0, 0.9), initialize=0.5)
    m.P[0].y = pyo.Var(initialize=0.5)
    m.P[0].sum = pyo.Constraint(expr=m.P[0].x + m.P[0].y == 1)
    m.P[0].low = pyo.Constraint(expr=m.P[0].x >= 0.7)
    m.P[1].z = pyo.Var(initialize=0.0)
    m.P[0].obj = pyo.Objective(expr=m.P[0].x ** 2 + m.P[0].y ** 2 - m.P[0].x * m.P[1].z)
    m.P[1].obj = pyo.Objective(expr=(m.P[1].z - m.P[0].x) ** 2)
    res = solve_nash(m, m.P, method="mcp")
    assert res.ok, res.message
    np.testing.assert_allclose([m.P[0].x.value, m.P[0].y.value, m.P[1].z.value], [0.7, 0.3, 0.7], atol=1e-9)
    assert res.status is SolveStatus.OPTIMAL


def _market(n: int, capacity_share: float = 1.0):
    mk = random_market(n, MarketSpec(), 7)
    return mk.with_(G=mk.G * capacity_share)


@pytest.mark.parametrize("n,share", [(40, 1.0), (60, 0.25)])
def test_microgrid_matches_the_vectorised_solver(n, share):
    """Log satisfaction and quadratic prices (cubic payment terms); the second case has binding capacities."""
    market = _market(n, share)
    model = build_game(market)
    res = solve_nash(model, model.buyer, method="mcp", verify=False)
    assert res.status is SolveStatus.LOCALLY_OPTIMAL and "not verified" in res.message
    ref = equilibrium(market)
    r = requests(market, model)
    np.testing.assert_allclose(r, ref.r, atol=1e-8)
    gap = nash_gaps(market, r).max() / np.mean(np.abs(buyer_payoffs(market, r)))
    assert gap < 1e-9
    if share < 1.0:
        assert ref.market_status == "capacity_binding"
        mu = np.array([res.extra["shared_multipliers"].get(f"capacity[{j}]", 0.0) for j in range(10)])
        np.testing.assert_allclose(mu, ref.mu, atol=1e-6)
        assert mu.max() > 1.0


def test_newton_failure_falls_back_to_scholtes_ipopt_and_says_so():
    m = cournot("named")
    res = solve_nash(m, m.F, method="mcp", max_iter=1)
    assert "fell back to kkt (Scholtes-Ipopt)" in res.message and res.ok
    np.testing.assert_allclose([m.F[i].q.value for i in m.F], Q_STAR, atol=1e-5)
    m2 = cournot("named")
    no = solve_nash(m2, m2.F, method="mcp", max_iter=1, fallback=False)
    assert no.status is SolveStatus.ITERATION_LIMIT and np.isnan(no.gap)


def test_variable_of_no_player_is_named():
    m = cournot("named")
    m.tax = pyo.Var(initialize=1.0)
    m.F[0].profit.set_value(m.F[0].profit.expr - m.tax * m.F[0].q)
    with pytest.raises(ModelError, match="'tax' enters the players' problems but belongs to no player"):
        StackedKKT(m, m.F)


def test_unknown_option_is_refused():
    m = cournot("named")
    with pytest.raises(ModelError, match="unknown option"):
        solve_nash(m, m.F, method="mcp", damping=0.5)


def test_row_hessians_sum_to_the_bridge_hessian():
    """The per-row second derivatives, weighted by multipliers, are the Ipopt bridge's Lagrangian Hessian."""
    from gridgames.solvers.nlp_compile import compile_model
    from gridgames.solvers.nlp_eval import NLPEvaluator
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), initialize=0.5, bounds=(0.1, 2))
    m.c = pyo.Constraint(range(3), rule=lambda _, i: pyo.log(1 + m.x[i]) * m.x[(i + 1) % 3] + m.x[i] ** 3 <= 4)
    m.q = pyo.Constraint(expr=m.x[0] * m.x[1] + 2 * m.x[2] ** 2 >= 0)
    m.obj = pyo.Objective(expr=0.0)
    ev = NLPEvaluator(compile_model(m))
    ev.bind()
    x, lam = np.array([0.3, 1.2, 0.7]), np.array([0.5, -1.0, 2.0, 3.0])
    rows, i, j = ev.row_hessian_structure()
    dense = np.zeros((3, 3))
    np.add.at(dense, (i, j), lam[rows] * ev.row_hessian_values(x))
    np.testing.assert_allclose(dense, ev.dense_hessian(x, lam, obj_factor=0.0), atol=1e-12)


def test_stacked_jacobian_matches_finite_differences_of_F():
    """The assembled Newton matrix (chain rule through the lifted totals, multiplier columns) against
    central differences of F on a small capacity-binding market."""
    market = _market(8, 0.2)
    model = build_game(market)
    system = StackedKKT(model, model.buyer)
    rng = np.random.default_rng(0)
    z = system.start()
    n_y = system.n_y
    z[:n_y] = np.clip(z[:n_y] + rng.uniform(0.5, 5.0, n_y), system.lb[:n_y], system.ub[:n_y])
    z[system.t_cols] = system.E @ z[:n_y] + system.e0 + 3.0      # t off its definition, on purpose
    z[n_y:] = rng.uniform(0.0, 2.0, z.size - n_y)
    J = system.J(z).toarray()
    h = 1e-6
    fd = np.column_stack([(system.F(z + h * e) - system.F(z - h * e)) / (2 * h) for e in np.eye(z.size)])
    np.testing.assert_allclose(J, fd, atol=1e-5 * (1 + np.abs(fd).max()))
