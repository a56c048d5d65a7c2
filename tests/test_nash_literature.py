"""Nash and generalized Nash games from the literature, written as a researcher would, with their
published equilibria; and the player convention's edges a review campaign found answered wrongly.

Published answers:

* Harker (1991): shared constraint x1 + x2 <= 15, variational equilibrium (5, 9);
* Murphy, Sherali and Soyster (1982), 5-firm Cournot with p(Q) = 5000^(1/1.1) Q^(-1/1.1):
  q = (36.933, 41.818, 43.707, 42.659, 39.179) (Harker 1984), here from the singular start q = 0;
* Facchinei and Kanzow (2010), problem A.16: the same firms under a shared cap sum q <= P,
  variational equilibria for P = 75, 100, 150, 200;
* Rosen (1965): shared x1 + x2 >= 1, normalised (variational) equilibrium (1, 0).
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers import ModelError, SolveStatus, UnsupportedModelError, available_solvers, nash_gap, solve_nash
from gridgames.solvers.games.epec import solve_epec

needs_scip = pytest.mark.skipif("scip" not in available_solvers(), reason="SCIP (pyscipopt) not installed")


# ------------------------------------------------------------------ literature
def _harker() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.P1, m.P2 = pyo.Block(), pyo.Block()
    m.P1.x = pyo.Var(bounds=(0, 10))
    m.P2.x = pyo.Var(bounds=(0, 10))
    x1, x2 = m.P1.x, m.P2.x
    m.P1.obj = pyo.Objective(expr=x1 ** 2 + 8 / 3 * x1 * x2 - 34 * x1)
    m.P2.obj = pyo.Objective(expr=x2 ** 2 + 5 / 4 * x1 * x2 - 24.25 * x2)
    m.shared = pyo.Constraint(expr=x1 + x2 <= 15)
    return m


@pytest.mark.parametrize("method, options", [("mcp", {}), ("kkt", {"variational": True})])
def test_harker_variational_equilibrium(method, options):
    m = _harker()
    r = solve_nash(m, [m.P1, m.P2], method=method, **options)
    assert r.status.is_optimal, r.message
    assert (m.P1.x.value, m.P2.x.value) == pytest.approx((5.0, 9.0), abs=1e-5)


C_MSS = (10.0, 8.0, 6.0, 4.0, 2.0)
B_MSS = (1.2, 1.1, 1.0, 0.9, 0.8)
Q_MSS = (36.933, 41.818, 43.707, 42.659, 39.179)


def _mss(start: float | None, cap: float | None = None) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(5))
    for i in range(5):
        m.F[i].q = pyo.Var(bounds=(0, 200 if cap is None else 100), initialize=start)
    total = sum(m.F[i].q for i in range(5))
    for i, (c, b) in enumerate(zip(C_MSS, B_MSS)):
        q = m.F[i].q
        m.F[i].profit = pyo.Objective(expr=5000 ** (1 / 1.1) * total ** (-1 / 1.1) * q - c * q
                                      - b / (b + 1) * 5 ** (-1 / b) * q ** ((b + 1) / b), sense=pyo.maximize)
    if cap is not None:
        m.cap = pyo.Constraint(expr=total <= cap)
    return m


@pytest.mark.parametrize("method", ["mcp", "gauss-seidel", "jacobi"])
@pytest.mark.parametrize("start", [0.0, None])
def test_mss_oligopoly_from_a_singular_start(method, start, caplog):
    # at q = 0 the payoff's Q^(-1/1.1) is undefined: before, a bare ZeroDivisionError (sweeps) or
    # "F is not finite at the starting point" (mcp); now the sweeps skip the unknown gain of the first
    # response and mcp moves its start off the bounds, as Ipopt does
    m = _mss(start)
    r = solve_nash(m, m.F, method=method)
    # nonlinear players whose concavity is sampled, not proved, re-solved by Ipopt: a local certificate
    assert r.status is SolveStatus.LOCALLY_OPTIMAL and "locally optimal only" in r.message, r.message
    assert [m.F[i].q.value for i in range(5)] == pytest.approx(Q_MSS, abs=2e-3)
    assert "evaluating object" not in caplog.text        # no Pyomo error log from the undefined start


A16 = {75: (10.403965, 13.035817, 15.407354, 17.381556, 18.771308),
       100: (14.050088, 17.798379, 20.907187, 23.111429, 24.132916),
       150: (23.588799, 28.684248, 32.021533, 33.287258, 32.418182),
       200: (35.785329, 40.748959, 42.802485, 41.966381, 38.696846)}


@pytest.mark.parametrize("cap", sorted(A16))
def test_facchinei_kanzow_a16_variational_equilibria(cap):
    m = _mss(10.0, cap)
    r = solve_nash(m, m.F, method="mcp")
    # nonlinear players whose concavity is sampled, not proved, re-solved by Ipopt: a local certificate
    assert r.status is SolveStatus.LOCALLY_OPTIMAL and "locally optimal only" in r.message, r.message
    assert [m.F[i].q.value for i in range(5)] == pytest.approx(A16[cap], abs=2e-4)   # published to ~1e-4


def test_sweeps_that_drift_along_equilibria_are_certified_by_the_gap():
    # A.16 with P = 200 by Gauss-Seidel: the best responses drift along the set of generalized
    # equilibria on the cap and never meet tol; the last profile's Nash gap is 0, so it is an equilibrium
    m = _mss(10.0, 200)
    r = solve_nash(m, m.F, method="gauss-seidel", max_iter=15)
    # nonlinear players whose concavity is sampled, not proved, re-solved by Ipopt: a local certificate
    assert r.status is SolveStatus.LOCALLY_OPTIMAL and "locally optimal only" in r.message, r.message
    assert "no convergence in 15 iterations" in r.message and "an equilibrium" in r.message
    assert r.gap <= 1e-5 * max(1.0, max(abs(v) for v in r.player_objectives.values()))
    assert sum(m.F[i].q.value for i in range(5)) == pytest.approx(200.0, abs=1e-5)


def test_rosen_normalised_equilibrium():
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.x = pyo.Var(bounds=(0, None), initialize=0.0)
    m.B.x = pyo.Var(bounds=(0, None), initialize=0.0)
    m.A.u = pyo.Objective(expr=-0.5 * m.A.x ** 2 + m.A.x * m.B.x, sense=pyo.maximize)
    m.B.u = pyo.Objective(expr=-m.B.x ** 2 - m.A.x * m.B.x, sense=pyo.maximize)
    m.s = pyo.Constraint(expr=m.A.x + m.B.x >= 1)
    r = solve_nash(m, [m.A, m.B], method="mcp")
    assert r.status is SolveStatus.OPTIMAL, r.message
    assert (m.A.x.value, m.B.x.value) == pytest.approx((1.0, 0.0), abs=1e-6)


# ------------------------------------------------------------------ the player convention
def _cournot(price_var: bool = False) -> pyo.ConcreteModel:
    """p = 100 − Q, costs 10 and 20: equilibrium (33.33, 23.33)."""
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.q = pyo.Var(bounds=(0, 100))
    m.B.q = pyo.Var(bounds=(0, 100))
    if price_var:   # the market price as a model-level variable defined by an equation
        m.price = pyo.Var()
        m.clearing = pyo.Constraint(expr=m.price == 100 - m.A.q - m.B.q)
        price = m.price
    else:
        price = 100 - m.A.q - m.B.q
    m.A.u = pyo.Objective(expr=(price - 10) * m.A.q, sense=pyo.maximize)
    m.B.u = pyo.Objective(expr=(price - 20) * m.B.q, sense=pyo.maximize)
    return m


@pytest.mark.parametrize("method", ["gauss-seidel", "jacobi", "kkt", "pso", "mcp"])
def test_a_variable_outside_every_player_is_refused_by_name(method):
    # before: gauss-seidel (100, 0), jacobi (50, 50), both "optimal" with gap 0 (the price held fixed)
    m = _cournot(price_var=True)
    with pytest.raises(ModelError, match="variable 'price' enters .* belongs to no player block.*Expression"):
        solve_nash(m, [m.A, m.B], method=method)
    m = _cournot()
    with pytest.raises(ModelError, match="objective 'B.u' is active but outside every player block.*list "
                                         "that player's block"):   # a player left out of the list
        solve_nash(m, [m.A], method=method)
    with pytest.raises(ModelError, match="variable 'B.q' enters player 'A'"):
        nash_gap(m, [m.A])


def test_an_objective_outside_every_player_is_refused_and_a_lower_level_game_keeps_its_leader():
    # before: the welfare objective was ignored without a word
    m = _cournot()
    m.welfare = pyo.Objective(expr=m.A.q + m.B.q, sense=pyo.maximize)
    with pytest.raises(ModelError, match="objective 'welfare' is active but outside every player block"):
        solve_nash(m, [m.A, m.B], method="gauss-seidel")
    m.welfare.deactivate()
    assert solve_nash(m, [m.A, m.B], method="gauss-seidel").status is SolveStatus.OPTIMAL
    assert (m.A.q.value, m.B.q.value) == pytest.approx((100 / 3, 70 / 3), abs=1e-5)


def test_a_constraint_on_no_players_variables_is_refused():
    m = _cournot()
    m.z = pyo.Var(bounds=(0, 10))
    m.c = pyo.Constraint(expr=m.z >= 20)
    with pytest.raises(ModelError, match="constraint 'c' is outside every player block and involves no player"):
        solve_nash(m, [m.A, m.B])


@pytest.mark.parametrize("method", ["gauss-seidel", "mcp", "kkt"])
def test_a_variable_owned_by_two_players_is_refused(method):
    # before: (0, 40) "optimal" with gap 0 from gauss-seidel, jacobi and mcp; A gains 625
    m = _cournot()
    m.B.rival = pyo.Reference(m.A.q)
    with pytest.raises(ModelError, match="variable 'A.q' belongs to two player blocks, 'A' and 'B'"):
        solve_nash(m, [m.A, m.B], method=method)


def _double_well(start: float) -> pyo.ConcreteModel:
    """A: min (x1 − x2)²; B: max −(x2² − 1)² + 0.1 x2 on [−2, 2]: unique equilibrium x1 = x2 = 1.01227."""
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.x = pyo.Var(bounds=(-2, 2), initialize=start)
    m.B.x = pyo.Var(bounds=(-2, 2), initialize=start)
    m.A.u = pyo.Objective(expr=(m.A.x - m.B.x) ** 2)
    m.B.u = pyo.Objective(expr=-(m.B.x ** 2 - 1) ** 2 + 0.1 * m.B.x, sense=pyo.maximize)
    return m


X_WELL = 1.0122699


@needs_scip
@pytest.mark.parametrize("method", ["gauss-seidel", "jacobi", "mcp"])
def test_a_nonconvex_player_is_answered_globally(method):
    # before: from (−1, −1) every method stopped at (−0.9873, −0.9873), "optimal" with gap 0 (Ipopt's
    # local best response); B gains 0.2 by moving to 1.0123
    m = _double_well(-1.0)
    r = solve_nash(m, [m.A, m.B], method=method)
    if method == "mcp":     # a KKT point of the stacked system: the global check finds B's gain
        assert r.status is SolveStatus.NOT_EQUILIBRIUM and r.gap == pytest.approx(0.2, abs=1e-3), r.message
        return
    assert r.status is SolveStatus.OPTIMAL, r.message
    assert (m.A.x.value, m.B.x.value) == pytest.approx((X_WELL, X_WELL), abs=1e-4)
    assert "SCIP" in r.message and "'B'" in r.message


@needs_scip
def test_nash_gap_of_a_nonconvex_player_is_global():
    m = _double_well(-0.9873)
    gaps = nash_gap(m, [m.A, m.B])
    assert gaps["B"] == pytest.approx(0.2, abs=1e-3)


def _integer_cournot() -> pyo.ConcreteModel:
    """Integer quantities, p = 100 − Q, costs 10 and 11: pure equilibria (30, 29), (30, 30), (31, 29)."""
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(2))
    for i in range(2):
        m.F[i].q = pyo.Var(domain=pyo.NonNegativeIntegers, bounds=(0, 100), initialize=0)
    total = m.F[0].q + m.F[1].q
    for i, c in enumerate((10, 11)):
        m.F[i].u = pyo.Objective(expr=(100 - total - c) * m.F[i].q, sense=pyo.maximize)
    return m


@pytest.mark.parametrize("method", ["gauss-seidel", "jacobi"])
def test_integer_players_by_best_responses(method):
    # before: Jacobi damped itself to (29.5, 28.5) and then failed, the rival's integer fixed at 28.5
    m = _integer_cournot()
    r = solve_nash(m, m.F, method=method)
    assert r.status is SolveStatus.OPTIMAL, r.message
    assert (round(m.F[0].q.value), round(m.F[1].q.value)) in {(30, 29), (30, 30), (31, 29)}


@pytest.mark.parametrize("method, options, match", [
    ("gauss-seidel", {"damping": 0.5}, "damping=0.5 averages strategies"),
    ("jacobi", {"adaptive": True}, "adaptive=True averages strategies"),
    ("kkt", {}, "method 'kkt': the KKT conditions need continuous players"),
    ("pso", {}, "method 'pso': pso searches continuous strategies"),
    ("mcp", {}, "the stacked KKT conditions need continuous variables"),
])
def test_integer_players_are_refused_where_strategies_are_averaged_or_differentiated(method, options, match):
    m = _integer_cournot()
    with pytest.raises((ModelError, UnsupportedModelError), match=match):
        solve_nash(m, m.F, method=method, **options)


@pytest.mark.parametrize("method", ["kkt", "mcp"])
def test_an_unbounded_player_is_named_by_the_kkt_methods(method):
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.q = pyo.Var(bounds=(0, None))
    m.B.q = pyo.Var(bounds=(0, 100))
    m.A.u = pyo.Objective(expr=(10 + m.B.q) * m.A.q, sense=pyo.maximize)
    m.B.u = pyo.Objective(expr=(100 - m.A.q - m.B.q - 20) * m.B.q, sense=pyo.maximize)
    r = solve_nash(m, [m.A, m.B], method=method)
    assert not r.status.is_ok
    assert "player 'A' is unbounded" in r.message
    assert 0.0 <= m.B.q.value <= 100.0        # failed runs load values inside the bounds


@pytest.mark.parametrize("method", ["kkt", "mcp"])
def test_nan_data_is_named_by_its_component(method):
    m = _cournot()
    m.cost = pyo.Param(initialize=float("nan"), mutable=True)
    m.A.u.set_value((100 - m.A.q - m.B.q - m.cost) * m.A.q)
    with pytest.raises(ModelError, match="non-finite data in the model: (objective 'A.u'|'100 - cost')"):
        solve_nash(m, [m.A, m.B], method=method)


def test_jacobi_names_a_coupling_constraint_inside_a_player():
    # each player carries the joint cap in its own block, reading the others' strategies; from x = 2 all
    # three jump to 6 together (sum 18 > 10), where no one has a feasible answer (x >= 2)
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(3))
    for i in range(3):
        m.P[i].x = pyo.Var(bounds=(2, 10), initialize=2.0)
    for i in range(3):
        m.P[i].cap = pyo.Constraint(expr=sum(m.P[j].x for j in range(3)) <= 10)
        m.P[i].u = pyo.Objective(expr=(m.P[i].x - 9) ** 2)
    r = solve_nash(m, m.P, method="jacobi", adaptive=False, max_iter=5)
    assert r.status is SolveStatus.ERROR
    assert "P[0].cap" in r.message and "gauss-seidel" in r.message, r.message


@pytest.mark.parametrize("kwargs, match", [({"gap_tol": -1.0}, "gap_tol must be a finite number >= 0"),
                                           ({"max_iter": 0}, "max_iter must be a positive integer"),
                                           ({"tol": float("nan")}, "tol must be a finite number > 0")])
def test_tolerances_a_method_cannot_honour_are_refused(kwargs, match):
    m = _cournot()
    with pytest.raises(ModelError, match=match):
        solve_nash(m, [m.A, m.B], **kwargs)


def test_epec_diagonalisation_at_its_sweep_limit_is_certified_by_the_leaders_gap():
    # two leaders (costs 10, 16) and a Cournot fringe (20, 25), p = 100 − X − Y: the second follower is
    # priced out exactly, and the sweeps drift inside a set of equilibria (x1 + x2 = 70)
    m = pyo.ConcreteModel()
    m.L, m.F = pyo.Block(range(2)), pyo.Block(range(2))
    for i in range(2):
        m.L[i].x = pyo.Var(bounds=(0, 100), initialize=0.0)
        m.F[i].y = pyo.Var(bounds=(0, 100), initialize=0.0)
    m.P = pyo.Expression(expr=100 - sum(m.L[i].x + m.F[i].y for i in range(2)))
    for i, (c, d) in enumerate(((10, 20), (16, 25))):
        m.L[i].u = pyo.Objective(expr=(m.P - c) * m.L[i].x, sense=pyo.maximize)
        m.F[i].u = pyo.Objective(expr=(m.P - d) * m.F[i].y, sense=pyo.maximize)
    r = solve_epec(m, m.L, m.F, max_iter=50)
    assert r.status.is_optimal, r.message
    x = np.array([m.L[i].x.value for i in range(2)])
    assert x.sum() == pytest.approx(70.0, abs=1e-4) and m.F[1].y.value == pytest.approx(0.0, abs=1e-6)


def _pinned_trade() -> pyo.ConcreteModel:
    """Seller A (p = q, p ≤ 30, wants p = 60) and buyer B (wants r = −90) trade q + r = 0 (a shared equality).
    The variational equilibrium ties the balance's multiplier: p = q = 30, r = −30, λ = −120 for both."""
    m = pyo.ConcreteModel()
    m.A = pyo.Block()
    m.B = pyo.Block()
    m.A.p = pyo.Var(bounds=(0, 30), initialize=15)
    m.A.q = pyo.Var(bounds=(0, None), initialize=15)
    m.A.link = pyo.Constraint(expr=m.A.p == m.A.q)
    m.A.cost = pyo.Objective(expr=(m.A.p - 60) ** 2)
    m.B.r = pyo.Var(bounds=(-150, 0), initialize=-15)
    m.B.cost = pyo.Objective(expr=(m.B.r + 90) ** 2)
    m.trade = pyo.Constraint(expr=m.A.q + m.B.r == 0)
    return m


