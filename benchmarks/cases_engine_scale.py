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

Best-response sweeps at 50, 200 and 1,000 buyers (fast best responses):
``gauss-seidel`` on the market above and ``jacobi`` on the same market
*without capacities* (a Jacobi step from one profile lets every buyer take
the capacity the others leave, so the step overshoots the shared caps and the
next step has no feasible response).  Gauss-Seidel's best responses are Newton
on the buyer's KKT system, compiled once per buyer with the others' shares as
a numpy vector (:mod:`~gridgames.solvers.games.compiled_player`; Ipopt only for
a buyer whose Newton answer is not certified: ``newton_fallbacks``); a Jacobi
step is ONE joint, separable Ipopt solve (:mod:`~gridgames.solvers.games.batch`).  The
sweeps stop on their own best responses' relative gap (``gap_stop`` at
``gap_tol = 1e-6``) or after ``SWEEP_LIMIT`` sweeps; the gap reached is in
``eq_gap`` (numpy, exact) and ``engine_nash_gap`` (the engine's final
:func:`~gridgames.solvers.games.nash.nash_gap`, also by Newton, timed in
``t_verify``).  ``t_per_sweep`` and ``t_per_response`` (sweep time / buyers)
are the figures of merit.  The Jacobi reference is the vectorised solver
without capacities.

Every row splits its time: ``t_build`` (Pyomo model), ``t_derivation``
(analysis, lifting and the engine's own structures), ``t_translation`` (the
Ipopt bridge's translation: compile, checks; for sweeps, the part of
``t_solve`` + ``t_verify`` spent there), ``t_solve``, ``t_verify``; for
sweeps ``t_derivation`` includes compiling the buyers' Newton structures
(``t_newton_compile``).
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
#: best-response sweeps (Gauss-Seidel; Jacobi without capacities)
SWEEP_SIZES = (50, 200, 1000)
#: sweeps run at most per method and size (the gap-based stop usually ends them sooner): Gauss-Seidel
#: crawls once capacities bind (strategy changes ~1e-7 per sweep at 200 buyers while the relative gap is
#: already ~1e-12, hence the gap-based stop); Jacobi is damped (ω down to 1/4 here) and needs more
SWEEP_LIMIT = {"gauss-seidel": {50: 60, 200: 30, 1000: 5}, "jacobi": {50: 240, 200: 240, 1000: 20}}
#: the sweeps' gap-based stop: relative gain of every buyer's best response.  Tighter than the family's
#: goal gap (1e-6): at 1e-6 Gauss-Seidel stops at 50 buyers with total payoff 8e-6 from the reference
#: (outside the 1e-6 objective tolerance of a ``LOCAL`` row); at 1e-9 it is 4e-8 after 16 sweeps (3 s)
SWEEP_GAP_TOL = 1e-9


def _relative_gap(market, r: np.ndarray, capacity: bool = True) -> float:
    gaps = nash_gaps(market, r, capacity=capacity)
    return float(max(gaps.max(), 0.0) / max(np.mean(np.abs(buyer_payoffs(market, r))), 1e-12))


def _breakdown(method: str, build: float, timings: dict, solve_time: float) -> dict[str, float]:
    """The row's time split: build, derivation, translation, solve, verify (see the module docstring)."""
    if method == "mcp":
        return {"build": build, "derivation": timings.get("analyse", 0.0) + timings.get("lift", 0.0)
                + timings.get("assemble", 0.0), "translation": timings.get("compile", 0.0),
                "solve": timings.get("solve", solve_time) + timings.get("fallback", 0.0),
                "verify": timings.get("verify", 0.0)}
    return {"build": build, "derivation": timings.get("analyse", 0.0) + timings.get("setup", 0.0),
            "translation": timings.get("translate", 0.0), "solve": timings.get("iterate", solve_time),
            "verify": timings.get("verify", 0.0)}


