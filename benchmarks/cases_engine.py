"""Case family ``engine``: the bilevel methods on the pricing scaling family.

Sizes T ∈ {24, 168, 720, 8760} periods × K ∈ {1, 10, 100} followers, every
method where this machine's budget allows (:data:`bench_engine.BUDGET`),
against the closed form of :mod:`gridgames.benchmarks.pricing_family`.  The
paper-era baseline — the GA with ``scipy.optimize`` follower solves, as the
TOU paper did — runs beside the HiGHS-follower GA on the smallest sizes.
"""
from __future__ import annotations

from gridgames.benchmarks.bench_engine import BUDGET, SIZES_K, SIZES_T, run_cell
from gridgames.benchmarks.tolerance import CLOSED_FORM, GLOBAL_LIMITED, HEURISTIC, LOCAL
from gridgames.benchmarks.suite import Case, case_family

METHODS = ("analytic", "kkt", "kkt-bigm", "nested", "nested-scipy")
#: the GA budget of the smoke cases (the full cases use bench_engine's)
SMOKE_GA = {"n_gen": 8, "pop_size": 12, "seed": 1, "polish_evaluations": 0}


def run_pricing(*, T: int, K: int, method: str, ga: dict | None = None) -> dict:
    """One (T, K, method) cell as a suite row (``nested-scipy``: GA with scipy followers)."""
    engine_method, solver = ("nested", "scipy") if method == "nested-scipy" else (method, None)
    row = run_cell(T, K, engine_method, solver=solver, options=ga)
    if engine_method == "nested":  # the engine reports "nested"; the row names the followers' solver
        row["solver"] = f"GA + {solver or 'highs'} followers"
    return {"method": method, "solver": row["solver"], "size": T * K, "T": T, "K": K,
            "objective": row["leader_objective"], "reference": row["analytic_objective"],
            "reference_kind": "closed form", "leader_gap": row["rel_gap_to_analytic"],
            "eq_gap": row["follower_gap"], "wall_time": row["total_s"], "solver_time": row["solve_s"],
            "upper_evals": row["upper_evals"], "lower_evals": row["lower_evals"], "status": row["status"],
            "history": row["history"] or None,
            # where the time goes: the user's model build, the method (reformulation + solve), the rest
            # (leader and follower values, verification re-solves)
            "build_s": row["build_s"], "method_s": row["method_s"], "verify_s": row["verify_s"]}


def _runs(method: str, T: int, K: int) -> bool:
    if method == "nested-scipy":
        return T <= 24 and K <= 1
    rule = BUDGET.get(method)
    return rule is None or rule[0](T, K)


@case_family("engine", tolerance={"analytic": CLOSED_FORM, "kkt-bigm": GLOBAL_LIMITED, "kkt": LOCAL, "*": HEURISTIC})
def engine_cases() -> list[Case]:
    cases = []
    for T in SIZES_T:
        for K in SIZES_K:
            for method in METHODS:
                if _runs(method, T, K):
                    cases.append(Case("engine", f"pricing-t{T}-k{K}-{method}", run_pricing,
                                      {"T": T, "K": K, "method": method}))
    smoke = [("analytic", None), ("kkt", None), ("nested", SMOKE_GA), ("nested-scipy", SMOKE_GA)]
    cases += [Case("engine", f"pricing-t24-k1-{m}-smoke", run_pricing, {"T": 24, "K": 1, "method": m, "ga": ga},
                   smoke=True) for m, ga in smoke]
    return cases
