"""Add a benchmark case family, run it with the suite runner, and report it.

A case family is a function returning ``Case`` objects, registered with
``@case_family(name)``; a case is a module-level function plus JSON-able
keyword arguments, returning a row dict (columns from ``ROW_FIELDS``: method,
size, objective, reference, eq_gap, status ...).  Inside the package a family
lives in ``benchmarks/cases_<family>.py`` (listed in ``suite.FAMILY_MODULES``);
here it lives in this script and runs in-process (``workers=0``).  With
``workers=N`` the runner uses Dask processes, which must be able to import the
case function, so a family used that way belongs in an importable module.

The family: an N-firm Cournot game (P = a - bQ, costs c_i) solved by three Nash
methods, each row checked against the closed form of the Cournot equilibrium
    q_i = (a - (N + 1) c_i + sum_j c_j) / ((N + 1) b).

Run:  python examples/custom_benchmark_family.py [OUTPUT_FOLDER]
"""
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

import gridgames as gg
from gridgames.benchmarks.report import write_report
from gridgames.benchmarks.runner import results_frame, run_suite
from gridgames.benchmarks.suite import Case, case_family


def run_cournot(*, n: int, method: str) -> dict:
    """One case: n firms, one Nash method; returns the suite row."""
    a, b, costs = 100.0, 1.0, np.linspace(10.0, 30.0, n)
    q_star = (a - (n + 1) * costs + costs.sum()) / ((n + 1) * b)
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(n))
    for i in range(n):
        m.F[i].q = pyo.Var(bounds=(0, a / b), initialize=0.0)
    total = sum(m.F[i].q for i in range(n))
    for i in range(n):
        m.F[i].profit = pyo.Objective(expr=(a - b * total - costs[i]) * m.F[i].q, sense=pyo.maximize)
    t0 = time.perf_counter()
    res = gg.solve_nash(m, m.F, method=method)
    q = np.array([pyo.value(m.F[i].q) for i in range(n)])
    # objective/reference: total output; extra keys (q_error) become extra report columns
    return {"method": method, "solver": res.solver, "size": n, "objective": float(q.sum()),
            "reference": float(q_star.sum()), "leader_gap": float(abs(q.sum() / q_star.sum() - 1)),
            "q_error": float(np.abs(q - q_star).max()),
            "eq_gap": res.gap, "wall_time": time.perf_counter() - t0, "status": res.status.value}


@case_family("cournot-example")
def cournot_cases() -> list[Case]:
    return [Case("cournot-example", f"n{n}-{method}", run_cournot, {"n": n, "method": method}, smoke=n == 2)
            for n in (2, 5) for method in ("gauss-seidel", "jacobi", "kkt")]


def main(out: Path) -> None:
    cases = cournot_cases()
    first = run_suite(cases, out, workers=0, progress=False)
    print(first.summary())
    again = run_suite(cases, out, workers=0, progress=False)   # nothing changed: nothing reruns
    assert first.ran == len(cases) and first.failed == 0 and again.ran == 0, (first, again)

    frame = results_frame(out)
    print(frame[["case", "method", "size", "objective", "reference", "q_error", "eq_gap", "status"]]
          .to_string(index=False))
    assert (frame["outcome"] == "ok").all(), frame["error"].dropna().tolist()
    assert (frame["q_error"].astype(float) < 1e-5).all()       # every method hits the closed form
    report = write_report(out, title="Cournot example family")
    print(f"report: {report}")
    assert "cournot-example" in report.read_text()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:                 # kept only if a folder is given
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tmp))
