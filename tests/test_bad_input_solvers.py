"""Reliability campaign, solver layer: bad data, bad options, bad plug-ins and bad custom backends.

Every case asserts the exception type (or the honest status) and that the
message names the field or the cause.  Only names of the original public API
are imported at module level, so the file also runs against the code before
the campaign (to count what failed there).
"""
from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.repn.standard_repn import generate_standard_repn
from scipy import optimize

from gridgames.solvers import (GridGamesError, ModelError, SolveResult, SolveStatus, UnknownSolverError,
                               UnsupportedModelError, get_solver, register_solver)
from gridgames.solvers.registry import _REGISTRY, list_solvers
from gridgames.solvers.errors import SolverOptionError

NAN, INF = float("nan"), float("inf")


# ---------------------------------------------------------------------------
# A custom backend for the registry cases: scipy's linprog on the LP read from
# Pyomo's standard representation.  It checks nothing itself, so whatever is
# refused below was refused by the registry's wrapper.
# ---------------------------------------------------------------------------
class LinprogSolver:
    """LP by scipy.optimize.linprog (HiGHS inside scipy), no checks of its own."""

    name = "linprog"

    def __init__(self, *, time_limit: float | None = None) -> None:
        self.time_limit = time_limit

    def solve(self, model: pyo.Block, **_: object) -> SolveResult:
        obj = next(model.component_data_objects(pyo.Objective, active=True))
        variables = [v for v in model.component_data_objects(pyo.Var) if not v.fixed]
        col = {id(v): j for j, v in enumerate(variables)}
        orepn = generate_standard_repn(obj.expr)
        c = np.zeros(len(variables))
        for v, a in zip(orepn.linear_vars, orepn.linear_coefs):
            c[col[id(v)]] += a
        a_ub, b_ub = [], []
        for con in model.component_data_objects(pyo.Constraint, active=True):
            repn = generate_standard_repn(con.body)
            row = np.zeros(len(variables))
            for v, a in zip(repn.linear_vars, repn.linear_coefs):
                row[col[id(v)]] += a
            if con.upper is not None:
                a_ub.append(row)
                b_ub.append(pyo.value(con.upper) - repn.constant)
            if con.lower is not None:
                a_ub.append(-row)
                b_ub.append(repn.constant - pyo.value(con.lower))
        bounds = [(v.lb, v.ub) for v in variables]
        res = optimize.linprog(c, A_ub=np.array(a_ub) if a_ub else None, b_ub=b_ub or None, bounds=bounds)
        if res.x is not None:
            for v, x in zip(variables, res.x):
                v.set_value(float(x))
        status = SolveStatus.OPTIMAL if res.status == 0 else SolveStatus.ERROR
        return SolveResult(status, float(res.fun + orepn.constant) if res.x is not None else None,
                           solver=self.name, message=res.message)


@pytest.fixture
def custom():
    """Register ``linprog`` (LP only) for one test."""
    register_solver("linprog", LinprogSolver, package="scipy", features={"lp"})
    yield "linprog"
    _REGISTRY.pop("linprog", None)


@pytest.fixture
def registry_snapshot():
    list_solvers()   # the built-ins register on first use: snapshot them, or a restore would drop them for good
    saved = dict(_REGISTRY)
    yield
    _REGISTRY.clear()
    _REGISTRY.update(saved)


# ---------------------------------------------------------------------------
# Non-finite data x coefficient position x backend
# ---------------------------------------------------------------------------
def small_lp() -> pyo.ConcreteModel:
    # min 2x + 3y + 1  s.t. x + y >= 4, x <= 3, 0 <= x, y <= 10  ->  x = 3, y = 1, objective 2*3 + 3 + 1 = 10.
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 10))
    m.y = pyo.Var(bounds=(0, 10))
    m.z = pyo.Var(bounds=(0, 10))
    m.z.fix(0.0)
    m.p = pyo.Param(mutable=True, initialize=2.0)
    m.q = pyo.Param(mutable=True, initialize=4.0)
    m.o = pyo.Objective(expr=m.p * m.x + 3 * m.y + 1 + m.z)
    m.c = pyo.Constraint(expr=m.x + m.y >= m.q)
    m.cap = pyo.Constraint(expr=m.x <= 3)
    return m


