"""solve_bilevel with followers that play a Nash game among themselves (a follower uses another's variables).

Closed form (Stackelberg leader against two Cournot followers).  Inverse
demand P = a − (x + y1 + y2), every firm with unit cost c.  Given the
leader's x, follower i maximises (P − c)·y_i; the Cournot equilibrium of the
two followers is y1 = y2 = (a − c − x)/3, so P − c = (a − c − x)/3 and the
leader maximises x(a − c − x)/3: x* = (a − c)/2, y* = (a − c)/6 each, leader
profit (a − c)²/12.  With a = 100, c = 10: x* = 45, y* = 15, profit 675.

Irregular lower level (``implicit``).  Followers min ½(y1 − y2 − x)² and
min ½(y2 − y1 + x)² with interior bounds: every y1 = y2 + x is an equilibrium,
and the followers' KKT Jacobian [[1, −1], [−1, 1]] is singular.
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers import ModelError, SolveStatus, nash_gap, solve_bilevel
from gridgames.solvers.games.bilevel import verify

A, C = 100.0, 10.0
X_STAR, Y_STAR = (A - C) / 2, (A - C) / 6


def stackelberg_vs_cournot() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 100), initialize=10.0)
    m.F = pyo.Block(range(2))
    for i in range(2):
        m.F[i].y = pyo.Var(bounds=(0, 100), initialize=10.0)
    m.Q = pyo.Expression(expr=m.x + m.F[0].y + m.F[1].y)
    for i in range(2):
        m.F[i].profit = pyo.Objective(expr=(A - m.Q - C) * m.F[i].y, sense=pyo.maximize)
    m.profit = pyo.Objective(expr=(A - m.Q - C) * m.x, sense=pyo.maximize)
    return m


# kkt-bigm: SCIP stops at a relative gap of 1e-9 on a leader objective that is flat at the top
# (x(90 − x)/3 loses only 1e-7 at |x − 45| = 5e-4), so its x is good to ~1e-3
@pytest.mark.parametrize("method,status,atol", [("kkt", SolveStatus.LOCALLY_OPTIMAL, 1e-5),
                                                ("kkt-bigm", SolveStatus.OPTIMAL, 1e-3),
                                                ("kkt-sos1", SolveStatus.OPTIMAL, 1e-3),
                                                ("implicit", SolveStatus.LOCALLY_OPTIMAL, 1e-6)])
def test_leader_against_cournot_followers_closed_form(method, status, atol):
    m = stackelberg_vs_cournot()
    res = solve_bilevel(m, m.F, method=method)
    assert res.status is status, res.message
    assert m.x.value == pytest.approx(X_STAR, abs=atol)
    np.testing.assert_allclose([m.F[0].y.value, m.F[1].y.value], (A - C - m.x.value) / 3, atol=1e-6)
    np.testing.assert_allclose([m.F[0].y.value, m.F[1].y.value], Y_STAR, atol=atol)
    assert res.objective == pytest.approx((A - C) ** 2 / 12, rel=1e-7)
    # the follower certificate is the lower level's Nash gap: each follower re-solved alone
    assert max(c.gap for c in res.follower_checks) <= 1e-6


def test_nested_reacts_with_the_lower_level_equilibrium():
    m = stackelberg_vs_cournot()
    res = solve_bilevel(m, m.F, method="nested", n_gen=8, pop_size=10, seed=3)
    assert res.status is SolveStatus.FEASIBLE, res.message
    assert m.x.value == pytest.approx(X_STAR, abs=1e-3)
    np.testing.assert_allclose([m.F[0].y.value, m.F[1].y.value], (A - C - m.x.value) / 3, atol=1e-6)
    assert max(c.gap for c in res.follower_checks) <= 1e-6


def test_follower_check_equals_nash_gap_off_equilibrium():
    """At a leader decision with the followers off their equilibrium, verify() gives each follower's
    gain from deviating alone, i.e. the followers' Nash gap (closed form: follower i's best response to
    y_j is (a − c − x − y_j)/2, its gain (b − y_i)² with b that response)."""
    m = stackelberg_vs_cournot()
    m.x.set_value(30.0)
    m.F[0].y.set_value(5.0)
    m.F[1].y.set_value(25.0)
    checks = {c.name: c.gap for c in verify(m, m.F)}
    m.x.fix()
    m.profit.deactivate()
    gaps = nash_gap(m, m.F)
    for i, (yi, yj) in enumerate(((5.0, 25.0), (25.0, 5.0))):
        b = (A - C - 30.0 - yj) / 2
        assert checks[f"F[{i}]"] == pytest.approx((b - yi) ** 2, abs=1e-5)
        assert gaps[f"F[{i}]"] == pytest.approx(checks[f"F[{i}]"], abs=1e-5)


@pytest.mark.parametrize("method", ["strong-duality", "analytic"])
def test_methods_without_a_nash_lower_level_name_the_followers(method):
    m = stackelberg_vs_cournot()
    with pytest.raises(ModelError, match=r"follower 'F\[0\]' uses variable 'F\[1\]\.y' of another follower"):
        solve_bilevel(m, m.F, method=method)


def test_implicit_notes_the_unique_response_of_a_strictly_monotone_lower_level():
    """The followers' Cournot game has the pseudo-gradient Jacobian [[2, 1], [1, 2]] (positive definite)."""
    m = stackelberg_vs_cournot()
    res = solve_bilevel(m, m.F, method="implicit", tol=1e-10)
    assert res.status is SolveStatus.LOCALLY_OPTIMAL, res.message
    assert m.x.value == pytest.approx(X_STAR, abs=1e-6)
    assert res.extra["nash_followers"] is True and res.extra["regular"] is True
    assert res.extra["unique_response"] is True and res.extra["least_squares"] == 0


def irregular_followers() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(1, 3), initialize=1.5)
    m.F = pyo.Block(range(2))
    for i in range(2):
        m.F[i].y = pyo.Var(bounds=(-100, 100), initialize=2.0)
    m.F[0].obj = pyo.Objective(expr=(m.F[0].y - m.F[1].y - m.x) ** 2 / 2)
    m.F[1].obj = pyo.Objective(expr=(m.F[1].y - m.F[0].y + m.x) ** 2 / 2)
    m.obj = pyo.Objective(expr=(m.x - 2) ** 2 + (m.F[0].y - 5) ** 2)
    return m


def test_implicit_reports_an_irregular_lower_level_honestly():
    m = irregular_followers()
    res = solve_bilevel(m, m.F, method="implicit")
    assert res.status is SolveStatus.FEASIBLE, res.message
    assert "regularity fails" in res.message and "least squares" in res.message
    assert res.extra["regular"] is False and res.extra["unique_response"] is False
    assert res.extra["least_squares"] >= 1
    assert m.F[0].y.value - m.F[1].y.value == pytest.approx(m.x.value, abs=1e-6)   # still an equilibrium


def test_implicit_scan_must_be_a_count():
    m = stackelberg_vs_cournot()
    with pytest.raises(ModelError, match="scan must be a non-negative integer"):
        solve_bilevel(m, m.F, method="implicit", scan=-1)
