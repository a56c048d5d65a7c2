"""Instance sections of the RTP model family, checked, and the week's forecast-driven prices.

Data (``[data]``): hourly load (PJM Dayton, hour-ending local stamps; 25 DST-missing hours and
the duplicated fall-back hours of the file are averaged/interpolated before forecasting) and
day-ahead prices.  The paper used PJM Dayton 2019 clearing prices, which we do not have; the
clearing price A0 of each day is the **daily mean of the Belgian day-ahead price** (EUR/MWh,
ENTSO-E) of the matching calendar day of ``price_week_start``, converted to $/kWh with the fixed
rate ``eur_to_usd`` (÷ 1000).  Load week and price week differ (the load file ends in 2018, the
price file starts in 2022): the price rule only uses A0 from the price file and the *shape* of
the load forecast.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.data.series import LOCAL_TZ, daily_means, read_local_hourly
from gridgames.models.instance import Checker, Instance, InstanceError
from gridgames.models.rtp.pricing import PriceRule, rtp_prices
from gridgames.models.rtp.appliances import ApplianceSpec, check_appliances, library
from gridgames.models.rtp.objectives import Welfare


@dataclass
class RTPConfig:
    """Everything an RTP run needs, validated (see ``instances/rtp_household.toml`` for meanings)."""

    load_file: Path
    load_time: str = "Datetime"
    load_column: str = "DAYTON_MW"
    price_file: Path | None = None
    price_time: str = "hour_start_local"
    price_column: str = "price_eur_per_mwh"
    #: IANA time zones of each file's stamps without a UTC offset: which hour may repeat at the autumn clock
    #: change (load), which hours a clock-change day has (price; None: every day must have 00:00-23:00)
    load_timezone: str = LOCAL_TZ
    price_timezone: str | None = None
    week_start: str = "2017-07-10"
    price_week_start: str = "2023-07-10"
    days: int = 7
    eur_to_usd: float = 1.08
    forecaster: str = "random-forest"
    history_days: int = 120
    n_estimators: int = 100
    rule: PriceRule = field(default_factory=PriceRule)
    step_edges: tuple[float, ...] = (10.0, 20.0)
    step_multipliers: tuple[float, ...] = (1.0, 1.1, 1.3)
    rho: float = 0.01
    lambda1: float = 0.02
    m_days: int = 3
    sweep: tuple[float, float, float] = (0.01, 0.03, 0.005)
    comfort_value: tuple[float, float] = (0.0, 0.06)
    seed: int = 0
    welfare: Welfare = field(default_factory=Welfare)
    appliances: list[ApplianceSpec] = field(default_factory=library)
    households: int = 1
    processes: int = 2
    results_dir: Path | None = None
    front_day: int = 0
    front_points: int = 12
    front_pop: int = 60
    front_gen: int = 150


def load_config(instance: Instance) -> RTPConfig:
    """Read and check every section; one :class:`InstanceError` lists all problems."""
    chk: Checker = instance.checker()
    d = "data"
    cfg = RTPConfig(load_file=instance.resolve(chk.string(d, "load_file") or "missing"))
    cfg.load_time = chk.string(d, "load_time", cfg.load_time)
    cfg.load_column = chk.string(d, "load_column", cfg.load_column)
    cfg.price_file = instance.resolve(chk.string(d, "price_file") or "missing")
    cfg.price_time = chk.string(d, "price_time", cfg.price_time)
    cfg.price_column = chk.string(d, "price_column", cfg.price_column)
    cfg.load_timezone = chk.timezone(d, "load_timezone", cfg.load_timezone)
    cfg.price_timezone = chk.timezone(d, "price_timezone", None)
    cfg.week_start = chk.string(d, "week_start", cfg.week_start)
    cfg.price_week_start = chk.string(d, "price_week_start", cfg.price_week_start)
    cfg.days = chk.number(d, "days", cfg.days, integer=True, ge=1, le=7)
    cfg.eur_to_usd = chk.number(d, "eur_to_usd", cfg.eur_to_usd, gt=0)
    for key in ("week_start", "price_week_start"):
        try:
            pd.Timestamp(getattr(cfg, key))
        except (ValueError, TypeError):
            chk.fail(f"[{d}].{key}", f"not a date: {getattr(cfg, key)!r} (use YYYY-MM-DD)")
    cfg.forecaster = chk.string(d, "forecaster", cfg.forecaster)
    from gridgames.forecasting.api import available_forecasters, needs_reference

    usable = [n for n in available_forecasters() if not needs_reference(n)]
    chk.check(cfg.forecaster in usable, f"[{d}].forecaster",
              f"unknown or unusable forecaster {cfg.forecaster!r} (use one of {', '.join(usable)})")
    cfg.history_days = chk.number(d, "history_days", cfg.history_days, integer=True, ge=14)
    cfg.n_estimators = chk.number(d, "n_estimators", cfg.n_estimators, integer=True, ge=1)
    p = "price"
    mu = chk.numbers(p, "mu", list(PriceRule.mu), length=3, ge=0)
    bands = chk.numbers(p, "bands", list(PriceRule.bands), length=2, gt=0)
    fr = chk.numbers(p, "f_range", [PriceRule.f_low, PriceRule.f_high], length=2)
    dead = chk.number(p, "deadband", PriceRule.deadband, ge=0, lt=1)
    if mu is not None and bands is not None and fr is not None and dead is not None:
        try:
            cfg.rule = PriceRule(tuple(mu), tuple(bands), float(fr[0]), float(fr[1]), float(dead))
        except InstanceError as exc:
            chk.problems += exc.problems
    s = "step_tariff"
    edges = chk.numbers(s, "edges", list(cfg.step_edges), gt=0)
    mult = chk.numbers(s, "multipliers", list(cfg.step_multipliers), gt=0)
    if edges is not None and mult is not None:
        chk.check(mult.size == edges.size + 1 and np.all(np.diff(edges) > 0) and np.all(np.diff(mult) >= 0),
                  "[step_tariff]", "need increasing edges and len(edges) + 1 non-decreasing multipliers")
        cfg.step_edges, cfg.step_multipliers = tuple(edges), tuple(mult)
    cfg.rho = chk.number("unit", "rho", cfg.rho, ge=0)
    names = chk.raw("unit", "appliances", "library")
    lib = {a.name: a for a in library()}
    if names == "library":
        cfg.appliances = library()
    elif isinstance(names, list) and all(isinstance(n, str) for n in names):
        unknown = [n for n in names if n not in lib]
        chk.check(not unknown, "[unit].appliances", f"unknown appliance(s) {unknown} (known: {sorted(lib)})")
        cfg.appliances = [lib[n] for n in names if n in lib]
        chk.check(2 <= len(cfg.appliances) <= 13, "[unit].appliances", "a household has 2 to 13 appliances")
    else:
        chk.fail("[unit].appliances", f"must be \"library\" or a list of appliance names, got {names!r}")
    i = "incentive"
    cfg.lambda1 = chk.number(i, "lambda1", cfg.lambda1, ge=0, lt=1)
    cfg.m_days = chk.number(i, "m", cfg.m_days, integer=True, ge=1)
    sw = chk.sweep(i, "sweep", list(cfg.sweep))
    if sw is not None:
        cfg.sweep = sw
    cv = chk.numbers(i, "comfort_value", list(cfg.comfort_value), length=2, ge=0)
    if cv is not None:
        chk.check(cv[0] <= cv[1], "[incentive].comfort_value", "need low <= high")
        cfg.comfort_value = tuple(cv)
    cfg.seed = chk.number(i, "seed", cfg.seed, integer=True, ge=0)
    w = "welfare"
    vals = {k: chk.number(w, k, getattr(Welfare, k), ge=0) for k in ("delta", "m", "r", "b", "c")}
    if all(v is not None for v in vals.values()):
        try:
            cfg.welfare = Welfare(**vals)
        except InstanceError as exc:
            chk.problems += exc.problems
    ds = "district"
    cfg.households = chk.number(ds, "households", 1, integer=True, ge=1)
    cfg.processes = chk.number(ds, "processes", cfg.processes, integer=True, ge=1)
    rd = chk.string(ds, "results_dir", "")
    cfg.results_dir = instance.resolve(rd) if rd else None
    f = "front"
    cfg.front_day = chk.number(f, "day", cfg.front_day, integer=True, ge=0)
    cfg.front_points = chk.number(f, "points", cfg.front_points, integer=True, ge=0)
    chk.check(cfg.front_points is None or cfg.front_points == 0 or cfg.front_points >= 3, "[front].points",
              f"must be 0 (every Pareto point) or >= 3, got {cfg.front_points}")
    cfg.front_pop = chk.number(f, "pop_size", cfg.front_pop, integer=True, ge=4)
    cfg.front_gen = chk.number(f, "n_gen", cfg.front_gen, integer=True, ge=1)
    from gridgames.models.rtp.fields import FIELDS  # noqa: PLC0415  (fields read RTPConfig's defaults)
    chk.declared_keys(FIELDS)
    chk.raise_if_any()
    if cfg.front_day >= cfg.days:
        raise InstanceError([f"[front].day: must be < [data].days = {cfg.days}, got {cfg.front_day}"],
                            str(instance.path))
    check_appliances(cfg.appliances, str(instance.path))
    return cfg


@dataclass
class WeekPrices:
    """The week's forecast, actual load, clearing prices and RTP (``days × 24``)."""

    dates: list[str]
    forecast: np.ndarray        # MW
    actual: np.ndarray          # MW
    a0: np.ndarray              # $/kWh per day
    rtp: np.ndarray             # $/kWh
    step_prices: np.ndarray     # $/kWh per block


