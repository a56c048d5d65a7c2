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
