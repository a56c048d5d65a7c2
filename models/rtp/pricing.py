"""Real-time price rule of the RTP paper (Wang et al., Front. Energy Res. 9:714951, 2021, eq. 3-4).

The next day's load forecast ``P_L(t)`` (random forest, :mod:`gridgames.forecasting`)
gives the average load by the equal-area rule (eq. 3)::

    ∫_0^T P_L(t) dt = T · P0     →   P0 = mean of P_L over the day (step-held hourly values)

and the price of hour t is the clearing (basic) price plus a fluctuation (eq. 4)::

    A_t = A0 + A_d,   A_d = clip(μ_a · A_i, F),   A_i = P_L(t) − P0

How the garbled extraction was read:

* ``μ = {μ1 if 0 < A < Aα; μ2 if Aα ≤ A ≤ Aβ; μ3 if Aβ < A < Aγ}``, ``μ1 < μ2 < μ3``: the
  band is chosen by the size of the load deviation ``|A_i|`` and the band's coefficient
  multiplies the whole deviation (not a marginal, block-wise rate).  We express
  deviations relative to P0 and price changes relative to A0, so ``μ`` is dimensionless
  (an elasticity): ``A_d / A0 = μ_a · (P_L(t) − P0) / P0``; in the paper's units
  ``μ_a^paper = μ_a · A0 / P0``.  Band edges ``Aα, Aβ`` are fractions of P0.
* ``A_d = min{W, F}``: the fluctuation is limited to the government range
  ``F = [−15 %, +10 %]`` of A0 (clipped on both sides).
* "we ignore the situation that the fluctuation of electricity price is less than 5 %":
  ``|A_d| < 5 % · A0`` gives ``A_d = 0``.

The step tariff (the paper's comparison, Figure 4) is an increasing-block tariff on the
daily energy of a household: :func:`step_tariff_bill`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gridgames.models.instance import InstanceError


@dataclass(frozen=True)
class PriceRule:
    """Parameters of eq. 4.

    Parameters
    ----------
    mu : (μ1, μ2, μ3)
        Fluctuation coefficients, strictly increasing, ≥ 0 (price change relative to A0 per
        relative load deviation).
    bands : (Aα, Aβ)
        Band edges of ``|P_L − P0| / P0``; ``0 < Aα < Aβ``.
    f_low, f_high : float
        The range F as fractions of A0 (paper: −0.15, +0.10).
    deadband : float
        Price fluctuations below ``deadband · A0`` are ignored (paper: 0.05).
    """

    mu: tuple[float, float, float] = (0.5, 0.8, 1.2)
    bands: tuple[float, float] = (0.10, 0.20)
    f_low: float = -0.15
    f_high: float = 0.10
    deadband: float = 0.05

    def __post_init__(self) -> None:
        problems = []
        mu, bands = tuple(self.mu), tuple(self.bands)
        if len(mu) != 3 or not all(np.isfinite(mu)) or min(mu) < 0 or not (mu[0] < mu[1] < mu[2]):
            problems.append(f"[price].mu: need three coefficients 0 <= mu1 < mu2 < mu3, got {[float(v) for v in mu]}")
        if len(bands) != 2 or not (0 < bands[0] < bands[1]):
            problems.append(f"[price].bands: need 0 < A_alpha < A_beta (fractions of P0), got {list(bands)}")
        if not (-1 < self.f_low <= 0 <= self.f_high):
            problems.append(f"[price].f_range: need -1 < low <= 0 <= high, got [{self.f_low}, {self.f_high}]")
        if not (0 <= self.deadband < 1):
            problems.append(f"[price].deadband: must be in [0, 1), got {self.deadband}")
        if problems:
            raise InstanceError(problems, "RTP price rule")


def average_load(forecast: Sequence[float] | np.ndarray, dt: float = 1.0) -> float:
    """P0 of eq. 3: the level with the same area as the forecast over the day.

    With step-held values ``∫ P_L dt = dt Σ P_L`` and ``T = n dt``, so P0 is the mean.
    """
    arr = np.asarray(forecast, float)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise InstanceError([f"load forecast: need a non-empty finite 1-D series, got shape {arr.shape}"],
                            "RTP price rule")
    return float(dt * arr.sum() / (dt * arr.size))


def fluctuation_coefficient(rel_dev: np.ndarray, rule: PriceRule) -> np.ndarray:
    """μ_a per period from the relative load deviation (band of ``|A_i| / P0``)."""
    mag = np.abs(rel_dev)
    return np.where(mag < rule.bands[0], rule.mu[0], np.where(mag <= rule.bands[1], rule.mu[1], rule.mu[2]))


def rtp_prices(forecast: Sequence[float] | np.ndarray, a0: float, rule: PriceRule | None = None,
               dt: float = 1.0) -> np.ndarray:
    """The real-time prices ``A_t`` of one day (eq. 3-4).

    Parameters
    ----------
    forecast : array
        Next-day load forecast ``P_L(t)`` (any unit), one value per period.
    a0 : float
        Clearing (basic) price A0, > 0 (any currency unit; the result has the same unit).
    rule : PriceRule, optional
    dt : float
        Period length (h).

    Returns
    -------
    ndarray
        ``A_t``, same length as ``forecast``.
    """
    rule = rule or PriceRule()
    if not (np.isfinite(a0) and a0 > 0):
        raise InstanceError([f"clearing price A0 must be > 0, got {a0}"], "RTP price rule")
    load = np.asarray(forecast, float)
    p0 = average_load(load, dt)
    if p0 <= 0:
        raise InstanceError([f"load forecast: average load P0 must be > 0, got {p0}"], "RTP price rule")
    rel = (load - p0) / p0
    frac = np.clip(fluctuation_coefficient(rel, rule) * rel, rule.f_low, rule.f_high)
    frac[np.abs(frac) < rule.deadband] = 0.0
    return a0 * (1.0 + frac)


def step_tariff_bill(daily_energy: np.ndarray | float, edges: Sequence[float], prices: Sequence[float]
                     ) -> np.ndarray:
    """Bill of an increasing-block (step) tariff on the daily energy.

    Parameters
    ----------
    daily_energy : float or array
        kWh per day.
    edges : sequence
        Upper kWh limits of all blocks but the last (increasing).
    prices : sequence
        Price per kWh of each block (``len(edges) + 1`` values, non-decreasing).
    """
    e = np.atleast_1d(np.asarray(daily_energy, float))
    lims = np.concatenate([[0.0], np.asarray(edges, float), [np.inf]])
    p = np.asarray(prices, float)
    if p.size != lims.size - 1 or np.any(np.diff(lims) <= 0) or np.any(np.diff(p) < 0):
        raise InstanceError([f"[step_tariff]: need increasing edges and len(edges)+1 non-decreasing prices, "
                             f"got edges {list(edges)}, prices {list(prices)}"], "step tariff")
    in_block = np.clip(e[:, None] - lims[None, :-1], 0.0, np.diff(lims)[None, :])
    return in_block @ p


def step_tariff_marginal(daily_energy: float, edges: Sequence[float], prices: Sequence[float]) -> float:
    """Average price per kWh the step tariff charges for ``daily_energy`` kWh (for Figure 4)."""
    if daily_energy <= 0:
        return float(prices[0])
    return float(step_tariff_bill(daily_energy, edges, prices)[0] / daily_energy)
