"""Demand and price forecasters behind one interface, and rolling backtests.

Public API
----------
get_forecaster, available_forecasters, register_forecaster
    ``arima``, ``sarima``, ``sarima-ann``, ``lstm``, ``random-forest``, ``naive-24``, ``naive-168``,
    ``bpa-corrected`` (BPA's published forecast + a SARIMA of its error), ``boosted`` (LightGBM,
    direct multi-horizon), ``ensemble`` (registered forecasters by name), and the statsforecast
    anchors ``sf-autoarima``, ``sf-autoets``, ``sf-mstl``.
Forecaster, FittedForecaster
    ``Forecaster.fit(series) -> FittedForecaster``; ``.predict(horizon)``, ``.update(new)``.
day_ahead_forecast
    The call the price models make for ``demand_forecast = "<model name>"``.
rolling_backtest, RollingConfig, day_ahead, hour_ahead
    Rolling-origin evaluation (``forecasting/backtest.py``).
evaluate, mae, mape, mse, rmse, r2
    Metrics (``forecasting/metrics.py``).
compare_models, load_bpat_eia930
    The paper's Table 6 comparison on the BPAT data.
rolling_evaluation, ModelSpec, SEASON_WINDOWS
    Rolling-origin evaluation across seasons with intervals and outside anchors (``rolling.py``).
conformal_quantiles, interval_scores, pinball, crps
    Probabilistic forecasts and their scores (``intervals.py``).
"""
from gridgames.forecasting.api import (UnknownForecasterError, available_forecasters, day_ahead_forecast,
                                       get_forecaster)
from gridgames.forecasting.backtest import RollingConfig, day_ahead, hour_ahead, rolling_backtest
from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster
from gridgames.forecasting.comparison import compare_models
from gridgames.data.bpat import load_bpat_eia930
from gridgames.forecasting.intervals import conformal_quantiles, crps, interval_scores, pinball
from gridgames.forecasting.metrics import evaluate, mae, mape, mse, r2, rmse
from gridgames.forecasting.rolling import SEASON_WINDOWS, ModelSpec, rolling_evaluation
from gridgames.forecasting.validation import ForecastError

__all__ = [
    "FittedForecaster", "ForecastError", "Forecaster", "ModelSpec", "RollingConfig", "SEASON_WINDOWS",
    "UnknownForecasterError", "available_forecasters", "compare_models", "conformal_quantiles", "crps",
    "day_ahead", "day_ahead_forecast", "evaluate", "get_forecaster", "hour_ahead", "interval_scores",
    "load_bpat_eia930", "mae", "mape", "mse", "pinball", "r2", "register_forecaster", "rmse",
    "rolling_backtest", "rolling_evaluation",
]
