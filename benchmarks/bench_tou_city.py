"""Benchmark of the TOU city study: one seller-day, a measured block of days, the year (extrapolated or run).

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python -m gridgames.benchmarks.bench_tou_city \\
        [--instance instances/tou_city.toml] [--days 3] [--method strong-duality] [--out DIR] [--json FILE] [--year]

``--days N`` solves the first N days for every seller with the instance's
workers and extrapolates to the year (labelled as such); ``--year`` runs all
days instead (resumable: existing seller-day files are skipped, so time only
a fresh ``--out``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from gridgames.models.instance import load_instance
from gridgames.models.tou_city import load_city, make_population, run_seller_days, solve_seller_day

ROOT = Path(__file__).resolve().parent.parent


def bench(instance: Path, days: int, method: str | None, out: Path, year: bool) -> dict:
    """Time one seller-day (serial) and ``days`` days × all sellers (pool); extrapolate to the year."""
    cfg = load_city(load_instance(instance))
    if method:
        cfg = dataclasses.replace(cfg, method=method)
    pop = make_population(cfg)
    t = time.perf_counter()
    one = solve_seller_day(cfg, pop, seller=0, day=0)
    single = time.perf_counter() - t
    block = range(cfg.days) if year else range(days)
    rows, wall, solved = run_seller_days(cfg, out, days=block, progress=True)
    ok = [r for r in rows if r.get("status") != "error"]
    per_game = wall / max(solved, 1)
    n_games = cfg.days * cfg.sellers
    result = {
        "machine": f"{platform.node()} {os.cpu_count()} cpus (shared)", "method": cfg.method,
        "households": cfg.households, "sellers": cfg.sellers, "workers": cfg.workers,
        "one_seller_day_s": single, "one_seller_day_classes": one["classes"],
        "one_seller_day_solve_s": one["solve_time"], "measured_seller_days": solved,
        "measured_wall_s": wall, "wall_per_seller_day_s": per_game,
        "failed": len(rows) - len(ok),
        "mean_classes": sum(r["classes"] for r in ok) / max(len(ok), 1),
        "year_seller_days": n_games,
        ("year_wall_s" if year else "year_wall_s_EXTRAPOLATED"): wall if year else per_game * n_games,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instance", type=Path, default=ROOT / "instances" / "tou_city.toml")
    p.add_argument("--days", type=int, default=3, help="days measured (all sellers) when not --year")
    p.add_argument("--method", help="override the instance's method")
    p.add_argument("--out", type=Path, help="results folder (default: a fresh temporary folder)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--year", action="store_true", help="run the whole year (resumable)")
    args = p.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="tou_city_"))
    result = bench(args.instance, args.days, args.method, out, args.year)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        from gridgames.models.report import atomic_write_text
        atomic_write_text(args.json, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
