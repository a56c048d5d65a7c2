"""Reports say only what happened: paper values on the paper's case only, notes from the solution,
heuristics and relaxations named, short error cells."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.models.households.devices import InterruptibleAppliance, ShiftableAppliance
from gridgames.models.households.model import Household
from gridgames.models.instance import load_instance, registered_models
from gridgames.models.microgrid.report import market_notes, short_error
from gridgames.models.stackelberg.params import StackelbergParams
from gridgames.models.stackelberg.report import paper_case_differences
from gridgames.models.tou.model import TouParams
from gridgames.models.tou.report import methods_table
from gridgames.models.tou.solve import GAOptions, solve_tou
from gridgames.plotting import capture_figures
from gridgames.solvers.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]
PAPER_DAY = dt.date(2021, 1, 30)


def _stackelberg(tmp_path: Path, **options):
    instance = load_instance(ROOT / "instances" / "stackelberg_bpat.toml")
    instance.data["study"]["sweep"] = [0.0, 6.0, 0.5]
    report = registered_models()["stackelberg_pricing"].run(instance, **options)
    with capture_figures() as figures:
        report.write(tmp_path)
    sweep_fig = next(fig for fig, path in figures if path.name == "fig11_14_ir_sweep.png")
    shaded = [p.get_label() for ax in sweep_fig.axes for p in ax.patches if "paper" in p.get_label()]
    return report, shaded


def test_stackelberg_on_another_day_has_no_paper_columns_or_intervals(tmp_path):
    report, shaded = _stackelberg(tmp_path, day="2021-03-10")
    for name in ("comparison", "table7", "table8", "table9"):
        assert not {"paper", "rel_diff", "rel_diff_pct"} & set(report.tables[name].columns), name
    assert shaded == []
    text = report.format()
    assert "paper: best" not in text and "rel_diff" not in text
    assert "not the paper's case" in text and "day 2021-03-10 (paper: 2021-01-30)" in text


def test_stackelberg_on_the_papers_day_keeps_them(tmp_path):
    report, shaded = _stackelberg(tmp_path / "paper")
    assert {"paper", "rel_diff_pct"} <= set(report.tables["table7"].columns)
    assert "paper: best interval" in shaded
    assert report.tables["table8"].loc[("consumption_before", 0.0), "paper"] == 160590.0


@pytest.mark.parametrize("change, expected", [
    ({}, []),
    ({"mu": 5.0}, ["mu = 5.0 (paper: 10.0)"]),
    ({"price_floor": "none"}, ["price_floor = 'none' (paper: 'average')"]),
])
def test_paper_case_predicate_names_each_difference(change, expected):
    params = dataclasses.replace(StackelbergParams(), **change)
    assert paper_case_differences(params, [PAPER_DAY], "America/New_York", "label", "actual") == expected
    other = paper_case_differences(params, [PAPER_DAY], "America/Los_Angeles", "interval", "eia")
    assert other[:2] == ["days in America/Los_Angeles by 'interval' (paper: EIA's labels, America/New_York)",
                         "d = 'eia' (paper: the actual load)"]


def test_microgrid_capacity_note_follows_the_markets():
    cleared = market_notes([{"buyers": 40, "market": "cleared"}], floor_inactive=True)
    assert not any("capacity binds" in n for n in cleared)
    assert any("does not bind at 40" in n for n in cleared)
    both = market_notes([{"buyers": 40, "market": "cleared"}, {"buyers": 80, "market": "capacity_binding"}],
                        floor_inactive=False)
    assert any(n.startswith("capacity binds at 80 buyers") for n in both)
    assert any("price floor active" in n for n in both)


def test_microgrid_run_with_capacity_slack_prints_no_binding_note():
    instance = load_instance(ROOT / "instances" / "microgrid_paper.toml")
    instance.data["market"]["buyer_counts"] = [40]
    instance.data["methods"].update(compare=["vectorised", "pso-vectorised"], n_buyers=6, pso_generations=5)
    instance.data.pop("forecast")
    report = registered_models()["microgrid_market"].run(instance)
    assert report.tables["equilibrium"].loc[40, "market"] == "cleared"
    text = report.format()
    assert "capacity binds" not in text and "capacity does not bind at 40 buyers" in text
    answers = report.tables["methods_small_market"]["answer"]
    assert answers["pso-vectorised"] == "heuristic (feasible)" and answers["vectorised"].startswith("exact")


def test_error_cell_is_one_short_line_without_the_expression():
    m = pyo.ConcreteModel()
    m.x = pyo.Var([1, 2])
    expr = 2 * m.x[1] ** 2 + pyo.log(1 + m.x[2]) - 3 * m.x[1] * m.x[2]
    exc = ModelError(f"player 'b[3]': objective {expr} is not concave in its own variables\nHessian: [[4, -3]]")
    cell = short_error(exc)
    assert cell == "not run: ModelError: player 'b[3]': objective is not concave in its own variables"
    assert "\n" not in cell and len(short_error(ModelError("word " * 80))) <= 100


def _community(with_integer: bool) -> tuple[list[Household], TouParams]:
    devices = [InterruptibleAppliance("washer", energy=2.0, start=6, end=24, p_max=2.0)]
    if with_integer:
        devices.append(ShiftableAppliance("dryer", profile=np.array([1.5, 1.0]), start=10, end=24))
    hs = [Household(f"h{i}", list(devices), shift_limit=None, base_load=np.full(24, 0.4 + 0.2 * i))
          for i in range(2)]
    rng = np.random.default_rng(0)
    params = TouParams({"valley": list(range(0, 8)), "peak": list(range(8, 24))}, p_avg_max=1.0,
                       risk_aversion=1.0, cost=0.3, scenarios=rng.normal(0, 0.3, (8, 24)), comfort=0.5,
                       comfort_form="linear")
    return hs, params


def test_tou_exact_route_says_it_relaxed_integer_devices():
    hs, params = _community(with_integer=True)
    exact = solve_tou(hs, [1.0, 1.0], params, "strong-duality")
    assert exact.relaxed == ["h0.dryer", "h1.dryer"]
    assert exact.label == "strong-duality (integer devices relaxed to continuous)"
    assert "LP relaxation of 2 integer devices" in exact.answer
    ga = solve_tou(hs, [1.0, 1.0], params, "nested", ga=GAOptions(pop_size=6, n_gen=2, seed=1))
    assert ga.relaxed == [] and ga.answer == "heuristic (feasible)" and ga.status == "feasible"
    methods = methods_table([exact, ga]).index.get_level_values("method")
    assert list(methods) == ["strong-duality (integer devices relaxed to continuous)", "nested"]


def test_tou_exact_route_without_integer_devices_says_nothing_relaxed():
    hs, params = _community(with_integer=False)
    exact = solve_tou(hs, [1.0, 1.0], params, "strong-duality")
    assert exact.relaxed == [] and exact.label == "strong-duality"
    assert exact.answer == "global (SCIP, gap 1e-4)"
