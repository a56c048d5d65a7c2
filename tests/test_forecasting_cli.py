"""``gridgames forecast``: the Table 6 comparison from the command line."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

import gridgames.cli as cli
from gridgames.forecasting.comparison import PAPER_TABLE6, compare_models, format_comparison
from gridgames.data.bpat import load_bpat_eia930
from gridgames.data.bundled import dataset_path

torch.set_num_threads(1)
BPAT = str(dataset_path("eia930_bpat_2019"))


@pytest.fixture(autouse=True)
def _forecast_registered(monkeypatch):
    # the lead lists the subcommand in gridgames.cli.SUBCOMMANDS; make sure it is there
    if "forecast" not in cli.SUBCOMMANDS:
        monkeypatch.setattr(cli, "SUBCOMMANDS", cli.SUBCOMMANDS + ("forecast",))


def test_cli_prints_table6_rows_and_writes_outputs(tmp_path, capsys):
    rc = cli.main(["forecast", BPAT, "--model", "arima,naive-24", "--param", "arima.order=[2,1,2]",
                   "--horizon", "both", "--test-days", "2", "--window-days", "14", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "day-ahead" in out and "hour-ahead" in out
    assert "383.4" in out and "6.02" in out          # the paper's ARIMA row beside ours
    assert "bpa-published" in out
    for name in ("forecast_day.csv", "metrics_day.csv", "forecast_day.png", "forecast_hour.png"):
        assert (tmp_path / name).stat().st_size > 0
    fc = pd.read_csv(tmp_path / "forecast_day.csv", index_col=0)
    assert list(fc.columns) == ["actual", "arima", "naive-24", "bpa-published"] and len(fc) == 48
    metrics = pd.read_csv(tmp_path / "metrics_hour.csv", index_col=0)
    assert metrics.loc["arima", "paper_MAE"] == 383.4


def test_cli_user_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["forecast", BPAT, "--model", "prophet"]) == 1
    assert "unknown forecaster 'prophet'" in capsys.readouterr().err
    assert cli.main(["forecast", str(tmp_path / "missing.csv")]) == 1
    assert "no such file" in capsys.readouterr().err
    other = tmp_path / "load.csv"
    other.write_text("t,v\n2021-01-01T00:00:00Z,1\n2021-01-01T02:00:00Z,2\n")
    assert cli.main(["forecast", str(other), "--time-column", "t", "--value-column", "v"]) == 1
    assert "gap in the h series between" in capsys.readouterr().err
    assert cli.main(["forecast", BPAT, "--model", "naive-24", "--param", "naive-24.season"]) == 1
    assert "MODEL.KEY=VALUE" in capsys.readouterr().err


def test_cli_reads_an_instance_toml(tmp_path, capsys):
    inst = tmp_path / "inst.toml"
    inst.write_text(f'model = "stackelberg"\n[data]\nload = {{ file = "{BPAT}", time = "hour_ending_utc", '
                    f'value = "demand_mw_raw" }}\n')
    assert cli.main(["forecast", str(inst), "--model", "naive-168", "--test-days", "1"]) == 0
    assert "naive-168" in capsys.readouterr().out


def test_cli_reads_the_stackelberg_instance_layout(tmp_path, capsys):
    inst = tmp_path / "stack.toml"
    inst.write_text(f'model = "stackelberg_pricing"\n[data]\nfiles = ["{BPAT}"]\n'
                    'time_column = "hour_ending_utc"\nload_column = "demand_mw_cleaned"\n'
                    'forecast_column = "demand_forecast_mw"\n')
    assert cli.main(["forecast", str(inst), "--model", "naive-24", "--test-days", "2"]) == 0
    out = capsys.readouterr().out
    assert "demand_mw_cleaned" in out and "bpa-published" in out
    inst.write_text('model = "x"\n[data]\nfiles = ["a.csv"]\n')
    assert cli.main(["forecast", str(inst)]) == 1
    assert "[data].time_column: is required" in capsys.readouterr().err


def test_comparison_scores_bpa_forecast_over_the_test_hours():
    frame = load_bpat_eia930(2019)
    comp = compare_models(frame["actual"], ["naive-24"], test_start="2019-06-01", test_days=3,
                          window_days=7, reference=frame["bpa_forecast"])
    sl = frame.loc["2019-06-01":"2019-06-03"]
    expected = (sl["actual"] - sl["bpa_forecast"]).abs().mean()
    assert comp.table.loc["bpa-published", "MAE"] == pytest.approx(expected)
    assert comp.table.loc["naive-24", "MAE"] == pytest.approx(
        (frame["actual"]["2019-06-01":"2019-06-03"].to_numpy()
         - frame["actual"]["2019-05-31":"2019-06-02"].to_numpy()).__abs__().mean())
    assert set(PAPER_TABLE6) == {"arima", "sarima", "sarima-ann"}
    assert "naive-24" in format_comparison(comp)


def test_cli_reads_a_local_clock_csv_with_local_time(tmp_path, capsys):
    """A PJM-style file (wall-clock stamps, the autumn hour written twice) is refused as UTC (no offset: read
    as UTC every reading would shift by the local offset) and read with --local-time; on a 24-hour periodic
    series naive-24 equals the actuals."""
    import numpy as np

    stamps = pd.date_range("2021-10-01", "2021-11-20 23:00", freq="h")
    values = 1000.0 + 100.0 * np.sin(np.arange(stamps.size) * 2 * np.pi / 24)
    frame = pd.DataFrame({"Datetime": stamps.strftime("%Y-%m-%d %H:%M:%S"), "MW": values})
    repeat = frame.index[frame.Datetime == "2021-11-07 01:00:00"][0]     # fall back in New York
    frame = pd.concat([frame.iloc[:repeat + 1], frame.iloc[[repeat]].assign(MW=2000.0), frame.iloc[repeat + 1:]])
    csv = tmp_path / "local.csv"
    frame.to_csv(csv, index=False)
    args = ["forecast", str(csv), "--time-column", "Datetime", "--value-column", "MW", "--model", "naive-24",
            "--test-days", "3", "--out", str(tmp_path / "out")]
    assert cli.main(args) != 0
    err = capsys.readouterr().err
    assert "row 2: timestamp '2021-10-01 00:00:00' has no UTC offset" in err and "--local-time" in err
    assert cli.main(args + ["--local-time", "America/New_York"]) == 0
    fc = pd.read_csv(tmp_path / "out" / "forecast_day.csv", index_col=0)
    assert len(fc) == 72 and np.allclose(fc["naive-24"], fc["actual"], atol=1e-9)   # a 24 h periodic series
