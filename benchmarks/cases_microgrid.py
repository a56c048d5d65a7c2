"""Case family ``microgrid``: the microgrid market equilibrium methods.

10 sellers × {200, 500, 1000, 5000} buyers; each method of
:mod:`gridgames.benchmarks.bench_microgrid` where the budget allows; the
``closed-form`` cases check the vectorised solver against the symmetric
closed form.  Smoke: 200 buyers, vectorised and closed-form (well under a second).
"""
from __future__ import annotations

from gridgames.benchmarks.bench_microgrid import BUDGET, METHODS, SIZES, run_cell
from gridgames.benchmarks.tolerance import CONVEX_LOCAL, EXACT, HEURISTIC, LOCAL
from gridgames.benchmarks.suite import Case, case_family


def run_microgrid(*, n_buyers: int, method: str, seed: int = 7, pso_time: float = 60.0) -> dict:
    """One cell as a suite row."""
    row = run_cell(n_buyers, method, seed, pso_time=pso_time)
    if row.get("status") == "skipped":
        return {"method": method, "size": n_buyers, "status": "skipped", "note": row["note"]}
    closed = method == "closed-form"
    return {"method": method, "solver": "numpy" if method in ("vectorised", "closed-form", "pso-vectorised")
            else "ipopt (Pyomo best responses)", "size": n_buyers,
            "objective": None, "reference": None,
            "reference_kind": "closed form" if closed else "exact numpy best responses (nash_gap)",
            "leader_gap": row.get("max_diff_vs_closed_form") if closed else None,
            "eq_gap": row["rel_gap"], "nash_gap_abs": row["nash_gap"], "wall_time": row["wall_time"],
            "solver_time": row["solve_time"], "upper_evals": None, "lower_evals": row["iterations"],
            "status": row["status"], "market": row["market"]}


@case_family("microgrid", tolerance={"vectorised": EXACT, "closed-form": EXACT, "kkt-nlp": CONVEX_LOCAL, "pso*": HEURISTIC, "*": LOCAL})
def microgrid_cases() -> list[Case]:
    """Microgrid equilibrium cases: each size in ``SIZES`` × each method in ``METHODS`` within its budget."""
    cases = []
    for n in SIZES:
        for method in METHODS:
            rule = BUDGET.get(method)
            if rule is not None and not rule[0](n):
                continue
            cases.append(Case("microgrid", f"n{n}-{method}", run_microgrid, {"n_buyers": n, "method": method},
                              smoke=n == 200 and method in ("vectorised", "closed-form")))
    return cases
