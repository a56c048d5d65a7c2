"""Models in other units (review 11): HiGHS' QP regularisation, badly scaled global reformulations,
solver options given as something other than a dict."""
import pyomo.environ as pyo
import pytest

from gridgames.solvers import get_solver, solve_bilevel, solve_nash
from gridgames.solvers.errors import ModelError
from gridgames.solvers.scaling import coefficient_range, scaling_note


def test_highs_solves_a_qp_with_a_small_hessian_exactly():
    """max 0.1·q − 2e-6·q² in kW: HiGHS' default 1e-7 regularisation moved the optimum from q = 25,000 to
    23,810 and called it optimal; scaled with the smallest Hessian entry it is 5e-8 relative away."""
    m = pyo.ConcreteModel()
    m.q = pyo.Var(bounds=(0, 1e6))
    m.o = pyo.Objective(expr=0.1 * m.q - 2e-6 * m.q ** 2, sense=pyo.maximize)
    res = get_solver("highs").solve(m)
    assert str(res.status) == "optimal"
    assert pyo.value(m.q) == pytest.approx(25_000.0, rel=1e-6)


def _pricing_in_wh():
    """A utility prices 2 hours for one household; energy in Wh, prices in $/Wh (coefficients ~1e-8 to 1e4)."""
    eu = 1e-3
    ref = (3.0, 5.0)
    m = pyo.ConcreteModel()
    m.p = pyo.Var(range(2), bounds=(0, 0.6 * eu))
    m.h = pyo.Block()
    m.h.d = pyo.Var(range(2), bounds=(0, 12.0 / eu))
    m.h.e = pyo.Constraint(expr=sum(m.h.d[t] for t in range(2)) == sum(ref) / eu)
    m.h.o = pyo.Objective(expr=sum(m.p[t] * m.h.d[t] + 0.8 * eu * eu / 2 * (m.h.d[t] - ref[t] / eu) ** 2
                                   for t in range(2)))
    m.F = pyo.Objective(expr=sum(m.p[t] * m.h.d[t] - 0.02 * eu * eu / 2 * m.h.d[t] ** 2 for t in range(2)),
                        sense=pyo.maximize)
    return m


def test_coefficient_range_and_note():
    m = _pricing_in_wh()
    low, high = coefficient_range(m)
    assert low == pytest.approx(1e-8) and high == pytest.approx(8_000.0)
    assert "badly scaled" in scaling_note(m)
    assert scaling_note(pyo.ConcreteModel()) == ""


def test_a_global_method_on_a_badly_scaled_model_says_so():
    """In kWh the model solves in a second; in Wh SCIP said "proven infeasible" (3 households, 4 hours) or,
    here, runs out of time on 2 prices: either way the message must point at the units."""
    m = _pricing_in_wh()
    res = solve_bilevel(m, m.h, method="kkt-sos1", solver_options={"time_limit": 3})
    assert str(res.status) in ("optimal", "time_limit", "error"), res.message
    if str(res.status) != "optimal":
        assert "badly scaled" in res.message


@pytest.mark.parametrize("given", [5, "time_limit=5", [("time_limit", 5)], {1: 2}])
def test_solver_options_must_be_a_dict(given):
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(2))
    for i in range(2):
        m.P[i].x = pyo.Var(bounds=(0, 1))
        m.P[i].o = pyo.Objective(expr=(m.P[i].x - 0.5) ** 2)
    with pytest.raises(ModelError, match="solver_options must be a dict"):
        solve_nash(m, m.P, solver_options=given)
    with pytest.raises(ModelError, match="solver_options must be a dict"):
        solve_bilevel(m, m.P[0], method="kkt", solver_options=given)


def test_highs_refuses_a_hessian_it_would_drop_and_the_engine_picks_ipopt():
    """HiGHS drops quadratic coefficients below 1e-9: in kW with M$ payoffs (2e-12) it solved an LP instead."""
    from gridgames.solvers.errors import UnsupportedModelError
    from gridgames.solvers.games.agent_solve import default_solver_for

    m = pyo.ConcreteModel()
    m.q = pyo.Var(bounds=(0, 1e6))
    m.o = pyo.Objective(expr=1e-7 * m.q - 2e-12 * m.q ** 2, sense=pyo.maximize)
    with pytest.raises(UnsupportedModelError, match=r"highs drops .* 2\.0e-12"):
        get_solver("highs").solve(m)
    assert default_solver_for(m) == "ipopt"
    res = get_solver("ipopt").solve(m)
    assert pyo.value(m.q) == pytest.approx(25_000.0, rel=1e-6), res.message


def test_a_tiny_leader_coefficient_leaves_a_proof_of_infeasibility_alone():
    """The leader needs y >= 5, the follower always picks y = 1: infeasible, whatever the leader's objective."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.f = pyo.Block()
    m.f.y = pyo.Var(bounds=(0, 10))
    m.f.o = pyo.Objective(expr=(m.f.y - 1) ** 2 + m.x * m.f.y * 0)
    m.need = pyo.Constraint(expr=m.f.y >= 5)
    m.F = pyo.Objective(expr=m.x + 1e-8 * m.f.y)
    res = solve_bilevel(m, m.f, method="kkt-sos1")
    assert str(res.status) == "infeasible", res.message
