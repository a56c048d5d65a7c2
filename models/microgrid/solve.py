"""Vectorised equilibrium solver and exact Nash gap of the microgrid market (numpy, all buyers at once).

Structure exploited: the game is *aggregative*.  Buyer i's payoff depends on
the others only through the seller totals ``r_m``, and its problem is convex
(see :mod:`gridgames.models.microgrid.config`).  At a profile with totals ``r``
buyer i's KKT conditions read, for every available seller m,

    f'(r_im) − p_m(r_m) − p'_m(r_m) r_im − μ_m − λ_i  ≤ 0   (= 0 when r_im > 0),
    λ_i ≥ 0 ⊥ X_i − Σ_m r_im ≥ 0,      μ_m ≥ 0 ⊥ G_m − r_m ≥ 0,

where ``μ_m`` is the multiplier of seller m's capacity, common to all buyers
(the *variational* equilibrium of the shared-capacity game).  With ``p_m``,
``p'_m`` and ``μ_m`` frozen, each buyer's conditions decouple into the scalar
equations ``f'(x) − s x = k`` solved in closed form by the satisfaction
(``s = p'_m``, ``k = p_m + μ_m + λ_i``) and one monotone equation for ``λ_i``.
So the whole equilibrium is the root of an M-dimensional map
``H(y) = r(y) − T(r(y), μ(y))`` with ``r = min(y, G)``, ``μ = max(y − G, 0)``,
found by Newton's method with a finite-difference Jacobian (M + 1 evaluations
of T per step, each vectorised over all N×M requests).  Because the buyers'
problems are convex, a root satisfies every buyer's KKT conditions and is a
Nash equilibrium; :func:`nash_gaps` checks this independently by solving each
buyer's exact (nonsmooth) best-response problem.

Capacity rationing rule (documented status ``capacity_binding``): when the
requests at the uncapped equilibrium would exceed ``G_m``, seller m's energy is
rationed by the scarcity surcharge ``μ_m`` common to all its buyers — every
buyer trims its request until marginal satisfaction equals price + own price
impact + ``μ_m`` — the variational equilibrium.  No buyer has priority; the
payments stay ``p_m(r_m) r_im`` (``μ_m`` is reported as the scarcity value, not
charged).

The price floor ``max(q_m, c_m + ε_m)`` is handled exactly.  ``p'_m`` is 0 on
the floor and ``q'_m`` above it.  At the kink ``r̄_m`` the price has a
subdifferential ``[0, q'_m(r̄_m)]``: any profile with ``r_m = r̄_m`` where every
buyer's own slope lies in it is an equilibrium, so equilibria at a kink are
not unique.  The solver selects the one where all buyers share the slope
``θ q'_m(r̄_m)``, with θ an extra coordinate of y on a unit segment, which
keeps H continuous.  The exact best response in :func:`best_response`
brackets the jump of the marginal cost, and the Nash gap certifies the
answer.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from gridgames.models.microgrid.config import Market
from gridgames.solvers.result import SolveStatus

log = logging.getLogger(__name__)

#: Buyer response modes of :func:`respond`.
MODES = ("nash", "collective", "price-taking")


@dataclass
class MarketSolution:
    """One market outcome and its certificates.

    Attributes
    ----------
    r : ndarray (N, M)
        Requests ``r_im`` (0 where unavailable).
    method : str
    status : SolveStatus
    market_status : str
        ``"cleared"`` or ``"capacity_binding"`` (rationing by the surcharge ``mu``).
    mu, lam : ndarray
        Capacity multipliers (M,) and buyers' demand multipliers (N,).
    nash_gap : float
        Largest gain of a buyer deviating alone (yuan); NaN when not computed.
    rel_gap : float
        ``nash_gap / mean |buyer payoff|``.
    time : float
        Seconds spent solving (not checking).
    iterations : int
    history : list of float
        Residual (or gap) per iteration.
    """

    r: np.ndarray
    method: str
    status: SolveStatus
    market_status: str = "cleared"
    mu: np.ndarray = field(default_factory=lambda: np.zeros(0))
    lam: np.ndarray = field(default_factory=lambda: np.zeros(0))
    nash_gap: float = float("nan")
    rel_gap: float = float("nan")
    time: float = 0.0
    iterations: int = 0
    history: list[float] = field(default_factory=list)
    message: str = ""

    @property
    def totals(self) -> np.ndarray:
        return self.r.sum(axis=-2)


# --------------------------------------------------------------------------
# Payoffs
# --------------------------------------------------------------------------
def buyer_payoffs(market: Market, r: np.ndarray) -> np.ndarray:
    """``U_i = Σ_m f(r_im) − p_m(r_m) r_im`` (eq. (18)); broadcasts over leading axes."""
    X, w = market.X[:, None], market.w[:, None]
    sat = np.where(market.avail, market.satisfaction.value(r, X, w), 0.0)
    price = market.price(r.sum(axis=-2))[..., None, :]
    return (sat - price * r).sum(axis=-1)


def seller_revenue(market: Market, r: np.ndarray) -> np.ndarray:
    """``ψ_m = p_m(r_m) r_m − c_m G_m`` (eq. (19))."""
    tot = r.sum(axis=-2)
    return market.price(tot) * tot - market.c * market.G


# --------------------------------------------------------------------------
# Buyer responses with frozen prices (the map T)
# --------------------------------------------------------------------------
def _solve_lambda(market: Market, k0: np.ndarray, s: np.ndarray, tol: float = 1e-13,
                  max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Requests ``x_im = foc(k0_im + λ_i, s_im)`` with λ_i ≥ 0 ⊥ X_i − Σ_m x_im ≥ 0."""
    sat, X, w, avail = market.satisfaction, market.X[:, None], market.w[:, None], market.avail

    def requests(lam: np.ndarray) -> np.ndarray:
        return np.where(avail, sat.solve_foc(k0 + lam[:, None], s, X, w), 0.0)

    lam = np.zeros(market.n_buyers)
    x = requests(lam)
    excess = x.sum(axis=1) - market.X
    active = excess > tol * market.X
    if not active.any():
        return x, lam
    lo = np.zeros_like(lam)
    hi = np.max(np.where(avail, sat.d1(0.0, X, w) - k0, 0.0), axis=1) + 1.0
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        xi = x[idx]
        g = excess[idx]
        lo[idx] = np.where(g > 0, np.maximum(lo[idx], lam[idx]), lo[idx])
        hi[idx] = np.where(g < 0, np.minimum(hi[idx], lam[idx]), hi[idx])
        curv = sat.d2(xi, X[idx], w[idx]) - s[idx]
        slope = np.where((xi > 0) & avail[idx], 1.0 / np.minimum(curv, -1e-300), 0.0).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = lam[idx] - g / slope
        bad = ~np.isfinite(step) | (step <= lo[idx]) | (step >= hi[idx])
        lam[idx] = np.where(bad, 0.5 * (lo[idx] + hi[idx]), step)
        x[idx] = np.where(avail[idx], sat.solve_foc(k0[idx] + lam[idx, None], s[idx], X[idx], w[idx]), 0.0)
        excess[idx] = x[idx].sum(axis=1) - market.X[idx]
        active[idx] = (np.abs(excess[idx]) > tol * market.X[idx]) & (hi[idx] - lo[idx] > 1e-15 * (1 + hi[idx]))
    return x, lam


