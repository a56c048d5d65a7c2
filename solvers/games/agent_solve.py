"""Solving one agent's problem alone, with everything else held fixed.

Used by ``verify``, by ``nash_gap``, by best-response iterations and by the
nested bilevel search.  The other agents' and the leader's variables are
fixed at their current values (they become constants for the solver); the
agent's block is solved as a model of its own with a solver that is created
once per agent and re-used (HiGHS and SCIP through Pyomo are persistent; the
Ipopt bridge caches its translation).
"""
from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyomo.environ as pyo
from pyomo.core.expr.visitor import identify_variables

from gridgames.solvers.games.structure import Agent, FixedVariables, values_text
from gridgames.solvers.games.status import runaway_variables
from gridgames.solvers.model_class import classify, objective_convexity_defect
from gridgames.solvers.registry import available_solvers, get_solver
from gridgames.solvers.result import SolveResult, SolveStatus


#: Continuous QPs larger than this go to Ipopt rather than HiGHS.  HiGHS' QP
#: solver is an active-set method: on the separable 24-hour-by-T follower QPs of
#: the engine benchmark it took 0.15 s at 720 variables, 3.7 s at 2,190 and
#: ~166 s at 8,760, where Ipopt (interior point, translation cached) takes
#: 0.3 s and re-solves a 720-variable block in 12 ms.
log = logging.getLogger(__name__)

LARGE_QP = 500


def default_solver_for(block: pyo.Block, *, global_: bool = False) -> str:
    """SCIP for MIQP/MINLP, nonconvex QPs (or when ``global_``); HiGHS for LP, MILP and small
    convex QPs; Ipopt for large convex QPs and NLPs (and nonconvex QPs when SCIP is missing: a
    local answer)."""
    mc = classify(block)
    kind = mc.kind
    have = set(available_solvers())
    if kind in ("qp", "miqp") and not global_ and objective_convexity_defect(block) > 0.0:
        log.info("%s: nonconvex quadratic objective: %s", block.name, "scip" if "scip" in have else "ipopt")
        return "scip" if "scip" in have else "ipopt"
    if global_ or kind in ("miqp", "minlp") or (kind == "nlp" and "ipopt" not in have):
        return "scip"
    if kind == "qp" and "ipopt" in have and (mc.n_vars > LARGE_QP or _hessian_too_small_for_highs(block)):
        return "ipopt"
    if kind in ("lp", "qp", "milp") and "highs" in have:
        return "highs"
    return "ipopt" if "ipopt" in have else "scip"


def _hessian_too_small_for_highs(block: pyo.Block) -> bool:
    """HiGHS would drop some quadratic coefficient of the objective (below its ``small_matrix_value``)."""
    from gridgames.solvers.scaling import HIGHS_SMALL, smallest_hessian_entry

    smallest = smallest_hessian_entry(block)
    return smallest is not None and smallest < HIGHS_SMALL


#: up to this many agents, ``verify`` and the Nash gap test each nonlinear agent for convexity (sampled
#: Hessian) and re-solve a possibly nonconvex one with SCIP (global); above it the test would cost more
#: than the solves
GLOBAL_CHECKS = 20
#: seconds SCIP may spend on one global re-solve of a nonconvex agent (a 6-variable bilinear-log buyer
#: can keep SCIP's spatial branch-and-bound busy for minutes); at the limit its incumbent still counts
GLOBAL_TIME_LIMIT = 5.0
#: the options of those re-solves
GLOBAL_OPTIONS = {"time_limit": GLOBAL_TIME_LIMIT}
#: relative MIP gap of an integer agent's best response (HiGHS and SCIP stop at 1e-4 by default, ten times the
#: default gap_tol: a 60-item knapsack player stopped 9.0 short of its best, 441,660 against 441,669, and the
#: sweeps said optimal); 100 times below the default gap_tol, so the gain it can hide is within tolerance
BEST_RESPONSE_MIP_GAP = 1e-7
#: built-in solvers whose MILP answers stop at a relative MIP gap (scipy's MILP is HiGHS inside)
_MIP_GAP_SOLVERS = ("highs", "scip", "scipy")


def _mip_gap_settable(name: str | None) -> bool:
    """A built-in solver of :data:`_MIP_GAP_SOLVERS`, or a ``pyomo:<name>`` plug-in with a known MIP gap option."""
    if name in _MIP_GAP_SOLVERS:
        return True
    if name and name.startswith("pyomo:"):
        from gridgames.solvers.plugins import plugin_facts
        return "mip_gap" in plugin_facts(name[len("pyomo:"):]).options
    return False


