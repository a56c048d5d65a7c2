"""Rolling-origin evaluation on BPAT 2019-2022: ours against the outside anchors, in one run.

    python -m gridgames.benchmarks.bench_forecast_rolling [--days 30] [--models boosted,sarima,...]
        [--json benchmarks/results/forecast_rolling.json]

Eight 30-day windows (one per season of 2021 and 2022, :data:`SEASON_WINDOWS`),
day-ahead blocks issued at 00:00 UTC, trained on cleaned demand, scored on raw
demand; prints the per-window table and the means, checks the goals (best
history-only model ≤ 0.68 × seasonal naive MAE and below every anchor, its
90 % intervals covering 85-95 %), and times a 30-day backtest of the best model.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
import time
from dataclasses import replace

import pandas as pd

from gridgames.models.report import atomic_write_text
from gridgames.forecasting.rolling import (DEFAULT_SPECS, SEASON_WINDOWS, format_summary, load_bpat_history,
                                           rolling_evaluation)

logger = logging.getLogger(__name__)

BPAT_TZ = "America/Los_Angeles"


def time_best_backtest(frame, label: str, start: str = "2022-11-01", days: int = 30) -> float:
    """Wall seconds of a 30-day day-ahead backtest (fit + forecasts) of the row ``label``."""
    spec = next(s for s in DEFAULT_SPECS if s.label == label)
    t0 = time.perf_counter()
    rolling_evaluation(frame["cleaned"], (DEFAULT_SPECS[0], spec), windows=(start,), days=days,
                       calibration_days=28, actual=frame["actual"], calendar_tz=BPAT_TZ)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=30, help="test days per window (default 30)")
    p.add_argument("--models", help="comma list of row labels (default: all)")
    p.add_argument("--windows", help="comma list of window start days (default: 8 seasons 2021-2022)")
    p.add_argument("--calibration-days", type=int, default=28,
                   help="days before each window for intervals and ensemble weights (default 28)")
    p.add_argument("--boosted-param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of the boosted rows (JSON value), e.g. objective='\"l2\"' or origin_stride=3")
    p.add_argument("--json", help="write the scores and summary here")
    p.add_argument("--forecasts-csv", help="write every window's hourly forecasts here (model, window, "
                   "actual, forecast, quantiles): the input of bench_forecast_value")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("gridgames.forecasting.rolling").setLevel(logging.INFO)  # one line per model and window
    frame = load_bpat_history()
    specs = DEFAULT_SPECS
    if args.models:
        wanted = [m.strip() for m in args.models.split(",")]
        specs = tuple(s for s in DEFAULT_SPECS if s.label in wanted or s is DEFAULT_SPECS[0])
    windows = tuple(args.windows.split(",")) if args.windows else SEASON_WINDOWS
    if args.boosted_param:
        extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.boosted_param)}
        specs = tuple(replace(s, params={**s.params, **extra}) if s.forecaster == "boosted" else s for s in specs)
    t0 = time.perf_counter()
    ev = rolling_evaluation(frame["cleaned"], specs, windows=windows, days=args.days, actual=frame["actual"],
                            calibration_days=args.calibration_days, calendar_tz=BPAT_TZ)
    wall = time.perf_counter() - t0
    cols = ["model", "window", "MAE", "ratio_to_naive", "coverage", "CRPS", "fit_s", "forecast_s"]
    print(ev.scores[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print()
    print(format_summary(ev))
    s = ev.summary
    ours = s[~s["anchor"] & (s.index != specs[0].label)]
    anchors = s[s["anchor"]]
    figures = {"windows": list(windows), "days": args.days, "wall_s": wall,
               "summary": s.reset_index().to_dict(orient="records"),
               "scores": ev.scores.to_dict(orient="records")}
    best = None
    if len(ours):
        best = ours["ratio_to_naive"].idxmin()
        r = float(ours.loc[best, "ratio_to_naive"])
        cov = float(ours.loc[best, "coverage"])
        beats = bool((anchors["ratio_to_naive"] > r).all()) if len(anchors) else None
        print(f"\nbest history-only: {best}, {r:.3f} × naive-24 (goal <= 0.68: {'met' if r <= 0.68 else 'NOT met'}); "
              f"beats every anchor in this run: {beats}; 90 % coverage {cov:.3f} (goal 0.85-0.95: "
              f"{'met' if 0.85 <= cov <= 0.95 else 'NOT met'}); evaluation wall {wall:.0f} s")
        figures.update(best=best, best_ratio=r, best_coverage=cov, beats_every_anchor=beats)
    if args.forecasts_csv:
        pd.concat([f.assign(model=m, window=w) for (m, w), f in ev.forecasts.items()]).to_csv(
            args.forecasts_csv, index_label="hour_ending_utc")
    if best is not None and not best.startswith("ensemble"):
        secs = time_best_backtest(frame, best)
        print(f"30-day day-ahead backtest of {best} (fit + 58 daily forecasts incl. 28 calibration days): "
              f"{secs:.1f} s (goal < 120 s: {'met' if secs < 120 else 'NOT met'})")
        figures["best_backtest_s"] = secs
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
