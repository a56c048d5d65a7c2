"""The two comparison methods of Section 5.3, reconstructed (the paper gives one paragraph each).

What the text fixes: neither method lets a buyer split its request over
several sellers ("neither of these two methods consider the scenario where the
buyer sends electric energy requests to multiple sellers at the same time").
So in both baselines each buyer is *captive* to one seller of its available
set — the one with the lowest base price ``A_m`` (ties: lowest index).

* **Load transfer** [15, 16]: "reduce the energy consumption of the buyer and
  transfer the peak load to off-peak hours, striving to maximise the overall
  income of the buyer group while reducing the generation cost".  Built as a
  *collective* buyer decision: one planner per seller's buyer group maximises
  the group's total payoff, so it internalises the price impact of the whole
  group (``f'(x_i) = p_m(r_m) + p'_m(r_m) r_m``) and cuts consumption below the
  Nash level; the energy not bought is the load transferred off-peak (not
  served in this period).  Solved by the vectorised solver with
  ``mode="collective"`` (same capacity rationing).
* **User-side energy storage** [17]: "a multi-master multi-slave Stackelberg
  game ... household energy management with user-side storage".  Built as:
  sellers (leaders) each post one flat price ``π_m`` for their captive buyers;
  each buyer (follower) holds a battery of ``storage_share · X_i`` MWh charged
  off-peak at ``offpeak_price`` and covers its consumption from storage first
  when ``π_m`` is higher.  Follower response in closed form from the
  satisfaction (``f'(e) = marginal cost``); each leader maximises its revenue
  ``π_m Σ_i x_i(π_m)`` subject to capacity.  With captive buyers the leaders'
  problems do not interact, so the diagonalisation over leaders converges in
  one round (each leader's problem is solved by a fine price grid refined by
  bounded Brent search).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from gridgames.models.microgrid.config import Market
from gridgames.models.microgrid.solve import MarketSolution, equilibrium
from gridgames.solvers.result import SolveStatus


@dataclass
class Outcome:
    """What Figures 5-8 plot, per buyer and per seller."""

    method: str
    consumption: np.ndarray      # (N,) MWh bought from the sellers in this period by each buyer
    expenditure: np.ndarray      # (N,) yuan paid by each buyer
    seller_energy: np.ndarray    # (M,) MWh sold by each seller
    seller_price: np.ndarray     # (M,) yuan/MWh
    seller_profit: np.ndarray    # (M,) ψ_m = p r - c G
    status: str = "optimal"
    storage_use: np.ndarray | None = None   # (N,) MWh taken from batteries (storage baseline only)


def captive(market: Market) -> np.ndarray:
    """Each buyer's single seller: the available one with the lowest ``A_m``."""
    cost = np.where(market.avail, market.A[None, :], np.inf)
    return np.argmin(cost, axis=1)


def from_solution(market: Market, sol: MarketSolution, method: str) -> Outcome:
    """Figures' quantities of a request profile priced by ``p_m(r_m)``."""
    tot = sol.r.sum(axis=0)
    price = market.price(tot)
    return Outcome(method, sol.r.sum(axis=1), (sol.r * price).sum(axis=1), tot, price,
                   price * tot - market.c * market.G, sol.market_status)


def load_transfer(market: Market) -> Outcome:
    """Captive buyers, collective (group-optimal) requests; see the module docstring."""
    single = np.zeros_like(market.avail)
    single[np.arange(market.n_buyers), captive(market)] = True
    sub = market.with_(avail=single)
    sol = equilibrium(sub, mode="collective", check=False)
    out = from_solution(sub, sol, "load transfer")
    out.status = f"{sol.status.value}/{sol.market_status}"
    return out


def _storage_response(market: Market, idx: np.ndarray, price: float, share: float,
                      offpeak: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid purchase x and total use e of buyers ``idx`` at a flat price."""
    sat = market.satisfaction
    X, w = market.X[idx], market.w[idx]
    S = share * X
    e_grid = np.minimum(sat.solve_foc(np.full_like(X, price), np.zeros_like(X), X, w), X)
    e_store = np.minimum(sat.solve_foc(np.full_like(X, offpeak), np.zeros_like(X), X, w), X)
    if price <= offpeak:
        return e_grid, e_grid
    # marginal cost of energy: offpeak for the first S MWh (battery), then the seller's price
    x = np.maximum(e_grid - S, 0.0)
    return x, np.where(e_store <= S, e_store, np.maximum(e_grid, S))


def storage_stackelberg(market: Market, *, storage_share: float = 0.3, offpeak_price: float = 60.0,
                        grid_points: int = 200) -> Outcome:
    """Sellers as leaders with flat prices, buyers with batteries as followers; see the module docstring."""
    owner = captive(market)
    N, M = market.n_buyers, market.n_sellers
    x_all, e_all, price = np.zeros(N), np.zeros(N), market.floor.copy()
    top = float(market.w.max())
    for m in range(M):
        idx = np.flatnonzero(owner == m)
        if idx.size == 0:
            continue

        def sales(p: float) -> float:
            return float(_storage_response(market, idx, p, storage_share, offpeak_price)[0].sum())

        def revenue(p: float) -> float:
            return p * min(sales(p), market.G[m])

        grid = np.linspace(market.floor[m], top, grid_points)
        k = int(np.argmax([revenue(p) for p in grid]))
        lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, grid_points - 1)]
        best = optimize.minimize_scalar(lambda p: -revenue(p), bounds=(lo, hi), method="bounded",
                                        options={"xatol": 1e-9}).x
        if sales(best) > market.G[m]:   # capacity: the lowest price at which requests fit
            best = optimize.brentq(lambda p: sales(p) - market.G[m], best, top)
        price[m] = best
        x_all[idx], e_all[idx] = _storage_response(market, idx, best, storage_share, offpeak_price)
    energy = np.bincount(owner, weights=x_all, minlength=M)
    expenditure = price[owner] * x_all + offpeak_price * np.maximum(e_all - x_all, 0.0)
    return Outcome("user-side storage", x_all, expenditure, energy, price, price * energy - market.c * market.G,
                   SolveStatus.OPTIMAL.value, storage_use=np.maximum(e_all - x_all, 0.0))
