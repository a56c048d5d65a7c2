"""Tests of the Pyomo -> cyipopt bridge (gridgames.solvers.ipopt and its helpers).

Every numerical answer is checked against an independent one: a published
optimum (HS071), a closed form, hand-derived LP duals cross-checked with HiGHS,
or finite differences / Pyomo's own expression evaluation for the derivatives.
"""
from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers.errors import GridGamesError, ModelError, UnsupportedModelError
from gridgames.solvers.ipopt import IpoptSolver, clear_cache
from gridgames.solvers.nlp_compile import compile_model
from gridgames.solvers.nlp_eval import NLPEvaluator
from gridgames.solvers.result import SolveStatus

pytestmark = pytest.mark.skipif(not IpoptSolver.available(), reason="cyipopt not installed")

TIGHT = {"tol": 1e-10}


def solve(model, **kw):
    opts = {**TIGHT, **kw.pop("options", {})}
    return IpoptSolver(**opts).solve(model, **kw)


# --------------------------------------------------------------------------
# Classic NLPs
# --------------------------------------------------------------------------
def hs071():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4), bounds=(1, 5), initialize={0: 1, 1: 5, 2: 5, 3: 1})
    m.obj = pyo.Objective(expr=m.x[0] * m.x[3] * (m.x[0] + m.x[1] + m.x[2]) + m.x[2])
    m.prod = pyo.Constraint(expr=m.x[0] * m.x[1] * m.x[2] * m.x[3] >= 25)
    m.sq = pyo.Constraint(expr=sum(m.x[i] ** 2 for i in range(4)) == 40)
    return m


def test_hs071_published_optimum():
    m = hs071()
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    res = solve(m)
    assert res.status is SolveStatus.LOCALLY_OPTIMAL and res.ok
    assert res.solver == "ipopt"
    assert res.objective == pytest.approx(17.0140173, abs=1e-6)
    x = [pyo.value(m.x[i]) for i in range(4)]
    assert x == pytest.approx([1.0, 4.7429996, 3.8211499, 1.3794083], abs=1e-6)
    assert res.iterations is not None and 3 <= res.iterations <= 30
    # Ipopt's documented multipliers for HS071 are (-0.5523, 0.1615) in its own
    # convention; in Pyomo's (d obj / d rhs) a binding >= of a min problem is >= 0
    assert m.dual[m.prod] == pytest.approx(0.55229366, abs=1e-5)
    assert m.dual[m.sq] == pytest.approx(-0.16146857, abs=1e-5)
    assert "locally optimal" in res.message


def rosenbrock(x_upper=None):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=-1.2, bounds=(None, x_upper))
    m.y = pyo.Var(initialize=1.0)
    m.obj = pyo.Objective(expr=(1 - m.x) ** 2 + 100 * (m.y - m.x ** 2) ** 2)
    return m


def test_rosenbrock_unconstrained():
    m = rosenbrock()
    res = solve(m)
    assert res.ok
    assert (pyo.value(m.x), pyo.value(m.y)) == pytest.approx((1.0, 1.0), abs=1e-6)
    assert res.objective == pytest.approx(0.0, abs=1e-10)


def test_rosenbrock_with_binding_bound():
    # x <= 0.5 binds: then y = x^2 = 0.25 and the objective is (1 - 0.5)^2 = 0.25
    m = rosenbrock(x_upper=0.5)
    m.rc = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    res = solve(m)
    assert res.ok
    assert pyo.value(m.x) == pytest.approx(0.5, abs=1e-7)
    assert pyo.value(m.y) == pytest.approx(0.25, abs=1e-7)
    assert res.objective == pytest.approx(0.25, abs=1e-8)
    # reduced cost = d obj / d x at the bound = -2 (1 - x) = -1 (<= 0 at an upper bound of a min)
    assert m.rc[m.x] == pytest.approx(-1.0, abs=1e-6)
    assert m.rc[m.y] == pytest.approx(0.0, abs=1e-6)


# --------------------------------------------------------------------------
# Mutable Params, fixed variables, caching
# --------------------------------------------------------------------------
def param_model():
    m = pyo.ConcreteModel()
    m.p = pyo.Param(initialize=3.0, mutable=True)
    m.eps = pyo.Param(initialize=1.0, mutable=True)
    m.x = pyo.Var(range(3), initialize=0.0)
    # min sum_i (x_i - p*i)^2 + eps * x_i^2  s.t.  x_2 <= p + 1
    m.obj = pyo.Objective(expr=sum((m.x[i] - m.p * i) ** 2 + m.eps * m.x[i] ** 2 for i in range(3)))
    m.cap = pyo.Constraint(expr=m.x[2] <= m.p + 1)
    return m


