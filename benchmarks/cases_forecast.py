"""Case family ``forecast``: rolling backtests of every forecaster on BPAT 2019.

One case per (model, horizon): a 30-day rolling backtest from 2019-11-01 (the
window and settings of :mod:`gridgames.benchmarks.bench_forecast`). The
reference is BPA's own published day-ahead forecast scored on the same hours,
so ``leader_gap`` = (our MAE − BPA's MAE) / BPA's MAE: negative means better
than BPA. Smoke: the 24 h seasonal naive and the ARIMA over 3 days.

Case family ``forecast-rolling``: the rolling-origin evaluation of
:mod:`gridgames.forecasting.rolling` (eight 30-day windows, one per season of
2021-2022), one case per row of ``DEFAULT_SPECS`` (ours and the outside
anchors); smoke: the boosted trees on one 3-day window.
"""
from __future__ import annotations

import time

from gridgames.benchmarks.bench_forecast import MODELS
from gridgames.benchmarks.tolerance import REPORTED
from gridgames.benchmarks.suite import Case, case_family

TEST_START = "2019-11-01"


def run_backtest(*, model: str, horizon: str, days: int = 30, window_days: int = 42) -> dict:
    """Backtest ``model`` over ``days`` days; MAE against BPA's published forecast's."""
    from gridgames.forecasting.comparison import compare_models
    from gridgames.data.bpat import BPAT_TZ, load_bpat_eia930

    frame = load_bpat_eia930(2019)
    t0 = time.perf_counter()
    comparison = compare_models(frame["actual"], [model], horizon=horizon, test_start=TEST_START,
                                test_days=days, window_days=window_days, reference=frame["bpa_forecast"],
                                calendar_tz=BPAT_TZ)
    wall = time.perf_counter() - t0
    ours, bpa = comparison.table.loc[model], comparison.table.loc["bpa-published"]
    return {"method": model, "solver": horizon + "-ahead", "size": days * 24, "objective": ours["MAE"],
            "reference": bpa["MAE"], "reference_kind": "BPA's published day-ahead forecast (MAE)",
            "leader_gap": (ours["MAE"] - bpa["MAE"]) / bpa["MAE"], "MAPE": ours["MAPE"],
            "RMSE": ours["RMSE"], "R2": ours["R2"], "wall_time": wall,
            "fit_s": ours.get("fit_s"), "status": "ok"}


@case_family("forecast", tolerance=REPORTED)
def forecast_cases() -> list[Case]:
    cases = [Case("forecast", f"bpat-{model}-{horizon}", run_backtest, {"model": model, "horizon": horizon})
             for model in MODELS for horizon in ("day", "hour")]
    cases += [Case("forecast", f"bpat-{model}-day-smoke", run_backtest,
                   {"model": model, "horizon": "day", "days": 3}, smoke=True) for model in ("naive-24", "arima")]
    return cases


def run_rolling(*, label: str, days: int = 30, windows: list[str] | None = None,
                calibration_days: int = 28, params: dict | None = None) -> dict:
    """Rolling-origin evaluation of one row of ``DEFAULT_SPECS`` (with its ensemble members) on BPAT 2019-2022.

    ``objective`` is the row's MAE over the windows' mean ratio to the 24 h seasonal naive;
    ``reference`` is the issue's goal 0.68, ``leader_gap`` = ratio / 0.68 − 1 (≤ 0: goal met).
    """
    from dataclasses import replace

    from gridgames.forecasting.rolling import DEFAULT_SPECS, SEASON_WINDOWS, load_bpat_history, rolling_evaluation

    by_label = {s.label: s for s in DEFAULT_SPECS}
    spec = by_label[label]
    if params:
        spec = replace(spec, params={**spec.params, **params})
    specs = (DEFAULT_SPECS[0], *(by_label[m] for m in spec.members), spec)
    frame = load_bpat_history()
    t0 = time.perf_counter()
    ev = rolling_evaluation(frame["cleaned"], specs, windows=tuple(windows or SEASON_WINDOWS), days=days,
                            calibration_days=calibration_days, actual=frame["actual"],
                            calendar_tz="America/Los_Angeles")
    row = ev.summary.loc[label]
    goal = 0.68
    return {"method": label, "solver": "rolling day-ahead", "size": days * len(windows or SEASON_WINDOWS),
            "objective": float(row["ratio_to_naive"]), "reference": goal,
            "reference_kind": "goal: MAE / seasonal-naive MAE <= 0.68",
            "leader_gap": float(row["ratio_to_naive"]) / goal - 1, "MAE": float(row["MAE"]),
            "MAPE": float(row["MAPE"]), "coverage90": float(row["coverage"]), "CRPS": float(row["CRPS"]),
            "fit_s": float(row["fit_s"]), "forecast_s": float(row["forecast_s"]),
            "wall_time": time.perf_counter() - t0, "status": "ok"}


@case_family("forecast-rolling", tolerance=REPORTED)
def rolling_cases() -> list[Case]:
    from gridgames.forecasting.rolling import DEFAULT_SPECS

    cases = [Case("forecast-rolling", _slug(s.label), run_rolling, {"label": s.label}) for s in DEFAULT_SPECS[1:]]
    cases.append(Case("forecast-rolling", "boosted-smoke", run_rolling,
                      {"label": "boosted", "days": 3, "windows": ["2022-05-01"], "calibration_days": 20,
                       "params": {"history_days": 365, "n_estimators": 100}}, smoke=True))
    return cases


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in label.lower()).strip("-").replace("--", "-")
