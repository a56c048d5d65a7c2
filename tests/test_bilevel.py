"""solve_bilevel on problems with known optima (literature or derived by hand)."""
from __future__ import annotations

import pyomo.environ as pyo
import pytest

from gridgames.solvers import (ModelError, SolveStatus, UnsupportedModelError, available_solvers, solve_bilevel,
                               verify)


# ---------------------------------------------------------------------------
# A linear bilevel problem from the literature: Moore & Bard (1990), the
# continuous version of their example (also Bard 1998, "Practical Bilevel
# Optimization", example 5.1.1):
#   min_x  -x - 10y
#   s.t.   y in argmin_y { y : -25x + 20y <= 30, x + 2y <= 10, 2x - y <= 15,
#                              2x + 10y >= 15, y >= 0 },  x >= 0.
# Known optimum of the continuous problem: (x, y) = (8, 1), F = -18.
# ---------------------------------------------------------------------------
def moore_bard() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 20))
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 20))
    m.f.c1 = pyo.Constraint(expr=-25 * m.x + 20 * m.f.y <= 30)
    m.f.c2 = pyo.Constraint(expr=m.x + 2 * m.f.y <= 10)
    m.f.c3 = pyo.Constraint(expr=2 * m.x - m.f.y <= 15)
    m.f.c4 = pyo.Constraint(expr=2 * m.x + 10 * m.f.y >= 15)
    m.f.obj = pyo.Objective(expr=m.f.y)
    m.obj = pyo.Objective(expr=-m.x - 10 * m.f.y)
    return m


@pytest.mark.parametrize("method,solver,options", [
    ("kkt-bigm", "highs", {"multiplier_bound": 100.0}),
    ("strong-duality", "scip", {"multiplier_bound": 100.0}),
])
def test_linear_bilevel_from_the_literature(method, solver, options):
    m = moore_bard()
    result = solve_bilevel(m, m.f, method=method, solver=solver, **options)
    # the right answer, but within a multiplier bound the engine could not prove: feasible, not optimal
    assert result.status is SolveStatus.FEASIBLE and "not proved" in result.message, result.message
    assert result.objective == pytest.approx(-18.0, rel=1e-6)
    assert (m.x.value, m.f.y.value) == pytest.approx((8.0, 1.0), abs=1e-5)
    assert result.follower_gap == pytest.approx(0.0, abs=1e-6)
    if method == "kkt-bigm":
        assert result.extra["max_multiplier_ratio"] < 1.0   # the bound given did not bind


def test_kkt_bigm_without_provable_bounds_falls_back_to_sos1_and_says_so():
    # the follower's dual polyhedron is unbounded: no big-M can be proved for its multipliers
    m = moore_bard()
    result = solve_bilevel(m, m.f, method="kkt-bigm")
    assert result.status is SolveStatus.OPTIMAL and result.objective == pytest.approx(-18.0, rel=1e-9)
    assert result.solver == "scip" and result.extra["complementarity_modes"]["sos1"] > 0
    assert "SOS1" in result.message
    m = moore_bard()   # HiGHS takes no SOS1 sets: the error says what to do
    with pytest.raises(ModelError, match=r"SOS1.*solver='scip'.*multiplier_bound="):
        solve_bilevel(m, m.f, method="kkt-bigm", solver="highs")


# ---------------------------------------------------------------------------
# Quadratic follower with an active bound, and the pricing closed form.
# Leader sells at price p in [0, 10]; follower buys q in [0, qmax] maximising
# utility 10q - q^2/2 - pq.  Unclipped response q = 10 - p; revenue p(10 - p)
# peaks at p = 5 (q = 5, revenue 25).  With qmax = 3 the bound binds: for
# p <= 7 the follower buys 3, so the leader raises p to 7 (q = 3, revenue 21);
# for p > 7 revenue p(10 - p) < 21.
# ---------------------------------------------------------------------------
def pricing(qmax: float) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10), initialize=1.0)
    m.f = pyo.Block()
    m.f.q = pyo.Var(bounds=(0, qmax))
    m.f.obj = pyo.Objective(expr=10 * m.f.q - m.f.q ** 2 / 2 - m.p * m.f.q, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=m.p * m.f.q, sense=pyo.maximize)
    return m


