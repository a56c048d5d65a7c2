"""The Clarabel backend: against HiGHS and closed forms, statuses, refusals."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
import scipy.sparse as sp

from gridgames.solvers import SolveStatus, UnsupportedModelError, available_solvers, get_solver
from gridgames.solvers.clarabel import solve_qp
from gridgames.solvers.convexity import convexity_defect
from gridgames.solvers.errors import SolverOptionError


def _lp() -> pyo.ConcreteModel:
    """max 3x + 2y s.t. x + y ≤ 4, x + 3y ≤ 7, x ≤ 3, x, y ≥ 0: optimum (3, 1), value 11;
    duals: the first row 2, the bound x ≤ 3 (rc) 1, the second row 0."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 3))
    m.y = pyo.Var(bounds=(0, None))
    m.c1 = pyo.Constraint(expr=m.x + m.y <= 4)
    m.c2 = pyo.Constraint(expr=m.x + 3 * m.y <= 7)
    m.o = pyo.Objective(expr=3 * m.x + 2 * m.y, sense=pyo.maximize)
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    m.rc = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m


def _qp(n: int = 6, seed: int = 1) -> pyo.ConcreteModel:
    """A random strictly convex QP with an equality, ranged rows and bounds."""
    rng = np.random.default_rng(seed)
    L = rng.normal(size=(n, n))
    Q = L @ L.T + n * np.eye(n)
    c = rng.normal(size=n) * 5
    A = rng.normal(size=(3, n))
    m = pyo.ConcreteModel()
    m.I = pyo.RangeSet(0, n - 1)
    m.x = pyo.Var(m.I, bounds=(-1, 2))
    m.eq = pyo.Constraint(expr=sum(m.x[i] for i in m.I) == 1)
    m.rng = pyo.Constraint(range(3), rule=lambda m, r: pyo.inequality(-1, sum(A[r, i] * m.x[i] for i in m.I), 0.5))
    m.o = pyo.Objective(expr=0.5 * sum(Q[i, j] * m.x[i] * m.x[j] for i in m.I for j in m.I)
                        + sum(c[i] * m.x[i] for i in m.I))
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m


def test_clarabel_is_registered_and_available():
    assert "clarabel" in available_solvers()
    assert get_solver("clarabel").name == "clarabel"


def test_lp_matches_closed_form_and_duals():
    m = _lp()
    res = get_solver("clarabel").solve(m)
    assert res.status is SolveStatus.OPTIMAL
    assert res.objective == pytest.approx(11.0, abs=1e-6)
    assert (m.x.value, m.y.value) == pytest.approx((3.0, 1.0), abs=1e-6)
    # d(max objective)/d(rhs) = +2 for c1 (Pyomo's convention); c2 slack
    assert m.dual[m.c1] == pytest.approx(2.0, abs=1e-6)
    assert m.dual[m.c2] == pytest.approx(0.0, abs=1e-6)
    assert m.rc[m.x] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_qp_matches_highs_values_and_duals(sense):
    m1, m2 = _qp(), _qp()
    for m in (m1, m2):
        if sense == pyo.maximize:  # maximise the negated objective: the same point
            m.o.expr = -m.o.expr
            m.o.sense = pyo.maximize
    r1 = get_solver("clarabel").solve(m1)
    r2 = get_solver("highs").solve(m2)
    assert r1.status is SolveStatus.OPTIMAL and r2.status is SolveStatus.OPTIMAL
    assert r1.objective == pytest.approx(r2.objective, rel=1e-6, abs=1e-6)
    x1 = np.array([m1.x[i].value for i in m1.I])
    x2 = np.array([m2.x[i].value for i in m2.I])
    assert np.allclose(x1, x2, atol=1e-5)
    for c1, c2 in [(m1.eq, m2.eq)] + [(m1.rng[r], m2.rng[r]) for r in range(3)]:
        assert m1.dual[c1] == pytest.approx(m2.dual[c2], abs=1e-5)


def test_unconstrained_qp_closed_form():
    """min Σ (x_i − i)² / 2 + y² − 2y: x_i = i, y = 1, value −1."""
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4))
    m.y = pyo.Var()
    m.o = pyo.Objective(expr=sum((m.x[i] - i) ** 2 / 2 for i in range(4)) + m.y ** 2 - 2 * m.y)
    res = get_solver("clarabel").solve(m)
    assert res.status is SolveStatus.OPTIMAL
    assert res.objective == pytest.approx(-1.0, abs=1e-7)
    assert [m.x[i].value for i in range(4)] == pytest.approx([0, 1, 2, 3], abs=1e-6)