def _set_objective(m, expr):
    m.o.set_value(expr)


# Each entry: how to break the LP, and what the message must name.
BREAKS = {
    "objective-coef-nan": (lambda m: _set_objective(m, NAN * m.x + 3 * m.y), ["'o'", "nan"]),
    "objective-coef-inf": (lambda m: _set_objective(m, INF * m.x + 3 * m.y), ["'o'", "inf"]),
    "objective-coef-neginf": (lambda m: _set_objective(m, -INF * m.x + 3 * m.y), ["'o'", "inf"]),
    "objective-constant-nan": (lambda m: _set_objective(m, 2 * m.x + 3 * m.y + NAN), ["'o'", "nan"]),
    "objective-param-nan": (lambda m: setattr(m.p, "value", NAN), ["'p'", "nan"]),
    "objective-param-inf": (lambda m: setattr(m.p, "value", INF), ["'p'", "inf"]),
    "objective-fixed-var-nan": (lambda m: m.z.fix(NAN), ["'z'", "nan"]),
    "constraint-coef-nan": (lambda m: m.c.set_value(NAN * m.x + m.y >= 4), ["'c'", "nan"]),
    "constraint-coef-inf": (lambda m: m.c.set_value(INF * m.x + m.y >= 4), ["'c'", "inf"]),
    "constraint-rhs-param-nan": (lambda m: setattr(m.q, "value", NAN), ["'c'", "nan"]),
    "constraint-lower-plus-inf": (lambda m: m.c.set_value(m.x + m.y >= INF), ["'c'", "inf"]),
    "constraint-upper-nan": (lambda m: m.cap.set_value(m.x <= NAN), ["'cap'", "nan"]),
    "variable-bound-nan": (lambda m: m.y.setub(NAN), ["'y'", "nan"]),
}
BACKENDS = ["highs", "scip", "ipopt", "scipy", "pyomo:appsi_highs", "linprog"]


