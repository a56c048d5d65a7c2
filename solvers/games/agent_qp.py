"""Large LP/QP agents as arrays: the fast path of :func:`~gridgames.solvers.games.bilevel.verify_followers`.

At fixed parameters (leader variables), a follower whose objective is
quadratic and whose constraints are linear in its own variables is

    min  ½ yᵀH y + cᵀy + c0     (its objective times s = ±1, minimisation form)
    s.t. lo ≤ A y ≤ hi,  l ≤ y ≤ u.

:func:`agent_qp` builds ``H, c, A, ...`` with numpy from the walk
:func:`~gridgames.solvers.games.structure.analyse_agents` already made of each
component (:mod:`~gridgames.solvers.games.terms`: column-numbered terms; a
product of a leader variable and an own one becomes linear at the leader's
current value), so no expression is walked twice and no Pyomo model is built
or translated.  :func:`solve_qps` solves the K independent problems: Clarabel
one problem at a time when all are convex (a global certificate), else one
block-diagonal Ipopt run (cyipopt with exact sparse derivatives, the same
Ipopt and options as the bridge :mod:`gridgames.solvers.ipopt`).

Measured on the pricing family at T = 8760, K = 100 (``benchmarks/
bench_engine``): the per-follower path (a Pyomo solve per follower: model
classification, finiteness check, translation, Ipopt) took about 5 s per
follower; this path builds each follower's arrays in a few milliseconds and
solves each in ~0.1 s.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.repn.standard_repn import generate_standard_repn

from gridgames.solvers.bounds import all_continuous, bounds_arrays
from gridgames.solvers.convexity import is_convex
from gridgames.solvers.games.structure import Agent, FixedVariables, fixing_value
from gridgames.solvers.games.terms import QuadraticTerms, quadratic_terms
from gridgames.solvers.result import SolveStatus

log = logging.getLogger(__name__)


@dataclass
class AgentQP:
    """One agent's LP/QP at fixed parameters, in minimisation form (see module docstring)."""

    agent: Agent
    H: sp.csr_matrix
    c: np.ndarray
    c0: float
    A: sp.csr_matrix
    #: row bounds on the constraint bodies (``lower``/``upper`` as written) and the bodies' constants
    con_lower: np.ndarray
    con_upper: np.ndarray
    con_const: np.ndarray
    lb: np.ndarray
    ub: np.ndarray

    @property
    def n(self) -> int:
        return len(self.c)

    def objective(self, y: np.ndarray) -> float:
        """The agent's objective in its own sense (``f``, not ``s·f``)."""
        return self.agent.sense * float(0.5 * y @ (self.H @ y) + self.c @ y + self.c0)

    def violation(self, y: np.ndarray) -> float:
        """Largest violation of the rows and bounds at ``y`` (as :func:`constraint_violation`)."""
        body = self.A @ y + self.con_const
        parts = np.concatenate([self.con_lower - body, body - self.con_upper, self.lb - y, y - self.ub, [0.0]])
        return float(np.where(np.isfinite(parts), parts, 0.0).max())  # unset values (nan) count as 0

    def relaxed(self, tol: float) -> AgentQP:
        """Rows and bounds widened by ``tol·(1 + |bound|)`` (as :class:`RelaxedAgent`)."""
        def widen(b: np.ndarray, direction: int) -> np.ndarray:
            return b + direction * tol * (1.0 + np.abs(np.where(np.isfinite(b), b, 0.0)))
        return replace(self, con_lower=widen(self.con_lower, -1), con_upper=widen(self.con_upper, +1),
                       lb=widen(self.lb, -1), ub=widen(self.ub, +1))


def _bound(value: object, fill: float) -> float:
    return fill if value is None else float(pyo.value(value))


