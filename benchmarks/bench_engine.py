"""Benchmark of the bilevel methods on the quadratic-follower pricing family.

For T periods (24, 168, 720, 8760) and K followers (1, 10, 100), time and
leader objective of ``kkt``, ``kkt-bigm``, ``nested`` and ``implicit`` against ``analytic``
(the closed form of :mod:`gridgames.benchmarks.pricing_family`).  Cells too
large for a method within this machine's budget are skipped with the reason
recorded (``nested`` is a GA over T prices; ``kkt-bigm`` is a global MINLP).

Run: ``python -m gridgames.benchmarks.bench_engine [--quick] [--out DIR]``.
Results go to ``benchmarks/results/engine.csv`` as each cell finishes
(rewritten atomically); a rerun skips the cells already in the file, so an
interrupted run resumes where it stopped (``--fresh`` starts over).
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import pandas as pd

from gridgames.benchmarks.pricing_family import analytic_solution, analytic_values, build_model, make_data
from gridgames.models.report import atomic_write_text
from gridgames.solvers import solve_bilevel

SIZES_T = (24, 168, 720, 8760)
SIZES_K = (1, 10, 100)
#: which cells each method is run on here, and why the others are skipped
BUDGET = {
    "kkt": (lambda T, K: T * K <= 100_000, "T*K > 100,000 follower variables"),
    "kkt-bigm": (lambda T, K: T * K <= 24, "T*K > 24: 2 binaries per follower variable, global MINLP"),
    "nested": (lambda T, K: T <= 24 and K <= 10,
               "T > 24 leader prices for a GA, or K > 10 follower re-solves per candidate"),
    "implicit": (lambda T, K: True, ""),     # every cell, T = 8760 and K = 100 included
}
METHOD_OPTIONS = {
    "kkt": {},
    "kkt-bigm": {"solver_options": {"time_limit": 120}},
    "nested": {"n_gen": 40, "pop_size": 30, "seed": 1},
    "implicit": {},
}


def run_cell(T: int, K: int, method: str, *, solver: str | None = None, options: dict | None = None) -> dict:
    """Build, solve and compare one (T, K, method) cell.

    ``solver`` is passed to ``solve_bilevel`` (the followers' solver for
    ``nested``); ``options`` replace the method's default options.
    """
    data = make_data(T, K)
    _, _, reference = analytic_solution(data)
    t0 = time.perf_counter()
    model = build_model(data)
    build = time.perf_counter() - t0
    options = dict(METHOD_OPTIONS.get(method, {}) if options is None else options)
    if method == "analytic":
        options = {"equilibrium": analytic_values(data)}
    t0 = time.perf_counter()
    result = solve_bilevel(model, model.buyers, method=method, solver=solver, verify=True, **options)
    solve = time.perf_counter() - t0
    objective = result.objective if result.objective is not None else float("nan")
    return {
        "T": T, "K": K, "method": method, "status": str(result.status),
        "leader_objective": objective, "analytic_objective": reference,
        "rel_gap_to_analytic": abs(objective - reference) / abs(reference),
        "follower_gap": result.follower_gap, "build_s": build, "solve_s": solve,
        # the method's own time (reformulation and solve) and the rest: leader/follower values and verify
        "method_s": result.solve_time, "verify_s": solve - result.solve_time,
        "total_s": build + solve, "upper_evals": result.upper_evaluations,
        "lower_evals": result.lower_evaluations, "solver": result.solver,
        "history": list(result.extra.get("history", [])),
    }


METHODS = ("analytic", "kkt", "kkt-bigm", "nested", "implicit")


def _sorted(rows: list[dict]) -> pd.DataFrame:
    """Rows in (T, K, method) order, whatever order resumed runs produced them in."""
    table = pd.DataFrame(rows)
    order = table["method"].map({m: i for i, m in enumerate(METHODS)})
    return table.assign(_o=order).sort_values(["T", "K", "_o"]).drop(columns="_o").reset_index(drop=True)


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T in (24, 168), K in (1, 10) only")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--fresh", action="store_true", help="ignore results already written")
    args = parser.parse_args(argv)
    sizes_t = SIZES_T[:2] if args.quick else SIZES_T
    sizes_k = SIZES_K[:2] if args.quick else SIZES_K
    out = args.out / "engine.csv"
    rows: list[dict] = []
    if out.is_file() and not args.fresh:
        rows = [r for r in pd.read_csv(out).to_dict("records") if r["status"] != "skipped"]
    done = {(r["T"], r["K"], r["method"]) for r in rows}
    for T in sizes_t:
        for K in sizes_k:
            for method in METHODS:
                if (T, K, method) in done:
                    continue
                if method in BUDGET and not BUDGET[method][0](T, K):
                    rows.append({"T": T, "K": K, "method": method, "status": "skipped",
                                 "note": BUDGET[method][1]})
                    continue
                row = run_cell(T, K, method)
                row.pop("history", None)  # the GA's convergence: the suite plots it, the CSV keeps scalars
                rows.append(row)
                print(f"T={T:5d} K={K:3d} {method:9s} {row['status']:16s} total {row['total_s']:8.2f}s "
                      f"rel gap {row['rel_gap_to_analytic']:.2e}", flush=True)
                atomic_write_text(out, _sorted(rows).to_csv(index=False))
    table = _sorted(rows)
    atomic_write_text(out, table.to_csv(index=False))
    print(f"\nmachine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    cols = ["T", "K", "method", "status", "rel_gap_to_analytic", "follower_gap", "total_s"]
    print(table[[c for c in cols if c in table]].to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"\nwritten: {out}")
    return table


if __name__ == "__main__":
    main()
