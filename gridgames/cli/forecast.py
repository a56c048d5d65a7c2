"""``gridgames forecast``: rolling backtests and the paper's Table 6 from the command line.

Examples::

    gridgames forecast instances/data/eia930_bpat_2019_hourly.csv --model sarima
    gridgames forecast instances/data/eia930_bpat_2019_hourly.csv --model all --horizon both --out out/
    gridgames forecast my.csv --time-column ts --value-column load --model naive-24,random-forest
"""
from __future__ import annotations

import argparse
import json
import logging
import tomllib
from pathlib import Path

import pandas as pd

from gridgames.cli import SUBCOMMANDS
from gridgames.io import check_output_dir
from gridgames.forecasting.api import available_forecasters, needs_reference
from gridgames.forecasting.comparison import TABLE6_MODELS, compare_models, format_comparison, plot_comparison
from gridgames.data.bpat import BPAT_TZ, FORECAST_COLUMN, is_bpat_csv, load_bpat_eia930
from gridgames.data.series import read_local_hourly
from gridgames.forecasting.validation import ForecastError
from gridgames.models.instance import InstanceError, read_series_csv

logger = logging.getLogger(__name__)



def _count(minimum: int):
    """An argparse type: an integer >= ``minimum`` (a negative day count would index from the series' start)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


_at_least_one = _count(1)
_non_negative = _count(0)

def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``forecast`` subcommand."""
    p = subparsers.add_parser(
        "forecast", help=SUBCOMMANDS["forecast"],
        description="Rolling-origin backtest of one or more forecasters on an hourly series, "
                    "printed beside the Stackelberg paper's Table 6. The input is a CSV file "
                    "(BPAT EIA-930 files are recognised) or an instance TOML whose [data] table "
                    "names a series file.")
    p.add_argument("source", metavar="INSTANCE_OR_CSV", help="CSV file or instance TOML")
    p.add_argument("--model", default="table6",
                   help="forecaster name, comma list, 'table6' (ARIMA, SARIMA, SARIMA-ANN, BPA-corrected, "
                        f"naive) or 'all'; known: {', '.join(available_forecasters())}")
    p.add_argument("--horizon", choices=("day", "hour", "both"), default="day",
                   help="day-ahead (24 h issued at 00:00) or hour-ahead (rolling each hour)")
    p.add_argument("--out", metavar="DIR", help="write forecasts, metrics and a plot here")
    p.add_argument("--test-start", help="first forecast hour (default: --test-days before the end)")
    p.add_argument("--test-days", type=_at_least_one, default=30, help="days in the test period (default 30)")
    p.add_argument("--window-days", type=_at_least_one, default=42,
                   help="rolling window in days of the ARIMA family and naive models (default 42)")
    p.add_argument("--ml-window-days", type=_at_least_one, default=120,
                   help="rolling window of lstm and random-forest in days (default 120)")
    p.add_argument("--cycle", type=_non_negative, default=0,
                   help="rolling cycle: refit every N forecasts (default 0: fit once, then update)")
    p.add_argument("--series", help="[data] key of the series in an instance TOML")
    p.add_argument("--time-column", help="time column of a generic CSV")
    p.add_argument("--value-column", help="value column of a generic CSV")
    p.add_argument("--reference-column",
                   help="column of a published forecast in a generic CSV (scored, and corrected by "
                        "bpa-corrected)")
    p.add_argument("--local-time", metavar="TZ",
                   help="the generic CSV's stamps are wall-clock time in TZ without UTC offsets (the PJM files: "
                        "America/New_York): read by the local-clock policy (the autumn repeated hour averaged, "
                        "a single missing hour interpolated) instead of as UTC")
    p.add_argument("--unit", help="unit of the series, for the plot's value axis (default: MW for BPAT files)")
    p.add_argument("--calendar-tz",
                   help=f"local time zone of the calendar features (default {BPAT_TZ} for BPAT files, "
                        "else the series' own)")
    p.add_argument("--param", action="append", default=[], metavar="MODEL.KEY=VALUE",
                   help="forecaster parameter, e.g. sarima-ann.epochs=500 (JSON value)")
    p.set_defaults(func=run)


def _models(spec: str) -> list[str]:
    if spec == "table6":
        return list(TABLE6_MODELS)
    if spec == "all":
        return ["arima", "sarima", "sarima-ann", "bpa-corrected", "lstm", "random-forest", "naive-24",
                "naive-168"]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [n for n in names if n not in available_forecasters()]
    if unknown or not names:
        raise ForecastError(f"--model: unknown forecaster {', '.join(map(repr, unknown)) or repr(spec)} "
                            f"(available: {', '.join(available_forecasters())}, table6, all)")
    return names


