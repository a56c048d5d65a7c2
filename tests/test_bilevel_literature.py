"""Bilevel problems from the literature and hand-derived ones, written as a researcher would, and the
edges a review campaign found answered wrongly or with a library's traceback.

Answers: Dempe (1992) Ex. 4.1, F = 31.25 at (1, 1) (BASBLib d_1992_01); a follower on a disc
y1² + y2² <= x, F = −0.45 at x = 0.45 (by hand: y = √x (1, 2)/√5); a Stackelberg leader over two
Cournot followers, profit 12 at q0 = 6 (by hand); a toll on one arc for two commodities, revenue 6
at T = 2 (by hand); and the Pineda–Morales (2019) mechanism: a multiplier bound too small cuts off
the optimum without being reached at the answer.
"""
from __future__ import annotations

import math

import pyomo.environ as pyo
import pytest
from pyomo.common.collections import ComponentMap

from gridgames.solvers import ModelError, SolveStatus, solve_bilevel


# ------------------------------------------------------------------ literature
def _dempe1992() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(1, 10))
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(1, 10))
    m.f.c = pyo.Constraint(expr=m.f.y ** 2 - m.x <= 0)      # a nonlinear convex follower constraint
    m.f.obj = pyo.Objective(expr=(m.f.y - 3) ** 2)
    m.obj = pyo.Objective(expr=(m.x - 3.5) ** 2 + (m.f.y + 4) ** 2)
    return m


@pytest.mark.parametrize("method", ["kkt", "nested"])
def test_dempe_1992_nonlinear_follower_constraint(method):
    m = _dempe1992()
    r = solve_bilevel(m, m.f, method=method, **({"n_gen": 15, "seed": 1} if method == "nested" else {}))
    assert r.status.is_ok, r.message
    assert r.objective == pytest.approx(31.25, rel=1e-4)
    assert (m.x.value, m.f.y.value) == pytest.approx((1.0, 1.0), abs=1e-3)


def _disc() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 4))
    m.f = pyo.Block()
    m.f.y1 = pyo.Var(bounds=(-5, 5))
    m.f.y2 = pyo.Var(bounds=(-5, 5))
    m.f.c = pyo.Constraint(expr=m.f.y1 ** 2 + m.f.y2 ** 2 <= m.x)
    m.f.obj = pyo.Objective(expr=-(m.f.y1 + 2 * m.f.y2))
    m.obj = pyo.Objective(expr=m.x - m.f.y1 - m.f.y2)
    return m


@pytest.mark.parametrize("method", ["kkt", "implicit"])
def test_follower_on_a_disc(method):
    # implicit, before: L-BFGS-B's first step went to x = 0, where the disc is a point (no multiplier
    # exists), the follower's Newton failed and the search stopped `feasible` at -0.155
    m = _disc()
    r = solve_bilevel(m, m.f, method=method)
    assert r.status is SolveStatus.LOCALLY_OPTIMAL, r.message
    if method == "implicit":
        assert r.extra["restrictions"] >= 1 and "narrowed box" in r.message
    s = math.sqrt(0.45)
    assert r.objective == pytest.approx(-0.45, abs=1e-6)
    assert (m.x.value, m.f.y1.value, m.f.y2.value) == pytest.approx((0.45, s / math.sqrt(5), 2 * s / math.sqrt(5)),
                                                                    abs=1e-5)


@pytest.mark.parametrize("method", ["kkt", "kkt-bigm", "implicit"])
def test_stackelberg_leader_over_cournot_followers(method):
    m = pyo.ConcreteModel()
    m.q0 = pyo.Var(bounds=(0, 12))
    m.f = pyo.Block([1, 2])
    for i in (1, 2):
        m.f[i].q = pyo.Var(bounds=(0, 12))
    for i in (1, 2):
        m.f[i].obj = pyo.Objective(expr=m.f[i].q * (12 - m.q0 - m.f[1].q - m.f[2].q), sense=pyo.maximize)
    m.obj = pyo.Objective(expr=m.q0 * (12 - m.q0 - m.f[1].q - m.f[2].q), sense=pyo.maximize)
    r = solve_bilevel(m, m.f, method=method)
    assert r.status.is_optimal, r.message
    assert r.objective == pytest.approx(12.0, abs=1e-5)
    # SCIP (kkt-bigm) places the optimum of a flat quadratic to about sqrt(1e-6) (ScipSolver)
    assert (m.q0.value, m.f[1].q.value, m.f[2].q.value) == pytest.approx((6.0, 2.0, 2.0), abs=1e-3)


def test_toll_on_one_arc_for_two_commodities():
    m = pyo.ConcreteModel()
    m.T = pyo.Var(bounds=(0, 10))
    c, d = {1: 5.0, 2: 4.0}, {1: 1.0, 2: 2.0}
    m.k = pyo.Block([1, 2])
    for k in (1, 2):
        b = m.k[k]
        b.a = pyo.Var(within=pyo.NonNegativeReals)
        b.b = pyo.Var(within=pyo.NonNegativeReals)
        b.dem = pyo.Constraint(expr=b.a + b.b == d[k])
        b.obj = pyo.Objective(expr=(2 + m.T) * b.a + c[k] * b.b)
    m.obj = pyo.Objective(expr=m.T * (m.k[1].a + m.k[2].a), sense=pyo.maximize)
    r = solve_bilevel(m, m.k, method="kkt-bigm")
    assert r.status is SolveStatus.OPTIMAL, r.message
    assert r.objective == pytest.approx(6.0, abs=1e-6) and m.T.value == pytest.approx(2.0, abs=1e-6)