def agent_qp(agent: Agent) -> AgentQP | None:
    """The agent's problem at the current parameter values as arrays; None when it is not an LP/QP.

    None for integer variables, shared constraints, a non-quadratic objective or
    a constraint that is not linear in the agent's own variables (the caller then
    solves the agent as a Pyomo model).  The coefficients come from the walk
    :func:`~gridgames.solvers.games.structure.analyse_agents` already made
    (``agent.terms``) when it is still valid: same expression objects, no
    mutable Param or fixed Var in them; otherwise the expressions are walked again.
    """
    if agent.shared or not all_continuous(agent.variables):
        return None
    index = {id(v): j for j, v in enumerate(agent.variables)}
    n = len(index)
    s = agent.sense
    obj = _terms(agent, agent.objective, agent.objective.expr)
    if not obj.is_quadratic:
        return _agent_qp_fixed(agent)  # the nonlinear part may be quadratic once the parameters are fixed
    lin_j, lin_a, (qi, qj, qa), c0 = _split(obj, index)
    c = np.zeros(n)
    np.add.at(c, lin_j, s * lin_a)
    # a·y_i·y_j: Hessian a at (i, j) and (j, i), i.e. 2a on the diagonal
    H = sp.coo_matrix((s * np.concatenate([qa, qa]), (np.concatenate([qi, qj]), np.concatenate([qj, qi]))),
                      shape=(n, n)).tocsr()
    rows, cols, vals, lower, upper, const = [], [], [], [], [], []
    for r, con in enumerate(agent.constraints):
        terms = _terms(agent, con, con.body)
        if not terms.is_quadratic:
            return _agent_qp_fixed(agent)
        j, a, (qi, _, _), k = _split(terms, index)
        if len(qi):
            return None  # quadratic in the agent's own variables: not an LP/QP
        rows.append(np.full(len(j), r, dtype=np.int64))
        cols.append(j)
        vals.append(a)
        lower.append(_bound(con.lower, -np.inf))
        upper.append(_bound(con.upper, np.inf))
        const.append(k)
    lb, ub = _variable_bounds(agent)
    m = len(agent.constraints)
    A = sp.csr_matrix((np.concatenate(vals) if vals else np.zeros(0),
                       (np.concatenate(rows) if rows else np.zeros(0, np.int64),
                        np.concatenate(cols) if cols else np.zeros(0, np.int64))), shape=(m, n))
    return AgentQP(agent, H, c, s * c0, A, np.asarray(lower, float), np.asarray(upper, float),
                   np.asarray(const, float), lb, ub)


def _variable_bounds(agent: Agent) -> tuple[np.ndarray, np.ndarray]:
    """``(lb, ub)`` of the agent's variables, ``∓inf`` where there is none."""
    return bounds_arrays(agent.variables)


def _terms(agent: Agent, component: object, expr: object) -> QuadraticTerms:
    """The walk of ``expr`` made by ``analyse_agents`` when still valid, else a new one."""
    cached = agent.terms.get(id(component))
    if cached is not None and cached[0] is expr and not cached[1].dynamic:
        return cached[1]
    return quadratic_terms(expr)


