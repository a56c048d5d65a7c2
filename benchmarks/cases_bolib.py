"""Case family ``bolib``: the BOLIB linear and quadratic bilevel problems, every engine method.

One case per (problem, method): ``kkt-bigm`` (big-M where bounds are proved,
SOS1 elsewhere), ``kkt-sos1``, ``strong-duality`` (linear problems) — the
global methods, run with no user-supplied bound — and ``kkt`` (Scholtes,
local).  Each row compares the leader value with the problem's known
optimum (:func:`~gridgames.benchmarks.bolib_problems.reference_value`),
``leader_gap = |F − F*| / max(1, |F*|)``, and reports the status and the
follower gap of ``verify``.  The problems are small (≤ 10 variables a
level, each method under 2 s here); the first five linear and five
quadratic ones under ``kkt-bigm`` are in the smoke suite.
"""
from __future__ import annotations

import time

from gridgames.benchmarks.bolib import build_bolib
from gridgames.benchmarks.bolib_problems import LINEAR, PROBLEMS, QUADRATIC, get_problem, reference_value
from gridgames.benchmarks.tolerance import EXACT, LOCAL
from gridgames.benchmarks.suite import Case, case_family
from gridgames.solvers.games.bilevel import solve_bilevel

GLOBAL_METHODS = ("kkt-bigm", "kkt-sos1", "strong-duality")
METHODS = GLOBAL_METHODS + ("kkt",)
#: every SCIP/HiGHS solve of the family gets this limit (all finish in under 2 s here)
TIME_LIMIT = 60.0
#: kkt is local: a second run from the high-point relaxation, the better kept
KKT_OPTIONS = {"starts": 2}


def methods_for(name: str) -> tuple[str, ...]:
    """The methods that apply: strong-duality needs a linear follower."""
    return METHODS if get_problem(name).kind == "linear" else tuple(m for m in METHODS if m != "strong-duality")


def run_bolib(*, problem: str, method: str) -> dict:
    """Solve one problem by one method; a suite row."""
    prob = get_problem(problem)
    model = build_bolib(prob)
    options = KKT_OPTIONS if method == "kkt" else {"solver_options": {"time_limit": TIME_LIMIT}}
    start = time.perf_counter()
    result = solve_bilevel(model, model.follower, method=method, **options)
    wall = time.perf_counter() - start
    reference = reference_value(problem)
    objective = result.objective
    gap = None if objective is None else abs(objective - reference) / max(1.0, abs(reference))
    return {"problem": problem, "kind": prob.kind, "method": method, "solver": result.solver,
            "size": prob.nx + prob.ny, "objective": objective, "reference": reference,
            "reference_kind": "BOLIB F*" if reference == prob.F_star else "corrected (see CORRECTIONS)",
            "published": prob.F_star, "leader_gap": gap, "eq_gap": result.follower_gap,
            "status": str(result.status), "message": result.message, "wall_time": wall,
            "solver_time": result.solve_time, "upper_evals": result.upper_evaluations,
            "lower_evals": result.lower_evaluations}


@case_family("bolib", tolerance={"kkt": LOCAL, "*": EXACT})
def bolib_cases() -> list[Case]:
    cases = []
    smoke = {p.name for p in LINEAR[:5] + QUADRATIC[:5]}
    for prob in LINEAR + QUADRATIC:
        for method in methods_for(prob.name):
            cases.append(Case("bolib", f"{prob.name.lower()}-{method}", run_bolib, {"problem": prob.name, "method": method},
                              smoke=method == "kkt-bigm" and prob.name in smoke))
    assert len({c.key for c in cases}) == len(cases) and len(PROBLEMS) >= 30
    return cases