# ------------------------------------------------------------------ bounds the user gives
def _large_dual(leader_cost: float) -> pyo.ConcreteModel:
    """Follower max y s.t. 0.01 y <= 0.01 + 0.002 x (multiplier 100 when active), y <= 2 + 0.05 x."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 30))
    m.f.c1 = pyo.Constraint(expr=0.01 * m.f.y <= 0.01 + 0.002 * m.x)
    m.f.c2 = pyo.Constraint(expr=m.f.y <= 2 + 0.05 * m.x)
    m.f.obj = pyo.Objective(expr=m.f.y, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=leader_cost * m.x - 10 * m.f.y)
    return m


def test_a_small_user_bound_never_certifies_optimality():
    # the optimum x = 0, y = 1, F = −10 needs c1's multiplier 100; a bound of 50 cuts it off without being
    # reached at the answer returned (F = −3.33): before, "optimal"
    m = _large_dual(3.0)
    exact = solve_bilevel(m, m.f, method="kkt-bigm")
    assert exact.status is SolveStatus.OPTIMAL and exact.objective == pytest.approx(-10.0, abs=1e-6)
    for method, options in (("kkt-bigm", {"multiplier_bound": 50.0}), ("kkt-bigm", {"bigm": 50.0}),
                            ("strong-duality", {"multiplier_bound": 50.0})):
        m = _large_dual(3.0)
        r = solve_bilevel(m, m.f, method=method, **options)
        assert r.status is SolveStatus.FEASIBLE, (method, options, r.message)
        assert "not proved" in r.message and r.objective >= -10.0 - 1e-6


def test_infeasible_within_a_user_bound_is_not_reported_infeasible():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 30))
    m.f.c1 = pyo.Constraint(expr=0.01 * m.f.y <= 0.01 + 0.002 * m.x)
    m.f.obj = pyo.Objective(expr=m.f.y, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=-m.x - 10 * m.f.y)
    r = solve_bilevel(m, m.f, method="kkt-bigm", multiplier_bound=50.0)
    assert r.status is SolveStatus.ERROR and "infeasible within" in r.message, r.message
    m.x.value = None
    exact = solve_bilevel(m, m.f, method="kkt-bigm")
    assert exact.status is SolveStatus.OPTIMAL and exact.objective == pytest.approx(-40.0, abs=1e-6)


# ------------------------------------------------------------------ statuses and errors
def _abs_follower() -> pyo.ConcreteModel:
    """Follower y = |x − 1| (min y s.t. y >= x − 1, y >= 1 − x); leader min (x − 1)² s.t. y >= 0.8."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0.5, 3))
    m.f = pyo.Block()
    m.f.y = pyo.Var()
    m.f.c1 = pyo.Constraint(expr=m.f.y >= m.x - 1)
    m.f.c2 = pyo.Constraint(expr=m.f.y >= 1 - m.x)
    m.f.obj = pyo.Objective(expr=m.f.y)
    m.lead = pyo.Constraint(expr=m.f.y >= 0.8)
    m.obj = pyo.Objective(expr=(m.x - 1) ** 2)
    return m


def test_kkt_local_infeasibility_is_not_a_proof():
    m = _abs_follower()
    r = solve_bilevel(m, m.f, method="kkt")
    if r.status.is_ok:      # Ipopt may find it from this start on another platform
        assert r.objective == pytest.approx(0.64, abs=1e-6)
    else:
        assert r.status is SolveStatus.ERROR and "not a proof" in r.message, r.message
    m = _abs_follower()
    exact = solve_bilevel(m, m.f, method="kkt-bigm")
    assert exact.status is SolveStatus.OPTIMAL and exact.objective == pytest.approx(0.64, abs=1e-6)


@pytest.mark.parametrize("method", ["kkt-bigm", "kkt-sos1", "strong-duality"])
def test_a_product_of_leader_and_follower_in_a_follower_row(method):
    # before: the bound tightening sent the row x·y <= 1 to HiGHS as an LP and raised
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0.5, 2))
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 10))
    m.f.c = pyo.Constraint(expr=m.x * m.f.y <= 1)
    m.f.obj = pyo.Objective(expr=m.f.y, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=(m.x - 1) ** 2 - m.f.y)
    r = solve_bilevel(m, m.f, method=method)
    assert r.status is SolveStatus.OPTIMAL, r.message
    assert r.objective == pytest.approx(-1.75, abs=1e-6) and m.x.value == pytest.approx(0.5, abs=1e-6)


