"""gridgames: electricity demand-side market games on Pyomo.

The front door: the public API re-exported from the code folders.  The names
are resolved on first use (module ``__getattr__``), so ``import gridgames``
itself imports neither Pyomo nor torch, statsmodels, scikit-learn, pymoo or
matplotlib; ``gg.solve_bilevel`` imports what it needs when first touched.

>>> import gridgames as gg
>>> gg.available_solvers()                       # doctest: +SKIP
['highs', 'ipopt', 'scip', 'scipy', 'clarabel']
>>> result = gg.solve_bilevel(model, model.users, method="kkt")   # doctest: +SKIP
>>> print(result.summary()); result.to_frame()                    # doctest: +SKIP
>>> report = gg.run_instance("dispatch_small")                    # doctest: +SKIP
"""
from __future__ import annotations

from gridgames import _moved
from gridgames._lazy import lazy_exports

_moved.install()

__version__ = "0.1.0"

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    "InstanceError": "gridgames.models.instance",
    "load_instance": "gridgames.models.instance",
    "run_instance": "gridgames.models.run",
    "RunReport": "gridgames.models.report",
    **{name: "gridgames.solvers" for name in (
        "BilevelResult", "GridGamesError", "ModelError", "NashResult", "SolveFailedError", "SolveResult",
        "SolverNotAvailableError",
        "SolveStatus", "UnsupportedModelError", "available_solvers", "dual_of", "get_solver", "list_solvers", "nash_gap",
        "register_solver", "solve_bilevel", "solve_nash", "verify")},
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
