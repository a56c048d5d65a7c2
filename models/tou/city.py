"""City scale TOU study: 5000 households, 10 sellers, 365 days, one pricing game per seller-day.

Population (documented variation of the real data, seeded): household ``i``
belongs to seller ``i mod sellers``; it draws a real household series
(``hue``, ``uci`` or ``openmv``, weights in ``[city].source_weights``), a
starting day in it, a level factor ``exp(N(0, scale_sigma))`` and a clock
shift of ``-1``, ``0`` or ``+1`` h (``shift_hours``); its base load on day ``d``
is that series' day ``offset + d`` (cycled) times the factor, rolled by the
shift.  Devices are drawn independently: PV (7 kW × U(0.5, 1)) with
probability ``pv_share``, a battery (6 kWh, 3 kW) with ``battery_share``, an
EV (17 kWh, 3.4 kW, SoC ≥ 40 %, 8 → 15 kWh, plugged 17-24 h) with
``ev_share``; every household has the shared ``[[followers.devices]]``.

Per seller-day (:func:`solve_seller_day`):

1. features of the 500 base-load profiles (:func:`~gridgames.forecasting.clustering.profile_features`)
   → fuzzy C-means, the number of classes chosen by Xie-Beni (or PC) among ``classes``;
2. one representative follower per class, weighted by the class size: the
   class's *average household* (mean base profile, device ratings averaged over
   the members: a fleet of identical LP batteries/EVs/PV aggregates exactly;
   the comfort and the 15 % limit on the average are the approximation);
3. load scenarios: the seller's total base load on the previous
   ``scenario_days`` days minus their mean;
4. the game solved by the exact method (linear comfort) or the GA;
5. one JSON file ``seller_SS/day_DDD.json`` written atomically, so a rerun
   skips what is done.  Each file carries the fingerprint of the city's inputs
   (every field but ``workers``) and the code version; a file with another
   fingerprint (stale), an empty, truncated or wrongly shaped one is solved
   again, and the run's notes count them by reason.

Seller-days run in a process pool (``workers``) with a tqdm progress bar.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgames.forecasting.clustering import choose_classes, profile_features
from gridgames.models.households.model import Household
from gridgames.models.households.devices import EV, PV, Battery, Device
from gridgames.models.households.config import household_from_dict
from gridgames.models.instance import Instance, InstanceError
from gridgames.models.report import RunReport, atomic_write_text, fingerprint, read_record
from gridgames.models.tou.config import FIELDS, seller_params
from gridgames.data.households import SOURCES, daily_profiles
from gridgames.models.tou.model import TouParams
from gridgames.models.tou.solve import METHODS, GAOptions, solve_tou
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)



@dataclass
class CityConfig:
    """A parsed city instance (see the module docstring for the fields)."""

    households: int = 5000
    sellers: int = 10
    days: int = 365
    seed: int = 7
    source_weights: dict[str, float] = field(default_factory=lambda: {"hue": 0.5, "uci": 0.3, "openmv": 0.2})
    scale_sigma: float = 0.25
    shift_hours: int = 1
    pv_share: float = 0.3
    battery_share: float = 0.15
    ev_share: float = 0.2
    classes: list[int] = field(default_factory=lambda: [2, 3, 4])
    validity_index: str = "xb"
    scenario_days: int = 14
    method: str = "strong-duality"
    workers: int = 2
    mip_gap: float = 1e-4
    ga: GAOptions = field(default_factory=lambda: GAOptions(12, 10))
    seller: dict[str, Any] = field(default_factory=dict)
    comfort: float = 400.0
    comfort_linear: float = 1.0
    shift_limit: float = 0.15
    feed_in: float = 0.4
    shared_devices: list[Device] = field(default_factory=list)

    def params(self, scenarios: np.ndarray) -> TouParams:
        linear = self.method in ("strong-duality", "kkt-bigm")
        return TouParams(**self.seller, scenarios=scenarios,
                         comfort=self.comfort_linear if linear else self.comfort,
                         comfort_form="linear" if linear else "quadratic")


def load_city(instance: Instance) -> CityConfig:
    """Parse ``[city]``, ``[seller]`` and ``[followers]`` of a city instance (field paths in errors)."""
    chk = instance.checker()
    chk.declared_keys(FIELDS, ["", "city", "followers"], variant="city")
    d = CityConfig()
    ints = {"households": 1, "sellers": 1, "days": 1, "seed": None, "shift_hours": 0, "scenario_days": 2,
            "workers": 1}
    values: dict[str, Any] = {}
    for key, lo in ints.items():
        values[key] = chk.number("city", key, getattr(d, key), integer=True, ge=lo)
    for key in ("pv_share", "battery_share", "ev_share"):
        values[key] = chk.number("city", key, getattr(d, key), ge=0, le=1)
    values["scale_sigma"] = chk.number("city", "scale_sigma", d.scale_sigma, ge=0)
    values["mip_gap"] = chk.number("city", "mip_gap", d.mip_gap, gt=0, lt=1)
    values["method"] = chk.string("city", "method", d.method, choices=METHODS)
    values["validity_index"] = chk.string("city", "validity_index", d.validity_index, choices=["xb", "pc"])
    classes = chk.numbers("city", "classes", d.classes, ge=2)
    if classes is not None and not all(float(c).is_integer() for c in classes):
        chk.fail("[city].classes", "must be whole numbers >= 2")
    values["classes"] = None if classes is None else [int(c) for c in classes]
    weights = chk.raw("city", "source_weights", d.source_weights)
    if not isinstance(weights, dict) or not weights or any(
            k not in SOURCES or not isinstance(v, (int, float)) or v < 0 for k, v in weights.items()) \
            or sum(weights.values()) <= 0:
        chk.fail("[city].source_weights", f"must map sources ({', '.join(SOURCES)}) to weights >= 0, "
                                          f"not all zero; got {weights!r}")
    values["source_weights"] = weights
    if values["households"] is not None and values["sellers"] is not None:
        chk.check(values["households"] >= 2 * values["sellers"] * 2, "[city].households",
                  f"need at least 4 households per seller for the clustering, got {values['households']}")
    values["ga"] = GAOptions(chk.number("city", "ga_pop_size", 12, integer=True, ge=4) or 12,
                             chk.number("city", "ga_generations", 10, integer=True, ge=1) or 10)
    seller = seller_params(chk)
    values["comfort"] = chk.number("followers", "comfort", gt=0)
    for key in ("comfort_linear", "shift_limit"):
        values[key] = chk.number("followers", key, FIELDS.default("followers", key), gt=0)
    values["feed_in"] = chk.number("followers", "feed_in", FIELDS.default("followers", "feed_in"), ge=0)
    shared = chk.raw("followers", "devices", [])
    devices: list[Device] = []
    if not isinstance(shared, list):
        chk.fail("[followers].devices", "must be an array of tables")
    else:
        try:
            devices = household_from_dict({"followers": {"name": "shared", "devices": shared}},
                                          section="followers", source=str(instance.path)).devices
        except InstanceError as exc:
            chk.problems += exc.problems
    chk.raise_if_any()
    return dataclasses.replace(d, **values, seller=seller, shared_devices=devices)


# ---------------------------------------------------------------------------
# population
# ---------------------------------------------------------------------------
@dataclass
class Population:
    """Per household: seller, source, offset, level factor, clock shift, device ratings."""

    seller: np.ndarray
    source: np.ndarray       # index into SOURCE_ORDER
    offset: np.ndarray
    factor: np.ndarray
    shift: np.ndarray
    pv_kw: np.ndarray
    battery_kwh: np.ndarray
    ev: np.ndarray           # 0/1


SOURCE_ORDER = tuple(SOURCES)


def make_population(cfg: CityConfig) -> Population:
    """Draw the city's households (deterministic for ``cfg.seed``)."""
    rng = np.random.default_rng(cfg.seed)
    n = cfg.households
    w = np.array([cfg.source_weights.get(s, 0.0) for s in SOURCE_ORDER], float)
    source = rng.choice(len(SOURCE_ORDER), size=n, p=w / w.sum())
    lengths = np.array([daily_profiles(s)[0].shape[0] for s in SOURCE_ORDER])
    return Population(seller=np.arange(n) % cfg.sellers, source=source,
                      offset=rng.integers(0, lengths[source]),
                      factor=np.exp(rng.normal(0.0, cfg.scale_sigma, n)),
                      shift=rng.integers(-cfg.shift_hours, cfg.shift_hours + 1, n),
                      pv_kw=np.where(rng.random(n) < cfg.pv_share, 7.0 * rng.uniform(0.5, 1.0, n), 0.0),
                      battery_kwh=np.where(rng.random(n) < cfg.battery_share, 6.0, 0.0),
                      ev=(rng.random(n) < cfg.ev_share).astype(float))


