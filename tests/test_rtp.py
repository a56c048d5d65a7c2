"""RTP model family: price rule, appliances and planning unit, objectives, consumer choice, district."""
from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from gridgames.models.instance import InstanceError, load_instance
from gridgames.models.rtp.pricing import PriceRule, average_load, rtp_prices, step_tariff_bill
from gridgames.models.rtp.appliances import ApplianceSpec, check_appliances, library, sample_households
from gridgames.models.rtp.objectives import Welfare, comfort_index, incentive_days
from gridgames.models.rtp.study import consumer_choice
from gridgames.models.rtp.model import PlanningUnit

RULE = PriceRule(mu=(0.5, 0.8, 1.2), bands=(0.10, 0.20), f_low=-0.15, f_high=0.10, deadband=0.05)
INSTANCES = Path(__file__).resolve().parents[1] / "instances"


# -- price rule (eq. 3-4) ---------------------------------------------------------------------------
def test_average_load_is_the_equal_area_level():
    load = np.array([1.0, 2.0, 3.0, 6.0])
    p0 = average_load(load, dt=0.5)
    assert p0 == pytest.approx(3.0)
    assert 0.5 * load.sum() == pytest.approx(4 * 0.5 * p0)   # ∫ P_L dt = T P0


def test_deviations_inside_five_percent_give_the_flat_clearing_price():
    load = 1000 * (1 + 0.04 * np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False)))
    prices = rtp_prices(load, 80.0, RULE)
    # |dev| ≤ 4 %, band μ1 = 0.5 → |A_d| ≤ 2 % < 5 %: every hour at A0
    assert np.array_equal(prices, np.full(24, 80.0))


def test_spike_beyond_the_range_is_clipped_to_F():
    load = np.full(24, 1000.0)
    load[18] = 2000.0          # +92 % above P0 = 1041.67
    load[3] = 500.0            # −52 %
    prices = rtp_prices(load, 80.0, RULE)
    assert prices[18] == pytest.approx(80.0 * 1.10)
    assert prices[3] == pytest.approx(80.0 * 0.85)
    others = np.delete(prices, [3, 18])
    assert np.all(others == 80.0)   # −4 % deviation × 0.5 = −2 %: ignored


def test_band_coefficients_by_hand():
    p0 = 1000.0
    load = np.full(24, p0)
    load[10], load[11] = p0 * 1.15, p0 * 0.85     # middle band: μ2 = 0.8 → ±12 % → +10 % cap, −12 %
    load[12], load[13] = p0 * 1.08, p0 * 0.92     # lowest band: μ1 = 0.5 → ±4 % → ignored
    assert average_load(load) == pytest.approx(p0)
    prices = rtp_prices(load, 50.0, RULE)
    assert prices[10] == pytest.approx(50.0 * 1.10)
    assert prices[11] == pytest.approx(50.0 * (1 - 0.8 * 0.15))
    assert prices[12] == prices[13] == 50.0
    rule = PriceRule(mu=(0.5, 0.8, 1.2), bands=(0.10, 0.20), f_low=-0.15, f_high=0.15, deadband=0.05)
    assert rtp_prices(load, 50.0, rule)[10] == pytest.approx(50.0 * (1 + 0.8 * 0.15))


def test_price_rule_rejects_bad_parameters_by_field():
    with pytest.raises(InstanceError, match=r"\[price\]\.mu"):
        PriceRule(mu=(0.8, 0.5, 1.2))
    with pytest.raises(InstanceError, match=r"\[price\]\.bands"):
        PriceRule(bands=(0.3, 0.2))
    with pytest.raises(InstanceError, match="A0"):
        rtp_prices(np.ones(24), -1.0)


def test_step_tariff_blocks():
    bills = step_tariff_bill([5.0, 15.0, 30.0], [10.0, 20.0], [0.1, 0.2, 0.4])
    assert np.allclose(bills, [0.5, 1.0 + 1.0, 1.0 + 2.0 + 4.0])


