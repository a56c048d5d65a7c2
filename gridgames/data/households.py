"""Daily household load profiles from the shipped household files (used by the TOU model family).

Three real household series ship in ``instances/data`` (see PROVENANCE.md):

* ``household_openmv_tou_hourly.csv`` — one Ontario household, hourly kWh,
  hour-ending stamps (2011-11-25 to 2012-03-17);
* ``household_hue_residential1_hourly.csv`` — one BC household, hourly kWh,
  ``date`` + ``hour`` (0-23, hour **beginning**, local wall clock: hour 2 is
  absent on spring-forward days and hour 1 repeated on fall-back days;
  PROVENANCE.md 3a) columns (2012-06 to 2015-10);
* ``household_uci_sceaux_2007h1_15min.csv`` — one French household, 15-min
  mean kW (2007 H1), averaged to hours (an hour needs all four quarters).

:func:`daily_profiles` turns any of them into an ``(days, 24)`` array of kW
(hour 0 = 00:00-01:00 local), keeping only complete days: a day with a
missing, repeated or NaN hour is left out (never repaired).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
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
        return pd.Series(df["energy_kWh"].to_numpy(float), index=_hue_index(df, path))
    if source == "uci":
        df = pd.read_csv(path, usecols=["interval_start_local", "global_active_power_kw"])
        s = pd.Series(df["global_active_power_kw"].to_numpy(float),
                      index=pd.to_datetime(df["interval_start_local"]))
        hours = s.resample("h")
        # an hour is its four quarter-hours' mean; one with a quarter missing or NaN is not known (its day is
        # then left out), never the mean of what is there
        return hours.mean().where(hours.count() == 4)
    raise InstanceError([f"unknown household data source {source!r}; known: {', '.join(SOURCES)}"])


def _hue_index(df: pd.DataFrame, path: Path) -> pd.DatetimeIndex:
    """Hour-beginning local stamps of the HUE ``date`` (``M/D/YYYY``) + ``hour`` (0-23) columns.

    Raises
    ------
    InstanceError
        An unparsable date or an hour that is not a whole number 0-23, naming the file and CSV row.
    """
    dates = pd.to_datetime(df["date"], format="%m/%d/%Y", errors="coerce")
    hours = pd.to_numeric(df["hour"], errors="coerce")
    bad = dates.isna() | ~hours.isin(range(24))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InstanceError([f"{path.name} row {i + 2}: date {str(df['date'].iloc[i])!r}, hour "
                             f"{str(df['hour'].iloc[i])!r}: need an M/D/YYYY date and an hour-beginning hour 0-23"
                             + (f" ({int(bad.sum())} such rows in all)" if bad.sum() > 1 else "")], path.name)
    return pd.DatetimeIndex(dates + pd.to_timedelta(hours.astype(int), unit="h"))


@lru_cache(maxsize=8)
def _all_days(source: str, path: str) -> tuple[np.ndarray, tuple[str, ...]]:
    series = _hourly(source, Path(path))
    repeated = series.index[series.index.duplicated()].normalize().unique()   # e.g. fall-back days
    series = series[~series.index.duplicated()].dropna()
    frame = pd.DataFrame({"v": series.to_numpy(), "day": series.index.normalize(), "h": series.index.hour})
    table = frame.pivot_table(index="day", columns="h", values="v", aggfunc="mean")
    table = table.dropna()
    table = table[~table.index.isin(repeated)]
    table = table[table.columns.intersection(range(24))]
    if table.shape[1] != 24:
        raise InstanceError([f"{path}: not every hour of the day is present"])
    return table.to_numpy(float), tuple(str(d.date()) for d in table.index)


def parse_first_day(value: object, field: str = "[data]") -> dt.date:
    """A ``first_day`` as a date: a TOML date literal or an ISO ``YYYY-MM-DD`` string.

    Parameters
    ----------
    value : datetime.date or str
        The field's value as read from the instance (``tomllib`` gives a TOML ``2011-12-01``
        as :class:`datetime.date`).
    field : str
        Instance section named in errors (``[data]`` gives ``[data].first_day``).

    Raises
    ------
    InstanceError
        A date-time, a non-date type, or text that is not a real ``YYYY-MM-DD`` date
        (``2011-12-1``, ``2011-12-32``).

    Examples
    --------
    >>> parse_first_day("2011-12-01")
    datetime.date(2011, 12, 1)
    """
    where = f"{field}.first_day"
    if isinstance(value, dt.datetime):
        raise InstanceError([f"{where}: must be a date (2011-12-01 or \"2011-12-01\"), got the date-time {value}"])
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise InstanceError([f"{where}: must be a date (2011-12-01 or \"2011-12-01\"), got {value!r}"])
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise InstanceError([f"{where}: not a date in the form YYYY-MM-DD: {value!r}"])
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError as exc:
        raise InstanceError([f"{where}: not a real date: {value!r} ({exc})"]) from None


def daily_profiles(source: str, *, first_day: dt.date | str | None = None, days: int | None = None,
                   data_dir: Path | None = None, field: str = "data") -> tuple[np.ndarray, list[str]]:
    """Complete days of a household series as an ``(days, 24)`` kW array, with their dates.

    Parameters
    ----------
    source : {'openmv', 'hue', 'uci'}
    first_day : datetime.date or str, optional
        A date or ``YYYY-MM-DD`` inside the file's range; days before it are skipped
        (when it is an incomplete day, the profiles start at the next complete one).
    days : int, optional
        How many complete days to return (all when None).
    data_dir : Path, optional
        Folder of the file (default: the shipped datasets).
    field : str
        Instance field named in errors.

    Raises
    ------
    InstanceError
        Unknown source, missing file, a ``first_day`` that is not a date or lies outside the
        file's complete days (naming that range), or fewer complete days than asked.
    """
    if source not in SOURCES:
        raise InstanceError([f"{field}.source: must be one of {', '.join(map(repr, SOURCES))}, got {source!r}"])
    path = (data_dir or shipped_data_dir()) / SOURCES[source]
    if not path.is_file():
        raise InstanceError([f"{field}.source: data file not found: {path}"])
    arr, dates = _all_days(source, str(path))
    start = 0
    if first_day is not None:
        day = parse_first_day(first_day, field)
        if not dates[0] <= day.isoformat() <= dates[-1]:
            raise InstanceError([f"{field}.first_day: {day} is outside {path.name}, whose complete days run from "
                                 f"{dates[0]} to {dates[-1]}"])
        start = int(np.searchsorted(np.array(dates), day.isoformat()))
    stop = len(dates) if days is None else start + int(days)
    if stop > len(dates) or start >= len(dates):
        raise InstanceError([f"{field}.days: {source} has {len(dates) - start} complete days from "
                             f"{dates[start]}, asked for {days}"])
    return arr[start:stop].copy(), list(dates[start:stop])
