"""The semismooth Newton MCP solver on the literature's small complementarity problems.

Kojima–Shindo and Josephy are the NCPs of the MCPLIB collection (``kojshin``,
``josephy``; Dirkse & Ferris, "MCPLIB: a collection of nonlinear mixed
complementarity problems", 1995) with their published solutions; the LCPs and
box problems have closed forms or are checked against HiGHS on the equivalent
convex QP (an independent solver).
"""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
import scipy.sparse as sp

from gridgames.solvers import get_solver
from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.mcp import solve_mcp
from gridgames.solvers.result import SolveStatus


def _ncp_pair(a3: float, c2: float, c3: float, c4: float):
    """The Kojima–Shindo / Josephy family (they differ in three coefficients)."""
    def F(x):
        x1, x2, x3, x4 = x
        return np.array([3 * x1**2 + 2 * x1 * x2 + 2 * x2**2 + x3 + 3 * x4 - 6,
                         2 * x1**2 + x1 + x2**2 + a3 * x3 + 2 * x4 - 2,
                         3 * x1**2 + x1 * x2 + 2 * x2**2 + 2 * x3 + c3 * x4 - c2,
                         x1**2 + 3 * x2**2 + 2 * x3 + 3 * x4 - c4])

    def J(x):
        x1, x2, _, _ = x
        return np.array([[6 * x1 + 2 * x2, 2 * x1 + 4 * x2, 1, 3],
                         [4 * x1 + 1, 2 * x2, a3, 2],
                         [6 * x1 + x2, x1 + 4 * x2, 2, c3],
                         [2 * x1, 6 * x2, 2, 3]], dtype=float)
    return F, J


def _is_ncp_solution(x, f, tol=1e-8):
    return bool(np.all(x >= -tol) and np.all(f >= -tol) and np.all(np.abs(x * f) <= tol))


KOJSHIN = _ncp_pair(10.0, 9.0, 9.0, 3.0)
JOSEPHY = _ncp_pair(3.0, 1.0, 3.0, 3.0)
KOJSHIN_SOLUTIONS = [np.array([1.0, 0.0, 3.0, 0.0]), np.array([np.sqrt(6) / 2, 0.0, 0.0, 0.5])]


@pytest.mark.parametrize("x0", [np.zeros(4), np.ones(4), np.array([1.0, 0.0, 0.0, 0.0]), np.array([5.0, 5, 5, 5])])
def test_kojima_shindo_reaches_one_of_its_two_solutions(x0):
    F, J = KOJSHIN
    res = solve_mcp(F, J, 0.0, np.inf, x0, tol=1e-12)
    assert res.status is SolveStatus.OPTIMAL, res.message
    assert _is_ncp_solution(res.x, F(res.x))
    assert min(np.abs(res.x - s).max() for s in KOJSHIN_SOLUTIONS) < 1e-8


@pytest.mark.parametrize("x0", [np.zeros(4), np.ones(4), np.array([3.0, 1, 2, 0])])
def test_josephy_solution(x0):
    F, J = JOSEPHY
    res = solve_mcp(F, J, 0.0, np.inf, x0, tol=1e-12)
    assert res.status is SolveStatus.OPTIMAL, res.message
    np.testing.assert_allclose(res.x, [np.sqrt(6) / 2, 0.0, 0.0, 0.5], atol=1e-9)
    assert res.newton_steps >= 1 and res.history[-1] <= 1e-12


def test_small_lcp_closed_form():
    """0 ≤ z ⊥ Mz + q ≥ 0 with M = [[2,1],[1,2]]: interior z = −M⁻¹q, or one bound active."""
    M = np.array([[2.0, 1.0], [1.0, 2.0]])
    for q, z in (([-5.0, -6.0], [4 / 3, 7 / 3]), ([-1.0, 4.0], [0.5, 0.0]), ([1.0, 1.0], [0.0, 0.0])):
        res = solve_mcp(lambda x, q=np.array(q): M @ x + q, lambda x: M, 0.0, np.inf, np.ones(2))
        assert res.ok
        np.testing.assert_allclose(res.x, z, atol=1e-10)