# -- appliances and the planning unit -----------------------------------------------------------------
def _contiguous(on: np.ndarray) -> bool:
    idx = np.flatnonzero(on)
    return idx.size > 0 and np.all(np.diff(idx) == 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uninterruptible_appliance_is_never_split(seed):
    specs = [a for a in library() if a.kind != "thermostat"]
    unit = PlanningUnit(specs, rho=0.0)
    rng = np.random.default_rng(seed)
    # alternating cheap/expensive hours: a split run would be cheaper if it were allowed
    prices = np.where(np.arange(24) % 2 == 0, 0.02, 0.30) + 0.01 * rng.random(24)
    plan = unit.solve(prices)
    for s in specs:
        p = plan.power[s.name]
        on = p > 1e-6
        if s.kind == "uninterruptible":
            assert on.sum() == s.hours and _contiguous(on), s.name
            assert np.allclose(p[on], s.power)
        elif s.kind == "interruptible":
            assert on.sum() == s.hours and np.allclose(p[on], s.power)
            window = np.zeros(24, bool)
            window[int(s.start):int(s.end)] = True
            assert not np.any(on & ~window)
    # the interruptible dispenser does take the cheap (even) hours: it is split
    disp = plan.power["dispenser"] > 0
    assert np.all(np.arange(24)[disp] % 2 == 0)


def _brute_force(specs, prices, rho):
    """Enumerate every start / on-hour choice of a tiny household (independent of the MILP)."""
    options = []
    for s in specs:
        pref = s.preferred_power(__import__("gridgames.models.households.timegrid", fromlist=["TimeGrid"]).TimeGrid())
        choices = []
        if s.kind == "uninterruptible":
            for st in range(int(s.start), int(s.end) - s.hours + 1):
                p = np.zeros(24)
                p[st:st + s.hours] = s.power
                choices.append(p)
        elif s.kind == "interruptible":
            for hours in itertools.combinations(range(int(s.start), int(s.end)), s.hours):
                p = np.zeros(24)
                p[list(hours)] = s.power
                choices.append(p)
        else:
            choices.append(pref)
        options.append([(p, s.k * 0.5 * np.abs(p - pref).sum()) for p in choices])
    best = np.inf
    for combo in itertools.product(*options):
        load = sum(p for p, _ in combo)
        best = min(best, load @ prices + rho * sum(c for _, c in combo))
    return best


def test_planning_unit_matches_enumeration_and_reuses_its_model():
    A = ApplianceSpec
    specs = [A("light", "fixed", 0.05, 3, 18, 21, 18),
             A("oven", "uninterruptible", 1.0, 2, 12, 21, 17, 1.0),
             A("washer", "uninterruptible", 0.5, 3, 10, 22, 19, 1.0),
             A("dispenser", "interruptible", 0.6, 2, 14, 21, 18, 0.4)]
    unit = PlanningUnit(specs, rho=0.05)
    rng = np.random.default_rng(3)
    for _ in range(3):
        prices = 0.05 + 0.1 * rng.random(24)
        plan = unit.solve(prices)        # same model, new prices
        assert plan.objective == pytest.approx(_brute_force(specs, prices, 0.05), abs=1e-7)
        fresh = PlanningUnit(specs, rho=0.05).solve(prices)
        assert fresh.objective == pytest.approx(plan.objective, abs=1e-7)


def test_preferred_plan_has_comfort_one_and_known_bill():
    specs = library()
    unit = PlanningUnit(specs)
    prices = np.full(24, 0.1)
    pref = unit.preferred(prices)
    assert comfort_index(pref.on, pref.on_preferred) == 1.0
    assert pref.bill == pytest.approx(0.1 * pref.load.sum())


def test_appliance_validation_names_the_field():
    bad = [ApplianceSpec("oven", "uninterruptible", 1.0, 2, 10, 20, 12, k=0.5),
           ApplianceSpec("x", "teleporter", -1.0)]
    with pytest.raises(InstanceError) as exc:
        check_appliances(bad)
    text = str(exc.value)
    assert "appliance 'oven'.k" in text and "appliance 'x'.kind" in text and "appliance 'x'.power" in text


def test_monte_carlo_households_are_seeded_and_sized():
    a, b = sample_households(200, seed=5), sample_households(200, seed=5)
    assert a == b
    sizes = np.array([len(h) for h in a])
    assert sizes.min() >= 2 and sizes.max() <= 13
    for h in a:
        check_appliances(h)          # jittered preferred starts stay in their windows
    # ownership frequency follows the probabilities (binomial, 200 draws: ± 4 sd)
    p_ev = next(s.probability for s in library() if s.name == "ev")
    n_ev = sum(any(s.name == "ev" for s in h) for h in a)
    assert abs(n_ev - 200 * p_ev) < 4 * np.sqrt(200 * p_ev * (1 - p_ev)) + 5


# -- objectives --------------------------------------------------------------------------------------
def test_welfare_closed_form_and_saturation():
    w = Welfare(delta=0.5, m=0.05, r=0.01, b=0.03, c=0.1)
    s = np.array([0.0, 4.0, 10.0, 14.0])
    L = np.array([0.0, 0.5 * 4 - 0.025 * 16, 0.5 * 10 - 0.025 * 100, 0.5 ** 2 / 0.1])
    C = 0.01 * s ** 2 + 0.03 * s + 0.1
    assert np.allclose(w.utility(s), L)
    assert w.welfare(s) == pytest.approx(np.sum(L - C))
    assert w.utility(np.array([10.0]))[0] == pytest.approx(w.delta ** 2 / (2 * w.m))   # continuous at δ/m


def test_incentive_needs_m_consecutive_kept_days():
    kept = [True, True, True, False, True, True, False]
    assert incentive_days(kept, 3).tolist() == [True, True, True, False, False, False, False]
    assert incentive_days(kept, 2).tolist() == [True, True, True, False, True, True, False]


def test_comfort_index_by_hand():
    pref = np.array([[1, 1, 0, 0], [0, 0, 1, 0]], bool)
    on = np.array([[0, 1, 1, 0], [0, 0, 1, 0]], bool)
    assert comfort_index(on, pref) == pytest.approx(1 - 2 / 6)


def test_consumer_choice_against_hand_reasoning():
    bp = np.array([1.0, 1.0, 1.0])
    bq = np.array([1.2, 1.2, 1.2])
    # deviating on day 2 is worth 0.25 > 0.2 extra bill, but breaks the 3-day incentive (3 × 0.03)
    value = np.array([0.0, 0.25, 0.0])
    kept, cost = consumer_choice(bp, bq, value, lambda1=0.03, m=3)
    assert kept.tolist() == [True, True, True] and cost == pytest.approx(3 - 0.09)
    kept, cost = consumer_choice(bp, bq, value, lambda1=0.01, m=3)
    assert kept.tolist() == [True, False, True] and cost == pytest.approx(1 + 0.95 + 1)


# -- instances and district ---------------------------------------------------------------------------
def test_instance_errors_name_the_field(tmp_path):
    from gridgames.models.rtp.config import load_config
    text = (INSTANCES / "rtp_household.toml").read_text()
    text = text.replace("mu = [0.5, 0.8, 1.2]", "mu = [0.9, 0.8, 1.2]").replace("lambda1 = 0.02", "lambda1 = 2.0")
    text = text.replace('load_file = "data/', f'load_file = "{INSTANCES}/data/').replace(
        'price_file = "data/', f'price_file = "{INSTANCES}/data/')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InstanceError) as exc:
        load_config(load_instance(path))
    assert "[price].mu" in str(exc.value) and "[incentive].lambda1" in str(exc.value)
    bad = text.replace('week_start = "2017-07-10"', 'week_start = "not-a-date"').replace(
        'forecaster = "random-forest"', 'forecaster = "oracle"')
    path.write_text(bad)
    with pytest.raises(InstanceError) as exc:
        load_config(load_instance(path))
    assert "[data].week_start: not a date" in str(exc.value) and "[data].forecaster" in str(exc.value)