def daily_clearing_prices(path: Path, time_col: str, value_col: str, first_day: str, days: int,
                          eur_to_usd: float, tz: str | None = None) -> np.ndarray:
    """A0 per day ($/kWh): mean day-ahead price of each complete local calendar day × rate / 1000.

    The data layer's :func:`~gridgames.data.series.daily_means` refuses a day without each of its
    local hours once (``tz``: the zone of stamps without a UTC offset), a NaN or an unparsable stamp,
    naming the day or row.
    """
    dates = pd.date_range(first_day, periods=days, freq="D")
    means = np.asarray(daily_means(path, time_col, value_col, dates, field_name="[data].price_file", tz=tz), float)
    bad = np.flatnonzero(~(means > 0))
    if bad.size:   # found here, before any forecast is fitted
        listed = ", ".join(f"{dates[i]:%Y-%m-%d} ({means[i]:.4g})" for i in bad[:5])
        raise InstanceError([f"[data].price_week_start: {first_day}: the mean day-ahead price of {bad.size} day(s) "
                             f"in {Path(path).name} is not positive: {listed}; the RTP rule scales every hour by "
                             "the day's clearing price A0 > 0 (negative prices occur on windy, sunny days): "
                             "choose another week"], "RTP data")
    return means * eur_to_usd / 1000.0


