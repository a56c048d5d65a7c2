"""The one-pass walk of agent expressions (solvers/games/terms.py) against Pyomo's own tools."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.core.expr.visitor import identify_variables
from pyomo.repn.standard_repn import generate_standard_repn

from gridgames.solvers.games.agent_qp import agent_qp
from gridgames.solvers.games.structure import analyse_agents, leader_part
from gridgames.solvers.games.terms import quadratic_terms, unfixed_variables


def _model() -> pyo.ConcreteModel:
    m = pyo.ConcreteModel()
    m.I = pyo.RangeSet(0, 3)
    m.x = pyo.Var(m.I, initialize=lambda m, i: 0.5 + i)
    m.y = pyo.Var(initialize=2.0)
    m.z = pyo.Var(initialize=3.0)
    m.z.fix()
    m.a = pyo.Param(m.I, mutable=True, initialize=lambda m, i: 1.5 * i - 1)
    m.e = pyo.Expression(expr=2 * m.x[1] - m.y * m.x[2])
    return m


def _expressions(m: pyo.ConcreteModel) -> list:
    return [
        sum(m.a[i] * m.x[i] for i in m.I) + 4,
        -(m.x[0] - 3 * m.y) ** 2 / 2 + m.z * m.x[1] * m.y,      # expanded square: fallback path
        m.x[0] ** 2 - m.x[1] * m.y + m.z ** 2 + m.e / 4 - 7 * (m.x[2] + m.y),
        pyo.quicksum(m.x[i] * m.x[i] for i in m.I) - m.a[2] * m.e,
        pyo.exp(m.x[0]) + m.x[1] * m.y + 3 * m.x[3],              # a nonlinear rest
        m.y / m.z - m.x[0] / (1 + m.y),                         # division by a variable: nonlinear
        m.x[0] ** 3 + 2.5,
        # leaves taken inline, then a fixed variable's product, a cube and a Param coefficient stop it
        pyo.quicksum([2 * m.x[1], m.x[0] * m.y, m.x[3] ** 2, m.z * m.x[2], m.x[1] ** 3, m.a[3] * m.x[0], m.y * m.y]),
    ]


def _polynomial(linear, quadratic, constant) -> tuple[dict, dict, float]:
    lin: dict[str, float] = {}
    quad: dict[tuple[str, str], float] = {}
    for v, a in linear:
        lin[v.name] = lin.get(v.name, 0.0) + a
    for (v, w), a in quadratic:
        key = tuple(sorted((v.name, w.name)))
        quad[key] = quad.get(key, 0.0) + a
    return ({k: a for k, a in lin.items() if a != 0}, {k: a for k, a in quad.items() if a != 0}, constant)


@pytest.mark.parametrize("case", range(8))
def test_terms_match_standard_repn_and_identify_variables(case):
    m = _model()
    expr = _expressions(m)[case]
    t = quadratic_terms(expr)
    assert [v.name for v in t.columns] == [v.name for v in identify_variables(expr, include_fixed=False)]
    assert [v.name for v in unfixed_variables(expr)] == [v.name for v in t.columns]
    repn = generate_standard_repn(expr, quadratic=True, compute_values=True)
    if repn.nonlinear_expr is not None:
        assert not t.is_quadratic
        return
    assert t.is_quadratic
    got = _polynomial([(t.columns[j], a) for j, a in zip(t.linear_cols, t.linear_coefs)],
                      [((t.columns[i], t.columns[j]), a)
                       for i, j, a in zip(t.quadratic_i, t.quadratic_j, t.quadratic_coefs)], t.constant)
    want = _polynomial(zip(repn.linear_vars, map(float, repn.linear_coefs)),
                       zip(repn.quadratic_vars, map(float, repn.quadratic_coefs)), float(repn.constant))
    assert got[0].keys() == want[0].keys() and got[1].keys() == want[1].keys()
    for k in want[0]:
        assert got[0][k] == pytest.approx(want[0][k], rel=1e-12)
    for k in want[1]:
        assert got[1][k] == pytest.approx(want[1][k], rel=1e-12)
    assert got[2] == pytest.approx(want[2], rel=1e-12, abs=1e-12)
    # the value at the current point agrees with Pyomo's evaluation
    x = np.array([v.value for v in t.columns])
    value = t.constant + sum(a * x[j] for j, a in zip(t.linear_cols, t.linear_coefs)) \
        + sum(a * x[i] * x[j] for i, j, a in zip(t.quadratic_i, t.quadratic_j, t.quadratic_coefs))
    assert value == pytest.approx(pyo.value(expr), rel=1e-12)


def test_terms_say_when_they_depend_on_params_or_fixed_vars():
    m = _model()
    assert not quadratic_terms(2 * m.x[0] + m.x[1] ** 2 - m.x[2] * m.y / 4).dynamic
    assert quadratic_terms(m.a[1] * m.x[0]).dynamic
    assert quadratic_terms(m.z * m.x[0]).dynamic


def _bilevel(scale: float = 1.0) -> pyo.ConcreteModel:
    """Leader p; follower max Σ (c_i − p) y_i − w y_i²/2 with a mutable weight w and a
    shared budget with the leader's variable: y_i* = clip((c_i − p)/w, 0, 5)."""
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10), initialize=2.0)
    m.w = pyo.Param(mutable=True, initialize=scale)
    m.f = pyo.Block()
    m.f.y = pyo.Var(range(3), bounds=(0, 5))
    c = [4.0, 6.0, 8.0]
    m.f.o = pyo.Objective(expr=sum((c[i] - m.p) * m.f.y[i] - m.w * m.f.y[i] ** 2 / 2 for i in range(3)),
                          sense=pyo.maximize)
    m.f.cap = pyo.Constraint(expr=sum(m.f.y[i] for i in range(3)) <= 20 + m.p)
    m.o = pyo.Objective(expr=m.p * sum(m.f.y[i] for i in range(3)), sense=pyo.maximize)
    return m


