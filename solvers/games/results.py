"""Result types of the game engine."""
from __future__ import annotations

from dataclasses import dataclass, field

from gridgames.solvers.result import SolveResult


@dataclass
class AgentCheck:
    """An agent re-solved alone at the returned point.

    ``gap`` is how much the agent could still gain (≥ 0 up to solver tolerance):
    its best-response objective minus its current objective, in its own sense.
    ``gap`` is ``nan`` only when no best response could be computed, and
    then the result's status is never a success.
    ``certified`` is True when the re-solve was proven optimal (HiGHS on an
    LP/QP/MILP, SCIP); False after a local solve (Ipopt), whose gap of 0 does
    not rule out a better response elsewhere on a non-convex follower — re-run
    :func:`~gridgames.solvers.verify` with ``solver="scip"`` to certify it.
    """

    name: str
    value: float
    best_value: float
    gap: float
    status: str
    certified: bool = True
    #: largest violation of the agent's own constraints at the returned point
    violation: float = 0.0
    #: the re-solve was infeasible as stated and was repeated with the agent's constraints
    #: and bounds relaxed by the feasibility tolerance
    relaxed: bool = False


@dataclass(repr=False)
class BilevelResult(SolveResult):
    """Outcome of :func:`~gridgames.solvers.solve_bilevel`.

    Attributes
    ----------
    method : str
        ``kkt``, ``kkt-bigm``, ``strong-duality``, ``nested`` or ``analytic``.
    follower_objectives : dict
        Each follower block's objective value at the returned point.
    follower_checks : list of AgentCheck
        Filled by :func:`~gridgames.solvers.verify` (``verify=True`` by default).
    upper_evaluations, lower_evaluations : int
        Leader candidates evaluated and follower problems solved.
    """

    method: str = ""
    follower_objectives: dict[str, float] = field(default_factory=dict)
    follower_checks: list[AgentCheck] = field(default_factory=list)
    upper_evaluations: int = 0
    lower_evaluations: int = 0

    @property
    def leader_objective(self) -> float | None:
        return self.objective

    @property
    def follower_gap(self) -> float | None:
        """Largest follower optimality gap found by ``verify`` (None if not run)."""
        if not self.follower_checks:
            return None
        return max(c.gap for c in self.follower_checks)

    @property
    def follower_gap_certified(self) -> bool | None:
        """True when every follower check was a proven-optimal re-solve (None if not run)."""
        if not self.follower_checks:
            return None
        return all(c.certified for c in self.follower_checks)


@dataclass(repr=False)
class NashResult(SolveResult):
    """Outcome of :func:`~gridgames.solvers.solve_nash`.

    ``gap`` is :func:`~gridgames.solvers.nash_gap`'s maximum over players: the
    most any player gains by deviating alone (0 at an equilibrium).
    """

    method: str = ""
    gap: float = float("nan")
    player_gaps: dict[str, float] = field(default_factory=dict)
    player_objectives: dict[str, float] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)
    best_response_solves: int = 0
