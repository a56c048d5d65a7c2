"""Benchmark cases of the RTP family.

``district-n{20,200,1000}``: Monte Carlo households × 7 days of planning-unit MILPs (HiGHS,
models re-used) at the week's RTP of ``instances/rtp_district.toml``; the smoke case is one day
of 20 households.  The reference is a cross-check: three sampled household-days re-solved from
scratch by SCIP (``leader_gap`` = largest relative objective difference).
``front-{mopso,nsga2}``: one household-day with three uninterruptible appliances; objective = the
method's normalised hypervolume, reference = the exact (complete ε-constraint, HiGHS) front's.
``household-front-{method}``: the same for ``instances/rtp_household.toml``'s front day (13
appliances) with the instance's ``[front]`` settings; the reference is its ε-grid front (an inner
approximation of the complete front, so a heuristic can end above it: ``leader_gap`` is then the
excess).
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from gridgames.data.bundled import instance_path
from gridgames.benchmarks.tolerance import EXACT, HEURISTIC
from gridgames.benchmarks.suite import Case, case_family



def run_rtp_district(*, households: int, days: int = 7, processes: int = 1, seed: int = 0) -> dict:
    """Schedule ``households`` for ``days`` days; SCIP cross-check of three household-days."""
    from gridgames.models.instance import load_instance
    from gridgames.models.rtp.appliances import sample_households
    from gridgames.models.rtp.config import load_config, week_prices
    from gridgames.models.rtp.district import run_district
    from gridgames.models.rtp.model import PlanningUnit

    cfg = replace(load_config(load_instance(instance_path("rtp_district"))), days=days)
    week = week_prices(cfg)
    start = time.perf_counter()
    res = run_district(households, week.rtp, rho=cfg.rho, welfare=cfg.welfare, seed=seed, processes=processes,
                       specs=cfg.appliances)
    wall = time.perf_counter() - start
    houses = sample_households(households, seed, cfg.appliances)
    rng = np.random.default_rng(seed)
    gaps = []
    for i in rng.choice(households, size=min(3, households), replace=False):
        d = int(rng.integers(days))
        ours = PlanningUnit(houses[i], rho=cfg.rho).solve(week.rtp[d]).objective
        ref = PlanningUnit(houses[i], rho=cfg.rho, solver="scip").solve(week.rtp[d]).objective
        gaps.append(abs(ours - ref) / max(1.0, abs(ref)))
    return {"method": "planning-unit", "solver": "highs", "size": households,
            "objective": float(res.bill_plan.sum()), "reference": None,
            "reference_kind": "SCIP re-solve of 3 sampled household-days (leader_gap = max rel. diff.)",
            "leader_gap": float(max(gaps)), "eq_gap": None, "wall_time": wall, "solver_time": res.solve_time,
            "upper_evals": None, "lower_evals": res.n_solves, "status": "optimal",
            "peak_reduction_pct": float(100 * (1 - res.load_plan.max() / res.load_pref.max())),
            "bill_decrease_pct": float(100 * np.mean(1 - res.bill_plan / res.bill_pref))}


def run_rtp_front(*, method: str, pop_size: int = 40, n_gen: int = 100, seed: int = 1) -> dict:
    """Hypervolume of ``method`` against the complete exact front of a small household-day."""
    from gridgames.models.rtp.pricing import rtp_prices
    from gridgames.models.rtp.appliances import library
    from gridgames.models.rtp.solve import BiObjectiveModel, compare_fronts
    from gridgames.models.rtp.objectives import Welfare

    lib = {a.name: a for a in library()}
    load = 2000 + 400 * np.sin(np.arange(24) / 24 * 2 * np.pi - 2)
    specs = [lib[n] for n in ("lighting", "cooker", "oven", "washer", "dishwasher")]
    bo = BiObjectiveModel(specs, rtp_prices(load, 0.08), Welfare(), lambda1=0.02)
    start = time.perf_counter()
    cmp = compare_fronts(bo, n_points=None, pop_size=pop_size, n_gen=n_gen, seed=seed, methods=(method,))
    return _front_record(method, cmp, size=len(specs), evaluations=pop_size * n_gen, start=start,
                         reference_kind="complete ε-constraint front (HiGHS MILP)")


def _front_record(method: str, cmp, *, size: int, evaluations: int, start: float, reference_kind: str) -> dict:
    """A bench record of one heuristic front against the exact one (a ``FrontComparison``)."""
    return {"method": method, "solver": "pymoo", "size": size, "objective": cmp.hv[method],
            "reference": cmp.hv["exact"], "reference_kind": reference_kind,
            "leader_gap": abs(cmp.hv[method] - cmp.hv["exact"]) / max(1.0, abs(cmp.hv["exact"])),
            "eq_gap": None, "wall_time": time.perf_counter() - start, "solver_time": cmp.times[method],
            "upper_evals": evaluations, "lower_evals": None, "status": "optimal",
            "exact_points": len(cmp.exact), "exact_time": cmp.times["exact"],
            "pareto_front": np.asarray(cmp.fronts[method])[:, :2].tolist(),
            "exact_front": np.asarray(cmp.exact)[:, :2].tolist()}


def run_rtp_household_front(*, method: str, seed: int = 1) -> dict:
    """Hypervolume of ``method`` against the ε-grid exact front of ``rtp_household``'s front day."""
    from gridgames.models.instance import load_instance
    from gridgames.models.rtp.config import load_config, week_prices
    from gridgames.models.rtp.solve import BiObjectiveModel, compare_fronts

    cfg = load_config(load_instance(instance_path("rtp_household")))
    week = week_prices(cfg)
    bo = BiObjectiveModel(cfg.appliances, week.rtp[cfg.front_day], cfg.welfare, lambda1=cfg.lambda1, rho=cfg.rho)
    start = time.perf_counter()
    cmp = compare_fronts(bo, n_points=cfg.front_points or None, pop_size=cfg.front_pop, n_gen=cfg.front_gen,
                         seed=seed, methods=(method,))
    return _front_record(method, cmp, size=len(cfg.appliances), evaluations=cfg.front_pop * cfg.front_gen,
                         start=start,
                         reference_kind=f"ε-constraint front, {cfg.front_points or 'all'} ε values (HiGHS MILP)")


@case_family("rtp", tolerance={"planning-unit": EXACT, "*": HEURISTIC})
def rtp_cases() -> list[Case]:
    """RTP cases: district runs (20-household one-day smoke row, 200, 1000) and the MOPSO/NSGA-II fronts."""
    cases = [Case(family="rtp", name="district-n20-d1", func=run_rtp_district,
                  params={"households": 20, "days": 1}, smoke=True)]
    cases += [Case(family="rtp", name=f"district-n{n}", func=run_rtp_district,
                   params={"households": n, "days": 7}) for n in (200, 1000)]  # one process: Dask spreads the cases
    cases += [Case(family="rtp", name=f"front-{m}", func=run_rtp_front, params={"method": m})
              for m in ("mopso", "nsga2")]
    cases += [Case(family="rtp", name=f"household-front-{m}", func=run_rtp_household_front, params={"method": m})
              for m in ("mopso", "mopso-plain", "nsga2", "nsga2-moves")]
    return cases