def base_loads(pop: Population, members: np.ndarray, day: int) -> np.ndarray:
    """(len(members), 24) base loads (kW) of the given households on ``day`` (may be negative: history)."""
    out = np.empty((members.size, 24))
    for k, name in enumerate(SOURCE_ORDER):
        sel = pop.source[members] == k
        if not sel.any():
            continue
        arr = daily_profiles(name)[0]
        idx = members[sel]
        rows = arr[(pop.offset[idx] + day) % arr.shape[0]]
        out[sel] = rows * pop.factor[idx, None]
    for s in np.unique(pop.shift[members]):
        sel = pop.shift[members] == s
        out[sel] = np.roll(out[sel], int(s), axis=1)
    return out


def representative(cfg: CityConfig, name: str, base: np.ndarray, pv_kw: float, battery_kwh: float,
                   ev_share: float) -> Household:
    """The average household of a class (device ratings averaged over its members)."""
    devices: list[Device] = list(cfg.shared_devices)
    if pv_kw > 1e-9:
        devices.append(PV("pv", peak_kw=pv_kw))
    if battery_kwh > 1e-9:
        devices.append(Battery("battery", capacity=battery_kwh, p_max=battery_kwh / 2.0))
    if ev_share > 1e-9:
        devices.append(EV("ev", capacity=17.0 * ev_share, p_max=3.4 * ev_share, arrival=17, departure=24,
                          energy_arrival=8.0 * ev_share, energy_departure=15.0 * ev_share))
    return Household(name, devices, base_load=base, comfort=cfg.comfort, shift_limit=cfg.shift_limit,
                     feed_in=cfg.feed_in)


