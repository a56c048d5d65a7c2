"""Certificates that must not pass: infeasible points, constants, local checks, stale bounds (review round 4).

Each case is a small model written the way a user would, with the answer known
in closed form; before the fixes each one was reported ``optimal`` (or hung,
or crashed the process).
"""
from __future__ import annotations

import math
import os

import numpy as np
import pyomo.environ as pyo
import pytest
import scipy.sparse as sp

from gridgames.solvers import ModelError, SolveStatus, get_solver, nash_gap, solve_bilevel, solve_nash


# ---------------------------------------------------------------- bilevel
def _pricing(qmax, *, constant: float = 0.0, param_bound: bool = False) -> pyo.ConcreteModel:
    """Leader max p q; follower max 14 q - q^2/2 - p q + constant, q in [0, qmax] (a Var bound)."""
    m = pyo.ConcreteModel()
    m.qmax = pyo.Param(initialize=qmax, mutable=True)
    m.p = pyo.Var(bounds=(0, 20), initialize=1.0)
    m.f = pyo.Block()
    m.f.q = pyo.Var(bounds=(0, m.qmax if param_bound else qmax))
    m.f.obj = pyo.Objective(expr=14 * m.f.q - m.f.q ** 2 / 2 - m.p * m.f.q + constant, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=m.p * m.f.q, sense=pyo.maximize)
    return m


@pytest.mark.parametrize("method", ["kkt-bigm", "kkt-sos1", "strong-duality"])
def test_a_mutable_param_bound_follows_the_param_after_a_solve(method):
    # uncapped: p = 7, q = 7, F = 49; with q <= 2.5: q = 2.5 at p = 11.5, F = 28.75
    m = _pricing(8.0, param_bound=True)
    if method == "strong-duality":   # strong duality needs an LP follower: q <= qmax as a row, linear payoff
        m.f.obj.set_value(14 * m.f.q - m.p * m.f.q)
        m.obj.set_value(m.p * m.f.q - m.p ** 2 / 10)
    first = solve_bilevel(m, m.f, method=method)
    assert first.status.is_optimal
    m.qmax.set_value(2.5)
    assert m.f.q.ub == 2.5          # before: the bound stayed 8.0, a plain number
    second = solve_bilevel(m, m.f, method=method)
    assert second.status.is_optimal
    assert m.f.q.value == pytest.approx(2.5, abs=1e-5)


def test_a_point_outside_the_followers_feasible_set_is_not_optimal():
    # q = 7 breaks q <= 2.5: the point beats every feasible response, so the gap is negative (-10.1)
    m = _pricing(8.0)
    m.f.cap = pyo.Constraint(expr=m.f.q <= 2.5)
    r = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda mm: [(mm.p, 7.0), (mm.f.q, 7.0)])
    assert r.status is SolveStatus.FOLLOWER_NOT_OPTIMAL
    assert "violates its own constraints" in r.message and "'f'" in r.message


@pytest.mark.parametrize("constant", [0.0, 1e6])
def test_a_constant_in_the_follower_objective_does_not_loosen_the_certificate(constant):
    # at p = 5 the follower's best answer is q = 9 (14 - 5); q = 6 loses 4.5 whatever the constant
    m = _pricing(10.0, constant=constant)
    r = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda mm: [(mm.p, 5.0), (mm.f.q, 6.0)])
    assert r.status is SolveStatus.FOLLOWER_NOT_OPTIMAL
    assert r.follower_gap == pytest.approx(4.5, rel=1e-6)


