"""Other and later data (review 11): sub-hourly files, stamps without UTC offsets, the day before the
autumn clock change, negative daily prices, hour-ending days of the dispatch, forecaster steps."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gridgames.cli as cli
from gridgames.data.series import read_local_hourly
from gridgames.forecasting import day_ahead_forecast, get_forecaster
from gridgames.forecasting.validation import ForecastError
from gridgames.models.instance import InstanceError, load_instance, read_series_csv

ROOT = Path(__file__).resolve().parents[1]


def test_quarter_hour_readings_are_averaged_to_the_hour(tmp_path):
    """Before: each hour was its :00 quarter (the other three dropped by asfreq)."""
    stamps = pd.date_range("2007-06-20", periods=4 * 48, freq="15min")
    values = np.arange(stamps.size, dtype=float) % 7
    path = tmp_path / "q.csv"
    pd.DataFrame({"t": stamps.strftime("%Y-%m-%d %H:%M:%S"), "kw": values}).to_csv(path, index=False)
    hourly = read_local_hourly(path, "t", "kw", tz="Europe/Paris")
    assert len(hourly) == 48 and hourly.index.name == "t"
    assert np.allclose(hourly.to_numpy(), values.reshape(48, 4).mean(axis=1))


def test_quarter_hour_readings_in_a_utc_series_name_their_step(tmp_path):
    stamps = pd.date_range("2020-01-01", periods=12, freq="15min", tz="UTC")
    path = tmp_path / "q.csv"
    pd.DataFrame({"t": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "v": 1.0}).to_csv(path, index=False)
    with pytest.raises(InstanceError, match=r"row 3: readings 0 days 00:15:00 apart .*closer than the series' h"):
        read_series_csv(path, "t", "v")


def test_stamps_without_an_offset_are_not_read_as_utc(tmp_path):
    """Read as UTC, US-Eastern wall-clock stamps shifted the dispatch day by 5 hours, silently."""
    path = tmp_path / "local.csv"
    path.write_text("Datetime,MW\n2018-01-15 00:00:00,2325\n2018-01-15 01:00:00,2276\n")
    with pytest.raises(InstanceError, match=r"row 2: timestamp '2018-01-15 00:00:00' has no UTC offset \(2 such"):
        read_series_csv(path, "Datetime", "MW")


def test_day_ahead_forecast_on_the_eve_of_the_autumn_clock_change():
    """Hour-ending days start at 01:00; the next day's 01:00 is repeated on 6 Nov 2022 (a raw pytz
    AmbiguousTimeError before).  The eve has 24 hours, the day itself 25."""
    index = pd.date_range("2022-10-01", "2022-11-10", freq="h", tz="America/Los_Angeles")
    y = pd.Series(1000.0 + np.arange(index.size) % 24, index=index)
    eve = day_ahead_forecast(y, pd.Timestamp("2022-11-05 01:00"), "naive-24")
    day = day_ahead_forecast(y, pd.Timestamp("2022-11-06 01:00"), "naive-24")
    assert len(eve) == 24 and len(day) == 25
    assert day.index[0] == eve.index[-1] + pd.Timedelta(hours=1)


def test_forecasters_refuse_a_quarter_hour_series():
    """naive-24 on 15-minute data repeated the last 6 hours four times (seasons count hours)."""
    y = pd.Series(1.0, index=pd.date_range("2020-01-01", periods=4 * 24 * 10, freq="15min"))
    with pytest.raises(ForecastError, match=r"naive-24: the series steps 0 days 00:15:00.*resample\('h'\)"):
        get_forecaster("naive-24").fit(y)


def test_negative_daily_price_names_the_day_before_forecasting(tmp_path):
    from gridgames.models.rtp.config import daily_clearing_prices

    stamps = pd.date_range("2023-07-01", periods=72, freq="h", tz="Europe/Brussels")
    prices = np.where(stamps.day == 2, -5.0, 80.0)
    path = tmp_path / "prices.csv"
    pd.DataFrame({"t": stamps.strftime("%Y-%m-%dT%H:%M:%S%z"), "p": prices}).to_csv(path, index=False)
    with pytest.raises(InstanceError, match=r"price_week_start.*1 day\(s\) in prices.csv is not positive: "
                                            r"2023-07-02 \(-5\)"):
        daily_clearing_prices(path, "t", "p", "2023-07-01", 3, 1.1, tz="Europe/Brussels")


def test_dispatch_interval_days_take_the_hours_inside_the_local_day(tmp_path):
    from gridgames.models.dispatch.config import load_dispatch_instance

    shutil.copytree(ROOT / "instances" / "data", tmp_path / "data")
    text = (ROOT / "instances" / "dispatch_small.toml").read_text()
    label = load_dispatch_instance(load_instance(_write(tmp_path, "label.toml", text)))
    interval = load_dispatch_instance(load_instance(_write(
        tmp_path, "interval.toml", text.replace("[data]\n", '[data]\nday_convention = "interval"\n'))))
    local = interval.load.index.tz_convert("America/Los_Angeles")
    assert len(interval.load) == 24 and local[0].hour == 1 and local[-1].hour == 0     # hour-ending 01:00 … 24:00
    assert label.load.index[0] == interval.load.index[0] - pd.Timedelta(hours=1)


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("days", ["0", "-3"])
def test_forecast_test_days_must_be_positive(days, capsys):
    with pytest.raises(SystemExit):
        cli.main(["forecast", "x.csv", "--test-days", days])
    assert "--test-days: must be at least 1" in capsys.readouterr().err


def test_quarter_hours_of_the_autumn_night_and_incomplete_hours(tmp_path):
    """The repeated hour of a 15-minute file is four repeated stamps (refused before as duplicates); an hour
    with fewer quarters than the others is missing (interpolated), not the mean of what is left."""
    wall = pd.date_range("2021-10-30", "2021-11-01 23:45", freq="15min")
    stamps = list(wall.strftime("%Y-%m-%d %H:%M:%S"))
    at = stamps.index("2021-10-31 02:45:00") + 1          # Paris falls back at 03:00: 02:00-02:45 again
    stamps = stamps[:at] + stamps[at - 4:at] + stamps[at:]
    values = np.full(len(stamps), 2.0)
    frame = pd.DataFrame({"t": stamps, "kw": values})
    frame = frame[~frame.t.isin(["2021-11-01 05:15:00", "2021-11-01 05:30:00", "2021-11-01 05:45:00"])]
    frame.loc[frame.t == "2021-11-01 05:00:00", "kw"] = 10.0
    path = tmp_path / "q.csv"
    frame.to_csv(path, index=False)
    hourly = read_local_hourly(path, "t", "kw", tz="Europe/Paris")
    assert len(hourly) == 72 and np.allclose(hourly.to_numpy(), 2.0)


def test_utc_suffixes_are_offsets(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("t,v\n2020-01-01 00:00:00 UTC,1\n2020-01-01 01:00:00 GMT,2\n")
    assert list(read_series_csv(path, "t", "v")) == [1.0, 2.0]


def test_a_day_starting_at_a_skipped_hour_has_23_steps():
    index = pd.date_range("2022-02-20", "2022-03-20", freq="h", tz="America/Los_Angeles")
    y = pd.Series(1000.0 + np.arange(index.size) % 24, index=index)
    days = [day_ahead_forecast(y, pd.Timestamp(f"2022-03-{d} 02:00"), "naive-24") for d in (12, 13, 14)]
    assert [len(d) for d in days] == [24, 23, 24]
    assert days[1].index[0] == days[0].index[-1] + pd.Timedelta(hours=1)
    assert days[2].index[0] == days[1].index[-1] + pd.Timedelta(hours=1)