def test_week_outside_the_load_file_names_the_field(tmp_path):
    from gridgames.models.rtp.config import load_config, week_prices
    text = (INSTANCES / "rtp_household.toml").read_text()
    text = text.replace('load_file = "data/', f'load_file = "{INSTANCES}/data/').replace(
        'price_file = "data/', f'price_file = "{INSTANCES}/data/').replace(
        'week_start = "2017-07-10"', 'week_start = "1990-01-01"')
    path = tmp_path / "early.toml"
    path.write_text(text)
    with pytest.raises(InstanceError, match=r"\[data\]\.week_start: 1990-01-01 with history_days"):
        week_prices(load_config(load_instance(path)))


def test_district_resumes_from_its_chunk_files(tmp_path):
    from gridgames.models.rtp.district import run_district
    prices = np.vstack([np.linspace(0.05, 0.15, 24), np.linspace(0.15, 0.05, 24)])
    first = run_district(6, prices, seed=2, processes=1, chunk=3, results_dir=tmp_path)
    assert first.chunks_reused == 0 and first.bill_plan.shape == (6, 2)
    again = run_district(6, prices, seed=2, processes=1, chunk=3, results_dir=tmp_path)
    assert again.chunks_reused == 2
    assert np.allclose(again.bill_plan, first.bill_plan) and np.allclose(again.load_plan, first.load_plan)
    # planning never costs more than the consumer's own schedule at the same prices (ρ = 0)
    free = run_district(6, prices, rho=0.0, seed=2, processes=1, chunk=3)
    assert np.all(free.bill_plan <= free.bill_pref + 1e-9)


