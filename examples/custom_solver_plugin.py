"""Plug your own solver into gridgames: a small LP backend around scipy.optimize.linprog.

A backend is any object with ``name``, ``features`` (problem classes it takes),
``solve(model, **kw) -> SolveResult`` that loads the solution into the Pyomo model,
and optionally a class-level ``available()``.  ``gg.register_solver`` puts it in the
registry; from then on every gridgames function in this process takes it by name.  To
reach the ``gridgames`` command line too, a package declares a ``gridgames.solvers``
entry point naming a function that makes this ``register_solver`` call.

The check: a 2-product production plan with a hand-computed optimum (vertex of
two binding rows), also solved by the built-in ``highs`` backend.

Run:  python examples/custom_solver_plugin.py
"""
import time

import numpy as np
import pyomo.environ as pyo
from pyomo.repn.standard_repn import generate_standard_repn
from scipy.optimize import linprog

import gridgames as gg


class LinprogSolver:
    """LPs through ``scipy.optimize.linprog(method='highs')``; rows read from Pyomo's standard repn."""

    name = "linprog"
    features = frozenset({"lp"})

    def __init__(self, presolve: bool = True) -> None:    # solver options arrive as keywords
        self.presolve = presolve

    @classmethod
    def available(cls) -> bool:
        return True                                      # scipy is a gridgames dependency

    def solve(self, model: pyo.Block, **_) -> gg.SolveResult:
        start = time.perf_counter()
        obj = next(model.component_data_objects(pyo.Objective, active=True))
        variables = list(model.component_data_objects(pyo.Var, descend_into=True))
        col = {id(v): j for j, v in enumerate(variables)}
        sign = 1.0 if obj.sense == pyo.minimize else -1.0
        c = np.zeros(len(variables))
        orepn = generate_standard_repn(obj.expr)
        if not orepn.is_linear():
            raise gg.UnsupportedModelError("solver 'linprog' takes linear objectives only")
        for v, a in zip(orepn.linear_vars, orepn.linear_coefs):
            c[col[id(v)]] += sign * a
        a_ub, b_ub = [], []                              # every row as  a x <= b
        for con in model.component_data_objects(pyo.Constraint, active=True):
            repn = generate_standard_repn(con.body)
            row = np.zeros(len(variables))
            for v, a in zip(repn.linear_vars, repn.linear_coefs):
                row[col[id(v)]] += a
            if con.upper is not None:
                a_ub.append(row); b_ub.append(pyo.value(con.upper) - repn.constant)
            if con.lower is not None:
                a_ub.append(-row); b_ub.append(repn.constant - pyo.value(con.lower))
        res = linprog(c, A_ub=np.array(a_ub) if a_ub else None, b_ub=b_ub or None,
                      bounds=[(v.lb, v.ub) for v in variables], method="highs",
                      options={"presolve": self.presolve})
        statuses = {0: gg.SolveStatus.OPTIMAL, 1: gg.SolveStatus.ITERATION_LIMIT,
                    2: gg.SolveStatus.INFEASIBLE, 3: gg.SolveStatus.UNBOUNDED}
        status = statuses.get(res.status, gg.SolveStatus.ERROR)
        objective = None
        if res.x is not None and status.is_ok:
            for v, x in zip(variables, res.x):
                v.set_value(float(x))
            objective = float(pyo.value(obj.expr))
        return gg.SolveResult(status, objective, time.perf_counter() - start, res.nit, self.name, res.message)


def plan() -> pyo.ConcreteModel:
    """max 3a + 5b  s.t.  a <= 4,  2b <= 12,  3a + 2b <= 18  ->  (a, b) = (2, 6), profit 36."""
    m = pyo.ConcreteModel()
    m.a = pyo.Var(bounds=(0, 4))
    m.b = pyo.Var(bounds=(0, None))
    m.plant2 = pyo.Constraint(expr=2 * m.b <= 12)
    m.plant3 = pyo.Constraint(expr=3 * m.a + 2 * m.b <= 18)
    m.profit = pyo.Objective(expr=3 * m.a + 5 * m.b, sense=pyo.maximize)
    return m


def main() -> None:
    print("built-in solvers:", gg.available_solvers())
    gg.register_solver("linprog", LinprogSolver, package="scipy", features={"lp"},
                       description="scipy.optimize.linprog (HiGHS inside scipy), LP only")
    assert "linprog" in gg.available_solvers()
    for name in ("linprog", "highs"):
        m = plan()
        res = gg.get_solver(name).solve(m)
        print(f"{name:<8} {res.status.value:<8} profit {res.objective:.6f}  "
              f"a = {m.a.value:.6f}  b = {m.b.value:.6f}")
        assert res.ok and abs(res.objective - 36.0) < 1e-9, res
        assert abs(m.a.value - 2.0) < 1e-9 and abs(m.b.value - 6.0) < 1e-9

if __name__ == "__main__":
    main()
