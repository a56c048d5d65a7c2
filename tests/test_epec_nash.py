"""EPEC whose followers play a Nash game among themselves: two Stackelberg leaders, two Cournot followers.

Closed form.  Inverse demand P = a − (q1 + q2 + y1 + y2); leaders' costs c_i,
followers' cost c_f.  Given the leaders' total Q, the followers' Cournot
equilibrium is y1 = y2 = (a − c_f − Q)/3, so P = (a + 2c_f − Q)/3.  Leader i
maximises (P − c_i)·q_i: FOC (a + 2c_f − Q)/3 − c_i − q_i/3 = 0, i.e.
2q_i + q_j = α_i with α_i = a + 2c_f − 3c_i.  With a = 100, c_f = 10,
c = (10, 20): α = (90, 60), q = (40, 10), y = 40/3 each.
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers import SolveStatus
from gridgames.solvers.games.epec import solve_epec

A, CF = 100.0, 10.0
COSTS = (10.0, 20.0)


def leaders_vs_cournot() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.L = pyo.Block(range(2))
    m.F = pyo.Block(range(2))
    for i in range(2):
        m.L[i].q = pyo.Var(bounds=(0, 100), initialize=0.0)
        m.F[i].y = pyo.Var(bounds=(0, 100), initialize=0.0)
    m.P = pyo.Expression(expr=A - sum(m.L[i].q + m.F[i].y for i in range(2)))
    for i in range(2):
        m.F[i].profit = pyo.Objective(expr=(m.P - CF) * m.F[i].y, sense=pyo.maximize)
        m.L[i].profit = pyo.Objective(expr=(m.P - COSTS[i]) * m.L[i].q, sense=pyo.maximize)
    return m


@pytest.mark.parametrize("check,status", [("kkt-bigm", SolveStatus.OPTIMAL), ("kkt", SolveStatus.LOCALLY_OPTIMAL)])
def test_two_leaders_two_cournot_followers_closed_form(check, status):
    m = leaders_vs_cournot()
    res = solve_epec(m, m.L, m.F, tol=1e-9, check_method=check)
    assert res.status is status, res.message
    np.testing.assert_allclose([m.L[0].q.value, m.L[1].q.value], [40.0, 10.0], atol=1e-5)
    np.testing.assert_allclose([m.F[0].y.value, m.F[1].y.value], 40.0 / 3, atol=1e-5)
    assert abs(res.gap) <= 1e-5 and res.extra["gap_check"] == {"method": check, "global": check == "kkt-bigm"}


def test_a_leader_off_its_best_response_is_caught_with_cournot_followers():
    """One sweep from zero with a huge tol claims convergence; the global re-solve overrules it."""
    m = leaders_vs_cournot()
    res = solve_epec(m, m.L, m.F, max_iter=1, tol=1e3)
    assert res.status is SolveStatus.NOT_EQUILIBRIUM, res.message
    assert res.gap > 1.0


def test_diagonalisation_with_implicit_mpecs_matches_kkt():
    """Each leader's MPEC by implicit (the followers' Cournot game differentiated through its KKT system)
    gives the closed form and the kkt diagonalisation's profile; the gap check re-solves by implicit."""
    m = leaders_vs_cournot()
    res = solve_epec(m, m.L, m.F, tol=1e-9, bilevel_method="implicit", check_method="implicit",
                     bilevel_options={"tol": 1e-10})
    assert res.status is SolveStatus.LOCALLY_OPTIMAL, res.message
    implicit = [m.L[0].q.value, m.L[1].q.value, m.F[0].y.value, m.F[1].y.value]
    np.testing.assert_allclose(implicit, [40.0, 10.0, 40.0 / 3, 40.0 / 3], atol=1e-6)
    assert abs(res.gap) <= 1e-6 and res.extra["gap_check"] == {"method": "implicit", "global": False}
    m = leaders_vs_cournot()
    solve_epec(m, m.L, m.F, tol=1e-9, check_method=None)
    np.testing.assert_allclose(implicit, [m.L[0].q.value, m.L[1].q.value, m.F[0].y.value, m.F[1].y.value],
                               atol=1e-5)


def test_first_sweep_options_are_for_diagonalisation_only():
    from gridgames.solvers import ModelError

    m = leaders_vs_cournot()
    with pytest.raises(ModelError, match="first_sweep_options apply to method='diagonalisation' only"):
        solve_epec(m, m.L, m.F, method="joint", first_sweep_options={"scan": 3})