@pytest.mark.parametrize("method,options,rel", [
    ("kkt", {}, 1e-6),
    ("kkt-bigm", {}, 1e-6),
    ("nested", {"n_gen": 25, "pop_size": 20, "seed": 3}, 1e-3),
])
@pytest.mark.parametrize("qmax,price,quantity,revenue", [(8.0, 5.0, 5.0, 25.0), (3.0, 7.0, 3.0, 21.0)])
def test_pricing_with_quadratic_follower(method, options, rel, qmax, price, quantity, revenue):
    m = pricing(qmax)
    result = solve_bilevel(m, m.f, method=method, **options)
    assert result.ok, result.message
    assert result.objective == pytest.approx(revenue, rel=rel)
    assert m.p.value == pytest.approx(price, rel=10 * rel)
    assert m.f.q.value == pytest.approx(quantity, rel=10 * rel)
    assert result.follower_gap == pytest.approx(0.0, abs=1e-6)
    if method == "kkt-bigm":
        assert result.solver == "scip"   # bilinear p*q: MIQP/MINLP, global


def test_analytic_method_with_closed_form_response():
    m = pricing(8.0)
    result = solve_bilevel(m, m.f, method="analytic", response=lambda mm: [(mm.f.q, 10 - mm.p)])
    assert result.objective == pytest.approx(25.0, rel=1e-7)
    assert m.p.value == pytest.approx(5.0, rel=1e-6)


def test_analytic_method_with_closed_form_equilibrium_and_verify_catches_a_wrong_one():
    m = pricing(8.0)
    right = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda mm: [(mm.p, 5.0), (mm.f.q, 5.0)])
    assert right.objective == pytest.approx(25.0)
    assert right.follower_gap == pytest.approx(0.0, abs=1e-9)
    # the followers are checked, the leader's choice is the closed form's claim: feasible, never optimal --
    # p = 1 with q = 8 is the follower's best response to a poor price (revenue 8 < 25)
    assert right.status is SolveStatus.FEASIBLE and "not certified" in right.message
    poor = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda mm: [(mm.p, 1.0), (mm.f.q, 8.0)])
    assert poor.status is SolveStatus.FEASIBLE and poor.objective == pytest.approx(8.0)
    # q = 6 at p = 5 is not the follower's best response: utility 60-18-30 = 12 < 12.5
    wrong = solve_bilevel(m, m.f, method="analytic", equilibrium=lambda mm: [(mm.p, 5.0), (mm.f.q, 6.0)])
    assert wrong.follower_gap == pytest.approx(0.5, rel=1e-6)
    checks = verify(m, m.f)
    assert checks[0].gap == pytest.approx(0.5, rel=1e-6)


def test_several_followers():
    # Two independent buyers with utilities a_i q - q^2/2 - p q (a = 10, 6), one price.
    # Demand (10 - p) + (6 - p) for p <= 6: revenue p(16 - 2p), max at p = 4 (q = 6, 2) -> 32;
    # for p in (6, 10] only buyer 1 buys: p(10 - p) <= 25 < 32.
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10), initialize=1.0)
    m.B = pyo.Block([10.0, 6.0])
    for a in (10.0, 6.0):
        m.B[a].q = pyo.Var(bounds=(0, 20))
        m.B[a].obj = pyo.Objective(expr=a * m.B[a].q - m.B[a].q ** 2 / 2 - m.p * m.B[a].q, sense=pyo.maximize)
    m.obj = pyo.Objective(expr=m.p * (m.B[10.0].q + m.B[6.0].q), sense=pyo.maximize)
    for method in ("kkt", "kkt-bigm"):
        result = solve_bilevel(m, m.B, method=method)
        assert result.objective == pytest.approx(32.0, rel=1e-6), method
        assert result.follower_objectives == pytest.approx({"B[10.0]": 18.0, "B[6.0]": 2.0}, rel=1e-5)


def test_nonconvex_follower_rejected_with_block_and_term():
    m = pricing(8.0)
    m.f.obj.deactivate()
    m.f.bad = pyo.Objective(expr=10 * m.f.q + m.f.q ** 2 - m.p * m.f.q, sense=pyo.maximize)
    for method in ("kkt", "kkt-bigm"):
        with pytest.raises(UnsupportedModelError,
                           match=r"f: the objective is not concave for a maximisation.*eigenvalue 2 .*f\.q.*nested"):
            solve_bilevel(m, m.f, method=method)


