"""Instance files and data loading: every problem reported, with its field or row."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gridgames.cli import main
from gridgames.models.instance import Checker, InstanceError, load_instance, read_series_csv

ROOT = Path(__file__).resolve().parents[1]
DISPATCH = ROOT / "instances" / "dispatch_small.toml"


def test_checker_reports_every_problem_with_its_path():
    chk = Checker({"users": {"theta": -1, "eta": "high", "w": [0.5, float("nan")]}}, "demo.toml")
    chk.number("users", "theta", gt=0)
    chk.number("users", "eta")
    chk.numbers("users", "w")
    chk.number("users", "alpha")
    chk.unknown_keys("users", {"theta", "eta", "alpha"})
    with pytest.raises(InstanceError) as err:
        chk.raise_if_any()
    assert err.value.problems == [
        "[users].theta: must be > 0, got -1",
        "[users].eta: must be a number, got 'high'",
        "[users].w: entry 1 is not finite (nan)",
        "[users].alpha: is required",
        "[users].w: unknown key (known: alpha, eta, theta)",
    ]
    assert str(err.value).startswith("demo.toml: 5 problems")


def test_a_list_field_names_every_bad_entry_and_every_kind_of_problem():
    values = [1.0, float("nan"), -1.0, 2.0, float("inf"), -3.0, -4.0, -5.0, -6.0, -7.0]
    chk = Checker({"users": {"w": values, "v": [1, "x", True]}}, "demo.toml")
    assert chk.numbers("users", "w", ge=0, length=3) is None
    assert chk.numbers("users", "v") is None
    assert chk.problems == [
        "[users].w: entries 1 (nan), 4 (inf) of 10 are not finite",
        "[users].w: entries 2 (-1.0), 5 (-3.0), 6 (-4.0), 7 (-5.0), 8 (-6.0) and 1 more of 10 must be >= 0",
        "[users].w: must have 3 entries, got 10",
        "[users].v: must be a list of numbers: entries 1 ('x'), 2 (True) of 3 are not a number",
    ]


def write_csv(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "series.csv"
    path.write_text("\n".join(["time,value"] + lines) + "\n")
    return path


def test_series_nan_is_reported_by_file_and_row(tmp_path):
    path = write_csv(tmp_path, ["2019-01-01T00:00:00Z,1", "2019-01-01T01:00:00Z,", "2019-01-01T02:00:00Z,3"])
    with pytest.raises(InstanceError, match=r"series\.csv row 3: missing or non-numeric 'value'.*01:00"):
        read_series_csv(path, "time", "value")


def test_series_gap_is_reported_by_file_and_row(tmp_path):
    path = write_csv(tmp_path, ["2019-01-01T00:00:00Z,1", "2019-01-01T01:00:00Z,2", "2019-01-01T03:00:00Z,3"])
    with pytest.raises(InstanceError, match=r"row 4: gap in the h series between 2019-01-01 01:00:00\+00:00 "
                                            r"and 2019-01-01 03:00:00\+00:00"):
        read_series_csv(path, "time", "value")


def test_series_duplicate_and_bad_timestamp(tmp_path):
    path = write_csv(tmp_path, ["2019-01-01T00:00:00Z,1", "2019-01-01T00:00:00Z,2"])
    with pytest.raises(InstanceError, match="row 3: duplicate timestamp"):
        read_series_csv(path, "time", "value")
    path = write_csv(tmp_path, ["2019-01-01T00:00:00Z,1", "yesterday,2"])
    with pytest.raises(InstanceError, match="row 3: unparsable timestamp 'yesterday'"):
        read_series_csv(path, "time", "value")


def test_series_missing_file_and_column(tmp_path):
    with pytest.raises(InstanceError, match=r"\[data\]\.file.*file not found"):
        read_series_csv(tmp_path / "nope.csv", "time", "value", field_name="[data].file")
    path = write_csv(tmp_path, ["2019-01-01T00:00:00Z,1"])
    with pytest.raises(InstanceError, match="no column 'load'"):
        read_series_csv(path, "time", "load")


def test_real_bpat_file_loads_clean():
    series = read_series_csv(ROOT / "instances/data/eia930_bpat_2019_hourly.csv", "hour_ending_utc",
                             "demand_mw_cleaned")
    assert len(series) == 8760
    assert series.min() == pytest.approx(4154, abs=1) and series.max() == pytest.approx(10275, abs=1)


def copy_instance(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    shutil.copy(ROOT / "instances/data/eia930_bpat_2019_hourly.csv", tmp_path / "data")
    path = tmp_path / "case.toml"
    path.write_text(text)
    return path


def test_bad_toml_and_unknown_model(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("model = \n")
    with pytest.raises(InstanceError, match="not valid TOML.*line 1"):
        load_instance(path)
    path.write_text('model = "stackelbreg"\n')
    with pytest.raises(InstanceError, match=r"model: must be one of .*'economic_dispatch'.*got 'stackelbreg'"):
        load_instance(path)


def test_dispatch_instance_reports_all_field_problems(tmp_path):
    text = DISPATCH.read_text().replace("pmin = [1500.0, 500.0,  0.0]", "pmin = [1500.0, -5.0]") \
        .replace('day = "2019-06-12"', 'day = "2019-06-12"\ncolour = "blue"')
    path = copy_instance(tmp_path, text)
    code = main(["run", str(path)])
    assert code == 1
    with pytest.raises(InstanceError) as err:
        from gridgames.models.dispatch.config import load_dispatch_instance
        load_dispatch_instance(load_instance(path))
    assert "[generators].pmin: must have 3 entries, got 2" in err.value.problems
    assert any(p.startswith("[data].colour: unknown key") for p in err.value.problems)


def test_cli_run_writes_table_and_plot(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(DISPATCH), "--solver", "highs", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "economic dispatch" in text and "highs" in text and "optimal" in text
    assert (out / "solvers.csv").read_text().startswith("solver,status,objective")
    assert (out / "dispatch.png").stat().st_size > 10_000


def test_cli_solvers_lists_availability(capsys):
    assert main(["solvers"]) == 0
    text = capsys.readouterr().out
    for name in ("highs", "ipopt", "scip", "scipy"):
        assert f"\n{name}" in text
    assert "pyomo:<name>" in text


def test_cli_reports_user_errors_without_traceback(tmp_path, capsys):
    assert main(["run", str(tmp_path / "missing.toml")]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "file not found" in err and "Traceback" not in err


def test_cli_rejects_methods_a_model_does_not_have(capsys):
    assert main(["run", str(DISPATCH), "--method", "kkt"]) == 1
    assert "--method does not apply" in capsys.readouterr().err
    stackelberg = ROOT / "instances" / "stackelberg_bpat.toml"
    assert main(["run", str(stackelberg), "--method", "kkkt"]) == 1
    assert "choose one of analytic, kkt, kkt-bigm, nested" in capsys.readouterr().err
