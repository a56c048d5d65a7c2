"""Microgrid market game (Energies 2021, 14, 5246): closed form, every method, capacity, floor, errors."""
from __future__ import annotations

import numpy as np
import pytest

from gridgames.models.instance import InstanceError
from gridgames.models.microgrid.analytic import closed_form
from gridgames.models.microgrid.config import LogSatisfaction, Market, MarketSpec, random_market, symmetric_market
from gridgames.models.microgrid.model import LinearInertiaPSO, build_game, solve_engine, solve_pso
from gridgames.models.microgrid.solve import buyer_payoffs, equilibrium, nash_gaps
from gridgames.solvers import nash_gap
from gridgames.solvers.errors import ModelError


def sym(n=3, **kw):
    return symmetric_market(n, X=50.0, A=(70.0, 80.0), B=(0.05, 0.04), **kw)


# -- closed form ---------------------------------------------------------------
def test_closed_form_satisfies_each_buyers_kkt_by_hand():
    # N = 3, quadratic f'(x) = w (1 - x / (2X)): x_m = (w - A_m - λ) / (w/(2X) + 4 B_m), Σ x = X.
    m = sym()
    x = closed_form(m)[0]
    d = 400.0 / 100.0 + 4 * np.array([0.05, 0.04])
    lam = (np.sum((400.0 - np.array([70.0, 80.0])) / d) - 50.0) / np.sum(1 / d)
    np.testing.assert_allclose(x, (400.0 - np.array([70.0, 80.0]) - lam) / d, rtol=1e-12)
    assert x.sum() == pytest.approx(50.0)


@pytest.mark.parametrize("sat,X", [(None, 50.0), (None, 900.0), (LogSatisfaction(), 50.0),
                                   (LogSatisfaction(), 900.0)])
def test_vectorised_matches_closed_form(sat, X):
    m = symmetric_market(40, X=X, satisfaction=sat)
    sol = equilibrium(m)
    np.testing.assert_allclose(sol.r, closed_form(m), atol=1e-9)
    assert sol.rel_gap < 1e-10


@pytest.mark.parametrize("method", ["gauss-seidel", "jacobi", "kkt", "mcp"])
def test_engine_methods_match_closed_form(method):
    m = sym()
    sol = solve_engine(m, method, **({"tol": 1e-12} if method not in ("kkt", "mcp") else {}))
    assert sol.status.is_ok, sol.message
    np.testing.assert_allclose(sol.r, closed_form(m), atol=1e-5)
    assert abs(sol.nash_gap) < 1e-3 and sol.rel_gap < 1e-6


@pytest.mark.parametrize("sat", [None, LogSatisfaction()])
def test_joint_kkt_nlp_matches_closed_form(sat):
    from gridgames.models.microgrid.study import solve_kkt_nlp

    m = sym(satisfaction=sat)
    sol = solve_kkt_nlp(m)
    assert sol.status.is_ok, sol.message
    np.testing.assert_allclose(sol.r, closed_form(m), atol=1e-5)
    assert sol.rel_gap < 1e-6


def test_joint_kkt_nlp_matches_vectorised_when_capacity_binds():
    from gridgames.models.microgrid.study import solve_kkt_nlp

    m = random_market(6, MarketSpec(n_sellers=4, capacity=(20, 40)), seed=3)
    sol, ref = solve_kkt_nlp(m), equilibrium(m)
    assert sol.market_status == ref.market_status == "capacity_binding"
    np.testing.assert_allclose(sol.r, ref.r, atol=1e-5)
    np.testing.assert_allclose(sol.mu, ref.mu, atol=1e-4)


@pytest.mark.parametrize("n,capacity", [(12, (40.0, 80.0)), (50, (200.0, 500.0))])
def test_kkt_nlp_runs_through_the_engine_on_the_log_market(n, capacity):
    """Issue 15: the engine's kkt (symbolic derivatives of the log payoffs) matches the vectorised
    solver to 1e-6 relative on 12 and 50 buyers, capacity binding (allocations and surcharges)."""
    from gridgames.models.microgrid.study import solve_kkt_nlp

    m = random_market(n, MarketSpec(capacity=capacity), seed=1)
    assert isinstance(m.satisfaction, LogSatisfaction)
    sol, ref = solve_kkt_nlp(m), equilibrium(m)
    assert sol.status.is_ok, sol.message
    assert sol.method == "kkt-nlp"
    assert sol.market_status == ref.market_status == "capacity_binding"
    scale = np.abs(ref.r).max()
    assert np.abs(sol.r - ref.r).max() <= 1e-6 * scale
    assert np.abs(sol.mu - ref.mu).max() <= 1e-6 * np.abs(ref.mu).max()
    assert sol.rel_gap < 1e-6


