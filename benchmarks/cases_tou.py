"""Benchmark cases of the TOU pricing family.

``community-n{2,5}-{method}``: the first ``n`` users of
``instances/tou_community.toml`` on the linear-comfort LP (the model both
methods can solve), by ``strong-duality`` (exact, SCIP; no independent
reference) and by the elitist GA (``nested``; reference: the exact
objective, solved in the same case).  ``city-day-{method}``: one seller-day of
``instances/tou_city.toml`` (500 households in FCM classes).

Family ``tou-city`` (the ``scale`` suite): every seller-day of the city year
as its own case, so ``gridgames bench --suite scale`` spreads the year over
however many Dask workers there are, and resumes seller-day by seller-day.
"""
from __future__ import annotations

import dataclasses
import time
from functools import lru_cache

from gridgames.data.bundled import instance_path
from gridgames.benchmarks.tolerance import HEURISTIC, Tolerance
from gridgames.benchmarks.suite import Case, case_family

#: strong duality is global (SCIP); its follower gaps are absolute, on objectives of hundreds of yuan
TOU_TOLERANCE = {"nested": HEURISTIC, "*": Tolerance(eq_gap=1e-4)}



def run_tou_community(*, n_users: int, method: str, seed: int = 1) -> dict:
    """Solve the first ``n_users`` users of the community case; compare with strong duality."""
    from gridgames.models.instance import load_instance
    from gridgames.models.tou.config import load_community
    from gridgames.models.tou.solve import GAOptions, solve_tou

    cfg = load_community(load_instance(instance_path("tou_community")))
    hs, w, params = cfg.households[:n_users], cfg.weights[:n_users], cfg.linear_params()
    if params.comfort_scales:  # per-household settings follow the households kept
        params = dataclasses.replace(params, comfort_scales=params.comfort_scales[:n_users])
    start = time.perf_counter()
    sol = solve_tou(hs, w, params, method, ga=GAOptions(cfg.ga.pop_size, cfg.ga.n_gen, seed, 0))
    wall = time.perf_counter() - start
    # the GA is measured against the exact optimum; the exact row has no independent reference
    ref = None if method == "strong-duality" else solve_tou(hs, w, params, "strong-duality").objective
    return {"method": method, "solver": "scip" if method == "strong-duality" else "highs", "size": n_users,
            "objective": sol.objective, "reference": ref,
            "reference_kind": None if ref is None else "strong-duality (SCIP, rel. gap 1e-4)",
            "leader_gap": None if ref is None else abs(sol.objective - ref) / max(1.0, abs(ref)),
            "eq_gap": sol.follower_gap, "wall_time": wall, "solver_time": sol.time,
            "upper_evals": sol.upper_evals, "lower_evals": sol.lower_evals, "status": sol.status,
            **{f"p_{k}": v for k, v in sol.prices.items()}}


def run_tou_city_day(*, method: str, seller: int = 0, day: int = 0) -> dict:
    """One seller-day of the city instance."""
    from gridgames.models.instance import load_instance
    from gridgames.models.tou.city import load_city, make_population, solve_seller_day

    cfg = dataclasses.replace(load_city(load_instance(instance_path("tou_city"))), method=method)
    start = time.perf_counter()
    row = solve_seller_day(cfg, make_population(cfg), seller, day)
    return {"method": method, "solver": "scip" if method == "strong-duality" else "highs",
            "size": cfg.households // cfg.sellers, "objective": row["objective"], "reference": None,
            "leader_gap": None, "eq_gap": row["max_follower_gap"], "wall_time": time.perf_counter() - start,
            "solver_time": row["solve_time"], "upper_evals": None, "lower_evals": None,
            "status": row["status"], "classes": row["classes"]}


@case_family("tou", tolerance=TOU_TOLERANCE)
def tou_cases() -> list[Case]:
    cases = [Case("tou", f"community-n{n}-{m}", run_tou_community, {"n_users": n, "method": m},
                  smoke=(n == 2 and m == "strong-duality"))
             for n in (2, 5) for m in ("strong-duality", "nested")]
    cases += [Case("tou", f"city-day-{m}", run_tou_city_day, {"method": m}) for m in ("strong-duality", "nested")]
    return cases


@lru_cache(maxsize=2)
def _city(method: str | None):
    """The city's config and population, built once per worker process."""
    from gridgames.models.instance import load_instance
    from gridgames.models.tou.city import load_city, make_population

    cfg = load_city(load_instance(instance_path("tou_city")))
    if method is not None:
        cfg = dataclasses.replace(cfg, method=method)
    return cfg, make_population(cfg)


def run_city_seller_day(*, seller: int, day: int, method: str | None = None) -> dict:
    """One seller-day of the city year (the instance's method unless given)."""
    from gridgames.models.tou.city import solve_seller_day

    cfg, population = _city(method)
    start = time.perf_counter()
    row = solve_seller_day(cfg, population, seller, day)
    return {"method": cfg.method, "solver": "scip" if cfg.method == "strong-duality" else "highs",
            "size": cfg.households // cfg.sellers, "objective": row["objective"], "reference": None,
            "eq_gap": row["max_follower_gap"], "wall_time": time.perf_counter() - start,
            "solver_time": row["solve_time"], "status": row["status"], "seller": seller, "day": day,
            "classes": row["classes"], "prices": row["prices"], "shifted_kwh": row["shifted_kwh"]}


@case_family("tou-city", tolerance=TOU_TOLERANCE)
def tou_city_cases() -> list[Case]:
    from gridgames.models.instance import load_instance
    from gridgames.models.tou.city import load_city

    cfg = load_city(load_instance(instance_path("tou_city")))
    return [Case("tou-city", f"d{day:03d}-s{seller:02d}", run_city_seller_day, {"seller": seller, "day": day},
                 scale=True) for day in range(cfg.days) for seller in range(cfg.sellers)]
