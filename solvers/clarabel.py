"""Clarabel (interior point, convex conic) for LPs and convex QPs.

Two entry points:

* :func:`solve_qp` takes arrays,
  ``min ½ xᵀH x + cᵀx  s.t.  lo ≤ A x ≤ hi,  l ≤ x ≤ u`` (H symmetric, both
  triangles stored), writes it in Clarabel's form
  ``min ½ xᵀP x + qᵀx  s.t.  G x + s = h,  s ∈ {0}ᵐ¹ × ℝ₊ᵐ²`` (equal row
  bounds: zero cone; each finite one-sided bound: one nonnegative row) and
  returns the point, the multipliers (in Ipopt's sign convention, so callers
  can share code with the Ipopt bridge) and our status;
* :class:`ClarabelSolver` is the registry backend for Pyomo models: one
  standard representation per active component (values of mutable Params and
  fixed Vars taken now), the same arrays, values loaded into the variables and
  duals into ``model.dual`` / reduced costs into ``model.rc`` (IMPORT Suffixes).

Convexity is checked, not assumed: Clarabel needs ``P ⪰ 0``, and a solve of a
nonconvex QP would return a meaningless point.  :func:`~gridgames.solvers.convexity.convexity_defect`
measures the most negative eigenvalue of H per connected block (diagonal
blocks for free, small blocks densely, large ones with a shifted sparse
Cholesky-free Lanczos estimate).

Statuses: ``Solved`` is a certificate of global optimality of a convex
problem (``optimal``); ``AlmostSolved`` is the same at Clarabel's reduced
tolerances (``optimal``, said in the message, as Ipopt's "acceptable level");
(almost) primal infeasible -> ``infeasible``; (almost) dual infeasible ->
``unbounded`` (a certificate that the objective decreases along a feasible
ray, given a feasible point); iteration and time limits as such; the rest
``error``.
"""
from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from gridgames.solvers.bounds import bounds_arrays
from gridgames.solvers.convexity import PSD_TOL, convexity_defect
from gridgames.solvers.errors import SolverNotAvailableError, SolverOptionError, UnsupportedModelError
from gridgames.solvers.options import check_common_values, check_names
from gridgames.solvers.result import SolveResult, SolveStatus

log = logging.getLogger(__name__)

#: Clarabel's settings changed from its defaults here (its 1e-8 gaps are kept; the feasibility
#: tolerance is our FEAS_TOL's order).  ``presolve_enable`` stays on.
_DEFAULT_SETTINGS: dict[str, Any] = {"verbose": False}

_STATUS_NAMES = {
    "Solved": SolveStatus.OPTIMAL,
    "AlmostSolved": SolveStatus.OPTIMAL,
    "PrimalInfeasible": SolveStatus.INFEASIBLE,
    "AlmostPrimalInfeasible": SolveStatus.INFEASIBLE,
    "DualInfeasible": SolveStatus.UNBOUNDED,
    "AlmostDualInfeasible": SolveStatus.UNBOUNDED,
    "MaxIterations": SolveStatus.ITERATION_LIMIT,
    "MaxTime": SolveStatus.TIME_LIMIT,
}
_MESSAGES = {
    "Solved": "solved",
    "AlmostSolved": "solved to Clarabel's reduced tolerances (reduced_tol_*), not its full ones",
    "PrimalInfeasible": "primal infeasible (certificate found)",
    "AlmostPrimalInfeasible": "primal infeasible (certificate at reduced tolerances)",
    "DualInfeasible": "dual infeasible: the objective is unbounded along a feasible ray",
    "AlmostDualInfeasible": "dual infeasible at reduced tolerances: the objective looks unbounded",
    "MaxIterations": "iteration limit reached (max_iter)",
    "MaxTime": "time limit reached",
}
#: statuses after which the last iterate is returned as the point (as the Ipopt bridge does)
_HAS_POINT = {SolveStatus.OPTIMAL, SolveStatus.ITERATION_LIMIT, SolveStatus.TIME_LIMIT}


@functools.cache
def available() -> bool:
    """True when the ``clarabel`` module imports."""
    try:
        import clarabel  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def setting_names() -> frozenset[str]:
    """Every field of ``clarabel.DefaultSettings`` (the native option names)."""
    import clarabel

    return frozenset(a for a in dir(clarabel.DefaultSettings()) if not a.startswith("_") and a != "default")


