"""Single-level reformulations of a bilevel model through the followers' KKT conditions.

* ``kkt`` — Scholtes regularisation: complementarity ``μ_k σ_k ≤ ε`` with ε a
  mutable Param driven to zero (1e-2, 1e-3, ... ``eps_final``); each NLP is
  solved by Ipopt warm-started from the previous one.  A local answer.
  Followers may be smooth convex nonlinear (``build_kkt_block(smooth=True)``:
  symbolic gradients, sampled convexity); the global methods below are not.
* ``kkt-bigm`` — a binary ``z_k`` per pair: ``σ_k ≤ M^σ_k (1 − z_k)``,
  ``μ_k ≤ M^μ_k z_k`` with bounds *proved* by interval arithmetic or an LP over
  the relaxation (:mod:`~gridgames.solvers.games.kkt_bounds`); a pair with no
  provable bound becomes an SOS1 set (SCIP).  Nothing is guessed.  MILP for
  HiGHS when everything is linear and no SOS1 set is needed, otherwise SCIP:
  global.
* ``kkt-sos1`` — every pair an SOS1 set (SCIP): global, no bound needed.
* ``strong-duality`` — for linear followers: stationarity (dual feasibility),
  ``μ ≥ 0`` and ``primal objective = dual objective``; bilinear price × quantity
  terms make it an NLP that SCIP solves globally.

Modes (how each pair is stated) live in :mod:`~gridgames.solvers.games.modes`.
All of them attach blocks to the model and remove them afterwards, leaving the
user's model as it was except for the variable values.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pyomo.environ as pyo
from pyomo.common.modeling import unique_component_name
from pyomo.core.expr.visitor import identify_variables

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.coupled_bounds import coupled_variables, restore_bounds, tighten_coupled_bounds
from gridgames.solvers.games.dual_of import bind_duals
from gridgames.solvers.games.kkt import KKTBlock, Pair, build_kkt_block, complementarity_residual
from gridgames.solvers.games.kkt_bounds import PairBounds, derive_bounds, user_bounds_active
from gridgames.solvers.games.modes import MODES, Scholtes, StrongDuality, apply_plan, plan_modes
from gridgames.solvers.games.structure import Agent
from gridgames.solvers.model_class import classify
from gridgames.solvers.registry import get_solver
from gridgames.solvers.result import SolveResult, SolveStatus

log = logging.getLogger(__name__)


class Reformulation:
    """Context manager: add KKT blocks for every agent, remove them on exit.

    Agents' objectives are deactivated inside the ``with`` (their KKT
    conditions replace them) and restored afterwards, as is every multiplier
    bound set on the way and every variable bound :meth:`tighten_coupled_bounds`
    tightened.  ``shared[i]`` lists constraints outside agent i's
    block that also bind it (generalized Nash games).  ``smooth=True``
    (the local ``kkt`` method) also takes smooth convex nonlinear agents.
    ``gradients[i]``, when given, is agent i's objective gradient written
    through lifted totals (:mod:`~gridgames.solvers.games.kkt_lifting`).
    """

    def __init__(self, model: pyo.Block, agents: Sequence[Agent],
                 shared: Sequence[Sequence[Any]] | None = None, *, smooth: bool = False,
                 gradients: Sequence[list | None] | None = None) -> None:
        self.model, self.followers, self.smooth = model, agents, smooth
        self.shared = shared or [[] for _ in agents]
        self.gradients = gradients or [None for _ in agents]
        self.blocks: list[KKTBlock] = []
        self.saved_bounds: list = []

    def __enter__(self) -> list[KKTBlock]:
        for i, (f, shared, gradient) in enumerate(zip(self.followers, self.shared, self.gradients)):
            name = unique_component_name(self.model, f"_gg_kkt_{i}")
            self.blocks.append(build_kkt_block(self.model, f, name, shared_constraints=shared, smooth=self.smooth,
                                               objective_gradient=gradient))
            f.objective.deactivate()
        bind_duals(self.model, self.blocks)
        return self.blocks

    def __exit__(self, *exc: object) -> None:
        for f in self.followers:
            f.objective.activate()
        for kkt in self.blocks:
            for p in kkt.pairs:
                p.multiplier.setub(None)
            self.model.del_component(kkt.block)
        restore_bounds(self.saved_bounds)

    def tighten_coupled_bounds(self, solver: str = "highs") -> int:
        """Bound every follower variable that multiplies a leader variable by its feasible range.

        Call inside the ``with`` (the KKT blocks keep the original bounds; see
        :mod:`gridgames.solvers.games.coupled_bounds`).  Returns the number of
        variables bounded.
        """
        leader = [o.expr for o in self.model.component_data_objects(pyo.Objective, active=True)]
        for agent in self.followers:
            self.saved_bounds.extend(tighten_coupled_bounds(agent, coupled_variables(agent, leader), solver=solver))
        return len(self.saved_bounds)


def _combine(results: list[SolveResult], start: float, solver: str) -> SolveResult:
    last = results[-1]
    return SolveResult(last.status, last.objective, time.perf_counter() - start,
                       sum(r.iterations or 0 for r in results) or None, solver, last.message,
                       dict(last.extra))


# ---------------------------------------------------------------------------
# kkt: Scholtes regularisation with Ipopt
# ---------------------------------------------------------------------------
def run_scholtes(model: pyo.Block, blocks: Sequence[KKTBlock], solver: str, *, eps_start: float,
                 eps_final: float, eps_factor: float, solver_options: dict | None,
                 warm_refinement: bool = True) -> SolveResult:
    """Solve the regularised NLPs for ε = eps_start, eps_start·factor, ... eps_final.

    The model is translated once (the NLP solver caches it) and each solve is
    warm-started from the previous point.  If a later, tighter step fails
    after an earlier one succeeded, the last successful point is kept and
    reported with the ε it reached.
    """
    start = time.perf_counter()
    nlp = get_solver(solver, **(solver_options or {}))
    refine = nlp
    if solver == "ipopt" and warm_refinement:
        # later steps start next to the previous solution: keep its multipliers
        # and start the barrier small instead of at mu = 0.1
        refine = get_solver(solver, **{"warm_start_bound_push": 1e-9, "warm_start_mult_bound_push": 1e-9,
                                       "mu_init": 1e-6, **(solver_options or {}),
                                       "warm_start_multipliers": True})
    for kkt in blocks:
        Scholtes(eps_start).add(kkt)
    results: list[SolveResult] = []
    eps, reached = eps_start, None
    saved = None
    stopped = ""
    while True:
        for kkt in blocks:
            kkt.block.eps.set_value(eps)
        result = (refine if saved is not None else nlp).solve(model)
        results.append(result)
        log.info("scholtes eps=%.1e status=%s objective=%s", eps, result.status, result.objective)
        if not result.ok:
            if saved is not None:
                log.warning("regularisation stopped at eps=%.1e (%s); keeping the point of eps=%.1e",
                            eps, result.status, reached)
                for var, value in saved:
                    var.set_value(value, skip_validation=True)
                results.append(results[-2])
                stopped = (f"; the regularisation stopped short of eps={eps_final:.0e}: at eps={eps:.0e} the NLP "
                           f"was {result.status.value}, so the point is the one of eps={reached:.0e}")
            if result.status is SolveStatus.UNBOUNDED:
                stopped += "; the bilevel problem may be unbounded (kkt-bigm or kkt-sos1 decide it)"
            break
        reached = eps
        saved = _snapshot(model)
        if eps <= eps_final:
            break
        eps = max(eps * eps_factor, eps_final)
    out = _combine(results, start, solver)
    out.message += stopped
    out.extra["complementarity_residual"] = max((complementarity_residual(k) for k in blocks), default=0.0)
    out.extra["eps_reached"] = reached
    out.extra["convexity"] = convexity_of(blocks)
    return out


def convexity_of(blocks: Sequence[KKTBlock]) -> str:
    """``"sampled"`` if any agent's convexity was checked at sampled points only, else ``"proved"``."""
    return "sampled" if any(k.convexity == "sampled" for k in blocks) else "proved"


