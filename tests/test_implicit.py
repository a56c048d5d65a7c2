"""solve_bilevel(method="implicit"): the leader over the followers' response function.

Independent answers: the pricing family's closed form, the ``kkt`` (Scholtes–Ipopt)
and ``kkt-bigm`` (global) methods on a case where follower bounds bind, finite
differences of the reduced objective for the adjoint gradient, and BOLIB's
published optima.  Also: the fast standard representation against Pyomo's.
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.repn.standard_repn import generate_standard_repn

from gridgames.benchmarks.bolib import build_bolib
from gridgames.benchmarks.bolib_problems import reference_value
from gridgames.benchmarks.pricing_family import PricingData, analytic_solution, build_model, make_data
from gridgames.solvers import ModelError, SolveStatus, UnsupportedModelError, solve_bilevel
from gridgames.solvers.games.implicit import LeaderObjective, ReducedProblem
from gridgames.solvers.games.stacked_kkt import StackedKKT
from gridgames.solvers.games.structure import analyse_agents, leader_part
from gridgames.solvers.quick_repn import quick_repn


# ---------------------------------------------------------------- quick_repn
def _as_dicts(repn):
    lin = {}
    for c, v in zip(repn.linear_coefs, repn.linear_vars):
        lin[v.name] = lin.get(v.name, 0.0) + pyo.value(c)
    quad = {}
    for c, (a, b) in zip(repn.quadratic_coefs, repn.quadratic_vars):
        key = tuple(sorted((a.name, b.name)))
        quad[key] = quad.get(key, 0.0) + pyo.value(c)
    nonlin = None if repn.nonlinear_expr is None else pyo.value(repn.nonlinear_expr)
    drop = lambda d: {k: v for k, v in d.items() if v != 0}  # noqa: E731
    return pyo.value(repn.constant), drop(lin), drop(quad), nonlin


def _expressions():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4), initialize=lambda _, i: 0.5 + i)
    m.f = pyo.Var(initialize=3.0)
    m.f.fix()
    m.p = pyo.Param(mutable=True, initialize=2.5)
    m.e = pyo.Expression(expr=3 * m.x[0] - m.x[1])
    x = m.x
    return m, [
        3 * x[0] - 2 * x[1] + 7,
        x[0] * x[1] - 0.5 * x[2] ** 2 + x[3],
        -(x[0] - 4 * x[1] * x[2]) / 2.0,
        x[0] - x[0] + x[1],                        # cancels: x[0] dropped
        m.p * x[0] + m.f * x[1] * x[2] - m.p,      # data coefficients stay symbolic
        pyo.exp(x[0]) + x[1] * x[2] * x[3] + x[1] ** 3 + m.e * 2,
        (x[0] + x[1]) * (x[2] - 1) + m.e,          # product of sums, named expression
        pyo.quicksum(float(i) * x[i] * x[(i + 1) % 4] for i in range(4)) - x[2] / m.p,
        x[0],
        5.0,
        x[0] * (100.0 - x[1]) - 2 * x[2] * (x[3] + 2 * x[0] - 1.5),   # Scholtes rows: distributed
        (x[1] - 3 * x[2]) * x[0] + x[3] * (m.p - x[1]),               # data in the sum: symbolic
        x[0] * (x[1] + x[2] * x[3]),                                  # a quadratic sum: cubic remainder
    ]


def test_quick_repn_agrees_with_the_standard_representation():
    m, exprs = _expressions()
    for expr in exprs:
        ours = _as_dicts(quick_repn(expr))
        ref = _as_dicts(generate_standard_repn(expr, quadratic=True, compute_values=False))
        assert ours[0] == pytest.approx(ref[0])
        assert ours[1] == pytest.approx(ref[1]), str(expr)
        assert ours[2] == pytest.approx(ref[2]), str(expr)
        assert (ours[3] is None) == (ref[3] is None)
        if ref[3] is not None:
            assert ours[3] == pytest.approx(ref[3])


def test_quick_repn_keeps_data_symbolic():
    m, exprs = _expressions()
    repn = quick_repn(exprs[4])
    m.p = 10.0
    m.f.set_value(-1.0)
    lin, quad = _as_dicts(repn)[1:3]
    assert lin == {"x[0]": 10.0}
    assert quad == {("x[1]", "x[2]"): -1.0}


# ---------------------------------------------------------------- pricing family
def test_pricing_family_matches_the_closed_form():
    data = make_data(48, 3, seed=2)
    p, q, revenue = analytic_solution(data)
    m = build_model(data)
    res = solve_bilevel(m, m.buyers, method="implicit")
    assert res.status is SolveStatus.LOCALLY_OPTIMAL, res.message
    assert res.objective == pytest.approx(revenue, rel=1e-9)
    assert np.array([m.p[t].value for t in m.T]) == pytest.approx(p, abs=1e-6)
    assert np.array([[m.buyers[k].q[t].value for t in m.T] for k in m.buyers]) == pytest.approx(q, abs=1e-6)
    assert res.follower_gap <= 1e-6
    extra = res.extra
    assert extra["projected_gradient"] <= extra["projected_gradient_tol"]
    assert extra["follower_solves"] >= 1 and extra["iterations"] >= 1
    assert {"build", "solve", "follower_solves", "adjoint"} <= set(extra["timings"])
    assert res.history[-1] == pytest.approx(revenue, rel=1e-9)


def _bounded_pricing() -> PricingData:
    """Follower bounds bind strictly at the optimum: per period (scale f ≈ 1), buyer 0 (a = 3f) is
    priced out (q = 0), buyer 1 (a = 15f) is capped (q = q_max = 6), buyer 2 (a = 10f) is interior;
    p* = 3 + 5f (revenue p (6 + 10f − p), 64 at f = 1, above every other piece of the revenue)."""
    f = np.array([1.0, 1.03, 0.97, 1.05])
    a = np.array([3.0, 15.0, 10.0])[:, None] * f[None, :]
    return PricingData(a=a, b=np.ones(3), p_max=20.0, q_max=6.0)


def test_binding_follower_bounds_agree_with_closed_form_kkt_and_kkt_bigm():
    data = _bounded_pricing()
    m = build_model(data)
    res = solve_bilevel(m, m.buyers, method="implicit")
    assert res.status is SolveStatus.LOCALLY_OPTIMAL, res.message
    f = data.a[2] / 10.0
    prices = np.array([m.p[t].value for t in m.T])
    assert prices == pytest.approx(3.0 + 5.0 * f, abs=1e-6)
    q = np.array([[m.buyers[k].q[t].value for t in m.T] for k in m.buyers])
    assert q[0] == pytest.approx(0.0, abs=1e-8) and q[1] == pytest.approx(6.0, abs=1e-8)
    assert res.extra["degenerate"] == 0
    for method in ("kkt", "kkt-bigm"):
        ref = build_model(data)
        other = solve_bilevel(ref, ref.buyers, method=method)
        assert other.status.is_ok, other.message
        assert res.objective == pytest.approx(other.objective, rel=1e-6), method
        assert prices == pytest.approx(np.array([ref.p[t].value for t in ref.T]), abs=1e-4), method


def _budget_model(kink: bool = False) -> pyo.ConcreteModel:
    """Followers with a budget row (a multiplier in the system) and bounds, leader minimising.

    ``kink=False``: the budgets bind and the quantities stay inside their bounds at the answer
    (a smooth optimum).  ``kink=True``: a leader objective whose optimum puts quantities
    exactly on their bounds with zero slack (a nonsmooth point of the reduced problem).
    """
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, 3)
    m.p = pyo.Var(m.T, bounds=(0.0, 10.0), initialize=lambda _, t: 1.0 + 0.7 * t)
    m.f = pyo.Block(range(2))
    a = [[5.0, 4.0, 6.0, 5.0], [4.0, 6.0, 5.0, 4.0]] if not kink else [[9.0, 7.0, 8.0, 6.0], [5.0, 9.0, 4.0, 8.0]]
    for k in m.f:
        blk = m.f[k]
        blk.q = pyo.Var(m.T, bounds=(0.0, 3.0), initialize=0.0)
        blk.budget = pyo.Constraint(expr=sum(blk.q[t] for t in m.T) <= 6.0 + k)
        blk.obj = pyo.Objective(expr=sum((blk.q[t] - a[k][t] + m.p[t]) ** 2 for t in m.T))
    if kink:
        expr = sum((m.p[t] - 3.0) ** 2 - 2.0 * m.p[t] * m.f[k].q[t] for k in m.f for t in m.T)
    else:
        expr = sum((m.p[t] - 2.0) ** 2 for t in m.T) + 0.5 * sum((m.f[k].q[t] - 1.0) ** 2 for k in m.f for t in m.T)
    m.obj = pyo.Objective(expr=expr)
    return m


def test_adjoint_gradient_matches_finite_differences():
    m = _budget_model(kink=True)
    agents = analyse_agents(m, m.f)
    leader = leader_part(m, agents)
    system = StackedKKT(m, m.f, parameters=leader.variables)
    reduced = ReducedProblem(system, LeaderObjective(leader, system), follower_tol=1e-12, follower_max_iter=100)
    x = np.array([1.3, 2.1, 0.4, 3.3])
    _, grad = reduced(x)
    z = reduced.z
    at_bound = (np.abs(z - system.lb) < 1e-9) | (np.abs(system.ub - z) < 1e-9)
    assert at_bound[:system.n_y].any() and (z[system.n_y:] > 1e-6).any()   # bounds and the budget bind
    h = 1e-6
    fd = np.array([(reduced(x + h * e)[0] - reduced(x - h * e)[0]) / (2 * h) for e in np.eye(x.size)])
    assert grad == pytest.approx(fd, abs=1e-5)


def test_follower_with_a_budget_row_agrees_with_kkt():
    m = _budget_model()
    res = solve_bilevel(m, m.f, method="implicit")
    assert res.status is SolveStatus.LOCALLY_OPTIMAL, res.message
    ref = _budget_model()
    other = solve_bilevel(ref, ref.f, method="kkt")
    assert other.status.is_ok, other.message
    assert res.objective == pytest.approx(other.objective, rel=1e-6)
    assert res.extra["degenerate"] == 0


def test_a_nonsmooth_optimum_is_reported_as_feasible_with_the_numbers():
    """At a kink of the reduced problem (a follower bound with zero slack) the one-sided gradient
    does not vanish: no ``locally_optimal``, the message gives the projected gradient, and the
    point is still bilevel feasible and close to kkt's."""
    m = _budget_model(kink=True)
    res = solve_bilevel(m, m.f, method="implicit")
    ref = _budget_model(kink=True)
    other = solve_bilevel(ref, ref.f, method="kkt")
    if res.status is not SolveStatus.LOCALLY_OPTIMAL:
        assert res.status is SolveStatus.FEASIBLE
        assert "projected gradient" in res.message and "degenerate" in res.message
    assert res.follower_gap <= 1e-6
    assert res.objective == pytest.approx(other.objective, rel=1e-3)


