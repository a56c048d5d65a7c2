"""Bad input to the game engine gets an error naming the cause (review round 5).

Each case was written the way a user would; before, each gave a misleading
message, a message naming an internal row, or a bare ``TypeError``.
"""
from __future__ import annotations

import pyomo.environ as pyo
import pytest

from gridgames.solvers import ModelError, SolveStatus, solve_bilevel, solve_nash


def _bilevel(c: float = 1.0) -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.c = pyo.Param(initialize=c, mutable=True)
    m.x = pyo.Var(bounds=(0, 5))
    m.f = pyo.Block([0, 1])
    for i in m.f:
        m.f[i].y = pyo.Var(bounds=(0, 5))
        m.f[i].o = pyo.Objective(expr=(m.f[i].y - m.x) ** 2 + m.c * m.f[i].y)
    m.o = pyo.Objective(expr=(m.x - 1) ** 2 + sum(m.f[i].y for i in m.f))
    return m


def test_the_model_itself_a_block_of_another_model_or_a_deactivated_block_are_named():
    m, other = _bilevel(), _bilevel()
    with pytest.raises(ModelError, match="the follower block is the model itself"):
        solve_bilevel(m, m)
    with pytest.raises(ModelError, match=r"follower block 'f\[0\]' belongs to another model"):
        solve_bilevel(m, other.f)
    m.f[1].deactivate()
    with pytest.raises(ModelError, match=r"follower block 'f\[1\]' is deactivated"):
        solve_bilevel(m, m.f)
    with pytest.raises(ModelError, match="the player block is the model itself"):
        solve_nash(m, m, method="mcp")


@pytest.mark.parametrize("method", ["kkt", "kkt-bigm", "kkt-sos1", "nested"])
def test_an_infinite_coefficient_in_a_follower_objective_names_that_objective(method):
    # before: kkt named its own row '_gg_kkt_0.stationarity[0]'; nested's array path 'solve_qp: ... c'
    m = _bilevel(float("inf"))
    options = {"n_gen": 2, "pop_size": 4} if method == "nested" else {}
    with pytest.raises(ModelError, match=r"objective 'f\[0\]\.o': Param 'c' = inf"):
        solve_bilevel(m, m.f, method=method, **options)


def test_a_ranged_inequality_with_a_variable_side_is_named_as_such():
    m = _bilevel()
    m.f[0].r = pyo.Constraint(expr=pyo.inequality(m.x, m.f[0].y, m.x + 1))
    with pytest.raises(ModelError, match=r"constraint 'f\[0\]\.r' is a ranged inequality whose lower side "
                                         "depends on a variable: write it as two constraints"):
        solve_bilevel(m, m.f, method="kkt")


def test_an_equilibrium_callable_returning_no_pairs_is_named():
    m = _bilevel()
    with pytest.raises(ModelError, match=r"equilibrium\(\) must return \(variable, value\) pairs.*got int 3"):
        solve_bilevel(m, m.f, method="analytic", equilibrium=lambda b: 3)


def test_implicit_names_the_follower_infeasible_beyond_part_of_the_box():
    # follower min (y − 0.5)², y in [0, 1], y >= x: infeasible for x > 1; leader min −x − y: x = y = 1
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 3), initialize=0.5)
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 1))
    m.f.c = pyo.Constraint(expr=m.f.y >= m.x)
    m.f.o = pyo.Objective(expr=(m.f.y - 0.5) ** 2)
    m.o = pyo.Objective(expr=-m.x - m.f.y)
    r = solve_bilevel(m, m.f, method="implicit")
    assert r.status is SolveStatus.FEASIBLE, r.message
    assert (m.x.value, m.f.y.value) == pytest.approx((1.0, 1.0), abs=1e-6)
    assert "solved alone at x=1.0" in r.message and "follower 'f' is infeasible" in r.message


