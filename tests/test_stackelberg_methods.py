"""The four solution methods of solve_bilevel agree on the Stackelberg default day.

The analytic equilibrium (Appendix A re-derived, with binding bounds handled
exactly) is the reference; ``kkt`` (Ipopt, Scholtes) and ``kkt-bigm`` (SCIP,
global) must match it to 1e-6 relative on the company's utility and the
prices, ``nested`` (GA + Powell polish, followers re-solved per candidate) to
1e-3.  Each method solves the same Pyomo model object, re-used across methods.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from gridgames.models.instance import load_instance
from gridgames.models.stackelberg.config import load_config
from gridgames.models.stackelberg.model import build_model, follower_blocks
from gridgames.models.stackelberg.study import analytic_values
from gridgames.models.stackelberg.solve import choke_prices, solve_day
from gridgames.solvers import solve_bilevel

TOML = Path(__file__).resolve().parents[1] / "instances" / "stackelberg_bpat.toml"


@pytest.fixture(scope="module")
def game():
    cfg = load_config(load_instance(TOML))
    params = replace(cfg.params, ir=2.0)
    day = cfg.day(cfg.days[0])
    return params, day


@pytest.fixture(scope="module")
def reference(game):
    params, day = game
    model = build_model(params, day)
    result = solve_bilevel(model, follower_blocks(model), method="analytic", equilibrium=analytic_values)
    assert result.follower_gap == pytest.approx(0.0, abs=1e-6 * abs(result.objective))
    prices = np.array([model.p[k].value for k in model.K])
    return result.objective, prices


@pytest.mark.parametrize("method,options,rel", [
    ("kkt", {}, 1e-6),
    ("kkt-bigm", {}, 1e-6),
    ("nested", {"n_gen": 12, "pop_size": 24, "seed": 4}, 1e-3),
])
def test_methods_agree_with_the_analytic_equilibrium(game, reference, method, options, rel):
    params, day = game
    objective_ref, prices_ref = reference
    model = build_model(params, day)
    if method == "nested":
        options = {**options, "search_bounds": (np.zeros(len(day.orl)), choke_prices(params, day))}
    result = solve_bilevel(model, follower_blocks(model), method=method, **options)
    assert result.ok, result.message
    assert result.objective == pytest.approx(objective_ref, rel=rel)
    assert result.follower_gap <= 1e-6 * abs(objective_ref)
    prices = np.array([model.p[k].value for k in model.K])
    if method != "nested":
        np.testing.assert_allclose(prices, prices_ref, rtol=1e-5)


def test_solve_day_reuses_one_model_across_incentive_rates(game):
    params, day = game
    model = build_model(params, day)
    for ir in (0.0, 3.0):
        p_kkt, _ = solve_day(replace(params, ir=ir), day, method="kkt", model=model)
        p_ref, _ = solve_day(replace(params, ir=ir), day, method="analytic")
        np.testing.assert_allclose(p_kkt, p_ref, rtol=1e-5)


def test_heterogeneous_user_classes_by_kkt_match_the_analytic_solution(game):
    # K = 3 user classes, each its own follower block with its own eta, theta, w, alpha.
    from gridgames.models.stackelberg.analytic import analytic_equilibrium
    from gridgames.models.stackelberg.params import UserClass

    params, day = game
    users = (UserClass(eta=170.0, theta=0.03, w1=0.5, w2=0.5, alpha=6.0, share=0.35, name="a"),
             UserClass(eta=210.0, theta=0.01, w1=0.8, w2=0.2, alpha=12.0, share=0.45, name="b"),
             UserClass(eta=195.0, theta=0.02, w1=0.6, w2=0.4, alpha=10.0, share=0.20, name="c"))
    params = replace(params, users=users, ir=1.5)
    p_ref, l_ref = analytic_equilibrium(params, day)
    model = build_model(params, day)
    followers = follower_blocks(model)
    assert len(followers) == 3
    result = solve_bilevel(model, followers, method="kkt")
    assert result.ok and result.follower_gap <= 1e-6 * abs(result.objective)
    p, l = solve_day(params, day, method="kkt", model=model)
    np.testing.assert_allclose(p, p_ref, rtol=1e-6)
    np.testing.assert_allclose(l, l_ref, rtol=1e-6, atol=1e-6 * np.abs(l_ref).max())


def test_forecast_effect_is_zero_for_a_perfect_forecast_and_not_otherwise():
    from gridgames.models.stackelberg.data import day_data
    from gridgames.models.stackelberg.solve import forecast_effect

    cfg = load_config(load_instance(TOML), day="2019-06-12", demand_forecast="eia")
    truth = day_data(cfg.data, cfg.days[0], "actual")
    same = forecast_effect(cfg.params, truth, truth, (0.0, 2.0))
    assert (same["mean_abs_price_change"] == 0).all() and (same["forecast_mape_pct"] == 0).all()
    eia = forecast_effect(cfg.params, cfg.day(cfg.days[0]), truth, (0.0, 2.0))
    # BPA's forecast misses the day by ~1.2 % (MAPE), and the equilibrium prices move with it
    assert 0.5 < eia["forecast_mape_pct"].iloc[0] < 3.0
    assert (eia["mean_abs_price_change"] > 0).all()


def test_reused_model_takes_every_coefficient_of_the_new_parameters(game):
    # A model built for one user class re-used for other class coefficients and d_max:
    # solve_day must load them all, not only the scalar game coefficients.
    from gridgames.models.stackelberg.analytic import analytic_equilibrium
    from gridgames.models.stackelberg.params import UserClass
    from gridgames.solvers.errors import ModelError

    params, day = game
    model = build_model(params, day)
    other = replace(params, ir=1.0, d_max=float(np.sort(day.d)[-3]),
                    users=(UserClass(eta=150.0, theta=0.02, w1=0.6, w2=0.4, alpha=8.0),))
    p_ref, l_ref = analytic_equilibrium(other, day)
    p_old, _ = analytic_equilibrium(replace(params, ir=1.0), day)
    assert np.max(np.abs(p_ref - p_old)) > 1.0  # the new coefficients do move the equilibrium
    p, l = solve_day(other, day, method="kkt", model=model)
    np.testing.assert_allclose(p, p_ref, rtol=1e-5)
    np.testing.assert_allclose(l[0], l_ref, rtol=1e-5)
    with pytest.raises(ModelError, match="price_floor 'none', the model has 'average'"):
        solve_day(replace(params, price_floor="none"), day, method="kkt", model=model)
    with pytest.raises(ModelError, match="a3 > 0 changes the form"):
        solve_day(replace(params, a3=5.0, l_min=100.0), day, method="kkt", model=model)


def test_nested_search_box_contains_the_equilibrium(game):
    from gridgames.models.stackelberg.analytic import analytic_equilibrium

    params, day = game
    for p_game in (params, replace(params, price_floor="none", l_min=6550.0, d_max=6720.0, p_max=80.0)):
        p, _ = analytic_equilibrium(p_game, day)
        box = choke_prices(p_game, day)
        assert np.all(p <= box + 1e-9) and np.all(box >= 0)
    # with l_min > 0 the load stays at l_min above the choke price and one period is priced at p_max
    assert np.any(np.isclose(p, 80.0))
    # a huge incentive rate makes some response lines negative at p = 0: the box stays valid
    assert np.all(choke_prices(replace(params, ir=1000.0), day) >= 0)
