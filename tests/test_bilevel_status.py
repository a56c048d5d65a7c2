"""Honest statuses: optimal only when every follower/player gap is within the stated tolerance."""
from __future__ import annotations

import math

import pyomo.environ as pyo
import pytest

from gridgames.benchmarks.bolib import build_bolib
from gridgames.solvers import SolveStatus, solve_bilevel, verify
from gridgames.solvers.errors import ModelError, SolveFailedError


def pricing() -> pyo.ConcreteModel:
    """Price p, buyer q maximising 10q - q²/2 - pq on [0, 8]: best response q = 10 - p."""
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10), initialize=1.0)
    m.f = pyo.Block()
    m.f.q = pyo.Var(bounds=(0, 8))
    m.f.obj = pyo.Objective(expr=10 * m.f.q - m.f.q ** 2 / 2 - m.p * m.f.q, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=m.p * m.f.q, sense=pyo.maximize)
    return m


def tuy1993_maximising() -> pyo.ConcreteModel:
    """Tuy, Migdalas & Värbrand (1993), BOLIB's TuyEtal1993, with the follower written as a maximiser.

    min_x  x2 − 2x1 + y1/2  s.t. x1 + x2 ≤ 2, x ≥ 0,
    y ∈ argmax_y { 4y1 − y2 : 2x1 − y1 + y2 ≥ 2.5, −x1 + 3x2 − y2 ≥ −2, y ≥ 0 }.
    The follower's right-hand sides depend on the leader.  Known optimum F* = −3.25
    (BOLIB v2, global).
    """
    m = build_bolib("TuyEtal1993")
    objective = m.follower.objective
    objective.set_value(-objective.expr)
    objective.sense = pyo.maximize
    return m


def test_strong_duality_on_a_maximising_follower_is_right_or_honest():
    # Before the fix: status optimal, F = -4 (better than the global optimum), follower gap 6.0
    # (the multipliers ran to 2e8 and SCIP's feasibility tolerance hid μ·slack ≈ 4).
    m = tuy1993_maximising()
    result = solve_bilevel(m, m.follower, method="strong-duality")
    assert result.status is SolveStatus.OPTIMAL, result.message
    assert result.objective == pytest.approx(-3.25, rel=1e-5)
    assert result.follower_gap <= 1e-6


def test_a_follower_gap_above_tolerance_is_never_optimal_and_the_message_gives_it():
    m = pricing()
    # q = 6 at p = 5 is not the best response (q = 5): the follower loses 0.5
    wrong = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda mm: [(mm.p, 5.0), (mm.f.q, 6.0)])
    assert wrong.status is SolveStatus.FOLLOWER_NOT_OPTIMAL and not wrong.ok
    assert "follower 'f'" in wrong.message and "gap 0.5" in wrong.message
    right = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda mm: [(mm.p, 5.0), (mm.f.q, 5.0)])
    assert right.status is SolveStatus.FEASIBLE   # the leader's choice is the closed form's claim
    # the tolerance is the caller's: a loose one accepts the wrong point
    loose = solve_bilevel(m, m.f, method="analytic", gap_tol=0.1,
                          equilibrium=lambda mm: [(mm.p, 5.0), (mm.f.q, 6.0)])
    assert loose.status is SolveStatus.FEASIBLE


def test_on_error_raise_turns_a_non_success_into_an_exception():
    m = pricing()
    with pytest.raises(SolveFailedError, match="follower_not_optimal") as info:
        solve_bilevel(m, m.f, method="analytic", on_error="raise",
                      equilibrium=lambda mm: [(mm.p, 5.0), (mm.f.q, 6.0)])
    assert info.value.result.follower_gap == pytest.approx(0.5, rel=1e-6)
    with pytest.raises(ModelError, match="on_error"):
        solve_bilevel(m, m.f, method="kkt", on_error="ignore")


def test_nested_is_a_heuristic_and_says_feasible():
    m = pricing()
    result = solve_bilevel(m, m.f, method="nested", n_gen=6, pop_size=10, seed=1)
    assert result.status is SolveStatus.FEASIBLE and result.ok and not result.status.is_optimal
    assert "not certified" in result.message


def test_verify_relaxes_a_follower_infeasible_by_a_tolerance_and_never_reports_nan():
    # follower: y >= x, y <= 1; at x = 1 + 5e-7 its feasible set is empty by 5e-7 (HiGHS' tolerance is 1e-7)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 2))
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 1))
    m.f.c = pyo.Constraint(expr=m.f.y >= m.x)
    m.f.obj = pyo.Objective(expr=m.f.y)
    m.obj = pyo.Objective(expr=-m.x)
    m.x.set_value(1 + 5e-7)
    m.f.y.set_value(1.0)
    before = str(m.f.c.expr)
    check, = verify(m, m.f)
    assert check.relaxed and math.isfinite(check.gap) and abs(check.gap) <= 1e-6
    assert check.violation == pytest.approx(5e-7, rel=1e-3)
    assert str(m.f.c.expr) == before and m.f.y.ub == 1   # the relaxation was undone
    result = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda mm: [(mm.x, 1 + 5e-7), (mm.f.y, 1.0)])
    assert result.status is SolveStatus.FEASIBLE and math.isfinite(result.follower_gap)


def test_modes_per_constraint_and_a_user_bound_active_at_the_answer():
    from test_bilevel import moore_bard

    m = moore_bard()
    result = solve_bilevel(m, m.f, method="kkt-bigm", multiplier_bound=100.0, modes={m.f.c1: "sos1"})
    # optimal within a bound the engine did not prove: a bilevel-feasible point, not a certified optimum
    assert result.status is SolveStatus.FEASIBLE and result.objective == pytest.approx(-18.0, rel=1e-9)
    assert result.extra["complementarity_modes"] == {"bigm": 5, "sos1": 1}
    assert "not proved" in result.message
    # bigm = 1 is reached by a slack or a multiplier at the answer: not certified
    m = moore_bard()
    capped = solve_bilevel(m, m.f, method="kkt-bigm", bigm=1.0)
    # bigm = 1 cuts off every KKT point here: not a proof of infeasibility, so an error that says so
    assert capped.status in (SolveStatus.FEASIBLE, SolveStatus.ERROR), capped.message
    if capped.status is SolveStatus.FEASIBLE:
        assert "active at the answer" in capped.message
    else:
        assert "infeasible within 6 bound(s) you gave" in capped.message
    with pytest.raises(ModelError, match="unknown mode 'indicator'"):
        solve_bilevel(m, m.f, method="kkt-bigm", modes={m.f.c1: "indicator"})
