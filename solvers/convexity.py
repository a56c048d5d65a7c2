"""Is a quadratic form convex?  The smallest eigenvalue of a sparse symmetric matrix, block by block.

Used by the convex QP backends (:mod:`gridgames.solvers.clarabel`) to refuse a
nonconvex objective before solving, naming how far from convex it is.

Example
-------
>>> import scipy.sparse as sp
>>> convexity_defect(sp.csr_matrix([[1.0, 2.0], [2.0, 1.0]]))   # eigenvalues 3 and -1
1.0
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

#: H counts as positive semidefinite when its smallest eigenvalue is ≥ -PSD_TOL·max(1, max|H_ii|)
PSD_TOL = 1e-9
#: matrices up to this size are checked densely at once (sparse bookkeeping costs more there: ~1 ms each
#: for the one-variable players of a 1,000-firm game)
SMALL = 32
#: blocks of H up to this size are checked with a dense eigenvalue solve
DENSE_BLOCK = 2000


def convexity_defect(H: sp.spmatrix) -> float:
    """How far the symmetric ``H`` is from positive semidefinite: ``max(0, -λ_min)`` (0 when PSD).

    Each connected block of H's sparsity graph is checked on its own: 1×1
    blocks by their entry, blocks up to :data:`DENSE_BLOCK` densely, larger
    ones by ``scipy.sparse.linalg.eigsh`` (smallest algebraic eigenvalue).
    """
    n = H.shape[0]
    if n == 0 or H.nnz == 0:
        return 0.0
    if n <= SMALL:
        return float(max(0.0, -np.linalg.eigvalsh(H.toarray()).min()))
    H = sp.csr_matrix(H)
    H.eliminate_zeros()
    off = H - sp.diags(H.diagonal())
    off.eliminate_zeros()
    if off.nnz == 0:
        return float(max(0.0, -H.diagonal().min()))
    from scipy.sparse.csgraph import connected_components

    count, labels = connected_components(abs(H) + sp.eye(n, format="csr"), directed=False)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    diag = H.diagonal()
    worst = 0.0
    for a, b in zip(bounds[:-1], bounds[1:]):
        idx = order[a:b]
        if len(idx) == 1:
            worst = max(worst, -float(diag[idx[0]]))
            continue
        block = H[idx][:, idx]
        if len(idx) <= DENSE_BLOCK:
            lam = float(np.linalg.eigvalsh(block.toarray()).min())
        else:
            from scipy.sparse.linalg import eigsh
            lam = float(eigsh(block.tocsc(), k=1, which="SA", return_eigenvectors=False, tol=1e-8)[0])
        worst = max(worst, -lam)
    return worst


def quadratic_hessian(rows: np.ndarray, cols: np.ndarray, coef: np.ndarray, n: int) -> sp.csr_matrix:
    """The (symmetric) Hessian of ``Σ_t coef_t · y[rows_t] · y[cols_t]`` in ``n`` variables.

    A square term ``c·y_i²`` gives ``2c`` at ``(i, i)``; a product ``c·y_i·y_j`` gives
    ``c`` at ``(i, j)`` and ``(j, i)``; repeated terms add up.

    >>> quadratic_hessian(np.array([0, 0]), np.array([0, 1]), np.array([1.0, 3.0]), 2).toarray()
    array([[2., 3.],
           [3., 0.]])
    """
    rows, cols, coef = np.asarray(rows, np.int64), np.asarray(cols, np.int64), np.asarray(coef, float)
    square = rows == cols
    r = np.concatenate([rows[square], rows[~square], cols[~square]])
    c = np.concatenate([rows[square], cols[~square], rows[~square]])
    v = np.concatenate([2.0 * coef[square], coef[~square], coef[~square]])
    return sp.coo_matrix((v, (r, c)), shape=(n, n)).tocsr()


def is_convex(H: sp.spmatrix) -> bool:
    """True when ``½ xᵀH x`` is convex up to :data:`PSD_TOL` (relative to H's largest diagonal entry)."""
    scale = max(1.0, float(np.abs(sp.csr_matrix(H).diagonal()).max(initial=0.0)))
    return convexity_defect(H) <= PSD_TOL * scale
