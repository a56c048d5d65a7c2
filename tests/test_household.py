"""The household library: each device against a hand-computed schedule, data checks, use as a follower."""
from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.models.households.model import (Household, HouseholdInfeasibleError, household_block,
                                        household_schedule, solve_household)
from gridgames.models.households.config import household_from_dict
from gridgames.models.households.devices import (EV, PV, Battery, InterruptibleAppliance, ShiftableAppliance,
                                                Thermostat, default_pv_shape)
from gridgames.models.households.timegrid import TimeGrid
from gridgames.models.instance import InstanceError
from gridgames.solvers import ModelError, SolveStatus, UnsupportedModelError, get_solver, solve_bilevel

TWO_PRICES = np.array([0.1] * 12 + [0.5] * 12)


def test_battery_arbitrages_two_prices():
    # Base load 3 kW all day, lossless 6 kWh battery starting empty, must end >= empty.
    # Cheap hours 0-11 at 0.1, dear hours 12-23 at 0.5: store 6 kWh cheaply, use it in dear hours.
    # Purchases: 36 + 6 = 42 kWh cheap, 36 - 6 = 30 kWh dear; bill 4.2 + 15 = 19.2 (21.6 without).
    h = Household("h", [Battery("bat", capacity=6, p_max=3, eta_ch=1, eta_dis=1, soc_min=0, soc_init=0)],
                  base_load=np.full(24, 3.0), shift_limit=None)
    _, s, res = solve_household(h, TWO_PRICES, solver="highs")
    assert res.status is SolveStatus.OPTIMAL
    assert s.buy[:12].sum() == pytest.approx(42.0, abs=1e-6)
    assert s.buy[12:].sum() == pytest.approx(30.0, abs=1e-6)
    assert s.bill == pytest.approx(19.2, abs=1e-6)
    assert s.sell.sum() == pytest.approx(0.0, abs=1e-9)


def test_battery_losses_shrink_the_arbitrage():
    # Same with eta_ch = eta_dis = 0.9: 6 kWh stored take 6/0.9 kWh at 0.1 and give 6*0.9 = 5.4 kWh at 0.5,
    # worth 5.4*0.5 - 0.1*6/0.9 = 2.0333 (vs 2.4 lossless); the battery still ends where it started (empty).
    h = Household("h", [Battery("bat", capacity=6, p_max=3, eta_ch=0.9, eta_dis=0.9, soc_min=0, soc_init=0)],
                  base_load=np.full(24, 3.0), shift_limit=None)
    _, s, _ = solve_household(h, TWO_PRICES, solver="highs")
    assert s.bill == pytest.approx(21.6 - (5.4 * 0.5 - 0.1 * 6 / 0.9), abs=1e-6)


EV_PRICES = np.array([0.9, 0.8, 0.3, 0.2, 0.7, 0.6, 0.25, 0.95] + [1.0] * 16)


def ev_household(grid: TimeGrid = TimeGrid()) -> Household:
    return Household("h", [EV("car", arrival=0, departure=8, energy_arrival=8, energy_departure=15, eta_ch=1.0,
                              v2g=False)], grid=grid, shift_limit=None)


def test_ev_meets_its_departure_energy_at_the_cheapest_hours():
    # Needs 15 - 8 = 7 kWh in hours 0-7 at <= 3.4 kW: cheapest hours 3 (0.2), 6 (0.25), 2 (0.3):
    # 3.4 + 3.4 + 0.2 kWh; bill 0.68 + 0.85 + 0.06 = 1.59.
    _, s, _ = solve_household(ev_household(), EV_PRICES, solver="highs")
    expected = np.zeros(24)
    expected[[3, 6, 2]] = [3.4, 3.4, 0.2]
    np.testing.assert_allclose(s.device_power["car"], expected, atol=1e-6)
    assert s.bill == pytest.approx(1.59, abs=1e-9)