def test_kkt_nlp_refuses_an_active_price_floor():
    from gridgames.models.microgrid.study import solve_kkt_nlp

    m = symmetric_market(3, X=50.0, A=(5.0, 80.0), B=(0.05, 0.04))
    assert not m.floor_inactive
    with pytest.raises(ModelError, match="inactive price floor"):
        solve_kkt_nlp(m)


def test_pso_with_linear_inertia_approaches_closed_form():
    m = symmetric_market(2, X=50.0, A=(70.0, 80.0), B=(0.05, 0.04))
    sol = solve_pso(m, generations=60, pop_size=30, seed=3)
    start_regret = nash_gaps(m, np.zeros((2, 2))).sum()
    assert sol.history[-1] < 0.05 * start_regret                     # regret fell by > 20x
    assert np.abs(sol.r - closed_form(m)).max() < 0.25 * 50.0        # a baseline, not an exact method


def test_linear_inertia_schedule_is_eq23():
    from pymoo.core.callback import Callback
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem

    seen = []

    class Record(Callback):
        def notify(self, algorithm):
            seen.append(algorithm.w)

    minimize(get_problem("sphere", n_var=3), LinearInertiaPSO(k_max=10, pop_size=6), ("n_gen", 10), seed=1,
             callback=Record())
    # after generation k the weight is w_max - k (w_max - w_min) / k_max
    np.testing.assert_allclose(seen[1:], [0.9 - k * 0.05 for k in range(2, 11)], atol=1e-12)


def test_engine_pso_runs_with_the_eq23_algorithm():
    m = symmetric_market(2, X=50.0, A=(70.0,), B=(0.05,))
    sol = solve_engine(m, "pso", pso_generations=8, pso_pop=8)
    # seeded run: the gap left (about 11) is far below the regret at the zero start (11375 per buyer)
    assert np.isfinite(sol.nash_gap) and sol.nash_gap < 0.05 * nash_gaps(m, np.zeros((2, 1))).max()


def test_closed_form_refuses_asymmetric_case():
    m = random_market(5, seed=0)
    with pytest.raises(ModelError, match="identical"):
        closed_form(m)


# -- capacity, floor, gap ------------------------------------------------------------
def test_capacity_binding_is_rationed_by_a_common_surcharge():
    spec = MarketSpec(n_sellers=4, satisfaction="quadratic", curvature_share=0.0, capacity=(20, 40))
    m = random_market(6, spec, seed=3)
    assert m.X.sum() > m.G.sum()
    sol = equilibrium(m)
    assert sol.market_status == "capacity_binding" and sol.status.is_ok
    assert np.all(sol.totals <= m.G * (1 + 1e-9))
    assert np.all(sol.mu[sol.totals < m.G * (1 - 1e-6)] == 0)
    assert sol.rel_gap < 1e-9
    ve = solve_engine(m, "kkt")          # variational equilibrium: same multipliers for all buyers
    np.testing.assert_allclose(ve.r, sol.r, atol=1e-5)
    newton = solve_engine(m, "mcp")      # the same by Newton; its capacity multipliers are the surcharges
    np.testing.assert_allclose(newton.r, sol.r, atol=1e-9)
    np.testing.assert_allclose(newton.mu, sol.mu, atol=1e-7)
    gs = solve_engine(m, "gauss-seidel", tol=1e-12)   # a generalized equilibrium (first movers served)
    assert gs.market_status == "capacity_binding" and gs.nash_gap < 1e-6


def test_floor_kink_handled_exactly():
    spec = MarketSpec(n_sellers=3, base_markup=-40.0)        # A < c + eps: floor active at small totals
    m = random_market(5, spec, seed=1)
    assert not m.floor_inactive and np.all(m.kink > 0)
    sol = equilibrium(m)
    assert sol.rel_gap < 1e-9
    gs = solve_engine(m, "gauss-seidel", tol=1e-12)
    np.testing.assert_allclose(gs.r, sol.r, atol=1e-4)


