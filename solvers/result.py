"""One result type for every solver and method.

`SolveStatus` says *why the solver stopped* in our own vocabulary (each backend
maps its termination codes onto it); `SolveResult` carries the objective, the
timings and the solver's message.  Variable values are loaded back into the
Pyomo model by the backend; constraint duals go into a ``dual`` Suffix.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class SolveStatus(str, enum.Enum):
    """Termination status shared by all backends."""

    OPTIMAL = "optimal"
    LOCALLY_OPTIMAL = "locally_optimal"
    #: a point that passed every check (feasible, follower/player gaps within tolerance) but whose
    #: optimality nothing certifies: heuristics (GA, PSO), or a user-given bound active at the answer
    FEASIBLE = "feasible"
    #: a bilevel answer at which some follower is not optimal (its gap exceeds the tolerance)
    FOLLOWER_NOT_OPTIMAL = "follower_not_optimal"
    #: a Nash answer at which some player gains more than the tolerance by deviating
    NOT_EQUILIBRIUM = "not_equilibrium"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ITERATION_LIMIT = "iteration_limit"
    TIME_LIMIT = "time_limit"
    ERROR = "error"

    @property
    def is_ok(self) -> bool:
        """True when the point loaded into the model is usable: a (local) optimum, or a
        feasible point that passed every check (``FEASIBLE``, heuristics)."""
        return self in (SolveStatus.OPTIMAL, SolveStatus.LOCALLY_OPTIMAL, SolveStatus.FEASIBLE)

    @property
    def is_optimal(self) -> bool:
        """True only when a certificate supports optimality (global or local)."""
        return self in (SolveStatus.OPTIMAL, SolveStatus.LOCALLY_OPTIMAL)

    @property
    def has_point(self) -> bool:
        """True when a point was loaded into the model (possibly not optimal)."""
        return self.is_ok or self in (SolveStatus.FOLLOWER_NOT_OPTIMAL, SolveStatus.NOT_EQUILIBRIUM,
                                      SolveStatus.ITERATION_LIMIT, SolveStatus.TIME_LIMIT)

    def __str__(self) -> str:  # print "optimal", not "SolveStatus.OPTIMAL"
        return self.value


@dataclass
class SolveResult:
    """Outcome of one solve.

    Attributes
    ----------
    status : SolveStatus
        Why the solver stopped.
    objective : float or None
        Objective value at the returned point (None when there is no point).
    solve_time : float
        Wall time in seconds spent in the solver call (model translation included).
    iterations : int or None
        Solver iterations (simplex, barrier, Ipopt, B&B nodes...) where reported.
    solver : str
        Registry name of the solver that produced the result.
    message : str
        The solver's own termination message.
    extra : dict
        Backend-specific details (e.g. the MIP gap).
    """

    status: SolveStatus
    objective: float | None = None
    solve_time: float = 0.0
    iterations: int | None = None
    solver: str = ""
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status.is_ok

    def __repr__(self) -> str:
        obj = "None" if self.objective is None else f"{self.objective:.10g}"
        method = getattr(self, "method", "")
        return (f"{type(self).__name__}(status={self.status.value}, objective={obj}, "
                + (f"method={method!r}, " if method else "")
                + f"solver={self.solver!r}, solve_time={self.solve_time:.3f}s)")
