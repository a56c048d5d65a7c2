"""TOU pricing bilevel model (seller leader, households followers) as one Pyomo model.

Reconstruction of the upper and lower problems of the TOU paper
(the reference list in ``docs/references.md``, section "Assistant decision-making
model ..."); the extraction lost every equation, so the model is rebuilt from
the prose around them (see ``docs/tou.md``):

Leader (electricity seller), decision ``p_k`` for the price periods ``k``
(peak, valley, optionally shoulder), ``p_t = p_{k(t)}``::

    max  E_s[R_s] − β · Var_s[R_s] / R_ref                              (paper: "expectation ... minus risk")
    R_s  = Σ_t dt · (p_t − c_t) · (B_t + ξ_{s,t})                         revenue (margin) in load scenario s
    B_t  = Σ_h w_h · buy_{h,t}                                            followers' purchases, class weights w_h
    s.t. p_min ≤ p_k ≤ min(p_max, cap)                                    price range 0.5-2 yuan/kWh, maximum price
         (1/T) Σ_t p_t ≤ p_avg_max                                        maximum average price (competition)
         p_valley ≤ p_shoulder ≤ p_peak

``ξ_{s,t}`` are the load scenarios: deviations of the uncontrollable load of
real days from their mean (so ``E_s ξ = 0``).  Risk measure: the **variance**.
Because ξ enters additively, ``R_s − E[R] = dt Σ_t (p_t − c_t) ξ_{s,t}`` depends
on the prices only, so ``Var = (p − c)ᵀ Σ_ξ (p − c)`` is a convex quadratic of
2-3 variables: no auxiliary variables (CVaR would add ``η`` and one ``u_s``
per scenario as leader variables, which the GA would then have to search too),
and the exact single-level problem stays bilinear (``p·buy``) + quadratic.
CVaR at 95 % is reported beside it.  ``R_ref`` (yuan) is the revenue of the
original schedules at the flat price ``p_avg_max``: it makes β dimensionless
(with Var in yuan² the paper's β = 1 would let the risk term swamp a
five-household daily revenue and pin every price at ``p_min``).

Followers: :func:`gridgames.models.households.model.household_block` per household
(or per FCM class representative).  Comfort, in per-unit of the household's
controllable reference ``X_ref`` so that the paper's ω = 400 is a sensible
number (a kW-squared reading would make any shift cost hundreds of yuan):

* ``quadratic`` (the paper's): ``ω Σ_t dt (shift_t / X_ref)²``;
* ``linear`` (for the exact LP route): ``ω_lin Σ_t dt |shift_t| / X_ref`` with
  ``|shift|`` an epigraph variable; the follower is then an LP and
  ``strong-duality`` / ``kkt-bigm`` apply.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.block import BlockData

from gridgames.models.households.model import Household, household_block, household_schedule
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)

COMFORT_FORMS = ("quadratic", "linear")


@dataclass
class TouParams:
    """Seller side of the TOU game.

    Parameters
    ----------
    periods : dict of str to list of int
        Hours (0-23) of each price period, e.g. ``{"peak": [...], "valley": [...]}``;
        every hour in exactly one period.  Names are ordered valley < shoulder < peak.
    p_min, p_max : float
        Price range (yuan/kWh); ``p_max`` is also the seller's maximum price.
    p_avg_max : float
        Maximum time-average price.
    risk_aversion : float
        β of the mean-variance objective.
    cost : array (24,)
        Seller's purchase cost per kWh and hour (0 for pure sales revenue).
    scenarios : array (S, 24)
        Load scenario deviations ξ (kW, already summed over the households).
    comfort : float
        ω (quadratic form) or ω_lin (linear form), yuan per per-unit² h (per-unit h).
    comfort_form : {'quadratic', 'linear'}
    risk_scale : float, optional
        ``R_ref``; default: revenue of the original schedules at the flat price ``p_avg_max``.
    comfort_scales : tuple of float
        Per household: a factor of ``comfort`` (its discomfort weight); empty: 1 for every household.
    """

    periods: dict[str, list[int]]
    p_min: float = 0.5
    p_max: float = 2.0
    p_avg_max: float = 1.0
    risk_aversion: float = 1.0
    cost: np.ndarray = field(default_factory=lambda: np.zeros(24))
    scenarios: np.ndarray = field(default_factory=lambda: np.zeros((1, 24)))
    comfort: float = 400.0
    comfort_form: str = "quadratic"
    risk_scale: float | None = None
    comfort_scales: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        hours = sorted(h for hs in self.periods.values() for h in hs)
        if hours != list(range(24)):
            raise ModelError("price periods must cover the hours 0-23 exactly once, got "
                             f"{ {k: list(v) for k, v in self.periods.items()} }")
        if self.comfort_form not in COMFORT_FORMS:
            raise ModelError(f"comfort_form must be one of {COMFORT_FORMS}, got {self.comfort_form!r}")
        if not 0 < self.p_min <= self.p_max:
            raise ModelError(f"price range: need 0 < p_min <= p_max, got [{self.p_min}, {self.p_max}]")
        self.cost = np.broadcast_to(np.asarray(self.cost, float), (24,)).copy()
        self.scenarios = np.atleast_2d(np.asarray(self.scenarios, float))
        if self.scenarios.shape[1] != 24:
            raise ModelError(f"scenarios: need 24 hourly values per scenario, got shape {self.scenarios.shape}")

    @property
    def names(self) -> list[str]:
        """Period names, valley first, peak last."""
        rank = {"valley": 0, "shoulder": 1, "peak": 2}
        return sorted(self.periods, key=lambda k: (rank.get(k, 1), k))

    def hour_period(self) -> list[str]:
        """Period name of each hour 0-23."""
        out = [""] * 24
        for k, hs in self.periods.items():
            for h in hs:
                out[h] = k
        return out

    def hourly(self, prices: dict[str, float]) -> np.ndarray:
        """Hourly prices (24,) from period prices."""
        return np.array([prices[k] for k in self.hour_period()], float)

    def covariance(self) -> np.ndarray:
        """Σ_ξ (24×24) of the scenario deviations (population form, mean removed)."""
        xi = self.scenarios - self.scenarios.mean(axis=0)
        return xi.T @ xi / xi.shape[0]


def grid_limits(household: Household) -> tuple[float, float]:
    """Bounds on purchase and sale (kW) implied by the devices, never above the connection limits.

    Purchases ≤ Σ max draw of every device (fixed loads: their profile's
    maximum; controllable devices: their rating); sales ≤ PV peak + storage
    discharge ratings.  Tight bounds on ``buy`` sharpen the McCormick
    relaxation of the leader's ``p·buy`` terms in SCIP (exact methods).
    """
    draw, feed = 0.0, 0.0
    for d in household.all_devices():
        base = d.baseline(household.grid)
        if d.kind == "pv":
            feed += float(-base.min())
        elif not d.controllable:
            draw += float(max(base.max(), 0.0))
        else:
            draw += d.rated_kw
            if d.kind == "battery" or (d.kind == "ev" and getattr(d, "v2g", False)):
                feed += d.rated_kw
    return min(household.import_limit_kw, draw + 1e-3), min(household.export_limit_kw, feed + 1e-3)


def follower_household(household: Household, params: TouParams, scale: float = 1.0) -> Household:
    """The household with its comfort set for the TOU model (per-unit of ``X_ref``).

    Quadratic form: ``comfort = ω / X_ref²``; linear form: comfort 0 here (the
    linear term is added by :func:`add_linear_comfort`).  Grid limits are
    tightened to what the devices can draw or feed (:func:`grid_limits`).
    """
    ref = household.reference_kw()
    omega = scale * params.comfort / ref ** 2 if (params.comfort_form == "quadratic" and ref > 0) else 0.0
    imp, exp = grid_limits(household)
    return dataclasses.replace(household, comfort=omega, import_limit_kw=imp, export_limit_kw=exp)


def add_linear_comfort(block: BlockData, weight: float) -> None:
    """Add ``weight Σ_t dt |shift_t|`` to a household block's objective (``|·|`` by epigraph)."""
    household: Household = block._gg_household
    grid = household.grid
    if weight <= 0:
        return
    # bounded by the shift limit (finite bounds let kkt-bigm derive its big-M constants)
    block.tou_absdev = pyo.Var(grid.periods, initialize=0.0,
                               bounds=lambda b, t: (0.0, None if b.shift[t].ub is None else
                                                    max(abs(b.shift[t].ub), abs(b.shift[t].lb))))
    block.tou_absdev_hi = pyo.Constraint(grid.periods, rule=lambda b, t: b.tou_absdev[t] >= b.shift[t])
    block.tou_absdev_lo = pyo.Constraint(grid.periods, rule=lambda b, t: b.tou_absdev[t] >= -b.shift[t])
    block.tou_comfort = pyo.Expression(expr=weight * grid.dt * sum(block.tou_absdev[t] for t in grid.periods))
    block.cost.set_value(block.cost.expr + block.tou_comfort)


