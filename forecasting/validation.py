"""Checks on the series a forecaster is given, with errors that name the timestamp.

Every forecaster, the backtest and :func:`~gridgames.forecasting.api.day_ahead_forecast`
pass their input through :func:`check_series`: a pandas Series of finite
numbers on a sorted, duplicate-free, regularly spaced :class:`~pandas.DatetimeIndex`.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridgames.solvers.errors import GridGamesError

logger = logging.getLogger(__name__)


class ForecastError(GridGamesError, ValueError):
    """A series, parameter or request a forecaster cannot work with."""


def series_step(index: pd.DatetimeIndex, *, name: str = "series") -> pd.Timedelta:
    """The spacing of a regular index (its ``freq`` if set, else the first difference)."""
    if index.freq is not None:
        try:
            return pd.Timedelta(index.freq)
        except (TypeError, ValueError):
            pass  # calendar offsets such as "MS" have no fixed length
    if len(index) < 2:
        raise ForecastError(f"{name}: need at least two timestamps to know the time step")
    return pd.Timedelta(index[1] - index[0])


def check_series(series: object, *, min_length: int = 2, name: str = "series",
                 why: str = "") -> pd.Series:
    """Validate a series for forecasting and return a float copy with ``freq`` set.

    Parameters
    ----------
    series : pandas.Series
        Values on a :class:`~pandas.DatetimeIndex` (tz-aware or naive).
    min_length : int
        Fewest observations accepted.
    name : str
        Named in error messages (the model or the field).
    why : str
        Why ``min_length`` is needed, appended to the too-short message.

    Returns
    -------
    pandas.Series
        float64 values, same index with ``freq`` set to the step.

    Raises
    ------
    ForecastError
        Not a Series, not a DatetimeIndex, unsorted or duplicate timestamps,
        an irregular step (a gap), a NaN/inf value or too short a history;
        each message names the first offending timestamp.
    """
    if not isinstance(series, pd.Series):
        raise ForecastError(f"{name}: expected a pandas Series, got {type(series).__name__}")
    index = series.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ForecastError(f"{name}: the index must be a DatetimeIndex, got {type(index).__name__}")
    try:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise ForecastError(f"{name}: values must be numbers") from None
    n = len(values)
    if n < max(min_length, 2):
        end = f" ending {index[-1]}" if n else ""
        raise ForecastError(f"{name}: history of {n} observations{end} is too short: "
                            f"needs at least {max(min_length, 2)}" + (f" ({why})" if why else ""))
    nat = np.flatnonzero(index.isna())
    if nat.size:
        raise ForecastError(f"{name}: missing timestamp (NaT) at position {nat[0]}")
    deltas = np.diff(index.as_unit("ns").asi8)
    back = np.flatnonzero(deltas <= 0)
    if back.size:
        i = back[0]
        kind = "duplicate timestamp" if deltas[i] == 0 else "timestamps out of order"
        raise ForecastError(f"{name}: {kind} at {index[i + 1]} (after {index[i]})")
    step = series_step(index, name=name)
    bad = np.flatnonzero(deltas != step.value)
    if bad.size:
        i = bad[0]
        gap = pd.Timedelta(int(deltas[i]), unit="ns")
        raise ForecastError(f"{name}: irregular index: gap of {gap} between {index[i]} and "
                            f"{index[i + 1]} (step is {step})"
                            + (f"; {bad.size} irregular steps in all" if bad.size > 1 else ""))
    nonfinite = np.flatnonzero(~np.isfinite(values))
    if nonfinite.size:
        i = nonfinite[0]
        raise ForecastError(f"{name}: missing or non-finite value ({values[i]}) at {index[i]}"
                            + (f"; {nonfinite.size} such values in all" if nonfinite.size > 1 else ""))
    out = pd.Series(values, index=pd.DatetimeIndex(index, freq=step), name=series.name)
    return out


def check_positive_int(value: object, name: str, *, minimum: int = 1) -> int:
    """An integer parameter ``>= minimum`` (bools refused), else :class:`ForecastError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ForecastError(f"parameter {name!r} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive_float(value: object, name: str) -> float:
    """A finite number ``> 0`` (bools refused), else :class:`ForecastError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not np.isfinite(value) or value <= 0:
        raise ForecastError(f"parameter {name!r} must be a number > 0, got {value!r}")
    return float(value)
