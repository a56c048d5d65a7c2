"""Closed-form Nash equilibrium of the symmetric microgrid market (the test oracle).

Case: N identical buyers (demand X, value w), full availability, sellers with
linear prices ``p_m(r) = A_m + B_m r`` (``C_m = 0``) whose floor is inactive
(``A_m ≥ c_m + ε_m``) and whose capacity does not bind.

Derivation.  Buyer i maximises ``Σ_m f(r_im) − (A_m + B_m r_m) r_im`` over
``r_i ≥ 0``, ``Σ_m r_im ≤ X``; its problem is concave, so KKT is necessary and
sufficient:

    f'(r_im) − A_m − B_m r_m − B_m r_im = λ_i   (r_im > 0),   ≤ λ_i   (r_im = 0),
    λ_i ≥ 0 ⊥ X − Σ_m r_im ≥ 0.

The game is strictly monotone (its pseudo-gradient is the gradient of the
strictly concave potential ``Σ_i Σ_m f(r_im) − Σ_m [A_m r_m + B_m (r_m² +
Σ_i r_im²)/2]``), so the equilibrium is unique and, by symmetry, ``r_im = x_m``
for all i with ``r_m = N x_m``:

    f'(x_m) − A_m − (N + 1) B_m x_m = λ.

*Quadratic satisfaction* ``f'(x) = w (1 − x/(κX))``: with
``d_m = w/(κX) + (N+1) B_m``,

    x_m(λ) = max(0, w − A_m − λ) / d_m.

If ``Σ_m x_m(0) ≤ X`` then λ = 0.  Otherwise λ > 0 and ``Σ_m x_m(λ) = X``;
``x_m(λ)`` is piecewise linear, so with the sellers sorted by ``A_m`` and the
active set K the k cheapest,
``λ = (Σ_K (w − A_m)/d_m − X) / Σ_K 1/d_m``; K is the largest k with
``w − A_k − λ_k > 0``.

*Log satisfaction* ``f'(x) = w X/(X + x)``: the equation
``w X/(X + x) = A_m + λ + (N+1) B_m x`` is a quadratic in x with the positive
root (stable form, ``b = A_m + λ + (N+1) B_m X``)

    x_m(λ) = 2 (w − A_m − λ)⁺ X / (b + sqrt(b² + 4 (N+1) B_m (w − A_m − λ) X)).

For identical sellers ``x_m = min(x(0), X/M)``; for different sellers λ is the
root of the monotone scalar equation ``Σ_m x_m(λ) = X`` (bracketed by
``[0, w]``, solved by Brent's method) — closed form up to one scalar root.
"""
from __future__ import annotations

import numpy as np
from scipy import optimize

from gridgames.models.microgrid.config import LogSatisfaction, Market, QuadraticSatisfaction
from gridgames.solvers.errors import ModelError


def _check_symmetric(market: Market) -> None:
    problems = []
    if not (np.ptp(market.X) == 0 and np.ptp(market.w) == 0):
        problems.append("buyers are not identical (X and w must be equal)")
    if not market.avail.all():
        problems.append("availability is not full")
    if np.any(market.C != 0):
        problems.append("prices are not linear (C must be 0)")
    if not market.floor_inactive:
        problems.append("the price floor can be active (need A >= c + eps)")
    if problems:
        raise ModelError("closed form needs the symmetric case: " + "; ".join(problems))


def closed_form(market: Market) -> np.ndarray:
    """The symmetric Nash equilibrium ``r`` (N, M) from the formulas above.

    Raises
    ------
    ModelError
        Not the symmetric case, an unsupported satisfaction, or a binding capacity.
    """
    _check_symmetric(market)
    N, M = market.n_buyers, market.n_sellers
    X, w = float(market.X[0]), float(market.w[0])
    A, B = market.A, market.B
    sat = market.satisfaction
    if isinstance(sat, QuadraticSatisfaction):
        d = w / (sat.kappa * X) + (N + 1) * B
        x = np.maximum(w - A, 0.0) / d
        if x.sum() > X:
            order = np.argsort(A)
            lam = 0.0
            for k in range(1, M + 1):
                K = order[:k]
                lam_k = (np.sum((w - A[K]) / d[K]) - X) / np.sum(1.0 / d[K])
                if np.all(w - A[K] - lam_k > 0):
                    lam = lam_k
            x = np.maximum(w - A - lam, 0.0) / d
    elif isinstance(sat, LogSatisfaction):
        def xs(lam: float) -> np.ndarray:
            gain = np.maximum(w - A - lam, 0.0) * X
            b = A + lam + (N + 1) * B * X
            return 2.0 * gain / (b + np.sqrt(b * b + 4.0 * (N + 1) * B * gain))
        x = xs(0.0)
        if x.sum() > X:
            if np.ptp(A) == 0 and np.ptp(B) == 0:
                x = np.full(M, X / M)
            else:
                lam = optimize.brentq(lambda t: xs(t).sum() - X, 0.0, w, xtol=1e-15, rtol=1e-15)
                x = xs(lam)
    else:
        raise ModelError(f"closed form covers the 'log' and 'quadratic' satisfactions, not {sat.name!r}")
    if np.any(N * x > market.G):
        raise ModelError("closed form assumes slack capacity: N x_m exceeds G_m for seller(s) "
                         + ", ".join(market.seller_names[m] for m in np.flatnonzero(N * x > market.G)))
    return np.tile(x, (N, 1))