def _settings(options: dict[str, Any]) -> Any:
    import clarabel

    settings = clarabel.DefaultSettings()
    for key, value in {**_DEFAULT_SETTINGS, **options}.items():
        try:
            setattr(settings, key, value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise SolverOptionError(f"solver 'clarabel' rejected option {key}={value!r}: {exc}") from None
    return settings


# ---------------------------------------------------------------------------
# Arrays
# ---------------------------------------------------------------------------
@dataclass
class QPSolution:
    """What :func:`solve_qp` returns.

    Attributes
    ----------
    status : SolveStatus
    x : ndarray or None
        The point (None when the status has none).
    objective : float or None
        ``½ xᵀH x + cᵀx`` at ``x`` (no constant).
    row_multipliers : ndarray or None
        One per row of A, Ipopt's convention (``∇f + Aᵀλ + z_U − z_L = 0``:
        λ ≥ 0 at an active upper bound, ≤ 0 at an active lower one).
    lower_multipliers, upper_multipliers : ndarray or None
        Multipliers of the variable bounds (both ≥ 0).
    iterations : int
    message : str
    native_status : str
        Clarabel's own status name.
    """

    status: SolveStatus
    x: np.ndarray | None
    objective: float | None
    row_multipliers: np.ndarray | None = None
    lower_multipliers: np.ndarray | None = None
    upper_multipliers: np.ndarray | None = None
    iterations: int = 0
    message: str = ""
    native_status: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _one_sided(M: sp.csr_matrix, lo: np.ndarray, hi: np.ndarray
               ) -> tuple[list[sp.spmatrix], list[np.ndarray], list[np.ndarray]]:
    """Rows of ``G x + s = h`` for ``lo ≤ M x ≤ hi``: equality rows, then upper, then lower ones.

    Returns the blocks of G, the blocks of h and the index sets ``[eq, up, low]`` into M's rows.
    """
    eq = np.flatnonzero(lo == hi)
    up = np.flatnonzero(np.isfinite(hi) & (lo != hi))
    low = np.flatnonzero(np.isfinite(lo) & (lo != hi))
    blocks = [M[eq], M[up], -M[low]]
    rhs = [hi[eq], hi[up], -lo[low]]
    return blocks, rhs, [eq, up, low]


def solve_qp(H: sp.spmatrix, c: np.ndarray, A: sp.spmatrix, con_lower: np.ndarray, con_upper: np.ndarray,
             lb: np.ndarray, ub: np.ndarray, options: dict[str, Any] | None = None,
             check_convex: bool = True) -> QPSolution:
    """Solve ``min ½ xᵀH x + cᵀx  s.t.  con_lower ≤ A x ≤ con_upper,  lb ≤ x ≤ ub`` with Clarabel.

    Parameters
    ----------
    H : sparse (n, n)
        Symmetric Hessian (both triangles); empty for an LP.
    c : ndarray (n,)
    A : sparse (m, n)
    con_lower, con_upper : ndarray (m,)
        Row bounds (``±inf`` for none).
    lb, ub : ndarray (n,)
        Variable bounds (``±inf`` for none).
    options : dict, optional
        Clarabel settings (``max_iter``, ``time_limit``, ``tol_gap_rel``, ...).
    check_convex : bool
        Refuse a nonconvex H (default); False when the caller has checked it.

    Returns
    -------
    QPSolution

    Raises
    ------
    UnsupportedModelError
        H is not positive semidefinite (the message gives its most negative eigenvalue).
    ModelError
        Inconsistent sizes or non-finite data.
    """
    import clarabel

    from gridgames.solvers.errors import ModelError

    t0 = time.perf_counter()
    n = len(c)
    H = sp.csr_matrix(H, shape=(n, n)) if H is not None else sp.csr_matrix((n, n))
    A = sp.csr_matrix(A, shape=(A.shape[0], n))
    m = A.shape[0]
    if not (len(con_lower) == len(con_upper) == m and len(lb) == len(ub) == n):
        raise ModelError(f"solve_qp: sizes do not match (n={n}, rows={m}, {len(con_lower)}/{len(con_upper)} row "
                         f"bounds, {len(lb)}/{len(ub)} variable bounds)")
    for name, arr in (("c", c), ("H", H.data), ("A", A.data)):
        if not np.all(np.isfinite(arr)):
            raise ModelError(f"solve_qp: non-finite entries in {name}")
    for name, lo, hi in (("row", con_lower, con_upper), ("variable", lb, ub)):
        if np.any(np.isnan(lo) | np.isnan(hi) | (lo == np.inf) | (hi == -np.inf)):
            raise ModelError(f"solve_qp: a {name} bound is nan, +inf below or -inf above")
    if check_convex and H.nnz:
        defect = convexity_defect(H)
        if defect > PSD_TOL * max(1.0, float(np.abs(H.diagonal()).max())):
            raise UnsupportedModelError(f"solver 'clarabel' needs a convex objective: its Hessian has the "
                                        f"eigenvalue {-defect:.3g} < 0 (nonconvex QP); use 'scip' (global) or "
                                        "'ipopt' (local)")
    bad_rows = np.flatnonzero(con_lower > con_upper)
    bad_vars = np.flatnonzero(lb > ub)
    if bad_rows.size or bad_vars.size:
        what = f"row {bad_rows[0]}" if bad_rows.size else f"variable {bad_vars[0]}"
        return QPSolution(SolveStatus.INFEASIBLE, None, None, message=f"{what} has lower bound > upper bound",
                          native_status="")
    eye = sp.identity(n, format="csr")
    g_rows, h_rows, row_sets = _one_sided(A, con_lower, con_upper)
    g_vars, h_vars, var_sets = _one_sided(eye, lb, ub)
    G = sp.vstack([g_rows[0], g_vars[0], g_rows[1], g_rows[2], g_vars[1], g_vars[2]], format="csc")
    h = np.concatenate([h_rows[0], h_vars[0], h_rows[1], h_rows[2], h_vars[1], h_vars[2]])
    n_zero = len(row_sets[0]) + len(var_sets[0])
    cones = []
    if n_zero:
        cones.append(clarabel.ZeroConeT(n_zero))
    if G.shape[0] - n_zero:
        cones.append(clarabel.NonnegativeConeT(G.shape[0] - n_zero))
    P = sp.triu(H, format="csc")
    solver = clarabel.DefaultSolver(P, np.asarray(c, float), G, h, cones, _settings(dict(options or {})))
    sol = solver.solve()
    native = str(sol.status).split(".")[-1]
    status = _STATUS_NAMES.get(native, SolveStatus.ERROR)
    message = _MESSAGES.get(native, f"Clarabel stopped: {native}")
    extra = {"clarabel_status": native, "clarabel_time": float(sol.solve_time), "n_cone_rows": G.shape[0]}
    if status not in _HAS_POINT:
        return QPSolution(status, None, None, iterations=int(sol.iterations), message=message,
                          native_status=native, extra=extra)
    x = np.asarray(sol.x, float)
    z = np.asarray(sol.z, float)
    # z splits as [eq rows, eq vars, up rows, low rows, up vars, low vars]; λ (Ipopt's sign) = z_up − z_low
    sizes = [len(row_sets[0]), len(var_sets[0]), len(row_sets[1]), len(row_sets[2]), len(var_sets[1]),
             len(var_sets[2])]
    parts = np.split(z, np.cumsum(sizes)[:-1])
    lam = np.zeros(m)
    lam[row_sets[0]] = parts[0]
    lam[row_sets[1]] += parts[2]
    lam[row_sets[2]] -= parts[3]
    zu, zl = np.zeros(n), np.zeros(n)
    eq_mult = parts[1]  # a fixed variable: its multiplier's sign says which side binds
    zu[var_sets[0]] = np.maximum(eq_mult, 0.0)
    zl[var_sets[0]] = np.maximum(-eq_mult, 0.0)
    zu[var_sets[1]] = parts[4]
    zl[var_sets[2]] = parts[5]
    objective = float(0.5 * x @ (H @ x) + np.dot(c, x))
    extra["time"] = time.perf_counter() - t0
    return QPSolution(status, x, objective, lam, zl, zu, int(sol.iterations), message, native, extra)


# ---------------------------------------------------------------------------
# Pyomo models
# ---------------------------------------------------------------------------
@dataclass
class _ModelArrays:
    variables: list[Any]
    constraints: list[Any]
    sense: float
    H: sp.csr_matrix
    c: np.ndarray
    c0: float
    A: sp.csr_matrix
    lower: np.ndarray
    upper: np.ndarray
    lb: np.ndarray
    ub: np.ndarray


def _model_arrays(model: Any) -> _ModelArrays:
    """The model as arrays, in minimisation form (one standard representation per active component)."""
    import pyomo.environ as pyo
    from pyomo.repn.standard_repn import generate_standard_repn

    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1:
        from gridgames.solvers.errors import ModelError
        raise ModelError(f"solver 'clarabel' needs exactly one active Objective, found {len(objectives)}")
    objective = objectives[0]
    constraints = list(model.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    index: dict[int, int] = {}
    variables: list[Any] = []

    def col(v: Any) -> int:
        j = index.get(id(v))
        if j is None:
            j = index[id(v)] = len(variables)
            variables.append(v)
        return j

    sense = 1.0 if objective.is_minimizing() else -1.0
    repn = generate_standard_repn(objective.expr, quadratic=True, compute_values=True)
    if repn.nonlinear_expr is not None:
        raise UnsupportedModelError(f"solver 'clarabel' solves LPs and convex QPs: objective "
                                    f"'{objective.name}' has a nonlinear part; use 'ipopt' or 'scip'")
    lin = [(col(v), sense * float(a)) for v, a in zip(repn.linear_vars, repn.linear_coefs)]
    quad = [(col(v), col(w), sense * float(a)) for (v, w), a in zip(repn.quadratic_vars, repn.quadratic_coefs)]
    c0 = sense * float(repn.constant)
    rows, cols, vals, lower, upper = [], [], [], [], []
    for r, con in enumerate(constraints):
        crepn = generate_standard_repn(con.body, quadratic=True, compute_values=True)
        if crepn.nonlinear_expr is not None or crepn.quadratic_vars:
            raise UnsupportedModelError(f"solver 'clarabel' needs linear constraints: constraint '{con.name}' "
                                        "is not linear; use 'ipopt' or 'scip'")
        for v, a in zip(crepn.linear_vars, crepn.linear_coefs):
            rows.append(r)
            cols.append(col(v))
            vals.append(float(a))
        const = float(crepn.constant)
        lo, hi = con.lb, con.ub
        lower.append(-math.inf if lo is None else float(lo) - const)
        upper.append(math.inf if hi is None else float(hi) - const)
    integer = next((v for v in variables if not v.is_continuous()), None)
    if integer is not None:
        raise UnsupportedModelError(f"solver 'clarabel' solves continuous problems: variable '{integer.name}' "
                                    "is integer; use 'highs' or 'scip'")
    n = len(variables)
    c = np.zeros(n)
    for j, a in lin:
        c[j] += a
    if quad:
        qi, qj, qv = (np.array(t) for t in zip(*quad))
        qi, qj = qi.astype(np.int64), qj.astype(np.int64)
        H = sp.coo_matrix((np.concatenate([qv, qv]), (np.concatenate([qi, qj]), np.concatenate([qj, qi]))),
                          shape=(n, n)).tocsr()
    else:
        H = sp.csr_matrix((n, n))
    A = sp.csr_matrix((vals, (rows, cols)), shape=(len(constraints), n))
    lb, ub = bounds_arrays(variables)
    return _ModelArrays(variables, constraints, sense, H, c, c0, A, np.array(lower, float), np.array(upper, float),
                        lb, ub)


class ClarabelSolver:
    """Clarabel (interior-point conic solver) for LPs and convex QPs given as Pyomo models.

    Parameters
    ----------
    time_limit : float, optional
        Seconds (Clarabel's ``time_limit``).
    mip_gap, threads : None
        Common options that do not apply (Clarabel solves continuous convex
        problems serially here); refused when set.
    **options
        Clarabel settings, e.g. ``max_iter``, ``tol_gap_rel``, ``tol_feas``,
        ``verbose`` (see ``clarabel.DefaultSettings``); unknown names are refused.

    Examples
    --------
    >>> import pyomo.environ as pyo
    >>> m = pyo.ConcreteModel()
    >>> m.x = pyo.Var(bounds=(0, 4))
    >>> m.o = pyo.Objective(expr=(m.x - 1) ** 2)
    >>> ClarabelSolver().solve(m).status.value
    'optimal'
    """

    name = "clarabel"
    package = "clarabel"
    features = frozenset({"lp", "qp", "duals"})

    def __init__(self, *, time_limit: float | None = None, mip_gap: float | None = None,
                 threads: int | None = None, **options: Any) -> None:
        check_common_values(self.name, {"time_limit": time_limit, "mip_gap": mip_gap, "threads": threads})
        for key, value, why in (("mip_gap", mip_gap, "Clarabel solves continuous problems only"),
                                ("threads", threads, "set Clarabel's own 'max_threads' instead")):
            if value is not None:
                raise SolverOptionError(f"solver 'clarabel': option '{key}' does not apply ({why})")
        if self.available():
            check_names(self.name, options, setting_names(),
                        where="https://clarabel.org/stable/api_settings/")
            _settings(options)  # let Clarabel refuse a bad value now
        self.options = dict(options)
        if time_limit is not None:
            self.options["time_limit"] = float(time_limit)

    @classmethod
    def available(cls) -> bool:
        """True when the ``clarabel`` package imports."""
        return available()

    def solve(self, model: Any, *, tee: bool = False, check: bool = True, warmstart: bool = True,
              load_solutions: bool = True) -> SolveResult:
        """Solve an LP or convex QP Pyomo model.

        Parameters
        ----------
        model : pyomo Block
            One active objective (linear or convex quadratic), linear constraints,
            continuous variables.
        tee : bool
            Print Clarabel's log.
        check : bool
            Run the model checks (problem class, finite data) first; False for
            re-solves of a model already checked.  Nonlinear terms and a
            nonconvex objective are refused either way.
        warmstart : bool
            Accepted for interface compatibility and ignored: an interior-point
            method starts from its own central point.
        load_solutions : bool
            Write the point into the variables and, when the model has IMPORT
            Suffixes ``dual`` / ``rc``, the constraint duals and reduced costs
            (Pyomo's sign convention: d objective / d right-hand side).

        Returns
        -------
        SolveResult
            ``optimal`` only on Clarabel's (almost) solved status, which for a
            convex problem is a global certificate.

        Raises
        ------
        UnsupportedModelError
            Integer variables, nonlinear or quadratic constraints, a nonconvex objective.
        ModelError
            Non-finite data, not exactly one active objective.
        """
        from gridgames.solvers.validate import validate_model

        if not self.available():
            raise SolverNotAvailableError(self.name, self.package)
        t0 = time.perf_counter()
        if check:
            validate_model(model, self.name, self.features,
                           alternatives="Clarabel is a continuous convex solver: use 'highs' or 'scip' for "
                                        "integers, 'ipopt' or 'scip' for nonlinear models.")
        arrays = _model_arrays(model)
        options = dict(self.options)
        if tee:
            options["verbose"] = True
        try:
            sol = solve_qp(arrays.H, arrays.c, arrays.A, arrays.lower, arrays.upper, arrays.lb, arrays.ub,
                           options)
        except UnsupportedModelError as exc:
            raise UnsupportedModelError(f"{exc} (model '{model.name}')") from None
        objective = None
        if sol.status in _HAS_POINT and sol.x is not None:
            objective = arrays.sense * (sol.objective + arrays.c0)
            if load_solutions:
                self._load(model, arrays, sol)
        return SolveResult(sol.status, objective, time.perf_counter() - t0, sol.iterations, self.name,
                           sol.message, sol.extra)

    @staticmethod
    def _load(model: Any, arrays: _ModelArrays, sol: QPSolution) -> None:
        from pyomo.core.base.suffix import Suffix

        for v, val in zip(arrays.variables, sol.x.tolist()):
            v.set_value(val, skip_validation=True)
        dual = model.component("dual")
        if isinstance(dual, Suffix) and dual.import_enabled():
            dual.clear()
            for con, d in zip(arrays.constraints, (-arrays.sense * sol.row_multipliers).tolist()):
                dual[con] = d
        rc = model.component("rc")
        if isinstance(rc, Suffix) and rc.import_enabled():
            rc.clear()
            for v, r in zip(arrays.variables, (arrays.sense * (sol.lower_multipliers
                                                               - sol.upper_multipliers)).tolist()):
                rc[v] = r
