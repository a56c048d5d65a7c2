"""The solver layer: registry, result type, and every backend on shared problems.

Reference values are derived by hand in the comments.
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers import (SolverNotAvailableError, SolveStatus, UnknownSolverError,
                               UnsupportedModelError, available_solvers, get_solver, list_solvers,
                               register_solver)
from gridgames.solvers.registry import _REGISTRY

ALL = ["highs", "ipopt", "scip", "scipy"]


def test_builtin_solvers_are_registered_and_installed():
    names = [info.name for info in list_solvers()]
    assert names[:4] == ALL
    # the project's own install must provide every built-in backend
    assert set(ALL) <= set(available_solvers())


def test_unknown_solver_names_the_choices():
    with pytest.raises(UnknownSolverError, match="unknown solver 'hihgs'.*highs.*pyomo:<name>"):
        get_solver("hihgs")


def test_missing_solver_names_the_package_to_install():
    register_solver("fancy", lambda **kw: None, package="fancy-solver-py", is_available=lambda: False)
    try:
        with pytest.raises(SolverNotAvailableError, match="pip install fancy-solver-py"):
            get_solver("fancy")
    finally:
        del _REGISTRY["fancy"]


def test_pyomo_passthrough_missing_plugin_is_a_clear_error():
    # Pyomo has no such plug-in: an unknown name, not a package to install
    with pytest.raises(UnknownSolverError, match="no solver plug-in 'no_such_solver_xyz'"):
        get_solver("pyomo:no_such_solver_xyz")


def convex_qp() -> pyo.ConcreteModel:
    # min (x-3)^2 + (y-1)^2 + x  s.t. x + y >= 2, x - y <= 1, x, y >= 0.
    # Unconstrained minimiser (2.5, 1) violates x - y <= 1, so that row binds:
    # x = y + 1 -> min (y-2)^2 + (y-1)^2 + y + 1 -> 2(y-2) + 2(y-1) + 1 = 0 -> y = 1.25,
    # x = 2.25; objective (x-3)^2 + (y-1)^2 + x = 0.5625 + 0.0625 + 2.25 = 2.875.
    # Dual of x - y <= 1: d obj / d rhs = -0.5 (stationarity in x: 2(x-3) + 1 + lambda = 0).
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.y = pyo.Var(bounds=(0, None))
    m.c1 = pyo.Constraint(expr=m.x + m.y >= 2)
    m.c2 = pyo.Constraint(expr=m.x - m.y <= 1)
    m.o = pyo.Objective(expr=(m.x - 3) ** 2 + (m.y - 1) ** 2 + m.x)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m


@pytest.mark.parametrize("name", ALL)
def test_convex_qp_same_optimum_every_solver(name):
    m = convex_qp()
    result = get_solver(name).solve(m)
    assert result.ok, result
    assert result.solver == name
    assert result.objective == pytest.approx(2.875, rel=1e-6)
    # SCIP solves the objective as an epigraph constraint with feasibility
    # tolerance 1e-6: the objective is exact to ~1e-7, the point to ~sqrt(1e-6).
    point_tol = 1e-3 if name == "scip" else 1e-5
    assert pyo.value(m.x) == pytest.approx(2.25, abs=point_tol)
    assert pyo.value(m.y) == pytest.approx(1.25, abs=point_tol)
    assert result.solve_time > 0


@pytest.mark.parametrize("name", ["highs", "ipopt"])
def test_qp_duals_follow_pyomo_sign_convention(name):
    m = convex_qp()
    get_solver(name).solve(m)
    assert m.dual[m.c2] == pytest.approx(-0.5, abs=1e-5)
    assert m.dual[m.c1] == pytest.approx(0.0, abs=1e-5)


def lp_for_duals(sense=pyo.minimize) -> pyo.ConcreteModel:
    # min 3x + 4y s.t. x + 2y >= 4, x <= 3, x, y >= 0.  y is cheaper per unit of
    # the first row (4/2 = 2 < 3), so x = 0, y = 2, objective 8; dual of the
    # first row = 2 (relaxing rhs by 1 costs 2 more), second row slack -> 0.
    # As a maximisation of -(3x + 4y): objective -8, duals -2 and 0.
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.y = pyo.Var(bounds=(0, None))
    m.c = pyo.Constraint(expr=m.x + 2 * m.y >= 4)
    m.d = pyo.Constraint(expr=m.x <= 3)
    sign = 1 if sense == pyo.minimize else -1
    m.o = pyo.Objective(expr=sign * (3 * m.x + 4 * m.y), sense=sense)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m


@pytest.mark.parametrize("name", ["highs", "ipopt"])
@pytest.mark.parametrize("sense,obj,dual", [(pyo.minimize, 8.0, 2.0), (pyo.maximize, -8.0, -2.0)])
def test_lp_duals_by_hand(name, sense, obj, dual):
    m = lp_for_duals(sense)
    result = get_solver(name).solve(m)
    assert result.objective == pytest.approx(obj, rel=1e-7)
    assert m.dual[m.c] == pytest.approx(dual, abs=1e-6)
    assert m.dual[m.d] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_infeasible_lp_reported_as_infeasible(name):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.y = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x + m.y >= 3)
    m.o = pyo.Objective(expr=m.x + m.y)
    result = get_solver(name).solve(m)
    assert result.status is SolveStatus.INFEASIBLE, result
    assert result.objective is None


@pytest.mark.parametrize("name", ["highs", "scip"])
def test_unbounded_lp(name):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.o = pyo.Objective(expr=-m.x)
    assert get_solver(name).solve(m).status is SolveStatus.UNBOUNDED


def knapsack_milp() -> pyo.ConcreteModel:
    # max 3x + 4y, 2x + 3y <= 12.5, x, y integer in [0, 10].
    # Enumerate y: y=0 -> x=6 -> 18; y=1 -> x=4 -> 16; y=2 -> x=3 -> 17;
    # y=3 -> x=1 -> 13; y=4 -> x=0 -> 16.  Optimum 18 at (6, 0); LP relaxation 18.75.
    m = pyo.ConcreteModel()
    m.x = pyo.Var(within=pyo.Integers, bounds=(0, 10))
    m.y = pyo.Var(within=pyo.Integers, bounds=(0, 10))
    m.c = pyo.Constraint(expr=2 * m.x + 3 * m.y <= 12.5)
    m.o = pyo.Objective(expr=3 * m.x + 4 * m.y, sense=pyo.maximize)
    return m


@pytest.mark.parametrize("name", ["highs", "scip", "scipy"])
def test_milp(name):
    m = knapsack_milp()
    result = get_solver(name).solve(m)
    assert result.status is SolveStatus.OPTIMAL
    assert result.objective == pytest.approx(18.0)
    assert (round(m.x.value), round(m.y.value)) == (6, 0)


def test_scip_point_accuracy_can_be_tightened():
    m = convex_qp()
    get_solver("scip", **{"numerics/feastol": 1e-9}).solve(m)
    assert pyo.value(m.x) == pytest.approx(2.25, abs=1e-6)


def test_highs_refuses_miqp_and_names_alternatives():
    m = knapsack_milp()
    m.o.deactivate()
    m.q = pyo.Objective(expr=(m.x - 2.4) ** 2 + (m.y - 1.6) ** 2)
    with pytest.raises(UnsupportedModelError, match="MIQP.*scip"):
        get_solver("highs").solve(m)
    # SCIP solves it: nearest integer point (2, 2) with 2*2 + 3*2 = 10 <= 12.5
    result = get_solver("scip").solve(m)
    assert result.objective == pytest.approx(0.16 + 0.16)


def test_ipopt_refuses_integer_variables():
    with pytest.raises(UnsupportedModelError, match="x"):
        get_solver("ipopt").solve(knapsack_milp())


def test_solve_result_repr_is_readable():
    result = get_solver("highs").solve(lp_for_duals())
    text = repr(result)
    assert "status=optimal" in text and "objective=8" in text and "solver='highs'" in text


def test_highs_qp_cycling_is_reported_fast_and_the_engine_falls_back_to_ipopt():
    # A relaxed household with a large comfort weight: a degenerate QP (the Hessian touches 24 of
    # ~200 variables) on which HiGHS' active-set QP solver cycles.  Without an iteration limit it
    # ran to any time limit; now it stops at the default limit with a hint, and the engine's
    # default follower solver switches to Ipopt and returns the optimum.
    import pyomo.environ as pyo

    from gridgames.models.households.model import Household, household_block
    from gridgames.models.households.devices import EV, PV, Battery, InterruptibleAppliance, Thermostat
    from gridgames.solvers.games.agent_solve import AgentSolver
    from gridgames.solvers.games.structure import analyse_agents

    devices = [EV("car", arrival=0, departure=8, energy_arrival=8), Battery("bat"), PV("roof"),
               Thermostat("ac", t_out=np.full(24, 31.0)),
               InterruptibleAppliance("pump", energy=3, start=0, end=24, p_max=1.5)]
    house = Household("h", devices, base_load=np.full(24, 0.6), comfort=400, feed_in=0.3)
    prices = [0.5] * 8 + [1.0] * 4 + [1.5] * 6 + [1.0] * 6
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, 23)
    m.p = pyo.Var(m.T, initialize=lambda _, t: prices[t])
    block = household_block(m, house, m.p, "hh", relax=True)
    agent = analyse_agents(m, [block])[0]
    m.p.fix()
    reference = get_solver("ipopt").solve(block)
    m.p.unfix()
    assert reference.ok
    ipopt_value = reference.objective

    m.p.fix()
    direct = get_solver("highs", time_limit=60).solve(block)
    m.p.unfix()
    assert direct.status in (SolveStatus.OPTIMAL, SolveStatus.ITERATION_LIMIT), direct.message
    if direct.status is SolveStatus.ITERATION_LIMIT:
        assert "try solver='ipopt'" in direct.message
    else:
        assert direct.objective == pytest.approx(ipopt_value, rel=1e-6)

    engine = AgentSolver(agent)
    result = engine.solve()
    assert result.ok and engine.solver_name in ("highs", "ipopt")
    assert pyo.value(agent.objective.expr) == pytest.approx(ipopt_value, rel=1e-6)


def test_highs_runs_without_pyomos_output_capture_and_still_takes_options_and_tee(capfd):
    """QuietHighs skips Pyomo's per-solve stdout/stderr capture (two threads and two fd copies per solve)
    when nothing is shown; the options still reach HiGHS and tee=True still shows its log."""
    from gridgames.solvers.highs_quiet import QuietHighs

    def knapsack() -> pyo.ConcreteModel:
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(4), domain=pyo.Binary)
        m.cap = pyo.Constraint(expr=sum((i + 2) * m.x[i] for i in range(4)) <= 7)
        m.o = pyo.Objective(expr=sum((i + 3) * m.x[i] for i in range(4)), sense=pyo.maximize)
        return m

    solver = get_solver("highs", time_limit=30, mip_gap=1e-3)
    assert isinstance(solver._solver, QuietHighs)
    capfd.readouterr()
    r = solver.solve(knapsack())
    assert r.status is SolveStatus.OPTIMAL and r.objective == pytest.approx(9.0)   # weights 2+5 or 3+4 = 7
    assert capfd.readouterr().out == ""
    highs = solver._solver._solver_model
    def option(name):   # highspy returns (status, value) or the value, by version
        value = highs.getOptionValue(name)
        return value[1] if isinstance(value, tuple) else value

    assert option("mip_rel_gap") == pytest.approx(1e-3) and option("time_limit") == 30
    r = get_solver("highs").solve(knapsack(), tee=True)
    assert r.status is SolveStatus.OPTIMAL and "HiGHS" in capfd.readouterr().out


def test_scipy_takes_a_feasibility_problem():
    """A constant objective (a feasibility problem, as the kkt method builds) gave SLSQP an int64 gradient."""
    from gridgames.solvers import get_solver

    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 5), initialize=1)
    m.y = pyo.Var(bounds=(0, 5), initialize=1)
    m.c = pyo.Constraint(expr=m.x * m.y >= 2)
    m.o = pyo.Objective(expr=0.0)
    res = get_solver("scipy").solve(m)
    assert res.ok, res.message
    assert m.x.value * m.y.value >= 2 - 1e-6