def test_agent_qp_reads_a_changed_param_after_the_analysis():
    """The analysis walk evaluated w = 1; agent_qp after w = 2 must see 2 (the walk is redone)."""
    m = _bilevel()
    (agent,) = analyse_agents(m, m.f)
    assert [v.name for v in agent.parameters] == ["p"]
    m.w = 2.0
    qp = agent_qp(agent)
    assert qp.H.diagonal() == pytest.approx([2.0, 2.0, 2.0])   # minimisation form: −(−w)
    assert qp.c == pytest.approx([-(4 - 2), -(6 - 2), -(8 - 2)])  # at p = 2
    assert qp.con_upper - qp.con_const == pytest.approx([22.0])  # 20 + p at p = 2
    assert leader_part(m, [agent]).variables[0] is m.p


def test_named_expressions_walked_once_give_the_same_terms_and_values():
    """With a NamedTerms cache, a named Expression met twice is merged, not re-walked: same polynomial,
    same column order, and ``value()`` equals Pyomo's evaluation."""
    from gridgames.solvers.games.terms import NamedTerms
    m = _model()
    m.z.unfix()
    m.g = pyo.Expression(expr=3 * m.e - m.x[3] ** 2 + m.a[1])          # nested named Expressions
    exprs = [m.e * 2 + m.g - m.x[0] * m.y, -m.g + pyo.exp(m.x[1]) + m.e / 4, m.x[0] + 1]
    named = NamedTerms()
    for expr in exprs:
        plain, cached = quadratic_terms(expr), quadratic_terms(expr, named)
        assert [v.name for v in cached.columns] == [v.name for v in plain.columns]
        lin = lambda t: _polynomial(zip((t.columns[j] for j in t.linear_cols), t.linear_coefs),
                                    zip(((t.columns[i], t.columns[j]) for i, j in zip(t.quadratic_i, t.quadratic_j)),
                                        t.quadratic_coefs), t.constant)
        (l1, q1, c1), (l2, q2, c2) = lin(cached), lin(plain)
        assert l1 == pytest.approx(l2) and q1 == pytest.approx(q2) and c1 == pytest.approx(c2)
        assert cached.value() == pytest.approx(pyo.value(expr), rel=1e-12)
        assert cached.dynamic == plain.dynamic
    assert {id(e) for e, _ in named.values()} == {id(m.e), id(m.g)}
    m.x[0].value = None
    with pytest.raises(ValueError, match=r"x\[0\]"):
        quadratic_terms(m.x[0] * 2, named).value()


def test_leader_value_from_terms_equals_pyomo():
    from gridgames.solvers.games.terms import NamedTerms
    m = _bilevel()
    named = NamedTerms()
    agents = analyse_agents(m, m.f, named=named)
    leader = leader_part(m, agents, named=named)
    for p in (0.0, 1.5, 3.25):
        m.p.value = p
        for i in range(3):
            m.f.y[i].value = 1.0 + i * p
        assert leader.value() == pytest.approx(pyo.value(m.o.expr), rel=1e-14)