def _solver(name: str):
    if name == "linprog":
        return get_solver("linprog")
    return get_solver(name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_valid_lp_solves_to_the_hand_optimum(backend, custom):
    result = _solver(backend).solve(small_lp())
    assert result.ok
    assert result.objective == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("position", list(BREAKS))
def test_non_finite_data_is_refused_before_the_solve(backend, position, custom):
    model = small_lp()
    breaker, needles = BREAKS[position]
    breaker(model)
    solver = _solver(backend)
    with pytest.raises(ModelError) as err:
        result = solver.solve(model)
        pytest.fail(f"{backend} accepted {position}: {result.status} objective {result.objective}")
    message = str(err.value)
    assert "non-finite" in message
    for needle in needles:
        assert needle in message, message


def test_non_finite_quadratic_coefficient_is_refused_for_qp_backends():
    for backend in ("highs", "scip", "ipopt", "scipy"):
        m = small_lp()
        m.o.set_value(2 * m.x + 3 * m.y + NAN * m.x ** 2)
        with pytest.raises(ModelError, match="'o'.*nan"):
            get_solver(backend).solve(m)


def test_highs_check_false_never_reports_a_nan_objective_as_optimal():
    # check=False skips the pre-solve checks (fast re-solves); the answer must still not be "optimal nan"
    m = small_lp()
    m.p.value = NAN
    with pytest.raises(ModelError, match="'p'"):
        get_solver("highs").solve(m, check=False)


# ---------------------------------------------------------------------------
# Options: unknown names, bad values, translation of the common ones
# ---------------------------------------------------------------------------
OPTION_BACKENDS = ["highs", "scip", "ipopt", "scipy", "pyomo:appsi_highs", "linprog"]


@pytest.mark.parametrize("backend", OPTION_BACKENDS)
def test_misspelled_time_limit_is_refused_with_a_suggestion(backend, custom):
    with pytest.raises(GridGamesError, match="time_limt") as err:
        get_solver(backend, time_limt=5)
    assert "time_limit" in str(err.value).replace("time_limt", "")


@pytest.mark.parametrize("backend", ["highs", "scip", "ipopt", "scipy", "pyomo:appsi_highs"])
@pytest.mark.parametrize("value", [-1, 0, "abc", NAN, INF])
def test_bad_time_limit_value_is_refused(backend, value):
    with pytest.raises(GridGamesError, match="time_limit"):
        get_solver(backend, time_limit=value)


@pytest.mark.parametrize("backend", ["highs", "scip", "scipy", "pyomo:appsi_highs"])
@pytest.mark.parametrize("value", [-0.1, "tight", NAN])
def test_bad_mip_gap_value_is_refused(backend, value):
    with pytest.raises(GridGamesError, match="mip_gap"):
        get_solver(backend, mip_gap=value)


@pytest.mark.parametrize("backend", ["highs", "scip", "pyomo:appsi_highs"])
@pytest.mark.parametrize("value", [0, 1.5, -2])
def test_bad_threads_value_is_refused(backend, value):
    with pytest.raises(GridGamesError, match="threads"):
        get_solver(backend, threads=value)


@pytest.mark.parametrize("backend,option,why", [
    ("ipopt", "mip_gap", "continuous"), ("ipopt", "threads", "serial"), ("scipy", "threads", "serial")])
def test_common_option_without_counterpart_is_refused_with_the_reason(backend, option, why):
    with pytest.raises(GridGamesError, match=f"{option}.*{why}"):
        get_solver(backend, **{option: 1})


@pytest.mark.parametrize("backend,options,needle", [
    ("highs", {"presolve": "of"}, "presolve"),
    ("highs", {"simplex_iteration_limit": -5}, "simplex_iteration_limit"),
    ("highs", {"no_such_highs_option": 1}, "no_such_highs_option"),
    ("scip", {"limits/time": -1}, "limits/time"),
    ("scip", {"limits/tim": 5}, "limits/time"),
    ("scip", {"display/verblevel": 9}, "display/verblevel"),
    ("ipopt", {"max_iterr": 5}, "max_iter"),
    ("ipopt", {"tol": -1.0}, "tol"),
    ("scipy", {"maxiter": 0}, "maxiter"),
    ("scipy", {"maxiterr": 10}, "maxiter"),
    ("scipy", {"ftol": -1.0}, "ftol"),
])
def test_bad_native_option_is_refused_at_get_solver(backend, options, needle):
    with pytest.raises(GridGamesError, match=needle):
        get_solver(backend, **options)


def test_common_options_reach_highs_and_scip():
    # threads=1 needs HiGHS' thread pool rebuilt: it used to end in status 'error'
    for backend in ("highs", "scip"):
        result = get_solver(backend, time_limit=30, mip_gap=1e-6, threads=1).solve(small_lp())
        assert result.status is SolveStatus.OPTIMAL, result.message
        assert result.objective == pytest.approx(10.0)


def test_scipy_time_limit_stops_slsqp():
    # min sum (x_i - i)^2 + x_i^4 over 30 variables: SLSQP needs many evaluations; a limit of
    # one nanosecond must stop it at the first evaluation past it, not be ignored
    m = pyo.ConcreteModel()
    m.i = pyo.RangeSet(30)
    m.x = pyo.Var(m.i, initialize=0.0)
    m.o = pyo.Objective(expr=sum((m.x[i] - i) ** 2 + m.x[i] ** 4 for i in m.i))
    result = get_solver("scipy", time_limit=1e-9).solve(m)
    assert result.status is SolveStatus.TIME_LIMIT
    assert "time limit" in result.message


def test_solve_overrides_are_checked_too():
    with pytest.raises(GridGamesError, match="presolv"):
        get_solver("highs").solve(small_lp(), presolv="off")


@pytest.mark.parametrize("plugin,options,expected", [
    ("glpk", {"time_limit": 5, "mip_gap": 0.01}, {"tmlim": 5, "mipgap": 0.01}),
    ("cbc", {"time_limit": 5, "mip_gap": 0.01, "threads": 2}, {"seconds": 5, "ratioGap": 0.01, "threads": 2}),
    ("gurobi_direct", {"time_limit": 5, "mip_gap": 0.01, "threads": 2},
     {"TimeLimit": 5, "MIPGap": 0.01, "Threads": 2}),
    ("cplex", {"time_limit": 5, "mip_gap": 0.01}, {"timelimit": 5, "mip_tolerances_mipgap": 0.01}),
    ("appsi_highs", {"time_limit": 5, "mip_gap": 0.01}, {"time_limit": 5, "mip_rel_gap": 0.01}),
    ("glpk", {"nomip": ""}, {"nomip": ""}),
])
def test_passthrough_translates_common_options(plugin, options, expected):
    from gridgames.solvers.pyomo_backend import PyomoLegacySolver

    assert PyomoLegacySolver(plugin, **options).options == expected


@pytest.mark.parametrize("plugin,options,needle", [
    ("glpk", {"threads": 2}, "threads"),           # glpsol has no threads option
    ("gams", {"time_limit": 5}, "time_limit"),     # plug-in whose names gridgames does not know
    ("cbc", {"time_limt": 5}, "time_limit"),       # a typo of a common option
    ("glpk", {"mip_gap": -1}, "mip_gap"),
])
def test_passthrough_refuses_options_it_cannot_translate(plugin, options, needle):
    from gridgames.solvers.pyomo_backend import PyomoLegacySolver

    with pytest.raises(GridGamesError, match=needle):
        PyomoLegacySolver(plugin, **options)


# ---------------------------------------------------------------------------
# Pass-through plug-ins: names, features, install hints
# ---------------------------------------------------------------------------
def small_qp() -> pyo.ConcreteModel:
    m = small_lp()
    m.o.set_value((m.x - 1) ** 2 + m.y)
    return m


def small_nlp() -> pyo.ConcreteModel:
    m = small_lp()
    m.o.set_value(pyo.exp(m.x) + m.y)
    return m


def small_miqp() -> pyo.ConcreteModel:
    m = small_qp()
    m.y.domain = pyo.Integers
    return m


@pytest.mark.parametrize("name,needle", [
    ("pyomo:nonsense", "nonsense"), ("pyomo:glpkk", "pyomo:glpk"), ("pyomo:", "plug-in"),
    ("pyomo:gurobi-direct", "gurobi_direct")])
def test_unknown_pyomo_plugin_is_a_clear_error(name, needle):
    with pytest.raises(UnknownSolverError, match=needle):
        get_solver(name)


def test_non_string_solver_name_is_a_clear_error():
    with pytest.raises(UnknownSolverError, match="string"):
        get_solver(["highs"])


@pytest.mark.parametrize("plugin,hint", [
    ("glpk", "glpk-utils"), ("cbc", "coinor-cbc"), ("gurobi", "pip install gurobipy"),
    ("gurobi_direct", "pip install gurobipy"), ("cplex_direct", "pip install cplex"),
    ("xpress", "pip install xpress"), ("mosek", "pip install mosek"), ("baron", "minlp.com"),
    ("ipopt", "conda install -c conda-forge ipopt")])
def test_missing_plugin_names_the_right_package_or_binary(plugin, hint):
    from gridgames.solvers import SolverNotAvailableError
    from gridgames.solvers.registry import solver_info

    if solver_info(f"pyomo:{plugin}").available:
        pytest.skip(f"{plugin} is installed here")
    with pytest.raises(SolverNotAvailableError) as err:
        get_solver(f"pyomo:{plugin}")
    assert hint in str(err.value)
    if hint != f"pip install {plugin}":  # xpress and mosek are pip packages of the plug-in's name
        assert not re.search(rf"pip install {plugin}\b", str(err.value))  # the old, wrong hint


@pytest.mark.parametrize("plugin,model", [
    ("glpk", small_qp), ("glpk", small_nlp), ("cbc", small_qp), ("cbc", small_miqp),
    ("gurobi_direct", small_nlp), ("cplex", small_nlp), ("ipopt", small_miqp)])
def test_passthrough_refuses_a_model_class_it_does_not_solve(plugin, model):
    # the refusal comes before the plug-in is asked anything: it holds whether or not the solver is installed
    from gridgames.solvers.pyomo_backend import PyomoLegacySolver

    with pytest.raises(UnsupportedModelError, match=f"pyomo:{plugin}"):
        PyomoLegacySolver(plugin).solve(model())


def test_installed_passthrough_refuses_what_it_cannot_solve_and_solves_its_own_classes():
    # Pyomo's appsi_highs interface is linear only (it raises DegreeError on a square);
    # its 'highs' plug-in takes quadratic objectives
    appsi = get_solver("pyomo:appsi_highs")
    for model, kind in ((small_qp, "QP"), (small_nlp, "NLP")):
        with pytest.raises(UnsupportedModelError, match=kind):
            appsi.solve(model())
    assert appsi.solve(small_lp()).objective == pytest.approx(10.0)
    with pytest.raises(UnsupportedModelError, match="NLP"):
        get_solver("pyomo:highs").solve(small_nlp())
    # (x - 1)^2 + y with x + y >= 4, x <= 3: y = 4 - x, (x - 1)^2 - x + 4 -> x = 1.5, value 0.25 + 2.5 = 2.75
    result = get_solver("pyomo:highs").solve(small_qp())
    assert result.ok and result.objective == pytest.approx(2.75, abs=1e-6)


@pytest.mark.parametrize("plugin", ["pyomo:highs", "pyomo:appsi_highs"])
def test_highs_plugins_check_option_names_and_take_a_thread_count(plugin):
    """A misspelled HiGHS option was ignored silently; threads=1 ended 'error' with the message '<undefined>'
    (HiGHS keeps one thread pool per process)."""
    with pytest.raises(SolverOptionError, match=r"unknown option 'presolv' \(did you mean 'presolve'"):
        get_solver(plugin, presolv="off")
    result = get_solver(plugin, threads=1).solve(small_lp())
    assert result.ok and result.objective == pytest.approx(10.0) and "<undefined>" not in result.message


def test_unknown_features_are_said_unknown():
    from gridgames.solvers.registry import solver_info

    info = solver_info("pyomo:gams")
    assert not info.features_known
    assert "features unknown" in info.description


def test_solvers_command_lists_installed_pyomo_plugins(capsys):
    from gridgames.cli import main

    assert main(["solvers"]) == 0
    out = capsys.readouterr().out
    assert "pyomo:appsi_highs" in out  # highspy is a dependency, so Pyomo's appsi_highs plug-in is installed
    assert ("pyomo:glpk " in out) == (shutil.which("glpsol") is not None)


# ---------------------------------------------------------------------------
# register_solver and custom backends
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,needle", [
    ({"name": "x", "factory": "not callable"}, "callable"),
    ({"name": "x", "factory": LinprogSolver, "features": "lp"}, "set of strings"),
    ({"name": "x", "factory": LinprogSolver, "features": {"lp", "quantum"}}, "quantum"),
    ({"name": "my solver", "factory": LinprogSolver}, "without spaces"),
    ({"name": "", "factory": LinprogSolver}, "non-empty"),
    ({"name": "pyomo:x", "factory": LinprogSolver}, "reserved"),
    ({"name": "highs", "factory": LinprogSolver}, "replace=True"),
])
def test_bad_registration_is_refused(kwargs, needle, registry_snapshot):
    name, factory = kwargs.pop("name"), kwargs.pop("factory")
    with pytest.raises(ValueError, match=needle):
        register_solver(name, factory, **kwargs)
    assert _REGISTRY["highs"].factory is not LinprogSolver