def test_variational_kkt_ties_a_shared_equalitys_multipliers(monkeypatch):
    """Before, only shared inequalities were tied: kkt(variational=True) returned another generalized
    equilibrium (p = 0) with no shared multiplier.  Ipopt's answer leaves p 1.5e-7 above its bound, where
    A's best response is pinned by B's trade and strictly infeasible: the gap re-solves A relaxed by 1e-6."""
    from gridgames.solvers.games import responses

    relaxed = []
    original = responses._relaxed_best_response_value
    monkeypatch.setattr(responses, "_relaxed_best_response_value",
                        lambda agent, solver: relaxed.append(agent.name) or original(agent, solver))
    reference = _pinned_trade()
    mcp = solve_nash(reference, [reference.A, reference.B], method="mcp")
    m = _pinned_trade()
    r = solve_nash(m, [m.A, m.B], method="kkt", variational=True)
    assert r.status is SolveStatus.OPTIMAL and mcp.status is SolveStatus.OPTIMAL, r.message
    assert (m.A.p.value, m.B.r.value) == pytest.approx((30.0, -30.0), abs=1e-5)
    assert r.extra["shared_multipliers"]["trade"] == pytest.approx(mcp.extra["shared_multipliers"]["trade"], rel=1e-6)
    assert mcp.extra["shared_multipliers"]["trade"] == pytest.approx(-120.0, rel=1e-9)
    assert relaxed == ["A"]
    m = _pinned_trade()
    r = solve_nash(m, [m.A, m.B], method="kkt", solver="scip", variational=True)   # global: multipliers too
    assert r.status is SolveStatus.OPTIMAL and r.extra["shared_multipliers"]["trade"] == pytest.approx(-120.0, rel=1e-6)


