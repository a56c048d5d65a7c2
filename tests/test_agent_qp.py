"""The array path of verify_followers (large QP followers re-solved as one block-diagonal problem:
Clarabel for convex ones, Ipopt otherwise)."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.benchmarks.pricing_family import analytic_solution, build_model, make_data
from gridgames.solvers.games.agent_qp import agent_qp
from gridgames.solvers.games.bilevel import verify_followers
from gridgames.solvers.games.structure import analyse_agents

T, K = 600, 3   # > LARGE_QP follower variables: the array path


def _loaded(shift: float = 0.0) -> tuple[pyo.ConcreteModel, np.ndarray]:
    data = make_data(T, K, seed=3)
    p, q, _ = analytic_solution(data)
    m = build_model(data)
    for t in m.T:
        m.p[t].set_value(p[t])
    for k in m.buyers:
        for t in m.T:
            m.buyers[k].q[t].set_value(q[k, t] + shift)
    return m, data.b


def test_array_checks_match_per_follower_path_and_closed_form():
    m, _ = _loaded()
    agents = analyse_agents(m, m.buyers)
    fast = verify_followers(m, agents)                 # default: array path
    slow = verify_followers(m, agents, solver="ipopt")  # a Pyomo solve per follower
    for f, s in zip(fast, slow):
        # Clarabel on a convex QP certifies the global optimum; the Pyomo solve with Ipopt a local one
        assert f.name == s.name and (f.status, s.status) == ("optimal", "locally_optimal")
        assert f.certified and not s.certified
        assert f.value == pytest.approx(s.value, rel=1e-12)
        assert f.best_value == pytest.approx(s.best_value, rel=1e-9)
        assert abs(f.gap) < 1e-6 and not f.relaxed and f.violation == 0.0


def test_joint_run_falls_back_to_ipopt_without_clarabel(monkeypatch):
    """Clarabel missing: the same checks from one Ipopt run (locally_optimal, not certified)."""
    from gridgames.solvers import clarabel

    m, _ = _loaded()
    agents = analyse_agents(m, m.buyers)
    with_clarabel = verify_followers(m, agents)
    monkeypatch.setattr(clarabel, "available", lambda: False)
    without = verify_followers(m, agents)
    for a, b in zip(with_clarabel, without):
        assert b.status == "locally_optimal" and not b.certified
        assert a.best_value == pytest.approx(b.best_value, rel=1e-9)


def test_agent_qp_from_the_analysis_walk_equals_the_fixed_parameter_repn():
    """agent_qp reuses analyse_agents' walk; the arrays equal those of a standard repn taken with
    the leader's prices fixed (the old path), a bilinear p·q term included."""
    from gridgames.solvers.games.agent_qp import _agent_qp_fixed

    m, _ = _loaded()
    m.buyers[1].cap = pyo.Constraint(expr=sum(m.buyers[1].q[t] + 0.5 * m.p[t] for t in m.T) <= 1e4)
    for agent in analyse_agents(m, m.buyers):
        new, old = agent_qp(agent), _agent_qp_fixed(agent)
        assert agent.terms and new is not None
        for name in ("c", "con_lower", "con_upper", "con_const", "lb", "ub"):
            assert np.allclose(getattr(new, name), getattr(old, name), rtol=1e-13, atol=1e-12), name
        assert new.c0 == pytest.approx(old.c0, rel=1e-12)
        assert abs(new.H - old.H).sum() < 1e-12 and abs(new.A - old.A).sum() < 1e-12
        assert new.A.shape == old.A.shape and new.A.nnz == old.A.nnz


def test_array_checks_measure_a_known_gap():
    """Every q moved by d off the response q* = b(a − p): the gap is Σ_t d²/(2b) per follower."""
    d = 0.5
    m, b = _loaded(shift=d)
    checks = verify_followers(m, analyse_agents(m, m.buyers))
    for check, bk in zip(checks, b):
        assert check.gap == pytest.approx(T * d * d / (2 * bk), rel=1e-6)


def test_agent_qp_refuses_a_nonquadratic_follower():
    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 1), initialize=0.5)
    m.f = pyo.Block()
    m.f.y = pyo.Var(range(3), bounds=(0.1, 2), initialize=1.0)
    m.f.o = pyo.Objective(expr=sum(pyo.exp(m.f.y[i]) - m.p * m.f.y[i] for i in range(3)))
    (agent,) = analyse_agents(m, m.f)
    assert agent_qp(agent) is None


def test_array_checks_relax_a_follower_infeasible_by_a_tolerance():
    """Σ y ≤ x with y ≥ 0 and x = −1e-3: infeasible as stated (beyond Ipopt's 1e-4), feasible relaxed
    by feas_tol = 1e-2, as on the per-follower path; the other follower keeps its own unrelaxed check."""
    n = 600
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(-1, 1), initialize=-1e-3)
    m.f = pyo.Block(range(2))
    for k in range(2):
        m.f[k].y = pyo.Var(range(n), bounds=(0, 1), initialize=0.5 * k)
        m.f[k].o = pyo.Objective(expr=sum((m.f[k].y[i] - 0.5) ** 2 for i in range(n)))
    m.f[0].cap = pyo.Constraint(expr=sum(m.f[0].y[i] for i in range(n)) <= m.x)
    m.o = pyo.Objective(expr=m.x)
    agents = analyse_agents(m, m.f)
    fast = verify_followers(m, agents, feas_tol=1e-2)
    slow = verify_followers(m, agents, solver="ipopt", feas_tol=1e-2)
    assert [c.relaxed for c in fast] == [c.relaxed for c in slow] == [True, False]
    for f, s in zip(fast, slow):
        assert f.best_value == pytest.approx(s.best_value, rel=1e-6)
        assert f.violation == pytest.approx(s.violation, abs=1e-12)
        assert (f.status, s.status) == ("optimal", "locally_optimal")
    assert fast[0].violation == pytest.approx(1e-3) and fast[1].gap == pytest.approx(0.0, abs=1e-6)
