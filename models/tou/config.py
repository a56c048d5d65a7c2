"""Instance sections of the TOU model family, checked field by field.

``[seller]`` (prices, periods, risk), ``[followers]`` (comfort, shared
devices), ``[data]`` (real load profiles and scenarios), ``[[users]]`` (each
user's own devices) and ``[solve]`` (methods, GA budget, sweeps); see
``instances/tou_community.toml``.  Every problem is reported with its field
path in one :class:`~gridgames.models.instance.InstanceError`.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gridgames.models.households.model import Household
from gridgames.models.households.config import household_from_dict
from gridgames.models.instance import Checker, Instance, InstanceError
from gridgames.data.households import SOURCES, daily_profiles, parse_first_day
from gridgames.models.tou.fields import EXACT_METHODS, FIELDS, METHODS
from gridgames.models.tou.model import TouParams

log = logging.getLogger(__name__)

#: solution methods of the family (``solve.solve_tou``); the exact ones solve the linear-comfort LP route
__all__ = ["EXACT_METHODS", "METHODS", "FIELDS", "GAOptions", "TouCommunity", "load_community", "seller_params"]


@dataclass
class GAOptions:
    """Budget of the elitist GA (``polish`` = Powell evaluations after it, 0 = the paper's pure GA)."""

    pop_size: int = 20
    n_gen: int = 25
    seed: int = 1
    polish: int = 0


@dataclass
class TouCommunity:
    """A parsed community instance."""

    households: list[Household]
    weights: list[float]
    params: TouParams                 # quadratic comfort (the paper's)
    comfort_linear: float
    exact_method: str = "strong-duality"
    ga: GAOptions = field(default_factory=GAOptions)
    sweep_method: str = "nested"
    sweep_ga: GAOptions = field(default_factory=lambda: GAOptions(12, 10))
    comfort_sweep: list[float] = field(default_factory=list)
    risk_sweep: list[float] = field(default_factory=list)
    base_days: list[str] = field(default_factory=list)

    def linear_params(self) -> TouParams:
        """The same game with the absolute-deviation comfort (exact LP route)."""
        return dataclasses.replace(self.params, comfort=self.comfort_linear, comfort_form="linear")


def seller_params(chk: Checker, section: str = "seller") -> dict[str, Any] | None:
    """Price range, caps, risk, cost and periods of ``[seller]`` (None when invalid)."""
    chk.unknown_keys(section, FIELDS.keys("seller"))
    p_min = chk.number(section, "p_min", 0.5, gt=0)
    p_max = chk.number(section, "p_max", 2.0, gt=0)
    p_avg = chk.number(section, "p_avg_max", gt=0)
    beta = chk.number(section, "risk_aversion", 1.0, ge=0)
    raw_cost = chk.raw(section, "cost", 0.0)
    cost = chk.numbers(section, "cost", ge=0) if isinstance(raw_cost, list) else chk.number(section, "cost", 0.0, ge=0)
    if isinstance(cost, np.ndarray) and cost.size != 24:
        chk.fail(f"[{section}].cost", f"must be one number or 24 hourly values, got {cost.size}")
        cost = None
    if p_min is not None and p_max is not None:
        chk.check(p_min <= p_max, f"[{section}].p_max", f"must be >= p_min ({p_min:g}), got {p_max:g}")
        if p_avg is not None:
            chk.check(p_min <= p_avg, f"[{section}].p_avg_max",
                      f"must be >= p_min ({p_min:g}) or no price is feasible, got {p_avg:g}")
    periods: dict[str, list[int]] = {}
    for name in ("valley", "peak", "shoulder"):
        key = f"{name}_hours"
        if name == "shoulder" and key not in chk.section(section, required=False):
            continue
        hours = chk.numbers(section, key, ge=0, le=23, integer=True)
        if hours is None:
            continue
        twice = sorted({int(h) for h in hours if list(hours).count(h) > 1})
        if twice:
            chk.fail(f"[{section}].{key}", f"hour(s) {', '.join(map(str, twice))} listed twice")
            continue
        periods[name] = [int(h) for h in hours]
    if len(periods) >= 2:
        seen: dict[int, str] = {}
        for name, hours in periods.items():
            for h in hours:
                if h in seen:
                    chk.fail(f"[{section}].{name}_hours", f"hour {h} is also in {seen[h]}_hours")
                seen[h] = name
        missing = sorted(set(range(24)) - set(seen))
        chk.check(not missing, f"[{section}].peak_hours", f"hours {missing} are in no price period")
    if chk.problems:
        return None
    return dict(periods=periods, p_min=p_min, p_max=p_max, p_avg_max=p_avg, risk_aversion=beta,
                cost=np.broadcast_to(np.asarray(cost, float), (24,)).copy())


def _users(chk: Checker, shared: list[dict], followers: dict[str, Any], base: np.ndarray | None,
           source: str) -> tuple[list[Household], list[float], list[float]]:
    """The ``[[users]]`` households with their overrides; their weights and comfort scales."""
    users = chk.raw(None, "users")
    if users is None:
        return [], [], []
    if not isinstance(users, list) or not users or not all(isinstance(u, dict) for u in users):
        chk.fail("[[users]]", "must be a non-empty array of tables")
        return [], [], []
    out, weights, scales = [], [], []
    known = FIELDS.keys("users")
    names: dict[str, int] = {}
    for i, user in enumerate(users):
        label = f"users[{i}]"
        name = user.get("name", f"U{i + 1}") if isinstance(user, dict) else None
        if name in names:   # the tables are indexed by name: two users of one name would merge
            chk.fail(f"[{label}].name", f"{name!r} is also the name of users[{names[name]}]: names must differ")
        names.setdefault(name, i)
        sub = Checker({label: user}, source)
        sub.unknown_keys(label, known)
        own = user.get("devices", [])
        if not isinstance(own, list):
            sub.fail(f"[{label}].devices", "must be an array of device tables")
        weight = sub.number(label, "weight", FIELDS.default("users", "weight"), gt=0)
        scale = sub.number(label, "comfort_scale", FIELDS.default("users", "comfort_scale"), ge=0)
        base_scale = sub.number(label, "base_scale", FIELDS.default("users", "base_scale"), ge=0)
        own_base = sub.numbers(label, "base_load", None, length=24, ge=0)
        overrides = {k: v for k in ("shift_limit", "feed_in")
                     if (v := sub.number(label, k, None, **({"gt": 0} if k == "shift_limit" else {"ge": 0})))
                     is not None}
        chk.problems += sub.problems
        if sub.problems:
            continue
        table = {"name": user.get("name", f"U{i + 1}"), "devices": shared + own, **followers, **overrides}
        profile = own_base if own_base is not None else base
        if profile is not None:
            table["base_load"] = [float(v) * base_scale for v in profile]
        labels = ([f"followers.devices[{j}]" for j in range(len(shared))]
                  + [f"{label}.devices[{j}]" for j in range(len(own))])
        try:
            out.append(household_from_dict({label: table}, section=label, source=source, device_labels=labels))
        except InstanceError as exc:   # a shared device's problem is the same for every user: once
            chk.problems += [p for p in exc.problems if p not in chk.problems]
            continue
        weights.append(float(weight))
        scales.append(float(scale))
    return out, weights, scales


def _int(value: Any, default: int) -> int:
    return default if value is None else int(value)


def load_community(instance: Instance) -> TouCommunity:
    """Parse a ``tou_pricing`` community instance.

    Raises
    ------
    InstanceError
        Every problem with its field path (``[seller].p_avg_max: ...``).
    """
    chk = instance.checker()
    chk.declared_keys(FIELDS, ["", "followers", "data", "solve"], variant="community")
    seller = seller_params(chk)
    comfort = chk.number("followers", "comfort", gt=0)
    comfort_lin = chk.number("followers", "comfort_linear", 1.0, gt=0)
    shift = chk.number("followers", "shift_limit", 0.15, gt=0)
    feed = chk.number("followers", "feed_in", 0.0, ge=0)
    shared = chk.raw("followers", "devices", [])
    if not isinstance(shared, list) or not all(isinstance(d, dict) for d in shared):
        chk.fail("[followers].devices", "must be an array of tables ([[followers.devices]])")
        shared = []
    src = chk.string("data", "source", choices=sorted(SOURCES))
    first = chk.raw("data", "first_day", None)
    if first is not None:
        try:
            first = parse_first_day(first, "[data]")
        except InstanceError as exc:
            chk.problems += exc.problems
            first = None
    ndays = chk.number("data", "days", 28, integer=True, gt=1)
    scale = chk.number("data", "scenario_scale", 1.0, ge=0)
    exact = chk.string("solve", "exact_method", "strong-duality", choices=EXACT_METHODS)
    ga = GAOptions(chk.number("solve", "ga_pop_size", 20, integer=True, ge=4) or 20,
                   chk.number("solve", "ga_generations", 25, integer=True, ge=1) or 25,
                   _int(chk.number("solve", "ga_seed", 1, integer=True), 1),
                   chk.number("solve", "ga_polish", 0, integer=True, ge=0) or 0)
    sweep_method = chk.string("solve", "sweep_method", "nested", choices=METHODS)
    sweep_ga = GAOptions(chk.number("solve", "sweep_pop_size", 12, integer=True, ge=4) or 12,
                         chk.number("solve", "sweep_generations", 10, integer=True, ge=1) or 10, ga.seed, 0)
    comfort_sweep = chk.numbers("solve", "comfort_sweep", [], gt=0)
    risk_sweep = chk.numbers("solve", "risk_sweep", [], ge=0)
    profiles, dates = None, []
    if src is not None and ndays is not None and not chk.problems:
        try:
            profiles, dates = daily_profiles(src, first_day=first, days=ndays, field="[data]")
        except InstanceError as exc:
            chk.problems += exc.problems
    followers = {k: v for k, v in (("comfort", comfort), ("shift_limit", shift), ("feed_in", feed))
                 if v is not None}
    base = None if profiles is None else profiles.mean(axis=0)
    households, weights, scales = _users(chk, shared, followers, base, str(instance.path))
    chk.raise_if_any()
    scenarios = sum(weights) * (profiles - base) * scale
    params = TouParams(**seller, scenarios=scenarios, comfort=comfort, comfort_form="quadratic",
                       comfort_scales=tuple(scales))
    return TouCommunity(households, weights, params, comfort_lin, exact, ga, sweep_method,
                        sweep_ga, [float(v) for v in comfort_sweep], [float(v) for v in risk_sweep], dates)