def test_cli_run_of_a_one_day_household(tmp_path):
    """The registered model runs end to end (naive forecast, three appliances, small front) and plots."""
    from gridgames.cli.run import run_instance
    text = (INSTANCES / "rtp_household.toml").read_text()
    text = (text.replace('load_file = "data/', f'load_file = "{INSTANCES}/data/')
                .replace('price_file = "data/', f'price_file = "{INSTANCES}/data/')
                .replace('forecaster = "random-forest"', 'forecaster = "naive-168"')
                .replace("days = 7", "days = 2")
                .replace('appliances = "library"', 'appliances = ["lighting", "oven", "washer", "dispenser"]')
                .replace("points = 12", "points = 4").replace("n_gen = 300", "n_gen = 10")
                .replace("pop_size = 60", "pop_size = 10"))
    path = tmp_path / "tiny.toml"
    path.write_text(text)
    out = tmp_path / "out"
    assert run_instance(path, out=out) == 0
    for name in ("paper_vs_ours.csv", "lambda_sweep.csv", "fronts.csv", "fig4_rtp_vs_step.png",
                 "fig7_consumption.png", "fig10_appliance_power.png", "pareto_fronts.png"):
        assert (out / name).is_file(), name
    import pandas as pd
    comp = pd.read_csv(out / "paper_vs_ours.csv", index_col=0)
    assert comp.loc["peak reduction, one household (%)", "paper"] == 40.13
    assert np.isfinite(comp.loc["weekly bill ($)", "ours"])