def test_quarter_hour_grid_gives_the_same_energy():
    # The same EV on a 15-minute grid with the hourly prices held: 96 periods, energy = power * 0.25 h,
    # so each hour's energy and the bill are unchanged.  Same for the battery arbitrage.
    grid = TimeGrid(dt=0.25, horizon=24)
    _, s, _ = solve_household(ev_household(grid), EV_PRICES, solver="highs")
    hourly = s.device_power["car"].reshape(24, 4).sum(axis=1) * 0.25
    expected = np.zeros(24)
    expected[[3, 6, 2]] = [3.4, 3.4, 0.2]
    np.testing.assert_allclose(hourly, expected, atol=1e-6)
    assert s.bill == pytest.approx(1.59, abs=1e-9)
    assert s.energy_bought == pytest.approx(7.0, abs=1e-9)
    h = Household("h", [Battery("bat", capacity=6, p_max=3, eta_ch=1, eta_dis=1, soc_min=0, soc_init=0)],
                  base_load=np.full(24, 3.0), shift_limit=None, grid=grid)
    _, s, _ = solve_household(h, TWO_PRICES, solver="highs")
    assert s.bill == pytest.approx(19.2, abs=1e-6)


def test_two_day_horizon_repeats_daily_profiles():
    # 48 h hourly, the 24 h base load repeated: twice the one-day battery result (38.4) because the
    # battery may also cycle on day 2 and must only end >= its start.
    h = Household("h", [Battery("bat", capacity=6, p_max=3, eta_ch=1, eta_dis=1, soc_min=0, soc_init=0)],
                  base_load=np.full(24, 3.0), shift_limit=None, grid=TimeGrid(1.0, 48))
    _, s, _ = solve_household(h, np.tile(TWO_PRICES, 2), solver="highs")
    assert s.bill == pytest.approx(2 * 19.2, abs=1e-6)


def test_thermostat_stays_in_its_band():
    # AC, T_out = 32 °C, R = 2 °C/kW, C = 2 kWh/°C (a = e^-0.25), COP 2.5, start 25 °C, band 22-27, flat price.
    # Cheapest: let the room warm to 27 °C, then hold it (32 - 2.5*2*P = 27 -> P = 1 kW).
    # Hour 0 off: T1 = 25a + 32(1-a) = 26.548; hour 1: a*T1 + (1-a)(32 - 5P) = 27 -> P = 0.6818.
    ac = Thermostat("ac", t_out=np.full(24, 32.0))
    m, s, _ = solve_household(Household("h", [ac], shift_limit=None), np.ones(24), solver="highs")
    a = math.exp(-0.25)
    t1 = 25 * a + 32 * (1 - a)
    p1 = (a * t1 + (1 - a) * 32 - 27) / ((1 - a) * 5)
    power = s.device_power["ac"]
    assert power[0] == pytest.approx(0.0, abs=1e-7)
    assert power[1] == pytest.approx(p1, abs=1e-6)
    np.testing.assert_allclose(power[2:], 1.0, atol=1e-6)
    temps = ac.simulate(TimeGrid(), power)        # independent numpy simulation of the schedule
    model_temps = np.array([pyo.value(m.household.ac.temp[t]) for t in range(1, 25)])
    np.testing.assert_allclose(model_temps, temps[1:], atol=1e-6)
    assert temps.min() >= 22 - 1e-6 and temps.max() <= 27 + 1e-6


def test_thermostat_precools_before_the_peak_and_stays_in_band():
    # Cheap hours 0-11 (0.1), dear 12-23 (0.5): the AC cools towards 22 °C before noon, then coasts.
    ac = Thermostat("ac", t_out=np.full(24, 32.0))
    _, s, _ = solve_household(Household("h", [ac], shift_limit=None), TWO_PRICES, solver="highs")
    temps = ac.simulate(TimeGrid(), s.device_power["ac"])
    assert temps.min() >= 22 - 1e-6 and temps.max() <= 27 + 1e-6
    assert temps[12] == pytest.approx(22.0, abs=1e-6)     # fully pre-cooled at the price step
    assert s.device_power["ac"][12:].sum() < 12.0           # less than holding 27 °C at 1 kW


