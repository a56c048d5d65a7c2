"""Optional upper stage: sellers choose their margins ε_m anticipating the buyers' equilibrium.

This is a multi-leader game.  Seller m picks ``ε_m``, which sets its price floor
``c_m + ε_m`` (Definition 3, eq. (7)), to maximise its profit
``ψ_m = p_m(r_m) r_m − c_m G_m`` (eq. (19)).  Here ``r`` is the buyers' Nash
equilibrium of the lower stage, from the vectorised solver.  The game is
solved by *diagonalisation*: sellers take turns, each best-responding to the
others' current margins, until no margin moves by more than ``tol``.

Each seller's problem is one-dimensional but only piecewise smooth: its
profit kinks where the floor takes over from ``q_m``, and where capacity
starts to bind.  So each seller's problem is solved *nested*: a coarse grid
of ε, then bounded Brent search around the best grid point, with every
evaluation a full lower-stage equilibrium.  This is the nested bilevel method
done in numpy.  The engine's ``nested`` would need the lower stage as Pyomo
blocks, far too slow at these sizes.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from gridgames.models.microgrid.config import Market
from gridgames.models.microgrid.solve import equilibrium, seller_revenue


@dataclass
class LeaderResult:
    """Margins at the end of the diagonalisation and the lower-stage equilibrium there."""

    eps: np.ndarray
    profit: np.ndarray
    rounds: int
    converged: bool
    history: list[np.ndarray] = field(default_factory=list)
    lower_evaluations: int = 0


def seller_profit(market: Market, eps: np.ndarray) -> np.ndarray:
    """Every seller's profit at the buyers' equilibrium under margins ``eps``."""
    sub = market.with_(eps=np.asarray(eps, float))
    return seller_revenue(sub, equilibrium(sub, check=False).r)


def best_margin(market: Market, eps: np.ndarray, m: int, upper: float, grid: int = 12) -> tuple[float, int]:
    """Seller m's profit-maximising margin with the others fixed (grid + bounded Brent)."""
    evals = 0

    def profit(e: float) -> float:
        nonlocal evals
        evals += 1
        trial = eps.copy()
        trial[m] = e
        return float(seller_profit(market, trial)[m])

    points = np.linspace(1e-6, upper, grid)
    values = [profit(e) for e in points]
    k = int(np.argmax(values))
    lo, hi = points[max(k - 1, 0)], points[min(k + 1, grid - 1)]
    res = optimize.minimize_scalar(lambda e: -profit(e), bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-6 * max(1.0, upper)})
    best = float(res.x) if -res.fun >= values[k] else float(points[k])
    return best, evals


def diagonalise(market: Market, *, rounds: int = 10, tol: float = 1e-3, upper: float | None = None,
                grid: int = 12) -> LeaderResult:
    """Sellers best-respond in turn (Gauss-Seidel over leaders) until margins stop moving.

    Parameters
    ----------
    upper : float, optional
        Largest margin searched (default: the highest buyer value minus the
        lowest cost; above it nobody buys).
    """
    eps = market.eps.copy()
    upper = float(market.w.max() - market.c.min()) if upper is None else float(upper)
    history, n_eval = [eps.copy()], 0
    converged = False
    r = 0
    for r in range(1, rounds + 1):
        old = eps.copy()
        for m in range(market.n_sellers):
            eps[m], k = best_margin(market, eps, m, upper, grid)
            n_eval += k
        history.append(eps.copy())
        if np.max(np.abs(eps - old)) <= tol * max(1.0, float(np.max(np.abs(old)))):
            converged = True
            break
    return LeaderResult(eps, seller_profit(market, eps), r, converged, history, n_eval)