def test_report_labels_name_the_instances_own_files_and_dates(tmp_path, monkeypatch):
    """The A0 note and Figure 4's title name the load and price files and the price week actually used."""
    import shutil

    from gridgames.models.rtp import report as rtp_report
    from gridgames.models.rtp import study as rtp_study
    from gridgames.models.rtp.config import load_config
    shutil.copy(INSTANCES / "data" / "pjm_dayton_hourly.csv", tmp_path / "zone_load.csv")
    text = (INSTANCES / "rtp_household.toml").read_text()
    text = (text.replace('load_file = "data/pjm_dayton_hourly.csv"', 'load_file = "zone_load.csv"')
                .replace('price_file = "data/', f'price_file = "{INSTANCES}/data/')
                .replace('forecaster = "random-forest"', 'forecaster = "naive-168"')
                .replace("days = 7", "days = 2"))
    text = re.sub(r'(?m)^price_week_start = .*$', 'price_week_start = "2022-10-27"', text)
    path = tmp_path / "labels.toml"
    path.write_text(text)
    monkeypatch.setattr(rtp_study, "_household_study", lambda cfg, week, report: None)
    report = rtp_study.STUDY.solve(("labels", load_config(load_instance(path))), method=None, solver=None,
                                   options={})
    note = next(n for n in report.notes if n.startswith("A0 ="))
    assert "prices_be_dayahead_hourly_2022_2024.csv from 2022-10-27" in note
    assert "on zone_load.csv (DAYTON_MW) from 2017-07-10" in note and "Belgian" not in note
    titles = []
    real = rtp_report.new_figure
    monkeypatch.setattr(rtp_report, "new_figure", lambda **kw: titles.append(kw["title"]) or real(**kw))
    rtp_report.plot_prices(tmp_path, np.full((1, 24), 0.1), np.array([0.1, 0.2]), (10.0,), ["2017-07-10"],
                           "prices.csv from 2022-10-27")
    assert titles == ["Figure 4: real-time price vs step tariff (load-forecast days; A0 from prices.csv from "
                      "2022-10-27)"]


def test_a_naive_price_file_needs_its_time_zone_for_a_clock_change_day(tmp_path):
    """The shipped Belgian prices with their UTC offsets cut off: 2023-03-26 (spring forward in Brussels) has
    23 hours, which only the file's zone can vouch for; the means equal those of the file with offsets."""
    import pandas as pd

    from gridgames.data.errors import InstanceError
    from gridgames.data.bundled import dataset_path
    from gridgames.models.rtp.config import daily_clearing_prices

    frame = pd.read_csv(dataset_path("prices_be_dayahead"))
    frame = frame[(frame.hour_start_local >= "2023-03-24") & (frame.hour_start_local < "2023-03-31")]
    with_offsets = tmp_path / "offsets.csv"
    frame.to_csv(with_offsets, index=False)
    naive = tmp_path / "naive.csv"
    frame.assign(hour_start_local=frame.hour_start_local.str.slice(0, 19)).to_csv(naive, index=False)
    args = ("hour_start_local", "price_eur_per_mwh", "2023-03-24", 7, 1.0)
    reference = daily_clearing_prices(with_offsets, *args)
    np.testing.assert_allclose(daily_clearing_prices(naive, *args, tz="Europe/Brussels"), reference, rtol=1e-12)
    with pytest.raises(InstanceError, match=r"2023-03-26 has 23 hourly readings.*\[data\]\.price_timezone"):
        daily_clearing_prices(naive, *args)


def test_the_files_time_zones_are_read_from_the_instance(tmp_path):
    from gridgames.data.errors import InstanceError
    from gridgames.models.instance import load_instance
    from gridgames.models.rtp.config import load_config

    path = tmp_path / "tz.toml"
    path.write_text('model = "rtp"\nname = "tz"\n[data]\nload_file = "pjm_dayton"\nprice_file = "prices_be_dayahead"\n'
                    'price_timezone = "Europe/Brussels"\n')
    cfg = load_config(load_instance(path))
    assert (cfg.load_timezone, cfg.price_timezone) == ("America/New_York", "Europe/Brussels")
    path.write_text(path.read_text() + 'load_timezone = "Mars/Olympus"\n')
    with pytest.raises(InstanceError, match=r"\[data\]\.load_timezone: unknown time zone 'Mars/Olympus'"):
        load_config(load_instance(path))