def _params(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        model, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise ForecastError(f"--param {item!r}: expected MODEL.KEY=VALUE")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        if isinstance(parsed, list):
            parsed = tuple(parsed)
        out.setdefault(model, {})[name] = parsed
    return out


def load_source(args: argparse.Namespace) -> tuple[pd.Series, pd.Series | None, pd.Series | None, str]:
    """The training series, scoring series, published reference forecast and a label."""
    path = Path(args.source)
    if not path.is_file():
        raise ForecastError(f"{path}: no such file")
    if path.suffix.lower() == ".toml":
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise InstanceError([f"not valid TOML: {exc}"], str(path)) from None
        data = doc.get("data", {})
        if not isinstance(data, dict):
            raise InstanceError(["[data]: must be a table"], str(path))
        if "files" in data:  # the Stackelberg instances' layout
            return _files_source(path, data)
        entries = {k: v for k, v in data.items() if isinstance(v, dict) and "file" in v}
        if not entries:
            raise InstanceError(["[data]: no series: expected 'files' + 'time_column' + 'load_column', "
                                 "or a table with a 'file' key"], str(path))
        key = args.series or next(iter(entries))
        if key not in entries:
            raise InstanceError([f"[data].{key}: no such series (have: {', '.join(entries)})"], str(path))
        entry = entries[key]
        csv = (path.parent / entry["file"]).resolve()
        if is_bpat_csv(csv):
            return _bpat(csv)
        series = read_series_csv(csv, entry.get("time", ""), entry.get("value", ""),
                                 field_name=f"[data].{key}")
        return series, None, None, f"{path.name} [data].{key}"
    if is_bpat_csv(path):
        return _bpat(path)
    if not (args.time_column and args.value_column):
        raise ForecastError(f"{path.name}: not a BPAT file; give --time-column and --value-column")
    def read(column: str, field: str) -> pd.Series:
        if args.local_time:
            return read_local_hourly(path, args.time_column, column, field_name=field, tz=args.local_time)
        return read_series_csv(path, args.time_column, column, field_name=field)

    series = read(args.value_column, path.name)
    ref = read(args.reference_column, f"{path.name} --reference-column") if args.reference_column else None
    return series, None, ref, path.name


def _files_source(path: Path, data: dict) -> tuple[pd.Series, None, pd.Series | None, str]:
    """``[data] files = [...]``, ``time_column``, ``load_column``, optional ``forecast_column``."""
    files = data["files"] if isinstance(data["files"], list) else [data["files"]]
    problems = [f"[data].{k}: is required" for k in ("time_column", "load_column") if k not in data]
    if problems or not files or not all(isinstance(f, str) for f in files):
        raise InstanceError(problems or ["[data].files: must be a list of file names"], str(path))
    loads, refs = [], []
    for name in files:
        csv = (path.parent / name).resolve()
        loads.append(read_series_csv(csv, data["time_column"], data["load_column"], field_name="[data].files"))
        fc_col = data.get("forecast_column")
        if fc_col and fc_col in pd.read_csv(csv, nrows=0).columns:
            frame = pd.read_csv(csv, usecols=[data["time_column"], fc_col])
            refs.append(pd.Series(pd.to_numeric(frame[fc_col], errors="coerce").to_numpy(),
                                  index=pd.DatetimeIndex(pd.to_datetime(frame[data["time_column"]], utc=True))))
    series = pd.concat(loads).sort_index()
    ref = pd.concat(refs).sort_index() if refs else None
    label = f"{path.name} [data] {data['load_column']} from {len(files)} file(s)"
    return series.rename("demand"), None, ref, label


def _bpat(path: Path) -> tuple[pd.Series, pd.Series, pd.Series | None, str]:
    frame = load_bpat_eia930(path)
    actual = frame["actual"]
    train = actual if actual.notna().all() else frame["cleaned"]
    ref = frame["bpa_forecast"].rename(FORECAST_COLUMN) if frame["bpa_forecast"].notna().any() else None
    which = "raw" if train is actual else "cleaned"
    return train.rename("demand"), actual, ref, f"{path.name} ({which} demand, MW)"


def run(args: argparse.Namespace) -> int:
    """Run the backtests and print the comparison table(s)."""
    models = _models(args.model)
    params = _params(args.param)
    series, actual, reference, label = load_source(args)
    if reference is None:
        lacking = [m for m in models if needs_reference(m)]
        if lacking and args.model in ("table6", "all"):
            print(f"note: {', '.join(lacking)} left out: {label} has no published forecast "
                  f"(column {FORECAST_COLUMN!r} or --reference-column)")
            models = [m for m in models if m not in lacking]
        elif lacking:
            raise ForecastError(f"--model {', '.join(lacking)}: corrects a published forecast, but {label} "
                                f"has none (BPAT: column {FORECAST_COLUMN!r}, in the 2019 file only; "
                                "other CSVs: --reference-column)")
    calendar_tz = args.calendar_tz or (BPAT_TZ if actual is not None else None)
    horizons = ("day", "hour") if args.horizon == "both" else (args.horizon,)
    out = check_output_dir(args.out, option="--out") if args.out else None
    print(f"series: {label}, {len(series)} observations {series.index[0]} .. {series.index[-1]}")
    for horizon in horizons:
        comp = compare_models(series, models, horizon=horizon, test_start=args.test_start,
                              test_days=args.test_days, window_days=args.window_days, cycle=args.cycle,
                              model_windows={"lstm": args.ml_window_days,
                                             "random-forest": args.ml_window_days, "boosted": 730},
                              reference=reference, actual=actual, params=params,
                              calendar_tz=calendar_tz, progress=args.verbose)
        print(format_comparison(comp))
        print()
        if out:
            comp.forecasts.to_csv(out / f"forecast_{horizon}.csv")
            comp.table.to_csv(out / f"metrics_{horizon}.csv")
            png = plot_comparison(comp, out / f"forecast_{horizon}.png", quantity=args.value_column or "Demand",
                                  unit=args.unit or ("MW" if actual is not None else None))
            print(f"wrote {out / f'forecast_{horizon}.csv'}, {out / f'metrics_{horizon}.csv'}, {png}")
    print("Paper values: Table 6 of Symmetry 2023, 15, 443 (split not published); "
          "see docs/forecasting.md for why ours differ.")
    return 0