def test_uninterruptible_appliance_runs_once_in_the_cheapest_contiguous_window():
    # Profile 1, 2, 1 kW inside [6, 22) h.  Cheap single hours 7 and 20 (0.1) but the cheapest
    # 3-hour block is 15-17 at 0.3: cost 0.3*(1+2+1) = 1.2 vs 2.2 around hour 7 or 20.
    prices = np.ones(24)
    prices[[7, 20]] = 0.1
    prices[15:18] = 0.3
    wash = ShiftableAppliance("wash", profile=np.array([1.0, 2.0, 1.0]), start=6, end=22)
    m, s, _ = solve_household(Household("h", [wash], shift_limit=None), prices, solver="highs")
    expected = np.zeros(24)
    expected[15:18] = [1, 2, 1]
    np.testing.assert_allclose(s.device_power["wash"], expected, atol=1e-6)
    starts = np.array([pyo.value(v) for v in m.household.wash.start.values()])
    assert np.sum(starts > 0.5) == 1 and s.bill == pytest.approx(1.2, abs=1e-9)


@pytest.mark.parametrize("omega,moved", [(0.3, True), (0.5, False)])
def test_comfort_term_with_binaries_is_a_miqp_for_scip(omega, moved):
    # A 1 kW, 1 h appliance preferred at 18 h (price 1.0); hour 3 costs 0.2.  Moving saves 0.8 but
    # costs omega*(1² + 1²) = 2 omega in comfort: moves for omega = 0.3 (0.6 < 0.8), stays for 0.5.
    prices = np.ones(24)
    prices[3] = 0.2
    dev = ShiftableAppliance("app", profile=np.array([1.0]), start=0, end=24, preferred_start=18)
    h = Household("h", [dev], comfort=omega, shift_limit=None)
    _, s, res = solve_household(h, prices)
    assert res.solver == "scip" and res.status is SolveStatus.OPTIMAL
    assert s.device_power["app"][3 if moved else 18] == pytest.approx(1.0, abs=1e-6)
    assert s.objective == pytest.approx(0.2 + 2 * omega if moved else 1.0, abs=1e-6)


def test_interruptible_appliance_fills_the_cheapest_hours():
    # 5 kWh at <= 2 kW inside [0, 8): cheapest hours 3 (0.2), 6 (0.25), then 1 kWh in hour 2 (0.3).
    dev = InterruptibleAppliance("pump", energy=5, start=0, end=8, p_max=2)
    _, s, _ = solve_household(Household("h", [dev], shift_limit=None), EV_PRICES, solver="highs")
    expected = np.zeros(24)
    expected[[3, 6, 2]] = [2, 2, 1]
    np.testing.assert_allclose(s.device_power["pump"], expected, atol=1e-6)


def test_pv_export_is_valued_at_the_feed_in_price():
    # 7 kW PV (half sine 6-18 h), 0.5 kW base load, price 0.6, feed-in 0.2: no choice to make, so
    # buy = max(0, 0.5 - pv), sell = max(0, pv - 0.5), bill = 0.6 Σ buy - 0.2 Σ sell; net = buy - sell.
    pv = 7 * default_pv_shape()
    h = Household("h", [PV("roof")], base_load=np.full(24, 0.5), feed_in=0.2, shift_limit=None)
    _, s, _ = solve_household(h, 0.6, solver="highs")
    buy, sell = np.maximum(0, 0.5 - pv), np.maximum(0, pv - 0.5)
    np.testing.assert_allclose(s.buy, buy, atol=1e-7)
    np.testing.assert_allclose(s.sell, sell, atol=1e-7)
    assert s.bill == pytest.approx(0.6 * buy.sum() - 0.2 * sell.sum(), abs=1e-7)
    assert s.net[12] < 0   # a sale is negative, as in the paper's Tables 3-4


def test_shift_limit_bounds_the_change_per_period():
    # EV rated 3.4 kW, limit 15 %: the controllable load may move by at most 0.51 kW per hour from its
    # original schedule (full power from arrival: 3.4, 3.4, 0.2 kWh in hours 0-2).
    h = ev_household()
    h.shift_limit = 0.15
    _, s, _ = solve_household(h, EV_PRICES, solver="highs")
    dev = s.device_power["car"] - h.controllable_baseline()
    assert np.abs(dev).max() <= 0.51 + 1e-7
    assert s.device_power["car"].sum() == pytest.approx(7.0, abs=1e-7)


