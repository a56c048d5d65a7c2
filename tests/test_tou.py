"""TOU pricing family: linear comfort response, risk term, satisfaction, FCM, GA vs exact, instances, city.

Device schedules alone (battery arbitrage, EV at the cheapest hours, thermostat
in band, EV infeasibility naming the device) are covered in tests/test_household.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.forecasting.clustering import choose_classes, fuzzy_cmeans, profile_features
from gridgames.models.households.model import Household, household_block, household_schedule
from gridgames.models.households.devices import Battery, InterruptibleAppliance
from gridgames.models.instance import InstanceError, load_instance
from gridgames.models.tou.model import (TouParams, add_linear_comfort, build_tou_model, cvar, revenue_scenarios,
                                        satisfaction_index, set_prices)
from gridgames.models.tou.config import load_community
from gridgames.models.tou.solve import GAOptions, PriceRepair, solve_tou
from gridgames.solvers.errors import ModelError
from gridgames.solvers.registry import get_solver

ROOT = Path(__file__).resolve().parent.parent
PERIODS = {"valley": list(range(0, 8)), "peak": list(range(8, 24))}


def _washer_household() -> Household:
    # 2 kWh at up to 2 kW, window 6-24 h: the original schedule runs 6-7 h (valley) at 2 kW
    return Household("h", [InterruptibleAppliance("washer", energy=2.0, start=6, end=24, p_max=2.0)],
                     shift_limit=None)


@pytest.mark.parametrize("weight, moved", [(0.3, 2.0), (0.6, 0.0)])
def test_linear_comfort_moves_load_only_when_the_price_gap_pays_twice_the_weight(weight, moved):
    # the original schedule draws 2 kW in hour 6 (price 1.0); hour 20 costs 0, every other hour 1.5
    prices = np.full(24, 1.5)
    prices[6] = 1.0
    prices[20] = 0.0        # moving 1 kWh from hour 6 to 20 saves 1.0 and costs 2·weight of |shift|
    m = pyo.ConcreteModel()
    b = household_block(m, _washer_household(), prices, "h")
    add_linear_comfort(b, weight)
    assert get_solver("highs").solve(b).ok
    s = household_schedule(b)
    # saving 1.0 yuan/kWh vs comfort 2·weight per kWh: moves all 2 kWh iff 1.0 > 2·weight
    assert s.device_power["washer"][20] == pytest.approx(moved, abs=1e-7)
    assert s.device_power["washer"][6] == pytest.approx(2.0 - moved, abs=1e-7)


def test_variance_expression_matches_numpy_and_cvar_is_the_tail_mean():
    rng = np.random.default_rng(3)
    xi = rng.normal(0, 0.5, (9, 24))
    params = TouParams(PERIODS, p_avg_max=1.2, scenarios=xi, cost=0.3, comfort=1.0, comfort_form="linear")
    hh = Household("a", [Battery("bat", capacity=4, p_max=2)], base_load=np.full(24, 0.5), shift_limit=None)
    m, followers = build_tou_model([hh], [3.0], params, relax=True)
    set_prices(m, {"valley": 0.7, "peak": 1.4})
    assert get_solver("highs").solve(followers[0]).ok
    revs = revenue_scenarios(m)
    assert pyo.value(m.variance) == pytest.approx(np.var(revs), rel=1e-9)
    assert pyo.value(m.expected_revenue) == pytest.approx(revs.mean(), rel=1e-9)
    worst = np.sort(revs)[:1]   # 9 scenarios, 5 % tail = 1 scenario
    assert cvar(revs, 0.95) == pytest.approx(revs.mean() - worst.mean())


def test_satisfaction_index_by_hand():
    before = np.array([1.0, 2.0, 3.0, 4.0])             # 10 kWh
    after = np.array([2.0, 2.0, 3.0, 3.0])              # moved 1 kWh: Σ|Δ| = 2
    s, comfort, rel = satisfaction_index(before, after)
    assert (comfort, rel, s) == pytest.approx((0.8, 1.0, 0.9))
    s, comfort, rel = satisfaction_index(before, np.array([1.0, 2.0, 3.0, 3.0]))   # 1 kWh shed
    assert (comfort, rel, s) == pytest.approx((0.9, 0.9, 0.9))


def test_fcm_recovers_planted_clusters_and_xie_beni_picks_their_number():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 6.0]])
    truth = np.repeat(np.arange(3), 40)
    x = centres[truth] + rng.normal(0, 0.5, (truth.size, 2))
    r = fuzzy_cmeans(x, 3, seed=1)
    # every planted cluster maps to one FCM class, one to one
    mapping = {t: np.bincount(r.labels[truth == t], minlength=3).argmax() for t in range(3)}
    assert len(set(mapping.values())) == 3
    assert all((r.labels[truth == t] == mapping[t]).all() for t in range(3))
    for t in range(3):
        assert np.linalg.norm(r.centers[mapping[t]] - x[truth == t].mean(axis=0)) < 0.1
    assert np.allclose(r.membership.sum(axis=0), 1.0)
    best, table = choose_classes(x, range(2, 7), index="xb")
    assert best.centers.shape[0] == 3
    assert table[3]["pc"] == max(v["pc"] for v in table.values())


def test_fcm_on_profiles_separates_morning_and_evening_households():
    hours = np.arange(24)
    morning = np.exp(-0.5 * ((hours - 8) / 1.5) ** 2)
    evening = np.exp(-0.5 * ((hours - 19) / 1.5) ** 2)
    rng = np.random.default_rng(1)
    profiles = np.vstack([0.3 + morning + rng.normal(0, 0.03, (20, 24)),
                          0.3 + evening + rng.normal(0, 0.03, (20, 24))]) * rng.uniform(0.8, 1.2, (40, 1))
    r = fuzzy_cmeans(profile_features(profiles), 2)
    assert len(set(r.labels[:20])) == 1 and len(set(r.labels[20:])) == 1 and r.labels[0] != r.labels[20]


def test_fcm_rejects_bad_input():
    with pytest.raises(ModelError, match="c = 5"):
        fuzzy_cmeans(np.zeros((4, 2)), 5)
    with pytest.raises(ModelError, match="fuzzifier"):
        fuzzy_cmeans(np.zeros((4, 2)), 2, m=1.0)


def _two_user_case(form: str) -> tuple[list[Household], TouParams]:
    base = np.r_[np.full(8, 0.4), np.full(16, 0.8)]
    washer = InterruptibleAppliance("washer", energy=2.0, start=8, end=24, p_max=2.0)
    hs = [Household("U1", [washer, Battery("bat", capacity=6, p_max=3)], base_load=base),
          Household("U2", [washer], base_load=base)]
    rng = np.random.default_rng(5)
    params = TouParams(PERIODS, p_avg_max=1.0, risk_aversion=1.0, cost=0.3, scenarios=rng.normal(0, 0.3, (8, 24)),
                       comfort=0.5 if form == "linear" else 4.0, comfort_form=form)
    return hs, params


def test_ga_and_exact_agree_on_a_small_community():
    hs, params = _two_user_case("linear")
    exact = solve_tou(hs, [1.0, 1.0], params, "strong-duality")
    ga = solve_tou(hs, [1.0, 1.0], params, "nested", ga=GAOptions(pop_size=20, n_gen=20, seed=2))
    assert exact.follower_gap < 1e-4 and ga.follower_gap < 1e-6   # SCIP feasibility tolerance 1e-6 per row
    # the exact optimum (gap 1e-4) bounds the GA from above; the GA (400 candidates) gets within 1 %:
    # the optimum is a vertex (valley price at p_min, average price cap active) that a GA only approaches
    assert ga.objective <= exact.objective * (1 + 2e-4) + 1e-6
    assert ga.objective >= exact.objective * (1 - 1e-2)
    assert ga.prices["valley"] == pytest.approx(exact.prices["valley"], abs=0.05)
    assert ga.prices["peak"] == pytest.approx(exact.prices["peak"], abs=0.05)
    # constraints of the seller hold at both answers
    for s in (exact, ga):
        assert s.avg_price <= 1.0 + 1e-6 and s.prices["valley"] <= s.prices["peak"] + 1e-9


def test_ga_and_exact_agree_on_the_5_user_community():
    """The paper's case: the elitist GA (the instance's 20 × 25 budget) against the exact optimum."""
    cfg = load_community(load_instance(ROOT / "instances" / "tou_community.toml"))
    lin = cfg.linear_params()
    exact = solve_tou(cfg.households, cfg.weights, lin, "strong-duality")
    ga = solve_tou(cfg.households, cfg.weights, lin, "nested", ga=cfg.ga)
    # SCIP proves a relative gap of 1e-4, so the GA cannot be above the exact value by more than that
    assert ga.objective <= exact.objective * (1 + 2e-4) + 1e-6
    # the optimum is a kink (households just indifferent to shifting) on the average-price cap; the
    # GA approaches it from the side where they shift, within 0.1 %
    assert ga.objective >= exact.objective * (1 - 1e-3)
    for k in ("valley", "peak"):
        assert ga.prices[k] == pytest.approx(exact.prices[k], abs=0.01)
    assert ga.avg_price == pytest.approx(lin.p_avg_max, abs=1e-9)    # the repair puts it on the cap


def test_price_repair_orders_prices_and_enforces_the_average_cap():
    params = TouParams({"valley": list(range(8)), "shoulder": [8, 9, 10, 11], "peak": list(range(12, 24))},
                       p_min=0.5, p_max=2.0, p_avg_max=1.0)
    repair = PriceRepair(params, ["valley", "shoulder", "peak"])
    X = np.array([[1.9, 0.6, 1.2],      # out of order and above the cap
                  [0.6, 0.8, 1.1],      # feasible: average (8·0.6 + 4·0.8 + 12·1.1)/24 = 0.883
                  [2.0, 2.0, 2.0]])     # flat at p_max → flat at the cap
    R = repair._do(None, X)
    hours = np.array([8, 4, 12])
    assert np.all(np.diff(R, axis=1) >= 0)
    assert np.all(R @ hours / 24 <= 1.0 + 1e-12)
    np.testing.assert_allclose(R[1], X[1])
    np.testing.assert_allclose(R[2], [1.0, 1.0, 1.0])
    # row 0: sorted to (0.6, 1.2, 1.9), average 1.3 → scaled towards p_min onto the cap
    s = (1.0 - 0.5) / ((8 * 0.6 + 4 * 1.2 + 12 * 1.9) / 24 - 0.5)
    np.testing.assert_allclose(R[0], 0.5 + s * (np.array([0.6, 1.2, 1.9]) - 0.5))
    assert R[0] @ hours / 24 == pytest.approx(1.0)


def test_strong_duality_refuses_the_quadratic_comfort():
    hs, params = _two_user_case("quadratic")
    with pytest.raises(ModelError, match="linear"):
        solve_tou(hs, [1.0, 1.0], params, "strong-duality")


def test_tou_params_name_bad_periods():
    with pytest.raises(ModelError, match="cover the hours"):
        TouParams({"valley": [0, 1], "peak": list(range(3, 24))})


def _assert_edit_names_field(tmp_path, instance: str, loader, edit, field) -> None:
    """Break one line of a shipped instance; the loader's error must name ``field``."""
    text = (ROOT / "instances" / instance).read_text()
    assert edit[0] in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(InstanceError) as err:
        loader(load_instance(path))
    assert field in str(err.value)