# ---------------------------------------------------------------------------
# one seller-day
# ---------------------------------------------------------------------------
def solve_seller_day(cfg: CityConfig, pop: Population, seller: int, day: int) -> dict[str, Any]:
    """Cluster, build the class followers, solve the seller's game for one day; a JSON-able row."""
    start = time.perf_counter()
    members = np.flatnonzero(pop.seller == seller)
    loads = base_loads(pop, members, day)
    fcm, table = choose_classes(profile_features(loads), [c for c in cfg.classes if c <= members.size],
                                index=cfg.validity_index, seed=cfg.seed + day)
    labels = fcm.labels
    households, weights = [], []
    for k in range(fcm.centers.shape[0]):
        sel = labels == k
        if not sel.any():
            continue
        idx = members[sel]
        households.append(representative(cfg, f"s{seller}c{k}", loads[sel].mean(axis=0),
                                         float(pop.pv_kw[idx].mean()), float(pop.battery_kwh[idx].mean()),
                                         float(pop.ev[idx].mean())))
        weights.append(float(sel.sum()))
    history = np.array([base_loads(pop, members, day - j).sum(axis=0) for j in range(1, cfg.scenario_days + 1)])
    scenarios = history - history.mean(axis=0)
    cluster_time = time.perf_counter() - start
    exact = cfg.method in ("strong-duality", "kkt-bigm")
    sol = solve_tou(households, weights, cfg.params(scenarios), cfg.method, ga=cfg.ga,
                    solver_options={"mip_gap": cfg.mip_gap} if exact else None)
    return {"seller": seller, "day": day, "classes": int(len(households)), "class_sizes": weights,
            "pc": fcm.pc, "xb": fcm.xb, "prices": sol.prices, "objective": sol.objective,
            "expected_revenue": sol.expected_revenue, "variance": sol.variance, "cvar95": sol.cvar95,
            "shifted_kwh": sol.shifted_kwh, "solve_time": sol.time, "cluster_time": cluster_time,
            "wall_time": time.perf_counter() - start, "status": sol.status, "method": cfg.method,
            "max_follower_gap": sol.follower_gap,
            "mean_satisfaction": float(np.average([o.satisfaction for o in sol.outcomes], weights=weights))}


def result_path(out: Path, seller: int, day: int) -> Path:
    return Path(out) / f"seller_{seller:02d}" / f"day_{day:03d}.json"


_WORKER: tuple[CityConfig, Population] | None = None


def _init(cfg: CityConfig, pop: Population) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER = (cfg, pop)


#: Keys every complete seller-day record has (a record without one of them is solved again).
RECORD_KEYS = ("seller", "day", "status", "prices", "objective", "method", "fingerprint")


def city_fingerprint(cfg: CityConfig) -> str:
    """The fingerprint of everything that changes a seller-day result (not ``workers``)."""
    return fingerprint(dataclasses.replace(cfg, workers=1))


def _task(seller: int, day: int, out: str) -> dict[str, Any]:
    assert _WORKER is not None
    cfg, pop = _WORKER
    try:
        row = {**solve_seller_day(cfg, pop, seller, day), "fingerprint": city_fingerprint(cfg)}
    except Exception as exc:  # recorded, the run goes on; the failure is in the summary
        row = {"seller": seller, "day": day, "status": "error", "error": f"{type(exc).__name__}: {exc}"}
        return row
    atomic_write_text(result_path(Path(out), seller, day), json.dumps(row))
    return row


