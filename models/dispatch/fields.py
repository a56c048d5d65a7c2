"""Declared instance fields of the economic-dispatch family (read by :mod:`~gridgames.models.dispatch.config`)."""
from __future__ import annotations

from gridgames.models.schema import REQUIRED, Field, Schema, envelope

FIELDS = Schema(
    "economic_dispatch", "multi-period economic dispatch QP of a generator fleet over one local day",
    (
        *envelope("economic_dispatch"),
        Field("generators", "a", "list of numbers", REQUIRED, units="$/MW²h",
              help="quadratic cost coefficient of each generator", range=">= 0",
              example=[0.0008, 0.0012, 0.005]),
        Field("generators", "b", "list of numbers", REQUIRED, units="$/MWh",
              help="linear cost coefficient, one per generator", example=[12.0, 18.0, 25.0]),
        Field("generators", "pmin", "list of numbers", REQUIRED, units="MW",
              help="minimum output, one per generator", range=">= 0, <= pmax", example=[1500.0, 500.0, 0.0]),
        Field("generators", "pmax", "list of numbers", REQUIRED, units="MW",
              help="maximum output, one per generator", range="> 0", example=[5000.0, 3000.0, 2500.0]),
        Field("generators", "ramp", "list of numbers", REQUIRED, units="MW/h",
              help="largest change of output between hours, one per generator", range="> 0",
              example=[800.0, 600.0, 1200.0]),
        Field("data", "file", "file", REQUIRED, help="hourly load CSV: a path relative to the instance "
              "file or a shipped dataset's name", example="eia930_bpat_2019"),
        Field("data", "time_column", "string", "hour_ending_utc", help="column of UTC time stamps"),
        Field("data", "value_column", "string", "demand_mw_cleaned", units="MW", help="column of the load"),
        Field("data", "day", "date", REQUIRED, help="the local calendar day dispatched (YYYY-MM-DD), its hours "
              "chosen by day_convention", example="2019-06-12"),
        Field("data", "timezone", "string", "America/Los_Angeles", help="IANA time zone of the day"),
        Field("data", "day_convention", "string", "label", choices=("label", "interval"),
              help="'label': the rows whose local stamp is dated day (an hour-ending file: 00:00 … 23:00, the "
              "first hour belonging to the day before); 'interval': the hours whose interval lies inside the "
              "day (hour-ending stamps 01:00 … 00:00 of the next day)"),
    ),
    sections={"generators": "one entry per generator in every list (equal lengths)",
              "data": "the hourly load to serve"},
)
