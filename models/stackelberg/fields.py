"""Declared instance fields of the ``stackelberg_pricing`` family (read by :mod:`~gridgames.models.stackelberg.config`)."""
from __future__ import annotations

from gridgames.models.schema import REQUIRED, Field, Schema, envelope
from gridgames.models.stackelberg.data import DAY_CONVENTIONS
from gridgames.models.stackelberg.params import PRICE_FLOORS, StackelbergParams, UserClass

_P, _U = StackelbergParams, UserClass

FIELDS = Schema(
    "stackelberg_pricing",
    "utility (leader) prices every hour of a day for its users (followers); Symmetry 2023, 15, 443",
    (
        *envelope("stackelberg_pricing"),
        Field("data", "files", "file or list of files", REQUIRED,
              help="hourly EIA-930 CSVs (paths relative to the instance file or shipped dataset names), "
                   "concatenated", example=["eia930_bpat_2019", "eia930_bpat_2020_2022"]),
        Field("data", "time_column", "string", "hour_ending_utc", help="column of UTC time stamps"),
        Field("data", "load_column", "string", "demand_mw_cleaned", units="MW",
              help="column of the load before the scheme (orl)"),
        Field("data", "forecast_column", "string", "demand_forecast_mw", units="MW",
              help="column of the day-ahead demand forecast (used when demand_forecast = \"eia\")"),
        Field("data", "timezone", "string", "America/Los_Angeles", help="IANA time zone of the days"),
        Field("data", "day_convention", "string", "interval", choices=DAY_CONVENTIONS,
              help="\"interval\": the hours inside the local day; \"label\": EIA's day labels"),
        Field("data", "day", "date", None, help="the day solved (YYYY-MM-DD); required unless days is given",
              example="2019-06-12"),
        Field("data", "days", "[first, last] dates", None,
              help="a range of days (inclusive) solved one by one; overrides day"),
        Field("data", "demand_forecast", "string", "eia",
              help="the demand the leader plans for: \"eia\" (the file's forecast column), \"actual\", "
                   "or a forecaster's name (`gridgames forecast`)"),
        Field("game", "a1", "number", _P.a1, units="$/MW²h", help="quadratic generation cost a1", range="> 0"),
        Field("game", "a2", "number", _P.a2, units="$/MWh", help="linear generation cost a2", range=">= 0"),
        Field("game", "a3", "number", _P.a3, units="$/h", help="fixed generation cost a3", range=">= 0"),
        Field("game", "mu", "number", _P.mu, units="$/MW²", help="load-fluctuation cost coefficient μ",
              range=">= 0"),
        Field("game", "ir", "number", _P.ir, units="$/MWh",
              help="incentive rate per MWh moved (single-day figures and multi-day runs)", range=">= 0"),
        Field("game", "r", "number", _P.r, units="$/MWh", help="price before the scheme", range="> 0"),
        Field("game", "price_floor", "string", _P.price_floor, choices=PRICE_FLOORS,
              help="reading of p_k >= C_k: revenue covers cost (average), price >= marginal cost, or none"),
        Field("users", "eta", "number", _U.eta, units="$/MWh", help="satisfaction coefficient η", range="> 0"),
        Field("users", "theta", "number", _U.theta, units="$/MW²h", help="comfort coefficient θ", range="> 0"),
        Field("users", "w1", "number", _U.w1, help="comfort weight ϖ1", range="> 0, w1 + w2 = 1"),
        Field("users", "w2", "number", _U.w2, help="economic weight ϖ2", range="> 0, w1 + w2 = 1"),
        Field("users", "alpha", "number", _U.alpha, help="absolute price elasticity α", range="> 0"),
        Field("users", "z_max", "number", _U.z_max, units="MW", help="largest consumption of the population",
              range="> 0"),
        Field("users", "share", "number", _U.share, help="share σ of the load before the scheme "
              "(several classes: shares sum to 1)", range="0 < share <= 1"),
        Field("users", "name", "string", None, help="label in tables (absent: \"users\" or \"class N\")"),
        Field("bounds", "l_min", "number", _P.l_min, units="MW", help="least aggregate consumption per hour",
              range=">= 0"),
        Field("bounds", "d_max", "number", None, units="MW",
              help="generation capacity (absent: the day's peak forecast demand)", range="> 0"),
        Field("bounds", "p_max", "number", _P.p_max, units="$/MWh", help="upper bound of the prices",
              range="> 0"),
        Field("study", "ir", "list of numbers", [0.0, 1.0, 2.0, 3.0], units="$/MWh",
              help="incentive rates of Tables 7-9", range=">= 0"),
        Field("study", "sweep", "[start, stop, step]", [0.0, 8.0, 0.1], units="$/MWh",
              help="incentive-rate sweep of Figures 11-14 (stop included)"),
    ),
    sections={"data": "the BPAT load (and forecast) and the days solved",
              "game": "the leader's costs and the price before the scheme",
              "users": "the follower population; [[users]] (an array of tables) declares several classes",
              "bounds": "bounds of the game's variables",
              "study": "the incentive rates of the tables and the sweep of the figures"},
)