@pytest.mark.parametrize("options", [{"method": "mcp"}, {"method": "kkt", "variational": True},
                                     {"method": "kkt", "variational": True, "solver": "scip"}])
def test_shared_multipliers_of_lower_ranged_and_equality_rows_follow_one_convention(options):
    """Three players, f_i = ½ w_i (x_i − t_i)², shared x0 + x1 ≥ 6, 1 ≤ x0 − x2 ≤ 2 (upper side binds),
    x1 − x2 = 1: all active at x = (3.5, 2.5, 1.5); the λ of ∇f + Σ λ∇g = 0 solve Gᵀλ = −∇f."""
    t, w = np.array([3.0, 2.0, 0.0]), np.array([1.0, 2.0, 3.0])
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(3))
    for i in range(3):
        m.P[i].x = pyo.Var(bounds=(-10, 10))
        m.P[i].obj = pyo.Objective(expr=0.5 * w[i] * (m.P[i].x - t[i]) ** 2)
    x = [m.P[i].x for i in range(3)]
    m.low = pyo.Constraint(expr=x[0] + x[1] >= 6)
    m.rng = pyo.Constraint(expr=pyo.inequality(1, x[0] - x[2], 2))
    m.eq = pyo.Constraint(expr=x[1] - x[2] == 1)
    star = np.array([3.5, 2.5, 1.5])
    lam = np.linalg.solve(np.array([[1, 1, 0], [1, 0, -1], [0, 1, -1.0]]).T, -w * (star - t))   # -3, 2.5, 2
    r = solve_nash(m, m.P, **options)
    assert r.status is SolveStatus.OPTIMAL, r.message
    assert [v.value for v in x] == pytest.approx(star, abs=1e-5)
    got = r.extra["shared_multipliers"]
    assert [got["low"], got["rng"], got["eq"]] == pytest.approx(lam, abs=1e-5)
