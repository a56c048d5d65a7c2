"""Smooth nonlinear convex agents in the engine's ``kkt`` method.

Every answer is checked against a closed form derived in the test's docstring;
non-convex agents must be refused with the block and the sampled eigenvalue named.
"""
from __future__ import annotations

import math

import pyomo.environ as pyo
import pytest

from gridgames.solvers import solve_bilevel, solve_nash
from gridgames.solvers.errors import UnsupportedModelError
from gridgames.solvers.games.smooth import sampled_convexity_violation, symbolic_gradient


def log_pricing(a: float = 4.0, c: float = 0.5) -> pyo.ConcreteModel:
    """Leader sells at price p (cost c), follower buys q: max a·log(1+q) − p·q, q ≥ 0."""
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0.5, 5.0), initialize=1.0)
    m.f = pyo.Block()
    m.f.q = pyo.Var(bounds=(0.0, None), initialize=0.0)
    m.f.obj = pyo.Objective(expr=a * pyo.log(1 + m.f.q) - m.p * m.f.q, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=(m.p - c) * m.f.q, sense=pyo.maximize)
    return m


def test_bilevel_log_follower_matches_closed_form():
    """Follower: a/(1+q) = p, so q = a/p − 1 (interior for p < a).  Leader: max (p − c)(a/p − 1)
    = a + c − p − a·c/p, stationary at p* = √(a c), profit (√a − √c)²."""
    a, c = 4.0, 0.5
    m = log_pricing(a, c)
    res = solve_bilevel(m, m.f, method="kkt")
    p = math.sqrt(a * c)
    assert res.status.is_ok, res.message
    assert res.extra["convexity"] == "sampled"
    assert m.p.value == pytest.approx(p, rel=1e-6)
    assert m.f.q.value == pytest.approx(a / p - 1.0, rel=1e-6)
    assert res.objective == pytest.approx((math.sqrt(a) - math.sqrt(c)) ** 2, rel=1e-6)
    assert res.follower_checks[0].gap < 1e-6


