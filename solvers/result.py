"""One result type for every solver and method.

`SolveStatus` says *why the solver stopped* in our own vocabulary (each backend
maps its termination codes onto it); `SolveResult` carries the objective, the
timings and the solver's message.  Variable values are loaded back into the
Pyomo model by the backend; constraint duals go into a ``dual`` Suffix.

Every result prints a readable :meth:`SolveResult.summary` and gives its
variable values as one tidy table, :meth:`SolveResult.to_frame`.  The game
engine copies the values into its results when they are made (a later
re-solve of the model does not change them); a plain solver result copies
them when asked, with :meth:`SolveResult.record_values`.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gridgames.solvers.summary import Summary, number
from gridgames.solvers.values import AgentValues, capture, values_frame

if TYPE_CHECKING:
    import pandas as pd
    from pyomo.core.base.block import BlockData


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
    values : list of AgentValues
        Copies of the variable values at the returned point, one per agent (see
        :meth:`to_frame`); filled by the game engine, or by :meth:`record_values`.

    Examples
    --------
    >>> import pyomo.environ as pyo
    >>> import gridgames as gg
    >>> m = pyo.ConcreteModel()
    >>> m.x = pyo.Var(bounds=(0, 4))
    >>> m.obj = pyo.Objective(expr=m.x, sense=pyo.maximize)
    >>> res = gg.get_solver("highs").solve(m).record_values(m)
    >>> res.to_frame()
       agent   role variable index  value
    0  model  model        x  None    4.0
    """

    status: SolveStatus
    objective: float | None = None
    solve_time: float = 0.0
    iterations: int | None = None
    solver: str = ""
    message: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    values: list[AgentValues] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status.is_ok

    def record_values(self, model: BlockData) -> SolveResult:
        """Copy the values of every variable of ``model`` into this result (agent and role ``model``).

        Call it right after the solve: the copy is what :meth:`to_frame` shows,
        whatever happens to the model afterwards.  Returns the result itself.
        """
        self.values = [capture(model, "model", "model")] if self.status.has_point else []
        return self

    def to_frame(self) -> pd.DataFrame:
        """The variable values at the returned point, one tidy row per variable entry.

        Returns
        -------
        pandas.DataFrame
            Columns ``agent`` (block name; ``leader`` for a bilevel model's upper
            level), ``role`` (``leader``, ``follower``, ``player``, ``shared``,
            ``model``), ``variable`` (name relative to the agent's block), ``index``
            (the Pyomo index; None for a scalar variable) and ``value``.  Empty
            (with these columns) when the result has no point.

        Raises
        ------
        ValueError
            The result has a point but no copy of it: a plain solver result before
            :meth:`record_values`.
        """
        if not self.values and self.status.has_point:
            raise ValueError(f"this {type(self).__name__} holds no copy of the variable values: a solver's "
                             "result leaves them in the model; call result.record_values(model) right "
                             "after the solve")
        return values_frame(self.values)

    def summary(self) -> str:
        """A readable text table: status, method, solver, time, objective(s), gaps, certificate, message.

        Examples
        --------
        >>> print(result.summary())          # doctest: +SKIP
        """
        return self._summary().render()

    def _summary(self) -> Summary:
        """The parts of :meth:`summary`; subclasses add theirs to the base ones."""
        method = getattr(self, "method", "")
        fields = [("Status", str(self.status)), ("Solver", self.solver or "n/a")]
        fields += [("Method", method)] if method else []
        fields += [("Objective", number(self.objective) or "none"), ("Time", f"{self.solve_time:.3f} s"),
                   ("Iterations", "n/a" if self.iterations is None else str(self.iterations))]
        return Summary(f"{type(self).__name__}", fields,
                       notes=[("Message", self.message)] if self.message else [])

    def _repr_html_(self) -> str:
        return self._summary().html()

    def __repr__(self) -> str:
        obj = "None" if self.objective is None else f"{self.objective:.10g}"
        method = getattr(self, "method", "")
        return (f"{type(self).__name__}(status={self.status.value}, objective={obj}, "
                + (f"method={method!r}, " if method else "")
                + f"solver={self.solver!r}, solve_time={self.solve_time:.3f}s)")
