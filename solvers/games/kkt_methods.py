"""Single-level reformulations of a bilevel model through the followers' KKT conditions.

* ``kkt`` — Scholtes regularisation: complementarity ``μ_k σ_k ≤ ε`` with ε a
  mutable Param driven to zero (1e-2, 1e-3, ... ``eps_final``); each NLP is
  solved by Ipopt warm-started from the previous one.  A local answer.
* ``kkt-bigm`` — a binary ``z_k`` per pair: ``σ_k ≤ M^σ_k (1 − z_k)``,
  ``μ_k ≤ M^μ_k z_k``.  ``M^σ`` comes from interval arithmetic on the slack
  over the variable bounds; ``M^μ`` from the stationarity row the multiplier
  appears in (see :func:`derive_multiplier_bounds`).  Nothing is guessed: a bound
  that cannot be derived is an error unless ``bigm=`` gives one.  MILP for
  HiGHS when everything is linear, otherwise MIQP/MINLP for SCIP: global.
* ``strong-duality`` — for linear followers: stationarity (dual feasibility),
  ``μ ≥ 0`` and ``primal objective = dual objective``; bilinear price × quantity
  terms make it an NLP that SCIP solves globally.

All three attach blocks to the model and remove them afterwards, leaving the
user's model as it was except for the variable values.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import pyomo.environ as pyo
from pyomo.common.modeling import unique_component_name
from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.coupled_bounds import coupled_variables, restore_bounds, tighten_coupled_bounds
from gridgames.solvers.games.kkt import KKTBlock, build_kkt_block, complementarity_residual
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
    block that also bind it (generalized Nash games).
    """

    def __init__(self, model: pyo.Block, agents: Sequence[Agent],
                 shared: Sequence[Sequence[Any]] | None = None) -> None:
        self.model, self.followers = model, agents
        self.shared = shared or [[] for _ in agents]
        self.blocks: list[KKTBlock] = []
        self.saved_bounds: list = []

    def __enter__(self) -> list[KKTBlock]:
        for i, (f, shared) in enumerate(zip(self.followers, self.shared)):
            name = unique_component_name(self.model, f"_gg_kkt_{i}")
            self.blocks.append(build_kkt_block(self.model, f, name, shared_constraints=shared))
            f.objective.deactivate()
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
def add_scholtes(kkt: KKTBlock, eps: float) -> None:
    """Complementarity as ``μ_k σ_k ≤ ε`` with ε the mutable Param ``kkt.block.eps``."""
    kkt.block.eps = pyo.Param(mutable=True, initialize=eps)
    kkt.block.complementarity = pyo.Constraint(
        range(len(kkt.pairs)),
        rule=lambda b, k: kkt.pairs[k].multiplier * kkt.pairs[k].slack <= b.eps)


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
        add_scholtes(kkt, eps_start)
    results: list[SolveResult] = []
    eps, reached = eps_start, None
    saved = None
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
            break
        reached = eps
        saved = [(v, v.value) for v in model.component_data_objects(pyo.Var, active=True, descend_into=True)]
        if eps <= eps_final:
            break
        eps = max(eps * eps_factor, eps_final)
    out = _combine(results, start, solver)
    out.extra["complementarity_residual"] = max((complementarity_residual(k) for k in blocks), default=0.0)
    out.extra["eps_reached"] = reached
    return out


def solve_kkt_regularised(model: pyo.Block, followers: Sequence[Agent], *, solver: str = "ipopt",
                          eps_start: float = 1e-2, eps_final: float = 1e-10, eps_factor: float = 1e-4,
                          solver_options: dict | None = None) -> SolveResult:
    """Solve the MPEC by a sequence of NLPs with ``μ_k σ_k ≤ ε``, ε → ``eps_final``."""
    with Reformulation(model, followers) as blocks:
        return run_scholtes(model, blocks, solver, eps_start=eps_start, eps_final=eps_final,
                            eps_factor=eps_factor, solver_options=solver_options)


# ---------------------------------------------------------------------------
# kkt-bigm
# ---------------------------------------------------------------------------
def _interval(expr: Any) -> tuple[float, float]:
    if isinstance(expr, (int, float)):
        return float(expr), float(expr)
    lo, hi = compute_bounds_on_expr(expr)
    return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