def week_prices(cfg: RTPConfig) -> WeekPrices:
    """Forecast each day from the history before it, then apply the price rule with that day's A0."""
    from gridgames.forecasting.api import day_ahead_forecast

    load = read_local_hourly(cfg.load_file, cfg.load_time, cfg.load_column, field_name="[data].load_file",
                             min_value=0.0, tz=cfg.load_timezone)
    a0 = daily_clearing_prices(cfg.price_file, cfg.price_time, cfg.price_column, cfg.price_week_start,
                               cfg.days, cfg.eur_to_usd, tz=cfg.price_timezone)
    dates, fc, act = [], [], []
    params = {"n_estimators": cfg.n_estimators} if cfg.forecaster == "random-forest" else {}
    first = pd.Timestamp(cfg.week_start) - pd.Timedelta(days=cfg.history_days)
    last = pd.Timestamp(cfg.week_start) + pd.Timedelta(days=cfg.days) - pd.Timedelta(hours=1)
    if load.empty or load.index[0] > first or load.index[-1] < last:
        span = f"{load.index[0]} to {load.index[-1]}" if not load.empty else "no data"
        raise InstanceError([f"[data].week_start: {cfg.week_start} with history_days = {cfg.history_days} needs "
                             f"load from {first} to {last}; {cfg.load_file.name} covers {span}"], "RTP data")
    for d in pd.date_range(cfg.week_start, periods=cfg.days, freq="D"):
        f = day_ahead_forecast(load, d, cfg.forecaster, history_days=cfg.history_days, **params)
        dates.append(d.strftime("%Y-%m-%d"))
        fc.append(f.to_numpy()[:24])
        act.append(load[d:d + pd.Timedelta(hours=23)].to_numpy()[:24])
    fc, act = np.array(fc), np.array(act)
    rtp = np.array([rtp_prices(fc[i], a0[i], cfg.rule) for i in range(cfg.days)])
    step = float(a0.mean()) * np.asarray(cfg.step_multipliers)
    return WeekPrices(dates, fc, act, a0, rtp, step)