def test_sparse_lcp_matches_highs_qp():
    """A 300-variable tridiagonal LCP is the KKT system of min ½zᵀMz + qᵀz, z ≥ 0: HiGHS solves the QP."""
    n = 300
    rng = np.random.default_rng(3)
    M = sp.diags([-np.ones(n - 1), 4.0 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csc")
    q = rng.normal(size=n)
    res = solve_mcp(lambda x: M @ x + q, lambda x: M, 0.0, np.inf, np.zeros(n), tol=1e-11)
    assert res.ok and res.iterations < 30
    m = pyo.ConcreteModel()
    m.z = pyo.Var(range(n), bounds=(0, None))
    m.obj = pyo.Objective(expr=sum(2.0 * m.z[i] ** 2 + q[i] * m.z[i] for i in range(n))
                          - sum(m.z[i] * m.z[i + 1] for i in range(n - 1)))
    assert get_solver("highs").solve(m).ok
    ref = np.array([m.z[i].value for i in range(n)])
    np.testing.assert_allclose(res.x, ref, atol=1e-7)
    assert 0 < int((res.x > 1e-9).sum()) < n   # both active and inactive bounds occur


def test_box_constrained_nonlinear_closed_form():
    """F(z) = exp(z) − c on boxes of every kind: z = clip(log c, l, u)."""
    c = np.array([1.0, 5.0, 0.2, 3.0, 0.5, 2.0])
    lb = np.array([-np.inf, 0.0, 0.0, -np.inf, -np.inf, 1.0])
    ub = np.array([np.inf, 1.0, 1.0, 0.5, np.inf, 2.0])
    res = solve_mcp(lambda z: np.exp(z) - c, lambda z: np.diag(np.exp(z)), lb, ub, np.zeros(6), tol=1e-12)
    assert res.ok, res.message
    np.testing.assert_allclose(res.x, np.clip(np.log(c), lb, ub), atol=1e-10)


def test_domain_errors_are_backtracked_and_gradient_fallback_counted():
    """F(z) = 1/z − 2 (defined for z > 0) from far away: trial points outside the domain are rejected."""
    res = solve_mcp(lambda z: np.where(z > 0, 1.0 / z, np.nan) - 2.0, lambda z: np.diag(-1.0 / z**2),
                    -np.inf, np.inf, np.array([3.0]))
    assert res.ok and abs(res.x[0] - 0.5) < 1e-10


def test_singular_jacobian_falls_back_to_gradient_steps():
    """A cubic with a flat region converges; a singular Jacobian at the start forces a gradient step."""
    res = solve_mcp(lambda z: (z - 1.0) ** 3 + z - 1.0 + 0.0 * z, lambda z: np.diag(3 * (z - 1.0) ** 2 + 1.0),
                    0.0, np.inf, np.array([4.0]))
    assert res.ok and abs(res.x[0] - 1.0) < 1e-9
    # F = (z0² + z1 − 2, z0 + z1 − 2): the Jacobian [[2 z0, 1], [1, 1]] is singular at z0 = ½, so the first
    # step is a gradient step; roots (0, 2) and (1, 1)
    sing = solve_mcp(lambda z: np.array([z[0] ** 2 + z[1] - 2.0, z[0] + z[1] - 2.0]),
                     lambda z: np.array([[2 * z[0], 1.0], [1.0, 1.0]]), -np.inf, np.inf, np.array([0.5, 0.0]))
    assert sing.ok and sing.gradient_steps >= 1 and sing.newton_steps >= 1
    assert min(np.abs(sing.x - r).max() for r in (np.array([0.0, 2.0]), np.array([1.0, 1.0]))) < 1e-9


@pytest.mark.parametrize("sparse", [False, True])
def test_levenberg_marquardt_on_non_unique_multipliers(sparse):
    """min ½(x + 1)² s.t. x ≥ 0 stated twice: x = 0 with λ₁ + λ₂ = 1 (multipliers not unique).  From the
    degenerate start z = 0 the Newton matrix is singular; plain Newton needs gradient steps, the
    Levenberg-Marquardt direction (dense or sparse Jacobian alike) none."""
    def F(z):
        return np.array([z[0] + 1.0 - z[1] - z[2], z[0], z[0]])

    dense = np.array([[1.0, -1.0, -1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    J = (lambda z: sp.csc_matrix(dense)) if sparse else (lambda z: dense.copy())
    lb = [-np.inf, 0.0, 0.0]
    plain = solve_mcp(F, J, lb, np.inf, np.zeros(3))
    lm = solve_mcp(F, J, lb, np.inf, np.zeros(3), levenberg_marquardt=True)
    for res in (plain, lm):
        assert res.ok and abs(res.x[0]) < 1e-9 and abs(res.x[1] + res.x[2] - 1.0) < 1e-9
        assert np.all(res.x[1:] >= -1e-12)
    assert plain.gradient_steps >= 1 and lm.gradient_steps == 0


def test_bad_input_is_named():
    with pytest.raises(ModelError, match="lower bound above upper bound at component 1"):
        solve_mcp(lambda z: z, lambda z: np.eye(2), [0.0, 2.0], [1.0, 1.0], np.zeros(2))
    with pytest.raises(ModelError, match="F must return 2 values"):
        solve_mcp(lambda z: z[:1], lambda z: np.eye(2), 0.0, 1.0, np.zeros(2))
