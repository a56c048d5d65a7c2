"""Cost of the pre-solve model checks (class and finite data) against the solve they guard.

For a household-sized convex QP (T periods, one variable per period, a mutable
price per period, a daily-energy row and per-period caps) re-solved with HiGHS
as the game engine does, the median times in one run of: the solve without
checks (``solve(model, check=False)``), the classification alone (what every
checked solve ran before the finite-data check existed) and the full checks
(:func:`gridgames.solvers.validate.validate_model`: classification, features,
finite data).  Reported as ratios to the unchecked solve: the added cost is
``(checks - classify) / solve``.  No absolute time is compared across machines.

Run: ``python -m gridgames.benchmarks.bench_validate [--repeats N]``.
"""
from __future__ import annotations

import argparse
import statistics
import time

import pyomo.environ as pyo

from gridgames.solvers import get_solver
from gridgames.solvers.model_class import classify
from gridgames.solvers.validate import validate_model


def household_qp(periods: int) -> pyo.ConcreteModel:
    """min sum_t p_t x_t + 0.1 x_t^2  s.t.  sum_t x_t >= periods, x_t <= 5 + (t mod 5), 0 <= x_t <= 10."""
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(periods)
    m.p = pyo.Param(m.T, mutable=True, initialize=lambda m, t: 1.0 + t % 5)
    m.x = pyo.Var(m.T, bounds=(0, 10))
    m.energy = pyo.Constraint(expr=sum(m.x[t] for t in m.T) >= periods)
    m.cap = pyo.Constraint(m.T, rule=lambda m, t: m.x[t] <= 5 + t % 5)
    m.o = pyo.Objective(expr=sum(m.p[t] * m.x[t] + 0.1 * m.x[t] ** 2 for t in m.T))
    return m


def _median_time(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(periods: int, repeats: int) -> dict:
    """Median times (s) of an unchecked solve, the classification and the full checks, and the ratios."""
    model = household_qp(periods)
    solver = get_solver("highs")
    solver.solve(model)  # first solve builds the persistent HiGHS model
    solve = _median_time(lambda: solver.solve(model, check=False), repeats)
    classified = _median_time(lambda: classify(model), repeats)
    checks = _median_time(lambda: validate_model(model, "highs", solver.features), repeats)
    return {"periods": periods, "solve_s": solve, "classify_s": classified, "checks_s": checks,
            "classify/solve": classified / solve, "checks/solve": checks / solve,
            "added/solve": (checks - classified) / solve}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    columns = ("periods", "solve_s", "classify_s", "checks_s", "classify/solve", "checks/solve", "added/solve")
    print(" ".join(f"{c:>14}" for c in columns))
    for periods in (24, 168, 720):
        row = measure(periods, args.repeats)
        print(" ".join(f"{row[c]:>14.4g}" for c in columns))


if __name__ == "__main__":
    main()