def test_many_nonconvex_followers_checked_locally_are_not_optimal():
    # 21 followers (above GLOBAL_CHECKS): min -(y - p)^4 + y/2 on [0, 3] has a local minimum at y = 0
    # (p = 0.5) and its global one at y = 3; Ipopt's re-solve from y = 0 stays there
    K = 21
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 3))
    m.f = pyo.Block(range(K))
    for k in range(K):
        m.f[k].y = pyo.Var(bounds=(0, 3))
        m.f[k].obj = pyo.Objective(expr=-(m.f[k].y - m.p) ** 4 + 0.5 * m.f[k].y)
    m.obj = pyo.Objective(expr=m.p + sum(m.f[k].y for k in range(K)))
    r = solve_bilevel(m, m.f, method="analytic",
                      equilibrium=lambda mm: [(mm.p, 0.5)] + [(mm.f[k].y, 0.0) for k in range(K)])
    assert r.status is not SolveStatus.OPTIMAL
    if r.status is SolveStatus.LOCALLY_OPTIMAL:
        assert "not proved convex" in r.message and "solver='scip'" in r.message


def test_an_expression_scip_cannot_take_is_named():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 6), initialize=1)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 10))
    m.f.c1 = pyo.Constraint(expr=m.f.y <= m.x + 1)
    m.f.c2 = pyo.Constraint(expr=m.f.y <= 6 - m.x)
    m.f.obj = pyo.Objective(expr=m.f.y, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=abs(m.x - 2.8) + abs(m.f.y - 2.5))
    r = solve_bilevel(m, m.f, method="kkt-sos1")
    assert r.status is SolveStatus.ERROR
    assert "AbsExpression in 'obj'" in r.message and "epigraph" in r.message


def test_scip_output_goes_to_a_file_and_the_descriptors_come_back():
    # Pyomo's pipe capture deadlocked when SCIP wrote more than a pipe buffer while holding the GIL
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(30), domain=pyo.Binary)
    w = [(7 * i) % 23 + 3 for i in range(30)]
    m.c = pyo.Constraint(expr=sum(w[i] * m.x[i] for i in range(30)) <= 97)
    m.obj = pyo.Objective(expr=sum((w[i] + i % 5) * m.x[i] for i in range(30)), sense=pyo.maximize)
    before = os.fstat(2).st_ino, os.fstat(1).st_ino
    r = get_solver("scip", **{"display/verblevel": 5, "display/freq": 1}).solve(m)
    assert r.status is SolveStatus.OPTIMAL
    assert (os.fstat(2).st_ino, os.fstat(1).st_ino) == before
    # the knapsack optimum by dynamic programming
    best = np.zeros(98)
    for i in range(30):
        best[w[i]:] = np.maximum(best[w[i]:], best[:98 - w[i]] + w[i] + i % 5)
    assert r.objective == pytest.approx(best[97])


# ---------------------------------------------------------------- Nash
def _capped_cournot(start_a: float) -> pyo.ConcreteModel:
    """A: max (90 - qA - qB) qA, qA <= 30 (a row); B: min (qB - 10)^2.  Equilibrium (30, 10)."""
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.q = pyo.Var(bounds=(0, 100), initialize=start_a)
    m.B.q = pyo.Var(bounds=(0, 100), initialize=10.0)
    m.A.own = pyo.Constraint(expr=m.A.q <= 30)
    m.A.u = pyo.Objective(expr=(90 - m.A.q - m.B.q) * m.A.q, sense=pyo.maximize)
    m.B.u = pyo.Objective(expr=(m.B.q - 10) ** 2)
    return m


def test_jacobi_gap_stop_does_not_stop_at_an_infeasible_start():
    m = _capped_cournot(40.0)
    r = solve_nash(m, [m.A, m.B], method="jacobi", gap_stop=True)
    assert r.status is SolveStatus.OPTIMAL
    assert (m.A.q.value, m.B.q.value) == pytest.approx((30.0, 10.0), abs=1e-5)


