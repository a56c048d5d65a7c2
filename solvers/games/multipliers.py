"""Multiplier estimates for a stacked KKT system from its primal values alone.

Semismooth Newton on the players' KKT conditions (:mod:`~gridgames.solvers.games.mcp`)
needs a start for ``z = (y, λ)``.  A model usually carries good primal values
(the user's initial point, a previous solution, a family's own solver) but no
multipliers, and ``λ = 0`` can be far enough from the truth that Newton does not
converge even from the exact primal solution (measured: the microgrid margin
stage at 10 sellers × 200 buyers, 500 iterations without convergence from the
buyers' exact equilibrium; from the estimate below, converged at once).

Given ``y``, stationarity is *linear* in ``λ``: ``F_y(y, λ) = F_y(y, 0) + A λ``
with ``A = ∂F_y/∂λ``.  The estimate keeps ``λ = 0`` on the constraint sides that
are slack at ``y`` and chooses the others, within their sign bounds, by one
linear program (HiGHS through :func:`scipy.optimize.linprog`)::

    min  Σ |r_i|                       over the active multipliers λ_A
    s.t. F_y,i(y, 0) + (A λ_A)_i = r_i   for y_i strictly inside its bounds
         F_y,i(y, 0) + (A λ_A)_i ≥ −r_i  for y_i at its lower bound (≤ r_i at its upper)

At a KKT point the optimum is 0 and ``(y, λ_A)`` solves the system; elsewhere it
is the least-violating multiplier vector in the 1-norm, a start no worse than
``λ = 0`` for Newton's first steps.
"""
from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

log = logging.getLogger(__name__)

#: relative distance within which a variable counts as at its bound and a constraint side as active
ACTIVE_TOL = 1e-7


def estimate_multipliers(system, z: np.ndarray, *, tol: float = ACTIVE_TOL) -> np.ndarray:
    """``z`` with its multipliers replaced by the LP estimate of the module docstring.

    Parameters
    ----------
    system : StackedKKT
        The system (its parameters already set).
    z : ndarray
        A point; only its primal part ``z[:system.n_y]`` is used.
    tol : float
        Relative tolerance for "at a bound" and "active".

    Returns
    -------
    ndarray
        ``(y, λ)``; ``z`` itself (with ``λ = 0``) when the system cannot be
        evaluated at ``y`` or the LP fails.

    Examples
    --------
    >>> import pyomo.environ as pyo
    >>> from gridgames.solvers.games.stacked_kkt import StackedKKT
    >>> m = pyo.ConcreteModel()
    >>> m.p = pyo.Block()
    >>> m.p.x = pyo.Var(bounds=(0, 10), initialize=2.0)       # the optimum of min (x-3)^2, x <= 2
    >>> m.p.cap = pyo.Constraint(expr=m.p.x <= 2)
    >>> m.p.obj = pyo.Objective(expr=(m.p.x - 3) ** 2)
    >>> system = StackedKKT(m, [m.p])
    >>> z = estimate_multipliers(system, system.start())
    >>> round(float(z[-1]), 6)                                # the multiplier of x <= 2: 2(3 - 2)
    2.0
    """
    n_y = system.n_y
    y = np.asarray(z[:n_y], float)
    base = np.concatenate([y, np.zeros(z.size - n_y)])
    if z.size == n_y:
        return base
    with np.errstate(all="ignore"):
        F0 = system.F(base)
    if not np.all(np.isfinite(F0)):
        return base
    J = system.J(base).tocsr()
    lb, ub = system.lb, system.ub
    scale = np.maximum(1.0, np.abs(y))
    at_lb = y <= lb[:n_y] + tol * scale
    at_ub = y >= ub[:n_y] - tol * scale
    rows = np.ones(n_y, bool)
    rows[system.t_rows] = False                       # lifted aggregate definitions hold no multiplier
    free = np.flatnonzero(rows & ~at_lb & ~at_ub)
    lower = np.flatnonzero(rows & at_lb & ~at_ub)     # there F_y >= 0 is enough
    upper = np.flatnonzero(rows & at_ub & ~at_lb)     # there F_y <= 0
    Fl, mlb, mub = F0[n_y:], lb[n_y:], ub[n_y:]
    active = np.flatnonzero((np.abs(Fl) <= tol * np.maximum(1.0, np.abs(Fl))) | (mlb > 0) | (mub < 0)
                            | (np.isinf(mlb) & np.isinf(mub)))
    if not active.size:
        return base
    cols = n_y + active
    Fy = F0[:n_y]
    nf, nl, nu, na = free.size, lower.size, upper.size, active.size
    eye = sp.identity
    # unknowns: λ_A (na), then r+ and r- of the free rows (nf each), then r of the one-sided rows (nl + nu)
    a_eq = sp.hstack([J[free][:, cols], -eye(nf), eye(nf), sp.csr_matrix((nf, nl + nu))])
    a_ub = sp.vstack([sp.hstack([-J[lower][:, cols], sp.csr_matrix((nl, 2 * nf)), -eye(nl), sp.csr_matrix((nl, nu))]),
                      sp.hstack([J[upper][:, cols], sp.csr_matrix((nu, 2 * nf + nl)), -eye(nu)])])
    cost = np.concatenate([np.zeros(na), np.ones(2 * nf + nl + nu)])
    box = [(None if np.isinf(a) else float(a), None if np.isinf(b) else float(b))
           for a, b in zip(lb[cols], ub[cols])] + [(0.0, None)] * (2 * nf + nl + nu)
    res = linprog(cost, A_ub=a_ub.tocsr() if nl + nu else None,
                  b_ub=np.concatenate([Fy[lower], -Fy[upper]]) if nl + nu else None,
                  A_eq=a_eq.tocsr() if nf else None, b_eq=-Fy[free] if nf else None, bounds=box, method="highs")
    if res.status != 0 or res.x is None:
        log.info("multiplier estimate: the LP did not solve (%s); starting from zero multipliers", res.message)
        return base
    out = base.copy()
    out[cols] = res.x[:na]
    return out