def test_bilevel_nonlinear_convex_constraint_binds_at_closed_form():
    """Follower: min (y − x)² s.t. exp(y) ≤ e, so y = min(x, 1).  Leader: min (x − 3)² + (y − 2)²:
    on x ≥ 1 it is (x − 3)² + 1, minimised at x = 3 (value 1); on x ≤ 1, (x − 3)² + (x − 2)² ≥ 5."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(-5.0, 5.0), initialize=0.0)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(-10.0, 10.0), initialize=0.0)
    m.f.cap = pyo.Constraint(expr=pyo.exp(m.f.y) <= math.e)
    m.f.obj = pyo.Objective(expr=(m.f.y - m.x) ** 2)
    m.obj = pyo.Objective(expr=(m.x - 3.0) ** 2 + (m.f.y - 2.0) ** 2)
    res = solve_bilevel(m, m.f, method="kkt")
    assert res.status.is_ok, res.message
    assert res.extra["convexity"] == "sampled"        # the objective is proved, the constraint sampled
    assert (m.x.value, m.f.y.value) == (pytest.approx(3.0, abs=1e-6), pytest.approx(1.0, abs=1e-6))
    assert res.objective == pytest.approx(1.0, abs=1e-6)


def test_nash_log_utilities_match_closed_form():
    """Player i: max w_i·log(1 + q_i) − (c + q_1 + q_2)·q_i, strictly concave in q_i.
    FOC at an interior point: w_i/(1 + q_i) = c + Q + q_i.  Choosing w_i = (1 + q_i)(c + Q + q_i)
    for q = (1, 2), c = 1 (w = 10, 18) makes q = (1, 2) the equilibrium (the game is strictly
    monotone: its pseudo-gradient Jacobian is negative definite, so it is unique)."""
    q_star, c = (1.0, 2.0), 1.0
    Q = sum(q_star)
    w = [(1 + q) * (c + Q + q) for q in q_star]
    m = pyo.ConcreteModel()
    m.pl = pyo.Block(range(2))
    for i in range(2):
        m.pl[i].q = pyo.Var(bounds=(0.0, 100.0), initialize=0.0)
    total = m.pl[0].q + m.pl[1].q
    for i in range(2):
        m.pl[i].obj = pyo.Objective(expr=w[i] * pyo.log(1 + m.pl[i].q) - (c + total) * m.pl[i].q,
                                    sense=pyo.maximize)
    res = solve_nash(m, m.pl, method="kkt")
    assert res.status.is_ok, res.message
    assert res.extra["convexity"] == "sampled"
    for i in range(2):
        assert m.pl[i].q.value == pytest.approx(q_star[i], rel=1e-6)
    assert res.gap < 1e-6


def test_quadratic_follower_keeps_the_proved_path():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0.0, 4.0), initialize=1.0)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0.0, 10.0), initialize=0.0)
    m.f.obj = pyo.Objective(expr=(m.f.y - m.x) ** 2)
    m.obj = pyo.Objective(expr=(m.x - 1.0) ** 2 + (m.f.y - 3.0) ** 2)
    res = solve_bilevel(m, m.f, method="kkt")        # y = x: min (x−1)² + (x−3)² at x = 2
    assert res.extra["convexity"] == "proved"
    assert m.x.value == pytest.approx(2.0, abs=1e-6)


def test_non_convex_follower_is_refused_naming_block_and_eigenvalue():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0.0, 1.0), initialize=0.5)
    m.follower = pyo.Block()
    m.follower.y = pyo.Var(bounds=(0.0, 2 * math.pi), initialize=1.0)
    m.follower.obj = pyo.Objective(expr=pyo.cos(m.follower.y) + m.x * m.follower.y)   # cos'' = −cos < 0 near 0
    m.obj = pyo.Objective(expr=m.x + m.follower.y)
    with pytest.raises(UnsupportedModelError, match=r"follower.*not convex.*negative eigenvalue -0\.\d+"):
        solve_bilevel(m, m.follower, method="kkt")


@pytest.mark.parametrize("body,message", [
    (lambda y: pyo.log(1 + y) <= 1.0, r"upper side\) needs a convex body"),      # concave ≤: reverse-convex
    (lambda y: pyo.exp(y) >= 2.0, r"lower side\) needs a concave body"),
    (lambda y: pyo.exp(y) == 2.0, "nonlinear equality"),
])
def test_non_convex_constraints_are_refused(body, message):
    m = log_pricing()
    m.f.extra = pyo.Constraint(expr=body(m.f.q))
    with pytest.raises(UnsupportedModelError, match=message):
        solve_bilevel(m, m.f, method="kkt")


@pytest.mark.parametrize("method", ["kkt-bigm", "kkt-sos1", "strong-duality"])
def test_global_methods_still_refuse_nonlinear_followers(method):
    m = log_pricing()
    with pytest.raises(UnsupportedModelError, match="method 'kkt' also takes smooth convex"):
        solve_bilevel(m, m.f, method=method)


def test_symbolic_gradient_and_sampled_check_against_hand_derivatives():
    m = pyo.ConcreteModel()
    m.a, m.b = pyo.Var(bounds=(0.1, 3.0), initialize=1.0), pyo.Var(bounds=(0.0, None), initialize=2.0)
    g = symbolic_gradient(m.a * pyo.exp(m.b) + pyo.log(m.a), [m.a, m.b])
    assert pyo.value(g[0]) == pytest.approx(math.exp(2.0) + 1.0)
    assert pyo.value(g[1]) == pytest.approx(math.exp(2.0))
    assert sampled_convexity_violation(pyo.exp(m.a + m.b) - pyo.log(m.a), [m.a, m.b], []) is None
    # a·exp(b) is not jointly convex: Hessian [[0, e^b], [e^b, a e^b]] has a negative eigenvalue
    assert "negative eigenvalue" in sampled_convexity_violation(m.a * pyo.exp(m.b), [m.a, m.b], [])
    assert m.a.value == 1.0 and m.b.value == 2.0          # values restored after sampling


def test_quadratic_with_a_parametric_curvature_is_sampled_under_kkt_only():
    """Follower: min x·y² − y with leader x ∈ [1, 4]: y = 1/(2x).  Leader: min (x − 2)² + 4·y², i.e.
    (x − 2)² + 1/x², stationary where 2(x − 2) = 2/x³ (x ≈ 2.1069, found by bisection below).
    Its curvature 2x depends on the leader, so convexity is sampled, and global methods refuse it."""
    def build() -> pyo.ConcreteModel:
        m = pyo.ConcreteModel()
        m.x = pyo.Var(bounds=(1.0, 4.0), initialize=2.0)
        m.f = pyo.Block()
        m.f.y = pyo.Var(bounds=(-10.0, 10.0), initialize=0.0)
        m.f.obj = pyo.Objective(expr=m.x * m.f.y ** 2 - m.f.y)
        m.obj = pyo.Objective(expr=(m.x - 2.0) ** 2 + 4.0 * m.f.y ** 2)
        return m

    lo, hi = 2.0, 3.0
    for _ in range(80):                      # root of (x − 2) − 1/x³ on [2, 3]
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if (mid - 2.0) - mid ** -3 < 0 else (lo, mid)
    m = build()
    res = solve_bilevel(m, m.f, method="kkt")
    assert res.extra["convexity"] == "sampled"
    assert m.x.value == pytest.approx(lo, rel=1e-6)
    assert m.f.y.value == pytest.approx(1.0 / (2.0 * lo), rel=1e-6)
    m2 = build()
    with pytest.raises(UnsupportedModelError, match="depends on other agents' variables"):
        solve_bilevel(m2, m2.f, method="kkt-sos1")