def test_a_damped_run_stopped_outside_a_players_constraint_is_not_an_equilibrium():
    m = _capped_cournot(40.0)
    r = solve_nash(m, [m.A, m.B], method="gauss-seidel", damping=0.5, max_iter=3)
    assert m.A.q.value == pytest.approx(31.25)        # 40 -> 35 -> 32.5 -> 31.25
    assert r.status is SolveStatus.ITERATION_LIMIT and r.player_gaps["A"] == math.inf   # before: "optimal"
    m = _capped_cournot(40.0)
    r = solve_nash(m, [m.A, m.B], method="gauss-seidel", damping=0.5, tol=0.05)   # "converged" at 31.25
    assert r.status is SolveStatus.NOT_EQUILIBRIUM
    assert "player 'A' violates its own constraints" in r.message


def test_nash_gap_of_an_infeasible_profile_is_inf():
    m = _capped_cournot(40.0)     # A's unconstrained best answer to qB = 10; it breaks qA <= 30 and beats 30
    gaps = nash_gap(m, [m.A, m.B])
    assert gaps["A"] == math.inf and gaps["B"] <= 1e-8


def test_nan_data_in_mcp_is_named():
    m = _capped_cournot(20.0)
    m.A.q.setub(float("nan"))
    with pytest.raises(ModelError, match="A.q"):
        solve_nash(m, [m.A, m.B], method="mcp")


# ---------------------------------------------------------------- numerics
def test_structurally_singular_newton_matrix_is_refused_before_superlu():
    from gridgames.solvers.games.mcp import _newton_direction
    H = sp.csc_matrix(np.array([[1.0, 0.0], [2.0, 0.0]]))   # an empty column
    assert _newton_direction(H, np.ones(2)) is None
    assert _newton_direction(sp.csc_matrix(np.eye(2)), np.ones(2)) == pytest.approx([-1.0, -1.0])


def test_multiplier_estimate_starts_newton_at_the_buyers_equilibrium():
    # the microgrid margin stage, 10 sellers x 200 buyers: from the buyers' exact equilibrium (the family's
    # numpy solver) with zero multipliers Newton did not converge in 500 iterations; with the LP estimate
    # the start already solves the system (buyers at r = 0 behind binding capacities need the sign rows)
    from gridgames.models.microgrid.config import MarketSpec, random_market
    from gridgames.models.microgrid.margins import build_margin_game
    from gridgames.solvers.games.mcp import solve_mcp
    from gridgames.solvers.games.multipliers import estimate_multipliers
    from gridgames.solvers.games.stacked_kkt import StackedKKT

    market = random_market(200, MarketSpec(n_sellers=10), 7)
    m = build_margin_game(market)
    for j in range(1, 10):
        m.seller[j].eps.fix()
    system = StackedKKT(m, [m.buyer[i] for i in range(200)], parameters=[m.seller[0].eps])
    z = estimate_multipliers(system, system.start())
    assert np.any(z[system.n_y:] != 0.0)
    res = solve_mcp(system.F, system.J, system.lb, system.ub, z, tol=1e-9, max_iter=5, levenberg_marquardt=True)
    assert res.ok and res.newton_steps <= 2


def _kelly(start: float) -> pyo.ConcreteModel:
    """Kelly's mechanism (Johari and Tsitsiklis 2004): payoff a_i w_i / (w_1 + w_2) - w_i, a = (2, 1).
    Equilibrium w = (4/9, 2/9); at w = 0 every payoff is 0/0."""
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(2))
    for i in range(2):
        m.P[i].w = pyo.Var(bounds=(0, 10), initialize=start)
    total = m.P[0].w + m.P[1].w
    for i, a in enumerate((2.0, 1.0)):
        m.P[i].u = pyo.Objective(expr=a * m.P[i].w / total - m.P[i].w, sense=pyo.maximize)
    return m