def global_solver_if_nonconvex(agent: Agent, chosen: str | None = None) -> tuple[str | None, str]:
    """``("scip", why)`` for a continuous nonlinear agent that may be nonconvex (sampled), when no solver
    was chosen and SCIP is installed; otherwise ``(chosen, "")``.

    Ipopt, the default for nonlinear agents, finds a local optimum only: for a
    nonconvex follower that is not its best response (e.g. Mirrlees' problem), so
    the callers that rely on best responses being global (``nested``, ``verify``)
    ask here first.  Quadratic agents are routed by :func:`default_solver_for`.
    """
    if chosen is not None or "scip" not in available_solvers():
        return chosen, ""
    with FixedVariables(agent.parameters):
        kind = classify(agent.block).kind
    if kind != "nlp":
        return chosen, ""
    from gridgames.solvers.games.kkt import nonconvexity

    why = nonconvexity(agent)
    return ("scip", why) if why else (chosen, "")


def is_nonlinear(agent: Agent) -> bool:
    """True when the agent's problem, the others' variables fixed, is an NLP or MINLP: no class the
    solver routing proves convex (LP/QP/MILP)."""
    with FixedVariables(agent.parameters):
        return classify(agent.block).kind in ("nlp", "minlp")


def runaway_candidates(agent: Agent, tol: float = 1e-6) -> list[Any]:
    """The agent's variables that no active constraint of its own (or shared one) mentions: nothing but
    their bounds holds them at the current point, so one found far beyond every bound on an unbounded
    side ran away (:func:`~gridgames.solvers.games.status.judge_runaway`).  A variable in an active row
    (``e == 3.6e6·p``, ``x >= 2e7``) may be held there by it."""
    held: set[int] = set()
    for c in list(agent.constraints) + list(agent.shared):
        body = pyo.value(c.body, exception=False)
        active = c.equality or body is None or any(
            bound is not None and abs(body - bound) <= tol * (1.0 + abs(bound))
            for bound in (pyo.value(c.lower, exception=False), pyo.value(c.upper, exception=False)))
        if active:
            held.update(id(v) for v in identify_variables(c.body, include_fixed=False))
    return [v for v in agent.variables if id(v) not in held]


def runaway_suspects(agents: Sequence[Agent], nonlinear: Callable[[int], bool]) -> dict[str, list[Any]]:
    """Agent name -> :func:`runaway_candidates`, for the agents with a value far beyond their bounds
    (the cheap test, first) whose problem is nonlinear (``nonlinear(i)``): the input of
    :func:`~gridgames.solvers.games.status.judge_runaway`."""
    return {a.name: runaway_candidates(a) for i, a in enumerate(agents)
            if runaway_variables(a.variables) and nonlinear(i)}


def locally_checked(agents: Sequence[Agent], checks: Sequence[Any]) -> list[str]:
    """Names of the agents whose check was a local re-solve (``certified`` False) of a nonlinear problem
    (:func:`is_nonlinear`): a gap of 0 there rules out a better response nearby only, not elsewhere."""
    by_name = {a.name: a for a in agents}
    return [c.name for c in checks
            if c.name in by_name and not c.certified and is_nonlinear(by_name[c.name])]