def solve_kkt_regularised(model: pyo.Block, followers: Sequence[Agent], *, solver: str = "ipopt",
                          eps_start: float = 1e-2, eps_final: float = 1e-10, eps_factor: float = 1e-4,
                          starts: int = 1, solver_options: dict | None = None) -> SolveResult:
    """Solve the MPEC by a sequence of NLPs with ``μ_k σ_k ≤ ε``, ε → ``eps_final``.

    ``starts=2`` runs the sequence a second time from the relaxation start
    (:func:`relaxation_start`) and keeps the better leader value of the runs
    that succeeded: still a local method, but less dependent on where the
    variables happen to start (on the BOLIB family it reaches a published
    optimum on 49 of 53 problems instead of 43).
    """
    if starts not in (1, 2):
        raise ModelError(f"starts must be 1 (the model's current point) or 2 (and the relaxation start), got {starts}")
    leader = next(o for o in model.component_data_objects(pyo.Objective, active=True, descend_into=True)
                  if all(o is not f.objective for f in followers))
    best: tuple[float, SolveResult, list] | None = None
    last = None
    for k in range(starts):
        if k == 1:
            relaxation_start(model, followers, solver_options)
        with Reformulation(model, followers, smooth=True) as blocks:
            last = run_scholtes(model, blocks, solver, eps_start=eps_start, eps_final=eps_final,
                                eps_factor=eps_factor, solver_options=solver_options)
        if last.ok:
            value = (1 if leader.sense == pyo.minimize else -1) * float(pyo.value(leader.expr))
            if best is None or value < best[0]:
                best = (value, last, _snapshot(model))
    if best is None:
        return last
    for var, value in best[2]:
        var.set_value(value, skip_validation=True)
    best[1].extra["starts"] = starts
    return best[1]