@pytest.mark.parametrize("edit, field", [
    (("p_avg_max = 1.0", "p_avg_max = 0.2"), "[seller].p_avg_max"),
    (("valley_hours = [0, 1, 2, 3, 4, 5, 6, 7, 23]", "valley_hours = [0, 1, 2, 3, 4, 5, 6, 7, 8, 23]"),
     "[seller].peak_hours: hour 8"),
    (("comfort = 400", "comfort = -1"), "[followers].comfort"),
    (("capacity = 6.0", "capacity = -6.0"), "[users[1].devices[0]].capacity"),
    (("days = 28", "days = 5000"), "[data].days"),
    (("ga_pop_size = 20", "ga_popsize = 20"), "[solve].ga_popsize"),
    (('first_day = "2011-12-01"', 'first_day = "2011-12-1"'), "[data].first_day: not a date in the form YYYY-MM-DD"),
    (('first_day = "2011-12-01"', 'first_day = "2011-12-32"'), "[data].first_day: not a real date"),
    (('first_day = "2011-12-01"', 'first_day = "2010-01-01"'),
     "[data].first_day: 2010-01-01 is outside household_openmv_tou_hourly.csv, whose complete days run from "
     "2011-11-25 to 2012-03-16"),
])
def test_instance_errors_name_the_field(tmp_path, edit, field):
    from gridgames.models.tou.config import load_community
    _assert_edit_names_field(tmp_path, "tou_community.toml", load_community, edit, field)