def test_replacing_a_builtin_needs_replace_true(registry_snapshot):
    register_solver("highs", LinprogSolver, features={"lp"}, replace=True)
    assert get_solver("highs").solve(small_lp()).objective == pytest.approx(10.0)


@pytest.mark.parametrize("product", [None, 42, "solver", object()])
def test_factory_returning_a_non_solver_is_refused(product, registry_snapshot):
    register_solver("broken", lambda: product, features={"lp"})
    with pytest.raises(GridGamesError, match="no solve"):
        get_solver("broken")


def test_custom_declared_features_are_enforced(custom):
    with pytest.raises(UnsupportedModelError, match="linprog.*QP"):
        get_solver(custom).solve(small_qp())


def test_custom_unknown_option_names_the_valid_ones(custom):
    with pytest.raises(GridGamesError, match="timelimit.*time_limit"):
        get_solver(custom, timelimit=3)


class _WrongResult(LinprogSolver):
    def solve(self, model, **kw):
        return {"status": "optimal"}


class _NanOptimal(LinprogSolver):
    def solve(self, model, **kw):
        return SolveResult(SolveStatus.OPTIMAL, NAN, solver="nan-optimal")


def test_custom_solve_must_return_a_solve_result(registry_snapshot):
    register_solver("wrong-result", _WrongResult, features={"lp"})
    with pytest.raises(GridGamesError, match="SolveResult"):
        get_solver("wrong-result").solve(small_lp())


