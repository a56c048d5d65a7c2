"""The value of a forecast: Stackelberg and RTP games on each forecaster's output vs the actual load.

    python -m gridgames.benchmarks.bench_forecast_value FORECASTS_CSV [FORECASTS_CSV ...] \
        [--figure docs/figures/forecast_value.png] [--json docs/measurements/forecast_value.json]

``FORECASTS_CSV`` is written by ``bench_forecast_rolling --forecasts-csv``
(every window's hourly day-ahead forecasts). Prints the per-model table of
:func:`gridgames.models.forecast_value.value_summary`.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from gridgames.models.report import atomic_write_text
from gridgames.models.forecast_value import game_value, plot_value, value_summary

logger = logging.getLogger(__name__)

COLUMNS = {"MAPE": "MAPE %", "stackelberg_company_gain_change": "Stackelberg company gain Δ $/day",
           "stackelberg_abs_bill_change": "Stackelberg |bill Δ| $/day",
           "stackelberg_price_change": "Stackelberg |price Δ| $/MWh",
           "rtp_abs_bill_change": "RTP |bill Δ| $/day", "rtp_price_change": "RTP |price Δ| $/MWh", "days": "days"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("forecasts", nargs="+", help="CSV(s) from bench_forecast_rolling --forecasts-csv")
    p.add_argument("--windows", help="comma list of window start days to keep (default: all)")
    p.add_argument("--figure", help="write the bar chart here (PNG)")
    p.add_argument("--json", help="write the summary here")
    args = p.parse_args(argv)
    frame = pd.concat([pd.read_csv(path, parse_dates=["hour_ending_utc", "origin"], index_col="hour_ending_utc")
                       for path in args.forecasts])
    frame = frame[~frame.set_index(["model", "origin"], append=True).index.duplicated()]
    if args.windows:
        frame = frame[frame["window"].isin(args.windows.split(","))]
    summary = value_summary(game_value(frame))
    table = summary[list(COLUMNS)].rename(columns=COLUMNS)
    print("| model | " + " | ".join(table.columns) + " |")
    print("| --- " * (len(table.columns) + 1) + "|")
    for name, r in table.iterrows():
        print(f"| {name} | " + " | ".join(f"{v:,.2f}" if k != "days" else f"{int(v)}" for k, v in r.items()) + " |")
    if args.figure:
        windows = frame["window"].nunique() if "window" in frame else 0
        plot_value(summary, args.figure, period=f"BPAT, {windows} windows, {int(summary['days'].iloc[0])} days")
    if args.json:
        atomic_write_text(Path(args.json), json.dumps(summary.reset_index().to_dict(orient="records"), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
