"""Rolling-origin backtests with the paper's rolling window, rolling cycle and moving step.

Section 3.4 of the Stackelberg paper: the model is trained on the latest
``window`` observations (rolling window); between forecasts the newest
``step`` observations are added (moving step); the parameters are re-fitted
only every ``cycle`` forecasts (rolling cycle), otherwise the fitted model is
rolled forward with ``update`` (statsmodels ``extend`` for SARIMA).

Two standard set-ups: :func:`day_ahead` (24 values issued at midnight,
moving step 24) and :func:`hour_ahead` (one value, rolling every hour).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from gridgames.forecasting.base import Forecaster
from gridgames.forecasting.metrics import evaluate
from gridgames.forecasting.validation import ForecastError, check_positive_int, check_series

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RollingConfig:
    """Rolling-forecast set-up (all lengths in observations).

    Attributes
    ----------
    window : int
        Rolling window: observations a (re)fit uses.
    horizon : int
        Values issued at each forecast origin.
    step : int
        Moving step: observations added between origins (default ``horizon``).
    cycle : int
        Rolling cycle: refit every ``cycle`` origins; 0 never refits (update only).
    """

    window: int
    horizon: int
    step: int = 0
    cycle: int = 0

    def __post_init__(self) -> None:
        check_positive_int(self.window, "window", minimum=2)
        check_positive_int(self.horizon, "horizon")
        check_positive_int(self.step, "step", minimum=0)
        check_positive_int(self.cycle, "cycle", minimum=0)
        if self.step == 0:
            object.__setattr__(self, "step", self.horizon)


def day_ahead(window_days: int = 28, cycle_days: int = 0, per_day: int = 24) -> RollingConfig:
    """24 values issued at each day start, moving step one day."""
    return RollingConfig(window=window_days * per_day, horizon=per_day, step=per_day, cycle=cycle_days)


def hour_ahead(window_days: int = 28, cycle_hours: int = 0, per_day: int = 24) -> RollingConfig:
    """One value issued every hour, moving step one hour."""
    return RollingConfig(window=window_days * per_day, horizon=1, step=1, cycle=cycle_hours)


@dataclass
class BacktestResult:
    """Forecasts and timings of one rolling backtest.

    Attributes
    ----------
    model : str
        Forecaster name.
    forecasts : pandas.DataFrame
        One row per forecast value: ``actual``, ``forecast``, ``origin`` (first
        forecast timestamp of its issue) and ``lead`` (0-based step ahead).
    metrics : dict
        MAE, MAPE (%), MSE, RMSE, R² over all forecasts.
    fit_seconds, update_seconds, predict_seconds : float
        Wall time in fits, updates and predictions.
    n_fits, n_origins : int
        Number of (re)fits and of forecast origins.
    config : RollingConfig
    """

    model: str
    forecasts: pd.DataFrame
    metrics: dict[str, float]
    fit_seconds: float
    update_seconds: float
    predict_seconds: float
    n_fits: int
    n_origins: int
    config: RollingConfig
    extra: dict = field(default_factory=dict)


def rolling_backtest(series: pd.Series, forecaster: Forecaster, *, start: object,
                     config: RollingConfig, periods: int | None = None, end: object = None,
                     actual: pd.Series | None = None, progress: bool = False,
                     taus: tuple[float, ...] | None = None) -> BacktestResult:
    """Rolling-origin evaluation of one forecaster.

    Parameters
    ----------
    series : pandas.Series
        The observed series (regular index, no NaN), history and test period.
    forecaster : Forecaster
        Method and parameters (e.g. ``get_forecaster("sarima")``).
    start : timestamp-like
        First forecast origin (first timestamp forecast). Naive values take
        the series' time zone.
    config : RollingConfig
        Window, horizon, moving step and rolling cycle.
    periods : int, optional
        Number of origins; default: as many as fit before ``end`` / the series end.
    end : timestamp-like, optional
        Last timestamp that may be forecast.
    actual : pandas.Series, optional
        Values to score against (default ``series``), e.g. raw demand when the
        model is trained on cleaned demand.
    progress : bool
        Show a progress bar.
    taus : tuple of float, optional
        Quantile levels recorded (columns ``q<tau>``) from models that have
        their own ``predict_quantiles``; others get split-conformal quantiles
        afterwards (:func:`~gridgames.forecasting.intervals.conformal_quantiles`).

    Raises
    ------
    ForecastError
        Too little history before ``start`` for the window, or no origin fits.
    """
    y = check_series(series, name=f"backtest {forecaster.name}")
    step_td = pd.Timedelta(y.index.freq)
    start = stamp(start, y.index)
    if start not in y.index:
        raise ForecastError(f"backtest: start {start} is not a timestamp of the series "
                            f"({y.index[0]} .. {y.index[-1]}, step {step_td})")
    i0 = int(y.index.get_loc(start))
    if i0 < config.window:
        raise ForecastError(f"backtest: only {i0} observations before {start}, the rolling window "
                            f"needs {config.window} (series starts {y.index[0]})")
    last = len(y) - 1 if end is None else int(y.index.get_indexer([stamp(end, y.index)], method="pad")[0])
    max_origins = (last + 1 - config.horizon - i0) // config.step + 1
    n_origins = max_origins if periods is None else min(check_positive_int(periods, "periods"), max_origins)
    if n_origins <= 0:
        raise ForecastError(f"backtest: no {config.horizon}-step forecast fits between {start} and "
                            f"{y.index[last]}")
    if actual is None:
        truth = y
    else:
        if not isinstance(actual, pd.Series) or not isinstance(actual.index, pd.DatetimeIndex):
            raise ForecastError("backtest: 'actual' must be a pandas Series on a DatetimeIndex")
        if (actual.index.tz is None) != (y.index.tz is None):
            raise ForecastError(f"backtest: 'actual' is indexed {'naive' if actual.index.tz is None else 'tz-aware'}"
                                f" but the series {'naive' if y.index.tz is None else 'tz-aware'}: "
                                "no timestamp would match")
        truth = pd.to_numeric(actual, errors="coerce").reindex(y.index)
    fit_s = upd_s = pred_s = 0.0
    n_fits = 0
    fitted = None
    rows = []
    pos = i0
    for k in tqdm(range(n_origins), disable=not progress, desc=forecaster.name, leave=False):
        origin = i0 + k * config.step
        if fitted is None or (config.cycle and k % config.cycle == 0):
            t = time.perf_counter()
            fitted = forecaster.fit(y.iloc[origin - config.window:origin])
            fit_s += time.perf_counter() - t
            n_fits += 1
        elif origin > pos:
            t = time.perf_counter()
            fitted.update(y.iloc[pos:origin])
            upd_s += time.perf_counter() - t
        pos = origin
        t = time.perf_counter()
        pred = fitted.predict(config.horizon)
        pred_s += time.perf_counter() - t
        block = pd.DataFrame({"forecast": pred.to_numpy(), "origin": y.index[origin],
                              "lead": np.arange(config.horizon)}, index=pred.index)
        if taus and hasattr(fitted, "predict_quantiles"):
            t = time.perf_counter()
            q = fitted.predict_quantiles(config.horizon, taus)
            pred_s += time.perf_counter() - t
            for j, tau in enumerate(taus):
                block[f"q{tau:g}"] = q[:, j]
        rows.append(block)
    frame = pd.concat(rows)
    frame.insert(0, "actual", truth.reindex(frame.index).to_numpy())
    scored = frame.dropna(subset=["actual"])
    if scored.empty:
        raise ForecastError(f"backtest: no actual value at any of the {len(frame)} forecast timestamps "
                            f"({frame.index[0]} .. {frame.index[-1]})")
    if len(scored) < len(frame):
        logger.warning("backtest: %d forecasts without an actual value are not scored",
                       len(frame) - len(scored))
    metrics = evaluate(scored["actual"], scored["forecast"])
    logger.info("%s: %d origins, %d fits, MAE %.1f, MAPE %.2f%%", forecaster.name, n_origins, n_fits,
                metrics["MAE"], metrics["MAPE"])
    return BacktestResult(model=forecaster.name, forecasts=frame, metrics=metrics, fit_seconds=fit_s,
                          update_seconds=upd_s, predict_seconds=pred_s, n_fits=n_fits,
                          n_origins=n_origins, config=config)


def stamp(value: object, index: pd.DatetimeIndex) -> pd.Timestamp:
    """``value`` as a Timestamp in ``index``'s time zone (naive values are read in it)."""
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ForecastError(f"not a timestamp: {value!r}") from None
    if index.tz is not None and ts.tz is None:
        ts = ts.tz_localize(index.tz)
    elif index.tz is None and ts.tz is not None:
        raise ForecastError(f"timestamp {ts} has a time zone but the series index is naive")
    return ts
