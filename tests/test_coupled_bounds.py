"""Bounds on the follower quantities that leader prices multiply (solvers/games/coupled_bounds.py)."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers import ModelError, SolveStatus, solve_bilevel
from gridgames.solvers.games.coupled_bounds import coupled_variables, tighten_coupled_bounds
from gridgames.solvers.games.structure import analyse_agents


# ---------------------------------------------------------------------------
# A seller prices p in [0, 5]; the buyer splits 10 units between buying (q) and
# an outside option (r ≤ 7), paying p per unit bought against a value of 3:
#   min (p − 3) q   s.t.  q + r = 10,  0 ≤ r ≤ 7,  0 ≤ q ≤ 100.
# Feasible range of q: [3, 10] (the declared bound 100 is loose).  Response:
# q = 10 for p < 3, q = 3 for p > 3, either at p = 3 (optimistic: 10).
# Leader max p·q: 10p → 30 at p = 3; 3p → 15 at p = 5.  Optimum p = 3, q = 10, 30.
# ---------------------------------------------------------------------------
def seller_buyer(r_max: float = 7.0) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 5), initialize=1.0)
    m.buyer = pyo.Block()
    m.buyer.q = pyo.Var(bounds=(0, 100))
    m.buyer.r = pyo.Var(bounds=(0, r_max))
    m.buyer.split = pyo.Constraint(expr=m.buyer.q + m.buyer.r == 10)
    m.buyer.cost = pyo.Objective(expr=(m.p - 3) * m.buyer.q)
    m.revenue = pyo.Objective(expr=m.p * m.buyer.q, sense=pyo.maximize)
    return m


def test_coupled_variables_are_the_quantities_prices_multiply():
    m = seller_buyer()
    m.buyer.own_product = pyo.Constraint(expr=m.buyer.q * m.buyer.r >= 0)   # own × own: not coupling
    agent = analyse_agents(m, m.buyer)[0]
    assert [v.name for v in coupled_variables(agent, [m.revenue.expr])] == ["buyer.q"]


def test_bounds_are_the_feasible_range_and_restorable():
    m = seller_buyer()
    agent = analyse_agents(m, m.buyer)[0]
    m.buyer.cost.deactivate()
    saved = tighten_coupled_bounds(agent, [m.buyer.q])
    assert m.buyer.q.lb == pytest.approx(3.0, abs=1e-4) and m.buyer.q.ub == pytest.approx(10.0, abs=1e-4)
    assert m.buyer.q.lb <= 3.0 and m.buyer.q.ub >= 10.0           # the margin never cuts the range
    assert [(v.name, lb, ub) for v, lb, ub in saved] == [("buyer.q", 0, 100)]
    assert not hasattr(m.buyer, "_gg_bound_objective")


@pytest.mark.parametrize("method,options", [
    ("strong-duality", {}),
    ("kkt-bigm", {}),
])
@pytest.mark.parametrize("tighten", [True, False])
def test_same_optimum_with_and_without_tightening(method, options, tighten):
    m = seller_buyer()
    result = solve_bilevel(m, m.buyer, method=method, solver="scip", tighten_bounds=tighten, **options)
    assert result.status is SolveStatus.OPTIMAL, result.message
    assert result.objective == pytest.approx(30.0, rel=1e-6)
    assert (m.p.value, m.buyer.q.value) == pytest.approx((3.0, 10.0), abs=1e-5)
    assert m.buyer.q.bounds == (0, 100)                            # the user's model is left as it was


def test_a_follower_infeasible_for_every_price_is_named():
    m = seller_buyer(r_max=7.0)
    m.buyer.q.setub(1.0)                                           # q ≤ 1 and r ≤ 7 cannot make 10
    with pytest.raises(ModelError, match=r"follower 'buyer' has no feasible point"):
        solve_bilevel(m, m.buyer, method="strong-duality", solver="scip")
    assert m.buyer.q.bounds == (0, 1.0) and m.buyer.cost.active


def test_tou_seller_day_same_optimum_with_and_without_tightening():
    """A responsive TOU game (2 households with a battery, an EV and PV): the real use case."""
    from gridgames.models.households.model import Household
    from gridgames.models.households.devices import EV, PV, Battery, InterruptibleAppliance
    from gridgames.models.tou.model import TouParams
    from gridgames.models.tou.solve import solve_tou

    base = np.r_[np.full(7, 0.5), np.full(10, 0.9), np.full(7, 1.4)]
    washer = InterruptibleAppliance("washer", energy=3.0, start=6, end=24, p_max=2.0)
    hs = [Household("A", [washer, Battery("bat", capacity=6, p_max=3), PV("pv", peak_kw=3.0)], base_load=base),
          Household("B", [washer, EV("ev", capacity=17, p_max=3.4, arrival=17, departure=24, energy_arrival=8,
                                     energy_departure=15)], base_load=1.2 * base)]
    periods = {"valley": list(range(0, 8)), "peak": list(range(8, 24))}
    params = TouParams(periods, p_avg_max=1.0, risk_aversion=1.0, cost=0.3,
                       scenarios=np.random.default_rng(3).normal(0, 0.3, (8, 24)), comfort=0.5,
                       comfort_form="linear")
    tight = solve_tou(hs, [40.0, 60.0], params, "strong-duality")
    loose = solve_tou(hs, [40.0, 60.0], params, "strong-duality", method_options={"tighten_bounds": False})
    assert tight.objective == pytest.approx(loose.objective, rel=2e-4)     # both within SCIP's 1e-4 gap
    assert tight.follower_gap < 1e-4 and tight.shifted_kwh > 1.0           # households do respond
