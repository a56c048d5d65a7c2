"""Households from TOML tables / dicts, every problem reported with its field path.

A household table looks like::

    [household]
    name = "h1"
    dt = 1.0                 # hours per period
    horizon = 24             # hours
    comfort = 400            # ω
    shift_limit = 0.15       # or false to switch it off
    feed_in = 0.3
    base_load = [0.4, 0.3, ...]          # kW per hour, or a CSV file:
    # base_load = { file = "data/household_openmv_tou_hourly.csv", time = "hour_ending_local",
    #               value = "consumption_kwh", start = "2011-12-01 01:00", freq = "h", unit = "kwh" }

    [[household.devices]]
    type = "ev"              # fixed, pv, shiftable, interruptible, thermostat, battery, ev
    name = "car"
    arrival = 18
    departure = 24
    energy_arrival = 8
    energy_departure = 15

Device keys are the dataclass fields of :mod:`gridgames.models.households.devices`;
profiles are lists of numbers (one per ``step`` hours).
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgames.models.households.model import Household
from gridgames.models.households.devices import DEVICE_TYPES, Device
from gridgames.models.households.timegrid import TimeGrid
from gridgames.models.instance import Checker, InstanceError, read_series_csv, read_toml
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)

_HOUSEHOLD_KEYS = ("name", "dt", "horizon", "comfort", "shift_limit", "shift_reference_kw", "feed_in",
                   "import_limit_kw", "export_limit_kw", "base_load", "base_step", "devices")
_ARRAY_FIELDS = {"profile", "shape", "t_out"}
_BOOL_FIELDS = {"v2g", "cyclic"}
#: lower bounds per numeric field: (bound, strict)
_BOUNDS: dict[str, tuple[float, bool]] = {
    "capacity": (0, True), "p_max": (0, True), "p_min": (0, False), "eta_ch": (0, True), "eta_dis": (0, True),
    "soc_min": (0, False), "soc_max": (0, True), "soc_init": (0, False), "energy": (0, False),
    "energy_arrival": (0, False), "energy_departure": (0, False), "peak_kw": (0, False), "r": (0, True),
    "c": (0, True), "cop": (0, True), "discomfort": (0, False), "step": (0, True), "start": (0, False),
    "end": (0, True), "arrival": (0, False), "departure": (0, True), "preferred_start": (0, False),
}
_UPPER_ONE = {"eta_ch", "eta_dis", "soc_min", "soc_max", "soc_init"}


def _device(chk: Checker, section: str) -> Device | None:
    kind = chk.string(section, "type", choices=sorted(DEVICE_TYPES))
    name = chk.string(section, "name")
    if kind is None:
        return None
    cls = DEVICE_TYPES[kind]
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "name"}
    chk.unknown_keys(section, ["type", "name", *fields])
    values: dict[str, Any] = {}
    table = chk.section(section)
    for key in fields:
        if key not in table:
            continue
        if key in _ARRAY_FIELDS:
            values[key] = chk.numbers(section, key, ge=0 if key != "t_out" else None)
        elif key in _BOOL_FIELDS:
            value = chk.raw(section, key)
            if chk.check(isinstance(value, bool), f"[{section}].{key}", f"must be true or false, got {value!r}"):
                values[key] = value
        elif key == "mode":
            values[key] = chk.string(section, key, choices=["cool", "heat"])
        else:
            lo, strict = _BOUNDS.get(key, (None, False))
            values[key] = chk.number(section, key, gt=lo if strict else None, ge=None if strict else lo,
                                     le=1.0 if key in _UPPER_ONE else None)
    defaults = {k: f.default for k, f in fields.items() if f.default is not dataclasses.MISSING}
    _cross_checks(chk, section, {**defaults, **values})
    if any(v is None for v in values.values()) or name is None:
        return None
    return cls(name=name, **values)


#: device fields that are hours of the day: they must fall inside the horizon (a window is not wrapped)
_HOUR_FIELDS = ("start", "end", "arrival", "departure", "preferred_start")


def _within_horizon(chk: Checker, section: str, item: dict[str, Any], horizon: float) -> None:
    """Hours past the horizon are refused: ``departure = 30`` on a 24 h day was cut to 24 without a word."""
    for key in _HOUR_FIELDS:
        value = item.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > horizon:
            chk.fail(f"[{section}].{key}", f"must be <= the horizon ({horizon:g} h), got {value:g}: windows are not "
                                           "wrapped past its end (plan an overnight stay as arrival 0 .. departure, "
                                           "or lengthen the horizon)")


def _cross_checks(chk: Checker, section: str, d: dict[str, Any]) -> None:
    """Relations between fields of one device (each reported at its field path; invalid fields skipped)."""
    path = f"[{section}]"

    def have(*keys: str) -> bool:
        return all(isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool) for k in keys)

    for lo, hi in (("start", "end"), ("arrival", "departure"), ("p_min", "p_max"), ("soc_min", "soc_max"),
                   ("t_min", "t_max")):
        if have(lo, hi):
            ok = d[lo] <= d[hi] if lo == "p_min" else d[lo] < d[hi]
            chk.check(ok, f"{path}.{hi}", f"must be > {lo} ({d[lo]:g}), got {d[hi]:g}")
    if have("t_min", "t_pref", "t_max"):
        chk.check(d["t_min"] <= d["t_pref"] <= d["t_max"], f"{path}.t_pref",
                  f"must lie in the comfort band [{d['t_min']:g}, {d['t_max']:g}], got {d['t_pref']:g}")
    if have("soc_min", "capacity", "energy_arrival"):
        floor = d["soc_min"] * d["capacity"]
        chk.check(floor <= d["energy_arrival"] <= d["capacity"], f"{path}.energy_arrival",
                  f"must lie in [soc_min·capacity, capacity] = [{floor:g}, {d['capacity']:g}] kWh, "
                  f"got {d['energy_arrival']:g}")
    if have("soc_min", "soc_init", "soc_max"):
        chk.check(d["soc_min"] <= d["soc_init"] <= d["soc_max"], f"{path}.soc_init",
                  f"must lie in [soc_min, soc_max] = [{d['soc_min']:g}, {d['soc_max']:g}], got {d['soc_init']:g}")


def _base_load(chk: Checker, section: str, grid: TimeGrid | None, base_dir: Path | None
               ) -> tuple[np.ndarray | None, float]:
    table = chk.section(section)
    value = table.get("base_load")
    step = chk.number(section, "base_step", 1.0, gt=0)
    if value is None or not isinstance(value, dict):
        return (chk.numbers(section, "base_load", None, ge=0) if value is not None else None), step or 1.0
    path = f"[{section}].base_load"
    sub = Checker({"base_load": value}, chk.source)
    spec = {k: sub.string("base_load", k) for k in ("file", "time", "value")}
    start = sub.string("base_load", "start", None)
    freq = sub.string("base_load", "freq", "h")
    unit = sub.string("base_load", "unit", "kwh", choices=["kw", "kwh"])
    sub.unknown_keys("base_load", ["file", "time", "value", "start", "freq", "unit"])
    chk.problems += [p.replace("[base_load]", path) for p in sub.problems]
    if sub.problems or grid is None:
        return None, 1.0
    file = Path(spec["file"])
    if base_dir is not None and not file.is_absolute():
        file = base_dir / file
    try:
        series = read_series_csv(file, spec["time"], spec["value"], freq=None, field_name=path, utc=False)
    except InstanceError as exc:
        chk.problems += exc.problems
        return None, 1.0
    step_h = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)).total_seconds() / 3600.0
    if start is not None:
        try:
            series = series[series.index >= pd.Timestamp(start)]
        except (ValueError, TypeError) as exc:
            chk.fail(f"{path}.start", f"not a timestamp ({exc})")
            return None, 1.0
    need = int(np.ceil(grid.horizon / step_h - 1e-9))
    if len(series) < need:
        chk.fail(path, f"{file.name} has {len(series)} rows from {start or 'its start'}, the {grid.horizon:g} h "
                       f"horizon needs {need}")
        return None, 1.0
    series = series.iloc[:need]
    deltas = np.diff(series.index.to_numpy()) / np.timedelta64(1, "s") / 3600.0
    gaps = np.flatnonzero(np.abs(deltas - step_h) > 1e-9)
    if gaps.size:   # only the rows used must be regular (a DST gap elsewhere does not matter)
        i = int(gaps[0])
        chk.fail(path, f"{file.name}: gap in the {freq} series between {series.index[i]} and {series.index[i + 1]}")
        return None, 1.0
    values = series.to_numpy()
    if (values < 0).any():
        chk.fail(path, f"{file.name}: negative load at {series.index[int(np.argmax(values < 0))]}")
        return None, 1.0
    return (values / step_h if unit == "kwh" else values), step_h


def household_from_dict(data: dict[str, Any], *, section: str = "household", source: str = "household",
                        base_dir: str | Path | None = None, device_labels: list[str] | None = None) -> Household:
    """Build a :class:`Household` from a parsed TOML document holding ``[section]``.

    ``device_labels`` names each device's table in problems when the devices were gathered from
    several places of the file (shared ``[[followers.devices]]`` and a user's own); by default
    ``section.devices[i]``.

    Raises
    ------
    InstanceError
        Listing every problem with its field path (``[household.devices[1]].capacity:
        must be > 0, got -3``), including base-load CSV rows.
    """
    chk = Checker(data, source)
    base = Path(base_dir) if base_dir is not None else None
    chk.unknown_keys(section, _HOUSEHOLD_KEYS)
    name = chk.string(section, "name")
    dt = chk.number(section, "dt", 1.0, gt=0)
    horizon = chk.number(section, "horizon", 24.0, gt=0)
    grid = None
    if dt is not None and horizon is not None:
        try:
            grid = TimeGrid(dt, horizon)
        except ModelError as exc:
            chk.fail(f"[{section}].horizon", str(exc).removeprefix("time grid: "))
    comfort = chk.number(section, "comfort", 0.0, ge=0)
    raw_limit = chk.raw(section, "shift_limit", 0.15)
    shift_limit = None if raw_limit is False else chk.number(section, "shift_limit", 0.15, gt=0)
    reference = chk.number(section, "shift_reference_kw", None, gt=0)
    raw_feed = chk.raw(section, "feed_in", 0.0)
    feed_in = (chk.numbers(section, "feed_in", ge=0) if isinstance(raw_feed, list)
               else chk.number(section, "feed_in", 0.0, ge=0))
    imp = chk.number(section, "import_limit_kw", 20.0, gt=0)
    exp = chk.number(section, "export_limit_kw", 20.0, ge=0)
    base_load, base_step = _base_load(chk, section, grid, base)
    devices: list[Device] = []
    items = chk.raw(section, "devices", [])
    if not isinstance(items, list) or not all(isinstance(d, dict) for d in items):
        chk.fail(f"[{section}].devices", "must be an array of tables ([[household.devices]])")
        items = []
    for i, item in enumerate(items):
        label = device_labels[i] if device_labels is not None else f"{section}.devices[{i}]"
        sub = Checker({label: item}, source)
        device = _device(sub, label)
        if grid is not None:
            _within_horizon(sub, label, item, grid.horizon)
        chk.problems += sub.problems
        if device is not None:
            devices.append(device)
    chk.raise_if_any()
    household = Household(name=name, devices=devices, grid=grid, base_load=base_load, base_step=base_step,
                          comfort=comfort, shift_limit=shift_limit, shift_reference_kw=reference,
                          feed_in=feed_in, import_limit_kw=imp, export_limit_kw=exp)
    try:   # profiles that do not fit the grid: report them all as data problems
        for d in household.all_devices():
            d.baseline(grid)
    except ModelError as exc:
        raise InstanceError([str(exc)], source) from None
    return household


def load_household(path: str | Path, section: str = "household") -> Household:
    """Read ``[section]`` of a TOML file (relative data paths resolved against the file)."""
    path = Path(path)
    data = read_toml(path)
    return household_from_dict(data, section=section, source=str(path), base_dir=path.parent)