@pytest.mark.parametrize("method", ["kkt", "kkt-bigm"])
def test_an_unbounded_follower_is_named(method):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.f = pyo.Block()
    m.f.y = pyo.Var()                       # free, in no constraint: min y + x has no optimum
    m.f.obj = pyo.Objective(expr=m.f.y + m.x)
    m.obj = pyo.Objective(expr=m.x + m.f.y ** 2)
    with pytest.raises(ModelError, match="constant rate 1 in 'f.y'.*unbounded"):
        solve_bilevel(m, m.f, method=method)


def _pricing(fixed_leader: bool = False, y_in_follower: bool = True) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(1, 2), initialize=1.5)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 5))
    m.f.obj = pyo.Objective(expr=(m.f.y - m.x) ** 2 if y_in_follower else 2 * m.x)
    m.obj = pyo.Objective(expr=m.x + (m.f.y - 3) ** 2)
    if fixed_leader:
        m.x.fix(1.5)
    return m


@pytest.mark.parametrize("method", ["nested", "implicit"])
def test_a_search_without_leader_decisions_is_refused(method):
    m = _pricing(fixed_leader=True)
    with pytest.raises(ModelError, match=f"method '{method}' searches over the leader's decisions"):
        solve_bilevel(m, m.f, method=method)


def test_nested_refuses_a_follower_objective_without_its_variables():
    m = _pricing(y_in_follower=False)
    with pytest.raises(ModelError, match="its objective does not involve its own variables"):
        solve_bilevel(m, m.f, method="nested")


@pytest.mark.parametrize("method, options, match", [
    ("kkt", {"eps_final": -1.0}, "eps_final must be a finite number > 0"),
    ("kkt", {"eps_factor": 1.0}, r"eps_factor must lie in \(0, 1\)"),
    ("kkt-bigm", {"bigm": 0.0}, "bigm must be a finite number > 0"),
    ("kkt-bigm", {"multiplier_bound": -5.0}, "multiplier_bound must be a finite number > 0"),
    ("nested", {"seed": "a"}, "seed must be an integer"),
    ("nested", {"n_gen": 0}, "n_gen must be a positive integer"),
])
def test_options_no_method_can_honour_are_refused(method, options, match):
    # before: eps_final < 0 and eps_factor = 1 looped for ever; bigm = 0 reported "infeasible"
    m = _pricing()
    with pytest.raises(ModelError, match=match):
        solve_bilevel(m, m.f, method=method, **options)


def test_modes_keyed_by_a_leader_variable_is_refused():
    # before: silently ignored
    m = _large_dual(3.0)
    with pytest.raises(ModelError, match="modes: 'x' is not a follower's inequality or bounded variable"):
        solve_bilevel(m, m.f, method="kkt-sos1", modes=ComponentMap([(m.x, "bigm")]))   # Vars are unhashable
    m = _large_dual(3.0)
    r = solve_bilevel(m, m.f, method="kkt-bigm", modes={m.f.c1: "sos1"})
    assert r.status is SolveStatus.OPTIMAL and r.objective == pytest.approx(-10.0, abs=1e-6)


def _indifferent_follower(upper: float | None) -> pyo.ConcreteModel:
    # the follower minimises y1 >= x; y2 enters only the leader's objective and its own bounds, so the
    # follower is indifferent to it and the optimistic leader takes y2 at its upper bound: F = x - ub
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.f = pyo.Block()
    m.f.y1 = pyo.Var(bounds=(0, 1))
    m.f.y2 = pyo.Var(bounds=(0, upper))
    m.f.c = pyo.Constraint(expr=m.f.y1 >= m.x)
    m.f.obj = pyo.Objective(expr=m.f.y1)
    m.obj = pyo.Objective(expr=m.x - m.f.y2)
    return m


@pytest.mark.parametrize("method", ["nested", "implicit"])
def test_a_search_refuses_a_follower_variable_only_the_leader_uses(method):
    # before: nested raised Pyomo's "No value for uninitialized ScalarVar object f.y2"
    m = _indifferent_follower(5.0)
    with pytest.raises(ModelError, match="'f.y2' enters the leader's problem but neither the follower's objective"):
        solve_bilevel(m, m.f, method=method)


def test_the_global_methods_pick_the_indifferent_variable_optimistically():
    m = _indifferent_follower(5.0)
    r = solve_bilevel(m, m.f, method="kkt-bigm")
    assert r.status is SolveStatus.OPTIMAL and r.objective == pytest.approx(-5.0, abs=1e-6)
    m = _indifferent_follower(None)
    assert solve_bilevel(m, m.f, method="kkt-sos1").status is SolveStatus.UNBOUNDED


def test_kkt_says_where_the_regularisation_stopped_on_an_unbounded_problem():
    # before: follower_not_optimal at F = -2.9e17 with Ipopt's "terminated successfully" as the only message
    m = _indifferent_follower(None)
    r = solve_bilevel(m, m.f, method="kkt")
    assert not r.status.is_optimal
    # Ipopt diverges either at the first step or at a tighter one (it varies with the BLAS build);
    # both say the problem may be unbounded, and a later failure says where the regularisation stopped
    assert "may be unbounded" in r.message, r.message
    if r.extra.get("eps_reached") is not None:
        assert "the NLP was unbounded, so the point is the one of eps=" in r.message, r.message