def _split(terms: QuadraticTerms, index: dict[int, int]
           ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    """Terms at fixed parameters: own linear ``(j, a)``, own quadratic ``(i, j, a)`` and the constant.

    ``index`` numbers the agent's own variables; every other column is a
    parameter, taken at its current value (:func:`fixing_value`).  A product of
    an own variable and a parameter is linear in the own one; a parameter alone
    (or squared) goes into the constant.
    """
    own = np.fromiter((index.get(id(v), -1) for v in terms.columns), dtype=np.int64, count=len(terms.columns))
    val = np.array([v.value for v in terms.columns], dtype=float)  # None -> nan: only parameters matter below
    for k in np.flatnonzero((own < 0) & np.isnan(val)).tolist():
        val[k] = fixing_value(terms.columns[k])
    lj, la = np.asarray(terms.linear_cols, np.int64), np.asarray(terms.linear_coefs, float)
    qi, qj = np.asarray(terms.quadratic_i, np.int64), np.asarray(terms.quadratic_j, np.int64)
    qa = np.asarray(terms.quadratic_coefs, float)
    lo, oi, oj = own[lj], own[qi], own[qj]
    lin_own, i_own, j_own = lo >= 0, oi >= 0, oj >= 0
    both, only_i, only_j = i_own & j_own, i_own & ~j_own, ~i_own & j_own
    neither = ~i_own & ~j_own
    const = terms.constant + float(la[~lin_own] @ val[lj[~lin_own]]) \
        + float((qa[neither] * val[qi[neither]] * val[qj[neither]]).sum())
    lin_j = np.concatenate([lo[lin_own], oi[only_i], oj[only_j]])
    lin_a = np.concatenate([la[lin_own], qa[only_i] * val[qj[only_i]], qa[only_j] * val[qi[only_j]]])
    return lin_j, lin_a, (oi[both], oj[both], qa[both]), const


def _agent_qp_fixed(agent: Agent) -> AgentQP | None:
    """``agent_qp`` from standard representations taken with the parameters fixed (a nonlinear
    expression in the unfixed variables, e.g. ``p·y²``, can be quadratic at fixed ``p``)."""
    index = {id(v): j for j, v in enumerate(agent.variables)}
    n = len(index)
    with FixedVariables(agent.parameters):
        repn = generate_standard_repn(agent.objective.expr, quadratic=True, compute_values=True)
        if repn.nonlinear_expr is not None:
            return None
        s = agent.sense
        c = np.zeros(n)
        np.add.at(c, [index[id(v)] for v in repn.linear_vars], s * np.asarray(repn.linear_coefs, float))
        qi = np.array([index[id(a)] for a, _ in repn.quadratic_vars], dtype=np.int64)
        qj = np.array([index[id(b)] for _, b in repn.quadratic_vars], dtype=np.int64)
        qc = s * np.asarray(repn.quadratic_coefs, float)
        H = sp.coo_matrix((np.concatenate([qc, qc]), (np.concatenate([qi, qj]), np.concatenate([qj, qi]))),
                          shape=(n, n)).tocsr()
        rows, cols, vals, lower, upper, const = [], [], [], [], [], []
        for r, con in enumerate(agent.constraints):
            crepn = generate_standard_repn(con.body, quadratic=False, compute_values=True)
            if crepn.nonlinear_expr is not None:
                return None
            rows += [r] * len(crepn.linear_vars)
            cols += [index[id(v)] for v in crepn.linear_vars]
            vals += list(crepn.linear_coefs)
            lower.append(_bound(con.lower, -np.inf))
            upper.append(_bound(con.upper, np.inf))
            const.append(float(crepn.constant))
        lb = np.array([-np.inf if v.lb is None else v.lb for v in agent.variables], float)
        ub = np.array([np.inf if v.ub is None else v.ub for v in agent.variables], float)
    m = len(agent.constraints)
    A = sp.csr_matrix((np.asarray(vals, float), (np.asarray(rows, np.int64), np.asarray(cols, np.int64))),
                      shape=(m, n))
    return AgentQP(agent, H, c, s * float(repn.constant), A, np.asarray(lower, float),
                   np.asarray(upper, float), np.asarray(const, float), lb, ub)


class _Callbacks:
    """cyipopt callbacks of ``min ½ xᵀH x + cᵀx`` s.t. linear rows (Hessian: lower triangle of H)."""

    def __init__(self, H: sp.csr_matrix, c: np.ndarray, A: sp.csr_matrix) -> None:
        self.H, self.c, self.A = H, c, A.tocoo()
        low = sp.tril(H, format="coo")
        self.h_rows, self.h_cols, self.h_vals = low.row, low.col, low.data

    def objective(self, x: np.ndarray) -> float:
        return float(0.5 * x @ (self.H @ x) + self.c @ x)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.H @ x + self.c

    def constraints(self, x: np.ndarray) -> np.ndarray:
        return self.A @ x

    def jacobianstructure(self) -> tuple[np.ndarray, np.ndarray]:
        return self.A.row, self.A.col

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        return self.A.data

    def hessianstructure(self) -> tuple[np.ndarray, np.ndarray]:
        return self.h_rows, self.h_cols

    def hessian(self, x: np.ndarray, lagrange: np.ndarray, obj_factor: float) -> np.ndarray:
        return obj_factor * self.h_vals


@dataclass
class QPSolves:
    """What :func:`solve_qps` returns: one status and one point per problem."""

    statuses: list[SolveStatus]
    solutions: list[np.ndarray]
    message: str
    #: every problem was solved on its own (False: one joint run, whose status each one shares)
    separate: bool


def solve_qps(qps: list[AgentQP], starts: list[np.ndarray], options: dict | None = None) -> QPSolves:
    """Solve independent LPs/QPs.

    With Clarabel installed and every problem convex: one Clarabel run per
    problem (:func:`gridgames.solvers.clarabel.solve_qp`), whose ``optimal`` is
    a certificate of the global optimum.  Measured on the pricing family
    (T = 8760, K = 20): 2.4 s one run each, 3.2 s as one block-diagonal problem,
    5.7 s for the block-diagonal Ipopt run.  Otherwise (a nonconvex problem,
    no Clarabel) the problems are stacked block-diagonally and solved in one
    Ipopt run (``locally_optimal`` on success: Ipopt certifies a KKT point);
    the stacked optimum is every block's own optimum (the blocks share no
    variable).  ``options`` go to the solver used.
    """
    from gridgames.solvers import clarabel

    if clarabel.available() and all(is_convex(q.H) for q in qps):
        return _solve_clarabel(qps, options)
    from gridgames.solvers.ipopt import IpoptSolver

    if not IpoptSolver.available():
        return QPSolves([SolveStatus.ERROR] * len(qps), [np.full(q.n, np.nan) for q in qps],
                        "no solver for these QPs (Clarabel needs convex ones; Ipopt is not installed)", True)
    return _solve_ipopt(qps, starts, options)


def _stacked(qps: list[AgentQP]) -> tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix, np.ndarray, np.ndarray,
                                           np.ndarray, np.ndarray]:
    """``H, c, A, row lower, row upper, lb, ub`` of the block-diagonal problem (row constants moved)."""
    H = sp.block_diag([q.H for q in qps], format="csr")
    A = sp.block_diag([q.A for q in qps], format="csr")
    c = np.concatenate([q.c for q in qps])
    const = np.concatenate([q.con_const for q in qps])
    lb, ub = np.concatenate([q.lb for q in qps]), np.concatenate([q.ub for q in qps])
    cl = np.concatenate([q.con_lower for q in qps]) - const
    cu = np.concatenate([q.con_upper for q in qps]) - const
    return H, c, A, cl, cu, lb, ub


