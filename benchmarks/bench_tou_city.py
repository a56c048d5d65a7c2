"""Benchmark of the TOU city study: one seller-day, a measured block of days, the year (extrapolated or run).

Usage::

    OMP_NUM_THREADS=1 nice -n 5 python -m gridgames.benchmarks.bench_tou_city \\
        [--instance instances/tou_city.toml] [--days 3] [--method strong-duality] [--out DIR] [--json FILE] [--year]
        [--comfort-linear W] [--figure PNG [--label TEXT]]

``--days N`` solves the first N days for every seller with the instance's
workers and extrapolates to the year (labelled as such); ``--year`` runs all
days instead (resumable: existing seller-day files are skipped, so time only
a fresh ``--out``).  ``--figure`` draws the run from the seller-day files in
``--out`` (their modification times give the progress): seller-days done
against wall time with the one-hour goal, and the time per seller-day.
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

from gridgames.data.bundled import instance_path
from gridgames.models.instance import load_instance
from gridgames.models.tou.city import load_city, make_population, run_seller_days, solve_seller_day
from gridgames.plotting import pyplot, save_figure



def bench(instance: Path, days: int, method: str | None, out: Path, year: bool,
          comfort_linear: float | None = None) -> dict:
    """Time one seller-day (serial) and ``days`` days × all sellers (pool); extrapolate to the year.

    ``comfort_linear`` overrides the instance's ω_lin (how strongly households resist shifting;
    lower = more response and a harder exact problem).
    """
    cfg = load_city(load_instance(instance))
    if method:
        cfg = dataclasses.replace(cfg, method=method)
    if comfort_linear is not None:
        cfg = dataclasses.replace(cfg, comfort_linear=float(comfort_linear))
    pop = make_population(cfg)
    t = time.perf_counter()
    one = solve_seller_day(cfg, pop, seller=0, day=0)
    single = time.perf_counter() - t
    block = range(cfg.days) if year else range(days)
    rows, wall, solved, _ = run_seller_days(cfg, out, days=block, progress=True)
    ok = [r for r in rows if r.get("status") != "error"]
    per_game = wall / max(solved, 1)
    n_games = cfg.days * cfg.sellers
    result = {
        "machine": f"{platform.node()} {os.cpu_count()} cpus (shared)", "method": cfg.method,
        "households": cfg.households, "sellers": cfg.sellers, "workers": cfg.workers,
        "comfort_linear": cfg.comfort_linear,
        "mean_shifted_kwh": sum(r["shifted_kwh"] for r in ok) / max(len(ok), 1),
        "one_seller_day_s": single, "one_seller_day_classes": one["classes"],
        "one_seller_day_solve_s": one["solve_time"], "measured_seller_days": solved,
        "measured_wall_s": wall, "wall_per_seller_day_s": per_game,
        "failed": len(rows) - len(ok),
        "mean_classes": sum(r["classes"] for r in ok) / max(len(ok), 1),
        "year_seller_days": n_games,
        ("year_wall_s" if year else "year_wall_s_EXTRAPOLATED"): wall if year else per_game * n_games,
    }
    return result


def plot_progress(out: Path, png: Path, goal_s: float = 3600.0, label: str = "") -> Path:
    """Figure of a city run from its seller-day files: progress against wall time, time per seller-day.

    Progress comes from the files' modification times (each is written atomically when its
    seller-day finishes), counted from the first file minus that seller-day's own wall time.
    ``label`` (e.g. the run's settings) goes above both panels.
    """
    import numpy as np

    plt = pyplot()

    files = sorted(out.glob("seller_*/day_*.json"))
    if not files:
        raise FileNotFoundError(f"no seller-day results under {out}")
    rows = [json.loads(f.read_text()) for f in files]
    done = np.array(sorted(f.stat().st_mtime for f in files))
    first = min(rows, key=lambda r: r.get("wall_time", 0.0))
    t0 = done[0] - float(first.get("wall_time", 0.0))
    minutes = (done - t0) / 60.0
    walls = np.array([r.get("wall_time", np.nan) for r in rows], float)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.plot(minutes, np.arange(1, done.size + 1), lw=1.5, label="seller-days done")
    a.axvline(goal_s / 60.0, color="tab:red", ls="--", label=f"goal {goal_s / 3600:g} h")
    a.set_xlabel("wall time (min)")
    a.set_ylabel("seller-days solved")
    a.set_title(f"{done.size} seller-days in {minutes[-1]:.1f} min")
    a.legend(loc="lower right")
    b.hist(walls[np.isfinite(walls)], bins=40, color="tab:blue", log=True)
    b.set_xlabel("time per seller-day in its worker (s): FCM + build + exact solve")
    b.set_ylabel("seller-days")
    b.set_title(f"median {np.nanmedian(walls):.2f} s, 99th pct {np.nanpercentile(walls, 99):.2f} s")
    if label:
        fig.suptitle(label)
    return save_figure(fig, png, dpi=120)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instance", type=Path, default=instance_path("tou_city"))
    p.add_argument("--days", type=int, default=3, help="days measured (all sellers) when not --year")
    p.add_argument("--method", help="override the instance's method")
    p.add_argument("--out", type=Path, help="results folder (default: a fresh temporary folder)")
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--year", action="store_true", help="run the whole year (resumable)")
    p.add_argument("--comfort-linear", type=float, help="override the instance's [followers].comfort_linear")
    p.add_argument("--figure", type=Path, help="draw the run in --out into this PNG (no solving)")
    p.add_argument("--label", default="", help="title of the --figure (e.g. the run's settings)")
    args = p.parse_args(argv)
    if args.figure:
        if args.out is None:
            p.error("--figure needs --out, the folder of a run")
        print(plot_progress(args.out, args.figure, label=args.label))
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="tou_city_"))
    result = bench(args.instance, args.days, args.method, out, args.year, args.comfort_linear)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        from gridgames.models.report import atomic_write_text
        atomic_write_text(args.json, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
