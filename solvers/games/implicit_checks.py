"""The ``implicit`` method's certificates on the followers' stacked KKT system.

Three questions about the followers' response ``z(x)`` at a leader decision,
answered by sparse factorisations of matrices the system already assembles
(:meth:`~gridgames.solvers.games.stacked_kkt.StackedKKT.jacobians`):

* :func:`strict_convexity` / :func:`strict_monotonicity`: the symmetric part of
  ``∂F_y/∂y`` over the followers' own variables (lifted aggregates substituted
  back) is positive definite.  With one follower (or independent ones) that is
  the Hessian of their Lagrangian: strict convexity.  With followers playing a
  Nash game it is the Jacobian of their pseudo-gradient: positive definite
  means the game is *strictly monotone* there, and a strictly monotone game has
  at most one equilibrium (Rosen 1965); a globally valid statement when the
  matrix does not depend on the point (quadratic followers, linear constraints).
* :func:`active_set`: which components of ``z = (y, λ)`` are off their bounds
  (the variables that move, the multipliers of the active constraints), and
  how many are degenerate (at a bound with ``F_i = 0``).
* :func:`regularity`: the block ``J_II`` of the Jacobian on those components
  is nonsingular.  Then, under strict complementarity, the implicit-function
  theorem gives a locally unique, differentiable response ``z(x)``; when it is
  singular the response is not locally unique (or not differentiable) and
  the adjoint gradient is only a least-squares one.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import MatrixRankWarning, splu

from gridgames.solvers.games.stacked_kkt import StackedKKT

#: relative size of the smallest LDLᵀ pivot accepted as positive (strict convexity, strict monotonicity)
CONVEXITY_TOL = 1e-10
#: relative size of the smallest LU pivot of ``J_II`` accepted as nonzero (regularity)
REGULARITY_TOL = 1e-12


def _own_block(system: StackedKKT, z: np.ndarray) -> tuple[sp.csc_matrix, np.ndarray]:
    """Symmetric part of ``∂F_y/∂y`` on the followers' own columns, and those columns."""
    jac, _ = system.jacobians(z)
    own = np.flatnonzero(system.col_owner >= 0)
    if system.t_cols.size:
        E = system.E.tocsc()
        H = jac[own][:, own] + jac[own][:, system.t_cols] @ E[:, own]
    else:
        H = jac[own][:, own]
    return (0.5 * (H + H.T)).tocsc(), own


def _smallest_pivot(H: sp.csc_matrix) -> tuple[float, int, float] | str:
    """``(pivot, column, scale)`` of the smallest LDLᵀ pivot of ``H``, or why it cannot be factorised."""
    scale = max(1.0, float(abs(H).max())) if H.nnz else 1.0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", MatrixRankWarning)
            lu = splu(H, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
    except (RuntimeError, MatrixRankWarning) as exc:
        return f"singular ({exc})"
    if not np.array_equal(lu.perm_r, lu.perm_c):
        return "not positive definite (off-diagonal pivots needed)"
    pivots = lu.U.diagonal()
    k = int(np.argmin(pivots))
    return float(pivots[k]), int(np.flatnonzero(lu.perm_c == k)[0]), scale   # column i sits at pivot perm_c[i]


def strict_convexity(system: StackedKKT, z: np.ndarray) -> tuple[bool, str]:
    """Whether the followers' objectives are strictly convex in their own variables at ``z``.

    The matrix (see the module docstring) is factorised as ``L D Lᵀ`` (SuperLU
    with diagonal pivots and a symmetric ordering); it is positive definite
    exactly when every pivot of D is positive (Sylvester).

    Returns
    -------
    (bool, str)
        Whether it is, and if not why (naming the variable at the smallest pivot).
    """
    H, own = _own_block(system, z)
    found = _smallest_pivot(H)
    if isinstance(found, str):
        return False, f"the followers' Hessian is {found}"
    pivot, col, scale = found
    if pivot > CONVEXITY_TOL * scale:
        return True, ""
    var = system.columns[int(own[col])]
    what = "not convex" if pivot < -CONVEXITY_TOL * scale else "convex but not strictly"
    return False, (f"the followers' objective is {what} in their own variables (LDL pivot {pivot:.3g} "
                   f"at variable '{var.name}'): the response may not be unique")


def strict_monotonicity(system: StackedKKT, z: np.ndarray) -> bool:
    """Whether the followers' game is strictly monotone at ``z`` (see the module docstring)."""
    H, _ = _own_block(system, z)
    found = _smallest_pivot(H)
    return not isinstance(found, str) and found[0] > CONVEXITY_TOL * found[2]


def active_set(system: StackedKKT, z: np.ndarray, f: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the components of ``z`` off their bounds, and of the degenerate ones.

    A component is held at its bound when it sits there with ``F`` pointing
    outwards (or zero); it is degenerate when ``|F_i| ≤ 10·tol`` there (strict
    complementarity fails: the response has a kink in the leader's decision).
    """
    fixed = (z - system.lb <= np.maximum(f, 0.0)) | (system.ub - z <= np.maximum(-f, 0.0))
    return np.flatnonzero(~fixed), np.flatnonzero(fixed & (np.abs(f) <= 10 * tol))


def regularity(jz: sp.spmatrix, free: np.ndarray, system: StackedKKT) -> tuple[bool, str]:
    """Whether ``J_II`` (rows and columns ``free`` of ``jz``) is nonsingular.

    Returns
    -------
    (bool, str)
        Whether it is, and if not a message naming the size and, where the LU
        got that far, the variable or multiplier at the smallest pivot.
    """
    if not free.size:
        return True, ""
    JII = jz[free][:, free].tocsc()
    scale = max(1.0, float(abs(JII).max())) if JII.nnz else 1.0
    why = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", MatrixRankWarning)
            lu = splu(JII, permc_spec="MMD_AT_PLUS_A")
        pivots = np.abs(lu.U.diagonal())
        if pivots.min() > REGULARITY_TOL * scale:
            return True, ""
        k = int(np.flatnonzero(lu.perm_c == int(np.argmin(pivots)))[0])
        comp = int(free[k])
        name = system.columns[comp].name if comp < system.n_y else f"multiplier {comp - system.n_y}"
        why = f"; smallest pivot {pivots.min():.2g} at '{name}'"
    except (RuntimeError, MatrixRankWarning) as exc:
        why = f" ({exc})"
    return False, (f"the followers' KKT Jacobian on their free variables and active multipliers "
                   f"({free.size}x{free.size}) is singular{why}: regularity fails, the response is not locally "
                   "unique or not differentiable, and the implicit-function theorem does not apply")