@dataclass
class AgentSolver:
    """Solves one agent's block repeatedly with a persistent backend."""

    agent: Agent
    solver_name: str | None = None
    options: dict | None = None
    #: Ipopt backends shared between agents, keyed by their options (an Ipopt backend keeps no model
    #: state, and creating one costs ~6 ms of option checks); persistent backends are never shared
    pool: dict | None = None

    def __post_init__(self) -> None:
        self.target = self._target()
        #: the solver was chosen here, so it may be changed here (never a caller's choice)
        self._chosen_by_default = self.solver_name is None
        with self._others_fixed():
            name = self.solver_name or default_solver_for(self.target)
        self.solver_name = name
        #: the backend, built at the first solve; the first agent of each (solver, options) builds it here, so
        #: a missing solver or a bad option fails at once (a persistent HiGHS backend costs ~3 ms to create:
        #: 1,000 players checked by one joint solve need none of theirs)
        self._solver_obj: Any = None
        options = self._options_for(name)
        key = ("built", name, tuple(sorted((k, repr(v)) for k, v in options.items())))
        if self.pool is None or key not in self.pool:
            self._solver_obj = self._backend(name, options)
            if self.pool is not None:
                self.pool[key] = True
        self.solves = 0
        #: seconds the backends reported translating the target (Ipopt bridge: checks, compile, data)
        self.translation_time = 0.0

    @property
    def _solver(self) -> Any:
        """The backend solving :attr:`target` (built on first use)."""
        if self._solver_obj is None:
            self._solver_obj = self._backend(self.solver_name, self._options_for(self.solver_name))
        return self._solver_obj

    @_solver.setter
    def _solver(self, backend: Any) -> None:
        self._solver_obj = backend

    def _backend(self, name: str, options: dict) -> Any:
        """A backend for ``name``; Ipopt ones come from :attr:`pool` when one is given."""
        if name != "ipopt" or self.pool is None:
            return get_solver(name, **options)
        key = tuple(sorted((k, repr(v)) for k, v in options.items()))
        if key not in self.pool:
            self.pool[key] = get_solver(name, **options)
        return self.pool[key]

    def _others_fixed(self) -> contextlib.AbstractContextManager:
        """The other agents' variables fixed at their current values while the target is solved."""
        return FixedVariables(self.agent.parameters)

    @property
    def kind(self) -> str:
        """The target's class (``lp``, ``qp``, ``nlp``, ...), found once, on the target: an aggregative
        player's small view, not its whole payoff with the market totals."""
        if getattr(self, "_kind", None) is None:
            with self._others_fixed():
                self._kind = classify(self.target).kind
        return self._kind

    @property
    def nonlinear(self) -> bool:
        """The target is an NLP or MINLP."""
        return self.kind in ("nlp", "minlp")

    def _options_for(self, name: str) -> dict:
        """The caller's options, plus ``bound_relax_factor = 0`` for Ipopt on an agent with shared
        constraints (Ipopt otherwise relaxes bounds by 1e-8 and may return a point that overshoots
        a shared cap, which leaves the next player of a Gauss-Seidel sweep with an infeasible problem)
        and :data:`BEST_RESPONSE_MIP_GAP` for HiGHS, SCIP or scipy on an integer agent (a looser one the
        caller gives is kept, with a warning)."""
        options = dict(self.options or {})
        if name == "ipopt" and self.agent.shared:
            options.setdefault("bound_relax_factor", 0.0)
        if _mip_gap_settable(name) and self.integer:
            options.setdefault("mip_gap", BEST_RESPONSE_MIP_GAP)
        return options

    @property
    def integer(self) -> bool:
        """The agent has integer variables."""
        return any(not v.is_continuous() for v in self.agent.variables)

    @property
    def mip_gap_unknown(self) -> bool:
        """An integer agent whose best responses stop at a relative MIP gap gridgames cannot set: a custom
        solver, or a ``pyomo:<name>`` plug-in whose option name for it is not known (they stop at their own
        default, 1e-4 for HiGHS: ten times the default gap tolerance)."""
        return self.integer and not _mip_gap_settable(self.solver_name) and "mip_gap" not in (self.options or {})

    def _target(self) -> pyo.Block:
        """The agent's block, or a view adding the shared constraints that bind it."""
        if not self.agent.shared:
            return self.agent.block
        view = pyo.Block(concrete=True)
        view.agent = pyo.Reference(self.agent.block)
        view.shared = pyo.Reference(self.agent.shared)
        return view

    def solve(self) -> SolveResult:
        """Best response at the current parameter values (loaded into the block).

        When HiGHS was picked by default and its QP solver stops at the
        iteration limit (it can cycle on degenerate QPs) or fails (it can
        report "Solve error" on a QP with nearly fixed columns, e.g. a player
        at a bound of 1e-4), or calls a QP unbounded (HiGHS 1.16 says so for
        min (x − 4e7)², x ≥ 0: its QP solver takes a long step for a ray), this
        agent switches to Ipopt for this and every later solve.
        """
        with self._others_fixed():
            self.solves += 1
            result = self._solver.solve(self.target)
            if (self._chosen_by_default and self.solver_name == "highs"
                    and (result.status in (SolveStatus.ITERATION_LIMIT, SolveStatus.ERROR)
                         or (result.status is SolveStatus.UNBOUNDED and classify(self.target).kind == "qp"))
                    and "ipopt" in available_solvers()):
                log.info("agent %s: HiGHS stopped (%s: %s); switching to ipopt", self.agent.block.name,
                         result.status, result.message)
                self.solver_name = "ipopt"
                self._solver = self._backend("ipopt", self._options_for("ipopt"))
                result = self._solver.solve(self.target)
            self.translation_time += float(result.extra.get("translation_time", 0.0) or 0.0)
            return result

    def objective_value(self) -> float:
        """The agent's objective at the current values of its and the others' variables."""
        return float(pyo.value(self.agent.objective.expr))

    def best_response_value(self) -> tuple[float, SolveResult]:
        """The agent's optimal value at the current parameters; its variables are restored."""
        best, result, _ = self.best_response()
        return best, result

    def best_response(self) -> tuple[float, SolveResult, list[float | None]]:
        """As :meth:`best_response_value`, also the response (the agent's variables' values there)."""
        saved = self.agent.snapshot()
        result = self.solve()
        best = self.objective_value() if result.ok else float("nan")
        response = [v.value for v in self.agent.variables]
        self.agent.restore(saved)
        return best, result, response


