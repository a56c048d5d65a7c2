"""dual_of: a leader paying the price set by a follower's balance-constraint multiplier."""
from __future__ import annotations

import pyomo.environ as pyo
import pytest

import gridgames as gg
from gridgames.solvers import ModelError, SolveStatus


def dispatch_market() -> pyo.ConcreteModel:
    """A retailer buys d ∈ [0, 10] at the market price and values it at 30d − d².

    The market operator (follower) dispatches g1 (cost 10, capacity 4) and g2
    (cost 20, capacity 100) to meet d: the balance multiplier is the price,
    10 while d < 4 and 20 for d > 4 (any value in [10, 20] at d = 4).
    Hand derivation: for d ≤ 4 the retailer earns 30d − d² − 10d = 20d − d²,
    increasing on [0, 4] → 64 at d = 4 (price 10, the optimistic end of the
    tie); for d > 4 it earns 10d − d² ≤ 25.  Optimum d = 4, price 10, value 64.
    """
    m = pyo.ConcreteModel()
    m.d = pyo.Var(bounds=(0, 10))
    m.iso = pyo.Block()
    m.iso.g1 = pyo.Var(bounds=(0, 4))
    m.iso.g2 = pyo.Var(bounds=(0, 100))
    m.iso.balance = pyo.Constraint(expr=m.iso.g1 + m.iso.g2 == m.d)
    m.iso.cost = pyo.Objective(expr=10 * m.iso.g1 + 20 * m.iso.g2)
    price = gg.dual_of(m.iso.balance)
    m.welfare = pyo.Objective(expr=30 * m.d - m.d ** 2 - price * m.d, sense=pyo.maximize)
    return m


@pytest.mark.parametrize("method,price_bound", [("strong-duality", None), ("kkt", None),
                                                ("kkt-bigm", 100.0), ("kkt-sos1", 100.0)])
def test_leader_pays_the_balance_multiplier(method, price_bound):
    m = dispatch_market()
    price = gg.dual_of(m.iso.balance)                 # the same placeholder each call
    if price_bound is not None:   # SCIP must bound price·d; the free multiplier has no provable bound
        price.setlb(-price_bound)
        price.setub(price_bound)
    result = gg.solve_bilevel(m, m.iso, method=method)
    assert result.status.is_optimal, result.message
    assert result.objective == pytest.approx(64.0, rel=1e-6)
    assert m.d.value == pytest.approx(4.0, abs=1e-5) and price.value == pytest.approx(10.0, abs=1e-5)
    assert not hasattr(m, "_gg_kkt_0")                 # the binding rows went with the KKT blocks


def test_a_price_bound_reached_at_the_answer_is_not_optimal():
    m = dispatch_market()
    price = gg.dual_of(m.iso.balance)
    price.setlb(0.0)
    price.setub(10.0)                                  # reached at the answer (price 10)
    result = gg.solve_bilevel(m, m.iso, method="kkt-sos1")
    assert result.status is SolveStatus.FEASIBLE and "dual_of(iso.balance)" in result.message


def test_price_is_the_marginal_cost_above_the_cheap_capacity():
    m = dispatch_market()
    m.d.setlb(6.0)                                     # forced above 4: only g2 is marginal
    result = gg.solve_bilevel(m, m.iso, method="kkt")
    assert result.ok, result.message
    # 10d − d² on [6, 10] peaks at d = 6: 60 − 36 = 24, price 20
    assert gg.dual_of(m.iso.balance).value == pytest.approx(20.0, rel=1e-5)
    assert result.objective == pytest.approx(24.0, rel=1e-5)


def test_dual_of_is_refused_where_it_cannot_be_bound():
    m = dispatch_market()
    with pytest.raises(ModelError, match="dual_of.*KKT methods"):
        gg.solve_bilevel(m, m.iso, method="nested")
    m.stray = pyo.Constraint(expr=m.d <= 9)
    gg.dual_of(m.stray)
    with pytest.raises(ModelError, match="stray.*not a constraint of any follower"):
        gg.solve_bilevel(m, m.iso, method="kkt-bigm")