def add_period_purchases(block: BlockData, prices: dict[str, pyo.Var], hour_period: Sequence[str]) -> None:
    """Write a household's bill through its purchases per price period: ``Σ_k p_k · B_k − Σ_t f_t sell_t``.

    ``B_k = Σ_{t ∈ k} buy_t`` (kWh, a variable with the constraint that defines it, bounded by the
    sum of the hourly bounds).  The bill is unchanged; only its form is.  The exact methods see 2-3
    bilinear products ``p_k · B_k`` per follower instead of 24 ``p_t · buy_t``: SCIP's spatial
    branch-and-bound then tightens the bounds of a few aggregate purchases instead of 24 hourly ones.
    Measured on city seller-days: 2.4-2.7 s instead of 9.6-12.9 s when households respond (ω_lin = 1),
    1.1-1.2 s instead of 1.6-1.7 s at ω_lin = 2, same optima.
    """
    household: Household = block._gg_household
    grid = household.grid
    feed = np.broadcast_to(np.asarray(household.feed_in, float), (grid.n,))
    hours = {k: [t for t in grid.periods if hour_period[t] == k] for k in prices}
    def bounds(b: BlockData, k: str) -> tuple[float, float | None]:
        upper = [b.buy[t].ub for t in hours[k]]
        return 0.0, None if any(u is None for u in upper) else grid.dt * float(sum(upper))

    block.tou_period_buy = pyo.Var(list(prices), initialize=0.0, bounds=bounds)
    block.tou_period_buy_def = pyo.Constraint(list(prices), rule=lambda b, k: b.tou_period_buy[k]
                                              == grid.dt * sum(b.buy[t] for t in hours[k]))
    block.bill.set_value(sum(prices[k] * block.tou_period_buy[k] for k in prices)
                         - grid.dt * sum(float(feed[t]) * block.sell[t] for t in grid.periods))


