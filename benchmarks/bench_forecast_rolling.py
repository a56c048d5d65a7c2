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
import re
from pathlib import Path
import time
from dataclasses import replace

import pandas as pd

from gridgames.models.report import atomic_write_text
from gridgames.forecasting.rolling import (DEFAULT_SPECS, SEASON_WINDOWS, Evaluation, format_summary,
                                           load_bpat_history, rolling_evaluation, summarise)

logger = logging.getLogger(__name__)

BPAT_TZ = "America/Los_Angeles"


def time_best_backtest(frame, label: str, start: str = "2022-11-01", days: int = 30) -> float:
    """Wall seconds of a 30-day day-ahead backtest of the row ``label`` (its members too, for an ensemble).

    Measured as the evaluation runs it: one fit 28 days before ``start``, then 58 daily
    forecasts (28 calibration days and the 30 test days) — more than the 30 days asked.
    """
    by_label = {s.label: s for s in DEFAULT_SPECS}
    spec = by_label[label]
    specs = (DEFAULT_SPECS[0], *(by_label[m] for m in spec.members), spec)
    t0 = time.perf_counter()
    rolling_evaluation(frame["cleaned"], specs, windows=(start,), days=days, calibration_days=28,
                       actual=frame["actual"], calendar_tz=BPAT_TZ)
    return time.perf_counter() - t0


def goals(scores: pd.DataFrame, figures: dict) -> str | None:
    """Print the summary and the issue's goals; add them to ``figures``; return the best of ours."""
    s = summarise(scores)
    print(format_summary(Evaluation(scores=scores, summary=s, forecasts={})))
    figures.update(summary=s.reset_index().to_dict(orient="records"), scores=scores.to_dict(orient="records"))
    ours = s[~s["anchor"] & (s.index != DEFAULT_SPECS[0].label)]
    anchors = s[s["anchor"]]
    if not len(ours):
        return None
    best = ours["ratio_to_naive"].idxmin()
    r = float(ours.loc[best, "ratio_to_naive"])
    cov = float(ours.loc[best, "coverage"])
    beats = bool((anchors["ratio_to_naive"] > r).all()) if len(anchors) else None
    print(f"\nbest history-only: {best}, {r:.3f} × naive-24 (goal <= 0.68: {'met' if r <= 0.68 else 'NOT met'}); "
          f"beats every anchor: {beats}; 90 % coverage {cov:.3f} (goal 0.85-0.95: "
          f"{'met' if 0.85 <= cov <= 0.95 else 'NOT met'})")
    figures.update(best=best, best_ratio=r, best_coverage=cov, beats_every_anchor=beats)
    return best


def report_merged(paths: list[str], out: str | None, windows: list[str] | None = None) -> int:
    """Summary and goals of several runs' ``--json`` files (disjoint windows or rows, same protocol)."""
    scores = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            scores.append(pd.DataFrame(json.load(fh)["scores"]))
    merged = pd.concat(scores, ignore_index=True).drop_duplicates(subset=["model", "window"])
    if windows:
        merged = merged[merged["window"].isin(windows)]
    figures = {"merged_from": paths, "windows": sorted(merged["window"].unique())}
    goals(merged, figures)
    if out:
        atomic_write_text(Path(out), json.dumps(figures, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=30, help="test days per window (default 30)")
    p.add_argument("--models", help="comma list of row labels (default: all)")
    p.add_argument("--windows", help="comma list of window start days (default: 8 seasons 2021-2022)")
    p.add_argument("--calibration-days", type=int, default=28,
                   help="days before each window for intervals and ensemble weights (default 28)")
    p.add_argument("--boosted-param", action="append", default=[], metavar="KEY=VALUE",
                   help="parameter of the boosted rows (JSON value), e.g. objective='\"l2\"' or origin_stride=3")
    p.add_argument("--merge", nargs="+", metavar="JSON",
                   help="instead of running: merge the --json files of runs on disjoint windows or rows")
    p.add_argument("--time-best", action="store_true",
                   help="also time a 30-day backtest of the best history-only row")
    p.add_argument("--time", metavar="LABEL", help="only time a 30-day backtest of this row")
    p.add_argument("--json", help="write the scores and summary here")
    p.add_argument("--forecasts-csv", help="write every window's hourly forecasts here (model, window, "
                   "actual, forecast, quantiles): the input of bench_forecast_value")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("gridgames.forecasting.rolling").setLevel(logging.INFO)  # one line per model and window
    if args.merge:
        return report_merged(args.merge, args.json, args.windows.split(",") if args.windows else None)
    if args.time:
        secs = time_best_backtest(load_bpat_history(), args.time)
        print(f"30-day day-ahead backtest of {args.time} (one fit, 58 daily forecasts incl. 28 calibration days, "
              f"window 2022-11-01): {secs:.1f} s (goal < 120 s: {'met' if secs < 120 else 'NOT met'})")
        return 0
    frame = load_bpat_history()
    specs = DEFAULT_SPECS
    if args.models:
        wanted = [m.strip() for m in re.split(r",(?![^()]*\))", args.models)]  # commas inside (...) stay
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
    figures = {"windows": list(windows), "days": args.days, "wall_s": wall}
    best = goals(ev.scores, figures)
    if args.forecasts_csv:
        pd.concat([f.assign(model=m, window=w) for (m, w), f in ev.forecasts.items()]).to_csv(
            args.forecasts_csv, index_label="hour_ending_utc")
    if best is not None and args.time_best:
        secs = time_best_backtest(frame, best)
        print(f"30-day day-ahead backtest of {best} (fit + 58 daily forecasts incl. 28 calibration days): "
              f"{secs:.1f} s (goal < 120 s: {'met' if secs < 120 else 'NOT met'})")
        figures["best_backtest_s"] = secs
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