def run_engine_scale(*, n_buyers: int, seed: int = 7, verify: bool = False, method: str = "mcp",
                     max_iter: int = 60, capacity: bool = True, newton: bool | None = None) -> dict:
    """One size: engine (build + ``method``) and vectorised solver in the same process, same market.

    ``method="gauss-seidel"`` / ``"jacobi"`` run best-response sweeps to ``tol = 1e-9``, to a relative
    gap of :data:`SWEEP_GAP_TOL` of their own best responses, or ``max_iter`` sweeps; the time per
    sweep is in ``t_per_sweep``, per best response (sweep time / buyers) in ``t_per_response``.
    ``newton=False`` makes every best response an Ipopt solve (the reference path; Jacobi then
    joins them into one solve per step).  ``capacity=False`` drops the sellers' capacities (engine
    and reference alike).
    """
    market = random_market(n_buyers, MarketSpec(), seed)
    ref = equilibrium(market, check=False, capacity=capacity)
    t0 = time.perf_counter()
    model = build_game(market, capacity=capacity)
    build = time.perf_counter() - t0
    if method == "mcp":
        options: dict = {"verify": verify}
    else:
        options = {"tol": 1e-9, "max_iter": max_iter, "gap_stop": True, "gap_tol": SWEEP_GAP_TOL, "newton": newton}
    res = solve_nash(model, model.buyer, method=method, **options)
    wall = build + res.solve_time
    r = requests(market, model)
    gap, ref_gap = _relative_gap(market, r, capacity), _relative_gap(market, ref.r, capacity)
    raw = res.extra.get("timings", {})
    timings = _breakdown(method, build, raw, res.solve_time)
    responses = res.extra.get("best_responses", {})
    if method == "mcp" and res.best_response_solves:  # the verification's re-solves
        timings["per_response"] = timings["verify"] / res.best_response_solves
    if method != "mcp":
        timings["newton_compile"] = responses.get("newton_compile_time", 0.0)
    if method != "mcp" and res.iterations:
        timings["per_sweep"] = timings["solve"] / res.iterations
        timings["per_response"] = timings["per_sweep"] / n_buyers
    goal = GOALS.get(n_buyers) if method == "mcp" else None
    solver = ("newton (generic engine)" if method == "mcp" else
              "newton best responses (ipopt fallback)" if responses.get("newton") else "ipopt best responses")
    objective, reference = float(buyer_payoffs(market, r).sum()), float(buyer_payoffs(market, ref.r).sum())
    return {"method": method, "solver": solver,
            "size": n_buyers, "objective": objective, "reference": reference,
            "reference_kind": "vectorised numpy solver, same run",
            # leader_gap: the buyers' total payoff against the reference's, relative (every family's meaning);
            # strategy_gap: the largest request difference (with capacities binding the equilibrium is a
            # generalized one and need not be unique: a sweep may end at another one)
            "leader_gap": abs(objective - reference) / max(abs(reference), 1e-12),
            "strategy_gap": float(np.abs(r - ref.r).max()), "eq_gap": gap, "wall_time": wall,
            "solver_time": timings.get("solve"), "lower_evals": res.iterations, "status": str(res.status),
            "vectorised_time": ref.time, "vectorised_eq_gap": ref_gap, "time_ratio": wall / max(ref.time, 1e-9),
            "engine_nash_gap": None if np.isnan(res.gap) else float(res.gap), "market": ref.market_status,
            "goal_s": goal, "goal_met": None if goal is None else bool(wall <= goal and gap <= 1e-6),
            "capacity": capacity, "joint_solves": responses.get("joint_solves"),
            "player_solves": responses.get("player_solves"), "fallbacks": len(responses.get("fallbacks", [])),
            "newton": responses.get("newton"), "newton_fallbacks": len(responses.get("newton_fallbacks", [])),
            "message": res.message[:300],
            **{f"t_{k}": float(v) for k, v in timings.items()}}


@case_family("engine-scale", tolerance={"mcp": CONVEX_LOCAL, "*": LOCAL})
def engine_scale_cases() -> list[Case]:
    """The microgrid game by the generic engine at 50, 200, 1,000 and 5,000 buyers (50 with verification in smoke)."""
    cases = [Case("engine-scale", f"microgrid-n{n}-mcp", run_engine_scale, {"n_buyers": n}) for n in SIZES]
    cases.append(Case("engine-scale", "microgrid-n50-mcp-verified", run_engine_scale,
                      {"n_buyers": 50, "verify": True}, smoke=True))
    for n in SWEEP_SIZES:
        cases.append(Case("engine-scale", f"microgrid-n{n}-gauss-seidel", run_engine_scale,
                          {"n_buyers": n, "method": "gauss-seidel", "max_iter": SWEEP_LIMIT["gauss-seidel"][n]},
                          smoke=n == SWEEP_SIZES[0]))
        cases.append(Case("engine-scale", f"microgrid-n{n}-jacobi-uncapacitated", run_engine_scale,
                          {"n_buyers": n, "method": "jacobi", "capacity": False,
                           "max_iter": SWEEP_LIMIT["jacobi"][n]}, smoke=n == SWEEP_SIZES[0]))
    return cases
