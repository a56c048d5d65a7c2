"""Days of BPAT data for the Stackelberg pricing game.

The EIA-930 files are hourly, **hour-ending**, UTC: the row stamped ``t``
holds the mean load over ``(t − 1 h, t]``.  A local calendar day D is cut out
of them in one of two ways (``day_convention``):

* ``"interval"``: the hours whose interval lies inside local day D, i.e. local
  hour-ending stamps ``D 01:00 … D+1 00:00`` (23 or 25 hours on DST days);
* ``"label"``: the rows whose local hour-ending stamp has date D, i.e.
  ``D 00:00 … D 23:00`` — how EIA's Hourly Electric Grid Monitor labels a day
  (in US Eastern time by default).  This is the convention that reproduces the
  paper's day exactly (2021-01-30, Eastern: 160,590 MWh, fluctuation
  4,999,118.5); see ``docs/stackelberg.md``.

``orl_k`` is the actual load; ``d_k`` comes from ``demand_forecast``: ``"eia"``
(BPA's day-ahead forecast, 2019 only), ``"actual"`` (d = orl) or the name of one
of our forecasters (:func:`gridgames.forecasting.day_ahead_forecast`).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.models.instance import InstanceError, read_series_csv
from gridgames.models.stackelberg.params import DayData

log = logging.getLogger(__name__)

DAY_CONVENTIONS = ("interval", "label")


@dataclass(frozen=True)
class LoadData:
    """Hourly load and (optional) forecast on one UTC hour-ending index.

    Attributes
    ----------
    frame : DataFrame
        Columns ``load`` (MW, never NaN) and ``forecast`` (MW, NaN where none).
    tz : str
        Time zone of the calendar days.
    convention : str
        ``"interval"`` or ``"label"`` (module docstring).
    source : str
        File names, for error messages.
    """

    frame: pd.DataFrame
    tz: str
    convention: str
    source: str

    @cached_property
    def _keys(self) -> pd.Series:
        local = self.frame.index.tz_convert(self.tz)
        if self.convention == "interval":
            local = local - pd.Timedelta(hours=1)
        return pd.Series(local.date, index=self.frame.index)

    @cached_property
    def _rows(self) -> dict[dt.date, np.ndarray]:
        return self._keys.reset_index(drop=True).groupby(self._keys.to_numpy()).indices

    def day_keys(self) -> pd.Series:
        """The local calendar day of every row under the day convention."""
        return self._keys

    def rows_of(self, day: dt.date) -> np.ndarray:
        """Row positions of one calendar day (empty when it is not in the data)."""
        return self._rows.get(day, np.empty(0, dtype=int))

    def first_last_day(self) -> tuple[dt.date, dt.date]:
        """First and last *complete* calendar day in the data."""
        days = sorted(self._rows)
        complete = [d for d in days[:2] + days[-2:] if len(self._rows[d]) == _expected_hours(d, self.tz)]
        return (complete[0], complete[-1]) if complete else (days[0], days[-1])


def load_bpat(files: Sequence[str | Path], *, time_column: str = "hour_ending_utc",
              load_column: str = "demand_mw_cleaned",
              forecast_column: str | None = "demand_forecast_mw",
              tz: str = "America/Los_Angeles", convention: str = "interval") -> LoadData:
    """Read one or more consecutive BPAT files into one hourly frame.

    Parameters
    ----------
    files : sequence of path
        CSV files in time order (each checked row by row: NaN, gaps, duplicates).
    time_column, load_column : str
        Hour-ending UTC timestamps and the load (orl).
    forecast_column : str or None
        Day-ahead forecast column; a file without it contributes NaN.
    tz, convention : str
        How calendar days are cut (module docstring).

    Raises
    ------
    InstanceError
        A bad file or row, or files that overlap or leave a gap between them.
    """
    if convention not in DAY_CONVENTIONS:
        raise InstanceError([f"[data].day_convention: must be one of {DAY_CONVENTIONS}, got {convention!r}"])
    parts = []
    for path in files:
        path = Path(path)
        load = read_series_csv(path, time_column, load_column, field_name="[data].files", min_value=0.0)
        fc = pd.Series(np.nan, index=load.index)
        if forecast_column:
            raw = pd.read_csv(path, usecols=lambda c: c in (time_column, forecast_column))
            if forecast_column in raw:
                idx = pd.DatetimeIndex(pd.to_datetime(raw[time_column], utc=True))
                fc = pd.Series(pd.to_numeric(raw[forecast_column], errors="coerce").to_numpy(float),
                               index=idx).reindex(load.index)
        parts.append(pd.DataFrame({"load": load, "forecast": fc}))
    frame = pd.concat(parts)
    problems = []
    if frame.index.has_duplicates:
        problems.append(f"[data].files: the files overlap at {frame.index[frame.index.duplicated()][0]}")
    steps = frame.index[1:] - frame.index[:-1]
    gaps = np.flatnonzero(steps != pd.Timedelta(hours=1))
    if gaps.size and not problems:
        problems.append(f"[data].files: gap or disorder between {frame.index[gaps[0]]} and "
                        f"{frame.index[gaps[0] + 1]} (list the files in time order)")
    if problems:
        raise InstanceError(problems, "[data]")
    frame.index.name = "hour_ending_utc"
    return LoadData(frame, tz, convention, ", ".join(Path(f).name for f in files))


def _expected_hours(day: dt.date, tz: str) -> int:
    start = pd.Timestamp(day).tz_localize(tz)
    end = pd.Timestamp(day + dt.timedelta(days=1)).tz_localize(tz)
    return int(round((end - start) / pd.Timedelta(hours=1)))


def parse_day(text: str, path: str = "[data].day") -> dt.date:
    """``"YYYY-MM-DD"`` as a date; InstanceError naming the field otherwise."""
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise InstanceError([f"{path}: not a date (YYYY-MM-DD): {text!r}"]) from None


def day_problems(data: LoadData, days: Sequence[dt.date], path: str = "[data].day") -> list[str]:
    """Problems with the requested days: outside the data or incomplete."""
    first, last = data.first_last_day()
    out = []
    for day in days:
        n = len(data.rows_of(day))
        want = _expected_hours(day, data.tz)
        if n == 0:
            out.append(f"{path}: {day} is outside the data ({data.source} covers {first} to {last} "
                       f"as {data.convention!r} days in {data.tz})")
        elif n != want:
            out.append(f"{path}: {day} has {n} of its {want} hours in the data ({data.source} "
                       f"covers {first} to {last} as {data.convention!r} days in {data.tz})")
        if len(out) >= 5:
            break
    return out


def day_data(data: LoadData, day: dt.date, demand_forecast: str = "eia") -> DayData:
    """One day's ``orl`` (actual load) and ``d`` (forecast) as :class:`DayData`.

    Raises
    ------
    InstanceError
        The day is outside the data or incomplete, or the requested forecast is
        missing for that day (BPA's forecast exists for 2019 only).
    """
    problems = day_problems(data, [day])
    if problems:
        raise InstanceError(problems, data.source)
    rows = data.frame.iloc[data.rows_of(day)]
    orl = rows["load"].to_numpy(float)
    local = rows.index.tz_convert(data.tz)
    if demand_forecast == "actual":
        d = orl.copy()
    elif demand_forecast == "eia":
        d = rows["forecast"].to_numpy(float)
        missing = np.flatnonzero(~np.isfinite(d))
        if missing.size:
            raise InstanceError([f"[data].demand_forecast: 'eia' has no BPA day-ahead forecast at "
                                 f"{local[missing[0]]} ({missing.size} of {d.size} hours of {day} missing; "
                                 "the forecast column exists in the 2019 file only): use "
                                 "demand_forecast = 'actual' or one of our forecasters"], data.source)
    else:
        d = forecaster_forecast(data, rows.index, demand_forecast)
    return DayData(orl=orl, d=d, label=str(day), index=local)


def forecaster_forecast(data: LoadData, hours: pd.DatetimeIndex, name: str) -> np.ndarray:
    """d_k from one of our forecasters, fitted on the load strictly before the day.

    A forecaster that corrects a published forecast (``bpa-corrected``) gets
    the data's forecast column (BPA's, 2019 file only) as ``reference``.

    Calls ``gridgames.forecasting.day_ahead_forecast(history, start, name)`` with
    the UTC load history before the day and ``start`` = the day's first
    hour-ending stamp as a local tz-aware timestamp (so DST days get 23 or 25
    steps), and takes the values at the day's hours.
    """
    from gridgames.forecasting.api import day_ahead_forecast, needs_reference  # noqa: PLC0415 (lazy: torch)
    from gridgames.solvers.errors import GridGamesError  # noqa: PLC0415

    params = {}
    if needs_reference(name):  # e.g. bpa-corrected: BPA's published forecast is its input
        params["reference"] = data.frame["forecast"]
    history = data.frame["load"].loc[:hours[0] - pd.Timedelta(hours=1)]
    try:
        fc = day_ahead_forecast(history, hours[0].tz_convert(data.tz), name, **params)
    except GridGamesError as exc:  # e.g. too little history before the first days of the data
        raise InstanceError([f"[data].demand_forecast: forecaster {name!r} cannot forecast the day "
                             f"starting {hours[0].tz_convert(data.tz)}: {exc}"], data.source) from None
    if isinstance(fc, pd.Series) and isinstance(fc.index, pd.DatetimeIndex):
        fc = fc.reindex(hours)
    values = np.asarray(fc, dtype=float)[: len(hours)]
    if values.size != len(hours) or not np.isfinite(values).all():
        raise InstanceError([f"[data].demand_forecast: forecaster {name!r} returned {values.size} "
                             f"usable values for the {len(hours)} hours from {hours[0]}"])
    return values


def day_range(first: dt.date, last: dt.date) -> list[dt.date]:
    """Every calendar day from ``first`` to ``last`` inclusive."""
    n = (last - first).days
    return [first + dt.timedelta(days=i) for i in range(n + 1)]


def day_statistics(data: LoadData) -> pd.DataFrame:
    """Per complete day: consumption and the candidate fluctuation definitions.

    Columns: ``hours``, ``consumption`` (Σ orl, MWh), ``flu_actual_mean``
    (Σ (orl − mean orl)²), ``flu_forecast_mean`` (Σ (orl − mean d)², NaN without
    a forecast).  Used to find the paper's day (``docs/stackelberg.md``).
    """
    f = data.frame.assign(day=data.day_keys().to_numpy())
    g = f.groupby("day")
    out = pd.DataFrame({"hours": g.size(), "consumption": g["load"].sum(),
                        "mean_load": g["load"].mean(), "mean_forecast": g["forecast"].mean()})
    f = f.join(out[["mean_load", "mean_forecast"]], on="day")
    f["dev_a"] = (f["load"] - f["mean_load"]) ** 2
    f["dev_f"] = (f["load"] - f["mean_forecast"]) ** 2
    g = f.groupby("day")
    out["flu_actual_mean"] = g["dev_a"].sum()
    out["flu_forecast_mean"] = g["dev_f"].sum(min_count=1)
    want = np.array([_expected_hours(d, data.tz) for d in out.index])
    return out[out["hours"].to_numpy() == want].drop(columns=["mean_load", "mean_forecast"])
