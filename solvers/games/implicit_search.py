"""The ``implicit`` method's search aids over the leader's box.

* :class:`ResponseFailed`: Newton did not solve the followers' KKT system at a
  leader decision;
* :class:`TrustBox`: after such a failure, restart from the last good point in
  a box narrowed half-way to the failed point;
* :func:`escape_kink`: leave a degenerate point of the response where a
  one-sided derivative looked stationary;
* :func:`scan_diagonal`: the best of ``n`` points along the box diagonal (the
  ``scan=`` option);
* :func:`projected_gradient`: the stationarity measure over the box;
* :func:`feasible_start`: the leader point nearest the start at which the
  followers' constraints can hold (when they cannot at the start).

``reduced`` below is the method's
:class:`~gridgames.solvers.games.implicit.ReducedProblem`: a callable
``x -> (Φ(x), ∇Φ(x))`` with the last response in ``reduced.z``.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.common.modeling import unique_component_name

from gridgames.solvers.errors import GridGamesError

log = logging.getLogger("gridgames.solvers.games.implicit")

#: restarts of L-BFGS-B from a point found past a kink of the response (:func:`escape_kink`)
MAX_KINK_ESCAPES = 20
#: restarts inside a narrowed box after a follower response failed (and moves of that box)
MAX_RESTRICTIONS = 12
#: step halvings of :func:`escape_kink`'s line search (each one follower solve)
KINK_STEPS = 12


class ResponseFailed(Exception):
    """Newton did not solve the followers' KKT system at a leader decision."""


class TrustBox:
    """The leader's box, narrowed around the last good point where a follower response failed.

    A leader decision at which the followers' KKT system cannot be solved (a
    follower's feasible set shrinking to a point, LICQ lost: e.g. a disc of
    radius √x at x = 0) stops L-BFGS-B's line search.  Rather than stopping
    there, the search restarts from the last good point inside a box of half
    the distance to the failed point (:meth:`shrink`, at most
    :data:`MAX_RESTRICTIONS` times); a run that ends on that box's edge
    goes on from there with the box moved (:meth:`recentre`).
    """

    def __init__(self, lb: np.ndarray, ub: np.ndarray) -> None:
        self.lb, self.ub = lb, ub
        self.radius: float | None = None
        self.centre: np.ndarray | None = None
        self.restrictions = 0
        self.moves = 0

    def bounds(self) -> list[tuple[float | None, float | None]]:
        lo, hi = self.lb, self.ub
        if self.radius is not None:
            lo, hi = np.maximum(lo, self.centre - self.radius), np.minimum(hi, self.centre + self.radius)
        return list(zip(np.where(np.isfinite(lo), lo, None), np.where(np.isfinite(hi), hi, None)))

    def shrink(self, good: np.ndarray, failed: np.ndarray | None) -> bool:
        """Narrow around ``good``; False when the restrictions are used up or the failure is at ``good``."""
        if failed is None or self.restrictions >= MAX_RESTRICTIONS:
            return False
        distance = float(np.max(np.abs(failed - good), initial=0.0))
        if not distance > 1e-12 * max(1.0, float(np.max(np.abs(good), initial=0.0))):
            return False
        self.restrictions += 1
        self.radius, self.centre = 0.5 * distance, good.copy()
        return True

    def limits(self, x: np.ndarray) -> bool:
        """True when ``x`` is on an edge of the trust box that is not an edge of the leader's box."""
        if self.radius is None or self.moves >= MAX_RESTRICTIONS:
            return False
        edge = 1e-9 * max(1.0, self.radius)
        low, high = self.centre - self.radius, self.centre + self.radius
        return bool(np.any((x <= low + edge) & (low > self.lb)) or np.any((x >= high - edge) & (high < self.ub)))

    def recentre(self, x: np.ndarray) -> None:
        self.moves += 1
        self.centre = x.copy()