def test_kkt_failing_on_repeated_follower_rows_says_so():
    # y1 + y2 == 1 written twice (once doubled) and once more as <=: LICQ fails wherever they are active.
    # Before: status error with Ipopt's "Restoration phase failed" alone
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.f = pyo.Block()
    m.f.y1, m.f.y2 = pyo.Var(bounds=(-10, 10)), pyo.Var(bounds=(-10, 10))
    m.f.c = pyo.Constraint(expr=m.f.y1 + m.f.y2 == 1)
    m.f.c2 = pyo.Constraint(expr=2 * m.f.y1 + 2 * m.f.y2 == 2)
    m.f.c3 = pyo.Constraint(expr=m.f.y1 + m.f.y2 <= 1)
    m.f.o = pyo.Objective(expr=(m.f.y1 - m.x) ** 2 + m.f.y2 ** 2)
    m.o = pyo.Objective(expr=m.x ** 2 + (m.f.y1 - 2) ** 2)
    r = solve_bilevel(m, m.f, method="kkt")
    if not r.status.is_ok:   # Ipopt may or may not survive the dependent rows; when it does not, say why
        assert "rows that repeat earlier ones (f.c2, f.c3)" in r.message, r.message
    from gridgames.solvers.games.kkt import dependent_rows
    from gridgames.solvers.games.structure import analyse_agents
    assert dependent_rows(analyse_agents(m, m.f)[0]) == ["f.c2", "f.c3"]
    m.f.c2.deactivate()
    m.f.c3.deactivate()
    assert dependent_rows(analyse_agents(m, m.f)[0]) == []


# ---------------------------------------------------------------------------
# Review round 7 (a newcomer's afternoon): each failed before its fix
# ---------------------------------------------------------------------------
def _pricing() -> pyo.ConcreteModel:
    """The README's bilevel: p = 5, q = 5, revenue 25."""
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10))
    m.users = pyo.Block()
    m.users.q = pyo.Var(bounds=(0, 8))
    m.users.welfare = pyo.Objective(expr=10 * m.users.q - m.users.q ** 2 / 2 - m.p * m.users.q, sense=pyo.maximize)
    m.revenue = pyo.Objective(expr=m.p * m.users.q, sense=pyo.maximize)
    return m


def test_followers_given_as_a_generator_are_read_once():
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10))
    m.U = pyo.Block(range(2))
    for i in m.U:
        m.U[i].q = pyo.Var(bounds=(0, 8))
        m.U[i].w = pyo.Objective(expr=10 * m.U[i].q - m.U[i].q ** 2 / 2 - m.p * m.U[i].q, sense=pyo.maximize)
    m.revenue = pyo.Objective(expr=m.p * sum(m.U[i].q for i in m.U), sense=pyo.maximize)
    r = solve_bilevel(m, (b for b in m.U.values()), method="kkt-bigm")
    assert r.status is SolveStatus.OPTIMAL and r.objective == pytest.approx(50.0, rel=1e-6)
    assert set(r.follower_objectives) == {"U[0]", "U[1]"}


def test_a_param_without_a_value_is_named_not_a_pyomo_value_error():
    m = _pricing()
    m.a = pyo.Param(mutable=True)
    m.users.welfare.expr = m.a * m.users.q - m.users.q ** 2 / 2 - m.p * m.users.q
    for method in ("kkt", "nested"):
        with pytest.raises(ModelError, match="Param 'a' has no numeric value"):
            solve_bilevel(m, m.users, method=method)
    g = pyo.ConcreteModel()
    g.a = pyo.Param(mutable=True)
    g.F = pyo.Block(range(2))
    for i in g.F:
        g.F[i].q = pyo.Var(bounds=(0, 100))
    for i in g.F:
        g.F[i].o = pyo.Objective(expr=(g.a - g.F[0].q - g.F[1].q) * g.F[i].q, sense=pyo.maximize)
    with pytest.raises(ModelError, match="Param 'a' has no numeric value"):
        solve_nash(g, g.F, method="gauss-seidel")