def _snapshot(model: pyo.Block) -> list:
    return [(v, v.value) for v in model.component_data_objects(pyo.Var, active=True, descend_into=True)]


def relaxation_start(model: pyo.Block, followers: Sequence[Agent], solver_options: dict | None = None) -> None:
    """Load a starting point: the high-point relaxation (the leader's problem over every
    constraint, followers' objectives ignored, by Ipopt), then each follower's best response
    at that leader decision.  Values only; a failed step leaves the values it reached."""
    from gridgames.solvers.games.agent_solve import AgentSolver

    for f in followers:
        f.objective.deactivate()
    try:
        get_solver("ipopt", **(solver_options or {})).solve(model)
    finally:
        for f in followers:
            f.objective.activate()
    for f in followers:
        AgentSolver(f).solve()


# ---------------------------------------------------------------------------
# kkt-bigm, kkt-sos1, strong-duality: global
# ---------------------------------------------------------------------------
def add_complementarity(model: pyo.Block, blocks: Sequence[KKTBlock], *, default: str = "bigm",
                        bigm: float | None = None, multiplier_bound: float | None = None,
                        modes: Mapping | None = None) -> tuple[list[PairBounds], list[dict[str, list[int]]]]:
    """Bound every pair (:func:`~gridgames.solvers.games.kkt_bounds.derive_bounds`) and state it
    in its mode: ``default`` (``bigm`` or ``sos1``) or the one ``modes`` gives its constraint or
    variable; big-M pairs without two finite bounds become SOS1 sets."""
    _check_modes(modes, blocks)
    bounds = derive_bounds(model, blocks, bigm=bigm, multiplier_bound=multiplier_bound)
    plans = []
    for kkt, b in zip(blocks, bounds):
        plan = plan_modes(kkt, b.slack, b.multiplier, default=default, per_source=modes)
        apply_plan(kkt, plan, b.slack, b.multiplier)
        plans.append(plan)
    return bounds, plans