def test_mutable_params_resolve_without_retranslation():
    m = param_model()
    res1 = solve(m)
    assert res1.ok and res1.extra["translated"] is True
    # unconstrained optimum x_i = p i / (1 + eps) = (0, 1.5, 3.0); cap x_2 <= 4 is slack
    assert [pyo.value(m.x[i]) for i in range(3)] == pytest.approx([0, 1.5, 3.0], abs=1e-6)

    m.p = 2.0
    m.eps = 0.25
    res2 = solve(m)
    assert res2.ok and res2.extra["translated"] is False
    # x_1 = 2/1.25 = 1.6; x_2 wants 4/1.25 = 3.2 but the cap is p + 1 = 3 -> binds
    assert pyo.value(m.x[0]) == pytest.approx(0.0, abs=1e-7)
    assert pyo.value(m.x[1]) == pytest.approx(1.6, abs=1e-7)
    assert pyo.value(m.x[2]) == pytest.approx(3.0, abs=1e-7)
    expected = (1.6 - 2) ** 2 + 0.25 * 1.6 ** 2 + (3 - 4) ** 2 + 0.25 * 9
    assert res2.objective == pytest.approx(expected, abs=1e-7)


def test_regularisation_sequence_reuses_translation():
    # min (x - 1)^2 + eps * exp(x): as eps -> 0 the answer tends to 1;
    # each step's first-order condition 2 (x - 1) + eps exp(x) = 0 is checked
    m = pyo.ConcreteModel()
    m.eps = pyo.Param(initialize=1.0, mutable=True)
    m.x = pyo.Var(initialize=0.0)
    m.obj = pyo.Objective(expr=(m.x - 1) ** 2 + m.eps * pyo.exp(m.x))
    translated = []
    for eps in (1.0, 0.1, 0.01, 0.0):
        m.eps = eps
        res = solve(m)
        translated.append(res.extra["translated"])
        x = pyo.value(m.x)
        assert res.ok
        assert 2 * (x - 1) + eps * math.exp(x) == pytest.approx(0.0, abs=1e-7)
    assert translated == [True, False, False, False]
    assert pyo.value(m.x) == pytest.approx(1.0, abs=1e-8)


def best_response_model():
    m = pyo.ConcreteModel()
    m.a = pyo.Param(initialize=0.5, mutable=True)
    m.x = pyo.Var(bounds=(0, 10), initialize=1.0)
    m.y = pyo.Var(bounds=(0, 10), initialize=4.0)  # the other player's strategy
    # best response to y: max x (10 - x - y) - a x^2  ->  x = (10 - y) / (2 + 2a)
    m.profit = pyo.Objective(expr=m.x * (10 - m.x - m.y) - m.a * m.x ** 2, sense=pyo.maximize)
    return m


def test_fixed_variables_are_constants_and_values_update():
    m = best_response_model()
    m.y.fix(4.0)
    res = solve(m)
    assert res.ok and res.extra["n_vars"] == 1  # y is not passed to Ipopt
    assert pyo.value(m.x) == pytest.approx(6 / 3, abs=1e-7)
    assert res.objective == pytest.approx(2 * (10 - 2 - 4) - 0.5 * 4, abs=1e-7)
    assert pyo.value(m.y) == 4.0  # a fixed variable is never overwritten

    m.y.fix(1.0)  # new value of an already-fixed variable: no re-translation
    res = solve(m)
    assert res.extra["translated"] is False
    assert pyo.value(m.x) == pytest.approx(9 / 3, abs=1e-7)

    m.y.unfix()  # structure changes: both variables are now free
    res = solve(m)
    assert res.extra["translated"] is True and res.extra["n_vars"] == 2
    # joint max of x(10 - x - y) - 0.5 x^2 over y in [0, 10]: y = 0 (profit falls in y), x = 10/3
    assert pyo.value(m.y) == pytest.approx(0.0, abs=1e-6)
    assert pyo.value(m.x) == pytest.approx(10 / 3, abs=1e-6)