def projected_gradient(x: np.ndarray, grad: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> float:
    """``‖P(x − ∇Φ) − x‖∞``: zero exactly at a stationary point of Φ over the box."""
    return float(np.max(np.abs(np.clip(x - grad, lb, ub) - x), initial=0.0))


def escape_kink(reduced: Any, x: np.ndarray, lb: np.ndarray, ub: np.ndarray,
                pg_tol: float) -> np.ndarray | None:
    """A point with a lower ``Φ`` than a degenerate ``x``, found along a released one-sided gradient.

    At a degenerate point (a follower component at its bound with zero
    multiplier) ``Φ`` has a kink and the gradient L-BFGS-B sees is one-sided: a
    start at such a point can look stationary while moving off it improves
    (e.g. a price at which a buyer just stops buying).  Each released gradient
    (:meth:`ReducedProblem.released_gradients`) that is not stationary gives a
    projected Armijo line search; the first point that decreases ``Φ`` is
    returned, None when there is none (the kink is a local minimum along every
    tried side).
    """
    val, _ = reduced(x)
    for g in reduced.released_gradients(x):
        if projected_gradient(x, g, lb, ub) <= pg_tol:
            continue
        d = np.clip(x - g, lb, ub) - x
        slope = float(g @ d)
        if not slope < 0.0:
            continue
        for t in 0.5 ** np.arange(KINK_STEPS):
            try:
                v, _ = reduced(x + t * d)
            except ResponseFailed:
                continue
            if v < val + 1e-4 * t * slope and v < val:
                return x + t * d
    return None


def scan_diagonal(reduced: Any, x0: np.ndarray, val0: float, grad0: np.ndarray, lb: np.ndarray,
          ub: np.ndarray, n: int) -> tuple[np.ndarray, float, np.ndarray]:
    """The best of ``x0`` and ``n`` points along the box diagonal: ``(x, Φ(x), ∇Φ(x))``."""
    if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub))):
        log.info("implicit: scan skipped (the leader's box is not finite)")
        return x0, val0, grad0
    best = (val0, x0, reduced.z)
    for s in np.linspace(0.0, 1.0, n):
        x = lb + s * (ub - lb)
        try:
            val, _ = reduced(x)
        except ResponseFailed:
            continue
        if val < best[0]:
            best = (val, x, reduced.z)
    # re-evaluated from its own response (a warm start from the last scan point may not converge back to it)
    reduced.z = best[2]
    val, grad = reduced(best[1])
    return best[1], val, grad


#: points of the diagonal scan made when the search stops on a plateau of the reduced objective
FLAT_SCAN = 12


def is_flat(reduced: Any, x: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> bool:
    """A plateau of Φ at ``x``: ``∇Φ`` zero up to rounding and Φ unchanged (to 1e-12 relative) one step
    of 1 % of the box (or of ``max(1, |x|)``) towards the box's centre; a strict optimum changes there."""
    try:
        val, grad = reduced(x)
        if np.max(np.abs(grad), initial=0.0) > 1e-10 * max(1.0, abs(val)):
            return False
        finite = np.isfinite(lb) & np.isfinite(ub)
        width = np.where(finite, np.where(finite, ub, 1.0) - np.where(finite, lb, 0.0), np.maximum(1.0, np.abs(x)))
        centre = np.where(finite, 0.5 * (np.where(finite, lb, 0.0) + np.where(finite, ub, 0.0)), x + width)
        probe = np.clip(x + 0.01 * width * np.sign(centre - x), lb, ub)
        if np.array_equal(probe, x):
            return False
        moved, _ = reduced(probe)
        reduced(x)          # the cache back at x
    except ResponseFailed:
        return False
    return abs(moved - val) <= 1e-12 * max(1.0, abs(val))


def feasible_start(model: pyo.Block, leader_variables: list, x0: np.ndarray) -> np.ndarray | None:
    """The leader point nearest ``x0`` (least squares, in the leader's box) at which every follower's
    constraints hold together, by one solve of the model with its objectives replaced; None when there is
    none or the solve fails.  The followers' variables keep that solve's values (a start for Newton).

    Bard's (1988) first example: the follower is feasible only for x ≥ 1, the leader's box starts at 0.
    """
    from gridgames.solvers.games.agent_solve import default_solver_for
    from gridgames.solvers.registry import get_solver

    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    name = unique_component_name(model, "_gg_feasible_start")
    for o in objectives:
        o.deactivate()
    model.add_component(name, pyo.Objective(expr=sum((v - float(x)) ** 2 for v, x in zip(leader_variables, x0))))
    try:
        result = get_solver(default_solver_for(model)).solve(model)
    except GridGamesError as exc:
        log.info("implicit: no feasible start found (%s)", exc)
        return None
    finally:
        model.del_component(name)
        for o in objectives:
            o.activate()
    if not result.ok or any(v.value is None for v in leader_variables):
        log.info("implicit: no feasible start found (%s: %s)", result.status, result.message)
        return None
    return np.array([v.value for v in leader_variables], float)