def global_best_response(agent: Agent, local: str | None = None) -> tuple[float, SolveResult, list, bool]:
    """The agent's best response by SCIP within :data:`GLOBAL_TIME_LIMIT`, for a possibly nonconvex agent.

    Returns ``(value, result, response, certified)`` as :meth:`AgentSolver.best_response` plus whether the
    value is SCIP's proven global optimum.  When SCIP stops at its limit or fails, the better of its
    incumbent (if any) and the ``local`` solver's answer is returned, ``certified=False``: a gain computed
    from it is a lower bound on the agent's true gain.  The agent's variables are restored.
    """
    saved = agent.snapshot()
    scip = AgentSolver(agent, "scip", GLOBAL_OPTIONS)
    result = scip.solve()
    value = agent.value() if result.ok or result.status is SolveStatus.TIME_LIMIT else float("nan")
    response = [v.value for v in agent.variables]
    agent.restore(saved)
    if result.ok:
        return value, result, response, result.status is SolveStatus.OPTIMAL
    log.info("%s: SCIP stopped on its global re-solve (%s)", agent.name, result.message)
    best, res, local_response = AgentSolver(agent, local).best_response()
    if math.isfinite(value) and (not res.ok or (value - best) * agent.sense < 0):   # the incumbent is better
        res = SolveResult(SolveStatus.FEASIBLE, value, result.solve_time, result.iterations, "scip",
                          f"SCIP's incumbent at its {GLOBAL_TIME_LIMIT:g} s limit ({result.message})")
        return value, res, response, False
    return best, res, local_response, False


def unsolved_followers(agents: list[Agent], leader_variables: list[Any] = (), limit: int = 20,
                       role: str = "follower") -> str:
    """A diagnosis: each follower (up to ``limit``) solved alone at the current values; those without
    an optimal answer named with their status, at the leader's values.

    Returns ``""`` when all are solved (or there are more than ``limit``), else
    ``"; at p=1: follower 'f' is infeasible (highs: ...)"``, ready to append
    to a message.
    """
    if len(agents) > limit:
        return ""
    failed = []
    for agent in agents:
        try:
            res = AgentSolver(agent).solve()
        except Exception as exc:  # noqa: BLE001 - a diagnosis only: the caller reports its own error
            log.debug("diagnosing %s failed: %s", agent.name, exc)
            continue
        if not res.ok:
            why = " (no optimum, so no KKT point)" if res.status is SolveStatus.UNBOUNDED else ""
            failed.append(f"{role} '{agent.name}' is {res.status}{why} ({res.solver}: {res.message})")
    if not failed:
        return ""
    at = values_text(leader_variables)
    return (f"; solved alone{' at ' + at if at else ''}: " + "; ".join(failed[:3])
            + (f" and {len(failed) - 3} more" if len(failed) > 3 else ""))


def impossible_leader_rows(constraints: Iterable[Any], followers: list[Agent], limit: int = 3) -> str:
    """A diagnosis of an infeasible bilevel model: the leader's rows in its own variables that no point within
    their bounds can meet (interval arithmetic), e.g. ``p >= 12`` with ``p`` in [0, 10]; ``""`` when none is."""
    from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr

    follower_vars = {id(v) for a in followers for v in a.variables}
    found = []
    for con in constraints:
        if any(id(v) in follower_vars for v in identify_variables(con.body, include_fixed=False)):
            continue
        try:
            low, high = compute_bounds_on_expr(con.body)
        except Exception:  # noqa: BLE001 - a diagnosis only
            continue
        lower, upper = con.lower, con.upper
        lower = None if lower is None else pyo.value(lower)
        upper = None if upper is None else pyo.value(upper)
        if upper is not None and low is not None and low > upper + 1e-9 * (1 + abs(upper)):
            found.append(f"'{con.name}' (its body is at least {low:.6g} within the variables' bounds, "
                         f"above {upper:.6g})")
        elif lower is not None and high is not None and high < lower - 1e-9 * (1 + abs(lower)):
            found.append(f"'{con.name}' (its body is at most {high:.6g} within the variables' bounds, "
                         f"below {lower:.6g})")
    if not found:
        return ""
    return "; the leader's constraint(s) " + ", ".join(found[:limit]) + " cannot hold: the model is infeasible"