def test_structure_changes_trigger_retranslation():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), initialize=0.0)
    m.obj = pyo.Objective(expr=(m.x[0] - 3) ** 2 + (m.x[1] - 3) ** 2)
    m.c = pyo.Constraint(expr=m.x[0] + m.x[1] <= 2)
    assert solve(m).extra["translated"] is True
    assert pyo.value(m.x[0]) == pytest.approx(1.0, abs=1e-7)
    m.c.deactivate()
    res = solve(m)
    assert res.extra["translated"] is True
    assert pyo.value(m.x[0]) == pytest.approx(3.0, abs=1e-7)
    m.c.activate()
    m.c.set_value(m.x[0] + m.x[1] <= 4)
    res = solve(m)
    assert res.extra["translated"] is True
    assert pyo.value(m.x[0]) == pytest.approx(2.0, abs=1e-7)
    assert solve(m).extra["translated"] is False
    clear_cache(m)
    assert solve(m).extra["translated"] is True


def test_deactivated_block_and_constraint_are_ignored():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.0)
    m.obj = pyo.Objective(expr=(m.x - 5) ** 2)
    m.b = pyo.Block()
    m.b.z = pyo.Var()
    m.b.impossible = pyo.Constraint(expr=m.x + m.b.z ** 2 <= -1)
    m.b.deactivate()
    m.off = pyo.Constraint(expr=m.x <= 1)
    m.off.deactivate()
    m.unused = pyo.Var(within=pyo.Binary)  # appears in no active component
    res = solve(m)
    assert res.ok and res.extra["n_vars"] == 1 and res.extra["n_cons"] == 0
    assert pyo.value(m.x) == pytest.approx(5.0, abs=1e-7)
    assert m.b.z.value is None


# --------------------------------------------------------------------------
# Constraint kinds and objective sense
# --------------------------------------------------------------------------
def test_ranged_and_equality_constraints():
    m = pyo.ConcreteModel()
    m.lo = pyo.Param(initialize=1.0, mutable=True)
    m.x = pyo.Var(range(3), initialize=0.0)
    m.obj = pyo.Objective(expr=m.x[0] ** 2 + m.x[1] ** 2 + (m.x[2] - 10) ** 2)
    m.rng = pyo.Constraint(expr=pyo.inequality(m.lo, m.x[0] + m.x[1], 2))
    m.eq = pyo.Constraint(expr=m.x[2] == 2 * m.x[0] + 1)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    res = solve(m)
    assert res.ok
    # x2 = 2 x0 + 1: min x0^2 + x1^2 + (2 x0 - 9)^2 s.t. 1 <= x0 + x1 <= 2;
    # unconstrained x0 = 18/5 = 3.6, x1 = 0 -> x0 + x1 = 3.6 > 2, so the upper side binds:
    # with x1 = 2 - x0: d/dx0 [x0^2 + (2 - x0)^2 + (2 x0 - 9)^2] = 12 x0 - 40 = 0 -> x0 = 10/3
    x0 = 10 / 3
    assert pyo.value(m.x[0]) == pytest.approx(x0, abs=1e-7)
    assert pyo.value(m.x[1]) == pytest.approx(2 - x0, abs=1e-7)
    assert pyo.value(m.x[2]) == pytest.approx(2 * x0 + 1, abs=1e-7)
    # dual = d f* / d u: with the Lagrangian f + mu (x0 + x1 - u), stationarity in x1
    # gives 2 x1 + mu = 0, so d f*/du = -mu = 2 x1 = 2 (2 - x0) < 0 (binding upper side, min)
    assert m.dual[m.rng] == pytest.approx(2 * (2 - x0), abs=1e-6)
    assert m.dual[m.rng] < 0
    # a lower side that binds after lowering the cap: lo = 5 -> x0 + x1 = 5 binds from below
    m.lo = 5.0
    m.rng.set_value(pyo.inequality(m.lo, m.x[0] + m.x[1], 6))
    res = solve(m)
    assert res.ok
    # 12 x0 - 2*5 - 36 = 0 -> x0 = 46/12 with x1 = 5 - x0
    x0 = 46 / 12
    assert pyo.value(m.x[0]) == pytest.approx(x0, abs=1e-7)
    assert m.dual[m.rng] == pytest.approx(2 * (5 - x0), abs=1e-6)
    assert m.dual[m.rng] > 0


