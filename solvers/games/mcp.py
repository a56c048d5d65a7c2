"""Mixed complementarity problems by semismooth Newton on the Fischer–Burmeister function.

The box-constrained MCP(F, [l, u]) asks for ``z`` with ``l ≤ z ≤ u`` and, for
every component,

    z_i = l_i  ⇒  F_i(z) ≥ 0,     z_i = u_i  ⇒  F_i(z) ≤ 0,     l_i < z_i < u_i  ⇒  F_i(z) = 0.

It covers nonlinear complementarity problems (``l = 0, u = ∞``), square
systems of equations (``l = −∞, u = ∞``) and the stacked KKT conditions of a
game (primal variables with their bounds, multipliers of inequalities on
``[0, ∞)``, of equalities free).

Reformulation.  With ``φ(a, b) = a + b − sqrt(a² + b²)`` (zero exactly when
``a ≥ 0, b ≥ 0, a b = 0``) each component becomes one equation ``Φ_i(z) = 0``
(Billups' extension to boxes):

* ``l, u`` infinite: ``Φ_i = F_i``;
* ``l`` finite only: ``Φ_i = φ(z_i − l_i, F_i)``;
* ``u`` finite only: ``Φ_i = −φ(u_i − z_i, −F_i)``;
* both finite: ``Φ_i = φ(z_i − l_i, −φ(u_i − z_i, −F_i))``.

Newton's method uses an element ``H = D_z + D_F J`` of the generalized
Jacobian (``D_z, D_F`` diagonal, ``J`` the Jacobian of F), solved by a sparse
LU (:func:`scipy.sparse.linalg.splu`, minimum-degree ordering on ``Hᵀ + H``:
KKT matrices are nearly symmetric in structure, and it keeps the fill-in small).
An Armijo line search on the merit
``θ = ½‖Φ‖²`` makes it globally convergent to stationary points of θ; when
the Newton direction is unavailable (singular ``H``) or not a sufficient
descent direction, the step is the steepest descent ``−∇θ = −Hᵀ Φ`` instead
(De Luca, Facchinei and Kanzow, Math. Prog. 75, 1996).  Trial points where F
cannot be evaluated (``nan``/``inf``, e.g. a logarithm's domain) are rejected
by the line search.

Example
-------
>>> import numpy as np
>>> res = solve_mcp(lambda z: z - np.array([2.0, -1.0]), lambda z: np.eye(2),
...                 lb=np.zeros(2), ub=np.full(2, np.inf), x0=np.ones(2))
>>> np.round(res.x, 12).tolist(), str(res.status)
([2.0, 0.0], 'optimal')
"""
from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import MatrixRankWarning, splu

from gridgames.solvers.errors import ModelError
from gridgames.solvers.result import SolveStatus
from gridgames.solvers.summary import Summary, number
from gridgames.solvers.values import AgentValues, values_frame

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

_SQRT_HALF = 1.0 - np.sqrt(0.5)  # derivative of φ at (0, 0) along the diagonal direction


@dataclass
class MCPResult:
    """Outcome of :func:`solve_mcp`.

    Attributes
    ----------
    x : ndarray
        The last iterate (the solution when ``status`` is optimal).
    status : SolveStatus
        ``optimal`` when ``‖Φ(x)‖∞ ≤ tol``; ``iteration_limit``; ``error`` when the
        line search cannot decrease the merit (a stationary point of θ that is
        not a solution, or F undefined around x).
    residual : float
        ``‖Φ(x)‖∞``, the complementarity residual (0 exactly at a solution).
    iterations : int
        Outer iterations (Newton or gradient steps).
    newton_steps, gradient_steps : int
        How many steps used each direction.
    time : float
        Seconds spent in the solver (F and J evaluations included).
    message : str
    history : list of float
        ``‖Φ‖∞`` before each step and at the end.
    F : ndarray
        ``F(x)`` at the returned point.
    """

    x: np.ndarray
    status: SolveStatus
    residual: float
    iterations: int
    newton_steps: int = 0
    gradient_steps: int = 0
    time: float = 0.0
    message: str = ""
    history: list[float] = field(default_factory=list)
    F: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def ok(self) -> bool:
        return self.status is SolveStatus.OPTIMAL

    def to_frame(self) -> pd.DataFrame:
        """``x`` and ``F(x)`` as one tidy table (columns ``agent, role, variable, index, value``;
        agent and role ``mcp``, variable ``x`` or ``F``, index the position)."""
        positions = list(range(self.x.size))
        return values_frame([AgentValues("mcp", "mcp", {"x": np.array(self.x, dtype=float),
                                                         "F": np.array(self.F, dtype=float)},
                                         {"x": positions, "F": list(range(self.F.size))})])

    def summary(self) -> str:
        """Status, residual, steps, time, history and message as a text table."""
        history = (f"{len(self.history)} residuals max|Phi|: first {number(self.history[0], '.4g')}, "
                   f"last {number(self.history[-1], '.4g')}") if self.history else ""
        return Summary("MCP result", [
            ("Status", str(self.status)), ("Residual", number(self.residual, ".3g")),
            ("Iterations", str(self.iterations)), ("Time", f"{self.time:.3f} s"),
            ("Newton steps", str(self.newton_steps)), ("Gradient steps", str(self.gradient_steps)),
            ("Size", str(self.x.size))],
            notes=[(label, text) for label, text in (("History", history), ("Message", self.message)) if text]
        ).render()