def respond(market: Market, r_tot: np.ndarray, mu: np.ndarray, mode: str = "nash",
            prices: np.ndarray | None = None, slope: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All buyers' requests when seller totals are ``r_tot`` and surcharges ``mu``.

    ``mode="nash"``: each buyer prices its own impact ``p'_m r_im`` (Nash);
    ``"collective"``: one planner for all buyers prices ``p'_m r_m`` (load
    transfer baseline); ``"price-taking"``: buyers take ``prices`` as given.
    ``slope`` overrides ``p'_m(r_m)`` (a subgradient at the floor's kink).
    """
    N = market.n_buyers
    p = market.price(r_tot) if prices is None else np.asarray(prices, float)
    slope = market.price_slope(r_tot) if slope is None else slope
    if mode == "nash":
        k0, s = p + mu, np.broadcast_to(slope, (N, market.n_sellers))
    elif mode == "collective":
        k0, s = p + mu + slope * r_tot, np.zeros((N, market.n_sellers))
    elif mode == "price-taking":
        k0, s = p + mu, np.zeros((N, market.n_sellers))
    else:
        raise ValueError(f"unknown response mode {mode!r}; choose one of {', '.join(MODES)}")
    return _solve_lambda(market, np.broadcast_to(k0, (N, market.n_sellers)), s)


# --------------------------------------------------------------------------
# The aggregative Newton solver
# --------------------------------------------------------------------------
def equilibrium(market: Market, *, mode: str = "nash", tol: float = 1e-10, max_iter: int = 100,
                check: bool = True, prices: np.ndarray | None = None,
                capacity: bool = True) -> MarketSolution:
    """Equilibrium of all buyers at once by Newton's method on the seller totals.

    Parameters
    ----------
    market : Market
    mode : {'nash', 'collective', 'price-taking'}
        See :func:`respond`.  ``prices`` (M,) is required for ``price-taking``
        and then the totals do not move the price (one response, no iteration).
    tol : float
        Stop when ``max_m |H_m| ≤ tol · (1 + G_m)``.
    check : bool
        Compute the exact Nash gap (:func:`nash_gaps`) of the answer.
    capacity : bool
        Enforce ``r_m ≤ G_m`` (False: report requests as if capacity were unlimited).

    Returns
    -------
    MarketSolution
    """
    start = time.perf_counter()
    G = market.G if capacity else np.full(market.n_sellers, np.inf)
    if mode == "price-taking":
        if prices is None:
            raise ValueError("mode='price-taking' needs prices")
        x, lam = respond(market, np.zeros(market.n_sellers), np.zeros(market.n_sellers), mode, prices)
        over = bool(np.any(x.sum(axis=0) > market.G * (1 + 1e-9)))
        return MarketSolution(r=x, method=mode, status=SolveStatus.OPTIMAL,
                              market_status="capacity_binding" if over else "cleared",
                              mu=np.zeros(market.n_sellers), lam=lam, time=time.perf_counter() - start,
                              message="one price-taking response to given prices")
    # μ_m ≥ mu_max_m prices every buyer out of seller m; the map y -> μ saturates below it so that
    # H has no flat region (which stalls Newton-type methods on crowded markets)
    top = np.max(np.where(market.avail, market.satisfaction.d1(0.0, market.X[:, None], market.w[:, None]), 0.0),
                 axis=0)
    mu_max = np.maximum(top - market.price(np.minimum(market.G, market.X.sum())), 1.0)
    scale = 1.0 + market.G
    evals = [0]

    # the floor's kink r̄_m: a unit-length segment of y where r_m = r̄_m stays put and the buyers'
    # own-impact slope rises from 0 (floor side) to q'(r̄_m) (a subgradient selection common to all
    # buyers), which makes H continuous through the kink
    kink = market.kink
    has = (kink > 0) & (kink < G)
    q_kink = market.B + 2.0 * market.C * kink

    def unpack(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        z = np.maximum(y, 0.0)
        theta = has & (z >= kink) & (z <= kink + 1.0)
        raw = np.where(has & (z >= kink), np.where(theta, kink, z - 1.0), z)
        r = np.minimum(raw, G)
        over = np.where(np.isfinite(G), np.maximum(raw - G, 0.0), 0.0)
        slope = np.where(theta, (z - kink) * q_kink, market.price_slope(r))
        return r, -mu_max * np.expm1(-over / mu_max), slope

    def H(y: np.ndarray) -> np.ndarray:
        evals[0] += 1
        r, mu, slope = unpack(y)
        x, _ = respond(market, r, mu, mode, prices, slope=slope)
        return (r - x.sum(axis=0)) / scale

    y0 = np.minimum(market.G, market.X.sum()) + has
    sol = optimize.root(H, y0, method="hybr", options={"xtol": 1e-14, "maxfev": 200 * (market.n_sellers + 1)})
    y = sol.x
    history = [float(np.max(np.abs(H(y))))]
    it = 0
    hi_end = np.where(np.isfinite(G), G, market.X.sum()) + has + 40.0 * mu_max
    while history[-1] > tol and it < max_iter:
        # fallback where buyers switch sellers on and off (few buyers: H is only piecewise smooth):
        # nonlinear Gauss-Seidel over sellers, each H_m strictly increasing in its own y_m, then
        # Powell's hybrid method again from the improved point
        it += 1
        for j in range(market.n_sellers):
            def own(t: float, j: int = j) -> float:
                yj = y.copy()
                yj[j] = t
                return float(H(yj)[j])
            if own(0.0) >= 0.0:
                y[j] = 0.0
            elif own(hi_end[j]) <= 0.0:
                y[j] = hi_end[j]
            else:
                y[j] = optimize.brentq(own, 0.0, hi_end[j], xtol=1e-14, rtol=1e-15)
        res = float(np.max(np.abs(H(y))))
        if res > tol:
            sol = optimize.root(H, y, method="hybr", options={"xtol": 1e-14, "maxfev": 50 * (market.n_sellers + 1)})
            if np.max(np.abs(H(sol.x))) < res:
                y = sol.x
                res = float(np.max(np.abs(H(y))))
        history.append(res)
        log.debug("microgrid seller sweep %d: residual %.3e", it, res)
    r_tot, mu, slope = unpack(y)
    x, lam = respond(market, r_tot, mu, mode, prices, slope=slope)
    elapsed = time.perf_counter() - start
    converged = history[-1] <= tol
    binding = bool(np.any(mu > 0)) or bool(np.any(x.sum(axis=0) > market.G * (1 + 1e-9)))
    sol = MarketSolution(r=x, method={"nash": "vectorised"}.get(mode, mode),
                         status=SolveStatus.OPTIMAL if converged else SolveStatus.ITERATION_LIMIT,
                         market_status="capacity_binding" if binding else "cleared", mu=mu, lam=lam,
                         time=elapsed, iterations=evals[0], history=history,
                         message=f"aggregate residual {history[-1]:.2e} after {evals[0]} evaluations of the "
                                 f"buyers' response map (hybr, {it} seller sweeps)")
    if check and mode == "nash":
        attach_gap(market, sol)
    return sol


# --------------------------------------------------------------------------
# Exact best responses and the Nash gap
# --------------------------------------------------------------------------
def _bracketed_newton(fun, lo: np.ndarray, hi: np.ndarray, x0: np.ndarray, tol: float,
                      max_iter: int = 100) -> np.ndarray:
    """Root of a decreasing function on [lo, hi] (elementwise), safeguarded Newton.

    ``fun(x) -> (value, derivative)``; where the function jumps over zero the
    jump point is returned (the bracket shrinks onto it).
    """
    x = np.clip(x0, lo, hi)
    lo, hi = lo.copy(), hi.copy()
    for _ in range(max_iter):
        v, d = fun(x)
        lo = np.where(v > 0, x, lo)
        hi = np.where(v < 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            nx = x - v / d
        bad = ~np.isfinite(nx) | (nx <= lo) | (nx >= hi)
        nx = np.where(bad, 0.5 * (lo + hi), nx)
        done = (np.abs(v) <= tol) | (hi - lo <= tol * (1.0 + np.abs(hi)))
        x = np.where(done, x, nx)
        if done.all():
            break
    return x


def best_response(market: Market, r: np.ndarray, *, capacity: bool = True) -> np.ndarray:
    """Every buyer's exact best response to the others' requests in ``r`` (N, M).

    Buyer i maximises ``Σ_m f(x_m) − p_m(R_m + x_m) x_m`` over ``x ≥ 0``,
    ``Σ x ≤ X_i``, ``x_m ≤ G_m − R_m`` (capacity left by the others), with the
    nonsmooth floored price: for a multiplier λ each ``x_m`` solves the
    monotone equation ``f'(x) − p(R+x) − x p'(R+x) = λ`` by bracketed Newton
    (the marginal cost's jump at the floor kink is bracketed), and λ ≥ 0 is
    found the same way.  Works on a leading batch axis too (P, N, M).
    """
    sat, X, w, avail = market.satisfaction, market.X[:, None], market.w[:, None], market.avail
    R = r.sum(axis=-2)[..., None, :] - r
    cap = np.maximum(market.G - R, 0.0) if capacity else np.full_like(R, np.inf)
    ub = np.where(avail, np.minimum(cap, X), 0.0)
    A, B, C, F = market.A, market.B, market.C, market.floor

    def marginal(x):
        tot = R + x
        q = A + B * tot + C * tot * tot
        on = q >= F
        slope = np.where(on, B + 2.0 * C * tot, 0.0)
        mc = np.maximum(q, F) + x * slope
        dmc = np.where(on, 2.0 * slope + 2.0 * C * x, 0.0)
        return mc, dmc

    def per_seller(lam):
        def fun(x):
            mc, dmc = marginal(x)
            return sat.d1(x, X, w) - mc - lam, sat.d2(x, X, w) - dmc
        v0, _ = fun(np.zeros_like(R))
        v1, _ = fun(ub)
        x = _bracketed_newton(fun, np.zeros_like(R), ub, 0.5 * ub, tol=1e-13)
        x = np.where(v0 <= 0, 0.0, np.where(v1 >= 0, ub, x))
        return np.where(avail, x, 0.0)

    x0 = per_seller(np.zeros(R.shape[:-1])[..., None])
    need = x0.sum(axis=-1) > market.X * (1 + 1e-13)
    if not need.any():
        return x0
    lam_hi = np.max(np.where(avail, sat.d1(0.0, X, w), 0.0), axis=-1)
    lo, hi = np.zeros(R.shape[:-1]), np.broadcast_to(lam_hi, R.shape[:-1]).copy()
    lam = np.where(need, 0.5 * hi, 0.0)
    # λ by bisection-safeguarded secant on the excess demand (monotone decreasing in λ)
    x = x0
    for _ in range(200):
        x = per_seller(lam[..., None])
        excess = x.sum(axis=-1) - market.X
        lo = np.where(need & (excess > 0), lam, lo)
        hi = np.where(need & (excess < 0), lam, hi)
        done = ~need | (np.abs(excess) <= 1e-12 * market.X) | (hi - lo <= 1e-14 * (1 + hi))
        if done.all():
            break
        lam = np.where(done, lam, 0.5 * (lo + hi))
    return np.where(need[..., None], x, x0)


def nash_gaps(market: Market, r: np.ndarray, *, capacity: bool = True) -> np.ndarray:
    """Each buyer's gain (yuan) from its exact best response; broadcasts over a batch axis."""
    br = best_response(market, r, capacity=capacity)
    R = r.sum(axis=-2)[..., None, :] - r
    X, w = market.X[:, None], market.w[:, None]

    def payoff(x):
        sat = np.where(market.avail, market.satisfaction.value(x, X, w), 0.0)
        return (sat - market.price(R + x) * x).sum(axis=-1)

    return payoff(br) - payoff(r)


def attach_gap(market: Market, sol: MarketSolution) -> MarketSolution:
    """Fill ``nash_gap`` and ``rel_gap`` of a solution from :func:`nash_gaps`."""
    gaps = nash_gaps(market, sol.r)
    sol.nash_gap = float(max(gaps.max(), 0.0))
    sol.rel_gap = sol.nash_gap / max(float(np.mean(np.abs(buyer_payoffs(market, sol.r)))), 1e-12)
    return sol
