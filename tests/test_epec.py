"""EPEC by diagonalisation: a two-leader Stackelberg–Cournot game with a closed form, and a cycling game.

Two-leader Stackelberg–Cournot (Sherali, "A multiple leader Stackelberg model
and analysis", Oper. Res. 32, 1984, with one follower).  Inverse demand
P = a − b(q1 + q2 + y).  The follower, seeing the leaders' total Q = q1 + q2,
maximises (P − c_f) y:  y(Q) = (a − c_f − bQ) / 2b.  Then
P = (a + c_f − bQ) / 2, and leader i maximises (P − c_i) q_i:
FOC  a + c_f − 2c_i − b q_j − 2b q_i = 0, i.e. q_i = (α_i − b q_j) / 2b with
α_i = a + c_f − 2c_i.  Solving the pair:  q1 = (2α1 − α2) / 3b,
q2 = (2α2 − α1) / 3b.  With a = 100, b = 1, c_f = 10, c = (10, 20):
α = (90, 70), q = (110/3, 50/3), y = (90 − 160/3)/2 = 55/3.
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers import ModelError, SolveStatus, solve_nash
from gridgames.solvers.games.epec import solve_epec

A, B, CF = 100.0, 1.0, 10.0
COSTS = (10.0, 20.0)


def two_leaders() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.L = pyo.Block(range(2))
    for i in range(2):
        m.L[i].q = pyo.Var(bounds=(0, 100), initialize=0.0)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 100), initialize=0.0)
    Q = m.L[0].q + m.L[1].q
    m.f.profit = pyo.Objective(expr=(A - B * (Q + m.f.y)) * m.f.y - CF * m.f.y, sense=pyo.maximize)
    for i in range(2):
        m.L[i].profit = pyo.Objective(expr=(A - B * (Q + m.f.y) - COSTS[i]) * m.L[i].q, sense=pyo.maximize)
    return m


def test_two_leader_stackelberg_cournot_closed_form():
    alpha = np.array([A + CF - 2 * c for c in COSTS])
    q_star = np.array([2 * alpha[0] - alpha[1], 2 * alpha[1] - alpha[0]]) / (3 * B)
    y_star = (A - CF - B * q_star.sum()) / (2 * B)
    m = two_leaders()
    res = solve_epec(m, m.L, m.f, tol=1e-9)
    assert res.status is SolveStatus.OPTIMAL, res.message
    np.testing.assert_allclose([m.L[0].q.value, m.L[1].q.value], q_star, atol=1e-5)
    assert m.f.y.value == pytest.approx(y_star, abs=1e-5)
    assert res.gap == pytest.approx(0.0, abs=1e-4) and res.cycle_length == 0
    # the best-response map has slope −1/2: the change shrinks about 4x per sweep
    assert res.iterations < 25 and res.history[-1] <= 1e-9


def pennies() -> pyo.ConcreteModel:
    """Leader 1: max (2y − 1)·x1, leader 2: max (1 − 2x1)·x2 on [0, 1]; the follower sets y = x2."""
    m = pyo.ConcreteModel()
    m.L = pyo.Block(range(2))
    for i in range(2):
        m.L[i].x = pyo.Var(bounds=(0, 1), initialize=0.0)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(-1, 2), initialize=0.0)
    m.f.copy = pyo.Objective(expr=(m.f.y - m.L[1].x) ** 2)
    m.L[0].obj = pyo.Objective(expr=(2 * m.f.y - 1) * m.L[0].x, sense=pyo.maximize)
    m.L[1].obj = pyo.Objective(expr=(1 - 2 * m.L[0].x) * m.L[1].x, sense=pyo.maximize)
    return m


def test_cycle_is_detected_and_best_profile_returned():
    """Matching pennies between leaders, seen through a follower that copies leader 2.

    Leader 1 maximises (2y − 1)·x1 with y = x2 (the follower's answer), leader 2 maximises
    (1 − 2x1)·x2 on [0, 1]: best responses jump between the corners, so from (0, 0)
    diagonalisation visits (0, 1), (1, 0), (0, 1), ...: a cycle of length 2 where a leader
    always gains 1.  (x1, x2) = (½, ½) is the equilibrium it circles.
    """
    m = pennies()
    res = solve_epec(m, m.L, m.f, max_iter=10, check_method=None)
    assert res.status is SolveStatus.ERROR and res.cycle_length == 2, res.message
    assert "cycles" in res.message and "best approximate equilibrium" in res.message
    assert all(max(g.values()) == pytest.approx(1.0, abs=1e-5) for g in res.cycle_gains)


def test_solve_nash_epec_dispatch():
    m = two_leaders()
    res = solve_nash(m, m.L, method="epec", followers=m.f, check_method=None)
    assert res.ok and res.method == "epec-diagonalisation"
    with pytest.raises(ModelError, match="needs followers="):
        solve_nash(m, m.L, method="epec")


def test_leader_without_objective_is_named():
    m = two_leaders()
    m.L[1].profit.deactivate()
    with pytest.raises(ModelError, match="leader block 'L\\[1\\]' must hold exactly one active Objective"):
        solve_epec(m, m.L, m.f)


def n_symmetric_leaders(n: int) -> pyo.ConcreteModel:
    """N identical leaders (cost c) and one follower (cost c_f) facing P = a − b(Q + y)."""
    m = pyo.ConcreteModel()
    m.L = pyo.Block(range(n))
    for i in range(n):
        m.L[i].q = pyo.Var(bounds=(0, 100), initialize=0.0)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 100), initialize=0.0)
    Q = sum(m.L[i].q for i in range(n))
    m.f.profit = pyo.Objective(expr=(A - B * (Q + m.f.y)) * m.f.y - CF * m.f.y, sense=pyo.maximize)
    for i in range(n):
        m.L[i].profit = pyo.Objective(expr=(A - B * (Q + m.f.y) - COSTS[0]) * m.L[i].q, sense=pyo.maximize)
    return m


def test_joint_method_reaches_the_two_leader_closed_form():
    alpha = np.array([A + CF - 2 * c for c in COSTS])
    q_star = np.array([2 * alpha[0] - alpha[1], 2 * alpha[1] - alpha[0]]) / (3 * B)
    m = two_leaders()
    res = solve_epec(m, m.L, m.f, method="joint")
    assert res.status is SolveStatus.OPTIMAL and res.method == "epec-joint", res.message
    np.testing.assert_allclose([m.L[0].q.value, m.L[1].q.value], q_star, atol=1e-5)
    assert m.f.y.value == pytest.approx((A - CF - B * q_star.sum()) / (2 * B), abs=1e-5)
    assert abs(res.gap) <= 1e-5 and res.history[-1] <= 1e-8


@pytest.mark.parametrize("method", ["joint", "diagonalisation"])
def test_n_symmetric_leaders_closed_form(method):
    """N symmetric leaders with cost c, one follower with cost c_f, P = a − b(Q + y).

    The follower answers y(Q) = (a − c_f − bQ)/2b, so P = (a + c_f − bQ)/2 and
    leader i maximises ((a + c_f − bQ)/2 − c)·q_i: its FOC is
    a + c_f − 2c − bQ − b q_i = 0.  At the symmetric point Q = N q, hence
    q* = (a + c_f − 2c) / (b(N + 1)) and y* = (a − c_f − bNq*)/2b.
    With a = 100, b = 1, c = c_f = 10, N = 3: q* = 22.5, y* = 11.25.
    """
    n = 3
    q_star = (A + CF - 2 * COSTS[0]) / (B * (n + 1))
    m = n_symmetric_leaders(n)
    res = solve_epec(m, m.L, m.f, method=method, tol=1e-9)
    assert res.status is SolveStatus.OPTIMAL, res.message
    np.testing.assert_allclose([m.L[i].q.value for i in range(n)], q_star, atol=1e-5)
    assert m.f.y.value == pytest.approx((A - CF - B * n * q_star) / (2 * B), abs=1e-5)
    assert abs(res.gap) <= 1e-5


def test_joint_method_finds_the_equilibrium_diagonalisation_circles():
    """The matching-pennies leaders above: the stacked conditions hold at (½, ½), where no leader gains."""
    m = pennies()
    res = solve_epec(m, m.L, m.f, method="joint")
    assert res.status is SolveStatus.OPTIMAL, res.message
    np.testing.assert_allclose([m.L[0].x.value, m.L[1].x.value, m.f.y.value], 0.5, atol=1e-6)
    assert abs(res.gap) <= 1e-6


def test_not_an_equilibrium_is_reported_with_the_leader_and_its_gain():
    """Diagonalisation stopped after one sweep from 0 has not converged; with max_iter=1 and a huge tol
    it claims convergence, and the gap check must overrule it."""
    m = two_leaders()
    res = solve_epec(m, m.L, m.f, max_iter=1, tol=1e3)
    assert res.status is SolveStatus.NOT_EQUILIBRIUM, res.message
    assert "L[0]" in res.message and res.gap > 1.0


def test_epec_method_errors_name_the_option():
    m = two_leaders()
    with pytest.raises(ModelError, match="EPEC method must be one of"):
        solve_epec(m, m.L, m.f, method="newton")
    with pytest.raises(ModelError, match="joint_options: unknown option"):
        solve_epec(m, m.L, m.f, method="joint", joint_options={"eps": 1.0})
    res = solve_nash(m, m.L, method="epec", followers=m.f, epec_method="joint", check_method=None)
    assert res.ok and res.method == "epec-joint"


def test_no_gap_check_is_not_a_certificate_and_a_loose_joint_solve_is_not_certified():
    # before: check_method=None gave "optimal" with gap nan; the joint method stopped at eps 1e-1 gave
    # "optimal" although a leader did better than its own best bilevel answer (followers off their response)
    m = two_leaders()
    res = solve_epec(m, m.L, m.f, tol=1e-9, check_method=None)
    assert res.status is SolveStatus.LOCALLY_OPTIMAL and "no leaders' gap check" in res.message
    assert res.extra["follower_gaps"]["f"] <= 1e-6     # the followers are always checked
    # price-setting leaders (costs 1, 2), a consumer with U = 10 Σx − Σx²/2 − x1 x2 / 2: p = (62/15, 68/15)
    m = pyo.ConcreteModel()
    m.L, m.F = pyo.Block(range(2)), pyo.Block()
    for i in range(2):
        m.L[i].p = pyo.Var(bounds=(0, 20), initialize=5.0)
    m.F.x = pyo.Var(range(2), bounds=(0, 50), initialize=1.0)
    m.F.u = pyo.Objective(expr=10 * (m.F.x[0] + m.F.x[1]) - (m.F.x[0] ** 2 + m.F.x[1] ** 2) / 2
                          - 0.5 * m.F.x[0] * m.F.x[1] - m.L[0].p * m.F.x[0] - m.L[1].p * m.F.x[1], sense=pyo.maximize)
    for i, c in enumerate((1.0, 2.0)):
        m.L[i].u = pyo.Objective(expr=(m.L[i].p - c) * m.F.x[i], sense=pyo.maximize)
    res = solve_epec(m, m.L, m.F, method="joint", joint_options={"eps_start": 1e-1, "eps_final": 1e-2})
    assert res.status is SolveStatus.FEASIBLE, res.message
    assert "does better at the returned profile than its own best bilevel answer" in res.message
    assert [m.L[0].p.value, m.L[1].p.value] == pytest.approx([62 / 15, 68 / 15], abs=5e-3)
    assert solve_epec(m, m.L, m.F, method="joint").status is SolveStatus.OPTIMAL   # eps to 1e-9: certified
    assert [m.L[0].p.value, m.L[1].p.value] == pytest.approx([62 / 15, 68 / 15], abs=1e-5)


def test_joint_leaves_the_model_clean_after_an_error_and_bad_options_are_named():
    m = two_leaders()
    m.bad = pyo.Param(initialize=float("nan"), mutable=True)
    m.L[0].profit.set_value(m.L[0].profit.expr + m.bad * m.L[0].q)
    with pytest.raises(ModelError, match=r"objective 'L\[0\]\.profit'"):
        solve_epec(m, m.L, m.f, method="joint")
    assert not [c.name for c in m.component_objects() if c.name.startswith("_gg_")]
    m.bad = 0.0   # fixed: the same model solves (before: its leftover block was refused as a stray objective)
    assert solve_epec(m, m.L, m.f, method="joint").status is SolveStatus.OPTIMAL
    with pytest.raises(ModelError, match="check_method must be one of .* got 'foo'"):
        solve_epec(m, m.L, m.f, check_method="foo")
    with pytest.raises(ModelError, match="bilevel_options must be a dict"):
        solve_epec(m, m.L, m.f, bilevel_options=[1])
