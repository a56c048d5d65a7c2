"""``solve_bilevel``: one entry point, five methods, one result type.

Example (a price-setting leader and a quadratic follower)::

    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10))                      # leader: price
    m.f = pyo.Block()
    m.f.q = pyo.Var(bounds=(0, 8))                     # follower: quantity
    m.f.obj = pyo.Objective(expr=10*m.f.q - m.f.q**2/2 - m.p*m.f.q, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=m.p*m.f.q, sense=pyo.maximize)
    res = solve_bilevel(m, m.f, method="kkt")          # p = 5, q = 5, revenue 25
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.base.block import BlockData
from pyomo.core.expr.visitor import identify_variables

from gridgames.solvers.errors import ModelError, UnsupportedModelError
from gridgames.solvers.games.dual_of import dual_variables, placeholder_bounds_active
from gridgames.solvers.games.agent_qp import agent_qp, solve_qps
from gridgames.solvers.games.agent_solve import (GLOBAL_CHECKS, GLOBAL_OPTIONS, LARGE_QP, AgentSolver,
                                                 RelaxedAgent, constraint_violation, global_best_response,
                                                 global_solver_if_nonconvex, impossible_leader_rows, infeasibility,
                                                 is_nonlinear, locally_checked, runaway_suspects, unsolved_followers)
from gridgames.solvers.games.kkt import dependent_rows_note
from gridgames.solvers.games.kkt_methods import (solve_kkt_global, solve_kkt_regularised,
                                                 solve_strong_duality)
from gridgames.solvers.games.implicit import IMPLICIT_OPTIONS, solve_implicit
from gridgames.solvers.games.closed_form import solve_closed_form
from gridgames.solvers.games.nested import solve_nested
from gridgames.solvers.games.results import AgentCheck, BilevelResult
from gridgames.solvers.scaling import scaling_note
from gridgames.solvers.games.status import (FEAS_TOL, GAP_TOL, check_on_error, check_options, check_tolerances,
                                          finish, judge, judge_feasibility, judge_local, judge_runaway,
                                          VIOLATION_FACTOR)
from gridgames.solvers.games.structure import (Agent, OwnFreePart, _as_blocks, analyse_agents, leader_part,
                                             values_text)
from gridgames.solvers.games.terms import NamedTerms
from gridgames.solvers.games.values import record_values
from gridgames.solvers.registry import available_solvers
from gridgames.solvers.result import SolveResult, SolveStatus
from gridgames.solvers.validate import check_finite, finite_data_named

log = logging.getLogger(__name__)

BILEVEL_METHODS = ("kkt", "kkt-bigm", "kkt-sos1", "strong-duality", "nested", "analytic", "implicit")
#: methods that accept followers playing a Nash game among themselves (a follower using another's variables)
NASH_FOLLOWER_METHODS = ("kkt", "kkt-bigm", "kkt-sos1", "nested", "implicit")


def solve_bilevel(model: pyo.Block, followers: BlockData | Iterable[BlockData], method: str = "kkt",
                  solver: str | None = None, *, verify: bool = True, gap_tol: float = GAP_TOL,
                  feas_tol: float = FEAS_TOL, on_error: str = "return", **options: Any) -> BilevelResult:
    """Solve a bilevel (Stackelberg) model declared as a plain Pyomo model.

    Parameters
    ----------
    model : pyomo Block
        The whole model: leader objective, variables and constraints at any level
        outside the follower blocks.
    followers : Block or iterable of Blocks
        Each holds its own variables, constraints and exactly one active Objective.
        An indexed Block counts as one follower per index.  Followers may use each
        other's variables (they then play a Nash game at the lower level: ``kkt``,
        ``kkt-bigm`` and ``kkt-sos1`` stack their KKT conditions, ``nested`` reacts with
        their equilibrium from ``solve_nash(method="mcp")``, ``implicit`` differentiates
        through their stacked KKT system; the follower check is then their Nash gap);
        the other methods refuse such followers.
    method : {'kkt', 'kkt-bigm', 'kkt-sos1', 'strong-duality', 'nested', 'analytic', 'implicit'}
        ``kkt``: followers' KKT conditions, Scholtes-regularised NLPs solved by
        Ipopt (local). ``kkt-bigm``: the same with binaries and big-M bounds proved
        by interval arithmetic or LPs, SOS1 sets where none can be proved; MILP for
        HiGHS or MIQP/MINLP for SCIP (global, no bound needed from you).
        ``kkt-sos1``: every complementarity pair an SOS1 set (SCIP, global). ``strong-duality``:
        linear followers only. ``nested``: a pymoo algorithm over the leader's
        variables, followers re-solved per candidate. ``analytic``: the caller
        supplies the answer (``equilibrium=``) or the followers' closed-form
        response (``response=``).  ``implicit``: strictly convex followers (a unique
        response), or followers playing a Nash game whose KKT system is regular at the
        answer (``extra["regular"]``, ``extra["unique_response"]``: True when their game
        is strictly monotone), and a leader with variable bounds only; L-BFGS-B over the leader's
        box on the reduced objective, each follower response by semismooth Newton on
        the followers' KKT system, gradients by one adjoint sparse solve (local; see
        :mod:`~gridgames.solvers.games.implicit`).
    solver : str, optional
        Registry name of the solver for the single-level problem (``kkt``,
        ``kkt-bigm``, ``strong-duality``, ``analytic`` with ``response``) or for the
        followers (``nested``).  Defaults are chosen per method.
    verify : bool
        Re-solve every follower at the returned leader decision and record its
        optimality gap (:func:`verify`); on by default because it is the honest check.
    gap_tol : float
        A follower whose gap exceeds ``gap_tol · max(1, |its objective|)`` (default 1e-5)
        is not optimal: the status is then ``follower_not_optimal`` and the message
        names it and its gap, whatever the method reported.
    feas_tol : float
        Feasibility tolerance of the re-solves (default 1e-6): a follower found
        infeasible at the returned point is re-solved with its constraints and
        bounds relaxed by it (``AgentCheck.relaxed``, ``AgentCheck.violation``).
    on_error : {'return', 'raise'}
        ``raise``: any status that is not a success (``is_ok``) raises
        :class:`~gridgames.solvers.errors.SolveFailedError` carrying the result.
    **options
        Method options: ``eps_start``, ``eps_final``, ``eps_factor`` (kkt); ``bigm``,
        ``multiplier_bound``, ``modes`` (kkt-bigm, kkt-sos1: ``{constraint: "sos1" | "bigm"}``
        per follower constraint or variable; a bound you give that is active at the
        answer makes the status ``feasible``); ``multiplier_bound`` (strong-duality);
        ``tighten_bounds`` (kkt-bigm and strong-duality, default True: bound the follower
        variables that leader variables multiply by their feasible range, two LPs each);
        ``algorithm``, ``n_gen``, ``pop_size``, ``seed``, ``termination``, ``workers``,
        ``map_fn``, ``progress``, ``initial``, ``search_bounds``, ``polish_evaluations``
        (nested: GA then a bounded Powell polish);
        ``starts`` (kkt: 2 adds a run from the high-point relaxation, best kept);
        ``equilibrium`` or ``response`` (analytic: callables returning ``(var, value)``
        pairs); ``solver_options`` for all but implicit;
        ``tol`` (projected-gradient tolerance relative to the first gradient, default 1e-6),
        ``max_iter`` (L-BFGS-B iterations, 500), ``memory`` (L-BFGS-B pairs, 20),
        ``follower_tol`` (followers' KKT residual, 1e-10), ``follower_max_iter``
        (Newton iterations per response, 100), ``scan`` (points of the leader's box tried
        before L-BFGS-B, 0) (implicit).

    Returns
    -------
    BilevelResult
        Values are loaded into ``model``.  The status is ``optimal`` (global
        methods) or ``locally_optimal`` (``kkt``, ``implicit``: projected gradient
        within tolerance, followers strictly convex) only when every follower's gap
        is within ``gap_tol``; ``nested`` reports ``feasible`` (a GA certifies
        nothing); ``follower_not_optimal`` otherwise.

    Raises
    ------
    UnsupportedModelError
        A KKT method on a follower that is not convex or has integer variables
        (the message names the block and the term and suggests ``nested``).
    ModelError
        A model that does not follow the block convention, unknown options.
    """
    if method not in BILEVEL_METHODS:
        raise ModelError(f"unknown bilevel method {method!r}; choose one of {', '.join(BILEVEL_METHODS)}")
    check_on_error(on_error)
    if method in ("nested", "analytic") and len(dual_variables(model)):
        raise ModelError(f"the model uses dual_of(...) placeholders, which only the KKT methods bind to the "
                         f"followers' multipliers; method '{method}' cannot solve it (use kkt, kkt-bigm, kkt-sos1 "
                         "or strong-duality)")
    followers = _as_blocks(followers)   # a generator (m.U.values()) is read more than once below
    named = NamedTerms()  # an Expression shared by followers and leader is walked once
    agents = analyse_agents(model, followers, role="follower", named=named)
    leader = leader_part(model, agents, nash_followers=method in NASH_FOLLOWER_METHODS, named=named)
    start = time.perf_counter()
    check_options(method, options, _OPTIONS[method], ("verify", "gap_tol", "feas_tol", "on_error")
                  + (("solver",) if method != "implicit" else ()))   # implicit refuses solver= (below)
    if not isinstance(verify, bool):
        raise ModelError(f"verify must be True or False, got {verify!r}")
    check_tolerances(gap_tol, options)
    if method == "implicit" and solver is not None:
        raise ModelError(f"method 'implicit' takes no solver= (got {solver!r}): its follower responses are Newton "
                         "solves of their KKT systems and the leader's search is L-BFGS-B; the check re-solves "
                         "use the default solver of each follower's class")
    if method in ("nested", "implicit"):
        _check_search(method, leader, agents)
    discrete = [v for v in leader.variables if not v.is_continuous()]
    if method == "kkt" and (solver or "ipopt") == "ipopt" and discrete:
        integer_follower = next((v for a in agents for v in a.variables if not v.is_continuous()), None)
        use = (f"the follower's '{integer_follower.name}' is integer too, which no KKT method takes: use "
               "method='nested'" if integer_follower is not None else
               "use method='kkt-bigm' or 'kkt-sos1' (MILP/MIQP), 'nested', or solver='scip'")
        raise UnsupportedModelError(f"method='kkt' runs Ipopt, which takes continuous variables only; the leader's "
                                    f"'{discrete[0].name}' is {discrete[0].domain}: {use}")
    stats: dict[str, Any] = {}
    try:
        with finite_data_named(model):
            base, stats = _dispatch(model, leader, agents, method, solver, options)
    except ModelError as exc:
        if "_gg_" not in str(exc):
            raise
        check_finite(model)   # found in a reformulation row (now removed): name the user's component instead
        raise
    result = BilevelResult(**{**base.__dict__, "solve_time": time.perf_counter() - start}, method=method)
    if result.status is SolveStatus.INFEASIBLE and method not in ("nested", "implicit"):
        diagnosis = impossible_leader_rows(leader.constraints, agents) or unsolved_followers(agents, leader.variables)
        result.message += diagnosis
        badly_scaled = "" if diagnosis else scaling_note(model, skip=(leader.objective,))
        if badly_scaled:   # a solver's absolute tolerances, not a proof (a pricing model in Wh: "proven" infeasible)
            result.status = SolveStatus.ERROR
            result.message += f"; {result.solver} reported infeasible, but {badly_scaled[2:]}"
        elif method == "kkt" and not diagnosis and (solver or "ipopt") == "ipopt":
            # Ipopt's "local infeasibility" on the regularised (nonconvex) KKT problem proves nothing
            result.status = SolveStatus.ERROR
            result.message += ("; Ipopt stopped at a point of local infeasibility of the regularised KKT problem, "
                               "which is not a proof that the bilevel problem is infeasible: try starts=3 or "
                               "method='kkt-bigm' (global)")
    if method == "kkt" and result.status in (SolveStatus.ERROR, SolveStatus.INFEASIBLE):
        result.message += dependent_rows_note(agents)
    if result.status is SolveStatus.TIME_LIMIT and method in ("kkt-bigm", "kkt-sos1", "strong-duality"):
        result.message += scaling_note(model)   # a 2-hour pricing model in Wh kept SCIP busy past 10 s
    if not result.status.is_ok and "unbounded" in result.message and method in ("kkt-bigm", "kkt-sos1",
                                                                                 "strong-duality"):
        result.message += ("; the single-level reformulation is unbounded: a follower with no optimum for some "
                           "leader decisions (a variable with no bound on the side its objective improves), or a "
                           "leader objective unbounded over the followers' responses: bound that variable")
    result.upper_evaluations = stats.get("upper_evaluations", 1)
    result.lower_evaluations = stats.get("lower_evaluations", 0)
    if stats.get("history"):
        result.extra["history"] = stats["history"]
    active = placeholder_bounds_active(model) if result.status.is_optimal else []
    if active:
        result.status = SolveStatus.FEASIBLE
        result.message += f"; {', '.join(active)} is at a bound you gave it: the optimum may lie beyond it"
    if method == "nested" and result.status.is_ok:
        result.status = SolveStatus.FEASIBLE
        result.message += " (a heuristic: optimality not certified)"
    with PauseGC():  # Python loops over every variable: no cyclic collections over a large model
        # an iteration or time limit without an objective: no point was loaded (nested with no feasible
        # candidate; SCIP stopped with "noSolution"): the variables hold leftovers, not an answer
        no_point = result.status in (SolveStatus.ITERATION_LIMIT, SolveStatus.TIME_LIMIT) and result.objective is None
        if result.status.has_point and not no_point:
            if method != "analytic" or result.objective is None:  # analytic evaluated it at these very values
                result.objective = leader.value()
            if verify:
                result.follower_checks = verify_followers(model, agents, feas_tol=feas_tol)
            checked = {c.name: c.value for c in result.follower_checks}  # each follower's value, already computed
            result.follower_objectives = {a.name: checked[a.name] if a.name in checked else a.value() for a in agents}
            if verify:
                result.lower_evaluations += len(agents)
                # tolerances scale with each objective without its constant (a constant changes no decision)
                part = OwnFreePart()
                const = {a.name: a.objective_constant(part) for a in agents}
                judge(result, {c.name: (c.gap, c.value - const.get(c.name, 0.0)) for c in result.follower_checks},
                      gap_tol=gap_tol, failed=SolveStatus.FOLLOWER_NOT_OPTIMAL, role="follower")
                by_name = {a.name: a for a in agents}
                limit = VIOLATION_FACTOR * feas_tol
                judge_feasibility(result, {c.name: (infeasibility(by_name[c.name], c.violation, tol=limit), c.gap,
                                                    c.value - const.get(c.name, 0.0), c.certified)
                                           for c in result.follower_checks}, gap_tol=gap_tol, feas_tol=feas_tol,
                                  failed=SolveStatus.FOLLOWER_NOT_OPTIMAL, role="follower")
                judge_local(result, locally_checked(agents, result.follower_checks), role="follower")
                judge_runaway(result, runaway_suspects(agents, lambda i: is_nonlinear(agents[i])),
                              failed=SolveStatus.FOLLOWER_NOT_OPTIMAL, role="follower")
                result.message += leader_value_at_responses(result, leader, agents, gap_tol)
        if not leader.variables:
            result.message += ("; the leader has no free variable (its decisions are fixed or Params): only the "
                               "followers' problems were solved")
        record_values(result, model, followers=followers, loaded=False if no_point else None)
    return finish(result, on_error)


def _dispatch(model: pyo.Block, leader, agents: list[Agent], method: str, solver: str | None,
              options: dict[str, Any]) -> tuple[SolveResult, dict[str, Any]]:
    """Run ``method``: its result and its counters."""
    stats: dict[str, Any] = {}
    if method == "kkt":
        base = solve_kkt_regularised(model, agents, solver=solver or "ipopt", **options)
    elif method in ("kkt-bigm", "kkt-sos1"):
        base = solve_kkt_global(model, agents, default=method[4:], solver=solver, **options)
    elif method == "strong-duality":
        base = solve_strong_duality(model, agents, solver=solver, **options)
    elif method == "nested":
        base, stats = solve_nested(model, leader, agents, follower_solver=solver, **options)
    elif method == "implicit":
        base, stats = solve_implicit(model, leader, agents, **options)
    else:
        base = solve_closed_form(model, leader, agents, solver=solver, **options)
    return base, stats


_OPTIONS: dict[str, set[str]] = {
    "kkt": {"eps_start", "eps_final", "eps_factor", "starts", "solver_options"},
    "kkt-bigm": {"bigm", "multiplier_bound", "modes", "solver_options", "tighten_bounds"},
    "kkt-sos1": {"bigm", "multiplier_bound", "modes", "solver_options", "tighten_bounds"},
    "strong-duality": {"multiplier_bound", "solver_options", "tighten_bounds"},
    "nested": {"algorithm", "n_gen", "pop_size", "seed", "termination", "workers", "map_fn",
               "progress", "initial", "search_bounds", "polish_evaluations", "solver_options"},
    "analytic": {"equilibrium", "response", "solver_options"},
    "implicit": IMPLICIT_OPTIONS,
}


def leader_value_at_responses(result: BilevelResult, leader, agents: list[Agent], gap_tol: float) -> str:
    """The leader's objective with every follower moved to its re-solved response, when it differs.

    A follower whose objective is flat near its optimum (a singular Hessian, e.g.
    ``(x + y − 20)⁴``) passes the objective-gap check at a point off its argmin,
    and a follower with several optima may be re-solved to another one; either way
    the leader's value at the re-solved responses tells how far the reported value
    can be trusted.  Returns a note for the message (and sets
    ``extra["leader_value_at_responses"]``) when the two differ by more than
    ``gap_tol · max(1, |F|)``; ``""`` otherwise, or when a check has no response.
    """
    checks = {c.name: c for c in result.follower_checks}
    if result.objective is None or not checks or any(checks.get(a.name) is None or checks[a.name].response is None
                                                     for a in agents):
        return ""
    saved = [a.snapshot() for a in agents]
    try:
        for a in agents:
            for v, x in zip(a.variables, checks[a.name].response):
                if x is not None:
                    v.set_value(x, skip_validation=True)
        moved = float(leader.value())
    except (ValueError, ZeroDivisionError, OverflowError):
        return ""
    finally:
        for a, snap in zip(agents, saved):
            a.restore(snap)
    shift = abs(moved - result.objective)
    if not shift > gap_tol * max(1.0, abs(result.objective)):
        return ""
    result.extra["leader_value_at_responses"] = moved
    why = ("a follower is not at its optimum (above)" if result.status is SolveStatus.FOLLOWER_NOT_OPTIMAL
           else "a flat or non-unique follower optimum, so the reported value is uncertain by at least that much")
    return (f"; at the followers' re-solved responses the leader's objective is {moved:.10g} "
            f"({shift / max(1.0, abs(result.objective)):.2g} relative from the reported value): {why}")


def _check_search(method: str, leader: Any, agents: list[Agent]) -> None:
    """Refuse what a search over the leader's decisions cannot take: no leader decision, or a follower
    whose objective none of its own variables enter (any feasible point is then its optimum).

    Raises
    ------
    ModelError
    """
    if not leader.variables:
        raise ModelError(f"method '{method}' searches over the leader's decisions, and the leader has no unfixed "
                         "variable: unfix one, or use a KKT method (kkt, kkt-bigm) for the followers alone")
    for agent in agents:
        _, walked = agent.terms.get(id(agent.objective), (None, None))
        own = {id(v) for v in agent.variables}
        if walked is not None and not any(id(v) in own for v in walked.columns):
            raise ModelError(f"follower '{agent.name}': its objective does not involve its own variables "
                             f"({values_text(agent.variables) or ', '.join(v.name for v in agent.variables[:3])}), "
                             f"so every feasible point is its optimum and method '{method}' has no response to "
                             "follow: use kkt or kkt-bigm (the optimistic choice among them)")
    _check_undecided(method, leader, agents)


def _check_undecided(method: str, leader: Any, agents: list[Agent]) -> None:
    """Refuse a follower variable the leader uses but the follower's problem does not (only its
    bounds): the follower is indifferent to it, so under the optimistic convention the leader picks
    it, which a search over the leader's own decisions cannot do.

    Raises
    ------
    ModelError
    """
    leader_uses = {id(v): v for c in [leader.objective, *leader.constraints]
                   for v in identify_variables(c.expr, include_fixed=False)}
    for agent in agents:
        used = {id(v) for c in [agent.objective, *agent.constraints, *agent.shared]
                for v in identify_variables(c.expr, include_fixed=False)}
        undecided = [v for v in agent.variables if id(v) not in used and id(v) in leader_uses]
        if undecided:
            raise ModelError(f"follower '{agent.name}': {', '.join(repr(v.name) for v in undecided[:3])} enters the "
                             "leader's problem but neither the follower's objective nor its constraints (only its "
                             "bounds), so the follower is indifferent to it and, optimistically, the leader picks "
                             f"it; method '{method}' searches the leader's own decisions only: declare it outside "
                             "the follower block (a leader variable) or use kkt-bigm / kkt-sos1")


def verify_followers(model: pyo.Block, agents: list[Agent], solver: str | None = None, *,
                     feas_tol: float = FEAS_TOL) -> list[AgentCheck]:
    """Re-solve every follower at the current leader values; report each optimality gap.

    The gap is ``(best − current)`` in the follower's own sense (for a
    minimiser, ``current − best``), so a positive gap means the returned point
    is not bilevel feasible: that follower would move.  Each check says whether
    the re-solve was proven optimal (``certified``); a local (Ipopt) re-solve
    of a non-convex follower can miss a better response — pass ``solver="scip"``.
    A follower whose problem is infeasible at the current leader values (by a
    solver tolerance, e.g. 1e-7) is re-solved with its constraints and bounds
    relaxed by ``feas_tol`` (``relaxed=True``); ``violation`` is the largest
    violation of its constraints at the returned point.
    """
    fast = _array_checks(agents, feas_tol) if solver is None else {}
    checks = []
    for agent in agents:
        if id(agent) in fast:
            checks.append(fast[id(agent)])
            continue
        current = agent.value()
        name, why = global_solver_if_nonconvex(agent, solver) if len(agents) <= GLOBAL_CHECKS else (solver, "")
        if why:     # SCIP, time-limited; its incumbent or the local answer when it stops
            best, res, response, certified = global_best_response(agent)
        else:
            solver_ = AgentSolver(agent, name)
            best, res, response = solver_.best_response()
            certified = res.status is SolveStatus.OPTIMAL and not solver_.mip_gap_unknown
        relaxed = False
        if not res.ok:
            with RelaxedAgent(agent, feas_tol):
                best, res, response = AgentSolver(agent, name, GLOBAL_OPTIONS if why else None).best_response()
            relaxed, certified = True, res.status is SolveStatus.OPTIMAL
        gap = (current - best) if agent.sense > 0 else (best - current)
        checks.append(AgentCheck(agent.name, current, best, gap, str(res.status),
                                 certified=certified,
                                 violation=constraint_violation(agent), relaxed=relaxed,
                                 response=response if res.ok else None))
    return checks


def _array_checks(agents: list[Agent], feas_tol: float) -> dict[int, AgentCheck]:
    """Checks of the large QP followers (more than ``LARGE_QP`` variables, which the default rule
    sends to Ipopt), read as arrays and re-solved as one block-diagonal problem
    (:mod:`~gridgames.solvers.games.agent_qp`: Clarabel when installed and every block is convex,
    a global certificate; Ipopt otherwise); the others are left to the per-follower path.
    A follower whose problem fails in the joint run is re-solved alone, relaxed by ``feas_tol``
    if it fails again (``relaxed=True``), as on the per-follower path."""
    if not {"ipopt", "clarabel"} & set(available_solvers()):
        return {}
    qps = [q for a in agents if len(a.variables) > LARGE_QP
           for q in [agent_qp(a)] if q is not None and q.H.nnz]
    if not qps:
        return {}
    current = [np.array([v.value if v.value is not None else np.nan for v in q.agent.variables]) for q in qps]
    starts = [np.nan_to_num(y) for y in current]
    solved = solve_qps(qps, starts)
    out = {}
    for q, res_status, y, y0, y_now in zip(qps, solved.statuses, solved.solutions, starts, current):
        relaxed = False
        if not res_status.is_ok and not solved.separate:
            alone = solve_qps([q], [y0])
            res_status, y = alone.statuses[0], alone.solutions[0]
        if not res_status.is_ok:
            alone = solve_qps([q.relaxed(feas_tol)], [y0])
            res_status, y, relaxed = alone.statuses[0], alone.solutions[0], True
        now = q.objective(y_now)
        best = q.objective(y) if res_status.is_ok else float("nan")
        gap = (now - best) if q.agent.sense > 0 else (best - now)
        out[id(q.agent)] = AgentCheck(q.agent.name, now, best, gap, str(res_status),
                                      certified=res_status is SolveStatus.OPTIMAL,
                                      violation=q.violation(y_now), relaxed=relaxed)
    log.info("verified %d large QP followers as arrays (%s)", len(qps), solved.message)
    return out


def verify(model: pyo.Block, followers: BlockData | Iterable[BlockData], solver: str | None = None, *,
           feas_tol: float = FEAS_TOL) -> list[AgentCheck]:
    """Public form of :func:`verify_followers` taking the follower blocks.

    Example: ``[c.gap for c in gg.verify(m, m.f)]`` after loading a candidate
    point into ``m``.
    """
    return verify_followers(model, analyse_agents(model, followers), solver, feas_tol=feas_tol)