def test_a_profile_where_the_payoffs_are_undefined_gives_a_status_not_a_traceback():
    m = _kelly(0.0)
    r = solve_nash(m, m.P, method="jacobi")
    assert r.status is SolveStatus.ERROR
    assert "could not be computed" in r.message and "start inside the box" in r.message
    m = _kelly(1.0)
    r = solve_nash(m, m.P, method="mcp")
    assert r.status is SolveStatus.LOCALLY_OPTIMAL   # Kelly payoffs: concavity sampled, not proved
    assert [m.P[i].w.value for i in range(2)] == pytest.approx([4 / 9, 2 / 9], abs=1e-7)


def test_gauss_seidel_names_a_cycle_instead_of_running_to_the_iteration_limit():
    # continuous matching pennies: A min (x - y)^2, B max (x - y)^2 on [0, 1]: no pure equilibrium, the best
    # responses jump between the corners (0,1) -> (1,1) -> (1,0) -> (0,0) -> ...
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.x = pyo.Var(bounds=(0, 1), initialize=0.3)
    m.B.y = pyo.Var(bounds=(0, 1), initialize=0.6)
    m.A.u = pyo.Objective(expr=(m.A.x - m.B.y) ** 2)
    m.B.u = pyo.Objective(expr=(m.A.x - m.B.y) ** 2, sense=pyo.maximize)
    r = solve_nash(m, [m.A, m.B], method="gauss-seidel")
    assert r.status is SolveStatus.ITERATION_LIMIT
    assert "cycle with period 2" in r.message and r.iterations < 10
    assert r.gap == pytest.approx(1.0, abs=1e-6)


def _households(price: float) -> pyo.ConcreteModel:
    """One price, four households max 10 x - x^2/2 - p x (x in [0, 8]); leader max p X - 0.1 X^2.
    Closed form: X = 4 (10 - p) on the interior, so p* = 45/7, profit 500/7."""
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 20), initialize=price)
    m.H = pyo.Block(range(4))
    for h in range(4):
        m.H[h].x = pyo.Var(bounds=(0, 8))
        m.H[h].obj = pyo.Objective(expr=10 * m.H[h].x - m.H[h].x ** 2 / 2 - m.p * m.H[h].x, sense=pyo.maximize)
    total = sum(m.H[h].x for h in range(4))
    m.obj = pyo.Objective(expr=m.p * total - 0.1 * total ** 2, sense=pyo.maximize)
    return m


def test_implicit_leaves_a_plateau_where_every_follower_buys_nothing():
    # before: the first L-BFGS-B step went to p = 20 (nobody buys, profit 0, gradient 0): locally_optimal
    m = _households(0.5)
    r = solve_bilevel(m, m.H, method="implicit")
    assert r.status is SolveStatus.LOCALLY_OPTIMAL, r.message
    assert m.p.value == pytest.approx(45 / 7, abs=1e-6) and r.objective == pytest.approx(500 / 7, rel=1e-8)
    assert r.extra["flat_scans"] == 1


def test_analytic_says_the_leader_is_taken_on_trust_and_refuses_a_list():
    m = _households(5.0)
    r = solve_bilevel(m, m.H, method="analytic",
                      equilibrium=lambda mm: [(mm.p, 5.0)] + [(mm.H[h].x, 5.0) for h in range(4)])
    assert r.status is SolveStatus.FEASIBLE and "leader's optimality is the closed form's claim" in r.message
    with pytest.raises(ModelError, match="response must be a function"):
        m2 = _households(5.0)
        solve_bilevel(m2, m2.H, method="analytic", response=[(m2.H[0].x, 10 - m2.p)])


def _feeder() -> pyo.ConcreteModel:
    """Three consumers min w_i/2 (x_i - d_i)^2 + 0.2 X x_i sharing a feeder X <= 6 (a generalized game)."""
    d, w = (5.0, 4.0, 6.0), (1.0, 2.0, 0.5)
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(3))
    for i in range(3):
        m.P[i].x = pyo.Var(bounds=(0, 20), initialize=0.0)
    total = sum(m.P[i].x for i in range(3))
    for i in range(3):
        m.P[i].cost = pyo.Objective(expr=w[i] / 2 * (m.P[i].x - d[i]) ** 2 + 0.2 * total * m.P[i].x)
    m.feeder = pyo.Constraint(expr=total <= 6.0)
    return m