def test_vectorised_equals_pyomo_gauss_seidel_and_pyomo_gap_on_random_market():
    m = random_market(6, MarketSpec(n_sellers=4), seed=3)
    sol = equilibrium(m)
    gs = solve_engine(m, "gauss-seidel", tol=1e-12)
    np.testing.assert_allclose(gs.r, sol.r, atol=1e-5)
    model = build_game(m, start=sol.r)
    assert max(nash_gap(model, model.buyer).values()) < 1e-6 * np.mean(np.abs(buyer_payoffs(m, sol.r)))


def test_nash_gap_positive_at_perturbed_point_and_numpy_agrees_with_pyomo():
    m = random_market(5, MarketSpec(n_sellers=3), seed=2)
    sol = equilibrium(m)
    r = sol.r.copy()
    i, j = np.argwhere(r > 1.0)[0]
    r[i, j] *= 0.5
    g_np = nash_gaps(m, r)
    model = build_game(m, start=r)
    g_py = nash_gap(model, model.buyer)
    assert g_np[i] > 1.0
    assert g_py[f"buyer[{i}]"] == pytest.approx(g_np[i], rel=1e-5)


# -- instance errors -----------------------------------------------------------------
def test_empty_availability_names_the_buyer():
    m = sym()
    avail = m.avail.copy()
    avail[1] = False
    with pytest.raises(InstanceError, match="buyer2 has an empty set of available sellers"):
        m.with_(avail=avail)


def test_bad_seller_data_names_the_field():
    with pytest.raises(InstanceError, match=r"\[sellers\].C: entry 0 must be >= 0"):
        Market(G=[10.0], c=[50.0], eps=[5.0], A=[60.0], B=[0.1], C=[-1.0], X=[5.0], w=[300.0],
               avail=[[True]])


# -- forecast loop ---------------------------------------------------------------------
def test_forecast_loop_with_exact_forecast_isolates_behaviour():
    # a daily-periodic load: the naive-24 forecast of the equilibrium price is exact,
    # so the plan's deviation equals the perfect-forecast deviation and the error is 0
    import pandas as pd

    from gridgames.models.microgrid.forecast import forecast_loop

    idx = pd.date_range("2024-01-01", periods=24 * 4, freq="h")
    load = pd.Series(1.0 + 0.3 * np.sin(2 * np.pi * np.arange(idx.size) / 24), index=idx)
    m = random_market(8, MarketSpec(n_sellers=3), seed=4)
    table = forecast_loop(m, load, periods=3, history_hours=24 * 3, forecaster="naive-24")
    np.testing.assert_allclose(table["forecast_error_pct"], 0.0, atol=1e-8)
    np.testing.assert_allclose(table["consumption_deviation_pct"], table["perfect_forecast_deviation_pct"],
                               atol=1e-8)
    assert (table["equilibrium_rel_gap"] < 1e-9).all()


# -- floor kink at the equilibrium, sellers' margins (upper stage) ------------------------
def kinked_market():
    m = random_market(10, MarketSpec(n_sellers=3, capacity=(150, 250)), seed=2)
    return m.with_(eps=m.eps + 200.0)


def test_equilibrium_sitting_on_the_floor_kink():
    m = kinked_market()
    sol = equilibrium(m)
    assert np.isclose(sol.totals, m.kink, rtol=1e-9).any()     # a seller sits exactly at its kink
    assert sol.rel_gap < 1e-9                                  # certified by the exact best responses


def test_seller_best_margin_beats_a_fine_grid():
    from gridgames.models.microgrid.leaders import best_margin, seller_profit

    m = random_market(10, MarketSpec(n_sellers=3, capacity=(150, 250)), seed=2)
    upper = float(m.w.max() - m.c.min())
    e1, _ = best_margin(m, m.eps.copy(), 1, upper)
    trial = m.eps.copy()
    grid = []
    for e in np.linspace(1e-3, upper, 60):
        trial[1] = e
        grid.append(seller_profit(m, trial)[1])
    trial[1] = e1
    assert seller_profit(m, trial)[1] >= max(grid) - 1e-6 * abs(max(grid))