def _check_modes(modes: Mapping | None, blocks: Sequence[KKTBlock] = ()) -> None:
    """Refuse an unknown mode, and a key that is no follower constraint or bounded follower variable
    (a leader variable, say: it would be ignored)."""
    sources = {id(p.source) for kkt in blocks for p in kkt.pairs}
    for comp, mode in (modes or {}).items():
        if mode not in MODES:
            raise ModelError(f"modes: unknown mode {mode!r} for '{getattr(comp, 'name', comp)}'; "
                             f"choose one of {', '.join(MODES)}")
        data = list(comp.values()) if getattr(comp, "is_indexed", lambda: False)() else [comp]
        if blocks and not any(id(d) in sources for d in data):
            raise ModelError(f"modes: '{getattr(comp, 'name', comp)}' is not a follower's inequality or bounded "
                             "variable (no complementarity pair comes from it); key modes= by those, e.g. "
                             "{m.f.c1: 'sos1'} (a ComponentMap for variables)")


#: relative MIP gap of the global methods (kkt-bigm, kkt-sos1, strong-duality): the engine's gap tolerance.
#: Closing SCIP's spatial branch-and-bound further costs much more than it buys: a 6-variable Stackelberg
#: leader with five Cournot followers took 85 s at 1e-9, 18 s at 1e-6 and 6 s at 1e-5 (kkt-bigm, same
#: optimum 337.5); pass solver_options={"mip_gap": ...} for another
GLOBAL_MIP_GAP = 1e-5


def _unbounded_hint(blocks: Sequence[KKTBlock]) -> str:
    """Why a global solve may stall: follower variables without a finite bound (no big-M can be proved for
    their pairs, and SCIP branches on their products with leader variables over an infinite range)."""
    free = [v.name for k in blocks for v in k.agent.variables if v.lb is None or v.ub is None]
    if not free:
        return ""
    shown = ", ".join(f"'{n}'" for n in free[:3]) + (f" and {len(free) - 3} more" if len(free) > 3 else "")
    return (f"; variable(s) {shown} of the lower level have no finite bound on some side: give them the physical "
            "limits they have (a capacity, a maximum demand), which lets the engine prove big-M bounds and "
            "SCIP branch on a finite range")