def derive_multiplier_bounds(kkt: KKTBlock, *, max_rounds: int = 5) -> dict[int, float]:
    """Upper bounds on the multipliers from the stationarity rows, by interval arithmetic.

    Row j reads ``R_j(x, y, other μ) + c_k μ_k = 0`` with ``c_k`` a constant.
    When ``μ_k`` is the row's only multiplier without a bound yet, ``μ_k ≤
    max over the box of −R_j / c_k``.  A variable's lower- and upper-bound
    multipliers share its row but are never both positive (one of the two
    slacks is strictly positive when ``l < u``), so each is bounded with the
    other set to zero.  Rounds repeat until nothing new is bounded; bounds are
    also set on the multiplier variables so later rows can use them.
    """
    pair_of = {id(p.multiplier): k for k, p in enumerate(kkt.pairs)}
    bounds: dict[int, float] = {}
    rows = []
    for terms in kkt.stationarity_rows:
        mult, rest = {}, []
        for term in terms:
            ks = [pair_of[id(v)] for v in _vars(term) if id(v) in pair_of]
            coef = _coefficient(term, kkt.pairs[ks[0]].multiplier) if len(ks) == 1 else None
            if ks and coef is not None:
                mult[ks[0]] = (coef, term)
            else:
                rest.append(term)  # no multiplier, or a multiplier times a variable coefficient
        rows.append((mult, rest))
    for _ in range(max_rounds):
        progress = False
        for mult, rest in rows:
            unknown = [k for k in mult if k not in bounds]
            if len(unknown) == 2 and not _bound_partners(kkt, *unknown):
                continue
            if not unknown or len(unknown) > 2:
                continue
            for k in unknown:
                coef = mult[k][0]
                others = [t for j, (_, t) in mult.items() if j not in unknown]
                residual = sum(rest) + sum(others)
                lo, hi = _interval(residual)
                cand = max(-lo / coef, 0.0) if coef > 0 else max(hi / -coef, 0.0)
                if math.isfinite(cand):
                    bounds[k] = cand
                    kkt.pairs[k].multiplier.setub(cand)
                    progress = True
        if not progress:
            break
    return bounds


def _bound_partners(kkt: KKTBlock, a: int, b: int) -> bool:
    """True for the lower- and upper-bound multipliers of one variable."""
    pa, pb = kkt.pairs[a], kkt.pairs[b]
    return pa.is_variable_bound and pb.is_variable_bound and pa.source is pb.source


def _vars(expr: Any) -> list:
    from pyomo.core.expr.visitor import identify_variables
    if isinstance(expr, (int, float)):
        return []
    return list(identify_variables(expr, include_fixed=False))


def _coefficient(term: Any, var: Any) -> float | None:
    """The constant coefficient of ``var`` in a term linear in it alone (None otherwise)."""
    from pyomo.repn.standard_repn import generate_standard_repn
    repn = generate_standard_repn(term, quadratic=False)
    if repn.nonlinear_expr is not None or len(repn.linear_vars) != 1 or repn.linear_vars[0] is not var:
        return None
    return float(repn.linear_coefs[0])


def add_bigm(kkt: KKTBlock, *, bigm: float | None = None, multiplier_bound: float | None = None) -> None:
    """Complementarity by binaries: ``σ_k ≤ M^σ_k (1 − z_k)``, ``μ_k ≤ M^μ_k z_k``.

    Raises
    ------
    ModelError
        A bound that can be neither derived nor taken from ``bigm`` /
        ``multiplier_bound``, naming the constraint or variable.
    """
    m_mult = derive_multiplier_bounds(kkt) if bigm is None else {}
    big_s, big_mu, missing = [], [], []
    for k, pair in enumerate(kkt.pairs):
        s_hi = bigm if bigm is not None else _interval(pair.slack)[1]
        mu_hi = bigm if bigm is not None else m_mult.get(
            k, multiplier_bound if multiplier_bound is not None else math.inf)
        if not math.isfinite(s_hi):
            missing.append(f"slack of {pair.label} (a variable in it has no finite bound)")
        if not math.isfinite(mu_hi):
            missing.append(f"multiplier of {pair.label}")
        big_s.append(s_hi)
        big_mu.append(mu_hi)
    if missing:
        raise ModelError(
            f"kkt-bigm: cannot derive big-M bounds for '{kkt.agent.name}': "
            + "; ".join(missing[:5]) + (f" (+{len(missing) - 5} more)" if len(missing) > 5 else "")
            + ". Give finite variable bounds, pass multiplier_bound=<value> for the "
            "multipliers, or bigm=<value> to override every bound.")
    kkt.big_mu = big_mu
    kkt.block.z = pyo.Var(range(len(kkt.pairs)), within=pyo.Binary)
    kkt.block.slack_off = pyo.Constraint(range(len(kkt.pairs)),
                                         rule=lambda b, k: kkt.pairs[k].slack <= big_s[k] * (1 - b.z[k]))
    kkt.block.mult_off = pyo.Constraint(range(len(kkt.pairs)),
                                        rule=lambda b, k: kkt.pairs[k].multiplier <= big_mu[k] * b.z[k])
    log.info("big-M %s: %d pairs, max M_slack=%.3g, max M_mult=%.3g", kkt.agent.name,
             len(kkt.pairs), max(big_s, default=0), max(big_mu, default=0))


