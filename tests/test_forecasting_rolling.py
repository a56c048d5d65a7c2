"""Tests of the rolling-origin evaluation (forecasting/rolling.py) on a synthetic series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridgames.forecasting.metrics import mae
from gridgames.forecasting.rolling import ModelSpec, format_summary, rolling_evaluation
from gridgames.forecasting.validation import ForecastError


def weekly_series(days: int, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    h = np.arange(24 * days)
    v = 1000 + 200 * np.sin(2 * np.pi * h / 24) + 150 * (h % 168 < 120) + 10 * rng.standard_normal(len(h))
    return pd.Series(v, index=pd.date_range("2021-01-04", periods=len(h), freq="h", tz="UTC"))


SPECS = (ModelSpec("naive-24", "naive-24", window_days=2), ModelSpec("naive-168", "naive-168", window_days=8),
         ModelSpec("mix", members=("naive-24", "naive-168")))


def test_scores_ratios_intervals_and_ensemble_rows():
    y = weekly_series(120)
    ev = rolling_evaluation(y, SPECS, windows=("2021-03-15", "2021-04-12"), days=10, calibration_days=21)
    s = ev.summary
    assert s.loc["naive-24", "ratio_to_naive"] == 1.0
    # the weekday step fools naive-24 on Mondays and Saturdays; naive-168 only sees the noise
    assert s.loc["naive-168", "ratio_to_naive"] < 0.5
    # the fitted mix leans on naive-168 and is never much worse than it
    w = ev.scores.loc[ev.scores["model"] == "mix", "weights"].iloc[0]
    assert w["naive-168"] > 0.7 and s.loc["mix", "MAE"] < 1.1 * s.loc["naive-168", "MAE"]
    # scores are those of the forecasts kept for the window (test days only, after the calibration)
    kept = ev.forecasts[("naive-168", "2021-03-15")]
    assert kept.index[0] == pd.Timestamp("2021-03-15", tz="UTC") and len(kept) == 240
    row = ev.scores[(ev.scores["model"] == "naive-168") & (ev.scores["window"] == "2021-03-15")].iloc[0]
    assert row["MAE"] == pytest.approx(mae(kept["actual"], kept["forecast"]))
    assert (ev.scores["intervals"] == "conformal").all() and s["coverage"].between(0.6, 1.0).all()
    assert "| naive-168 |" in format_summary(ev)


def test_first_row_must_be_the_naive_baseline_and_members_must_exist():
    y = weekly_series(60)
    with pytest.raises(ForecastError, match="seasonal naive"):
        rolling_evaluation(y, SPECS[1:], windows=("2021-02-15",), days=3, calibration_days=21)
    with pytest.raises(ForecastError, match="needs the earlier row 'naive-168'"):
        rolling_evaluation(y, (SPECS[0], SPECS[2]), windows=("2021-02-15",), days=3, calibration_days=21)
