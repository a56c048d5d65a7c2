"""Results as data: values copied into results, to_frame(), summary(), history, run_instance, RunReport files."""
from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

import gridgames as gg
from gridgames.cli import main
from gridgames.models.households.devices import Battery
from gridgames.models.households.model import Household, solve_household
from gridgames.models.report import RunReport
from gridgames.solvers.games.mcp import solve_mcp
from gridgames.solvers.summary import number
from gridgames.solvers.values import VALUE_COLUMNS

COLUMNS = list(VALUE_COLUMNS)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def bard() -> pyo.ConcreteModel:
    """Bard (1998) Ex. 5.1.1, as built by examples/bilevel_literature.py: optimum x = 4, y = 4, F = -12."""
    spec = importlib.util.spec_from_file_location("bilevel_literature", EXAMPLES / "bilevel_literature.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    return example.build()


def cournot(costs=(10.0, 20.0, 30.0, 15.0)) -> pyo.ConcreteModel:
    """P = 100 - Q: q_i = (100 - n c_i + sum_{j != i} c_j) / (n + 1) -> (25, 15, 5, 20) for these costs."""
    m = pyo.ConcreteModel()
    m.c = pyo.Param(range(len(costs)), initialize=dict(enumerate(costs)), mutable=True)
    m.F = pyo.Block(range(len(costs)))
    for i in m.F:
        m.F[i].q = pyo.Var(bounds=(0, 200))
    total = sum(m.F[i].q for i in m.F)
    for i in m.F:
        m.F[i].profit = pyo.Objective(expr=(100 - total) * m.F[i].q - m.c[i] * m.F[i].q, sense=pyo.maximize)
    return m


def cournot_closed_form(costs) -> np.ndarray:
    c = np.asarray(costs, dtype=float)
    return (100 - len(c) * c + (c.sum() - c)) / (len(c) + 1)


def test_bilevel_frame_holds_the_model_values_and_a_resolve_does_not_change_it():
    m = bard()
    res = gg.solve_bilevel(m, m.follower, method="kkt-bigm")
    assert res.status.is_optimal, res.message
    frame = res.to_frame()
    assert list(frame.columns) == COLUMNS
    assert frame[["agent", "role", "variable"]].values.tolist() == [["leader", "leader", "x"],
                                                                    ["follower", "follower", "y"]]
    assert frame["index"].isna().all()
    assert frame["value"].tolist() == pytest.approx([pyo.value(m.x), pyo.value(m.follower.y)], abs=0)
    assert frame["value"].tolist() == pytest.approx([4.0, 4.0], abs=1e-6)      # the published optimum
    assert res.leader_values["x"] == pytest.approx(4.0, abs=1e-6)
    assert res.follower_values["follower"]["y"] == pytest.approx(4.0, abs=1e-6)
    # a re-solve of the same model with the leader pushed elsewhere leaves the stored result alone
    m.x.setub(1.0)
    again = gg.solve_bilevel(m, m.follower, method="kkt-bigm")
    assert pyo.value(m.x) == pytest.approx(1.0, abs=1e-6) and again.leader_values["x"] == pytest.approx(1.0)
    assert res.leader_values["x"] == pytest.approx(4.0, abs=1e-6)
    assert res.to_frame()["value"].tolist() == pytest.approx([4.0, 4.0], abs=1e-6)
    with pytest.raises(ValueError, match="read-only"):
        res.leader_values._arrays["x"][0] = 0.0


def test_nash_frame_and_values_match_the_model_and_the_closed_form():
    costs = (10.0, 20.0, 30.0, 15.0)
    m = cournot(costs)
    res = gg.solve_nash(m, m.F, method="gauss-seidel")
    assert res.status.is_optimal, res.message
    frame = res.to_frame()
    assert list(frame.columns) == COLUMNS and set(frame["role"]) == {"player"}
    assert frame["agent"].tolist() == [f"F[{i}]" for i in range(4)]
    assert frame["value"].to_numpy() == pytest.approx([pyo.value(m.F[i].q) for i in range(4)], abs=0)
    assert frame["value"].to_numpy() == pytest.approx(cournot_closed_form(costs), abs=1e-5)
    assert res.player_values["F[3]"]["q"] == pytest.approx(20.0, abs=1e-5)
    assert res.shared_values is None                  # every variable belongs to a player
    # NashResult.objective is documented as the sum of the players' objectives
    assert res.objective == pytest.approx(sum(res.player_objectives.values()))
    # re-solve with other costs: the model moves, the stored result does not
    for i, c in enumerate((20.0, 20.0, 20.0, 20.0)):
        m.c[i] = c
    other = gg.solve_nash(m, m.F, method="gauss-seidel")
    assert pyo.value(m.F[0].q) == pytest.approx(16.0, abs=1e-5)
    assert other.player_values["F[0]"]["q"] == pytest.approx(16.0, abs=1e-5)
    assert res.to_frame()["value"].to_numpy() == pytest.approx(cournot_closed_form(costs), abs=1e-5)


def test_summary_lists_every_agent_with_its_gap_and_tolerance():
    m = cournot()
    res = gg.solve_nash(m, m.F, method="gauss-seidel")
    text = res.summary()
    assert "Nash result" in text and "gauss-seidel" in text and str(res.status) in text
    lines = text.splitlines()
    for name, gap in res.player_gaps.items():
        row = next(line for line in lines if line.startswith(name + " "))
        limit = 1e-5 * max(1.0, abs(res.player_objectives[name]))
        assert number(gap, ".3g") in row and number(limit, ".3g") in row and row.endswith("ok"), row
    assert "History:" in text and f"{len(res.history)} entries" in text
    assert max(len(line) for line in lines) <= 78
    assert res._repr_html_().startswith("<pre>")
    m = bard()
    bil = gg.solve_bilevel(m, m.follower, method="kkt-bigm")
    row = next(line for line in bil.summary().splitlines() if line.startswith("follower "))
    assert number(bil.follower_checks[0].gap, ".3g") in row and "certified" in row


def test_summary_says_which_player_exceeds_the_tolerance():
    m = cournot()
    res = gg.solve_nash(m, m.F, method="gauss-seidel", max_iter=2)
    assert res.status is gg.SolveStatus.ITERATION_LIMIT
    worst = max(res.player_gaps, key=res.player_gaps.get)
    row = next(line for line in res.summary().splitlines() if line.startswith(worst + " "))
    assert row.endswith("exceeds"), row


def test_nested_history_is_the_leader_objective_in_its_own_sense():
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10))
    m.users = pyo.Block()
    m.users.q = pyo.Var(bounds=(0, 8))
    m.users.welfare = pyo.Objective(expr=10 * m.users.q - m.users.q ** 2 / 2 - m.p * m.users.q,
                                    sense=pyo.maximize)
    m.revenue = pyo.Objective(expr=m.p * m.users.q, sense=pyo.maximize)     # optimum: p = 5, revenue 25
    res = gg.solve_bilevel(m, m.users, method="nested", pop_size=8, n_gen=4, seed=3)
    assert res.status is gg.SolveStatus.FEASIBLE
    assert len(res.history) == 4 and all(h > 0 for h in res.history)        # revenue, not -revenue
    assert np.all(np.diff(res.history) >= -1e-12)                          # best so far never falls
    assert res.history[-1] <= res.objective + 1e-9 and res.objective == pytest.approx(25.0, rel=1e-3)
    assert res.extra["history"] == pytest.approx([-h for h in res.history])