def test_ev_that_cannot_charge_enough_is_named_before_solving():
    # 7 kWh needed in 2 h: at most 3.4 kW * 2 h * 0.95 = 6.46 kWh.
    h = Household("h", [EV("car", arrival=0, departure=2, energy_arrival=8, energy_departure=15)])
    with pytest.raises(HouseholdInfeasibleError, match=r"ev 'car'.*needs 7 kWh.*at most 6\.46 kWh"):
        household_block(pyo.ConcreteModel(), h, 1.0)


def test_infeasibility_the_precheck_cannot_see_falls_back_to_the_solver():
    # Each device is fine alone, but a 2 kW grid connection with a 1 kW base load leaves 1 kW for an EV
    # that must charge 3.4 kW for 2 h: the solver reports infeasible; solve_household names the devices.
    h = Household("h", [EV("car", arrival=0, departure=2, energy_arrival=8, energy_departure=14, eta_ch=1.0)],
                  base_load=np.ones(24), import_limit_kw=2.0, shift_limit=None)
    m = pyo.ConcreteModel()
    block = household_block(m, h, 1.0)
    assert get_solver("highs").solve(block).status is SolveStatus.INFEASIBLE
    with pytest.raises(HouseholdInfeasibleError, match=r"ev 'car'"):
        solve_household(h, 1.0, solver="highs")


def test_bad_household_data_reports_every_problem():
    bad = {"household": {"dt": 0.7, "comfort": -1, "colour": 1, "devices": [
        {"type": "ev", "name": "car", "capacity": -3, "arrival": 20, "departure": 8},
        {"type": "rocket", "name": "x"},
        {"type": "battery", "name": "b", "soc_min": 0.5, "soc_init": 0.2, "eta_ch": 1.2},
        {"type": "thermostat", "name": "ac", "mode": "cold", "t_pref": 30}]}}
    with pytest.raises(InstanceError) as info:
        household_from_dict(bad, source="demo.toml")
    text = str(info.value)
    for expected in ("[household].colour: unknown key", "[household].name: is required",
                     "[household].horizon: horizon 24.0 h is not a multiple of dt 0.7 h",
                     "[household].comfort: must be >= 0, got -1",
                     "[household.devices[0]].capacity: must be > 0, got -3",
                     "[household.devices[0]].departure: must be > arrival (20), got 8",
                     "[household.devices[1]].type: must be one of",
                     "[household.devices[2]].eta_ch: must be <= 1, got 1.2",
                     "[household.devices[2]].soc_init: must lie in [soc_min, soc_max]",
                     "[household.devices[3]].mode: must be one of 'cool', 'heat', got 'cold'",
                     "[household.devices[3]].t_pref: must lie in the comfort band"):
        assert expected in text, expected
    assert len(info.value.problems) == 11


def test_household_from_toml_table_with_a_real_base_load(tmp_path):
    # Base load: the real TOU household (consumption_kwh per hour ending) from 2011-12-01 01:00.
    data = {"household": {"name": "h1", "comfort": 400, "feed_in": 0.3, "base_load": {
        "file": "data/household_openmv_tou_hourly.csv", "time": "hour_ending_local",
        "value": "consumption_kwh", "start": "2011-12-01 01:00"},
        "devices": [{"type": "battery", "name": "bat"}, {"type": "pv", "name": "roof"}]}}
    import pathlib
    h = household_from_dict(data, base_dir=pathlib.Path(__file__).parents[1] / "instances")
    assert h.base_load.shape == (24,) and h.base_load[0] == pytest.approx(0.31)
    assert [d.kind for d in h.all_devices()] == ["fixed", "battery", "pv"]
    bad = {"household": {"name": "h", "base_load": {"file": "data/nope.csv", "time": "t", "value": "v"}}}
    with pytest.raises(InstanceError, match=r"nope\.csv"):
        household_from_dict(bad, base_dir=tmp_path)


