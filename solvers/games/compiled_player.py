"""One player's best-response problem compiled once, re-solved from numpy data by Newton on its KKT system.

A best response through the Ipopt bridge pays, at every call, for Pyomo
(Params written, the structure signature checked, coefficients evaluated,
the answer loaded back) and for Ipopt itself (about 1 ms of start-up and
0.5-1 ms per iteration even on a ten-variable problem).  For the small smooth
players of a market game that is tens of milliseconds for a problem whose
Newton system is 20 x 20.

:class:`CompiledPlayer` takes the lifted view of an aggregative player
(:class:`~gridgames.solvers.games.best_response.AggregateAgentSolver`: own
variables, the others' share of every aggregate ``p`` and the other
variables it reads ``q``), turns ``p`` and ``q`` into columns ``θ`` of ONE
compiled model (:func:`~gridgames.solvers.nlp_compile.compile_model`), and
then answers "best response to θ" with numpy only:

* the KKT conditions of ``min s·f(x; θ)  s.t.  l ≤ g(x; θ) ≤ u,  x ∈ [lb, ub]``
  (one multiplier per finite side of a row, as in
  :mod:`~gridgames.solvers.games.stacked_kkt`) are solved as a box MCP by
  :func:`~gridgames.solvers.games.mcp.solve_mcp`, warm-started at the current
  strategy and the previous multipliers;
* the answer is accepted only when the complementarity residual is below
  ``tol`` **and** the Hessian of the Lagrangian is positive semidefinite on the
  tangent space of the active constraints (second-order necessary condition
  on the active face): then it is a local optimum of the player's problem,
  global when the problem is convex, the same certificate as Ipopt's
  ``locally_optimal``.  Anything else returns a failed result and the caller
  falls back to the player's Ipopt solve;
* nothing is written to Pyomo: the response comes back as an array.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from cyipopt import CyIpoptEvaluationError
from pyomo.core.expr.visitor import ExpressionReplacementVisitor
from scipy.linalg import null_space

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.mcp import solve_mcp
from gridgames.solvers.games.game_parts import constraint_sides
from gridgames.solvers.nlp_compile import compile_model
from gridgames.solvers.nlp_eval import NLPEvaluator
from gridgames.solvers.result import SolveResult, SolveStatus

#: complementarity residual ``‖Φ‖∞`` a Newton best response must reach
NEWTON_TOL = 1e-9
#: Newton iterations before the player is handed to Ipopt
NEWTON_MAX_ITER = 50
#: a variable within this (times ``1 + |bound|``) of a bound, a row within it of a side, counts as active
ACTIVE_TOL = 1e-8
#: smallest eigenvalue of the reduced Hessian accepted, relative to ``max(1, max |H|)``
CURVATURE_TOL = 1e-8


@dataclass
class Response:
    """A best response by :meth:`CompiledPlayer.solve`.

    Attributes
    ----------
    x : ndarray
        The player's own variables (all of them, in the agent's order).
    value : float
        The player's objective at ``x`` (its own sense), the others at θ.
    current : float
        The player's objective at its current strategy, the others at θ.
    result : SolveResult
        ``locally_optimal`` (solver ``newton``) when certified, else ``error``
        with the reason (the caller re-solves with Ipopt).
    sense : int
        +1 for a minimising player, −1 for a maximising one.
    """

    x: np.ndarray
    value: float
    current: float
    result: SolveResult
    sense: int = 1

    @property
    def gain(self) -> float:
        """What the player gains by moving from its current strategy to ``x`` (≥ 0 up to tolerance)."""
        return (self.current - self.value) if self.sense > 0 else (self.value - self.current)


class CompiledPlayer:
    """A player's best-response problem as one compiled NLP with the others' data as a numpy vector θ.

    Parameters
    ----------
    view : Block
        The player's lifted view (``x`` own variables, ``p`` and ``q`` mutable Params,
        ``obj``, ``rows``), as built by ``AggregateAgentSolver``.
    variables : list of VarData
        The player's own variables, in order.

    Attributes
    ----------
    n_theta : int
        ``len(p) + len(q)``: θ is ``p`` followed by ``q``.
    compile_time : float
    """

    def __init__(self, view: pyo.Block, variables: list) -> None:
        t0 = time.perf_counter()
        n_p, n_q = len(view.p), len(view.q)
        self.n_theta = n_p + n_q
        scratch = pyo.ConcreteModel(name="compiled best response")
        scratch.theta = pyo.Var(range(self.n_theta))
        sub = {id(view.p[j]): scratch.theta[j] for j in range(n_p)}
        sub.update({id(view.q[k]): scratch.theta[n_p + k] for k in range(n_q)})

        # one visitor for all the player's expressions (creating one costs about a millisecond)
        lifted = ExpressionReplacementVisitor(substitute=sub, descend_into_named_expressions=True,
                                              remove_named_expressions=True).walk_expression

        rows = list(view.rows.values())
        bounds = [(c.lower, c.upper) for c in rows]
        bodies = [lifted(c.body) for c in rows]
        scratch.obj = pyo.Objective(expr=lifted(view.obj.expr), sense=view.obj.sense)
        scratch.rows = pyo.Constraint(range(len(rows)), rule=lambda _, k: (bounds[k][0], bodies[k], bounds[k][1]))
        self.scratch = scratch
        self.nlp = nlp = compile_model(scratch)
        self.variables = list(variables)
        self.sense = 1 if view.obj.sense == pyo.minimize else -1
        own = {id(v): k for k, v in enumerate(self.variables)}
        theta = {id(scratch.theta[t]): t for t in range(self.n_theta)}
        cols = list(nlp.variables)
        self.own_cols = np.array([c for c, v in enumerate(cols) if id(v) in own], np.int64)
        self.own_pos = np.array([own[id(cols[c])] for c in self.own_cols], np.int64)
        self.theta_cols = np.array([c for c, v in enumerate(cols) if id(v) in theta], np.int64)
        self.theta_pos = np.array([theta[id(cols[c])] for c in self.theta_cols], np.int64)
        self.n_own = n_o = len(self.own_cols)
        loc = np.full(nlp.n, -1, np.int64)
        loc[self.own_cols] = np.arange(n_o)
        self.ev = ev = NLPEvaluator(nlp) if nlp.n else None
        if ev is not None:
            jr, jc = ev.jac_rows, ev.jac_cols
            keep = loc[jc] >= 0
            self._jac_src = np.flatnonzero(keep)
            self._jac_flat = jr[keep] * n_o + loc[jc[keep]]
            hr, hc = ev.hess_rows, ev.hess_cols
            keep = (loc[hr] >= 0) & (loc[hc] >= 0)
            self._hess_src = np.flatnonzero(keep)
            li, lj = loc[hr[keep]], loc[hc[keep]]
            self._hess_flat = li * n_o + lj
            off = li != lj
            self._hess_src_t = self._hess_src[off]
            self._hess_flat_t = lj[off] * n_o + li[off]
            # rows without an own column cannot be moved by the player: checked, never in the KKT system
            has_own = np.zeros(nlp.m, bool)
            has_own[jr[loc[jc] >= 0]] = True
            self._fixed_rows = np.flatnonzero(~has_own)
            self._kkt_rows = np.flatnonzero(has_own)
            # rows linear in the own variables (their gradient in x does not depend on x): a row of these
            # that leaves no room given θ pins the own variables it holds (see ``_pinned``)
            nonlinear = np.zeros(nlp.m, bool)
            both_own = (loc[nlp.con_quad_i] >= 0) & (loc[nlp.con_quad_j] >= 0)
            nonlinear[nlp.con_quad_rows[both_own]] = True
            for g in nlp.groups:
                if not g.is_objective and (loc[g.cols] >= 0).any(axis=1).any():
                    nonlinear[g.rows[(loc[g.cols] >= 0).any(axis=1)]] = True
            self._linear_rows = ~nonlinear
        self.compile_time = time.perf_counter() - t0
        self._lam: np.ndarray | None = None
        self.prepared = False

    # ------------------------------------------------------------------ data read once per sweep
    def prepare(self) -> None:
        """Read what may change between sweeps but not within one: mutable Params of the game (through the
        evaluator), row bounds and constants, the own variables' bounds."""
        nlp = self.nlp
        if self.ev is None:
            self.prepared = True
            return
        self.ev.bind(float(self.sense))
        self.const = nlp.con_const.evaluate()
        lower, upper = nlp.con_lower.evaluate(), nlp.con_upper.evaluate()
        self.lower, self.upper = lower, upper
        self.sides = constraint_sides(self._kkt_rows, lower[self._kkt_rows], upper[self._kkt_rows])
        own_vars = [nlp.variables[c] for c in self.own_cols]
        self.lb = np.array([v.lb if v.lb is not None else -np.inf for v in own_vars], float)
        self.ub = np.array([v.ub if v.ub is not None else np.inf for v in own_vars], float)
        self.all_lb = np.array([v.lb if v.lb is not None else -np.inf for v in self.variables], float)
        self.all_ub = np.array([v.ub if v.ub is not None else np.inf for v in self.variables], float)
        n_s = len(self.sides.row)
        if self._lam is None or self._lam.size != n_s:
            self._lam = np.zeros(n_s)
        self.prepared = True

    # ------------------------------------------------------------------ pieces of the KKT system
    def _full(self, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        full = np.empty(self.nlp.n)
        full[self.theta_cols] = theta[self.theta_pos]
        full[self.own_cols] = y
        return full

    def _jac(self, full: np.ndarray) -> np.ndarray:
        dense = np.zeros(self.nlp.m * self.n_own)
        dense[self._jac_flat] = self.ev.jacobian(full)[self._jac_src]
        return dense.reshape(self.nlp.m, self.n_own)

    def _hess(self, full: np.ndarray, weights: np.ndarray) -> np.ndarray:
        n_o = self.n_own
        vals = self.ev.hessian(full, weights, 1.0)
        dense = np.zeros(n_o * n_o)
        dense[self._hess_flat] = vals[self._hess_src]       # unique lower-triangle slots
        dense[self._hess_flat_t] = vals[self._hess_src_t]   # and their mirror images
        return dense.reshape(n_o, n_o)

    def _weights(self, lam: np.ndarray) -> np.ndarray:
        return np.bincount(self.sides.row, weights=self.sides.omega * lam, minlength=self.nlp.m)

    def _system(self, theta: np.ndarray):
        """``F`` and ``J`` of the player's KKT MCP at data θ (minimisation sense)."""
        n_o, sides = self.n_own, self.sides

        def F(z: np.ndarray) -> np.ndarray:
            full = self._full(z[:n_o], theta)
            try:
                grad = self.ev.gradient(full)[self.own_cols]
                jac = self._jac(full)
                g = self.ev.constraints(full) + self.const
            except CyIpoptEvaluationError:
                return np.full(z.size, np.nan)
            fy = grad + jac.T @ self._weights(z[n_o:])
            return np.concatenate([fy, sides.c * (g[sides.row] - sides.bound)])

        def J(z: np.ndarray) -> np.ndarray:
            full = self._full(z[:n_o], theta)
            lam = z[n_o:]
            n_s = lam.size
            out = np.zeros((n_o + n_s, n_o + n_s))
            try:
                jac = self._jac(full)[sides.row]
                out[:n_o, :n_o] = self._hess(full, self._weights(lam))
            except CyIpoptEvaluationError:   # undefined here: solve_mcp takes no step on a NaN matrix
                return np.full_like(out, np.nan)
            out[:n_o, n_o:] = jac.T * sides.omega
            out[n_o:, :n_o] = sides.c[:, None] * jac
            return out

        return F, J

    # ------------------------------------------------------------------ the best response
    def value_at(self, x: np.ndarray, theta: np.ndarray) -> float:
        """The player's objective (its own sense) at own values ``x`` (all own variables), the others at θ;
        NaN where it is undefined (``Q^(-1/1.1)`` at a total of 0)."""
        if self.ev is None:
            return float("nan")
        if not self.prepared:
            self.prepare()
        try:
            return self.sense * self.ev.objective(self._full(np.asarray(x, float)[self.own_pos], theta))
        except CyIpoptEvaluationError:
            return float("nan")

    def solve(self, x0: np.ndarray, theta: np.ndarray, *, tol: float = NEWTON_TOL,
              max_iter: int = NEWTON_MAX_ITER) -> Response:
        """Best response to θ from the strategy ``x0`` (all own variables, the agent's order).

        Parameters
        ----------
        x0 : ndarray
            The player's current strategy (start point, and the point its gain is measured from).
        theta : ndarray
            ``p`` (the others' share of every aggregate) followed by ``q`` (the other variables' values).
        tol, max_iter : float, int
            Newton's complementarity residual and iteration limit.

        Returns
        -------
        Response
            ``result.ok`` only for a certified local optimum (see the module docstring).
        """
        t0 = time.perf_counter()
        if not self.prepared:
            self.prepare()
        x0 = np.asarray(x0, float)
        theta = np.asarray(theta, float)
        current = self.value_at(x0, theta)
        x = np.clip(x0, self.all_lb, self.all_ub)
        if self.ev is None or self.n_own == 0:
            return self._failed(x, current, t0, "no own variable enters the player's problem")
        if self._fixed_rows.size:
            g_fixed = (self.ev.constraints(self._full(x[self.own_pos], theta)) + self.const)[self._fixed_rows]
            lo, up = self.lower[self._fixed_rows], self.upper[self._fixed_rows]
            if (np.any(g_fixed < lo - ACTIVE_TOL * (1 + np.abs(lo)))
                    or np.any(g_fixed > up + ACTIVE_TOL * (1 + np.abs(up)))):
                return self._failed(x, current, t0, "a row the player cannot move is violated")
        sides = self.sides
        y0 = x[self.own_pos]
        pinned = self._pinned(y0, theta)
        if isinstance(pinned, str):
            return self._failed(x, current, t0, pinned)
        lb_y, ub_y, side_ub = pinned
        y0 = np.clip(y0, lb_y, ub_y)
        lam0 = np.minimum(np.where(sides.free, self._lam, np.maximum(self._lam, 0.0)), side_ub)
        z0 = np.concatenate([y0, lam0])
        lb = np.concatenate([lb_y, np.where(sides.free, -np.inf, 0.0)])
        ub = np.concatenate([ub_y, side_ub])
        F, J = self._system(theta)
        try:
            mcp = solve_mcp(F, J, lb, ub, z0, tol=tol, max_iter=max_iter, levenberg_marquardt=True)
        except ModelError as exc:   # F not finite at the start
            return self._failed(x, current, t0, str(exc))
        if not mcp.ok:
            return self._failed(x, current, t0, f"Newton on the KKT system: {mcp.message}")
        y, lam = mcp.x[:self.n_own], mcp.x[self.n_own:]
        why = self._second_order(y, lam, theta, lb_y, ub_y)
        if why:
            return self._failed(x, current, t0, why)
        self._lam = lam.copy()
        x[self.own_pos] = np.clip(y, lb_y, ub_y)   # Newton meets the bounds to its residual: clip that
        value = self.value_at(x, theta)
        result = SolveResult(SolveStatus.LOCALLY_OPTIMAL, value, time.perf_counter() - t0, mcp.iterations, "newton",
                             f"KKT point (residual {mcp.residual:.1e}), Hessian PSD on the active constraints' "
                             "tangent space", {"newton_steps": mcp.newton_steps, "gradient_steps": mcp.gradient_steps})
        return Response(x, value, current, result, self.sense)

    def _pinned(self, y: np.ndarray, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | str:
        """Own bounds and multiplier caps with the variables pinned by a row that leaves them no room.

        A linear row whose side can only just be met over the own box (the others took a shared
        capacity up to its cap) holds each of its variables at one bound.  Left to Newton, such a
        row and those bounds are active together with non-unique multipliers (a singular system);
        here the variables are fixed at that bound and the side's multiplier at 0, which is the
        same feasible set (up to :data:`ACTIVE_TOL`).  A string: the row cannot be met at all.
        """
        lb, ub = self.lb.copy(), self.ub.copy()
        sides = self.sides
        side_ub = np.full(len(sides.row), np.inf)
        linear = self._linear_rows[sides.row] & ~sides.free
        if not linear.any():
            return lb, ub, side_ub
        full = self._full(y, theta)
        idx = np.flatnonzero(linear)
        rows = sides.row[idx]
        c = sides.c[idx]
        a = c[:, None] * self._jac(full)[rows]       # each side reads c (g - bound) >= 0; its largest value
        target = np.where(a > 0, ub, lb)             # over the own box is at these corners
        with np.errstate(invalid="ignore"):
            move = np.where(a != 0, a * (target - y), 0.0)
        g = self.ev.constraints(full) + self.const
        best = c * (g[rows] - sides.bound[idx]) + move.sum(axis=1)
        room = ACTIVE_TOL * (1 + np.abs(sides.bound[idx]))
        short = np.flatnonzero(best < -room)
        if short.size:
            k = int(short[0])
            return (f"row '{self.nlp.constraints[rows[k]].name}' cannot be met given the others' strategies "
                    f"(short by {-best[k]:.3g})")
        for k in np.flatnonzero(best <= room):       # NaN (an infinite corner) never pins
            held = a[k] != 0
            lb[held] = ub[held] = target[k, held]
            side_ub[idx[k]] = 0.0
        return lb, ub, side_ub

    def _second_order(self, y: np.ndarray, lam: np.ndarray, theta: np.ndarray, lb: np.ndarray,
                      ub: np.ndarray) -> str | None:
        """None when the Lagrangian's Hessian is PSD on the tangent space of the active set, else why not."""
        full = self._full(y, theta)
        H = self._hess(full, self._weights(lam))
        free = (y - lb > ACTIVE_TOL * (1 + np.abs(lb))) & (ub - y > ACTIVE_TOL * (1 + np.abs(ub)))
        if not free.any():
            return None
        limit = -CURVATURE_TOL * max(1.0, float(np.abs(H).max()))
        Hf = H[np.ix_(free, free)]
        if float(np.linalg.eigvalsh(Hf)[0]) >= limit:   # PSD on every free direction (a convex player)
            return None
        sides = self.sides
        g = self.ev.constraints(full) + self.const
        active = sides.free | (np.abs(g[sides.row] - sides.bound) <= ACTIVE_TOL * (1 + np.abs(sides.bound)))
        if active.any():
            Z = null_space(self._jac(full)[sides.row[active]][:, free])
            if Z.shape[1] == 0:
                return None
            Hf = Z.T @ Hf @ Z
        low = float(np.linalg.eigvalsh(Hf)[0])
        if low < limit:
            return f"KKT point with negative curvature {low:.2e} on the active face (not a local minimum)"
        return None

    def _failed(self, x: np.ndarray, current: float, t0: float, why: str) -> Response:
        result = SolveResult(SolveStatus.ERROR, None, time.perf_counter() - t0, 0, "newton", why)
        return Response(x, float("nan"), current, result, self.sense)
