"""Instance files of the ``stackelberg_pricing`` family: parsing and checking.

:func:`load_config` reads the ``[data]``, ``[game]``, ``[users]`` (or
``[[users]]`` for several classes), ``[bounds]`` and ``[study]`` sections of
an instance, loads the BPAT data and checks the requested days, and reports
every problem at once in one :class:`~gridgames.models.instance.InstanceError`.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass


from gridgames.models.stackelberg.fields import FIELDS
from gridgames.models.instance import MAX_SWEEP_POINTS, Checker, Instance, InstanceError
from gridgames.models.stackelberg.data import (DAY_CONVENTIONS, LoadData, day_data, day_problems,
                                               day_range, load_bpat, parse_day)
from gridgames.models.stackelberg.params import (PRICE_FLOORS, DayData, StackelbergParams, UserClass,
                                                 validate_params)

log = logging.getLogger(__name__)

_USER_KEYS = set(FIELDS.keys("users"))


@dataclass
class StackelbergConfig:
    """Everything an instance file says, checked.

    Attributes
    ----------
    params : StackelbergParams
    data : LoadData
        The hourly load (and forecast) with the day convention.
    days : list of date
        One day (Tables 7-9, figures) or several (multi-day summary).
    demand_forecast : str
        ``"eia"``, ``"actual"`` or a forecaster name.
    study_ir : tuple of float
        Incentive rates of Tables 7-9.
    sweep : tuple of float
        ``(start, stop, step)`` of the Figures 11-14 sweep (stop included).
    """

    params: StackelbergParams
    data: LoadData
    days: list[dt.date]
    demand_forecast: str = "eia"
    study_ir: tuple[float, ...] = (0.0, 1.0, 2.0, 3.0)
    sweep: tuple[float, float, float] = (0.0, 8.0, 0.1)

    def day(self, day: dt.date) -> DayData:
        return day_data(self.data, day, self.demand_forecast)


def _parse_users(chk: Checker) -> tuple[UserClass, ...]:
    raw = chk.data.get("users", {})
    tables = raw if isinstance(raw, list) else [raw]
    users = []
    for i, table in enumerate(tables):
        name = "users" if not isinstance(raw, list) else f"users #{i + 1}"
        if not isinstance(table, dict):
            chk.fail(f"[{name}]", f"must be a table, got {type(table).__name__}")
            continue
        sub = Checker({name: table}, chk.source)
        sub.unknown_keys(name, _USER_KEYS)
        values = {k: sub.number(name, k, getattr(UserClass, k)) for k in _USER_KEYS - {"name"}}
        label = sub.string(name, "name", f"class {i + 1}" if isinstance(raw, list) else "users")
        chk.problems += sub.problems
        if None not in values.values() and label is not None:
            users.append(UserClass(**values, name=label))
    return tuple(users)


def _forecaster_problems(name: str) -> list[str]:
    """Empty when ``name`` is one of our forecasters (imported lazily)."""
    try:
        from gridgames.forecasting.api import available_forecasters  # noqa: PLC0415
    except ImportError:
        return [f"[data].demand_forecast: {name!r} names a forecaster, but gridgames.forecasting "
                "is not available; use 'eia' or 'actual'"]
    known = available_forecasters()
    if name in known:
        return []
    return [f"[data].demand_forecast: must be 'eia', 'actual' or a forecaster ({', '.join(known)}), "
            f"got {name!r}"]


def load_config(instance: Instance, *, day: str | None = None, days: Sequence[str] | None = None,
                demand_forecast: str | None = None) -> StackelbergConfig:
    """Parse and check a ``stackelberg_pricing`` instance; every problem is reported at once.

    Parameters
    ----------
    instance : Instance
    day, days : optional
        Override ``[data].day`` / ``[data].days`` (``days = [first, last]``, inclusive).
    demand_forecast : str, optional
        Override ``[data].demand_forecast``.

    Raises
    ------
    InstanceError
        Listing every problem: unknown keys, bad values (θ <= 0, ϖ1 + ϖ2 != 1,
        negative costs...), unreadable data, days outside the data.
    """
    chk = instance.checker()
    chk.declared_keys(FIELDS, ["", "data", "game", "bounds", "study"])
    files = chk.raw("data", "files")
    if isinstance(files, str):
        files = [files]
    if files is not None and (not isinstance(files, list) or not all(isinstance(f, str) for f in files)
                              or not files):
        chk.fail("[data].files", f"must be a file name or a list of file names, got {files!r}")
        files = None
    time_col = chk.string("data", "time_column", FIELDS.default("data", "time_column"))
    load_col = chk.string("data", "load_column", FIELDS.default("data", "load_column"))
    fc_col = chk.string("data", "forecast_column", FIELDS.default("data", "forecast_column"))
    tz = chk.timezone("data", "timezone", FIELDS.default("data", "timezone"))
    convention = chk.string("data", "day_convention", FIELDS.default("data", "day_convention"), choices=DAY_CONVENTIONS)
    forecast = demand_forecast or chk.string("data", "demand_forecast", FIELDS.default("data", "demand_forecast"))
    if forecast is not None and forecast not in ("eia", "actual"):
        chk.problems += _forecaster_problems(forecast)

    # Which days: CLI override > [data].days > [data].day.
    wanted: list[dt.date] = []
    if days is None and day is None:
        days = chk.raw("data", "days", None)
        day = chk.raw("data", "day", None)
    try:
        if days is not None:
            if not isinstance(days, (list, tuple)) or len(days) != 2:
                raise InstanceError([f"[data].days: must be [first, last], got {days!r}"])
            first, last = parse_day(days[0], "[data].days"), parse_day(days[1], "[data].days")
            if last < first:
                raise InstanceError([f"[data].days: last day {last} is before first day {first}"])
            wanted = day_range(first, last)
        elif day is not None:
            wanted = [parse_day(day)]
        else:
            chk.fail("[data].day", "is required (or [data].days = [first, last])")
    except InstanceError as exc:
        chk.problems += exc.problems

    game = {k: chk.number("game", k, getattr(StackelbergParams, k)) for k in ("a1", "a2", "a3", "mu", "ir", "r")}
    floor = chk.string("game", "price_floor", "average", choices=PRICE_FLOORS)
    bounds = {"l_min": chk.number("bounds", "l_min", 0.0), "p_max": chk.number("bounds", "p_max", 1000.0),
              "d_max": chk.number("bounds", "d_max", None)}
    users = _parse_users(chk)
    study_ir = chk.numbers("study", "ir", FIELDS.default("study", "ir"), ge=0)
    sweep = chk.sweep("study", "sweep", FIELDS.default("study", "sweep"))
    if study_ir is not None and study_ir.size == 0:
        chk.fail("[study].ir", "is empty: give at least one incentive rate (or leave the key out for the default)")
    if study_ir is not None and study_ir.size > MAX_SWEEP_POINTS:
        chk.fail("[study].ir", f"has {study_ir.size:,} incentive rates, more than the limit of {MAX_SWEEP_POINTS:,}")

    params = None
    if None not in game.values() and floor is not None and None not in (bounds["l_min"], bounds["p_max"]) \
            and users:
        params = StackelbergParams(**game, price_floor=floor, users=users, **bounds)
        try:
            validate_params(params, chk.source)
        except InstanceError as exc:
            chk.problems += exc.problems
    data = None
    if files is not None and None not in (time_col, load_col, tz, convention):
        try:
            data = load_bpat([instance.resolve(f) for f in files], time_column=time_col,
                             load_column=load_col, forecast_column=fc_col, tz=tz, convention=convention)
        except InstanceError as exc:
            chk.problems += exc.problems
    if data is not None and wanted:
        chk.problems += day_problems(data, wanted, "[data].days" if len(wanted) > 1 else "[data].day")
    chk.raise_if_any()
    return StackelbergConfig(params=params, data=data, days=wanted, demand_forecast=forecast,
                             study_ir=tuple(float(x) for x in study_ir), sweep=tuple(float(x) for x in sweep))
