"""Tests of the gradient-boosted forecaster and its calendar: no look-ahead, holidays, DST, errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridgames.forecasting.api import available_forecasters, day_ahead_forecast, get_forecaster
from gridgames.forecasting.backtest import RollingConfig, rolling_backtest
from gridgames.forecasting.boosted import FEATURES, BoostedForecaster
from gridgames.forecasting.calendar import CALENDAR_COLUMNS, calendar_features
from gridgames.forecasting.validation import ForecastError

LA = "America/Los_Angeles"
SMALL = {"n_estimators": 40, "num_leaves": 15, "min_child_samples": 10, "calendar_tz": LA}


def load_like(days: int, seed: int = 0, start: str = "2021-01-04") -> pd.Series:
    """Hourly UTC series with a daily and weekly cycle and AR(1) noise."""
    rng = np.random.default_rng(seed)
    n = 24 * days
    h = np.arange(n)
    noise = np.zeros(n)
    for i in range(1, n):
        noise[i] = 0.9 * noise[i - 1] + 20 * rng.standard_normal()
    v = 5000 + 800 * np.sin(2 * np.pi * (h - 8) / 24) + 300 * (h % 168 < 120) + noise
    return pd.Series(v, index=pd.date_range(start, periods=n, freq="h", tz="UTC"))


def test_registered_and_beats_naive_on_a_cyclic_series():
    assert "boosted" in available_forecasters()
    y = load_like(70)
    start = y.index[24 * 60]
    cfg = RollingConfig(window=24 * 60, horizon=24)
    ours = rolling_backtest(y, get_forecaster("boosted", **SMALL), start=start, config=cfg, periods=10)
    naive = rolling_backtest(y, get_forecaster("naive-24"), start=start, config=cfg, periods=10)
    # the weekday step (300 MW on Monday/Saturday) fools the 24 h naive, not the calendar model
    assert ours.metrics["MAE"] < 0.8 * naive.metrics["MAE"]


def test_features_do_not_read_after_the_origin():
    """Future shift: every value after the origin changed -> the feature rows are identical."""
    fc = BoostedForecaster(**SMALL)
    y = load_like(20)
    v = y.to_numpy()
    origin = len(v) - 30
    leads = np.arange(1, 25)
    origins = np.full(24, origin)
    cal = calendar_features(y.index[origin + leads], LA)
    hour = np.full(24, 7.0)
    before = fc.features(v, origins, leads, cal, hour)
    shifted = v.copy()
    shifted[origin + 1:] += np.random.default_rng(1).normal(0, 500, len(v) - origin - 1)
    after = fc.features(shifted, origins, leads, cal, hour)
    np.testing.assert_array_equal(before, after)
    assert before.shape == (24, len(FEATURES))
    # and the check can fail: changing the value AT the origin changes the rows
    shifted[origin] += 100.0
    assert not np.array_equal(before, fc.features(shifted, origins, leads, cal, hour))


def test_day_ahead_forecast_unchanged_when_the_future_is_shifted():
    """Issue 00:00 UTC with demand to 23:00 UTC the day before: data after that cannot move the forecast."""
    y = load_like(45)
    day = "2021-02-10"
    first = day_ahead_forecast(y, day, "boosted", history_days=37, **SMALL)
    future = y.index >= pd.Timestamp(day, tz="UTC")
    shifted = y.copy()
    shifted[future] = shifted[future] * 1.5 + 1000.0
    second = day_ahead_forecast(shifted, day, "boosted", history_days=37, **SMALL)
    pd.testing.assert_series_equal(first, second)
    # the same shift one hour earlier (the last known hour) does change it
    earlier = y.copy()
    earlier[y.index >= pd.Timestamp(day, tz="UTC") - pd.Timedelta(hours=1)] += 1000.0
    assert not np.allclose(first, day_ahead_forecast(earlier, day, "boosted", history_days=37, **SMALL))


def test_calendar_holidays_and_dst_days_in_local_time():
    # 2019-07-04 07:00 UTC is 00:00 PDT on Independence Day; 06:00 UTC is still July 3rd
    idx = pd.DatetimeIndex(["2019-07-04 06:00", "2019-07-04 07:00", "2019-11-28 20:00"], tz="UTC")
    cal = calendar_features(idx, LA)
    col = {c: i for i, c in enumerate(CALENDAR_COLUMNS)}
    assert cal[:, col["holiday"]].tolist() == [0.0, 1.0, 1.0]  # Thanksgiving 2019-11-28
    assert cal[:, col["hour"]].tolist() == [23.0, 0.0, 12.0]
    # spring forward 2019-03-10 (PST -> PDT): offset grows by one hour over 24 h; autumn back 11-03
    dst = pd.DatetimeIndex(["2019-03-10 12:00", "2019-03-12 12:00", "2019-11-03 12:00"], tz="UTC")
    assert calendar_features(dst, LA)[:, col["dst_shift"]].tolist() == [1.0, 0.0, -1.0]


def test_bad_parameters_and_horizon_are_named():
    with pytest.raises(ForecastError, match="'target'"):
        get_forecaster("boosted", target="ratio")
    with pytest.raises(ForecastError, match="'subsample'"):
        get_forecaster("boosted", subsample=1.5)
    fitted = get_forecaster("boosted", **SMALL).fit(load_like(30))
    with pytest.raises(ForecastError, match="max_horizon 24"):
        fitted.predict(25)
    with pytest.raises(ForecastError, match="too short"):
        get_forecaster("boosted", **SMALL).fit(load_like(10))