def test_maximisation_objective_keeps_its_sense():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.0)
    m.y = pyo.Var(initialize=0.0)
    m.obj = pyo.Objective(expr=10 - (m.x - 1) ** 2 - (m.y + 2) ** 2 + pyo.log(2 + m.x), sense=pyo.maximize)
    res = solve(m)
    assert res.ok
    # d/dx: -2 (x - 1) + 1 / (2 + x) = 0 -> 2 x^2 + 2 x - 5 = 0 -> x = (-1 + sqrt(11)) / 2
    x = (-1 + math.sqrt(11)) / 2
    assert pyo.value(m.x) == pytest.approx(x, abs=1e-7)
    assert pyo.value(m.y) == pytest.approx(-2.0, abs=1e-7)
    assert res.objective == pytest.approx(10 - (x - 1) ** 2 + math.log(2 + x), abs=1e-8)
    assert res.objective == pytest.approx(pyo.value(m.obj), abs=1e-10)


# --------------------------------------------------------------------------
# LP duals, signs checked by hand and against HiGHS
# --------------------------------------------------------------------------
def lp_min():
    # min x + 2y  s.t.  c1: x + y >= 2,  c2: x <= 1.8,  c3: x - y == 1,  x, y >= 0
    # optimum x = 1.5, y = 0.5 (objective 2.5)
    # hand duals (d obj / d rhs): c1 and c3 are active and fix the point:
    #   x + y = b1, x - y = b3 -> x = (b1 + b3)/2, y = (b1 - b3)/2, obj = 1.5 b1 - 0.5 b3
    # so dual(c1) = 1.5, dual(c3) = -0.5; c2 (x <= 1.8) is slack -> 0
    m = pyo.ConcreteModel()
    m.x = pyo.Var(within=pyo.NonNegativeReals)
    m.y = pyo.Var(within=pyo.NonNegativeReals)
    m.obj = pyo.Objective(expr=m.x + 2 * m.y)
    m.c1 = pyo.Constraint(expr=m.x + m.y >= 2)
    m.c2 = pyo.Constraint(expr=m.x <= 1.8)
    m.c3 = pyo.Constraint(expr=m.x - m.y == 1)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m


def lp_max():
    # max 2x + y  s.t.  c1: x + y <= 4,  c2: x <= 3,  c3: y >= 2
    # optimum x = 2, y = 2 (objective 6); c2 slack.
    # hand duals: x = b1 - b3, y = b3 -> obj = 2 b1 - b3  -> dual(c1) = 2, dual(c3) = -1, dual(c2) = 0
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.y = pyo.Var()
    m.obj = pyo.Objective(expr=2 * m.x + m.y, sense=pyo.maximize)
    m.c1 = pyo.Constraint(expr=m.x + m.y <= 4)
    m.c2 = pyo.Constraint(expr=m.x <= 3)
    m.c3 = pyo.Constraint(expr=m.y >= 2)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m


def test_lp_duals_minimisation_by_hand():
    m = lp_min()
    res = solve(m)
    assert res.ok
    assert (pyo.value(m.x), pyo.value(m.y)) == pytest.approx((1.5, 0.5), abs=1e-7)
    assert res.objective == pytest.approx(2.5, abs=1e-7)
    # obj = 1.5 b1 - 0.5 b3: binding >= has dual >= 0; c2 slack
    assert m.dual[m.c1] == pytest.approx(1.5, abs=1e-6)
    assert m.dual[m.c3] == pytest.approx(-0.5, abs=1e-6)
    assert m.dual[m.c2] == pytest.approx(0.0, abs=1e-6)


def test_lp_duals_maximisation_by_hand():
    m = lp_max()
    res = solve(m)
    assert res.ok
    assert res.objective == pytest.approx(6.0, abs=1e-7)
    assert (pyo.value(m.x), pyo.value(m.y)) == pytest.approx((2.0, 2.0), abs=1e-7)
    assert m.dual[m.c1] == pytest.approx(2.0, abs=1e-6)   # binding <= of a max: >= 0
    assert m.dual[m.c3] == pytest.approx(-1.0, abs=1e-6)  # binding >= of a max: <= 0
    assert m.dual[m.c2] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("build", [lp_min, lp_max])
