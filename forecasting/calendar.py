"""Calendar features in a local time zone: hour, weekday, season, US holidays, DST days.

Used by the gradient-boosted forecaster (:mod:`gridgames.forecasting.boosted`).
Holidays come from the ``holidays`` package (US federal holidays, observed
dates included); a day-light-saving day is a local day whose UTC offset at its
end differs from the offset 24 hours earlier (23- or 25-hour days).
"""
from __future__ import annotations

import logging
from functools import lru_cache

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

#: Column names of :func:`calendar_features`, in order.
CALENDAR_COLUMNS = ("hour", "weekday", "day_of_year_sin", "day_of_year_cos", "holiday",
                    "holiday_24h_before", "dst_shift")


@lru_cache(maxsize=8)
def _us_holidays(first_year: int, last_year: int) -> frozenset:
    import holidays  # lazy: only the boosted forecaster needs it

    return frozenset(holidays.US(years=range(first_year, last_year + 1)).keys())


def local_index(index: pd.DatetimeIndex, tz: str | None) -> pd.DatetimeIndex:
    """``index`` in ``tz`` (unchanged when ``tz`` is None or the index is naive)."""
    if tz is not None and index.tz is not None:
        return index.tz_convert(tz)
    return index


def is_us_holiday(index: pd.DatetimeIndex) -> np.ndarray:
    """1.0 where the (already local) date of ``index`` is a US federal holiday, else 0.0."""
    if len(index) == 0:
        return np.zeros(0)
    days = index.tz_localize(None).normalize() if index.tz is not None else index.normalize()
    known = pd.DatetimeIndex(sorted(_us_holidays(int(days.year.min()), int(days.year.max()))))
    return np.isin(days.as_unit("ns").asi8, known.as_unit("ns").asi8).astype(float)


def utc_offset_hours(index: pd.DatetimeIndex) -> np.ndarray:
    """UTC offset (hours) of each timestamp of a tz-aware ``index``; zeros when naive."""
    if index.tz is None:
        return np.zeros(len(index))
    wall = index.tz_localize(None).as_unit("ns").asi8
    utc = index.tz_convert("UTC").tz_localize(None).as_unit("ns").asi8
    return (wall - utc) / 3.6e12


def calendar_features(index: pd.DatetimeIndex, tz: str | None = None) -> np.ndarray:
    """Calendar columns (:data:`CALENDAR_COLUMNS`) of the timestamps ``index``.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Target timestamps (tz-aware or naive).
    tz : str, optional
        Local zone of the hour, weekday and holiday (BPAT: ``America/Los_Angeles``).

    Returns
    -------
    numpy.ndarray
        ``len(index) × 7``: local hour, weekday (Monday 0), sin/cos of the day of
        year, holiday flag of the day and of the same hour a day earlier, and the
        change of the UTC offset over the last 24 hours in hours (DST days: ±1).

    Examples
    --------
    >>> idx = pd.date_range("2019-07-04 07:00", periods=2, freq="h", tz="UTC")
    >>> calendar_features(idx, "America/Los_Angeles")[:, 4]   # Independence Day, Pacific
    array([1., 1.])
    """
    loc = local_index(index, tz)
    doy = 2 * np.pi * (loc.day_of_year.to_numpy() - 1) / 365.25
    before = loc - pd.Timedelta(hours=24)
    shift = utc_offset_hours(loc) - utc_offset_hours(before)
    return np.column_stack([loc.hour.to_numpy(), loc.day_of_week.to_numpy(), np.sin(doy), np.cos(doy),
                            is_us_holiday(loc), is_us_holiday(before), shift]).astype(float)
