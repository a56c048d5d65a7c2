"""The RTP paper's two objectives, incentive and comfort index (eq. 8-12, 16), in numpy.

* f1 (eq. 8-9): ``bill − P_z`` with ``P_z = λ1 · λ2 · bill``; λ2 = 1 when the consumer kept the
  planning unit's plan ``m`` consecutive days (read: the discount is paid on the bill of every day
  that belongs to a run of at least ``m`` kept days, :func:`incentive_days`).
* f2 (eq. 10-12): social welfare ``Σ_t [L(S_t) − C(S_t)]`` with the quadratic utility
  ``L(S) = δS − mS²/2`` for ``S ≤ δ/m`` and ``δ²/(2m)`` above (saturation), and the generation
  cost ``C(x) = r x² + b x + c`` of producing ``x = S_t`` (the consumers' load).
* K_i (eq. 16; garbled ``Ki = Σ_a Σ_t Δγ_{a,t} / T``): ``1 − Σ_{a,t} |γ_{a,t} − γ⁰_{a,t}| /
  Σ_{a,t} (γ_{a,t} + γ⁰_{a,t})``, with γ the on/off state and γ⁰ the consumer's own (target)
  plan: 1 when nothing moved (the paper: K = 1 under the step tariff), 0 when every on-period
  moved.  We normalise by the on-periods instead of T so that K lies in [0, 1].
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gridgames.models.instance import InstanceError


@dataclass(frozen=True)
class Welfare:
    """Utility ``L`` (eq. 11) and cost ``C`` (eq. 12) parameters; S in kW (kWh per hour), money in $."""

    delta: float = 0.5
    m: float = 0.05
    r: float = 0.01
    b: float = 0.03
    c: float = 0.0

    def __post_init__(self) -> None:
        bad = [f"[welfare].{k}: must be > 0, got {getattr(self, k)}" for k in ("delta", "m")
               if not getattr(self, k) > 0]
        bad += [f"[welfare].{k}: must be >= 0, got {getattr(self, k)}" for k in ("r", "b", "c")
                if not getattr(self, k) >= 0]
        if bad:
            raise InstanceError(bad, "social welfare")

    @property
    def saturation(self) -> float:
        """``δ/m``: the load above which the utility stays at ``δ²/(2m)``."""
        return self.delta / self.m

    def utility(self, s: np.ndarray) -> np.ndarray:
        s = np.asarray(s, float)
        return np.where(s <= self.saturation, self.delta * s - 0.5 * self.m * s ** 2,
                        self.delta ** 2 / (2 * self.m))

    def cost(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, float)
        return self.r * x ** 2 + self.b * x + self.c

    def welfare(self, load: np.ndarray, dt: float = 1.0) -> np.ndarray:
        """f2 of eq. 10 for load curves ``(..., n)`` → ``(...)`` (hourly terms weighted by ``dt``)."""
        s = np.asarray(load, float)
        return dt * np.sum(self.utility(s) - self.cost(s), axis=-1)


def bill(load: np.ndarray, prices: np.ndarray, dt: float = 1.0) -> np.ndarray:
    """``Σ_t A_t S_t dt`` for load curves ``(..., n)`` (kW) and prices ``(n,)`` ($/kWh)."""
    return dt * np.asarray(load, float) @ np.asarray(prices, float)


def incentive_days(kept: Sequence[bool], m: int) -> np.ndarray:
    """λ2 per day: True on days inside a run of at least ``m`` consecutive kept days."""
    kept = np.asarray(kept, bool)
    if m < 1:
        raise InstanceError([f"[incentive].m: must be >= 1, got {m}"], "incentive")
    out = np.zeros(kept.size, bool)
    start = None
    for i, k in enumerate(np.append(kept, False)):
        if k and start is None:
            start = i
        elif not k and start is not None:
            if i - start >= m:
                out[start:i] = True
            start = None
    return out


def comfort_index(on: np.ndarray, on_preferred: np.ndarray) -> float:
    """K_i of eq. 16 (our normalisation, see the module docstring) from on/off arrays of equal shape."""
    on, pref = np.asarray(on, bool), np.asarray(on_preferred, bool)
    total = on.sum() + pref.sum()
    return 1.0 if total == 0 else float(1.0 - np.sum(on ^ pref) / total)
