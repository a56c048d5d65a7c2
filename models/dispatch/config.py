"""Instance sections of the economic-dispatch family (``[generators]``, ``[data]``), checked."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridgames.models.dispatch.fields import FIELDS
from gridgames.models.instance import Checker, Instance, name_entries, read_series_csv
from gridgames.solvers.errors import GridGamesError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchData:
    """Generators (arrays of equal length) and the hourly load in MW."""

    a: np.ndarray
    b: np.ndarray
    pmin: np.ndarray
    pmax: np.ndarray
    ramp: np.ndarray
    load: pd.Series


def _hours_in_day(day: str, tz: str) -> int:
    """Hours of the local calendar ``day`` in ``tz`` (23 or 25 on clock-change days)."""
    start = pd.Timestamp(day).tz_localize(tz)
    end = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(tz)
    return int((end - start) / pd.Timedelta(hours=1))


def load_dispatch_instance(instance: Instance) -> DispatchData:
    """Validate the ``[generators]`` and ``[data]`` sections; all problems at once."""
    chk: Checker = instance.checker()
    chk.declared_keys(FIELDS)
    a = chk.numbers("generators", "a", ge=0, min_length=1)   # the fleet's size: every list must match it
    n = None if a is None else len(a)
    b = chk.numbers("generators", "b", length=n)
    pmin = chk.numbers("generators", "pmin", length=n, ge=0)
    pmax = chk.numbers("generators", "pmax", length=n, gt=0)
    ramp = chk.numbers("generators", "ramp", length=n, gt=0)
    if pmin is not None and pmax is not None and len(pmin) == len(pmax):
        bad = np.flatnonzero(pmin > pmax)
        chk.check(bad.size == 0, "[generators].pmin",
                  name_entries(bad, pmin.tolist(), "exceeds pmax") if bad.size else "")
    file = chk.string("data", "file")
    time_col = chk.string("data", "time_column", FIELDS.default("data", "time_column"))
    value_col = chk.string("data", "value_column", FIELDS.default("data", "value_column"))
    day = chk.string("data", "day")
    tz = chk.timezone("data", "timezone", FIELDS.default("data", "timezone"))
    convention = chk.string("data", "day_convention", FIELDS.default("data", "day_convention"),
                            choices=("label", "interval"))
    if day is not None:
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            chk.fail("[data].day", f"must be a date YYYY-MM-DD, got {day!r}")
    chk.raise_if_any()
    series = read_series_csv(instance.resolve(file), time_col, value_col, field_name="[data].file", min_value=0.0)
    local = series.tz_convert(tz)
    dated = local.index - pd.Timedelta(hours=1) if convention == "interval" else local.index  # hour-ending: its start
    load = local[dated.strftime("%Y-%m-%d") == day]
    if load.empty:
        raise GridGamesError(f"{instance.path}: [data].day: {day!r} is not in the data "
                             f"({local.index[0].date()} to {local.index[-1].date()})")
    expected = _hours_in_day(day, tz)
    if len(load) != expected:
        raise GridGamesError(f"{instance.path}: [data].day: {day} has {len(load)} hours in {file} "
                             f"({tz}), a complete day has {expected}: the file is truncated")
    if load.max() > pmax.sum() or load.min() < pmin.sum():
        raise GridGamesError(f"{instance.path}: load {load.min():.0f}-{load.max():.0f} MW is outside the "
                             f"fleet's range {pmin.sum():.0f}-{pmax.sum():.0f} MW: the dispatch is infeasible")
    return DispatchData(a, b, pmin, pmax, ramp, load)
