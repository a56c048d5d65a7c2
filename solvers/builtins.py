"""The built-in backends: :func:`register_builtins` puts them in the registry (the registry calls it on first use)."""
from __future__ import annotations

from typing import Any

from gridgames.solvers.pyomo_backend import HighsSolver, ScipSolver
from gridgames.solvers.registry import register_solver


def _ipopt(**options: Any):
    from gridgames.solvers.ipopt import IpoptSolver
    return IpoptSolver(**options)


def _ipopt_available() -> bool:
    try:
        from gridgames.solvers.ipopt import IpoptSolver
    except ImportError:
        return False
    return IpoptSolver.available()


def _scipy(**options: Any):
    from gridgames.solvers.options import check_names
    from gridgames.solvers.scipy_backend import ScipySolver
    check_names("scipy", options, ScipySolver.native_options)
    return ScipySolver(**options)


def _scipy_available() -> bool:
    try:
        import scipy.optimize  # noqa: F401
    except ImportError:
        return False
    return True


def _clarabel(**options: Any):
    from gridgames.solvers.clarabel import ClarabelSolver
    return ClarabelSolver(**options)


def _clarabel_available() -> bool:
    from gridgames.solvers.clarabel import available
    return available()


def register_builtins() -> None:
    """Register HiGHS, Ipopt, SCIP, scipy and Clarabel (replacing any entry of the same name)."""
    # Every built-in runs gridgames.solvers.validate.validate_model itself (checks_model=True).
    register_solver("highs", HighsSolver, package=HighsSolver.package, features=HighsSolver.features,
                    description="HiGHS via highspy (Pyomo contrib interface): LP, convex QP, MILP",
                    checks_model=True, replace=True)
    register_solver("ipopt", _ipopt, package="cyipopt-wheels",
                    features={"lp", "qp", "nlp", "duals"}, is_available=_ipopt_available,
                    description="Ipopt via cyipopt, gridgames' own Pyomo bridge: continuous NLP, local",
                    checks_model=True, replace=True)
    register_solver("scip", ScipSolver, package=ScipSolver.package, features=ScipSolver.features,
                    description="SCIP via pyscipopt (Pyomo scip_direct): MILP, MIQP, MINLP, global",
                    checks_model=True, replace=True)
    register_solver("scipy", _scipy, package="scipy", features={"lp", "qp", "milp", "nlp"},
                    is_available=_scipy_available, checks_model=True, replace=True,
                    description="scipy.optimize (HiGHS LP/MILP, SLSQP NLP): the papers' baseline")
    register_solver("clarabel", _clarabel, package="clarabel", features={"lp", "qp", "duals"},
                    is_available=_clarabel_available, checks_model=True, replace=True,
                    description="Clarabel (interior-point conic): LP and convex QP, global certificate")
