"""Issue 19, data files: every damaged CSV is refused by the data layer, naming file and row.

The readers of :mod:`gridgames.data.series` are the only way a family reads a series (the
RTP loader, the microgrid forecast loop, dispatch, Stackelberg), so their policy is tested
here once: gaps, NaN days, negative loads, stray duplicate stamps, header-only, binary and
truncated files, and daily means of partial days.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridgames.data import series
from gridgames.data.series import read_local_hourly, read_series_csv
from gridgames.solvers.errors import GridGamesError

DATA = Path(__file__).resolve().parents[1] / "instances" / "data"


# ---------------------------------------------------------------------------
# 3. Data layer / RTP loader: damaged CSVs refused with file and row named
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pjm_tail():
    """The last 60 days of the shipped PJM Dayton file (local stamps, no clock change inside)."""
    frame = pd.read_csv(DATA / "pjm_dayton_hourly.csv")
    frame["Datetime"] = pd.to_datetime(frame["Datetime"])
    frame = frame.sort_values("Datetime").drop_duplicates("Datetime")
    return frame[(frame["Datetime"] >= "2018-06-01") & (frame["Datetime"] < "2018-07-31")].reset_index(drop=True)


def _damage(frame: pd.DataFrame, how: str) -> pd.DataFrame:
    f = frame.copy()
    if how == "three missing days":
        return f.drop(index=range(240, 240 + 72))
    if how == "nan day":
        f.loc[240:263, "DAYTON_MW"] = np.nan
        return f
    if how == "negative load":
        f.loc[300, "DAYTON_MW"] = -1500.0
        return f
    if how == "duplicate stamps":
        return pd.concat([f, f.iloc[[500]]]).sort_values("Datetime")
    if how == "two missing hours":
        return f.drop(index=[700, 701])
    raise AssertionError(how)


@pytest.mark.parametrize("how, needle", [("three missing days", "hours missing"), ("nan day", "row 242"),
                                         ("negative load", "row 302"), ("duplicate stamps", "duplicate timestamp"),
                                         ("two missing hours", "2 hours missing")])
def test_local_hourly_reader_refuses_damage(tmp_path, pjm_tail, how, needle):
    path = tmp_path / "pjm.csv"
    _damage(pjm_tail, how).to_csv(path, index=False)
    with pytest.raises(GridGamesError) as err:
        read_local_hourly(path, "Datetime", "DAYTON_MW", field_name="[data].load_file", min_value=0.0)
    assert needle in str(err.value) and "pjm.csv" in str(err.value) and "[data].load_file" in str(err.value)


def test_local_hourly_reader_keeps_the_autumn_clock_change():
    series = read_local_hourly(DATA / "pjm_dayton_hourly.csv", "Datetime", "DAYTON_MW", min_value=0.0)
    assert series.index.is_unique and (series >= 0).all()


RAW_DAMAGE = {"header only": "Datetime,DAYTON_MW\n", "binary bytes": b"\x00\xff\xfe\x89PNG\x00\x01" * 20,
              "truncated row": "Datetime,DAYTON_MW\n2018-01-01 01:00:00,1500\n2018-01-01 02:0",
              "text value": "Datetime,DAYTON_MW\n2018-01-01 01:00:00,1500\n2018-01-01 02:00:00,lots\n",
              "wrong column": "time,load\n2018-01-01 01:00:00,1500\n", "empty file": ""}


@pytest.mark.parametrize("how", list(RAW_DAMAGE))
@pytest.mark.parametrize("reader", ["local", "utc", "daily"])
def test_damaged_csv_is_a_clear_error(tmp_path, how, reader):
    path = tmp_path / "load.csv"
    content = RAW_DAMAGE[how]
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    with pytest.raises(GridGamesError) as err:
        if reader == "local":
            read_local_hourly(path, "Datetime", "DAYTON_MW", min_value=0.0)
        elif reader == "utc":
            read_series_csv(path, "Datetime", "DAYTON_MW", utc=False, min_value=0.0)
        else:
            series.daily_means(path, "Datetime", "DAYTON_MW", pd.date_range("2018-01-01", periods=1))
    assert "load.csv" in str(err.value)


def test_utc_reader_refuses_negative_load(tmp_path):
    path = tmp_path / "bpat.csv"
    frame = pd.read_csv(DATA / "eia930_bpat_2019_hourly.csv", nrows=48)
    frame.loc[10, "demand_mw_cleaned"] = -5.0
    frame.to_csv(path, index=False)
    with pytest.raises(GridGamesError, match=r"bpat.csv row 12: 'demand_mw_cleaned' = -5 .* below 0"):
        read_series_csv(path, "hour_ending_utc", "demand_mw_cleaned", min_value=0.0)


def test_daily_clearing_price_refuses_a_partial_day(tmp_path):
    from gridgames.models.rtp.config import daily_clearing_prices
    frame = pd.read_csv(DATA / "prices_be_dayahead_hourly_2022_2024.csv")
    day = frame["hour_start_local"].str[:10]
    keep = (day != "2023-07-11") | frame["hour_start_local"].str[11:13].isin(["00", "01", "02"])
    path = tmp_path / "prices.csv"
    frame[keep].to_csv(path, index=False)
    with pytest.raises(GridGamesError, match=r"prices.csv: 2023-07-11 has 3 hourly readings"):
        daily_clearing_prices(path, "hour_start_local", "price_eur_per_mwh", "2023-07-10", 7, 1.08)
    # the complete file: one finite positive A0 per day, equal to the plain daily mean
    full = daily_clearing_prices(DATA / "prices_be_dayahead_hourly_2022_2024.csv", "hour_start_local",
                                 "price_eur_per_mwh", "2023-07-10", 7, 1.08)
    ref = frame[day == "2023-07-10"]["price_eur_per_mwh"].mean() * 1.08 / 1000
    assert full.shape == (7,) and full[0] == pytest.approx(ref, rel=1e-12)