def solve_reformulated(model: pyo.Block, blocks: Sequence[KKTBlock], solver: str | None,
                       solver_options: dict | None, bounds: Sequence[PairBounds] = (),
                       plans: Sequence[dict[str, list[int]]] = ()) -> SolveResult:
    """Solve a reformulated model: HiGHS when it is (MI)LP without SOS1 sets, SCIP otherwise.

    The relative MIP gap defaults to :data:`GLOBAL_MIP_GAP` (HiGHS and SCIP use
    1e-4): these methods are the global references the others are checked against.  A
    caller-given bound (``bigm``/``multiplier_bound``) active at the answer
    turns ``optimal`` into ``feasible``, the message naming the pair.
    """
    start = time.perf_counter()
    n_sos = sum(len(p.get("sos1", ())) for p in plans)
    name = solver or ("highs" if classify(model).kind in ("lp", "milp") and not n_sos else "scip")
    if n_sos and name != "scip":
        raise ModelError(f"{n_sos} complementarity pairs are SOS1 sets (no bound could be proved for them, or "
                         f"modes= asked for it) and solver '{name}' does not take SOS1 constraints: use solver='scip' "
                         "or give bigm=/multiplier_bound=")
    options = dict(solver_options or {})
    if name in ("highs", "scip"):
        options.setdefault("mip_gap", GLOBAL_MIP_GAP)
    result = get_solver(name, **options).solve(model)
    result.extra["convexity"] = convexity_of(blocks)
    result.extra["complementarity_residual"] = max((complementarity_residual(k) for k in blocks),
                                                   default=0.0)
    if plans:
        n_bigm = sum(len(p.get("bigm", ())) for p in plans)
        result.extra["complementarity_modes"] = {"bigm": n_bigm, "sos1": n_sos}
        if n_sos:
            result.message += f"; {n_sos} complementarity pair(s) as SOS1 sets, {n_bigm} big-M"
            if not result.status.is_ok:
                result.message += _unbounded_hint(blocks)
    ratios = [pyo.value(p.multiplier) / M for k, b in zip(blocks, bounds) for p, M in zip(k.pairs, b.multiplier)
              if 0 < M < math.inf and p.multiplier.value is not None]
    if ratios:
        result.extra["max_multiplier_ratio"] = max(ratios)
    n_user = sum(o.startswith("user") for b in bounds for o in b.origin)
    if n_user:
        result.extra["user_bounds"] = n_user
        if result.status is SolveStatus.OPTIMAL:
            # a bound too small cuts off the true optimum without being active at the answer (Pineda and
            # Morales 2019): optimal for the bounded reformulation only, a bilevel-feasible point for the model
            result.status = SolveStatus.FEASIBLE
            result.message += (f"; optimal within {n_user} bound(s) you gave (bigm/multiplier_bound), which are "
                               "not proved: a better bilevel solution beyond them is not excluded (leave them out "
                               "to let the engine prove bounds or use SOS1)")
        elif result.status is SolveStatus.INFEASIBLE:
            result.status = SolveStatus.ERROR
            result.message += (f"; infeasible within {n_user} bound(s) you gave (bigm/multiplier_bound), which are "
                               "not proved: they may cut off every bilevel-feasible point (leave them out or raise "
                               "them)")
        else:
            result.message += f"; {n_user} bound(s) you gave (bigm/multiplier_bound), not proved"
    active = user_bounds_active(blocks, bounds) if result.status.is_ok else []
    if active:
        result.status = SolveStatus.FEASIBLE
        result.message += (f"; a bound you gave (bigm/multiplier_bound) is active at the answer on "
                           f"{', '.join(active[:3])}{' ...' if len(active) > 3 else ''}: the optimum may lie "
                           "beyond it (leave it out to let the engine prove bounds or use SOS1)")
    result.solve_time = time.perf_counter() - start
    return result


def solve_kkt_global(model: pyo.Block, followers: Sequence[Agent], *, default: str = "bigm",
                     solver: str | None = None, bigm: float | None = None,
                     multiplier_bound: float | None = None, modes: Mapping | None = None,
                     solver_options: dict | None = None, tighten_bounds: bool = True) -> SolveResult:
    """The KKT reformulation with exact complementarity: big-M where bounds are proved, SOS1 elsewhere.

    Parameters
    ----------
    default : {'bigm', 'sos1'}
        ``kkt-bigm`` or ``kkt-sos1``.  A ``bigm`` pair whose slack or multiplier has no
        proved bound (:mod:`~gridgames.solvers.games.kkt_bounds`) becomes an SOS1 set;
        the result says how many (``extra['complementarity_modes']``).
    bigm : float, optional
        Overrides every bound (slacks and multipliers) with one constant (not proved:
        active at the answer → status ``feasible``).
    multiplier_bound : float, optional
        For the multipliers nothing else bounds (same caveat).
    modes : mapping, optional
        ``{constraint or variable: "bigm" | "sos1"}`` per follower constraint or bound.
    tighten_bounds : bool
        Bound the follower variables that leader variables multiply by their
        feasible range first (:mod:`~gridgames.solvers.games.coupled_bounds`;
        also shrinks the derived big-M constants).
    """
    reformulation = Reformulation(model, followers)
    with reformulation as blocks:
        if tighten_bounds:
            reformulation.tighten_coupled_bounds()
        bounds, plans = add_complementarity(model, blocks, default=default, bigm=bigm,
                                            multiplier_bound=multiplier_bound, modes=modes)
        return solve_reformulated(model, blocks, solver, solver_options, bounds, plans)