def _fb(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """φ(a, b) and its partial derivatives (the diagonal element at a = b = 0)."""
    norm = np.hypot(a, b)
    safe = np.where(norm > 0.0, norm, 1.0)
    da = np.where(norm > 0.0, 1.0 - a / safe, _SQRT_HALF)
    db = np.where(norm > 0.0, 1.0 - b / safe, _SQRT_HALF)
    return a + b - norm, da, db


class _Reformulation:
    """Φ(z) and the diagonal factors of its generalized Jacobian for fixed bounds."""

    def __init__(self, lb: np.ndarray, ub: np.ndarray) -> None:
        fin_l, fin_u = np.isfinite(lb), np.isfinite(ub)
        self.free = ~fin_l & ~fin_u
        self.lower = fin_l & ~fin_u
        self.upper = ~fin_l & fin_u
        self.box = fin_l & fin_u
        self.lb = np.where(fin_l, lb, 0.0)
        self.ub = np.where(fin_u, ub, 0.0)

    def __call__(self, z: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(Φ, D_z, D_F)`` with ``H = diag(D_z) + diag(D_F) J``."""
        phi = np.where(self.free, f, 0.0)
        dz = np.zeros_like(z)
        df = np.where(self.free, 1.0, 0.0)
        a_low = z - self.lb
        a_up = self.ub - z
        # lower bound only: φ(z − l, F)
        p, pa, pb = _fb(a_low, f)
        phi = np.where(self.lower, p, phi)
        dz = np.where(self.lower, pa, dz)
        df = np.where(self.lower, pb, df)
        # upper bound only: −φ(u − z, −F)
        q, qa, qb = _fb(a_up, -f)
        phi = np.where(self.upper, -q, phi)
        dz = np.where(self.upper, qa, dz)       # d/dz of −φ(u − z, −F) = φ_a
        df = np.where(self.upper, qb, df)       # d/dF = φ_b
        # box: φ(z − l, −ψ) with ψ = φ(u − z, −F)
        r, ra, rb = _fb(a_low, -q)
        phi = np.where(self.box, r, phi)
        # dψ = −qa dz − qb dF ;  dΦ = ra dz − rb dψ
        dz = np.where(self.box, ra + rb * qa, dz)
        df = np.where(self.box, rb * qb, df)
        return phi, dz, df


def _as_sparse(jac: Any, n: int) -> sp.csc_matrix:
    mat = sp.csc_matrix(jac) if not sp.issparse(jac) else jac.tocsc()
    if mat.shape != (n, n):
        raise ModelError(f"the Jacobian must be {n} x {n}, got {mat.shape[0]} x {mat.shape[1]}")
    return mat


def _newton_direction(H: sp.csc_matrix, phi: np.ndarray) -> np.ndarray | None:
    """``−H⁻¹ Φ`` by sparse LU, or None when H is (numerically) singular or not finite."""
    if not (np.all(np.isfinite(H.data)) and np.all(np.isfinite(phi))):
        return None
    if np.any(np.diff(H.indptr) == 0) or np.unique(H.indices).size < H.shape[0]:
        # structurally singular (an empty column or row): SuperLU can corrupt the heap on such a matrix
        # and abort the process (free(): invalid pointer, scipy 1.17 at 4,095 x 4,095 with 111 empty columns)
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", MatrixRankWarning)
            d = splu(H, permc_spec="MMD_AT_PLUS_A").solve(-phi)
    except (RuntimeError, MatrixRankWarning, ValueError):
        return None
    return d if np.all(np.isfinite(d)) else None


#: a dense Jacobian (ndarray) up to this size is factored densely (no sparse-matrix overhead)
DENSE_MAX = 200


def _dense_direction(H: np.ndarray, phi: np.ndarray) -> np.ndarray | None:
    """``−H⁻¹ Φ`` by dense LU, or None when H is singular."""
    try:
        d = np.linalg.solve(H, -phi)
    except np.linalg.LinAlgError:
        return None
    return d if np.all(np.isfinite(d)) else None


def _lm_direction(H: np.ndarray | sp.csc_matrix, phi: np.ndarray, grad: np.ndarray) -> np.ndarray | None:
    """Levenberg-Marquardt direction ``−(HᵀH + μI)⁻¹ Hᵀ Φ`` with ``μ = ‖Φ‖``: a descent direction of θ
    also where H is singular (non-unique multipliers), fast locally under an error bound
    (Fan and Yuan, Computing 74, 2005).  Dense or sparse H (sparse LU of the SPD matrix)."""
    mu = float(np.linalg.norm(phi))
    try:
        if sp.issparse(H):
            normal = (H.T @ H + mu * sp.identity(H.shape[0], format="csc")).tocsc()
            with warnings.catch_warnings():
                warnings.simplefilter("error", MatrixRankWarning)
                d = splu(normal, permc_spec="MMD_AT_PLUS_A").solve(-grad)
        else:
            d = np.linalg.solve(H.T @ H + mu * np.eye(H.shape[0]), -grad)
    except (np.linalg.LinAlgError, RuntimeError, MatrixRankWarning, ValueError):
        return None
    return d if np.all(np.isfinite(d)) else None


def _check_inputs(lb: Any, ub: Any, x0: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x0 = np.asarray(x0, dtype=float).ravel()
    n = x0.size
    lb = np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy()
    ub = np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy()
    if np.isnan(lb).any() or np.isnan(ub).any() or np.isnan(x0).any():
        raise ModelError("solve_mcp: lb, ub and x0 must not contain NaN")
    bad = np.flatnonzero(lb > ub)
    if bad.size:
        i = int(bad[0])
        raise ModelError(f"solve_mcp: lower bound above upper bound at component {i} ({lb[i]:g} > {ub[i]:g})")
    return lb, ub, x0


def solve_mcp(F: Callable[[np.ndarray], np.ndarray], J: Callable[[np.ndarray], Any], lb: Any, ub: Any,
              x0: Any, *, tol: float = 1e-10, max_iter: int = 200, sigma: float = 1e-4, beta: float = 0.5,
              rho: float = 1e-10, p: float = 2.1, max_backtracks: int = 40,
              levenberg_marquardt: bool = False) -> MCPResult:
    """Solve the box MCP ``l ≤ z ≤ u ⊥ F(z)`` (see the module docstring).

    Parameters
    ----------
    F : callable
        ``F(z) -> ndarray (n,)``.  May return non-finite values outside its
        domain; such trial points are rejected.
    J : callable
        ``J(z) ->`` the Jacobian of F at z, a scipy sparse matrix or a dense array (n, n); a dense
        one of size up to :data:`DENSE_MAX` is factored densely (small systems: no sparse overhead).
    lb, ub : array_like
        Bounds (``-inf`` / ``inf`` where absent), broadcast to n.
    x0 : array_like
        Starting point (need not lie in the box).
    tol : float
        Stop when ``‖Φ(z)‖∞ ≤ tol``.
    max_iter : int
        Maximum number of steps.
    sigma, beta : float
        Armijo constant and backtracking factor.
    rho, p : float
        The Newton direction d is accepted when ``∇θᵀd ≤ −rho ‖d‖^p``.
    max_backtracks : int
        Halvings of the step before the line search gives up.
    levenberg_marquardt : bool
        Where the Newton direction is unavailable or not a sufficient
        descent direction, try the Levenberg-Marquardt direction before the gradient (counted
        as a Newton step).  Helps where the solution is degenerate (a bound and a row
        active together: multipliers not unique, H singular there).

    Returns
    -------
    MCPResult

    Examples
    --------
    A linear complementarity problem ``0 ≤ z ⊥ M z + q ≥ 0``:

    >>> M, q = np.array([[2.0, 1.0], [1.0, 2.0]]), np.array([-1.0, 4.0])
    >>> res = solve_mcp(lambda z: M @ z + q, lambda z: M, 0.0, np.inf, np.zeros(2))
    >>> np.round(res.x, 10).tolist() == [0.5, 0.0]
    True
    """
    start = time.perf_counter()
    lb, ub, z = _check_inputs(lb, ub, x0)
    n = z.size
    reform = _Reformulation(lb, ub)
    f = np.asarray(F(z), dtype=float)
    if f.shape != (n,):
        raise ModelError(f"solve_mcp: F must return {n} values, got shape {f.shape}")
    if not np.all(np.isfinite(f)):
        raise ModelError("solve_mcp: F is not finite at the starting point x0")
    phi, dz, df = reform(z, f)
    theta = 0.5 * float(phi @ phi)
    history = [float(np.max(np.abs(phi), initial=0.0))]
    newton = gradient = 0
    status, message = SolveStatus.ITERATION_LIMIT, f"no convergence in {max_iter} iterations"
    it = 0
    while it < max_iter:
        if history[-1] <= tol:
            status, message = SolveStatus.OPTIMAL, f"complementarity residual {history[-1]:.2e} <= {tol:.0e}"
            break
        it += 1
        jac = J(z)
        if isinstance(jac, np.ndarray) and jac.shape == (n, n) and n <= DENSE_MAX:  # small: dense algebra
            H = df[:, None] * jac
            H[np.diag_indices(n)] += dz
            grad = H.T @ phi
            d = _dense_direction(H, phi)
        else:
            jac = _as_sparse(jac, n)
            H = (sp.diags(dz) + sp.diags(df) @ jac).tocsc()
            grad = H.T @ phi
            d = _newton_direction(H, phi)
        slope = float(grad @ d) if d is not None else 0.0
        if (levenberg_marquardt
                and (d is None or slope > -rho * float(np.linalg.norm(d)) ** p)):
            d = _lm_direction(H, phi, grad)
            slope = float(grad @ d) if d is not None else 0.0
        if d is None or slope > -rho * float(np.linalg.norm(d)) ** p:
            d, slope = -grad, -float(grad @ grad)
            gradient += 1
            kind = "gradient"
        else:
            newton += 1
            kind = "newton"
        if slope >= 0.0:
            status, message = SolveStatus.ERROR, (f"stationary point of the merit function that is not a solution "
                                                  f"(residual {history[-1]:.2e})")
            break
        step, accepted = 1.0, False
        for _ in range(max_backtracks):
            trial = z + step * d
            with np.errstate(all="ignore"):
                ft = np.asarray(F(trial), dtype=float)
            if np.all(np.isfinite(ft)):
                pt, dzt, dft = reform(trial, ft)
                tt = 0.5 * float(pt @ pt)
                if tt <= theta + sigma * step * slope:
                    accepted = True
                    break
            step *= beta
        if not accepted:
            status, message = SolveStatus.ERROR, (f"line search failed along the {kind} direction "
                                                  f"(residual {history[-1]:.2e} after {it} iterations)")
            break
        z, f, phi, dz, df, theta = trial, ft, pt, dzt, dft, tt
        history.append(float(np.max(np.abs(phi), initial=0.0)))
        log.debug("mcp iteration %d (%s, step %.3g): residual %.3e", it, kind, step, history[-1])
    else:
        if history[-1] <= tol:
            status, message = SolveStatus.OPTIMAL, f"complementarity residual {history[-1]:.2e} <= {tol:.0e}"
    return MCPResult(x=z, status=status, residual=history[-1], iterations=it, newton_steps=newton,
                     gradient_steps=gradient, time=time.perf_counter() - start,
                     message=f"{message}; {newton} Newton and {gradient} gradient steps", history=history, F=f)