def test_custom_optimal_with_nan_objective_becomes_error(registry_snapshot):
    register_solver("nan-optimal", _NanOptimal, features={"lp"})
    result = get_solver("nan-optimal").solve(small_lp())
    assert result.status is SolveStatus.ERROR
    assert result.objective is not None and math.isnan(result.objective)
    assert "not a solution" in result.message


class _Raises(LinprogSolver):
    name = "raises"

    def solve(self, model, **kw):
        raise RuntimeError("license server unreachable")


class _NoValues(LinprogSolver):
    name = "no-values"

    def solve(self, model, **kw):
        return SolveResult(SolveStatus.OPTIMAL, 1.0, solver="no-values")


def test_a_plug_in_that_raises_or_loads_nothing_gives_an_error_result_naming_it(registry_snapshot):
    # before: the raw RuntimeError escaped (a whole solver comparison lost); "optimal" without values
    # failed later inside Pyomo ("No value for uninitialized VarData")
    register_solver("raises", _Raises, features={"lp"})
    register_solver("no-values", _NoValues, features={"lp"})
    result = get_solver("raises").solve(small_lp())
    assert result.status is SolveStatus.ERROR
    assert "solver 'raises' raised RuntimeError: license server unreachable" in result.message
    result = get_solver("no-values").solve(small_lp())
    assert result.status is SolveStatus.ERROR and "left 2 variable(s) without values" in result.message

    def factory():
        raise ValueError("cannot start")
    register_solver("bad-factory", factory, features={"lp"})
    with pytest.raises(GridGamesError, match="solver 'bad-factory': its factory raised ValueError: cannot start"):
        get_solver("bad-factory")