def build_tou_model(households: Sequence[Household], weights: Sequence[float], params: TouParams, *,
                    relax: bool = False) -> tuple[pyo.ConcreteModel, list[BlockData]]:
    """The bilevel TOU model: leader prices ``m.p[k]``, one follower block per household.

    Parameters
    ----------
    households : sequence of Household
        Hourly 24-h households (or class representatives).
    weights : sequence of float
        Households each follower stands for (1 each for a community).
    params : TouParams
    relax : bool
        LP relaxation of integer devices (for KKT methods).

    Returns
    -------
    (model, followers)
        ``model.objective`` maximises ``E[R] − β Var[R]``; ``model.expected_revenue``,
        ``model.variance``, ``model.avg_price`` are Expressions.
    """
    if len(households) != len(weights) or not households:
        raise ModelError(f"need one weight per household, got {len(households)} households and "
                         f"{len(weights)} weights")
    for h in households:
        if h.grid.n != 24 or h.grid.dt != 1.0:
            raise ModelError(f"household '{h.name}': the TOU model is hourly over 24 h, got dt={h.grid.dt}, "
                             f"horizon={h.grid.horizon}")
    names = params.names
    hi = params.p_max
    m = pyo.ConcreteModel(name="tou pricing")
    m.K = pyo.Set(initialize=names, ordered=True)
    mid = 0.5 * (params.p_min + hi)
    m.p = pyo.Var(m.K, bounds=(params.p_min, hi), initialize=mid)
    per = params.hour_period()
    prices = [m.p[per[t]] for t in range(24)]
    m.households = pyo.Block()
    followers = []
    scales = params.comfort_scales or (1.0,) * len(households)
    if len(scales) != len(households):
        raise ModelError(f"comfort_scales: need one per household ({len(households)}), got {len(scales)}")
    for i, h in enumerate(households):
        hh = follower_household(h, params, scales[i])
        b = household_block(m.households, hh, prices, f"h{i}", relax=relax)
        add_period_purchases(b, {k: m.p[k] for k in names}, per)
        if params.comfort_form == "linear" and h.reference_kw() > 0:
            add_linear_comfort(b, scales[i] * params.comfort / h.reference_kw())
        followers.append(b)
    w = [float(x) for x in weights]
    m.purchases = pyo.Expression(range(24), rule=lambda _, t: sum(wi * b.buy[t] for wi, b in zip(w, followers)))
    c = params.cost
    xbar = params.scenarios.mean(axis=0)
    # Σ_t (p_t − c_t)(B_t + ξ̄_t), with the leader's p·buy terms summed per period (add_period_purchases)
    m.expected_revenue = pyo.Expression(
        expr=sum(m.p[k] * sum(wi * b.tou_period_buy[k] for wi, b in zip(w, followers)) for k in names)
        - sum(float(c[t]) * m.purchases[t] for t in range(24))
        + sum((prices[t] - float(c[t])) * float(xbar[t]) for t in range(24)))
    cov = params.covariance()
    # variance of the revenue: (p − c)ᵀ Σ (p − c), summed per period pair (Σ aggregated by period)
    agg = {(a, b_): float(sum(cov[s, t] for s in range(24) for t in range(24) if per[s] == a and per[t] == b_))
           for a in names for b_ in names}
    lin = {k: float(sum(cov[s, t] * c[t] for s in range(24) for t in range(24) if per[s] == k)) for k in names}
    const = float(c @ cov @ c)
    m.variance = pyo.Expression(expr=sum(agg[a, b_] * m.p[a] * m.p[b_] for a in names for b_ in names)
                                - 2 * sum(lin[k] * m.p[k] for k in names) + const)
    m.avg_price = pyo.Expression(expr=sum(prices) / 24.0)
    m.avg_cap = pyo.Constraint(expr=m.avg_price <= params.p_avg_max)
    m.order = pyo.ConstraintList()
    for lo, up in zip(names[:-1], names[1:]):
        m.order.add(m.p[lo] <= m.p[up])
    beta = float(params.risk_aversion)
    m.risk_scale = reference_revenue(households, w, params) if params.risk_scale is None else params.risk_scale
    m.objective = pyo.Objective(expr=m.expected_revenue - beta / m.risk_scale * m.variance, sense=pyo.maximize)
    m._gg_tou = (list(households), w, params)
    return m, followers