def test_lp_duals_agree_with_highs(build):
    highs = pyo.SolverFactory("appsi_highs")
    if not highs.available():
        pytest.skip("HiGHS (appsi_highs) not available")
    ref = build()
    highs.solve(ref)
    m = build()
    assert solve(m).ok
    for name in ("c1", "c2", "c3"):
        assert m.dual[m.component(name)] == pytest.approx(ref.dual[ref.component(name)], abs=1e-6), name


# --------------------------------------------------------------------------
# Failure statuses and errors
# --------------------------------------------------------------------------
def test_infeasible_problem_reports_infeasible():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.0)
    m.y = pyo.Var(initialize=0.0)
    m.obj = pyo.Objective(expr=m.x ** 2 + m.y ** 2)
    m.disk = pyo.Constraint(expr=m.x ** 2 + m.y ** 2 <= 1)
    m.far = pyo.Constraint(expr=m.x + m.y >= 3)
    m.x.set_value(0.25)
    res = solve(m)
    assert res.status is SolveStatus.INFEASIBLE and not res.ok
    assert res.objective is None
    assert pyo.value(m.x) == 0.25  # nothing loaded
    assert "infeasible" in res.message.lower()


def test_constant_constraint_violated_is_infeasible_without_ipopt():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.0)
    m.y = pyo.Var()
    m.y.fix(2.0)
    m.obj = pyo.Objective(expr=m.x ** 2)
    m.only_fixed = pyo.Constraint(expr=m.y >= 3)
    res = solve(m)
    assert res.status is SolveStatus.INFEASIBLE
    assert "only_fixed" in res.message


def test_unbounded_problem_is_not_ok():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(within=pyo.NonNegativeReals, initialize=1.0)
    m.obj = pyo.Objective(expr=-m.x - pyo.log(1 + m.x))
    res = solve(m, options={"max_iter": 200})
    assert not res.ok
    # Ipopt stops with "iterates diverging" (status 4) once x passes 1e20
    assert res.status is SolveStatus.UNBOUNDED and res.extra["ipopt_status"] == 4
    assert res.objective is None


def test_iteration_limit_status_and_last_iterate_loaded():
    m = rosenbrock()
    res = solve(m, options={"max_iter": 3})
    assert res.status is SolveStatus.ITERATION_LIMIT
    assert res.iterations == 3
    assert pyo.value(m.x) != -1.2  # the last iterate was loaded


def test_integer_variable_rejected_naming_it():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.0)
    m.units = pyo.Var([1, 2], within=pyo.NonNegativeIntegers)
    m.obj = pyo.Objective(expr=(m.x - 1) ** 2 + m.units[2])
    with pytest.raises(UnsupportedModelError, match=r"units\[2\]") as err:
        solve(m)
    assert "highs" in str(err.value) and "scip" in str(err.value)
    m.units[2].fix(1)  # a fixed integer is a constant: fine
    assert solve(m).ok


def test_malformed_models_raise_clear_errors():
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.c = pyo.Constraint(expr=m.x >= 0)
    with pytest.raises(ModelError, match="0 active objectives"):
        solve(m)
    m.o1 = pyo.Objective(expr=m.x ** 2)
    m.o2 = pyo.Objective(expr=m.x)
    with pytest.raises(ModelError, match="2 active objectives"):
        solve(m)
    m.o2.deactivate()
    m.kink = pyo.Constraint(expr=abs(m.x) <= 1)
    with pytest.raises(UnsupportedModelError, match=r"kink.*abs"):
        solve(m)


def test_bad_option_rejected_at_construction():
    with pytest.raises(GridGamesError, match="max_iterr"):
        IpoptSolver(max_iterr=10)
    with pytest.raises(GridGamesError, match="time_limit"):
        IpoptSolver(time_limit=-1)
    assert IpoptSolver(time_limit=5).options["max_cpu_time"] == 5.0


def test_uninitialised_mutable_param_named():
    m = pyo.ConcreteModel()
    m.p = pyo.Param(mutable=True, initialize=1.0)
    m.x = pyo.Var()
    m.obj = pyo.Objective(expr=(m.x - m.p) ** 2)
    m.c = pyo.Constraint(expr=m.x >= m.p)
    assert solve(m).ok
    m.p = None
    with pytest.raises(ModelError, match="p"):
        solve(m)


# --------------------------------------------------------------------------
# Output, warm starts
# --------------------------------------------------------------------------
def test_quiet_unless_tee(capfd):
    solve(hs071())
    out = capfd.readouterr().out
    assert out == ""
    solve(hs071(), tee=True)
    assert "EXIT: Optimal Solution Found" in capfd.readouterr().out