# ---------------------------------------------------------------- literature
@pytest.mark.parametrize("name", ["FalkLiu1995", "DeSilva1978", "Yezza1996Ex41"])
def test_bolib_strictly_convex_followers_reach_the_known_optimum(name):
    m = build_bolib(name)
    res = solve_bilevel(m, m.follower, method="implicit")
    assert res.status is SolveStatus.LOCALLY_OPTIMAL, res.message
    assert res.objective == pytest.approx(reference_value(name), abs=1e-6)


# ---------------------------------------------------------------- refusals and honesty
def test_leader_constraints_are_refused_by_name():
    m = build_bolib("GumusFloudas2001Ex4")
    with pytest.raises(UnsupportedModelError, match=r"G\[0\].*kkt"):
        solve_bilevel(m, m.follower, method="implicit")


def test_follower_without_a_unique_response_is_refused():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 5))
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 3))
    m.f.obj = pyo.Objective(expr=(m.x - 2) * m.f.y)          # linear follower
    m.obj = pyo.Objective(expr=m.x * m.f.y, sense=pyo.maximize)
    with pytest.raises(UnsupportedModelError, match="unique response.*kkt"):
        solve_bilevel(m, m.f, method="implicit")


def test_not_converged_is_reported_with_numbers():
    data = make_data(24, 2, seed=1)
    m = build_model(data)
    for t in m.T:
        m.p[t].set_value(0.0)
    res = solve_bilevel(m, m.buyers, method="implicit", max_iter=1)
    if res.status is not SolveStatus.LOCALLY_OPTIMAL:     # one iteration rarely suffices
        assert res.status is SolveStatus.FEASIBLE
        assert "projected gradient" in res.message and "tolerance" in res.message
    assert res.extra["iterations"] <= 1


def test_bad_options_are_named():
    m = build_model(make_data(4, 1))
    with pytest.raises(ModelError, match="tol"):
        solve_bilevel(m, m.buyers, method="implicit", tol=-1.0)
    with pytest.raises(ModelError, match="unknown option"):
        solve_bilevel(m, m.buyers, method="implicit", eps_start=1.0)