# ---------------------------------------------------------------------------
# As a follower.  Leader: peak price pp (hours 8-23) in [0.5, 1.9]; the valley price (hours 0-7) is
# pv = 2.4 - pp (the average-price cap (pp + pv)/2 = 1.2 binding, prices in [0.5, 1.9]); the leader
# maximises revenue Σ price·buy.  Household: base 0.5 kW in the valley, 1 kW at peak, plus F = 6.8 kWh
# (EV, plugged all day) + 1 kWh (appliance 0.5, 0.5 kW) of flexible energy, all put in the cheaper level.
# pp >= 1.2: R = (4 + F) pv + 16 pp = 28.32 + 4.2 pp -> pp = 1.9, pv = 0.5, R = 11.8*0.5 + 30.4 = 36.3;
# pp <= 1.2: R = 4 pv + (16 + F) pp = 9.6 + 19.8 pp <= 33.36.
# ---------------------------------------------------------------------------
def tou_game(relax: bool) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.pp = pyo.Var(bounds=(0.5, 1.9), initialize=1.0)
    m.pv = pyo.Expression(expr=2.4 - m.pp)
    h = Household("home", [EV("car", arrival=0, departure=24, energy_arrival=8, energy_departure=14.8,
                              eta_ch=1.0, v2g=False),
                           ShiftableAppliance("wash", profile=np.array([0.5, 0.5]), start=0, end=24)],
                  base_load=np.array([0.5] * 8 + [1.0] * 16), shift_limit=None)
    prices = [m.pv] * 8 + [m.pp] * 16
    b = household_block(m, h, prices, relax=relax)
    m.revenue = pyo.Objective(expr=sum(prices[t] * b.buy[t] for t in range(24)), sense=pyo.maximize)
    return m


def test_household_as_follower_nested_with_binaries():
    m = tou_game(relax=False)
    res = solve_bilevel(m, m.home, method="nested", solver="highs", n_gen=12, pop_size=16, seed=2)
    assert res.status.is_ok
    assert m.pp.value == pytest.approx(1.9, abs=2e-3)
    assert res.objective == pytest.approx(36.3, abs=1e-2)
    assert res.follower_gap == pytest.approx(0.0, abs=1e-6)
    s = household_schedule(m.home)
    assert s.buy[:8].sum() == pytest.approx(4 + 7.8, abs=1e-5)      # all flexible energy in the valley


def test_kkt_rejects_the_binaries_and_solves_the_lp_relaxation():
    m = tou_game(relax=False)
    with pytest.raises(UnsupportedModelError, match=r"home: variable 'home\.wash\.start\[0\]' is integer"):
        solve_bilevel(m, m.home, method="kkt")
    m = tou_game(relax=True)
    m.pp.value = 1.0
    res = solve_bilevel(m, m.home, method="kkt")
    assert res.status.is_ok, res.message
    assert m.pp.value == pytest.approx(1.9, abs=1e-4)
    assert res.objective == pytest.approx(36.3, abs=1e-4)
    assert res.follower_gap == pytest.approx(0.0, abs=1e-5)


@pytest.mark.parametrize("solver", [None, "highs"])
def test_comfort_quadratic_has_its_closed_form(solver):
    # 2 kWh at <= 2 kW in hours 0-1, originally all in hour 0 (price 1.0); hour 1 costs 0.2.
    # Moving d kWh: cost (2 - d) + 0.2 d + omega (d² + d²); optimum d = 0.8 / (4 omega) = 0.4 at omega = 0.5,
    # objective 2 - 0.32 + 0.16 = 1.84.  Default solver (Ipopt for a continuous QP) and HiGHS agree.
    dev = InterruptibleAppliance("pump", energy=2, start=0, end=2, p_max=2)
    prices = np.ones(24)
    prices[1] = 0.2
    _, s, res = solve_household(Household("h", [dev], comfort=0.5, shift_limit=None), prices, solver=solver)
    assert res.solver == (solver or "ipopt")
    assert s.device_power["pump"][:2] == pytest.approx([1.6, 0.4], abs=1e-6)
    assert s.objective == pytest.approx(1.84, abs=1e-6)   # Ipopt: tol 1e-8 on the scaled problem
    assert s.comfort_cost == pytest.approx(0.16, abs=1e-6)