def test_warm_start_with_multipliers():
    m = hs071()
    solver = IpoptSolver(tol=1e-10, warm_start_multipliers=True, mu_init=1e-6,
                         warm_start_bound_push=1e-9, warm_start_mult_bound_push=1e-9)
    first = solver.solve(m)
    second = solver.solve(m)  # starts at the optimum with its multipliers
    assert first.ok and second.ok
    assert second.objective == pytest.approx(17.0140173, abs=1e-6)
    assert second.iterations < first.iterations
    cold = IpoptSolver(tol=1e-10).solve(hs071(), warmstart=False)
    assert cold.ok and cold.objective == pytest.approx(17.0140173, abs=1e-6)


def test_all_variables_fixed():
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.x.fix(2.0)
    m.obj = pyo.Objective(expr=m.x ** 2 + 1)
    res = solve(m)
    assert res.status is SolveStatus.OPTIMAL and res.objective == pytest.approx(5.0)


# --------------------------------------------------------------------------
# Derivatives against finite differences and Pyomo's own evaluation
# --------------------------------------------------------------------------
def random_smooth_model(seed: int = 7, n: int = 6):
    rng = np.random.default_rng(seed)
    m = pyo.ConcreteModel()
    m.I = pyo.RangeSet(0, n - 1)
    m.p = pyo.Param(m.I, initialize={i: float(v) for i, v in enumerate(rng.uniform(0.5, 2.0, n))},
                    mutable=True)
    m.q = pyo.Param(initialize=1.3, mutable=True)
    m.x = pyo.Var(m.I, bounds=(0.2, 3.0))
    m.z = pyo.Var()
    m.z.fix(0.7)
    x = m.x
    m.obj = pyo.Objective(expr=sum(
        m.p[i] * pyo.exp(0.3 * x[i]) * x[(i + 1) % n]
        + pyo.log(1 + x[i] ** 2) / m.q
        + x[i] ** m.q * m.z
        + x[i] * x[(i + 2) % n] ** 2 / (1 + x[(i + 3) % n])
        + m.p[i] * x[i] ** 2 for i in m.I) + pyo.sqrt(x[0] + x[1]) * pyo.sin(x[2]))
    m.c = pyo.ConstraintList()
    m.c.add(sum(x[i] ** 3 for i in m.I) - m.q * x[0] * x[1] * x[2] <= 20)
    m.c.add(pyo.inequality(-1, pyo.tanh(x[3]) + x[4] * pyo.exp(-x[5] * m.p[0]) - m.z * x[0], 5))
    m.c.add(x[1] * x[2] + m.q * x[3] + 2 * x[4] == m.p[1] + m.z)
    m.c.add(pyo.log(x[0] * x[5] + 1) + x[2] / x[3] + (x[1] + x[4]) ** 2 >= m.q)
    m.c.add(x[0] + 2 * x[5] - 3 * x[3] <= 4)
    return m, rng


def fd_jacobian(f, x, h=1e-6):
    cols = []
    for j in range(len(x)):
        e = np.zeros_like(x)
        e[j] = h
        cols.append((np.atleast_1d(f(x + e)) - np.atleast_1d(f(x - e))) / (2 * h))
    return np.column_stack(cols)


