r"""Closed-form Stackelberg equilibrium of the pricing game (Appendix A, re-derived).

The game (Symmetry 2023, 15, 443, Sections 4.2 and 4.4), per period k of one day,
with ``s_k = +1`` where the forecast ``d_k < d_avg`` and ``s_k = −1`` otherwise
(so the incentive is ``E_k = ir s_k (l_k − orl_k)``)::

    U1 = Σ_k  p_k l_k − (a1 l_k² + a2 l_k + a3) − μ (l_k − d_avg)² − ir s_k (l_k − orl_k)
    U2 = Σ_k  η l_k − η l_k²/(2 z_max) + ir s_k (l_k − orl_k) − p_k l_k
              − ϖ1 θ (l_k − orl_k)² − ϖ2 α l_k (p_k − r_k)/r_k

Both utilities are sums of per-period terms, and the fluctuation cost is read as
``μ (l_k − d_avg)²`` per period (the paper's ``flu(l_k) = μ Σ_k (...)²`` inside
Σ_k would count the day's fluctuation N times; Appendix A's substituted U1 has
``Σ_k μ (A_k + B_k p_k − d_avg)²``, i.e. once).  So the game separates into N
independent one-period Stackelberg games.

**Step 1 (follower).**  ``∂U2/∂l_k = η − (η/z_max) l_k + ir s_k − p_k
− 2ϖ1θ (l_k − orl_k) − ϖ2 α (p_k − r_k)/r_k = 0`` gives the best response
``l_k = A_k + B_k p_k`` with (multiplying numerator and denominator by z_max r_k,
which is how the garbled Appendix A formulas read)::

    A_k = (2ϖ1θ orl_k + ϖ2 α + η + s_k ir) z_max r_k / (η r_k + 2ϖ1θ z_max r_k)
    B_k = −(ϖ2 α z_max + z_max r_k)          / (η r_k + 2ϖ1θ z_max r_k)   < 0

(the paper's two cases d_k < d_avg and d_k >= d_avg are the signs ``±ir``).
``∂²U2/∂l_k² = −η/z_max − 2ϖ1θ < 0`` and the Hessian is diagonal, so this is the
unique maximiser when no bound binds.  With ``l_min <= l_k <= l_max`` the
follower's problem is a concave 1-D problem per period, so its best response is
the clipped line ``BR_k(p) = clip(A_k + B_k p, l_min, l_max)`` (exact).

**Step 2 (leader).**  Substituting the unclipped response,
``∂U1/∂p_k = 2B_k p_k + A_k − 2a1 B_k (A_k + B_k p_k) − a2 B_k
− 2μ B_k (A_k + B_k p_k − d_avg) − s_k ir B_k = 0``, hence::

    p_k* = (2a1 A_k B_k + a2 B_k + 2μ B_k (A_k − d_avg) + s_k ir B_k − A_k)
           / (2B_k − 2a1 B_k² − 2μ B_k²)

The extraction lost the μ in front of ``2 B_k (A_k − d_avg)`` in the paper's
formula; the derivative (and the paper's own denominator, which has the
``2μB_k²`` term) require it.  ``∂²U1/∂p_k² = 2B_k − 2a1 B_k² − 2μ B_k² < 0``
because ``B_k < 0``: this is :func:`appendix_a_price`.

**Bounds.**  The closed form stops being valid as soon as the response is
clipped or the price floor binds.  Per period the leader maximises the
continuous piecewise-quadratic function ``f(p) = U1_k(p, BR_k(p))`` over
``{0 <= p <= p_max : floor(p, BR_k(p)) >= 0}``.  The pieces are delimited by the
breakpoints where ``A_k + B_k p`` reaches ``l_max`` or ``l_min`` (for K user
classes: every class's two breakpoints).  On a piece the aggregate load is
affine, ``L = α + β p``, ``f`` is a quadratic and the floor is a quadratic
(``p L − C(L) >= 0``, average cost) or linear (``p >= 2a1 L + a2``, marginal
cost) function of p.  The maximum of a continuous function over a finite
union of closed intervals is attained at an interval end or at an interior
stationary point, so evaluating ``f`` at every breakpoint, every piece's
stationary point and every root of the floor inside each piece, and keeping
the best feasible candidate, is exact.  :func:`solve_periods` does this
vectorised over periods (and over leading axes, e.g. days).

**K user classes.**  Class c with load share σ_c has ``η l − η l²/(2σ_c z_max)``
and ``ϖ1 (θ/σ_c)(l − σ_c orl)²``; its best response is ``σ_c clip(A_ck + B_ck p,
l_min, l_max)`` with its own A, B.  The incentive terms sum to
``ir s_k (L_k − orl_k)`` because the shares sum to 1.
"""
from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from gridgames.models.stackelberg.params import DayData, StackelbergParams, check_bounds
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)