def test_plain_solver_result_needs_record_values():
    m = pyo.ConcreteModel()
    m.x = pyo.Var([1, 2], bounds=(0, 3))
    m.obj = pyo.Objective(expr=m.x[1] + 2 * m.x[2], sense=pyo.maximize)
    res = gg.get_solver("highs").solve(m)
    with pytest.raises(ValueError, match="record_values"):
        res.to_frame()
    frame = res.record_values(m).to_frame()
    assert frame["index"].tolist() == [1, 2] and frame["value"].tolist() == [3.0, 3.0]
    assert "Status:" in res.summary() and "highs" in res.summary()


def test_mcp_result_frame_and_summary():
    # z >= 0 ⊥ F(z) = z - (1, -1): solution z = (1, 0), F = (0, 1)
    shift = np.array([1.0, -1.0])
    res = solve_mcp(lambda z: z - shift, lambda z: np.eye(2), np.zeros(2), np.full(2, np.inf), np.zeros(2))
    assert res.ok
    frame = res.to_frame()
    x = frame[frame["variable"] == "x"]["value"].to_numpy()
    f = frame[frame["variable"] == "F"]["value"].to_numpy()
    assert x == pytest.approx([1.0, 0.0], abs=1e-10) and f == pytest.approx([0.0, 1.0], abs=1e-10)
    assert "MCP result" in res.summary() and "Residual" in res.summary()