@pytest.mark.parametrize("seed", [7, 11])
def test_derivatives_match_finite_differences_and_pyomo(seed):
    m, rng = random_smooth_model(seed)
    nlp = compile_model(m)
    ev = NLPEvaluator(nlp)
    ev.bind(1.0)
    assert nlp.n == 6 and nlp.m == 5
    assert all(v is not m.z for v in nlp.variables)  # fixed: not a decision variable
    for _ in range(3):
        x = rng.uniform(0.4, 2.5, nlp.n)
        for v, val in zip(nlp.variables, x):
            v.set_value(float(val))
        # values against Pyomo's own evaluation of the expressions
        assert ev.objective(x) == pytest.approx(pyo.value(m.obj.expr), rel=1e-12)
        const = nlp.con_const.evaluate()
        bodies = np.array([pyo.value(c.body) for c in nlp.constraints])
        assert ev.constraints(x) + const == pytest.approx(bodies, rel=1e-12, abs=1e-12)
        # first derivatives
        assert ev.gradient(x) == pytest.approx(fd_jacobian(ev.objective, x)[0], rel=1e-6, abs=1e-6)
        assert ev.dense_jacobian(x) == pytest.approx(fd_jacobian(ev.constraints, x), rel=1e-6, abs=1e-6)
        # Hessian of the Lagrangian against differences of the exact gradients
        lam = rng.normal(size=nlp.m)
        sigma = 0.7

        def lag_grad(y):
            return sigma * ev.gradient(y) + ev.dense_jacobian(y).T @ lam

        H_fd = fd_jacobian(lag_grad, x)
        H = ev.dense_hessian(x, lam, sigma)
        assert H == pytest.approx(0.5 * (H_fd + H_fd.T), rel=1e-5, abs=1e-5)
        assert np.all(ev.hess_rows >= ev.hess_cols)  # lower triangle only
    # mutable Params are read at bind time: change one, the values follow
    m.q = 2.0
    ev.bind(1.0)
    x = np.array([pyo.value(v) for v in nlp.variables])
    assert ev.objective(x) == pytest.approx(pyo.value(m.obj.expr), rel=1e-12)
    bodies = np.array([pyo.value(c.body) for c in nlp.constraints])
    assert ev.constraints(x) + nlp.con_const.evaluate() == pytest.approx(bodies, rel=1e-12)


def test_random_model_solves_and_satisfies_kkt():
    m, _ = random_smooth_model(3)
    for v in m.x.values():
        v.set_value(1.0)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    res = solve(m)
    assert res.ok
    # feasibility of every active constraint at the loaded point
    for c in m.c.values():
        body = pyo.value(c.body)
        assert (c.lb is None or body >= c.lb - 1e-7) and (c.ub is None or body <= c.ub + 1e-7)
    assert res.objective == pytest.approx(pyo.value(m.obj), rel=1e-9)


def test_identical_terms_are_grouped():
    T = 200
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, T - 1)
    m.w = pyo.Param(m.T, initialize=lambda m, t: 1 + t / T, mutable=True)
    m.x = pyo.Var(m.T, bounds=(0.1, 5), initialize=1.0)
    m.y = pyo.Var(m.T, bounds=(0.1, 5), initialize=1.0)
    m.obj = pyo.Objective(expr=sum(m.x[t] ** 2 * m.y[t] + pyo.exp(m.x[t]) * m.w[t] - 3 * m.y[t]
                                   for t in m.T))
    m.c = pyo.Constraint(m.T, rule=lambda m, t: pyo.log(m.x[t]) + m.y[t] ** 2 >= m.w[t])
    nlp = compile_model(m)
    assert nlp.stats["n_nonlinear_terms"] == 3 * T
    assert nlp.stats["n_groups"] == 3  # x^2 y, exp(x) w in the objective; y^2 ... in the rows
    res = solve(m)
    assert res.ok
    assert res.objective == pytest.approx(pyo.value(m.obj), rel=1e-10)


def test_fixed_variable_in_a_constraint_bound():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.0)
    m.y = pyo.Var()
    m.y.fix(2.0)
    m.obj = pyo.Objective(expr=(m.x - 5) ** 2)
    m.cap = pyo.Constraint(expr=m.x <= m.y)
    assert solve(m).ok
    assert pyo.value(m.x) == pytest.approx(2.0, abs=1e-7)
    m.y.fix(3.0)
    res = solve(m)
    assert res.extra["translated"] is False
    assert pyo.value(m.x) == pytest.approx(3.0, abs=1e-7)


def test_time_limit_status():
    T = 300  # chained Rosenbrock: hundreds of iterations from -1.2
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(T), initialize=-1.2)
    m.obj = pyo.Objective(expr=sum(100 * (m.x[i + 1] - m.x[i] ** 2) ** 2 + (1 - m.x[i]) ** 2
                                   for i in range(T - 1)))
    res = IpoptSolver(time_limit=1e-4).solve(m)
    assert res.status is SolveStatus.TIME_LIMIT
    assert res.extra["ipopt_status"] == -4
    assert "CPU time" in res.message


def test_cache_is_released_with_the_model():
    import gc

    from gridgames.solvers import ipopt as bridge

    clear_cache()
    m = rosenbrock()
    solve(m)
    assert len(bridge._CACHE) == 1
    del m
    gc.collect()
    assert len(bridge._CACHE) == 0


