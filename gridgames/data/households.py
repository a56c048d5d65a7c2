"""Daily household load profiles from the shipped household files (used by the TOU model family).

Three real household series ship in ``instances/data`` (see PROVENANCE.md):

* ``household_openmv_tou_hourly.csv`` — one Ontario household, hourly kWh,
  hour-ending stamps (2011-11-25 to 2012-03-17);
* ``household_hue_residential1_hourly.csv`` — one BC household, hourly kWh,
  ``date`` + ``hour`` (1-24, hour ending) columns (2012-06 to 2015-10);
* ``household_uci_sceaux_2007h1_15min.csv`` — one French household, 15-min
  mean kW (2007 H1), averaged to hours.

:func:`daily_profiles` turns any of them into an ``(days, 24)`` array of kW
(hour 0 = 00:00-01:00 local), keeping only complete days.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.data.bundled import data_dir as shipped_data_dir
from gridgames.data.errors import InstanceError

log = logging.getLogger(__name__)

#: Known household files: how to read them.
SOURCES = {
    "openmv": "household_openmv_tou_hourly.csv",
    "hue": "household_hue_residential1_hourly.csv",
    "uci": "household_uci_sceaux_2007h1_15min.csv",
}


def _hourly(source: str, path: Path) -> pd.Series:
    """kW per hour on an hour-beginning naive index."""
    if source == "openmv":
        df = pd.read_csv(path, usecols=["hour_ending_local", "consumption_kwh"])
        idx = pd.to_datetime(df["hour_ending_local"]) - pd.Timedelta(hours=1)
        return pd.Series(df["consumption_kwh"].to_numpy(float), index=idx)
    if source == "hue":
        df = pd.read_csv(path)
        idx = pd.to_datetime(df["date"], format="%m/%d/%Y") + pd.to_timedelta(df["hour"] - 1, unit="h")
        return pd.Series(df["energy_kWh"].to_numpy(float), index=idx)
    if source == "uci":
        df = pd.read_csv(path, usecols=["interval_start_local", "global_active_power_kw"])
        s = pd.Series(df["global_active_power_kw"].to_numpy(float),
                      index=pd.to_datetime(df["interval_start_local"]))
        return s.resample("h").mean()
    raise InstanceError([f"unknown household data source {source!r}; known: {', '.join(SOURCES)}"])


@lru_cache(maxsize=8)
def _all_days(source: str, path: str) -> tuple[np.ndarray, tuple[str, ...]]:
    series = _hourly(source, Path(path))
    series = series[~series.index.duplicated()].dropna()
    frame = pd.DataFrame({"v": series.to_numpy(), "day": series.index.normalize(), "h": series.index.hour})
    table = frame.pivot_table(index="day", columns="h", values="v", aggfunc="mean")
    table = table.dropna()
    table = table[table.columns.intersection(range(24))]
    if table.shape[1] != 24:
        raise InstanceError([f"{path}: not every hour of the day is present"])
    return table.to_numpy(float), tuple(str(d.date()) for d in table.index)


def daily_profiles(source: str, *, first_day: str | None = None, days: int | None = None,
                   data_dir: Path | None = None, field: str = "data") -> tuple[np.ndarray, list[str]]:
    """Complete days of a household series as an ``(days, 24)`` kW array, with their dates.

    Parameters
    ----------
    source : {'openmv', 'hue', 'uci'}
    first_day : str, optional
        ``YYYY-MM-DD``; days before it are skipped.
    days : int, optional
        How many complete days to return (all when None).
    data_dir : Path, optional
        Folder of the file (default: the shipped datasets).
    field : str
        Instance field named in errors.

    Raises
    ------
    InstanceError
        Unknown source, missing file, or fewer complete days than asked.
    """
    if source not in SOURCES:
        raise InstanceError([f"{field}.source: must be one of {', '.join(map(repr, SOURCES))}, got {source!r}"])
    path = (data_dir or shipped_data_dir()) / SOURCES[source]
    if not path.is_file():
        raise InstanceError([f"{field}.source: data file not found: {path}"])
    arr, dates = _all_days(source, str(path))
    start = 0
    if first_day is not None:
        start = int(np.searchsorted(np.array(dates), first_day))
    stop = len(dates) if days is None else start + int(days)
    if stop > len(dates) or start >= len(dates):
        raise InstanceError([f"{field}.days: {source} has {len(dates) - start} complete days from "
                             f"{first_day or dates[0]}, asked for {days}"])
    return arr[start:stop].copy(), list(dates[start:stop])