def test_household_schedule_frame():
    h = Household("h", [Battery("bat", capacity=6, p_max=3, eta_ch=1, eta_dis=1, soc_min=0, soc_init=0)],
                  base_load=np.full(24, 3.0), shift_limit=None)
    _, s, _ = solve_household(h, np.array([0.1] * 12 + [0.5] * 12), solver="highs")
    frame = s.to_frame()
    assert frame.index.name == "period" and len(frame) == 24
    assert frame["buy"].to_numpy() == pytest.approx(s.buy) and frame["net"].to_numpy() == pytest.approx(s.net)
    assert frame["device:bat"].to_numpy() == pytest.approx(s.device_power["bat"])
    assert frame["hour"].iloc[-1] == pytest.approx(23.0)
    assert frame["buy"].sum() * s.dt == pytest.approx(s.energy_bought)


def test_run_instance_tables_equal_what_the_cli_writes(tmp_path, capsys):
    assert main(["run", "dispatch_small", "--solver", "highs", "--out", str(tmp_path / "cli")]) == 0
    capsys.readouterr()
    report = gg.run_instance("dispatch_small", solver="highs")
    assert set(report.tables) == {p.stem for p in (tmp_path / "cli").glob("*.csv")}
    for name, table in report.tables.items():
        assert isinstance(table, pd.DataFrame)
        written = pd.read_csv(tmp_path / "cli" / f"{name}.csv", index_col=0)
        ours = pd.read_csv(pd.io.common.StringIO(table.to_csv()), index_col=0)
        timing = [c for c in ours.columns if c.startswith("time")]
        pd.testing.assert_frame_equal(ours.drop(columns=timing), written.drop(columns=timing), rtol=1e-9)
    tex = report.to_latex()
    assert tex.count(r"\begin{tabular}") == len(report.tables) and r"\toprule" in tex


def test_run_instance_refuses_an_undeclared_option_with_the_study_error():
    with pytest.raises(gg.ModelError, match=r"model 'economic_dispatch' has no option 'day'"):
        gg.run_instance("dispatch_small", day="2019-01-01")


def test_save_writes_tables_figures_markdown_and_overwrites_atomically(tmp_path):
    calls = []

    def plot(folder):
        calls.append(folder)
        path = folder / "figure.png"
        path.write_bytes(b"png%d" % len(calls))
        return [path]

    report = RunReport("demo", tables={"prices": pd.DataFrame({"p_max": [2.0]})}, notes=["a note"],
                       plotters=[plot])
    paths = report.save(tmp_path)
    assert [p.name for p in paths] == ["prices.csv", "figure.png", "report.md"]
    assert calls[0] != tmp_path                        # drawn aside, then renamed into place
    md = (tmp_path / "report.md").read_text()
    assert "# demo" in md and "| p_max |" in md and "- a note" in md and "![figure](figure.png)" in md
    report.tables["prices"].loc[0, "p_max"] = 3.0
    report.save(tmp_path)
    assert pd.read_csv(tmp_path / "prices.csv", index_col=0)["p_max"].tolist() == [3.0]
    assert (tmp_path / "figure.png").read_bytes() == b"png2"
    assert sorted(os.listdir(tmp_path)) == ["figure.png", "prices.csv", "report.md"]   # no temporaries left
    assert report.write(tmp_path) == paths[:-1] and len(calls) == 2    # write() reuses what save() wrote


def test_run_instance_out_writes_the_report(tmp_path):
    gg.run_instance("dispatch_small", solver="highs", out=tmp_path / "run")
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"solvers.csv", "dispatch.png", "report.md"}


@pytest.mark.parametrize("module", ["gridgames.solvers.values", "gridgames.solvers.summary",
                                    "gridgames.solvers.result", "gridgames.models.report", "gridgames.models.run",
                                    "gridgames.solvers.model_class", "gridgames.solvers.convexity"])
def test_docstring_examples_run(module):
    failed, attempted = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0


def test_result_files_follow_the_umask_not_owner_only(tmp_path):
    """mkstemp's 0600 stayed on every CSV and report through the atomic rename."""
    import os

    from gridgames.models.report import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "r.csv", "a,b\n")
    finally:
        os.umask(old)
    assert (tmp_path / "r.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "r.csv").read_text() == "a,b\n"
