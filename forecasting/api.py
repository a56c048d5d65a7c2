"""Public entry points of ``gridgames.forecasting``.

``get_forecaster(name, **params)`` builds a registered method,
``available_forecasters()`` lists them, and :func:`day_ahead_forecast` is the
one call the price models make (``demand_forecast = "<model name>"``).
"""
from __future__ import annotations

import inspect
import logging

import pandas as pd

# importing the method modules registers them
from gridgames.forecasting import (anchors, boosted, corrected, ensemble, forest, hybrid, lstm,  # noqa: F401
                                   naive, sarima)
from gridgames.forecasting.base import Forecaster, FittedForecaster, registered
from gridgames.forecasting.validation import ForecastError, check_positive_int, check_series

logger = logging.getLogger(__name__)


class UnknownForecasterError(ForecastError, KeyError):
    """A forecaster name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


def available_forecasters() -> list[str]:
    """Registered forecaster names, sorted."""
    return sorted(registered())


def needs_reference(name: str) -> bool:
    """True when forecaster ``name`` corrects a published forecast (``reference=`` parameter)."""
    return bool(getattr(registered().get(name), "needs_reference", False))


def accepts(name: str, parameter: str) -> bool:
    """True when forecaster ``name``'s constructor takes the keyword ``parameter``."""
    factory = registered().get(name)
    if factory is None:
        return False
    try:
        return parameter in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False


def get_forecaster(name: str, **params) -> Forecaster:
    """Build the forecaster ``name`` with its parameters.

    Parameters
    ----------
    name : str
        One of :func:`available_forecasters` (``arima``, ``sarima``,
        ``sarima-ann``, ``lstm``, ``random-forest``, ``naive-24``, ``naive-168``,
        ``bpa-corrected``; the last needs ``reference=`` the published forecast).
    **params
        Keyword parameters of the method's class; an unknown keyword is an error.

    Raises
    ------
    UnknownForecasterError
        Unknown name (the message lists the known ones).
    ForecastError
        Unknown or invalid parameter.
    """
    reg = registered()
    if name not in reg:
        raise UnknownForecasterError(f"unknown forecaster {name!r} (available: {', '.join(sorted(reg))})")
    try:
        return reg[name](**params)
    except TypeError as exc:
        raise ForecastError(f"forecaster {name!r}: {exc}") from None


def _localize(wall: pd.Timestamp, tz: object) -> pd.Timestamp:
    """A wall-clock time in ``tz``: a repeated one (the autumn night) its first instant (hour-ending stamps), a
    skipped one (the spring night) the next instant that exists."""
    return wall.tz_localize(tz, ambiguous=True, nonexistent="shift_forward")


def day_ahead_forecast(series: pd.Series, day: object, model: str, *, history_days: int = 42,
                       **params) -> pd.Series:
    """Forecast every step of ``day`` from the history before it.

    Parameters
    ----------
    series : pandas.Series
        Observations on a regular DatetimeIndex (tz-aware or naive); only the
        values before ``day`` are used, so the series may extend past it.
    day : timestamp-like
        Start of the day to forecast (e.g. ``"2019-11-05"``). A naive value on
        a tz-aware series is read in the series' time zone. Local day
        boundaries are the caller's: pass the local midnight as a tz-aware
        timestamp and the day has 23, 24 or 25 hourly steps across DST.
    model : str
        Forecaster name (see :func:`available_forecasters`).
    history_days : int
        Days of history before ``day`` the model is fitted on (42 suits every
        model; ``sarima-ann`` needs at least 32 with its defaults, ``lstm`` and
        ``random-forest`` do better with 120).
    **params
        Parameters of the forecaster (``bpa-corrected`` needs
        ``reference=`` the published forecast covering the history and the day).

    Returns
    -------
    pandas.Series
        One value per step of the day, indexed by the day's timestamps
        (``series``' time zone and step).

    Raises
    ------
    ForecastError
        Bad series (gap, NaN, irregular index), a day that does not start on
        a step of the series, or too little history before ``day``.
    """
    history_days = check_positive_int(history_days, "history_days")
    forecaster = get_forecaster(model, **params)
    y = check_series(series, name=f"day_ahead_forecast({model})")
    step = pd.Timedelta(y.index.freq)
    try:
        local = pd.Timestamp(day)
    except (TypeError, ValueError):
        raise ForecastError(f"day_ahead_forecast: not a date: {day!r}") from None
    if y.index.tz is None and local.tz is not None:
        raise ForecastError(f"day_ahead_forecast: day {local} has a time zone but the series index is naive")
    if local.tz is None:   # the same wall-clock time a day later: 23 or 25 hours across a clock change
        local_end = local + pd.DateOffset(days=1)
        if y.index.tz is not None:
            local, local_end = _localize(local, y.index.tz), _localize(local_end, y.index.tz)
    else:
        local_end = _localize(local.tz_localize(None) + pd.DateOffset(days=1), local.tz)
    start = local if y.index.tz is None else local.tz_convert(y.index.tz)
    day_end = local_end if y.index.tz is None else local_end.tz_convert(y.index.tz)
    n_steps = int((day_end - start) / step)
    origin = y.index[0] + ((start - y.index[0]) // step) * step
    if origin != start:
        raise ForecastError(f"day_ahead_forecast: day start {start} is not on the series' {step} grid "
                            f"(nearest earlier step {origin})")
    history = y[y.index < start].iloc[-history_days * int(pd.Timedelta(days=1) / step):]
    if len(history) == 0:
        raise ForecastError(f"day_ahead_forecast: no observations before {start} (series starts {y.index[0]})")
    if history.index[-1] != start - step:
        raise ForecastError(f"day_ahead_forecast: the history ends at {history.index[-1]}, but the day "
                            f"starts at {start}: the hours in between are missing")
    fitted: FittedForecaster = forecaster.fit(history)
    out = fitted.predict(n_steps)
    logger.info("day-ahead %s for %s: %d steps from %d observations", model, start, n_steps, len(history))
    return out.rename(model)