def test_first_day_may_be_a_toml_date(tmp_path):
    """``first_day = 2011-12-01`` (a TOML date) and ``"2011-12-01"`` give the same days."""
    text = (ROOT / "instances" / "tou_community.toml").read_text()
    path = tmp_path / "date.toml"
    path.write_text(text.replace('first_day = "2011-12-01"', "first_day = 2011-12-01", 1))
    by_date = load_community(load_instance(path))
    by_text = load_community(load_instance(ROOT / "instances" / "tou_community.toml"))
    assert by_date.base_days == by_text.base_days and by_date.base_days[0] == "2011-12-01"


def test_city_seller_days_are_written_and_a_rerun_resumes(tmp_path):
    from gridgames.models.tou.city import load_city, run_seller_days
    cfg = load_city(load_instance(ROOT / "instances" / "tou_city.toml"))
    import dataclasses
    small = dataclasses.replace(cfg, households=40, sellers=2, days=2, method="nested",
                                ga=GAOptions(pop_size=4, n_gen=2), classes=[2, 3])
    rows, _, solved, _ = run_seller_days(small, tmp_path, workers=1, progress=False)
    assert solved == 4 and len(rows) == 4
    files = sorted(tmp_path.glob("seller_*/day_*.json"))
    assert len(files) == 4
    row = json.loads(files[0].read_text())
    assert row["status"] == "feasible" and sum(row["class_sizes"]) == 20   # nested: a heuristic
    assert 2 <= row["classes"] <= 3
    _, _, again, _ = run_seller_days(small, tmp_path, workers=1, progress=False)
    assert again == 0