def test_nash_gap_where_the_others_already_exceed_a_shared_limit():
    # at (5, 5, 5) no player has a feasible answer (the others use 10 > 6): inf, not a ModelError
    m = _feeder()
    for i in range(3):
        m.P[i].x.set_value(5.0)
    assert set(nash_gap(m, m.P).values()) == {math.inf}


def test_pso_ranks_particles_outside_a_shared_limit_instead_of_failing():
    m = _feeder()
    r = solve_nash(m, m.P, method="pso", pop_size=10, n_gen=15, seed=2)   # before: ModelError from inside pymoo
    assert r.status in (SolveStatus.NOT_EQUILIBRIUM, SolveStatus.OPTIMAL), r.message
    assert sum(m.P[i].x.value for i in range(3)) <= 6.0 + 1e-6
    m = _feeder()
    r = solve_nash(m, m.P, method="pso", pop_size=8, n_gen=3, seed=2)       # no feasible particle yet
    assert r.status is SolveStatus.ITERATION_LIMIT and set(r.player_gaps.values()) == {math.inf}


# ---------------------------------------------------------------- review round 5
def _log_player(m: pyo.Block) -> None:
    """max log(1 + y), y >= 0 with no upper bound: no best response (the supremum is not attained)."""
    m.y = pyo.Var(bounds=(0, None), initialize=1.0)
    m.u = pyo.Objective(expr=pyo.log(1 + m.y), sense=pyo.maximize)


def _unbounded_and_monopolist() -> pyo.ConcreteModel:
    """Player A with the unbounded log payoff beside a monopolist B (q* = 50)."""
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    _log_player(m.A)
    m.B.q = pyo.Var(bounds=(0, 100))
    m.B.u = pyo.Objective(expr=(100 - m.B.q) * m.B.q, sense=pyo.maximize)
    return m


def test_a_player_whose_problem_is_unbounded_is_not_an_equilibrium():
    # before: gauss-seidel "optimal" with gap 0 at y = 1.3e8, where Ipopt's gradient test stops
    m = _unbounded_and_monopolist()
    r = solve_nash(m, [m.A, m.B], method="gauss-seidel")
    assert r.status is SolveStatus.NOT_EQUILIBRIUM, r.message
    assert "player 'A''s problem looks unbounded: its variable 'A.y'" in r.message
    assert m.B.q.value == pytest.approx(50.0, abs=1e-5)


@pytest.mark.parametrize("method", ["kkt", "nested"])
def test_a_follower_whose_problem_is_unbounded_is_not_certified(method):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.f = pyo.Block()
    _log_player(m.f)
    m.f.c = pyo.Constraint(expr=m.f.y >= m.x)
    m.obj = pyo.Objective(expr=m.x)
    options = {"n_gen": 5, "pop_size": 6} if method == "nested" else {}
    r = solve_bilevel(m, m.f, method=method, **options)
    assert r.status is SolveStatus.FOLLOWER_NOT_OPTIMAL, r.message
    assert "follower 'f''s problem looks unbounded: its variable 'f.y'" in r.message


def test_a_large_value_within_the_scale_of_the_bounds_is_not_called_unbounded():
    # annual energy in Wh: 4e7 with no upper bound beside a 1e6 capacity is an ordinary number
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.e = pyo.Var(bounds=(0, None))
    m.A.cap = pyo.Var(bounds=(0, 1e6))
    m.A.u = pyo.Objective(expr=(m.A.e - 4e7) ** 2 + (m.A.cap - 5e5) ** 2)
    m.B.q = pyo.Var(bounds=(0, 100))
    m.B.u = pyo.Objective(expr=(m.B.q - 3) ** 2)
    r = solve_nash(m, [m.A, m.B], method="gauss-seidel")
    assert r.status is SolveStatus.OPTIMAL, r.message
    assert m.A.e.value == pytest.approx(4e7, rel=1e-6)