def run_seller_days(cfg: CityConfig, out: str | Path, *, days: range | None = None,
                    sellers: range | None = None, workers: int | None = None, progress: bool = True
                    ) -> tuple[list[dict[str, Any]], float, int, dict[str, int]]:
    """Solve every (seller, day) without a reusable record on disk.

    Returns
    -------
    rows, wall, solved, redone
        Rows (reused and new), wall time (s), seller-days solved now, and how many
        records on disk were not reused, by reason (``stale``, ``empty``, ``truncated``,
        ``wrong shape``; see :func:`~gridgames.models.report.read_record`).
    """
    out = Path(out)
    days = range(cfg.days) if days is None else days
    sellers = range(cfg.sellers) if sellers is None else sellers
    pop = make_population(cfg)
    expected = city_fingerprint(cfg)
    todo, rows, redone = [], [], {}
    for d in days:
        for s in sellers:
            record, why = read_record(result_path(out, s, d), expected, RECORD_KEYS)
            if record is not None and (record["seller"], record["day"]) == (s, d):
                rows.append(record)
                continue
            if why != "missing":
                why = why or "wrong shape"
                log.warning("seller %d day %d: %s record in %s, solving again", s, d, why, out)
                redone[why] = redone.get(why, 0) + 1
            todo.append((s, d))
    start = time.perf_counter()
    n_workers = workers or cfg.workers
    from tqdm.auto import tqdm
    bar = tqdm(total=len(todo), desc="seller-days", unit="game", disable=not progress)
    if n_workers <= 1:
        _init(cfg, pop)
        for s, d in todo:
            rows.append(_task(s, d, str(out)))
            bar.update(1)
    else:
        import multiprocessing as mp
        with ProcessPoolExecutor(n_workers, mp_context=mp.get_context("fork"), initializer=_init,
                                 initargs=(cfg, pop)) as pool:
            futures = [pool.submit(_task, s, d, str(out)) for s, d in todo]
            for fut in as_completed(futures):
                rows.append(fut.result())
                bar.update(1)
    bar.close()
    return rows, time.perf_counter() - start, len(todo), redone


def summarise(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Per seller: mean prices, objective, classes, times; failures counted."""
    ok = [r for r in rows if r.get("status") not in ("error", None)]
    if not ok:
        return pd.DataFrame()
    frame = pd.DataFrame([{**{k: v for k, v in r.items() if k not in ("prices", "class_sizes")},
                           **{f"p_{k}": v for k, v in r["prices"].items()}} for r in ok])
    cols = [c for c in frame.columns if c.startswith("p_")] + [
        "objective", "expected_revenue", "shifted_kwh", "classes", "xb", "mean_satisfaction", "solve_time",
        "wall_time"]
    table = frame.groupby("seller")[cols].mean()
    table["days"] = frame.groupby("seller").size()
    return table


def run_city(instance: Instance, *, method: str | None = None, solver: str | None = None,
             out: str | Path | None = None) -> RunReport:
    """Run (or resume) the whole city year; per seller-day JSON files under ``out``."""
    cfg = load_city(instance)
    if method is not None:
        cfg = dataclasses.replace(cfg, method=method)
    if solver is not None:
        raise ModelError("tou_pricing city: --solver is not used (exact methods pick SCIP, the GA HiGHS)")
    if out is None:
        raise ModelError("tou_pricing city: give --out DIR (results are written per seller-day so a rerun resumes)")
    rows, wall, solved, redone = run_seller_days(cfg, out)
    errors = [r for r in rows if r.get("status") == "error"]
    table = summarise(rows)
    notes = [f"{len(rows) - len(errors)} seller-days on disk ({solved} solved in this run, {wall:.1f} s wall "
             f"with {cfg.workers} workers); method {cfg.method}"]
    if redone:
        notes.append(f"{sum(redone.values())} stored seller-day records not reused and solved again ("
                     + ", ".join(f"{n} {why}" for why, n in sorted(redone.items())) + ")")
    if errors:
        notes.append(f"{len(errors)} seller-days failed (not in the table's means; a rerun solves them again), "
                     f"first: seller {errors[0]['seller']} day {errors[0]['day']}: {errors[0]['error']}")
        if not table.empty:
            failed = pd.Series([r["seller"] for r in errors]).value_counts()
            table["failed_days"] = failed.reindex(table.index, fill_value=0).astype(int)
    return RunReport(title=f"{instance.name}: {cfg.households} households, {cfg.sellers} sellers, "
                           f"{cfg.days} days", tables={"sellers": table}, notes=notes, failures=len(errors))
