"""Declared instance fields of the ``tou_pricing`` family: the community (``[data]``, ``[[users]]``,
``[solve]``) and the city (``[city]``) shapes share ``[seller]`` and ``[followers]``."""
from __future__ import annotations

from gridgames.data.households import SOURCES
from gridgames.models.households.fields import device_fields
from gridgames.models.schema import REQUIRED, Field, Schema, envelope

METHODS = ("nested", "strong-duality", "kkt-bigm", "kkt")
EXACT_METHODS = ("strong-duality", "kkt-bigm")
_HOURS = "list of hours 0-23"
_COM, _CITY = "community", "city"


def _c(key: str, type_: str, default: object, help_: str, **kw: object) -> Field:
    return Field("city", key, type_, default, help=help_, variant=_CITY, **kw)


def _s(key: str, type_: str, default: object, help_: str, **kw: object) -> Field:
    return Field("solve", key, type_, default, help=help_, variant=_COM, **kw)


def _u(key: str, type_: str, default: object, help_: str, **kw: object) -> Field:
    return Field("users", key, type_, default, help=help_, variant=_COM, **kw)


FIELDS = Schema(
    "tou_pricing",
    "TOU peak/valley pricing: a seller (mean-variance revenue) against household followers (device schedules)",
    (
        *envelope("tou_pricing"),
        Field("seller", "p_min", "number", 0.5, units="yuan/kWh", help="lowest price", range="> 0"),
        Field("seller", "p_max", "number", 2.0, units="yuan/kWh", help="highest price", range=">= p_min"),
        Field("seller", "p_avg_max", "number", REQUIRED, units="yuan/kWh", help="cap of the time-average price",
              range=">= p_min", example=1.0),
        Field("seller", "risk_aversion", "number", 1.0, help="β of the mean-variance revenue", range=">= 0"),
        Field("seller", "cost", "number or 24 numbers", 0.0, units="yuan/kWh", help="seller's purchase cost",
              range=">= 0"),
        Field("seller", "valley_hours", _HOURS, REQUIRED, help="hours of the valley price",
              example=[0, 1, 2, 3, 4, 5, 6, 7, 23]),
        Field("seller", "peak_hours", _HOURS, REQUIRED, help="hours of the peak price",
              example=list(range(8, 23))),
        Field("seller", "shoulder_hours", _HOURS, None, help="hours of a third (shoulder) price; the periods "
              "cover every hour once"),
        Field("followers", "comfort", "number", REQUIRED, help="ω of the quadratic comfort", range="> 0",
              example=400.0),
        Field("followers", "comfort_linear", "number", 1.0, help="ω_lin of the linear comfort (exact LP route)",
              range="> 0"),
        Field("followers", "shift_limit", "number", 0.15, help="largest hourly shift, share of the "
              "controllable load", range="> 0"),
        Field("followers", "feed_in", "number", 0.0, units="yuan/kWh", help="price paid for exports",
              range=">= 0"),
        Field("followers", "devices", "array of tables", [], help="devices every household has "
              "([[followers.devices]])"),
        *device_fields("followers.devices"),
        Field("data", "source", "string", REQUIRED, choices=tuple(sorted(SOURCES)), variant=_COM,
              help="real household load files of the base profiles", example="openmv"),
        Field("data", "first_day", "date", None, variant=_COM, help="first day of the profiles, a TOML date or "
              "\"YYYY-MM-DD\" within the file's complete days (absent: the file's first)"),
        Field("data", "days", "integer", 28, variant=_COM, units="days", help="days of profiles (scenarios)",
              range="> 1"),
        Field("data", "scenario_scale", "number", 1.0, variant=_COM, help="scale of the load scenarios",
              range=">= 0"),
        _u("name", "string", None, "user name (absent: U1, U2, ...)"),
        _u("weight", "number", 1.0, "households this user stands for (its purchases count weight times)",
           range="> 0"),
        _u("base_load", "24 numbers", None, "the user's own base (preferred) load, overriding the profile mean "
           "of [data]", units="kW", range=">= 0"),
        _u("base_scale", "number", 1.0, "multiplies the user's base load", range=">= 0"),
        _u("comfort_scale", "number", 1.0, "multiplies ω and ω_lin for this user (discomfort weight)",
           range=">= 0"),
        _u("shift_limit", "number", None, "overrides [followers].shift_limit", range="> 0"),
        _u("feed_in", "number", None, "overrides [followers].feed_in", units="yuan/kWh", range=">= 0"),
        _u("devices", "array of tables", [], "the user's own devices ([[users.devices]], same keys as "
           "[[followers.devices]])"),
        _s("exact_method", "string", "strong-duality", "exact method of the GA-vs-exact comparison",
           choices=EXACT_METHODS),
        _s("ga_pop_size", "integer", 20, "GA population", range=">= 4"),
        _s("ga_generations", "integer", 25, "GA generations", range=">= 1"),
        _s("ga_seed", "integer", 1, "GA seed"),
        _s("ga_polish", "integer", 0, "Powell evaluations after the GA (0: the paper's pure GA)", range=">= 0"),
        _s("sweep_method", "string", "nested", "method of the sweeps", choices=METHODS),
        _s("sweep_pop_size", "integer", 12, "GA population of the sweeps", range=">= 4"),
        _s("sweep_generations", "integer", 10, "GA generations of the sweeps", range=">= 1"),
        _s("comfort_sweep", "list of numbers", [], "comfort values of Figure 3 ([]: no sweep)", range="> 0"),
        _s("risk_sweep", "list of numbers", [], "risk aversions of Figure 4 ([]: no sweep)", range=">= 0"),
        _c("households", "integer", 5000, "households of the city", range=">= 4 per seller"),
        _c("sellers", "integer", 10, "sellers", range=">= 1"),
        _c("days", "integer", 365, "days played", range=">= 1"),
        _c("seed", "integer", 7, "seed of the population"),
        _c("source_weights", "table", {"hue": 0.5, "uci": 0.3, "openmv": 0.2}, "weights of the household "
           "sources"),
        _c("scale_sigma", "number", 0.25, "σ of the log-normal level factor", range=">= 0"),
        _c("shift_hours", "integer", 1, "largest clock shift of a household", units="h", range=">= 0"),
        _c("pv_share", "number", 0.3, "share of households with PV", range="0 to 1"),
        _c("battery_share", "number", 0.15, "share with a battery", range="0 to 1"),
        _c("ev_share", "number", 0.2, "share with an EV", range="0 to 1"),
        _c("classes", "list of integers", [2, 3, 4], "fuzzy C-means class counts tried", range=">= 2"),
        _c("validity_index", "string", "xb", "choice of the class count", choices=("xb", "pc")),
        _c("scenario_days", "integer", 14, "previous days of the load scenarios", units="days", range=">= 2"),
        _c("method", "string", "strong-duality", "method of each seller-day", choices=METHODS),
        _c("workers", "integer", 2, "worker processes", range=">= 1"),
        _c("ga_pop_size", "integer", 12, "GA population (method nested)", range=">= 4"),
        _c("ga_generations", "integer", 10, "GA generations (method nested)", range=">= 1"),
        _c("mip_gap", "number", 1e-4, "relative MIP gap", range="0 < x < 1"),
    ),
    sections={"seller": "prices, periods and risk of the seller",
              "followers": "settings every household shares",
              "followers.devices": "devices every household has (keys by device type)",
              "data": "community: the real load profiles and scenarios",
              "users": "community: one entry per user (household), with its own devices and overrides",
              "users.devices": "a user's own devices",
              "solve": "community: GA budget, exact method, sweeps",
              "city": "city shape: its presence switches to 5000 households x 10 sellers x 365 days"},
    tables=("users", "followers.devices"),
    examples={"users": [{"name": "U1", "devices": [{"type": "pv", "name": "pv", "peak_kw": 7.0}]},
                        {"name": "U2", "weight": 2.0, "comfort_scale": 0.5,
                         "devices": [{"type": "battery", "name": "battery", "capacity": 6.0, "p_max": 3.0}]}],
              "followers.devices": [{"type": "interruptible", "name": "washer", "energy": 1.5, "start": 10,
                                     "end": 24, "p_max": 1.5}]},
)