@pytest.mark.parametrize("extra", ["leader", "leader squared", "leader exp", "param times leader"])
def test_terms_in_the_leaders_variables_do_not_loosen_the_follower_tolerance(extra):
    # follower min (y − x)² + E with E free of y; the response y = x + 3 has gap 9.  Before: E = 1e6·x (or
    # any term in the leader's variables) scaled the tolerance to 10 and the status said optimal
    m = pyo.ConcreteModel()
    m.K = pyo.Param(initialize=1e6, mutable=True)
    m.x = pyo.Var(bounds=(0, 2), initialize=1.0)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(-10, 10))
    e = {"leader": 1e6 * m.x, "leader squared": 1e6 * m.x ** 2, "leader exp": 1e6 * pyo.exp(m.x),
         "param times leader": m.K * m.x}[extra]
    m.f.obj = pyo.Objective(expr=(m.f.y - m.x) ** 2 + e)
    m.obj = pyo.Objective(expr=m.x)
    r = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda b: [(b.x, 1.0), (b.f.y, 4.0)])
    assert r.status is SolveStatus.FOLLOWER_NOT_OPTIMAL, r.message
    assert "gap 9 > tolerance 9e-05" in r.message


def test_terms_in_the_rivals_variables_do_not_loosen_a_players_tolerance():
    # A: min (a + 0.01)² + 1e6·b over a >= 0.  kkt with its regularisation stopped at 1e-4 leaves a ~ 0.004
    # (gain ~1e-4 > 1e-5); before: the tolerance scaled with 1e6·b = 1e6, so the status said optimal
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.a = pyo.Var(bounds=(0, 5), initialize=1.0)
    m.B.b = pyo.Var(bounds=(0, 5), initialize=1.0)
    m.A.u = pyo.Objective(expr=(m.A.a + 0.01) ** 2 + 1e6 * m.B.b)
    m.B.u = pyo.Objective(expr=(m.B.b - 1) ** 2)
    r = solve_nash(m, [m.A, m.B], method="kkt", eps_start=1e-4, eps_final=1e-4)
    a = m.A.a.value
    assert a > 1e-3
    assert r.player_gaps["A"] == pytest.approx((a + 0.01) ** 2 - 0.01 ** 2, rel=1e-4)
    assert r.status is SolveStatus.NOT_EQUILIBRIUM, r.message
    assert "player 'A' is not optimal" in r.message


def test_a_nonconvex_player_checked_by_a_named_local_solver_is_locally_optimal_only():
    # A: min (a − 3)²; B: min cos(3b) + 0.01 (b − a)² on [0, 6] from b = 5: Ipopt stays at the local
    # minimum b = 5.231 (B gains 0.0497 by moving to b = 3.1413).  Before: "optimal", gap 0, with
    # solver='ipopt' (and with 21 copies of B, over the 20 players SCIP re-checks)
    m = pyo.ConcreteModel()
    m.A, m.B = pyo.Block(), pyo.Block()
    m.A.a = pyo.Var(bounds=(0, 6), initialize=3.0)
    m.B.b = pyo.Var(bounds=(0, 6), initialize=5.0)
    m.A.u = pyo.Objective(expr=(m.A.a - 3) ** 2)
    m.B.u = pyo.Objective(expr=pyo.cos(3 * m.B.b) + 0.01 * (m.B.b - m.A.a) ** 2)
    for method in ("gauss-seidel", "mcp"):
        r = solve_nash(m, [m.A, m.B], method=method, solver="ipopt")
        assert r.status is SolveStatus.LOCALLY_OPTIMAL, r.message
        assert "locally optimal only: player 'B' is nonlinear" in r.message
    assert nash_gap(m, [m.A, m.B])["B"] == pytest.approx(0.0497, abs=1e-3)   # the default check is global