# -- the CLI instance -----------------------------------------------------------------------
def test_run_small_instance_writes_tables_and_figures(tmp_path):
    from gridgames.models.instance import load_instance
    from gridgames.models.microgrid.study import run

    path = tmp_path / "mg.toml"
    path.write_text('model = "microgrid_market"\n[market]\nseed = 1\nbuyer_counts = [20, 40]\n'
                    '[methods]\ncompare = ["vectorised"]\nn_buyers = 5\n')
    report = run(load_instance(path))
    fig = report.tables["figures5_6"]
    assert set(fig.index.get_level_values("method")) == {"distributed Nash", "load transfer", "user-side storage"}
    assert (report.tables["equilibrium"]["rel_gap"] < 1e-9).all()
    written = {p.name for p in report.write(tmp_path / "out")}
    assert {"figure5_consumption.png", "figure6_expenditure.png", "figure7_seller_energy.png",
            "figure8_seller_price.png", "figures5_6.csv"} <= written


def test_instance_typo_names_the_field(tmp_path):
    from gridgames.models.instance import load_instance
    from gridgames.models.microgrid.study import run

    path = tmp_path / "mg.toml"
    path.write_text('model = "microgrid_market"\n[market]\nbuyer_count = [20]\ndemand = [90, 20]\n')
    with pytest.raises(InstanceError, match=r"\[market\]\.buyer_count: unknown key") as err:
        run(load_instance(path))
    assert "[market].demand: low end 90 exceeds high end 20" in str(err.value)


# -- Section 5.3 baselines ---------------------------------------------------------------------
def test_load_transfer_is_the_group_optimum():
    # captive buyers, one planner per seller: compare with scipy maximising the total buyer payoff
    from scipy import optimize

    from gridgames.models.microgrid.baselines import captive, load_transfer

    m = random_market(6, MarketSpec(n_sellers=2, availability=(1, 2)), seed=5)
    owner = captive(m)
    out = load_transfer(m)

    def neg_total(x):
        tot = np.bincount(owner, weights=x, minlength=2)
        return -(m.satisfaction.value(x, m.X, m.w).sum() - (m.price(tot) * tot).sum())

    ref = optimize.minimize(neg_total, 0.5 * m.X, bounds=[(0, X) for X in m.X], method="L-BFGS-B",
                            options={"ftol": 1e-15, "gtol": 1e-10})
    assert np.all(np.bincount(owner, weights=ref.x, minlength=2) < m.G)      # capacity slack here
    np.testing.assert_allclose(out.consumption, ref.x, atol=1e-3)


def test_storage_stackelberg_leader_price_beats_a_grid():
    from gridgames.models.microgrid.baselines import _storage_response, captive, storage_stackelberg

    m = random_market(8, MarketSpec(n_sellers=2, availability=(1, 2)), seed=5)
    out = storage_stackelberg(m, storage_share=0.3, offpeak_price=60.0)
    owner = captive(m)
    for s in range(2):
        idx = np.flatnonzero(owner == s)
        if idx.size == 0:
            continue
        grid = np.linspace(m.floor[s], m.w.max(), 2000)
        rev = [p * min(_storage_response(m, idx, p, 0.3, 60.0)[0].sum(), m.G[s]) for p in grid]
        assert out.seller_price[s] * out.seller_energy[s] >= max(rev) - 1e-6 * max(rev)


@pytest.mark.parametrize("price", [40.0, 150.0, 420.0])
def test_storage_follower_response_matches_scipy(price):
    from scipy import optimize

    from gridgames.models.microgrid.baselines import _storage_response

    m = random_market(4, MarketSpec(n_sellers=2), seed=5)
    x, e = _storage_response(m, np.arange(4), price, 0.3, 60.0)
    for i in range(4):
        X, w, S = m.X[i], m.w[i], 0.3 * m.X[i]

        def neg(z):
            return -(m.satisfaction.value(z[0] + z[1], X, w) - price * z[0] - 60.0 * z[1])

        ref = optimize.minimize(neg, [0.1, 0.1], bounds=[(0, X), (0, S)], method="SLSQP",
                                constraints=[{"type": "ineq", "fun": lambda z: X - z[0] - z[1]}],
                                options={"ftol": 1e-14, "maxiter": 500})
        assert -neg([x[i], e[i] - x[i]]) >= -ref.fun - 1e-6 * abs(ref.fun)
        assert e[i] == pytest.approx(ref.x.sum(), abs=1e-3)