def solve_reformulated(model: pyo.Block, blocks: Sequence[KKTBlock], solver: str | None,
                       solver_options: dict | None) -> SolveResult:
    """Solve a reformulated model: HiGHS when it is (MI)LP, SCIP otherwise.

    The relative MIP gap defaults to 1e-9 (HiGHS and SCIP use 1e-4): these
    methods are the global references the others are checked against.
    """
    start = time.perf_counter()
    name = solver or ("highs" if classify(model).kind in ("lp", "milp") else "scip")
    options = dict(solver_options or {})
    if name in ("highs", "scip"):
        options.setdefault("mip_gap", 1e-9)
    result = get_solver(name, **options).solve(model)
    result.extra["complementarity_residual"] = max((complementarity_residual(k) for k in blocks),
                                                   default=0.0)
    ratios = [pyo.value(p.multiplier) / M for k in blocks for p, M in zip(k.pairs, getattr(k, "big_mu", []))
              if M > 0 and p.multiplier.value is not None]
    if ratios:
        result.extra["max_multiplier_ratio"] = max(ratios)
    result.solve_time = time.perf_counter() - start
    return result


def solve_kkt_bigm(model: pyo.Block, followers: Sequence[Agent], *, solver: str | None = None,
                   bigm: float | None = None, multiplier_bound: float | None = None,
                   solver_options: dict | None = None, tighten_bounds: bool = True) -> SolveResult:
    """Solve the KKT reformulation with binary switches and derived big-M bounds.

    Parameters
    ----------
    bigm : float, optional
        Overrides every derived bound (slacks and multipliers) with one constant.
    multiplier_bound : float, optional
        Used only for the multipliers whose bound cannot be derived from the
        stationarity rows (typically general constraints of an LP follower,
        whose dual polyhedron need not be bounded); derived bounds stay.
        A value that is too small cuts off the true optimum: check
        ``result.extra['max_multiplier_ratio']`` (largest μ / M, < 1 is safe).
    tighten_bounds : bool
        Bound the follower variables that leader variables multiply by their
        feasible range first (:mod:`~gridgames.solvers.games.coupled_bounds`;
        also shrinks the derived big-M constants).
    """
    reformulation = Reformulation(model, followers)
    with reformulation as blocks:
        if tighten_bounds:
            reformulation.tighten_coupled_bounds()
        for kkt in blocks:
            add_bigm(kkt, bigm=bigm, multiplier_bound=multiplier_bound)
        return solve_reformulated(model, blocks, solver, solver_options)


# ---------------------------------------------------------------------------
# strong duality
# ---------------------------------------------------------------------------
def solve_strong_duality(model: pyo.Block, followers: Sequence[Agent], *, solver: str | None = None,
                         multiplier_bound: float | None = None,
                         solver_options: dict | None = None, tighten_bounds: bool = True) -> SolveResult:
    """Replace each linear follower by primal feasibility, dual feasibility and equal objectives.

    With ``c`` the follower's cost and ``t`` the bound terms of its slacks, the
    added row is ``cᵀy ≤ tᵀμ + t_eᵀπ`` (weak duality gives ``≥``, so the pair is
    equality).  When leader variables enter the follower's constraints, ``tᵀμ``
    has bilinear terms ``μ·x``; SCIP's spatial branch-and-bound needs bounded
    multipliers for those, so bounds are derived as for ``kkt-bigm`` and
    ``multiplier_bound`` fills in the rest.

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
        unbounded = 0
        for kkt in blocks:
            if not kkt.linear_agent:
                raise ModelError(f"strong-duality needs a linear follower; '{kkt.agent.name}' has a "
                                 "quadratic objective. Use method='kkt' or 'kkt-bigm'.")
            derived = derive_multiplier_bounds(kkt)
            for k, pair in enumerate(kkt.pairs):
                if k not in derived:
                    if multiplier_bound is not None:
                        pair.multiplier.setub(multiplier_bound)
                    else:
                        unbounded += 1
            primal = kkt.agent.sense * kkt.agent.objective.expr - kkt.objective_constant
            kkt.block.strong_duality = pyo.Constraint(expr=primal - kkt.dual_objective <= 0)
        result = solve_reformulated(model, blocks, solver, solver_options)
    if not result.ok and unbounded:
        result.message += (f" (hint: {unbounded} follower multipliers have no bound and the dual "
                           "objective is bilinear; pass multiplier_bound=<value>)")
    return result
