"""Declared instance fields of the ``rtp`` family (read by :mod:`~gridgames.models.rtp.config`)."""
from __future__ import annotations

from gridgames.models.rtp.config import RTPConfig
from gridgames.models.rtp.objectives import Welfare
from gridgames.models.rtp.pricing import PriceRule
from gridgames.models.schema import REQUIRED, Field, Schema, envelope

_C, _R, _W = RTPConfig, PriceRule, Welfare
_INT = "integer"

FIELDS = Schema(
    "rtp", "real-time pricing from day-ahead load forecasts; household planning units, incentives, Pareto fronts",
    (
        *envelope("rtp"),
        Field("data", "load_file", "file", REQUIRED, help="hourly load CSV (path or shipped dataset name)",
              example="pjm_dayton"),
        Field("data", "load_time", "string", _C.load_time, help="column of local hour stamps"),
        Field("data", "load_column", "string", _C.load_column, units="MW", help="column of the load"),
        Field("data", "price_file", "file", REQUIRED, help="hourly day-ahead price CSV (path or dataset name)",
              example="prices_be_dayahead"),
        Field("data", "price_time", "string", _C.price_time, help="column of local hour stamps"),
        Field("data", "price_column", "string", _C.price_column, units="EUR/MWh", help="column of the price"),
        Field("data", "load_timezone", "string", _C.load_timezone, help="IANA time zone of load stamps without "
              "a UTC offset (only its autumn clock-change hour may repeat)"),
        Field("data", "price_timezone", "string", None, help="IANA time zone of price stamps without a UTC "
              "offset (its clock-change days have 23 / 25 hours; without it every day needs 00:00-23:00)"),
        Field("data", "week_start", "date", _C.week_start, help="first day of the load week forecast"),
        Field("data", "price_week_start", "date", _C.price_week_start,
              help="first day of the price week (clearing price A0 per day)"),
        Field("data", "days", _INT, _C.days, units="days", help="days of the week solved", range="1 to 7"),
        Field("data", "eur_to_usd", "number", _C.eur_to_usd, units="USD/EUR", help="fixed exchange rate",
              range="> 0"),
        Field("data", "forecaster", "string", _C.forecaster, help="day-ahead load forecaster"),
        Field("data", "history_days", _INT, _C.history_days, units="days", help="history before each day",
              range=">= 14"),
        Field("data", "n_estimators", _INT, _C.n_estimators, help="trees of the random-forest forecaster",
              range=">= 1"),
        Field("price", "mu", "3 numbers", list(_R.mu), help="μ1 < μ2 < μ3 of the price rule (eq. 4)"),
        Field("price", "bands", "2 numbers", list(_R.bands), help="|P_L - P0| / P0 band edges", range="> 0"),
        Field("price", "f_range", "2 numbers", [_R.f_low, _R.f_high], help="government range F of the change"),
        Field("price", "deadband", "number", _R.deadband, help="fluctuations under this share of A0 ignored",
              range="0 <= x < 1"),
        Field("step_tariff", "edges", "list of numbers", list(_C.step_edges), units="kWh/day",
              help="increasing block edges of daily energy", range="> 0"),
        Field("step_tariff", "multipliers", "list of numbers", list(_C.step_multipliers),
              help="len(edges) + 1 non-decreasing multipliers of the week's mean A0", range="> 0"),
        Field("unit", "rho", "number", _C.rho, units="$/kWh", help="priority cost per kWh moved (k = 1)",
              range=">= 0"),
        Field("unit", "appliances", "\"library\" or list of names", "library",
              help="the household's appliances (2 to 13 of the library's)"),
        Field("incentive", "lambda1", "number", _C.lambda1, help="preferential ratio (eq. 9)", range="0 <= x < 1"),
        Field("incentive", "m", _INT, _C.m_days, units="days", help="consecutive days the plan must be kept",
              range=">= 1"),
        Field("incentive", "sweep", "[start, stop, step]", list(_C.sweep), help="lambda1 sweep (stop included)"),
        Field("incentive", "comfort_value", "[low, high]", list(_C.comfort_value),
              help="daily value of the temporary use, fraction of the planned bill", range=">= 0"),
        Field("incentive", "seed", _INT, _C.seed, help="seed of the Monte Carlo draws", range=">= 0"),
        *(Field("welfare", k, "number", getattr(_W, k), help=f"welfare coefficient {k} (eqs. 11-12)",
                range=">= 0") for k in ("delta", "m", "r", "b", "c")),
        Field("district", "households", _INT, 1, help="Monte Carlo households (1: the single household)",
              range=">= 1"),
        Field("district", "processes", _INT, _C.processes, help="worker processes of the district",
              range=">= 1"),
        Field("district", "results_dir", "folder", "",
              help="chunk files of the district, relative to the instance (\"\": none); a rerun resumes"),
        Field("front", "day", _INT, _C.front_day, help="day of the Pareto fronts", range="< [data].days"),
        Field("front", "points", _INT, _C.front_points, help="ε values of the exact front (0: every point)",
              range="0 or >= 3"),
        Field("front", "pop_size", _INT, _C.front_pop, help="evaluations per generation of each heuristic",
              range=">= 4"),
        Field("front", "n_gen", _INT, _C.front_gen, help="generations of each heuristic", range=">= 1"),
    ),
    sections={"data": "the load week forecast and the day-ahead prices", "price": "the RTP rule (eq. 4)",
              "step_tariff": "the step tariff compared with RTP", "unit": "the household planning unit",
              "incentive": "the incentive scheme", "welfare": "per-household welfare (eqs. 11-12)",
              "district": "Monte Carlo households", "front": "the Pareto fronts of one day"},
)
