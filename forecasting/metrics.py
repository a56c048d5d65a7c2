"""Forecast accuracy metrics: MAE, MAPE, MSE, RMSE and R².

All take the actual and forecast values (arrays or aligned Series) and return
a float; MAPE is in percent. :func:`evaluate` returns all five.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridgames.forecasting.validation import ForecastError

logger = logging.getLogger(__name__)

#: Metric names in the order of the paper's Table 6.
METRICS = ("MAE", "MAPE", "MSE", "RMSE", "R2")


def _pair(actual: object, forecast: object) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(actual, pd.Series) and isinstance(forecast, pd.Series):
        if not actual.index.equals(forecast.index):
            missing = forecast.index.difference(actual.index)
            if len(missing):
                raise ForecastError(f"metrics: no actual value at {missing[0]} "
                                    f"({len(missing)} forecast timestamps without actuals)")
            actual = actual.reindex(forecast.index)
    a = np.asarray(actual, dtype=float).ravel()
    f = np.asarray(forecast, dtype=float).ravel()
    if a.shape != f.shape:
        raise ForecastError(f"metrics: {a.size} actual values but {f.size} forecasts")
    if a.size == 0:
        raise ForecastError("metrics: no values to compare")
    bad = np.flatnonzero(~(np.isfinite(a) & np.isfinite(f)))
    if bad.size:
        raise ForecastError(f"metrics: non-finite actual or forecast at position {bad[0]}")
    return a, f


def mae(actual: object, forecast: object) -> float:
    """Mean absolute error."""
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(a - f)))


def mape(actual: object, forecast: object) -> float:
    """Mean absolute percentage error, in percent of the actual value.

    Raises
    ------
    ForecastError
        If an actual value is zero (the percentage is undefined there).
    """
    a, f = _pair(actual, forecast)
    zero = np.flatnonzero(a == 0)
    if zero.size:
        raise ForecastError(f"MAPE undefined: actual value is 0 at position {zero[0]}")
    return float(np.mean(np.abs((a - f) / a)) * 100.0)


def mse(actual: object, forecast: object) -> float:
    """Mean squared error."""
    a, f = _pair(actual, forecast)
    return float(np.mean((a - f) ** 2))


def rmse(actual: object, forecast: object) -> float:
    """Root mean squared error."""
    return float(np.sqrt(mse(actual, forecast)))


def r2(actual: object, forecast: object) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot`` (can be negative)."""
    a, f = _pair(actual, forecast)
    ss_tot = float(np.sum((a - a.mean()) ** 2))
    if ss_tot == 0:
        raise ForecastError("R² undefined: the actual values are constant")
    return 1.0 - float(np.sum((a - f) ** 2)) / ss_tot


def evaluate(actual: object, forecast: object) -> dict[str, float]:
    """All five metrics, keyed ``MAE, MAPE, MSE, RMSE, R2`` (MAPE in percent).

    MAPE is NaN (not an error) when an actual value is 0; :func:`mape` raises there.
    """
    a, f = _pair(actual, forecast)
    out = {"MAE": mae(a, f), "MSE": mse(a, f), "R2": r2(a, f)}
    out["RMSE"] = float(np.sqrt(out["MSE"]))
    out["MAPE"] = mape(a, f) if np.all(a != 0) else float("nan")
    return {k: out[k] for k in METRICS}