def test_a_solver_comparison_keeps_the_other_rows_when_a_plug_in_raises(registry_snapshot):
    from gridgames.models.dispatch.config import load_dispatch_instance
    from gridgames.models.dispatch.solve import compare_solvers
    from gridgames.data.bundled import instance_path
    from gridgames.models.instance import load_instance

    register_solver("raises", _Raises, features={"lp", "qp"})
    data = load_dispatch_instance(load_instance(instance_path("dispatch_small")))
    table, _ = compare_solvers(data, ["highs", "raises"])
    assert table.loc["highs", "status"] == "optimal"
    assert table.loc["raises", "status"] == "error" and math.isnan(table.loc["raises", "objective"])


# ---------------------------------------------------------------------------
# A plug-in's claimed solution is checked against the model, as a built-in's is
# ---------------------------------------------------------------------------
class _Claims:
    """Loads ``values`` and reports ``objective`` as optimal, whatever the model says."""

    name = "claims"

    def __init__(self, values: dict, objective: float) -> None:
        self.values, self.objective = values, objective

    def solve(self, model: pyo.Block, **_: object) -> SolveResult:
        for name, x in self.values.items():
            model.find_component(name).set_value(x, skip_validation=True)
        return SolveResult(SolveStatus.OPTIMAL, self.objective, solver=self.name)