def _blocks(qps: list[AgentQP], x: np.ndarray) -> list[np.ndarray]:
    bounds = np.cumsum([0] + [q.n for q in qps])
    return [x[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _solve_clarabel(qps: list[AgentQP], options: dict | None) -> QPSolves:
    from gridgames.solvers.clarabel import solve_qp

    statuses, solutions, failed = [], [], []
    for q in qps:
        sol = solve_qp(q.H, q.c, q.A, q.con_lower - q.con_const, q.con_upper - q.con_const, q.lb, q.ub,
                       options, check_convex=False)
        statuses.append(sol.status)
        solutions.append(sol.x if sol.x is not None else np.full(q.n, np.nan))
        if not sol.status.is_ok:
            failed.append(f"{q.agent.name}: {sol.message}")
    return QPSolves(statuses, solutions, "clarabel: " + ("; ".join(failed) if failed else "all solved"), True)


def _solve_ipopt(qps: list[AgentQP], starts: list[np.ndarray], options: dict | None) -> QPSolves:
    import cyipopt

    from gridgames.solvers.ipopt import ipopt_status

    H, c, A, cl, cu, lb, ub = _stacked(qps)
    x0 = np.clip(np.concatenate(starts), lb, ub)
    problem = cyipopt.Problem(n=len(c), m=A.shape[0], problem_obj=_Callbacks(H, c, A), lb=lb, ub=ub,
                              cl=cl, cu=cu)
    try:
        for key, val in {"sb": "yes", "print_level": 0, **(options or {})}.items():
            problem.add_option(key, val)
        x, info = problem.solve(x0)
    finally:
        problem.close()
    status = ipopt_status(int(info["status"]))
    msg = info["status_msg"]
    msg = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
    return QPSolves([status] * len(qps), _blocks(qps, x), f"ipopt: {msg}", len(qps) == 1)
