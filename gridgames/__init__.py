"""gridgames: electricity demand-side market games on Pyomo.

The front door: the public API re-exported from the code folders.

>>> import gridgames as gg
>>> gg.available_solvers()                       # doctest: +SKIP
['highs', 'ipopt', 'scip', 'scipy']
>>> result = gg.solve_bilevel(model, model.users, method="kkt")   # doctest: +SKIP
"""
from gridgames.models.instance import InstanceError, load_instance
from gridgames.solvers import (BilevelResult, GridGamesError, ModelError, NashResult, SolveFailedError,
                               SolveResult, SolverNotAvailableError, SolveStatus, UnsupportedModelError,
                               available_solvers, dual_of, get_solver, list_solvers, nash_gap,
                               register_solver, solve_bilevel, solve_nash, verify)

__version__ = "0.1.0"

__all__ = [
    "BilevelResult", "GridGamesError", "InstanceError", "ModelError", "NashResult", "SolveFailedError",
    "SolveResult", "SolveStatus", "SolverNotAvailableError", "UnsupportedModelError", "available_solvers", "dual_of",
    "get_solver", "list_solvers", "load_instance", "nash_gap", "register_solver", "solve_bilevel",
    "solve_nash", "verify",
]
