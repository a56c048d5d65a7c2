"""A district of Monte Carlo households scheduled for a week of RTP prices, in parallel and resumable.

Households are cut into chunks; a worker process builds each household's
:class:`~gridgames.models.rtp.model.PlanningUnit` once and re-solves it for every day (persistent
HiGHS, prices in mutable Params).  Each finished chunk is written atomically as JSON under the
results folder, so a rerun skips the chunks already there (same seed → same households; a
chunk file records the run's fingerprint and the code version; a stale, empty, truncated or
wrongly shaped chunk is solved again and counted in ``chunks_redone``).
"""
from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gridgames.models.report import atomic_write_text, fingerprint, read_record
from gridgames.models.rtp.appliances import ApplianceSpec, sample_households
from gridgames.models.rtp.objectives import Welfare, comfort_index
from gridgames.models.rtp.model import PlanningUnit

log = logging.getLogger(__name__)


def solve_chunk(houses: Sequence[Sequence[ApplianceSpec]], prices: np.ndarray, rho: float,
                welfare: Welfare) -> dict:
    """Schedule ``houses`` for every day of ``prices`` (days × periods, $/kWh); per-household results.

    Module-level (picklable) so worker processes can run it.
    """
    prices = np.asarray(prices, float)
    days, n = prices.shape
    out = {k: [] for k in ("bill_plan", "bill_pref", "moved", "comfort", "peak_plan", "peak_pref",
                           "welfare_plan", "welfare_pref", "n_appliances")}
    load_plan, load_pref = np.zeros((days, n)), np.zeros((days, n))
    solve_time, build_time = 0.0, 0.0
    for i, specs in enumerate(houses):
        t0 = time.perf_counter()
        unit = PlanningUnit(specs, rho=rho, name=f"h{i}")
        build_time += time.perf_counter() - t0
        rows = {k: [] for k in out if k != "n_appliances"}
        for d in range(days):
            plan, pref = unit.solve(prices[d]), unit.preferred(prices[d])
            solve_time += plan.solve_time
            load_plan[d] += plan.load
            load_pref[d] += pref.load
            rows["bill_plan"].append(plan.bill)
            rows["bill_pref"].append(pref.bill)
            rows["moved"].append(plan.moved_kwh)
            rows["comfort"].append(comfort_index(plan.on, plan.on_preferred))
            rows["peak_plan"].append(float(plan.load.max()))
            rows["peak_pref"].append(float(pref.load.max()))
            rows["welfare_plan"].append(float(welfare.welfare(plan.load)))
            rows["welfare_pref"].append(float(welfare.welfare(pref.load)))
        for k, v in rows.items():
            out[k].append(v)
        out["n_appliances"].append(len(specs))
    out.update(load_plan=load_plan.tolist(), load_pref=load_pref.tolist(), solve_time=solve_time,
               build_time=build_time, n_solves=len(houses) * days)
    return out


@dataclass
class DistrictResult:
    """Per-household arrays (households × days) and district load curves (days × periods)."""

    bill_plan: np.ndarray
    bill_pref: np.ndarray
    moved: np.ndarray
    comfort: np.ndarray
    peak_plan: np.ndarray
    peak_pref: np.ndarray
    welfare_plan: np.ndarray
    welfare_pref: np.ndarray
    n_appliances: np.ndarray
    load_plan: np.ndarray
    load_pref: np.ndarray
    wall_time: float
    solve_time: float
    n_solves: int
    chunks_reused: int
    chunks_redone: dict[str, int] = field(default_factory=dict)


#: Keys of a complete chunk record (a record missing one is solved again).
CHUNK_KEYS = ("fingerprint", "bill_plan", "bill_pref", "moved", "comfort", "peak_plan", "peak_pref",
              "welfare_plan", "welfare_pref", "n_appliances", "load_plan", "load_pref", "solve_time", "n_solves")


def chunk_fingerprint(prices: np.ndarray, rho: float, welfare: Welfare, seed: int, n: int, chunk: int) -> str:
    """Hash of everything a chunk's result depends on (and the code version)."""
    return fingerprint([np.round(prices, 12), rho, welfare, seed, n, chunk])


def run_district(n_households: int, prices: np.ndarray, *, rho: float = 0.01, welfare: Welfare | None = None,
                 seed: int = 0, processes: int = 2, chunk: int = 50, results_dir: Path | None = None,
                 specs: Sequence[ApplianceSpec] | None = None) -> DistrictResult:
    """Schedule ``n_households`` Monte Carlo households for every day of ``prices``.

    Parameters
    ----------
    n_households : int
    prices : array (days × periods)
        $/kWh.
    rho, welfare, seed
        Planning-unit priority cost, welfare parameters, Monte Carlo seed.
    processes : int
        Worker processes (1 = in this process).
    chunk : int
        Households per chunk (one result file each).
    results_dir : Path, optional
        Where chunk files go; existing matching ones are reused.
    """
    welfare = welfare or Welfare()
    prices = np.asarray(prices, float)
    houses = sample_households(n_households, seed, specs)
    fp = chunk_fingerprint(prices, rho, welfare, seed, n_households, chunk)
    starts = list(range(0, n_households, chunk))
    results: dict[int, dict] = {}
    reused, redone = 0, {}
    if results_dir is not None:
        results_dir = Path(results_dir)
        for s in starts:
            data, why = read_record(results_dir / f"chunk_{s:06d}.json", fp, CHUNK_KEYS)
            if data is not None:
                results[s] = data
                reused += 1
            elif why != "missing":
                log.warning("district chunk %d: %s record in %s, solving again", s, why, results_dir)
                redone[why] = redone.get(why, 0) + 1
    todo = [s for s in starts if s not in results]
    t0 = time.perf_counter()

    def store(s: int, data: dict) -> None:
        data["fingerprint"] = fp
        results[s] = data
        if results_dir is not None:
            atomic_write_text(results_dir / f"chunk_{s:06d}.json", json.dumps(data))

    if processes <= 1 or len(todo) <= 1:
        for s in todo:
            store(s, solve_chunk(houses[s:s + chunk], prices, rho, welfare))
    else:
        env = {"OMP_NUM_THREADS": "1"}
        os.environ.update(env)
        with ProcessPoolExecutor(max_workers=processes) as pool:
            futures = {pool.submit(solve_chunk, houses[s:s + chunk], prices, rho, welfare): s for s in todo}
            for fut in as_completed(futures):
                store(futures[fut], fut.result())
                log.info("district chunk %d done (%d/%d)", futures[fut], len(results), len(starts))
    wall = time.perf_counter() - t0
    ordered = [results[s] for s in starts]

    def stack(key: str) -> np.ndarray:
        return np.concatenate([np.asarray(r[key], float) for r in ordered], axis=0)

    return DistrictResult(
        **{k: stack(k) for k in ("bill_plan", "bill_pref", "moved", "comfort", "peak_plan", "peak_pref",
                                 "welfare_plan", "welfare_pref", "n_appliances")},
        load_plan=np.sum([np.asarray(r["load_plan"]) for r in ordered], axis=0),
        load_pref=np.sum([np.asarray(r["load_pref"]) for r in ordered], axis=0),
        wall_time=wall, solve_time=float(sum(r["solve_time"] for r in ordered)),
        n_solves=int(sum(r["n_solves"] for r in ordered)), chunks_reused=reused, chunks_redone=redone)