def leader_dependent(blocks: Sequence[KKTBlock]) -> Callable[[Pair], bool]:
    """A test: does a pair's bound term (its part of the dual objective) involve a variable no follower owns?

    (The term is ``bound − (body − own part)``, so the agent's own variables appear in it
    symbolically and cancel; they do not count.)
    """
    own = {id(v) for kkt in blocks for v in kkt.agent.variables}

    def depends(pair: Pair) -> bool:
        term = pair.bound_term
        return not isinstance(term, (int, float)) and any(
            id(v) not in own for v in identify_variables(term, include_fixed=False))
    return depends


def solve_strong_duality(model: pyo.Block, followers: Sequence[Agent], *, solver: str | None = None,
                         multiplier_bound: float | None = None,
                         solver_options: dict | None = None, tighten_bounds: bool = True) -> SolveResult:
    """Replace each linear follower by primal feasibility, dual feasibility and equal objectives.

    With ``c`` the follower's cost and ``t`` the bound terms of its slacks, the
    added row is ``cᵀy ≤ tᵀμ + t_eᵀπ`` (weak duality gives ``≥``, so the pair is
    equality).  The row holds only up to the solver's feasibility tolerance
    times the size of the multipliers: with unbounded multipliers SCIP was
    seen to return μ ≈ 2e8 and slacks of −2e-8, a duality gap of 4 hidden in
    its tolerance (BOLIB's TuyEtal1993: a follower gap of 6 at a leader value
    better than the global optimum).  So every multiplier whose bound term
    depends on the leader (a product ``μ_k·x`` in the row) is bounded first
    (interval arithmetic, then an LP over the relaxation,
    :mod:`~gridgames.solvers.games.kkt_bounds`); a follower with such a
    multiplier that no bound can be proved for gets exact SOS1
    complementarity instead of the row, and the message says so.  Followers
    whose constraints do not involve the leader (a price only in the
    objective, as in the TOU games) keep the row: its products are then
    ``p·q`` only, which the coupled bounds keep tight.

    With ``tighten_bounds`` (default) the follower variables that leader
    variables multiply (``price × quantity``) are first bounded by their range
    over the follower's feasible set, two LPs each: SCIP's McCormick
    relaxation of those products is then much tighter
    (:mod:`~gridgames.solvers.games.coupled_bounds`).
    """
    reformulation = Reformulation(model, followers)
    with reformulation as blocks:
        if tighten_bounds:
            reformulation.tighten_coupled_bounds()
        for kkt in blocks:
            if not kkt.linear_agent:
                raise ModelError(f"strong-duality needs a linear follower; '{kkt.agent.name}' has a "
                                 "quadratic objective. Use method='kkt' or 'kkt-bigm'.")
        depends = leader_dependent(blocks)
        bounds = derive_bounds(model, blocks, multiplier_bound=multiplier_bound, need=depends)
        plans, fallback = [], []
        for kkt, b in zip(blocks, bounds):
            if all(math.isfinite(m) for p, m in zip(kkt.pairs, b.multiplier) if depends(p)):
                StrongDuality().add(kkt)
                plans.append({"bigm": [], "sos1": []})
            else:
                plan = {"bigm": [], "sos1": list(range(len(kkt.pairs)))}
                apply_plan(kkt, plan, b.slack, b.multiplier)
                plans.append(plan)
                fallback.append(kkt.agent.name)
        result = solve_reformulated(model, blocks, solver, solver_options, bounds, plans)
    if fallback:
        result.message += (f"; follower(s) {', '.join(fallback)}: a multiplier no bound could be proved for "
                           "multiplies a leader variable in the dual objective, so complementarity is stated "
                           "by SOS1 sets instead of the strong-duality row")
        result.extra["sos1_followers"] = fallback
    return result