# ---------------------------------------------------------------- review round 6 (of round 5's changes)
def test_a_large_variable_held_by_a_constraint_is_not_called_unbounded():
    # energy in joules, e = 3.6e6 p with e >= 0 only: e = 6.86e7 at the equilibrium p = 20/1.05.
    # Before: "looks unbounded", not_equilibrium (the check read the bounds, not the constraint)
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(2))
    for i in range(2):
        m.P[i].p = pyo.Var(bounds=(0, 50), initialize=1.0)
        m.P[i].e = pyo.Var(bounds=(0, None), initialize=1.0)
        m.P[i].joules = pyo.Constraint(expr=m.P[i].e == 3.6e6 * m.P[i].p)
    for i in range(2):
        m.P[i].u = pyo.Objective(expr=(m.P[i].p - 20) ** 2 + 0.1 * m.P[i].p * m.P[1 - i].p)
    r = solve_nash(m, m.P, method="gauss-seidel")
    assert r.status is SolveStatus.OPTIMAL, r.message
    assert m.P[0].e.value == pytest.approx(3.6e6 * 20 / 1.05, rel=1e-6)


def test_the_unbounded_verdict_is_not_undone_by_the_iteration_limit_upgrade():
    # before: gauss-seidel with max_iter=1 said locally_optimal ("looks unbounded" and "an equilibrium")
    m = _unbounded_and_monopolist()
    r = solve_nash(m, [m.A, m.B], method="gauss-seidel", max_iter=1)
    assert r.status is SolveStatus.NOT_EQUILIBRIUM, r.message
    assert r.message.startswith("player 'A''s problem looks unbounded")


@pytest.mark.parametrize("form", ["negated", "halved", "divided"])
def test_a_constant_under_a_negation_or_constant_factor_does_not_loosen_the_tolerance(form):
    # Cournot P = 100 − Q, cost 10, one sweep from (20, 20) ends at (35, 27.5): not an equilibrium.
    # Before: −(profit − 1e9) (or ½·(...), (...)/1000) scaled the tolerance by 1e9 and said optimal
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(2))
    for i in range(2):
        m.F[i].q = pyo.Var(bounds=(0, 100), initialize=20.0)
    for i in range(2):
        profit = (100 - m.F[0].q - m.F[1].q - 10) * m.F[i].q - 1e9
        expr, sense = {"negated": (-profit, pyo.minimize), "halved": (0.5 * profit, pyo.maximize),
                       "divided": (profit / 1000, pyo.maximize)}[form]
        m.F[i].u = pyo.Objective(expr=expr, sense=sense)
    r = solve_nash(m, m.F, method="gauss-seidel", max_iter=1)
    assert r.status is not SolveStatus.OPTIMAL, r.message
    assert r.gap > 1e-3


def test_a_local_re_solve_worse_than_the_point_certifies_nothing():
    """A player's local (uncertified) re-solve that ends worse than the returned point did not find its best
    response there: its 'gap' is negative and proves nothing, so optimal becomes feasible; a certified one
    that much worse means the point is outside the player's feasible set."""
    from gridgames.solvers.games.status import judge_feasibility
    from gridgames.solvers.result import SolveResult

    for certified, expected in ((False, SolveStatus.FEASIBLE), (True, SolveStatus.NOT_EQUILIBRIUM)):
        r = SolveResult(SolveStatus.LOCALLY_OPTIMAL, 1.0, message="converged")
        judge_feasibility(r, {"A": (0.0, -0.5, 1.0, certified), "B": (0.0, -1e-9, 1.0, certified)}, gap_tol=1e-5,
                          feas_tol=1e-6, failed=SolveStatus.NOT_EQUILIBRIUM, role="player")
        assert r.status is expected and "'A'" in r.message and "'B'" not in r.message
