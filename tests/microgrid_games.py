"""Test helper: a small microgrid market (12 buyers) as a Pyomo game, and its numpy reference.

Shared by the batched best-response tests and the Newton sweep tests (not a test module itself).
"""
from __future__ import annotations

import numpy as np

from gridgames.models.microgrid.config import MarketSpec, random_market
from gridgames.models.microgrid.solve import buyer_payoffs, equilibrium

N = 12
#: four small sellers: every capacity binds at 12 buyers (shared rows that leave some buyers no room)
TIGHT = MarketSpec(n_sellers=4, capacity=(20.0, 60.0))


def small_market(capacity: bool = True, seed: int = 3, spec: MarketSpec = MarketSpec()):
    """``(market, numpy equilibrium)`` of N seeded buyers."""
    market = random_market(N, spec, seed)
    return market, equilibrium(market, check=False, capacity=capacity)


def load_requests(model, r: np.ndarray) -> None:
    """Set every buyer's requests in ``model`` to the (buyers × sellers) array ``r``."""
    for i in model.buyer:
        for j, v in model.buyer[i].r.items():
            v.set_value(float(r[i, j]))


def payoff_scale(market, r) -> float:
    """Mean |buyer payoff| at ``r``: the scale of the gap tolerances."""
    return float(np.mean(np.abs(buyer_payoffs(market, r))))
