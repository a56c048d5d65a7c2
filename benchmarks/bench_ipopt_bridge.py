"""Benchmark: the Pyomo -> cyipopt bridge against hand-written numpy callbacks.

One year of hourly battery scheduling on 2023 Belgian day-ahead prices
(T = 8760 hours, 3 T = 26,280 variables, T equality constraints)::

    min  sum_t  p_t (c_t - d_t) + kappa (c_t^2 + d_t^2) / (2 Pmax) - beta log(1 + s_t / E)
    s.t. s_t = s_{t-1} + eta c_t - d_t / eta,    s_{-1} = s0
         0 <= c_t, d_t <= Pmax,  0 <= s_t <= E

(quadratic conversion losses, a concave state-of-charge comfort term).  It is
solved (a) through :class:`gridgames.solvers.ipopt.IpoptSolver` - Pyomo model
build, translation and solve - and (b) with the same math written directly as
numpy callbacks for :class:`cyipopt.Problem`.  Run::

    python -m gridgames.benchmarks.bench_ipopt_bridge [--hours 8760] [--repeat 1]

Results go to stdout and to ``benchmarks/results/ipopt_bridge.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from gridgames.data.bundled import dataset_path
from gridgames.models.instance import read_series_csv

logger = logging.getLogger(__name__)

PRICES = dataset_path("prices_be_dayahead")
RESULTS = Path(__file__).resolve().parent / "results" / "ipopt_bridge.json"

PMAX, ENERGY, ETA, S0, KAPPA, BETA = 1.0, 4.0, 0.95, 2.0, 50.0, 5.0
IPOPT_OPTIONS = {"tol": 1e-8, "max_iter": 500}


def load_prices(hours: int = 8760) -> np.ndarray:
    """First ``hours`` hourly prices (EUR/MWh) of 2023 (UTC)."""
    series = read_series_csv(PRICES, "hour_start_utc", "price_eur_per_mwh", field_name="prices")
    year = series[series.index.year == 2023].to_numpy()
    if len(year) < hours:
        raise ValueError(f"only {len(year)} hours of 2023 prices in {PRICES.name}, asked for {hours}")
    return year[:hours]


# --------------------------------------------------------------------------
# (a) Pyomo model through the bridge
# --------------------------------------------------------------------------
def build_pyomo(prices: np.ndarray):
    """The battery model as a Pyomo ConcreteModel (prices as mutable Params)."""
    import pyomo.environ as pyo

    T = len(prices)
    m = pyo.ConcreteModel("battery")
    m.T = pyo.RangeSet(0, T - 1)
    m.price = pyo.Param(m.T, initialize=dict(enumerate(prices.tolist())), mutable=True)
    m.c = pyo.Var(m.T, bounds=(0, PMAX))
    m.d = pyo.Var(m.T, bounds=(0, PMAX))
    m.s = pyo.Var(m.T, bounds=(0, ENERGY))

    def balance(m, t):
        prev = m.s[t - 1] if t > 0 else S0
        return m.s[t] == prev + ETA * m.c[t] - m.d[t] / ETA

    m.balance = pyo.Constraint(m.T, rule=balance)
    m.cost = pyo.Objective(expr=sum(
        m.price[t] * (m.c[t] - m.d[t])
        + KAPPA * (m.c[t] ** 2 + m.d[t] ** 2) / (2 * PMAX)
        - BETA * pyo.log(1 + m.s[t] / ENERGY) for t in m.T))
    return m


def run_bridge(prices: np.ndarray) -> dict:
    from gridgames.solvers.ipopt import IpoptSolver, clear_cache
    from gridgames.solvers.nlp_terms import clear_template_cache

    clear_template_cache()
    c0, t0 = time.process_time(), time.perf_counter()
    m = build_pyomo(prices)
    t_build = time.perf_counter() - t0
    clear_cache(m)
    res = IpoptSolver(**IPOPT_OPTIONS).solve(m, warmstart=False)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"build": t_build, "translation": res.extra["translation_time"],
            "solve": res.extra["ipopt_time"], "total": total, "cpu_total": cpu, "iterations": res.iterations,
            "objective": res.objective, "status": res.status.value}


# --------------------------------------------------------------------------
# (b) the same problem, hand-written
# --------------------------------------------------------------------------
class HandWritten:
    """Numpy callbacks of the battery problem; x = [c (T), d (T), s (T)]."""

    def __init__(self, prices: np.ndarray) -> None:
        T = self.T = len(prices)
        self.p = prices
        t = np.arange(T)
        # balance_t: s_t - s_{t-1} - eta c_t + d_t / eta = S0 (t = 0) or 0
        self.jrows = np.concatenate([t, t, t, t[1:]])
        self.jcols = np.concatenate([2 * T + t, t, T + t, 2 * T + t[1:] - 1])
        self.jvals = np.concatenate([np.ones(T), -ETA * np.ones(T), np.ones(T) / ETA, -np.ones(T - 1)])
        self.hidx = np.arange(3 * T)

    def objective(self, x):
        T = self.T
        c, d, s = x[:T], x[T:2 * T], x[2 * T:]
        # einsum rather than `@`, as in the bridge: no BLAS thread start-up per call
        return float(np.einsum("i,i->", self.p, c - d)
                     + KAPPA * (np.einsum("i,i->", c, c) + np.einsum("i,i->", d, d)) / (2 * PMAX)
                     - BETA * np.sum(np.log1p(s / ENERGY)))

    def gradient(self, x):
        T = self.T
        c, d, s = x[:T], x[T:2 * T], x[2 * T:]
        return np.concatenate([self.p + KAPPA * c / PMAX, -self.p + KAPPA * d / PMAX,
                               -BETA / (ENERGY + s)])

    def constraints(self, x):
        T = self.T
        c, d, s = x[:T], x[T:2 * T], x[2 * T:]
        prev = np.concatenate([[0.0], s[:-1]])
        return s - prev - ETA * c + d / ETA

    def jacobianstructure(self):
        return self.jrows, self.jcols

    def jacobian(self, x):
        return self.jvals

    def hessianstructure(self):
        return self.hidx, self.hidx

    def hessian(self, x, lagrange, obj_factor):
        T = self.T
        s = x[2 * T:]
        return obj_factor * np.concatenate([np.full(2 * T, KAPPA / PMAX), BETA / (ENERGY + s) ** 2])

    def intermediate(self, alg_mod, iter_count, *args):
        self.iterations = iter_count
        return True


def run_hand(prices: np.ndarray) -> dict:
    import cyipopt

    c0, t0 = time.process_time(), time.perf_counter()
    T = len(prices)
    prob_obj = HandWritten(prices)
    lb = np.zeros(3 * T)
    ub = np.concatenate([np.full(2 * T, PMAX), np.full(T, ENERGY)])
    cl = np.zeros(T)
    cl[0] = S0
    problem = cyipopt.Problem(n=3 * T, m=T, problem_obj=prob_obj, lb=lb, ub=ub, cl=cl, cu=cl.copy())
    for k, v in {**IPOPT_OPTIONS, "print_level": 0, "sb": "yes"}.items():
        problem.add_option(k, v)
    t_build = time.perf_counter() - t0
    t1 = time.perf_counter()
    _, info = problem.solve(np.zeros(3 * T))
    t_solve = time.perf_counter() - t1
    problem.close()
    return {"build": t_build, "translation": 0.0, "solve": t_solve,
            "total": time.perf_counter() - t0, "cpu_total": time.process_time() - c0,
            "iterations": prob_obj.iterations,
            "objective": float(info["obj_val"]), "status": int(info["status"])}


@dataclass
class BenchResult:
    hours: int
    n_vars: int
    n_cons: int
    bridge: dict
    hand: dict
    objective_rel_diff: float
    ratio_total: float
    ratio_cpu: float
    goal_ratio: float
    goal_met: bool
    python: str
    machine: str


def main(argv: list[str] | None = None) -> BenchResult:
    """Run both solves (best of ``--repeat``), print a table, write the JSON file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=int, default=8760)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each variant; the fastest total is kept")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    prices = load_prices(args.hours)
    # warm-up outside the timing: the first cyipopt solve loads Ipopt, the
    # first bridge use imports sympy; both are one-off process costs.
    # (run_bridge drops the compiled term templates, so every timed bridge run
    # still pays for the symbolic differentiation and code generation.)
    run_hand(prices[:48])
    run_bridge(prices[:48])
    runs_b, runs_h = [], []
    for _ in range(args.repeat):  # interleaved, so load from other processes hits both alike
        runs_b.append(run_bridge(prices))
        runs_h.append(run_hand(prices))
    bridge = min(runs_b, key=lambda r: r["total"])
    hand = min(runs_h, key=lambda r: r["total"])
    rel = abs(bridge["objective"] - hand["objective"]) / max(1.0, abs(hand["objective"]))
    ratio = bridge["total"] / hand["total"]
    res = BenchResult(args.hours, 3 * args.hours, args.hours, bridge, hand, rel, ratio,
                      bridge["cpu_total"] / hand["cpu_total"], 2.0, ratio <= 2.0,
                      platform.python_version(), platform.processor() or platform.machine())

    rows = [("build [s]", "build"), ("translation [s]", "translation"), ("solve [s]", "solve"),
            ("total [s]", "total"), ("total CPU [s]", "cpu_total"), ("iterations", "iterations"),
            ("objective", "objective")]
    print(f"battery scheduling, T={args.hours} h, {3 * args.hours} variables, {args.hours} constraints")
    print(f"{'':18s}{'bridge':>16s}{'hand-written':>16s}")
    for label, key in rows:
        a, b = bridge[key], hand[key]
        fmt = (lambda v: f"{v:16.4f}") if isinstance(a, float) else (lambda v: f"{v:16}")
        print(f"{label:18s}{fmt(a)}{fmt(b)}")
    print(f"objective rel. diff  {rel:.2e}")
    print(f"bridge / hand-written total  {ratio:.2f} wall, {res.ratio_cpu:.2f} CPU  "
          f"(goal <= 2.0: {'met' if ratio <= 2.0 else 'MISSED'})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(asdict(res), indent=2) + "\n")
    print(f"written {args.out}")
    return res


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
