"""Case family ``forecast``: rolling backtests of every forecaster on BPAT 2019.

One case per (model, horizon): a 30-day rolling backtest from 2019-11-01 (the
window and settings of :mod:`gridgames.benchmarks.bench_forecast`). The
reference is BPA's own published day-ahead forecast scored on the same hours,
so ``leader_gap`` = (our MAE − BPA's MAE) / BPA's MAE: negative means better
than BPA. Smoke: the 24 h seasonal naive and the ARIMA over 3 days.
"""
from __future__ import annotations

import time

from gridgames.benchmarks.bench_forecast import MODELS
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


@case_family("forecast")
def forecast_cases() -> list[Case]:
    cases = [Case("forecast", f"bpat-{model}-{horizon}", run_backtest, {"model": model, "horizon": horizon})
             for model in MODELS for horizon in ("day", "hour")]
    cases += [Case("forecast", f"bpat-{model}-day-smoke", run_backtest,
                   {"model": model, "horizon": "day", "days": 3}, smoke=True) for model in ("naive-24", "arima")]
    return cases