def test_elitist_ga_trace_is_monotone_and_records_both_sides():
    hs, params = _two_user_case("quadratic")
    sol = solve_tou(hs, [1.0, 1.0], params, "nested", ga=GAOptions(pop_size=6, n_gen=4, seed=3), trace=True)
    assert len(sol.trace) == 4
    objs = [row["objective"] for row in sol.trace]
    assert all(b >= a - 1e-9 for a, b in zip(objs, objs[1:]))     # elitism: the best never gets worse
    assert objs[-1] == pytest.approx(sol.objective, rel=1e-9)
    assert all(row["purchased_kwh"] > 0 for row in sol.trace)


@pytest.mark.parametrize("edit, field", [
    (("ev_share = 0.2", "ev_share = 2.0"), "[city].ev_share"),
    (('method = "strong-duality"', 'method = "simplex"'), "[city].method"),
    (("hue = 0.5,", "hue = -0.5, nope = 1,"), "[city].source_weights"),
    (("p_max = 2.0", "p_max = 0.1"), "[seller].p_max"),
])
def test_city_instance_errors_name_the_field(tmp_path, edit, field):
    from gridgames.models.tou.city import load_city
    _assert_edit_names_field(tmp_path, "tou_city.toml", load_city, edit, field)


def test_grid_limits_follow_the_devices():
    from gridgames.models.households.devices import EV, PV
    from gridgames.models.tou.model import grid_limits
    base = np.r_[np.full(12, 0.5), np.full(12, 1.25)]
    h = Household("g", [PV("pv", peak_kw=4.0), Battery("bat", capacity=6, p_max=3),
                        EV("ev", p_max=3.4, v2g=False),
                        InterruptibleAppliance("w", energy=1, p_max=2.0)], base_load=base)
    imp, exp = grid_limits(h)
    assert imp == pytest.approx(1.25 + 3 + 3.4 + 2.0, abs=2e-3)
    assert exp == pytest.approx(4.0 * default_peak() + 3, abs=2e-3)


def default_peak() -> float:
    from gridgames.models.households.devices import default_pv_shape
    return float(default_pv_shape().max())