def test_integer_follower_rejected_by_kkt_but_solved_by_nested():
    # follower buys an integer quantity: response at p is floor/ceil of 10 - p;
    # leader revenue p*q with q integer: best p just below the indifference point.
    m = pricing(8.0)
    m.f.q.domain = pyo.Integers
    with pytest.raises(UnsupportedModelError, match="integer.*nested"):
        solve_bilevel(m, m.f, method="kkt")
    result = solve_bilevel(m, m.f, method="nested", n_gen=20, pop_size=20)
    # q = 5 requires utility(5) >= utility(6): 50-12.5-5p >= 60-18-6p -> p >= 4.5; q=5 beats q=4
    # iff 50-12.5-5p >= 40-8-4p -> p <= 5.5; revenue 5*5.5 = 27.5 (q=4 at p=6.5: 26).
    assert result.objective == pytest.approx(27.5, rel=1e-3)
    assert round(m.f.q.value) == 5


def test_infeasible_leader_is_reported():
    m = pricing(8.0)
    m.floor = pyo.Constraint(expr=m.f.q >= 9)   # follower can never buy 9 (q <= 8)
    for method in ("kkt-bigm",):
        result = solve_bilevel(m, m.f, method=method)
        assert result.status is SolveStatus.INFEASIBLE
        assert result.objective is None
    result = solve_bilevel(m, m.f, method="nested", n_gen=5, pop_size=10)
    # a search proves nothing: no feasible candidate is an iteration limit, with no point
    assert result.status is SolveStatus.ITERATION_LIMIT and result.objective is None
    assert "not a proof of infeasibility" in result.message


def test_bad_calls_are_clear():
    m = pricing(8.0)
    with pytest.raises(ModelError, match="unknown bilevel method 'kkkt'"):
        solve_bilevel(m, m.f, method="kkkt")
    with pytest.raises(ModelError, match="unknown option.*n_gens"):
        solve_bilevel(m, m.f, method="nested", n_gens=3)
    m.f.second = pyo.Objective(expr=m.f.q)
    with pytest.raises(ModelError, match="exactly one active Objective, found 2"):
        solve_bilevel(m, m.f)


def test_nested_parallel_workers_match_serial():
    serial = pricing(8.0)
    a = solve_bilevel(serial, serial.f, method="nested", n_gen=8, pop_size=12, seed=7)
    parallel = pricing(8.0)
    b = solve_bilevel(parallel, parallel.f, method="nested", n_gen=8, pop_size=12, seed=7, workers=2)
    assert b.objective == pytest.approx(a.objective, rel=1e-9)
    assert b.upper_evaluations == a.upper_evaluations


def test_local_follower_check_is_flagged_and_scip_certifies_it():
    # SMD12 at its published optimum with the follower moved to another local optimum: Ipopt's
    # re-solve stays there (gap ~0, not certified); SCIP finds the better response (gap 16), and is
    # what verify picks by default for this nonconvex follower (cubic rows) when it is installed
    from gridgames.benchmarks.smd import build_smd
    from gridgames.solvers import verify

    problem = build_smd(12, 1, 2, 1)
    problem.load_optimum()
    for i in (0, 1):
        problem.follower.xl1[i].set_value(-1)
    local = verify(problem.model, problem.follower, solver="ipopt")
    assert not local[0].certified and abs(local[0].gap) < 1e-5
    proven = verify(problem.model, problem.follower, solver="scip")
    assert proven[0].certified and proven[0].gap == pytest.approx(16.0, rel=1e-3)
    if "scip" in available_solvers():
        default = verify(problem.model, problem.follower)
        assert default[0].certified and default[0].gap == pytest.approx(16.0, rel=1e-3)


def test_nested_runs_the_callers_algorithm_object_in_place():
    from pymoo.algorithms.soo.nonconvex.ga import GA

    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 4), initialize=1.0)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 10))
    m.f.obj = pyo.Objective(expr=(m.f.y - m.x) ** 2)
    m.obj = pyo.Objective(expr=(m.x - 3) ** 2 + (m.f.y - 1) ** 2)
    algorithm = GA(pop_size=6)
    solve_bilevel(m, m.f, method="nested", algorithm=algorithm, n_gen=3, polish_evaluations=0)
    assert algorithm.is_initialized and algorithm.n_gen >= 3
