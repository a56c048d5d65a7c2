"""Tests of the ``bpa-corrected`` forecaster (published forecast + SARIMA of its error), the
calendar time zone of the comparison, the BLAS thread limit and the renamed BPAT loader."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from threadpoolctl import threadpool_info, threadpool_limits

import gridgames.cli as cli
from gridgames.forecasting.api import accepts, get_forecaster, needs_reference
from gridgames.forecasting.backtest import day_ahead, hour_ahead, rolling_backtest
from gridgames.forecasting.base import FittedForecaster, Forecaster
from gridgames.forecasting.comparison import compare_models
from gridgames.data.bpat import load_bpat_eia930
from gridgames.forecasting.metrics import mae
from gridgames.forecasting.validation import ForecastError

torch.set_num_threads(1)
LA = "America/Los_Angeles"


def planted(n_days: int = 35, seed: int = 0, bias: float = 8.0, phi: float = 0.9):
    """Demand with a daily cycle, and a 'published' forecast whose error is bias + AR(1).

    The published forecast ``f = y - e`` with ``e_t = bias + a_t``,
    ``a_t = phi a_{t-1} + 2 eps_t``: a persistent miss that the correction can learn.
    """
    rng = np.random.default_rng(seed)
    n = 24 * n_days
    idx = pd.date_range("2021-01-04", periods=n, freq="h", tz="UTC")
    y = 100 + 10 * np.sin(2 * np.pi * np.arange(n) / 24) + rng.standard_normal(n)
    a = np.zeros(n)
    for t in range(1, n):
        a[t] = phi * a[t - 1] + 2.0 * rng.standard_normal()
    ref = y - (bias + a)
    return pd.Series(y, index=idx, name="demand"), pd.Series(ref, index=idx, name="df")


SMALL = dict(max_p=2, max_q=1, max_P=0, max_Q=0)  # 6 BIC candidates: fast


def test_correction_removes_a_planted_bias_and_persistent_error():
    y, ref = planted()
    start, cfg = y.index[24 * 21], day_ahead(21)
    res = rolling_backtest(y, get_forecaster("bpa-corrected", reference=ref, **SMALL), start=start, config=cfg)
    test = res.forecasts.index
    raw = mae(y[test], ref[test])                     # ≈ bias 8 + |AR(1)| part
    assert raw > 7.0
    assert res.metrics["MAE"] < 0.6 * raw             # the bias is gone, early leads use the AR memory
    # one step ahead the AR(1) memory is almost all of the error: much better still
    hour = rolling_backtest(y, get_forecaster("bpa-corrected", reference=ref, **SMALL),
                            start=start, config=hour_ahead(21), periods=72)
    assert hour.metrics["MAE"] < 0.35 * mae(y[hour.forecasts.index], ref[hour.forecasts.index])


def test_corrected_forecast_and_update_match_the_ar1_closed_form():
    y, ref = planted(n_days=30, seed=3)
    n_fit = 24 * 25
    fitted = get_forecaster("bpa-corrected", reference=ref, order=(1, 0, 0)).fit(y.iloc[:n_fit])
    p = dict(zip(fitted.base.results.model.param_names, fitted.base.results.params))
    phi, c = p["ar.L1"], p["intercept"]
    mu = c / (1 - phi)
    assert mu == pytest.approx(8.0, abs=2.5)          # the planted bias, recovered
    assert phi == pytest.approx(0.9, abs=0.07)
    err = (y - ref).to_numpy()

    def closed_form(last: int, h: int) -> np.ndarray:  # ref + mu + phi^k (r_T - mu)
        r_hat = mu + phi ** np.arange(1, h + 1) * (err[last] - mu)
        return ref.to_numpy()[last + 1:last + 1 + h] + r_hat

    np.testing.assert_allclose(fitted.predict(24).to_numpy(), closed_form(n_fit - 1, 24), rtol=1e-9)
    fitted.update(y.iloc[n_fit:n_fit + 30])
    comp = fitted.predict_components(5)
    np.testing.assert_allclose(comp["forecast"].to_numpy(), closed_form(n_fit + 29, 5), rtol=1e-9)
    np.testing.assert_allclose(comp["reference"], ref.iloc[n_fit + 30:n_fit + 35])
    assert comp.index[0] == y.index[n_fit + 30]


def test_bad_reference_input_names_the_column_and_timestamp():
    y, ref = planted(n_days=20)
    with pytest.raises(ForecastError, match="needs the published forecast it corrects"):
        get_forecaster("bpa-corrected")
    with pytest.raises(ForecastError, match="'reference' must be a pandas Series on a DatetimeIndex"):
        get_forecaster("bpa-corrected", reference=ref.to_numpy())
    nan = ref.copy()
    nan.iloc[30] = np.nan
    with pytest.raises(ForecastError, match=r"reference forecast 'df': missing or non-finite value \(nan\) "
                                            r"at 2021-01-05 06:00:00\+00:00"):
        get_forecaster("bpa-corrected", reference=nan, order=(1, 0, 0)).fit(y.iloc[:24 * 15])
    short = ref.iloc[:24 * 15]
    fitted = get_forecaster("bpa-corrected", reference=short, order=(1, 0, 0)).fit(y.iloc[:24 * 15])
    with pytest.raises(ForecastError, match=r"'df' has no value for 2021-01-19 00:00:00\+00:00 \(it covers "
                                            r"2021-01-04 00:00:00\+00:00 \.\. 2021-01-18 23:00:00\+00:00\)"):
        fitted.predict(24)
    with pytest.raises(ForecastError, match="'df' has no value for 2021-01-19 00:00:00"):
        fitted.update(y.iloc[24 * 15:24 * 16])
    with pytest.raises(ForecastError, match="indexed naive but the series tz-aware"):
        get_forecaster("bpa-corrected", reference=ref.tz_localize(None), order=(1, 0, 0)).fit(y.iloc[:24 * 15])
    with pytest.raises(ForecastError, match="has a duplicate timestamp 2021-01-04 09:00:00"):
        get_forecaster("bpa-corrected", reference=pd.concat([ref.iloc[:10], ref.iloc[9:]]).sort_index())
    with pytest.raises(ForecastError, match="non-numeric value 'n/a' at 2021-01-04 02:00:00"):
        get_forecaster("bpa-corrected", reference=ref.astype(object).where(ref.index != ref.index[2], "n/a"))
    # the comparison refuses the model when the data has no published forecast
    with pytest.raises(ForecastError, match="bpa-corrected: corrects a published forecast, but the data has "
                                            "none .*'demand_forecast_mw'"):
        compare_models(y, ["naive-24", "bpa-corrected"], test_days=2, window_days=14)
    assert needs_reference("bpa-corrected") and not needs_reference("sarima")


def test_cli_reference_column_errors_and_use(tmp_path, capsys):
    y, ref = planted(n_days=20)
    csv = tmp_path / "load.csv"
    pd.DataFrame({"t": y.index.strftime("%Y-%m-%dT%H:%M:%SZ"), "v": y.to_numpy(), "df": ref.to_numpy()}
                 ).to_csv(csv, index=False)
    base = ["forecast", str(csv), "--time-column", "t", "--value-column", "v", "--test-days", "2",
            "--window-days", "14"]
    assert cli.main(base + ["--model", "bpa-corrected"]) == 1
    assert "corrects a published forecast, but load.csv has none" in capsys.readouterr().err
    assert cli.main(base + ["--model", "bpa-corrected", "--reference-column", "forecast_mw"]) == 1
    assert "no column 'forecast_mw'" in capsys.readouterr().err
    assert cli.main(base + ["--model", "table6", "--param", "arima.order=[1,0,0]",
                            "--param", "sarima.order=[1,0,0]", "--param", "sarima-ann.epochs=5",
                            "--param", "sarima-ann.order=[1,0,0]", "--param", "sarima-ann.train_days=3"]) == 0
    assert "bpa-corrected left out" in capsys.readouterr().out
    assert cli.main(base + ["--model", "bpa-corrected,naive-24", "--reference-column", "df",
                            "--param", "bpa-corrected.order=[1,0,0]"]) == 0
    out = capsys.readouterr().out
    assert "bpa-corrected" in out and "bpa-published" in out


def test_bpa_corrected_beats_bpa_on_a_real_week():
    frame = load_bpat_eia930(2019)
    y, ref = frame["actual"], frame["bpa_forecast"]
    comp = compare_models(y, ["bpa-corrected"], test_start="2019-11-01", test_days=7, window_days=42,
                          reference=ref, params={"bpa-corrected": {"order": (2, 0, 1),
                                                                   "seasonal_order": (0, 0, 1, 24)}})
    t = comp.table
    assert t.loc["bpa-corrected", "MAE"] < 0.95 * t.loc["bpa-published", "MAE"]


def test_local_calendar_reaches_the_models_that_have_one():
    # the comparison's calendar_tz is the forest's calendar_tz: same forecasts as building it by hand
    idx = pd.date_range("2021-01-04", periods=24 * 7 * 6, freq="h", tz="UTC")
    loc = idx.tz_convert(LA)
    rng = np.random.default_rng(1)
    y = pd.Series(np.where(loc.day_of_week >= 5, 70.0, 100.0) + 10 * np.sin(2 * np.pi * loc.hour / 24)
                  + rng.standard_normal(len(idx)), index=idx)
    start = idx[24 * 35]
    kw = dict(test_start=start, test_days=3, window_days=28, model_windows={},
              params={"random-forest": {"n_estimators": 10}})
    local = compare_models(y, ["random-forest", "naive-24"], calendar_tz=LA, **kw)
    utc = compare_models(y, ["random-forest"], **kw)
    by_hand = rolling_backtest(y, get_forecaster("random-forest", n_estimators=10, calendar_tz=LA),
                               start=start, config=day_ahead(28), periods=3)
    np.testing.assert_array_equal(local.forecasts["random-forest"], by_hand.forecasts["forecast"])
    assert not np.array_equal(utc.forecasts["random-forest"], by_hand.forecasts["forecast"])
    assert local.split["calendar_tz"] == LA
    assert accepts("random-forest", "calendar_tz") and accepts("lstm", "calendar_tz")
    assert not accepts("naive-24", "calendar_tz")


class _Probe(Forecaster):
    """Records the BLAS thread counts seen inside fit, predict and update."""

    name = "probe"
    seen: list[int] = []

    @property
    def min_history(self) -> int:
        return 2

    def _fit(self, y):
        _Probe.seen.append(_blas_threads())
        return _FittedProbe(self, y)


class _FittedProbe(FittedForecaster):
    def _predict(self, horizon):
        _Probe.seen.append(_blas_threads())
        return np.zeros(horizon)

    def _update(self, new):
        _Probe.seen.append(_blas_threads())


def _blas_threads() -> int:
    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")


def test_fit_predict_update_run_with_one_blas_thread():
    y = pd.Series(np.arange(10.0), index=pd.date_range("2021-01-01", periods=10, freq="h"))
    _Probe.seen = []
    with threadpool_limits(limits=2, user_api="blas"):
        outside = _blas_threads()
        fitted = _Probe().fit(y.iloc[:8])
        fitted.predict(2)
        fitted.update(y.iloc[8:])
        after = _blas_threads()
    assert outside == 2 and after == 2          # limits restored after each call
    assert _Probe.seen == [1, 1, 1]