def test_battery_week_matches_hand_written_callbacks():
    # the benchmark model on one week of real 2023 prices: the bridge (Pyomo ->
    # templates -> sympy derivatives) and hand-derived numpy callbacks must agree
    from gridgames.benchmarks.bench_ipopt_bridge import load_prices, run_bridge, run_hand

    prices = load_prices(168)
    bridge, hand = run_bridge(prices), run_hand(prices)
    assert bridge["status"] == "locally_optimal" and hand["status"] == 0
    assert bridge["objective"] == pytest.approx(hand["objective"], rel=1e-9)
    assert bridge["iterations"] == hand["iterations"]


def test_steps_into_an_undefined_region_are_cut_back(capfd):
    # f = x - 2 log(x) (minimum at x = 2).  From x = 10 the Newton step is
    # -f'/f'' = -(1 - 0.2)/0.02 = -40, i.e. x = -30 where log is undefined: the
    # NaN must make Ipopt cut the step back, not fail.
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=10.0)
    m.obj = pyo.Objective(expr=m.x - 2 * pyo.log(m.x))
    res = solve(m, tee=True)
    assert "Cutting back alpha due to evaluation error" in capfd.readouterr().out
    assert res.ok
    assert pyo.value(m.x) == pytest.approx(2.0, abs=1e-7)


def test_load_solutions_false_leaves_the_model_alone():
    m = hs071()
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    res = solve(m, load_solutions=False)
    assert res.ok and res.objective == pytest.approx(17.0140173, abs=1e-6)
    assert [m.x[i].value for i in range(4)] == [1, 5, 5, 1]
    assert len(m.dual) == 0
    # raw Ipopt point, in the bridge's own variable order
    assert sorted(res.extra["x"]) == pytest.approx([1.0, 1.3794083, 3.8211499, 4.7429996], abs=1e-6)


def test_sense_and_param_bounds_are_read_at_each_solve():
    m = pyo.ConcreteModel()
    m.cap = pyo.Param(initialize=2.0, mutable=True)
    m.x = pyo.Var(bounds=(0, m.cap), initialize=0.3)
    m.e = pyo.Expression(expr=m.x * pyo.exp(-m.x))  # named expression inside the objective
    m.obj = pyo.Objective(expr=m.e)
    res = solve(m)  # min x e^-x on [0, 2] from 0.3 (f rises up to x = 1): local min x = 0
    assert res.ok and pyo.value(m.x) == pytest.approx(0.0, abs=1e-7)
    m.obj.sense = pyo.maximize  # max x e^-x: x = 1 (inside the bound)
    res = solve(m)
    assert res.extra["translated"] is False
    assert pyo.value(m.x) == pytest.approx(1.0, abs=1e-7)
    assert res.objective == pytest.approx(math.exp(-1), abs=1e-10)
    m.cap = 0.5  # the bound now binds
    res = solve(m)
    assert res.extra["translated"] is False
    assert pyo.value(m.x) == pytest.approx(0.5, abs=1e-7)
    assert res.objective == pytest.approx(0.5 * math.exp(-0.5), abs=1e-7)  # Ipopt relaxes bounds by 1e-8


@pytest.mark.parametrize("where", ["param", "fixed_var", "bound"])
def test_resolve_of_a_cached_translation_refuses_non_finite_data(where):
    """A re-solve skips the whole-model walk; what can change must still be refused by name."""
    m = pyo.ConcreteModel()
    m.p = pyo.Param(initialize=2.0, mutable=True)
    m.ub = pyo.Param(initialize=5.0, mutable=True)
    m.z = pyo.Var(initialize=1.0)
    m.z.fix(1.0)
    m.x = pyo.Var(bounds=(0, m.ub), initialize=1.0)
    m.obj = pyo.Objective(expr=(m.x - m.p) ** 2 + m.z * m.x)
    solver = IpoptSolver()
    assert solver.solve(m).status.is_ok
    assert solver.solve(m).extra["translated"] is False          # the cached translation is reused
    target = {"param": m.p, "fixed_var": m.z, "bound": m.ub}[where]
    target.set_value(float("nan")) if where != "fixed_var" else m.z.fix(float("nan"))
    with pytest.raises(ModelError, match="non-finite data"):
        solver.solve(m)
    target.set_value(1.0) if where != "fixed_var" else m.z.fix(1.0)
    assert solver.solve(m).status.is_ok