def reference_revenue(households: Sequence[Household], weights: Sequence[float], params: TouParams) -> float:
    """``R_ref``: revenue of the original schedules at the flat price ``p_avg_max`` (at least 1 yuan)."""
    b0 = sum(w * np.maximum(h.baseline(), 0.0) for h, w in zip(households, weights))
    ref = float(np.sum((params.p_avg_max - params.cost) * (b0 + params.scenarios.mean(axis=0))))
    return max(ref, 1.0)


def leader_prices(model: pyo.ConcreteModel) -> dict[str, float]:
    """Current period prices."""
    return {k: float(pyo.value(model.p[k])) for k in model.K}


def set_prices(model: pyo.ConcreteModel, prices: dict[str, float]) -> None:
    for k, v in prices.items():
        model.p[k].set_value(float(v), skip_validation=True)


def revenue_scenarios(model: pyo.ConcreteModel) -> np.ndarray:
    """``R_s`` for every scenario at the current values."""
    _, _, params = model._gg_tou
    p = params.hourly(leader_prices(model))
    b = np.array([pyo.value(model.purchases[t]) for t in range(24)])
    return ((p - params.cost)[None, :] * (b[None, :] + params.scenarios)).sum(axis=1)


def cvar(revenues: np.ndarray, alpha: float = 0.95) -> float:
    """CVaR of the revenue shortfall ``E[R] − R_s`` at level ``alpha`` (mean of the worst tail)."""
    loss = np.sort(revenues.mean() - np.asarray(revenues, float))[::-1]
    k = max(1, int(np.ceil((1 - alpha) * loss.size)))
    return float(loss[:k].mean())