def response_coefficients(params: StackelbergParams, orl: np.ndarray, s: np.ndarray,
                          ir: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unclipped best-response lines ``x_c = A_c + B_c p`` (per population, before σ_c).

    Parameters
    ----------
    params : StackelbergParams
    orl, s : ndarray, shape (..., N)
        Consumption before the scheme and the incentive sign s_k.
    ir : float, optional
        Incentive rate (default ``params.ir``).

    Returns
    -------
    A : ndarray, shape (C, ..., N)
    B : ndarray, shape (C,) + (1,) * orl.ndim
    """
    ir = params.ir if ir is None else ir
    orl = np.asarray(orl, dtype=float)
    A, B = [], []
    for u in params.users:
        den = u.eta / u.z_max + 2.0 * u.w1 * u.theta
        A.append((u.eta + u.w2 * u.alpha + ir * s + 2.0 * u.w1 * u.theta * orl) / den)
        B.append(-(1.0 + u.w2 * u.alpha / params.r) / den)
    return np.stack(A), np.asarray(B).reshape((-1,) + (1,) * orl.ndim)


def _l_max(params: StackelbergParams, d: np.ndarray) -> np.ndarray:
    d_max = d.max(axis=-1, keepdims=True) if params.d_max is None else np.full(d.shape[:-1] + (1,), params.d_max)
    return np.minimum(d_max, min(u.z_max for u in params.users))


def aggregate_load(params: StackelbergParams, A: np.ndarray, B: np.ndarray, p: np.ndarray,
                   l_max: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Follower best responses at prices ``p``: per class (C, ..., N) and the aggregate."""
    share = np.asarray([u.share for u in params.users]).reshape(B.shape)
    per_class = share * np.clip(A + B * p, params.l_min, l_max)
    return per_class, per_class.sum(axis=0)


def company_utility(params: StackelbergParams, p: np.ndarray, L: np.ndarray, orl: np.ndarray,
                    d: np.ndarray, ir: float | None = None) -> np.ndarray:
    """Per-period U1 terms ``p L − C(L) − μ (L − d_avg)² − E`` (vectorised, d_avg over the last axis)."""
    ir = params.ir if ir is None else ir
    d_avg = d.mean(axis=-1, keepdims=True)
    return _period_u1(params, p, L, orl, d_avg, np.where(d < d_avg, 1.0, -1.0), ir)


def user_utility(params: StackelbergParams, p: np.ndarray, l: np.ndarray, orl: np.ndarray,
                 d: np.ndarray, ir: float | None = None) -> np.ndarray:
    """Per-class, per-period U2 terms; ``l`` has shape (C, ..., N)."""
    ir = params.ir if ir is None else ir
    d_avg = d.mean(axis=-1, keepdims=True)
    s = np.where(d < d_avg, 1.0, -1.0)
    out = []
    for c, u in enumerate(params.users):
        lc, o = l[c], u.share * orl
        out.append(u.eta * lc - u.eta * lc ** 2 / (2 * u.share * u.z_max) + ir * s * (lc - o)
                   - p * lc - u.w1 * (u.theta / u.share) * (lc - o) ** 2
                   - u.w2 * u.alpha * lc * (p - params.r) / params.r)
    return np.stack(out)


def _floor_value(params: StackelbergParams, p: np.ndarray, L: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floor slack (>= 0 when feasible) and its scale, for the tolerance."""
    if params.price_floor == "average":
        cost = params.a1 * L ** 2 + params.a2 * L + params.a3
        return p * L - cost, np.maximum(1.0, np.abs(p * L) + np.abs(cost))
    if params.price_floor == "marginal":
        marg = 2 * params.a1 * L + params.a2
        return p - marg, np.maximum(1.0, np.abs(p) + np.abs(marg))
    return np.zeros_like(p), np.ones_like(p)


def _quadratic_roots(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real roots of ``a x² + b x + c`` (NaN where none; linear where a ≈ 0)."""
    scale = np.maximum(np.abs(b), 1e-300)
    linear = np.abs(a) * 1e12 < scale
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = b * b - 4 * a * c
        sq = np.sqrt(np.where(disc >= 0, disc, np.nan))
        q = -0.5 * (b + np.copysign(sq, b))  # stable form
        r1 = np.where(linear, np.where(b != 0, -c / b, np.nan), q / a)
        r2 = np.where(linear, np.nan, c / q)
    return r1, r2


def solve_periods(params: StackelbergParams, orl: np.ndarray, d: np.ndarray, *,
                  ir: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact per-period Stackelberg equilibrium with clipped responses and the price floor.

    Parameters
    ----------
    params : StackelbergParams
    orl, d : array_like, shape (..., N)
        Consumption before the scheme and forecast demand; leading axes are
        independent games (e.g. days), ``d_avg`` is taken over the last axis.
    ir : float, optional
        Incentive rate (default ``params.ir``).

    Returns
    -------
    p : ndarray, shape (..., N)
        Equilibrium prices.
    l : ndarray, shape (C, ..., N)
        Equilibrium consumption of each user class.

    Raises
    ------
    ModelError
        When no price in ``[0, p_max]`` satisfies the price floor in some period.
    """
    ir = params.ir if ir is None else ir
    orl = np.asarray(orl, dtype=float)
    d = np.asarray(d, dtype=float)
    d_avg = d.mean(axis=-1, keepdims=True)
    s = np.where(d < d_avg, 1.0, -1.0)
    A, B = response_coefficients(params, orl, s, ir)
    l_max = _l_max(params, d)
    share = np.asarray([u.share for u in params.users]).reshape(B.shape)
    a1, a2, a3, mu = params.a1, params.a2, params.a3, params.mu

    # Breakpoints of every class (where its response hits l_max or l_min), plus 0 and p_max.
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.concatenate([(l_max - A) / B, (params.l_min - A) / B], axis=0)
    bp = np.moveaxis(bp, 0, -1)  # (..., N, 2C)
    ends = np.broadcast_to(np.array([0.0, params.p_max]), bp.shape[:-1] + (2,))
    pts = np.sort(np.clip(np.concatenate([ends, bp], axis=-1), 0.0, params.p_max), axis=-1)
    lo, hi = pts[..., :-1], pts[..., 1:]  # (..., N, J) pieces
    mid = 0.5 * (lo + hi)

    # Affine aggregate load L = α + β p on each piece.
    Ae, Be, she = A[..., None], B[..., None], share[..., None]
    x_mid = Ae + Be * mid
    inside = (x_mid > params.l_min) & (x_mid < l_max[..., None])
    alpha = (she * np.where(inside, Ae, np.clip(x_mid, params.l_min, l_max[..., None]))).sum(axis=0)
    beta = (she * np.where(inside, Be, 0.0)).sum(axis=0)

    # Stationary point of f on each piece.
    dav, se = d_avg[..., None], s[..., None]
    c2 = beta - (a1 + mu) * beta ** 2
    c1 = alpha - 2 * a1 * alpha * beta - a2 * beta - 2 * mu * (alpha - dav) * beta - ir * se * beta
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(c2 < 0, -c1 / (2 * c2), np.nan)
    cands = [pts, np.where((stat >= lo) & (stat <= hi), stat, np.nan)]

    # Roots of the price floor on each piece (where it can switch from infeasible to feasible).
    if params.price_floor != "none":
        if params.price_floor == "average":
            h2, h1, h0 = beta - a1 * beta ** 2, alpha - 2 * a1 * alpha * beta - a2 * beta, \
                -(a1 * alpha ** 2 + a2 * alpha + a3)
        else:
            h2, h1, h0 = np.zeros_like(beta), 1 - 2 * a1 * beta, -(2 * a1 * alpha + a2)
        for root in _quadratic_roots(h2, h1, h0):
            cands.append(np.where((root >= lo) & (root <= hi), root, np.nan))
    cand = np.concatenate(cands, axis=-1)  # (..., N, M)

    # Evaluate every candidate exactly and keep the best feasible one.
    valid = np.isfinite(cand)
    pc = np.where(valid, cand, 0.0)
    _, L = aggregate_load(params, Ae, Be, pc, l_max[..., None])
    f = _period_u1(params, pc, L, orl[..., None], dav, se, ir)
    slack, scale = _floor_value(params, pc, L)
    feasible = valid & (slack >= -1e-9 * scale)
    score = np.where(feasible, f, -np.inf)
    if not feasible.any(axis=-1).all():
        bad = np.argwhere(~feasible.any(axis=-1))[0]
        raise ModelError(f"no price in [0, {params.p_max:g}] satisfies the price floor "
                         f"({params.price_floor!r}) in period {tuple(int(i) for i in bad)}; "
                         "raise [bounds].p_max or use price_floor = 'none'")
    best = np.argmax(score, axis=-1)
    p = np.take_along_axis(cand, best[..., None], axis=-1)[..., 0]
    l, _ = aggregate_load(params, A, B, p, l_max)
    return p, l


def _period_u1(params: StackelbergParams, p: np.ndarray, L: np.ndarray, orl: np.ndarray,
               d_avg: np.ndarray, s: np.ndarray, ir: float) -> np.ndarray:
    cost = params.a1 * L ** 2 + params.a2 * L + params.a3
    return p * L - cost - params.mu * (L - d_avg) ** 2 - ir * s * (L - orl)


def analytic_equilibrium(params: StackelbergParams, day: DayData, *,
                         ir: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The game's equilibrium on one day, bounds and price floor included.

    Parameters
    ----------
    params : StackelbergParams
    day : DayData
    ir : float, optional
        Incentive rate (default ``params.ir``).

    Returns
    -------
    p : ndarray, shape (N,)
        Prices ($/MWh).
    l : ndarray
        Consumption (MW): shape (N,) for one user class, (C, N) for C classes.
    """
    check_bounds(params if ir is None else replace(params, ir=ir), day, "analytic")
    p, l = solve_periods(params, day.orl, day.d, ir=ir)
    return p, (l[0] if params.n_classes == 1 else l)


def appendix_a_price(params: StackelbergParams, day: DayData, *,
                     ir: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Appendix A's unconstrained closed form (one class): ``p_k*`` and ``l_k* = A_k + B_k p_k*``.

    Valid only while no bound and no price floor binds; :func:`analytic_equilibrium`
    returns the same point then.
    """
    ir = params.ir if ir is None else ir
    if params.n_classes != 1:
        raise ModelError("appendix_a_price is the paper's one-class formula; use analytic_equilibrium")
    A, B = response_coefficients(params, day.orl, day.sign, ir)
    A, B = A[0], B[0]
    a1, a2, mu = params.a1, params.a2, params.mu
    p = (2 * a1 * A * B + a2 * B + 2 * mu * B * (A - day.d_avg) + day.sign * ir * B - A) \
        / (2 * B - 2 * a1 * B ** 2 - 2 * mu * B ** 2)
    return p, A + B * p


def second_order_terms(params: StackelbergParams, day: DayData) -> dict[str, np.ndarray]:
    """Appendix A's Hessian diagonals (both Hessians are diagonal).

    Returns
    -------
    dict
        ``"follower"``: ∂²U2/∂l_ck² = −η/(σ z_max) − 2ϖ1θ/σ, shape (C, N);
        ``"leader"``: ∂²U1/∂p_k² on the all-interior piece, 2β − 2a1β² − 2μβ²
        with β = Σ_c σ_c B_c, shape (N,).
    """
    n = day.n
    foll = np.stack([np.full(n, -u.eta / (u.share * u.z_max) - 2 * u.w1 * u.theta / u.share)
                     for u in params.users])
    _, B = response_coefficients(params, day.orl, day.sign)
    beta = float(sum(u.share * b for u, b in zip(params.users, B.ravel())))
    lead = np.full(n, 2 * beta - 2 * params.a1 * beta ** 2 - 2 * params.mu * beta ** 2)
    return {"follower": foll, "leader": lead}
