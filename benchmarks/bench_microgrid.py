"""Benchmark of the microgrid market equilibrium methods: 10 sellers × {200, 500, 1000, 5000} buyers.

Per (buyers, method): wall time to an equilibrium and its Nash gap relative to
the average buyer payoff (target < 1e-6).  Methods:

* ``vectorised`` — the aggregative Newton solver of
  :mod:`gridgames.models.microgrid.solve` (all buyers at once in numpy; the
  structure we exploit instead of one Pyomo model per buyer); gap from the
  exact numpy best responses.
* ``gauss-seidel`` / ``jacobi`` — ``solve_nash`` on the Pyomo game (one block
  per buyer, Ipopt best responses); run only where the budget allows
  (:data:`BUDGET`), the engine's own ``nash_gap`` reported.
* ``kkt-nlp`` — :func:`gridgames.models.microgrid.study.solve_kkt_nlp`: the
  engine's ``solve_nash(method="kkt", variational=True)`` on the log market
  (symbolic derivatives of the buyers' payoffs, sampled concavity check,
  Scholtes + Ipopt); ``kkt`` is the same call and is recorded once, as
  ``kkt-nlp``.
* ``pso-vectorised`` — the paper's PSO (eq. 23 inertia) on the vectorised
  regret with a time limit: its time and final gap beside the others.
* ``closed-form`` — the symmetric market of the same size, vectorised solver
  vs the closed form (max request difference in ``leader_gap``).

Run: ``python -m gridgames.benchmarks.bench_microgrid [--quick] [--fresh]``.
Rows go to ``benchmarks/results/microgrid.csv`` as each cell finishes
(rewritten atomically); a rerun skips cells already stored.
"""
from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.models.microgrid.analytic import closed_form
from gridgames.models.microgrid.config import MarketSpec, random_market, symmetric_market
from gridgames.models.microgrid.study import solve_kkt_nlp
from gridgames.models.microgrid.model import solve_engine, solve_pso
from gridgames.models.microgrid.solve import equilibrium
from gridgames.models.report import atomic_write_text

SIZES = (200, 500, 1000, 5000)
METHODS = ("vectorised", "gauss-seidel", "jacobi", "kkt", "kkt-nlp", "pso-vectorised", "closed-form")
#: where each slow method runs on this machine, and why not elsewhere
BUDGET = {
    "gauss-seidel": (lambda n: n <= 200, "Pyomo best responses: > 200 buyers x 10 sellers exceeds the budget"),
    "jacobi": (lambda n: n <= 200, "Pyomo best responses: > 200 buyers x 10 sellers exceeds the budget"),
    "kkt": (lambda n: False, "the same engine call as kkt-nlp (solve_nash kkt, variational=True): see that row"),
    "kkt-nlp": (lambda n: n <= 200, "joint KKT NLP: > 200 buyers x 10 sellers exceeds the budget (~3 min at 200)"),
}
PSO_TIME = 60.0
#: best-response sweeps of the Pyomo methods (one sweep of 200 Ipopt buyers takes ~40 s here)
ENGINE_SWEEPS = 4
RESULTS = Path(__file__).resolve().parent / "results" / "microgrid.csv"


def run_cell(n_buyers: int, method: str, seed: int = 7, *, pso_time: float = PSO_TIME) -> dict:
    """One (buyers, method) measurement; see the module docstring."""
    rule = BUDGET.get(method)
    row: dict = {"buyers": n_buyers, "method": method, "sellers": 10, "seed": seed}
    if rule is not None and not rule[0](n_buyers):
        return {**row, "status": "skipped", "note": rule[1]}
    spec = MarketSpec()
    t0 = time.perf_counter()
    if method == "closed-form":
        market = symmetric_market(n_buyers, X=50.0, A=np.linspace(65.0, 90.0, 10), B=np.linspace(0.02, 0.06, 10))
        ref = closed_form(market)
        sol = equilibrium(market)
        row.update(max_diff_vs_closed_form=float(np.abs(sol.r - ref).max()))
    else:
        market = random_market(n_buyers, spec, seed)
        if method == "vectorised":
            sol = equilibrium(market)
        elif method == "kkt-nlp":
            sol = solve_kkt_nlp(market)
        elif method == "pso-vectorised":
            sol = solve_pso(market, generations=300, pop_size=30, time_limit=pso_time)
        else:
            sol = solve_engine(market, method, tol=1e-9, max_iter=ENGINE_SWEEPS)
    wall = time.perf_counter() - t0
    row.update(status=str(sol.status), market=sol.market_status, solve_time=sol.time, wall_time=wall,
               nash_gap=sol.nash_gap, rel_gap=sol.rel_gap, reached_1e6=bool(sol.rel_gap < 1e-6),
               iterations=sol.iterations, note=sol.message[:160])
    return row


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 and 1000 buyers, PSO limited to 10 s")
    parser.add_argument("--fresh", action="store_true", help="ignore stored results")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = (200, 1000) if args.quick else SIZES
    done = pd.read_csv(args.out) if args.out.exists() and not args.fresh else pd.DataFrame()
    rows = done.to_dict("records")
    have = {(r["buyers"], r["method"]) for r in rows}
    for n in sizes:
        for method in METHODS:
            if (n, method) in have:
                continue
            row = run_cell(n, method, pso_time=10.0 if args.quick else PSO_TIME)
            row["machine"] = platform.node()
            rows.append(row)
            atomic_write_text(args.out, pd.DataFrame(rows).to_csv(index=False))
            print(f"{n:>5} {method:<15} {row.get('status', ''):<16} wall {row.get('wall_time', float('nan')):8.3f} s"
                  f"  rel_gap {row.get('rel_gap', float('nan')):.2e}", flush=True)
    return pd.DataFrame(rows)


if __name__ == "__main__":
    main()
