"""Rolling-origin evaluation across seasons and years, with intervals and outside anchors.

Protocol (BPAT 2019-2022, :data:`SEASON_WINDOWS`): eight test windows of 30
days, one per season (February, May, August, November) of 2021 and 2022. In
each, every model issues a day-ahead block at 00:00 UTC with the demand known
up to the hour ending 23:00 UTC the day before (the project's
:func:`~gridgames.forecasting.backtest.day_ahead` protocol), trained on the
cleaned demand and scored on the raw demand. Each model is fitted once,
``calibration_days`` before the window, on its own rolling window (``None``:
every observation before — the boosted trees' years of history), then rolled
forward with ``update`` day by day; the calibration days supply the
split-conformal intervals of models without their own
(:func:`~gridgames.forecasting.intervals.conformal_quantiles`) and the
weights of the ensemble rows, which combine the members' forecasts with
non-negative weights summing to one fitted on those days
(:func:`~gridgames.forecasting.ensemble.simplex_least_squares` — the rule of
``get_forecaster("ensemble", weights="fit")``). Scores per window and model:
MAE, MAPE, ratio to the 24 h seasonal naive MAE, 90 % interval coverage and
width, pinball losses and CRPS, fit and forecast seconds.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gridgames.forecasting.api import accepts, get_forecaster
from gridgames.forecasting.backtest import RollingConfig, rolling_backtest, stamp
from gridgames.forecasting.ensemble import simplex_least_squares
from gridgames.forecasting.intervals import (DEFAULT_TAUS, conformal_quantiles, interval_scores,
                                             quantile_column)
from gridgames.forecasting.metrics import evaluate
from gridgames.forecasting.validation import ForecastError, check_positive_int, check_series

logger = logging.getLogger(__name__)

#: First days of the eight 30-day test windows: one per season of 2021 and 2022.
SEASON_WINDOWS = ("2021-02-01", "2021-05-01", "2021-08-01", "2021-11-01",
                  "2022-02-01", "2022-05-01", "2022-08-01", "2022-11-01")


@dataclass(frozen=True)
class ModelSpec:
    """One row of the evaluation.

    Attributes
    ----------
    label : str
        Row name.
    forecaster : str
        Registered name (``get_forecaster``); ignored for ensembles.
    params : dict
        Forecaster parameters.
    window_days : int, optional
        Days of history each fit uses (None: all before the fit).
    anchor : bool
        An outside library model (statsforecast, statsmodels with fixed orders).
    members : tuple of str
        Labels of earlier rows combined with fitted weights (an ensemble row).
    """

    label: str
    forecaster: str = ""
    params: dict = field(default_factory=dict)
    window_days: int | None = 42
    anchor: bool = False
    members: tuple[str, ...] = ()


#: The rows of the default evaluation (ours, then the outside anchors).
DEFAULT_SPECS = (
    ModelSpec("naive-24", "naive-24", window_days=2),
    ModelSpec("sarima", "sarima"),
    ModelSpec("boosted", "boosted", window_days=None),
    ModelSpec("ensemble(boosted+sarima)", members=("boosted", "sarima")),
    ModelSpec("statsmodels SARIMAX(2,0,1)(1,1,1)24", "sarima", anchor=True,
              params={"order": (2, 0, 1), "seasonal_order": (1, 1, 1, 24), "weekly_fourier": 0}),
    ModelSpec("statsforecast AutoARIMA", "sf-autoarima", anchor=True),
    ModelSpec("statsforecast AutoETS", "sf-autoets", anchor=True),
    ModelSpec("statsforecast MSTL", "sf-mstl", anchor=True),
)


@dataclass
class Evaluation:
    """Scores of every model on every window.

    Attributes
    ----------
    scores : pandas.DataFrame
        One row per (model, window).
    summary : pandas.DataFrame
        One row per model: means over the windows.
    forecasts : dict
        ``(label, window) -> DataFrame`` of the window's forecasts and quantiles.
    """

    scores: pd.DataFrame
    summary: pd.DataFrame
    forecasts: dict[tuple[str, str], pd.DataFrame]


def _run_one(spec: ModelSpec, y: pd.Series, truth: pd.Series, start: pd.Timestamp, days: int,
             calibration_days: int, calendar_tz: str | None, taus: tuple[float, ...]) -> tuple[pd.DataFrame, dict]:
    per_day = int(pd.Timedelta(days=1) / pd.Timedelta(y.index.freq))
    first = start - pd.Timedelta(days=calibration_days)
    i0 = int(y.index.get_loc(first))
    window = i0 if spec.window_days is None else spec.window_days * per_day
    params = dict(spec.params)
    if calendar_tz is not None and accepts(spec.forecaster, "calendar_tz"):
        params.setdefault("calendar_tz", calendar_tz)
    res = rolling_backtest(y, get_forecaster(spec.forecaster, **params), start=first,
                           config=RollingConfig(window=window, horizon=per_day),
                           periods=days + calibration_days, actual=truth, taus=taus)
    times = {"fit_s": res.fit_seconds, "forecast_s": res.update_seconds + res.predict_seconds}
    return res.forecasts, times


def _combine(frames: list[pd.DataFrame], start: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
    cal = frames[0].index < start
    f = np.column_stack([fr["forecast"].to_numpy() for fr in frames])
    a = frames[0]["actual"].to_numpy()
    ok = cal & np.isfinite(a)
    w = simplex_least_squares(f[ok], a[ok])
    out = frames[0][["actual", "origin", "lead"]].copy()
    out.insert(1, "forecast", f @ w)
    return out, w


def rolling_evaluation(series: pd.Series, specs: tuple[ModelSpec, ...] = DEFAULT_SPECS, *,
                       windows: tuple[str, ...] = SEASON_WINDOWS, days: int = 30, calibration_days: int = 28,
                       actual: pd.Series | None = None, calendar_tz: str | None = None,
                       taus: tuple[float, ...] = DEFAULT_TAUS, level: float = 0.9) -> Evaluation:
    """Evaluate ``specs`` on every window (see the module docstring for the protocol).

    Parameters
    ----------
    series : pandas.Series
        Hourly training series (BPAT: cleaned demand 2019-2022).
    specs : tuple of ModelSpec
        Rows; the first must be the 24 h seasonal naive (the ratio's denominator).
    windows : tuple of str
        First day of each test window.
    days, calibration_days : int
        Test days per window; days before it for intervals and ensemble weights.
    actual : pandas.Series, optional
        Values scored (BPAT: raw demand); default ``series``.
    calendar_tz : str, optional
        Local zone given to models with a ``calendar_tz`` parameter.
    taus, level : tuple of float, float
        Quantile levels (CRPS grid) and the central interval scored.

    Raises
    ------
    ForecastError
        Bad series, a window without enough history, or a first row that is not a naive model.
    """
    y = check_series(series, name="rolling evaluation series")
    truth = y if actual is None else actual
    check_positive_int(days, "days")
    check_positive_int(calibration_days, "calibration_days")
    if not specs or specs[0].forecaster != "naive-24":
        raise ForecastError("rolling evaluation: the first model must be the 24 h seasonal naive baseline "
                            f"('naive-24', the ratio's denominator), got {specs[0].forecaster if specs else None!r}")
    rows, kept = [], {}
    for w in windows:
        start = stamp(w, y.index)
        frames: dict[str, pd.DataFrame] = {}
        naive_mae = float("nan")
        for spec in specs:
            t0 = time.perf_counter()
            if spec.members:
                missing = [m for m in spec.members if m not in frames]
                if missing:
                    raise ForecastError(f"rolling evaluation: ensemble {spec.label!r} needs the earlier row "
                                        f"{missing[0]!r}")
                frame, weights = _combine([frames[m] for m in spec.members], start)
                times = {"fit_s": time.perf_counter() - t0, "forecast_s": 0.0}
                extra = {"weights": dict(zip(spec.members, np.round(weights, 3).tolist()))}
            else:
                frame, times = _run_one(spec, y, truth, start, days, calibration_days, calendar_tz, taus)
                extra = {}
            frames[spec.label] = frame
            own = all(quantile_column(t) in frame for t in taus)
            scored = frame if own else conformal_quantiles(frame, taus, calibration_days=calibration_days)
            test = scored[scored.index >= start].dropna(subset=["actual"])
            point = evaluate(test["actual"], test["forecast"])
            if spec is specs[0]:
                naive_mae = point["MAE"]
            row = {"model": spec.label, "window": w, "anchor": spec.anchor, "MAE": point["MAE"],
                   "MAPE": point["MAPE"], "ratio_to_naive": point["MAE"] / naive_mae,
                   **interval_scores(test, taus, level), "intervals": "own" if own else "conformal",
                   **times, **extra}
            rows.append(row)
            kept[(spec.label, w)] = test
            logger.info("%s %s: MAE %.1f (%.3f × naive), coverage %.3f", w, spec.label, point["MAE"],
                        row["ratio_to_naive"], row["coverage"])
    scores = pd.DataFrame(rows)
    return Evaluation(scores=scores, summary=summarise(scores), forecasts=kept)


def summarise(scores: pd.DataFrame) -> pd.DataFrame:
    """Means over the windows per model (rows of :attr:`Evaluation.scores`, possibly from several runs).

    Raises
    ------
    ForecastError
        If the models were not scored on the same windows.
    """
    windows = scores.groupby("model", sort=False)["window"].apply(lambda w: tuple(sorted(w)))
    if windows.nunique() > 1:
        raise ForecastError(f"rolling evaluation: models scored on different windows: {windows.to_dict()}")
    numeric = ["MAE", "MAPE", "ratio_to_naive", "coverage", "width", "pinball_lo", "pinball_hi", "CRPS",
               "fit_s", "forecast_s"]
    summary = scores.groupby("model", sort=False)[numeric].mean()
    summary.insert(0, "anchor", scores.groupby("model", sort=False)["anchor"].first())
    return summary


def load_bpat_history(years: tuple[int, ...] = (2019, 2020, 2021, 2022)) -> pd.DataFrame:
    """The BPAT files of ``years`` joined into one hourly frame (UTC, hour ending)."""
    from gridgames.data.bpat import load_bpat_eia930

    frame = pd.concat([load_bpat_eia930(year) for year in years])
    frame.index = pd.DatetimeIndex(frame.index, freq="h", name=frame.index.name)
    return frame


def format_summary(evaluation: Evaluation) -> str:
    """The summary as a Markdown table (means over the windows)."""
    s = evaluation.summary
    lines = ["| model | MAE | MAPE % | × naive-24 | 90 % coverage | CRPS | fit s | forecast s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in s.iterrows():
        tag = " (anchor)" if r["anchor"] else ""
        lines.append(f"| {name}{tag} | {r.MAE:.1f} | {r.MAPE:.2f} | {r.ratio_to_naive:.3f} | {r.coverage:.3f} | "
                     f"{r.CRPS:.1f} | {r.fit_s:.1f} | {r.forecast_s:.1f} |")
    return "\n".join(lines)
