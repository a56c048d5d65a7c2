"""Calendar regressors: weekly Fourier terms and hour/weekday encodings."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

_WEEK_NS = pd.Timedelta(days=7).value
_DAY_NS = pd.Timedelta(days=1).value


def _local(index: pd.DatetimeIndex, tz: str | None) -> pd.DatetimeIndex:
    if tz is not None and index.tz is not None:
        return index.tz_convert(tz)
    return index


def weekly_fourier(index: pd.DatetimeIndex, order: int) -> np.ndarray:
    """``2 * order`` columns ``sin(2πkφ), cos(2πkφ)``, φ = position in the (UTC) week.

    The phase is computed from absolute time, so the terms are the same
    whichever segment of the series a model is fitted on.
    """
    if order <= 0:
        return np.empty((len(index), 0))
    ns = index.as_unit("ns").asi8 if index.tz is None else index.tz_convert("UTC").as_unit("ns").asi8
    phase = (ns % _WEEK_NS) / _WEEK_NS
    k = np.arange(1, order + 1)
    ang = 2 * np.pi * phase[:, None] * k[None, :]
    return np.hstack([np.sin(ang), np.cos(ang)])


def hour_of_day(index: pd.DatetimeIndex, tz: str | None = None) -> np.ndarray:
    """Hour of day (0-23) in ``tz`` (the index's own zone when None)."""
    return _local(index, tz).hour.to_numpy()


def day_of_week(index: pd.DatetimeIndex, tz: str | None = None) -> np.ndarray:
    """Day of week (Monday = 0) in ``tz`` (the index's own zone when None)."""
    return _local(index, tz).day_of_week.to_numpy()


def cyclic_calendar(index: pd.DatetimeIndex, tz: str | None = None) -> np.ndarray:
    """Four columns: sin/cos of the hour of day and of the day of week."""
    loc = _local(index, tz)
    h = (loc.hour.to_numpy() + loc.minute.to_numpy() / 60.0) / 24.0
    d = (loc.day_of_week.to_numpy() + h) / 7.0
    return np.column_stack([np.sin(2 * np.pi * h), np.cos(2 * np.pi * h),
                            np.sin(2 * np.pi * d), np.cos(2 * np.pi * d)])