def _box_lp() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 3))
    m.c = pyo.Constraint(expr=m.x >= 1)
    m.o = pyo.Objective(expr=m.x)
    return m


@pytest.mark.parametrize("values, objective, named", [
    ({"x": -5.0}, -5.0, "'x'"),        # outside its bounds (and the row)
    ({"x": 0.5}, 0.5, "'c'"),          # inside the bounds, breaking the row
    ({"x": 1.0}, 123.0, "123"),        # a true optimum with a made-up objective
])
def test_a_plugin_claiming_an_impossible_solution_gets_error(registry_snapshot, values, objective, named):
    register_solver("claims", lambda: _Claims(values, objective), features={"lp"})
    r = get_solver("claims").solve(_box_lp())
    assert r.status is SolveStatus.ERROR and named in r.message and "not a solution" in r.message
    honest = {"x": 1.0}
    register_solver("honest", lambda: _Claims(honest, 1.0), features={"lp"})
    assert get_solver("honest").solve(_box_lp()).status is SolveStatus.OPTIMAL


def test_the_solver_comparison_keeps_its_rows_when_a_plugin_refuses_the_model(custom):
    from gridgames.models.dispatch.config import load_dispatch_instance
    from gridgames.models.dispatch.solve import compare_solvers
    from gridgames.data.bundled import instance_path
    from gridgames.models.instance import load_instance

    data = load_dispatch_instance(load_instance(instance_path("dispatch_small")))
    table, _ = compare_solvers(data, ["highs", custom])     # the dispatch is a QP; linprog takes LPs
    assert table.loc[custom, "status"] == "unsupported" and table.loc["highs", "status"] == "optimal"
    with pytest.raises(UnsupportedModelError, match="linprog"):
        compare_solvers(data, [custom])                        # named alone: its refusal is the answer


def _register_linprog_plugin() -> None:
    """What an installed package's ``gridgames.solvers`` entry point names: a function that registers."""
    register_solver("linprog-ep", LinprogSolver, package="scipy", features={"lp"})


def test_installed_packages_register_solvers_through_entry_points(monkeypatch, caplog):
    from importlib.metadata import EntryPoint

    from gridgames.solvers import available_solvers, registry

    good = EntryPoint("linprog-ep", f"{__name__}:_register_linprog_plugin", registry.ENTRY_POINT_GROUP)
    broken = EntryPoint("broken", "no_such_module_here:register", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "_solver_entry_points", lambda: [broken, good])
    saved = dict(_REGISTRY)
    _REGISTRY.clear()                  # the next use registers the built-ins, then the entry points
    try:
        assert {"highs", "linprog-ep"} <= set(available_solvers())
        assert "solver entry point 'broken'" in caplog.text and "no_such_module_here" in caplog.text
        r = get_solver("linprog-ep").solve(_box_lp())
        assert r.status is SolveStatus.OPTIMAL and r.objective == pytest.approx(1.0)
    finally:
        _REGISTRY.clear()
        _REGISTRY.update(saved)