def _excess(value: float, bound: float, direction: int, scaled: bool) -> float:
    """How far ``value`` passes ``bound`` (direction +1: an upper bound), relative to ``1 + |bound|`` if scaled."""
    excess = direction * (value - bound)
    return excess / (1.0 + abs(bound)) if scaled else excess


def violation_of(con, *, scaled: bool = False) -> float:
    """Largest violation of one constraint at the current values (NaN when its body cannot be evaluated)."""
    body = pyo.value(con.body, exception=False)
    if body is None:
        return float("nan")
    worst = 0.0
    if con.has_lb():
        worst = max(worst, _excess(body, pyo.value(con.lower), -1, scaled))
    if con.has_ub():
        worst = max(worst, _excess(body, pyo.value(con.upper), +1, scaled))
    return worst


def bound_violation(variables, *, scaled: bool = False) -> float:
    """Largest violation of the variables' bounds at their current values (variables without one are skipped)."""
    worst = 0.0
    for v in variables:
        if v.value is None:
            continue
        if v.has_lb():
            worst = max(worst, _excess(v.value, v.lb, -1, scaled))
        if v.has_ub():
            worst = max(worst, _excess(v.value, v.ub, +1, scaled))
    return worst


def constraint_violation(agent: Agent, *, scaled: bool = False) -> float:
    """Largest violation of the agent's constraints and variable bounds at the current point
    (relative to ``1 + |bound|`` if ``scaled``)."""
    worst = 0.0
    for con in list(agent.constraints) + list(agent.shared):
        worst = max(worst, violation_of(con, scaled=scaled))
    return max(worst, bound_violation(agent.variables, scaled=scaled))


def infeasibility(agent: Agent, absolute: float | None = None, *, tol: float) -> float:
    """The agent's largest *relative* violation (``1 + |bound|``) when its absolute one (``absolute``,
    computed when not given) exceeds ``tol``, else that absolute one: the walk for the relative
    number is made only for a point that may be infeasible."""
    if absolute is None:
        absolute = constraint_violation(agent)
    return constraint_violation(agent, scaled=True) if absolute > tol else absolute


class RelaxedAgent:
    """Context manager: the agent's constraints and bounds relaxed by ``tol`` (plus ``tol × |bound|``).

    Used by ``verify`` when a follower is infeasible at the returned point by a
    solver tolerance, and by the Nash gap when a player has no feasible answer at a
    profile that breaks nothing beyond tolerance (others' strategies that pin it, with
    Ipopt's 1e-8 bound relaxation): its best response is then computed on the relaxed
    set, and everything is put back on exit.
    """

    def __init__(self, agent: Agent, tol: float, *, shared: bool = False, to_current: bool = False) -> None:
        self.agent, self.tol, self.to_current = agent, tol, to_current
        #: the constraints relaxed: the agent's own, and with ``shared`` the shared ones that bind it
        self.constraints = list(agent.constraints) + (list(agent.shared) if shared else [])
        self.saved_constraints: list = []
        self.saved_bounds: list = []

    def _widen(self, bound, direction: int, current: float | None = None):
        """``bound`` moved outwards by ``tol (1 + |bound|)``; with ``to_current``, also by how far the current
        value lies beyond it (so the current point is feasible, with no more room than ``tol`` allows)."""
        value = pyo.value(bound)
        beyond = 0.0
        if self.to_current and current is not None:
            beyond = max(0.0, direction * (current - value))
        return value + direction * (beyond + self.tol * (1.0 + abs(value)))

    def __enter__(self) -> RelaxedAgent:
        for con in self.constraints:
            self.saved_constraints.append((con, con.expr))
            body = pyo.value(con.body, exception=False) if self.to_current else None
            lower = self._widen(con.lower, -1, body) if con.has_lb() else None
            upper = self._widen(con.upper, +1, body) if con.has_ub() else None
            con.set_value((lower, con.body, upper))
        for v in self.agent.variables:
            self.saved_bounds.append((v, v.lower, v.upper))   # expressions: a mutable Param bound stays one
            if v.has_lb():
                v.setlb(self._widen(v.lb, -1, v.value))
            if v.has_ub():
                v.setub(self._widen(v.ub, +1, v.value))
        return self

    def __exit__(self, *exc: object) -> None:
        for con, expr in self.saved_constraints:
            con.set_value(expr)
        for v, lb, ub in self.saved_bounds:
            v.setlb(lb)
            v.setub(ub)
