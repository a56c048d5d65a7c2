"""Case family ``engine-scale``: the microgrid market solved by the generic engine beside its vectorised solver.

The market (10 sellers, logarithmic satisfaction, quadratic prices, capacities
binding from a few hundred buyers on) is built as plain Pyomo players
(:func:`~gridgames.models.microgrid.model.build_game`, one block per buyer)
and solved by ``solve_nash(method="mcp")``: the stacked KKT system assembled
from the Ipopt bridge's compiled derivatives, semismooth Newton.  In the same
run the family's vectorised numpy solver
(:func:`~gridgames.models.microgrid.solve.equilibrium`) solves the same
market; both answers are checked by the exact numpy best responses
(:func:`~gridgames.models.microgrid.solve.nash_gaps`), which share no code
with the engine.  Goals: 1,000 buyers to relative gap 1e-6 in
≤ 10 s including the Pyomo build, 5,000 in ≤ 60 s.

Smoke: 50 buyers, with the engine's own verification (every buyer re-solved
alone by Ipopt, :func:`~gridgames.solvers.games.nash.nash_gap`) switched on.
Also at 50 buyers: Gauss–Seidel best-response sweeps (fast best responses:
one persistent Ipopt model per buyer, only the aggregates' Params change).
"""
from __future__ import annotations

import time

import numpy as np

from gridgames.benchmarks.tolerance import CONVEX_LOCAL, LOCAL
from gridgames.benchmarks.suite import Case, case_family
from gridgames.models.microgrid.config import MarketSpec, random_market
from gridgames.models.microgrid.model import build_game, requests
from gridgames.models.microgrid.solve import buyer_payoffs, equilibrium, nash_gaps
from gridgames.solvers.games.nash import solve_nash

SIZES = (50, 200, 1000, 5000)
#: seconds allowed including the Pyomo build
GOALS = {1000: 10.0, 5000: 60.0}


def _relative_gap(market, r: np.ndarray) -> float:
    return float(max(nash_gaps(market, r).max(), 0.0) / max(np.mean(np.abs(buyer_payoffs(market, r))), 1e-12))


def run_engine_scale(*, n_buyers: int, seed: int = 7, verify: bool = False, method: str = "mcp") -> dict:
    """One size: engine (build + ``method``) and vectorised solver in the same process, same market.

    ``method="gauss-seidel"`` runs the best-response sweeps (persistent per-buyer
    Ipopt models, aggregates as Params) to ``tol = 1e-9``; its time per
    best response is in ``t_per_response``.
    """
    market = random_market(n_buyers, MarketSpec(), seed)
    ref = equilibrium(market, check=False)
    t0 = time.perf_counter()
    model = build_game(market)
    build = time.perf_counter() - t0
    options = {"verify": verify} if method == "mcp" else {"tol": 1e-9, "max_iter": 60}
    res = solve_nash(model, model.buyer, method=method, **options)
    wall = build + res.solve_time
    r = requests(market, model)
    gap, ref_gap = _relative_gap(market, r), _relative_gap(market, ref.r)
    timings = {"build": build, **res.extra.get("timings", {"solve": res.solve_time})}
    if res.best_response_solves:  # the verification's re-solves (mcp) or the sweeps' (gauss-seidel)
        timings["per_response"] = timings.get("verify", res.solve_time) / res.best_response_solves
    goal = GOALS.get(n_buyers)
    return {"method": method, "solver": "newton (generic engine)" if method == "mcp" else "ipopt best responses",
            "size": n_buyers,
            "objective": float(buyer_payoffs(market, r).sum()),
            "reference": float(buyer_payoffs(market, ref.r).sum()),
            "reference_kind": "vectorised numpy solver, same run",
            "leader_gap": float(np.abs(r - ref.r).max()), "eq_gap": gap, "wall_time": wall,
            "solver_time": timings.get("solve"), "lower_evals": res.iterations, "status": str(res.status),
            "vectorised_time": ref.time, "vectorised_eq_gap": ref_gap, "time_ratio": wall / max(ref.time, 1e-9),
            "engine_nash_gap": None if np.isnan(res.gap) else float(res.gap), "market": ref.market_status,
            "goal_s": goal, "goal_met": None if goal is None else bool(wall <= goal and gap <= 1e-6),
            **{f"t_{k}": float(v) for k, v in timings.items()}}


@case_family("engine-scale", tolerance={"mcp": CONVEX_LOCAL, "*": LOCAL})
def engine_scale_cases() -> list[Case]:
    """The microgrid game by the generic engine at 50, 200, 1,000 and 5,000 buyers (50 with verification in smoke)."""
    cases = [Case("engine-scale", f"microgrid-n{n}-mcp", run_engine_scale, {"n_buyers": n}) for n in SIZES]
    cases.append(Case("engine-scale", "microgrid-n50-mcp-verified", run_engine_scale,
                      {"n_buyers": 50, "verify": True}, smoke=True))
    cases.append(Case("engine-scale", "microgrid-n50-gauss-seidel", run_engine_scale,
                      {"n_buyers": 50, "method": "gauss-seidel"}))
    return cases