def test_fixed_variable_and_mutable_param_are_read_at_solve_time():
    m = pyo.ConcreteModel()
    m.a = pyo.Param(mutable=True, initialize=2.0)
    m.x = pyo.Var(bounds=(0, 10))
    m.z = pyo.Var(initialize=1.0)
    m.z.fix()
    m.c = pyo.Constraint(expr=m.x + m.z >= m.a)
    m.o = pyo.Objective(expr=m.x)
    assert get_solver("clarabel").solve(m).objective == pytest.approx(1.0, abs=1e-7)
    m.a = 5.0
    assert get_solver("clarabel").solve(m).objective == pytest.approx(4.0, abs=1e-7)


def test_infeasible_model():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x >= 2)
    m.o = pyo.Objective(expr=m.x)
    res = get_solver("clarabel").solve(m)
    assert res.status is SolveStatus.INFEASIBLE
    assert res.objective is None
    assert "infeasible" in res.message


def test_unbounded_model():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, None))
    m.y = pyo.Var()
    m.c = pyo.Constraint(expr=m.x - m.y == 1)
    m.o = pyo.Objective(expr=m.x + m.y, sense=pyo.maximize)
    res = get_solver("clarabel").solve(m)
    assert res.status is SolveStatus.UNBOUNDED
    assert res.objective is None


def test_iteration_limit_is_reported():
    res = get_solver("clarabel", max_iter=1).solve(_qp())
    assert res.status is SolveStatus.ITERATION_LIMIT


def test_refuses_nonconvex_qp_naming_the_eigenvalue():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(-1, 1))
    m.y = pyo.Var(bounds=(-1, 1))
    m.o = pyo.Objective(expr=m.x ** 2 - 3 * m.x * m.y + m.y ** 2)  # eigenvalues of H: 2 ± 3
    with pytest.raises(UnsupportedModelError, match=r"convex.*eigenvalue -1"):
        get_solver("clarabel").solve(m)
    m.o.sense = pyo.maximize  # maximising a convex function: nonconvex too
    m.o.expr = m.x ** 2 + m.y ** 2
    with pytest.raises(UnsupportedModelError, match="eigenvalue -2"):
        get_solver("clarabel").solve(m)


def test_refuses_integer_and_nonlinear_models():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(domain=pyo.Integers, bounds=(0, 3))
    m.o = pyo.Objective(expr=m.x)
    with pytest.raises(UnsupportedModelError, match="MILP.*highs"):
        get_solver("clarabel").solve(m)
    with pytest.raises(UnsupportedModelError, match="variable 'x' is integer"):
        get_solver("clarabel").solve(m, check=False)
    m2 = pyo.ConcreteModel()
    m2.x = pyo.Var(bounds=(0, 3))
    m2.c = pyo.Constraint(expr=m2.x ** 2 <= 2)
    m2.o = pyo.Objective(expr=m2.x)
    with pytest.raises(UnsupportedModelError, match="NLP"):
        get_solver("clarabel").solve(m2)


def test_options_are_checked():
    with pytest.raises(SolverOptionError, match="max_itr.*max_iter"):
        get_solver("clarabel", max_itr=5)
    with pytest.raises(SolverOptionError, match="mip_gap"):
        get_solver("clarabel", mip_gap=0.01)
    assert get_solver("clarabel", time_limit=5, tol_gap_rel=1e-9).options["time_limit"] == 5.0


def test_convexity_defect_blocks():
    """Block-diagonal H: a PSD 2×2 block, a diagonal entry, a 3×3 block with eigenvalue −1."""
    B = np.array([[2.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # eigenvalues 1 ± √2, 0
    H = sp.block_diag([np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([[3.0]]), B], format="csr")
    assert convexity_defect(H) == pytest.approx(np.sqrt(2) - 1, abs=1e-12)
    assert convexity_defect(sp.diags([1.0, 0.0, 2.0])) == 0.0
    assert convexity_defect(sp.diags([1.0, -0.5])) == pytest.approx(0.5)


def test_solve_qp_arrays_against_closed_form_box():
    """min Σ ½ h_i x_i² − g_i x_i on a box: x = clip(g/h, l, u); multipliers of the active bounds."""
    h = np.array([1.0, 2.0, 4.0])
    g = np.array([3.0, -1.0, 1.0])
    lb, ub = np.array([0.0, 0.0, 0.0]), np.array([2.0, 5.0, 5.0])
    sol = solve_qp(sp.diags(h), -g, sp.csr_matrix((0, 3)), np.zeros(0), np.zeros(0), lb, ub)
    assert sol.status is SolveStatus.OPTIMAL
    assert sol.x == pytest.approx([2.0, 0.0, 0.25], abs=1e-7)
    # stationarity h x − g − z_L + z_U = 0: z_U[0] = 1, z_L[1] = 1
    assert sol.upper_multipliers == pytest.approx([1.0, 0.0, 0.0], abs=1e-6)
    assert sol.lower_multipliers == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)