def test_relax_makes_every_binary_continuous_and_bad_prices_are_named():
    h = Household("h", [ShiftableAppliance("wash", profile=np.array([1.0, 2.0]), start=0, end=24),
                        InterruptibleAppliance("pump", energy=2, p_min=0.5, p_max=1.0)])
    m = pyo.ConcreteModel()
    exact, relaxed = household_block(m, h, 1.0, "a"), household_block(m, h, 1.0, "b", relax=True)
    assert any(not v.is_continuous() for v in exact.component_data_objects(pyo.Var))
    assert all(v.is_continuous() for v in relaxed.component_data_objects(pyo.Var))
    with pytest.raises(ModelError, match=r"household 'h' prices: 5 values do not fit 24 periods"):
        household_block(m, h, [1.0] * 5)
    clash = Household("h", [Battery("buy"), Battery("buy")])
    with pytest.raises(HouseholdInfeasibleError, match=r"'buy' is used twice.*\n.*'buy' is reserved"):
        household_block(m, clash, 1.0)


def test_miqp_epigraph_form_matches_the_quadratic_form():
    # A six-device household at omega = 400: SCIP on the epigraph form (solve_household's default for an
    # MIQP) must give the same objective as Ipopt on the LP relaxation when the relaxation is integral,
    # and never less (the relaxation is a lower bound).
    devs = [EV("car", arrival=0, departure=8, energy_arrival=8), Battery("bat"), PV("roof"),
            Thermostat("ac", t_out=np.full(24, 31.0)),
            ShiftableAppliance("wash", profile=np.array([1.0, 2.0, 1.0]), start=6, end=22),
            InterruptibleAppliance("pump", energy=3, start=0, end=24, p_max=1.5)]
    h = Household("h", devs, base_load=np.full(24, 0.6), comfort=400, feed_in=0.3)
    prices = np.array([0.5] * 8 + [1.0] * 4 + [1.5] * 6 + [1.0] * 6)
    m, exact, res = solve_household(h, prices, time_limit=60)
    assert res.solver == "scip" and res.status is SolveStatus.OPTIMAL
    _, relaxed, res_r = solve_household(h, prices, relax=True)
    assert res_r.solver == "ipopt"
    assert exact.objective >= relaxed.objective - 1e-6
    starts = np.array([pyo.value(v) for v in m.household.wash.start.values()])
    assert np.allclose(np.sort(starts)[-1], 1.0) and np.isclose(starts.sum(), 1.0)
    assert exact.objective == pytest.approx(relaxed.objective, abs=1e-5)   # the relaxation is integral here
    controllable = sum(exact.device_power[d.name] for d in devs if d.controllable)
    shift = controllable - h.controllable_baseline()
    assert np.abs(shift).max() <= 0.15 * h.reference_kw() + 1e-7     # the 15 % limit (of 3.4+3+3+4+1.5 kW)


def test_a_window_past_the_horizon_is_refused_not_cut():
    """``departure = 30`` on a 24 h day was silently cut to 24 (a midnight deadline)."""
    bad = {"household": {"name": "h", "devices": [
        {"type": "ev", "name": "car", "capacity": 40, "p_max": 7, "arrival": 18, "departure": 30,
         "energy_arrival": 10, "energy_departure": 30},
        {"type": "interruptible", "name": "wash", "energy": 2, "p_max": 1, "start": 8, "end": 26}]}}
    with pytest.raises(InstanceError) as info:
        household_from_dict(bad, source="demo.toml")
    text = str(info.value)
    assert "[household.devices[0]].departure: must be <= the horizon (24 h), got 30" in text
    assert "[household.devices[1]].end: must be <= the horizon (24 h), got 26" in text