@dataclass
class HouseholdOutcome:
    """One follower at the current prices, against its original schedule."""

    name: str
    weight: float
    bill_before: float
    bill_after: float
    comfort_cost: float
    shifted_kwh: float
    comfort_index: float
    reliability: float
    satisfaction: float
    buy_before: np.ndarray
    buy_after: np.ndarray
    sell_before: np.ndarray
    sell_after: np.ndarray


def satisfaction_index(load_before: np.ndarray, load_after: np.ndarray, *, weight_comfort: float = 0.5
                       ) -> tuple[float, float, float]:
    """The paper's satisfaction index (reconstructed): ``S = λ M + (1 − λ) R``.

    ``M = 1 − Σ_t |L_t − L⁰_t| / Σ_t L⁰_t`` (comfort: distance of the actual
    consumption curve from the original, "maximum comfort", curve) and
    ``R = 1 − max(0, Σ L⁰ − Σ L) / Σ L⁰`` (reliability: share of the original
    energy not shed); λ = 0.5.  Returns ``(S, M, R)``.
    """
    l0, l1 = np.asarray(load_before, float), np.asarray(load_after, float)
    total = float(np.sum(np.abs(l0)))
    if total <= 0:
        return 1.0, 1.0, 1.0
    comfort = max(0.0, 1.0 - float(np.abs(l1 - l0).sum()) / total)
    reliability = 1.0 - max(0.0, float(l0.sum() - l1.sum())) / total
    return weight_comfort * comfort + (1 - weight_comfort) * reliability, comfort, reliability


def _consumption(household: Household, powers: dict[str, np.ndarray]) -> np.ndarray:
    """Consumption (kW): net power of every device except PV generation."""
    pv = {d.name for d in household.all_devices() if d.kind == "pv"}
    return np.sum([p for n, p in powers.items() if n not in pv], axis=0)


def household_outcomes(model: pyo.ConcreteModel, followers: Sequence[BlockData]) -> list[HouseholdOutcome]:
    """Bills, comfort and satisfaction of every follower at the current solution."""
    households, weights, params = model._gg_tou
    price = params.hourly(leader_prices(model))
    out = []
    for h, w, b in zip(households, weights, followers):
        sched = household_schedule(b)
        grid = h.grid
        base_powers = {d.name: d.baseline(grid) for d in h.all_devices()}
        net0 = h.baseline()
        buy0, sell0 = np.maximum(net0, 0), np.maximum(-net0, 0)
        feed = np.broadcast_to(np.asarray(h.feed_in, float), (24,))
        bill0 = float(np.sum(price * buy0 - feed * sell0))
        s, comfort, rel = satisfaction_index(_consumption(h, base_powers), _consumption(h, sched.device_power))
        comfort_cost = float(pyo.value(b.cost)) - sched.bill - float(pyo.value(b.penalty))
        out.append(HouseholdOutcome(h.name, w, bill0, sched.bill, comfort_cost,
                                    float(np.abs(sched.net - net0).sum()) / 2, comfort, rel, s,
                                    buy0, sched.buy, sell0, sched.sell))
    return out