@pytest.mark.parametrize("method", ["kkt", "kkt-bigm", "kkt-sos1"])
def test_an_infeasible_leader_row_is_named(method):
    m = _pricing()
    m.c = pyo.Constraint(expr=m.p >= 12)        # p is in [0, 10]
    r = solve_bilevel(m, m.users, method=method)
    assert r.status is SolveStatus.INFEASIBLE
    assert "the leader's constraint(s) 'c'" in r.message and "below 12" in r.message


def test_implicit_refuses_a_solver_it_would_not_use():
    m = _pricing()
    with pytest.raises(ModelError, match="'implicit' takes no solver="):
        solve_bilevel(m, m.users, method="implicit", solver="no-such-solver")


def test_misspelled_options_get_suggestions_and_the_common_keywords():
    m = _pricing()
    with pytest.raises(ModelError, match=r"'gap_toll': did you mean 'gap_tol'.*for every method: .*feas_tol"):
        solve_bilevel(m, m.users, method="kkt", gap_toll=1e-6)
    with pytest.raises(ModelError, match=r"'max_iters': did you mean 'max_iter'"):
        solve_nash(m, m.users, method="gauss-seidel", max_iters=3)
    with pytest.raises(ModelError, match="verify must be True or False, got 'yes'"):
        solve_bilevel(m, m.users, method="kkt", verify="yes")


def test_followers_named_by_a_string_and_a_follower_left_out_are_explained():
    m = _pricing()
    with pytest.raises(ModelError, match=r"got the string 'users': pass the block itself \(m.users\)"):
        solve_bilevel(m, "users")
    m.other = pyo.Block()
    m.other.y = pyo.Var(bounds=(0, 1))
    m.other.o = pyo.Objective(expr=m.other.y)
    with pytest.raises(ModelError, match=r"found 2 \('revenue', 'other.o': a follower left out of the list\?"):
        solve_bilevel(m, m.users)


def test_a_leader_with_nothing_to_choose_is_said():
    m = _pricing()
    m.p.fix(5.0)
    r = solve_bilevel(m, m.users, method="kkt-bigm")
    assert r.status is SolveStatus.OPTIMAL and "the leader has no free variable" in r.message
    m = _pricing()
    assert "no free variable" not in solve_bilevel(m, m.users, method="kkt-bigm").message


def test_nested_search_bounds_may_bound_a_free_leader_variable():
    m = _pricing()
    m.p.setlb(None)
    m.p.setub(None)
    with pytest.raises(ModelError, match=r"give finite bounds to the leader variables p \(or search_bounds="):
        solve_bilevel(m, m.users, method="nested", n_gen=3, pop_size=8)
    r = solve_bilevel(m, m.users, method="nested", n_gen=15, pop_size=16, seed=2, search_bounds=([0.0], [10.0]))
    assert r.status is SolveStatus.FEASIBLE and r.objective == pytest.approx(25.0, rel=1e-4)
    with pytest.raises(ModelError, match="search_bounds leaves the leader variables p without a finite bound"):
        solve_bilevel(m, m.users, method="nested", search_bounds=([0.0], [float("inf")]))


def test_kkt_on_integer_leader_and_follower_points_to_the_one_method_that_takes_both():
    from gridgames.solvers import UnsupportedModelError

    m = _pricing()
    m.p.domain = pyo.NonNegativeIntegers
    m.users.q.domain = pyo.NonNegativeIntegers
    with pytest.raises(UnsupportedModelError, match="'users.q' is integer too, which no KKT method takes: use "
                                                    "method='nested'"):
        solve_bilevel(m, m.users, method="kkt")


@pytest.mark.parametrize("method", ["kkt-bigm", "strong-duality"])
def test_a_follower_unbounded_for_some_leader_decisions_is_explained(method):
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10))
    m.f = pyo.Block()
    m.f.q = pyo.Var(within=pyo.NonNegativeReals)
    m.f.o = pyo.Objective(expr=(5 - m.p) * m.f.q, sense=pyo.maximize)     # no optimum for p < 5
    m.L = pyo.Objective(expr=m.p * m.f.q, sense=pyo.maximize)
    r = solve_bilevel(m, m.f, method=method)
    assert not r.status.is_ok and "a follower with no optimum for some leader decisions" in r.message
