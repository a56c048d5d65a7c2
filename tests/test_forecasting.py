"""Tests of gridgames.forecasting: metrics, input checks, ARIMA/SARIMA (Algorithm 1),
the SARIMA-ANN hybrid, LSTM, random forest, naive baselines, backtests, BPAT data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from statsmodels.tsa.arima_process import arma_generate_sample

from gridgames.forecasting.api import (UnknownForecasterError, available_forecasters, day_ahead_forecast,
                                       get_forecaster)
from gridgames.forecasting.backtest import RollingConfig, day_ahead, rolling_backtest
from gridgames.data.bpat import load_bpat_eia930
from gridgames.data.errors import InstanceError
from gridgames.forecasting.metrics import evaluate, mae, mape, mse, r2, rmse
from gridgames.forecasting.sarima import SarimaForecaster, identify
from gridgames.forecasting.validation import ForecastError, check_series
from gridgames.solvers.errors import GridGamesError

torch.set_num_threads(1)


def hourly(values, start="2021-01-04", tz=None) -> pd.Series:
    return pd.Series(np.asarray(values, dtype=float),
                     index=pd.date_range(start, periods=len(values), freq="h", tz=tz))


def daily_cycle(n: int, seed: int = 0, noise: float = 1.0) -> pd.Series:
    rng = np.random.default_rng(seed)
    h = np.arange(n)
    return hourly(100 + 10 * np.sin(2 * np.pi * h / 24) + noise * rng.standard_normal(n))


# --------------------------------------------------------------------------- metrics
def test_metrics_against_hand_computed_values():
    a = np.array([100.0, 200.0, 300.0, 400.0])
    f = np.array([110.0, 190.0, 330.0, 400.0])
    # errors 10, -10, 30, 0
    assert mae(a, f) == pytest.approx(50 / 4)
    assert mape(a, f) == pytest.approx((10 / 100 + 10 / 200 + 30 / 300 + 0) / 4 * 100)  # 6.25 %
    assert mse(a, f) == pytest.approx((100 + 100 + 900) / 4)
    assert rmse(a, f) == pytest.approx(np.sqrt(275.0))
    assert r2(a, f) == pytest.approx(1 - 1100 / 50000)  # SS_tot = 150²+50²+50²+150²
    assert evaluate(a, f) == pytest.approx({"MAE": 12.5, "MAPE": 6.25, "MSE": 275.0,
                                            "RMSE": np.sqrt(275.0), "R2": 0.978})


def test_metric_errors_are_clear():
    with pytest.raises(ForecastError, match="actual value is 0 at position 1"):
        mape([1.0, 0.0], [1.0, 1.0])
    with pytest.raises(ForecastError, match="3 actual values but 2 forecasts"):
        mae([1, 2, 3], [1, 2])
    with pytest.raises(ForecastError, match="constant"):
        r2([5, 5, 5], [4, 5, 6])


# --------------------------------------------------------------------------- bad input
def test_bad_series_errors_name_the_timestamp():
    y = daily_cycle(400)
    gap = y.drop(y.index[100])
    with pytest.raises(ForecastError, match=r"gap of 0 days 02:00:00 between 2021-01-08 03:00:00 and "
                                            r"2021-01-08 05:00:00"):
        get_forecaster("naive-24").fit(gap)
    nan = y.copy()
    nan.iloc[50] = np.nan
    with pytest.raises(ForecastError, match=r"missing or non-finite value \(nan\) at 2021-01-06 02:00:00"):
        get_forecaster("sarima", order=(1, 0, 0)).fit(nan)
    dup = pd.concat([y.iloc[:10], y.iloc[9:]])
    with pytest.raises(ForecastError, match="duplicate timestamp at 2021-01-04 09:00:00"):
        check_series(dup)
    with pytest.raises(ForecastError, match="out of order"):
        check_series(y.iloc[::-1])
    with pytest.raises(ForecastError, match="index must be a DatetimeIndex"):
        check_series(pd.Series([1.0, 2.0, 3.0]))
    with pytest.raises(ForecastError, match="expected a pandas Series"):
        check_series([1.0, 2.0])
    irregular = pd.Series(1.0, index=pd.DatetimeIndex(["2021-01-01 00:00", "2021-01-01 01:00",
                                                       "2021-01-01 01:30", "2021-01-01 02:30"]))
    with pytest.raises(ForecastError, match="irregular index: gap of 0 days 00:30:00"):
        check_series(irregular)


def test_too_short_for_the_seasonal_period():
    y = daily_cycle(60)
    with pytest.raises(ForecastError, match=r"sarima: history of 60 observations ending 2021-01-06 "
                                            r"11:00:00 is too short: needs at least 72 \(3 seasonal periods of 24\)"):
        SarimaForecaster(seasonal_order=(1, 0, 0, 24), order=(0, 0, 0), weekly_fourier=0).fit(y)
    with pytest.raises(ForecastError, match="too short"):
        get_forecaster("sarima-ann").fit(daily_cycle(300))
    with pytest.raises(ForecastError, match="naive-168: history of 100 .* needs at least 168"):
        get_forecaster("naive-168").fit(daily_cycle(100))


def test_update_must_continue_the_series():
    y = daily_cycle(100)
    fitted = get_forecaster("naive-24").fit(y.iloc[:50])
    with pytest.raises(ForecastError, match="start at 2021-01-06 04:00:00, expected 2021-01-06 02:00:00"):
        fitted.update(y.iloc[52:60])
    bad = y.iloc[50:60].copy()
    bad.iloc[3] = np.inf
    with pytest.raises(ForecastError, match="non-finite value .* at 2021-01-06 05:00:00"):
        fitted.update(bad)


def test_registry_and_parameter_errors():
    assert available_forecasters() == sorted(["arima", "sarima", "sarima-ann", "bpa-corrected", "lstm",
                                              "random-forest", "naive-24", "naive-168", "boosted", "ensemble",
                                              "sf-autoarima", "sf-autoets", "sf-mstl"])
    with pytest.raises(UnknownForecasterError, match="unknown forecaster 'prophet'"):
        get_forecaster("prophet")
    with pytest.raises(ForecastError, match="unexpected keyword argument 'epoch'"):
        get_forecaster("lstm", epoch=3)
    with pytest.raises(ForecastError, match="'hidden' must be an integer >= 1, got 0"):
        get_forecaster("sarima-ann", hidden=0)
    with pytest.raises(ForecastError, match="arima has no seasonal part"):
        get_forecaster("arima", max_P=1)
    with pytest.raises(ForecastError, match="'seasonal_residual' \\(24\\) must lie between output_len \\(24\\) "
                                            "and lookback \\(12\\)"):
        get_forecaster("lstm", lookback=12)
    with pytest.raises(ForecastError, match="'order' must be 3 non-negative integers"):
        get_forecaster("sarima", order=(1, 0))
    assert issubclass(ForecastError, GridGamesError)


def test_white_noise_is_refused_by_the_ljung_box_step():
    y = hourly(np.random.default_rng(3).standard_normal(400))
    with pytest.raises(ForecastError, match="white noise .*Ljung-Box p"):
        get_forecaster("arima").fit(y)


# --------------------------------------------------------------------------- naive
def test_seasonal_naive_closed_form():
    y = daily_cycle(24 * 9, noise=0.0) + hourly(np.arange(24 * 9))
    f24 = get_forecaster("naive-24").fit(y).predict(30)
    np.testing.assert_array_equal(f24.to_numpy(), np.resize(y.to_numpy()[-24:], 30))
    assert f24.index[0] == y.index[-1] + pd.Timedelta("1h")
    f168 = get_forecaster("naive-168").fit(y).predict(24)
    np.testing.assert_array_equal(f168.to_numpy(), y.to_numpy()[-168:-144])


# --------------------------------------------------------------------------- ARIMA / SARIMA
def test_identify_differences_a_random_walk_once():
    rw = np.cumsum(np.random.default_rng(0).standard_normal(500))
    ident = identify(rw)
    assert ident.d == 1
    assert ident.adf_pvalues[0] > 0.01 > ident.adf_pvalues[1]


def test_bic_search_recovers_seasonal_arma_orders():
    # (1 - 0.5 L) y = (1 + 0.6 L^12) e : SARIMA(1,0,0)(0,0,1)_12 around a mean of 50
    n = 480
    x = arma_generate_sample([1, -0.5], [1] + [0] * 11 + [0.6], n + 100,
                             distrvs=np.random.default_rng(2).standard_normal)[100:] + 50
    fitted = SarimaForecaster(seasonal_period=12, max_p=1, max_q=1, max_P=1, max_Q=1, max_D=0,
                              weekly_fourier=0, search_length=n).fit(hourly(x))
    assert fitted.identification.d == 0
    assert fitted.order == (1, 0, 0)
    assert fitted.seasonal_order == (0, 0, 1, 12)
    assert len(fitted.bic_table) == 16
    params = dict(zip(fitted.results.model.param_names, fitted.results.params))
    assert params["ar.L1"] == pytest.approx(0.5, abs=0.1)
    assert params["ma.S.L12"] == pytest.approx(0.6, abs=0.12)


def test_ar1_forecast_and_update_match_the_closed_form():
    x = arma_generate_sample([1, -0.7], [1], 400, distrvs=np.random.default_rng(5).standard_normal) + 20
    y = hourly(x)
    fitted = SarimaForecaster(order=(1, 0, 0), seasonal_order=(0, 0, 0, 0), weekly_fourier=0).fit(y.iloc[:300])
    c, phi = fitted.results.params[:2]
    mu = c / (1 - phi)

    def closed_form(last, h):
        return mu + phi ** np.arange(1, h + 1) * (last - mu)

    np.testing.assert_allclose(fitted.predict(5).to_numpy(), closed_form(x[299], 5), rtol=1e-9)
    fitted.update(y.iloc[300:340])  # rolled with extend, parameters unchanged
    np.testing.assert_allclose(fitted.predict(3).to_numpy(), closed_form(x[339], 3), rtol=1e-9)
    assert fitted.predict(3).index[0] == y.index[340]


# --------------------------------------------------------------------------- SARIMA-ANN
def test_hybrid_beats_sarima_on_a_planted_nonlinear_residual():
    # u_t = e_t + 0.6 min(u_{t-24}², 9): the error depends on yesterday's error through an even
    # function, which no linear model can use. SARIMA sees the daily cycle (Fourier terms).
    rng = np.random.default_rng(7)
    n = 24 * 42
    eps = rng.standard_normal(n)
    u = np.zeros(n)
    for t in range(n):
        u[t] = eps[t] + (0.6 * min(u[t - 24] ** 2, 9.0) if t >= 24 else 0.0)
    y = hourly(100 + 10 * np.sin(2 * np.pi * np.arange(n) / 24) + u, start="2021-01-01")
    sar = dict(order=(0, 0, 0), seasonal_order=(0, 0, 0, 24), weekly_fourier=7)
    cfg, start = day_ahead(35), y.index[24 * 35]
    base = rolling_backtest(y, SarimaForecaster(**sar), start=start, config=cfg)
    hyb = rolling_backtest(y, get_forecaster("sarima-ann", train_days=21, epochs=2000, hidden=32,
                                             learning_rate=3e-3, **sar), start=start, config=cfg)
    assert hyb.metrics["MSE"] < 0.5 * base.metrics["MSE"]
    # the SARIMA part of the hybrid is the same model: identical linear forecasts
    fitted = get_forecaster("sarima-ann", train_days=21, epochs=50, hidden=8, **sar).fit(y.iloc[:24 * 35])
    comp = fitted.predict_components(24)
    np.testing.assert_allclose(comp["sarima"], base.forecasts["forecast"].iloc[:24], rtol=1e-8)
    np.testing.assert_allclose(comp["forecast"], comp["sarima"] + comp["error"])


def test_hybrid_hour_mode_and_reproducibility():
    y = daily_cycle(24 * 20, seed=4)
    sar = dict(order=(1, 0, 0), seasonal_order=(1, 0, 0, 24), weekly_fourier=0)
    kw = dict(mode="hour", train_days=7, epochs=100, hidden=8, **sar)
    a = get_forecaster("sarima-ann", **kw).fit(y.iloc[:24 * 18])
    b = get_forecaster("sarima-ann", **kw).fit(y.iloc[:24 * 18])
    pd.testing.assert_series_equal(a.predict(1), b.predict(1))
    a.update(y.iloc[24 * 18:24 * 18 + 5])
    assert a.predict(1).index[0] == y.index[24 * 18 + 5]
    # the stored one-step SARIMA forecasts are what SARIMA alone predicts
    s = SarimaForecaster(**sar).fit(y.iloc[:24 * 18])
    one = []
    for k in range(5):
        one.append(float(s.predict(1).iloc[0]))
        s.update(y.iloc[24 * 18 + k:24 * 18 + k + 1])
    np.testing.assert_allclose(a.errors["forecast"].iloc[-5:], one, rtol=1e-6)


# --------------------------------------------------------------------------- LSTM, random forest
def test_lstm_learns_a_daily_cycle_reproducibly():
    y = daily_cycle(24 * 14, seed=1, noise=0.5)
    kw = dict(lookback=48, hidden=16, layers=2, epochs=15, max_windows=400, learning_rate=1e-2)
    f1 = get_forecaster("lstm", **kw).fit(y.iloc[:-24]).predict(24)
    f2 = get_forecaster("lstm", **kw).fit(y.iloc[:-24]).predict(24)
    pd.testing.assert_series_equal(f1, f2)
    truth = 100 + 10 * np.sin(2 * np.pi * np.arange(24 * 13, 24 * 14) / 24)
    assert mae(truth, f1) < 2.5  # amplitude 10; a flat forecast has MAE 6.4
    assert len(get_forecaster("lstm", **kw).fit(y.iloc[:-24]).predict(30)) == 30
    level = get_forecaster("lstm", seasonal_residual=0, **kw).fit(y.iloc[:-24]).predict(24)
    assert mae(truth, level) < 2.5


def test_random_forest_uses_similar_days():
    # weekdays 100 + cycle, weekends 70 + cycle: day-of-week groups beat "same as yesterday"
    idx = pd.date_range("2021-01-04", periods=24 * 7 * 6, freq="h")
    rng = np.random.default_rng(0)
    level = np.where(idx.day_of_week >= 5, 70.0, 100.0)
    y = pd.Series(level + 10 * np.sin(2 * np.pi * idx.hour / 24) + rng.standard_normal(len(idx)), index=idx)
    cfg, start = day_ahead(28), idx[24 * 7 * 5]
    rf = rolling_backtest(y, get_forecaster("random-forest", n_estimators=50), start=start, config=cfg)
    naive = rolling_backtest(y, get_forecaster("naive-24"), start=start, config=cfg)
    assert rf.metrics["MAE"] < 0.5 * naive.metrics["MAE"]
    spike = y.copy()
    spike.iloc[24 * 8 + 5] += 500  # one absurd hour: the 3σ rule drops it
    fitted = get_forecaster("random-forest", n_estimators=10).fit(spike.iloc[:24 * 28])
    assert fitted.n_outliers >= 1


# --------------------------------------------------------------------------- backtest, day-ahead API
def test_rolling_backtest_with_naive_is_exact_and_counts_refits():
    y = daily_cycle(24 * 12, seed=2)
    res = rolling_backtest(y, get_forecaster("naive-24"), start=y.index[24 * 8],
                           config=RollingConfig(window=48, horizon=24, cycle=2), periods=4)
    assert res.n_origins == 4 and res.n_fits == 2
    np.testing.assert_array_equal(res.forecasts["forecast"].to_numpy(), y.to_numpy()[24 * 7:24 * 11])
    np.testing.assert_array_equal(res.forecasts["actual"].to_numpy(), y.to_numpy()[24 * 8:24 * 12])
    assert res.metrics["MAE"] == pytest.approx(mae(y.to_numpy()[24 * 8:], y.to_numpy()[24 * 7:24 * 11]))
    hour = rolling_backtest(y, get_forecaster("naive-24"), start=y.index[24 * 8],
                            config=RollingConfig(window=48, horizon=1), periods=30)
    assert len(hour.forecasts) == 30 and hour.n_fits == 1
    with pytest.raises(ForecastError, match="rolling window needs 480"):
        rolling_backtest(y, get_forecaster("naive-24"), start=y.index[24 * 8], config=day_ahead(20))


def test_day_ahead_forecast_naive_and_time_zones():
    y = daily_cycle(24 * 10, seed=3)
    out = day_ahead_forecast(y, "2021-01-10", "naive-24", history_days=3)
    assert len(out) == 24 and out.index[0] == pd.Timestamp("2021-01-10")
    np.testing.assert_array_equal(out.to_numpy(), y["2021-01-09"].to_numpy())
    # tz-aware UTC series, a local day across the spring-forward change has 23 hours
    yu = hourly(np.arange(24 * 30, dtype=float) + 1, start="2021-03-01", tz="UTC")
    local = pd.Timestamp("2021-03-14", tz="America/Los_Angeles")
    dst = day_ahead_forecast(yu, local, "naive-24", history_days=2)
    assert len(dst) == 23 and dst.index[0] == local.tz_convert("UTC")
    with pytest.raises(ForecastError, match="not on the series' 0 days 01:00:00 grid"):
        day_ahead_forecast(y, "2021-01-10 00:30", "naive-24")
    with pytest.raises(ForecastError, match="has a time zone but the series index is naive"):
        day_ahead_forecast(y, local, "naive-24")
    with pytest.raises(ForecastError, match="no observations before 2021-01-04"):
        day_ahead_forecast(y, "2021-01-04", "naive-24")


# --------------------------------------------------------------------------- BPAT data
def test_bpat_loader_and_bpa_forecast_mape():
    frame = load_bpat_eia930(2019)
    assert len(frame) == 8760 and str(frame.index.tz) == "UTC" and frame.index.freq == "h"
    assert mape(frame["actual"], frame["bpa_forecast"]) == pytest.approx(1.8976, abs=5e-4)
    later = load_bpat_eia930(2021)
    assert later.index[0] == pd.Timestamp("2021-01-01", tz="UTC") and later["bpa_forecast"].isna().all()
    assert later["cleaned"].notna().all()
    with pytest.raises(InstanceError, match="no BPAT file for year 2018"):
        load_bpat_eia930(2018)


# --------------------------------------------------------------------------- review fixes
def test_review_parameter_and_scoring_errors_are_clear():
    with pytest.raises(ForecastError, match=r"'dropout' must be a number in \[0, 1\), got 1.5"):
        get_forecaster("lstm", dropout=1.5)
    y = daily_cycle(24 * 6, seed=2)
    with pytest.raises(ForecastError, match="'actual' is indexed tz-aware but the series naive"):
        rolling_backtest(y, get_forecaster("naive-24"), start=y.index[48], config=RollingConfig(48, 24),
                         actual=y.tz_localize("UTC"))
    with pytest.raises(ForecastError, match="no actual value at any of the 24 forecast timestamps"):
        rolling_backtest(y, get_forecaster("naive-24"), start=y.index[48], config=RollingConfig(48, 24),
                         periods=1, actual=y.iloc[:48])


def test_sarima_order_cache_returns_the_identification_of_the_first_search():
    y = daily_cycle(24 * 15, seed=6)
    f = SarimaForecaster(max_p=1, max_q=0, max_P=0, max_D=0, max_Q=0, weekly_fourier=0, search_length=200)
    first = f.select_orders(y)
    again = f.select_orders(y)
    assert again[2] is first[2] and again[:2] == first[:2]
    assert first[2].ljung_box_pvalue < 0.01  # a daily cycle is not white noise


def test_hybrid_train_loss_is_that_of_the_kept_weights():
    y = daily_cycle(24 * 40, seed=8)
    sar = dict(order=(1, 0, 0), seasonal_order=(0, 0, 0, 24), weekly_fourier=0)
    fitted = get_forecaster("sarima-ann", train_days=14, epochs=400, hidden=8, validation_fraction=0.25,
                            patience=2, learning_rate=0.05, **sar).fit(y)
    rows = fitted.errors.iloc[-14 * 24:]
    x = fitted._features(rows.index, rows["lead"].to_numpy())
    n_fit = len(rows) - int(round(0.25 * len(rows)))
    pred = fitted.ys.transform(fitted.predict_error(x)[:, None]).ravel()
    target = fitted.ys.transform(rows["error"].to_numpy()[:, None]).ravel()
    assert fitted.train_loss == pytest.approx(np.mean((pred[:n_fit] - target[:n_fit]) ** 2), rel=1e-4)
    assert fitted.val_loss == pytest.approx(np.mean((pred[n_fit:] - target[n_fit:]) ** 2), rel=1e-4)
