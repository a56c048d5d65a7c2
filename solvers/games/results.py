"""Result types of the game engine.

:class:`BilevelResult` and :class:`NashResult` carry, besides the status and
objective of every :class:`~gridgames.solvers.result.SolveResult`, each
agent's objective and gap, the agents' variable values copied when the result
was made (``leader_values``, ``follower_values``, ``player_values``; all of
them as one tidy table by ``to_frame()``), the convergence ``history`` of the
iterative methods and a readable ``summary()``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gridgames.solvers.games.status import gap_limit
from gridgames.solvers.result import SolveResult
from gridgames.solvers.summary import Summary, number
from gridgames.solvers.values import AgentValues

#: what ``history`` holds, per method (methods not listed keep an empty history)
HISTORY: dict[str, str] = {
    "nested": "best leader objective per generation (in the leader's own sense)",
    "implicit": "leader objective at the start and after each L-BFGS-B iteration (in the leader's own sense)",
    "gauss-seidel": "largest relative change of a player's strategy per sweep",
    "jacobi": "largest relative change of a player's strategy per iteration",
    "pso": "smallest sum of the players' regrets per generation",
    "mcp": "complementarity residual max|Phi| before each Newton step and at the end",
    "epec-diagonalisation": "largest relative change of the leaders' decisions per sweep",
}


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
    #: the re-solve's answer (the agent's variables in order), where the check re-solved it alone
    response: list | None = field(default=None, repr=False, compare=False)


@dataclass(repr=False)
class BilevelResult(SolveResult):
    """Outcome of :func:`~gridgames.solvers.solve_bilevel`.

    Attributes
    ----------
    method : str
        ``kkt``, ``kkt-bigm``, ``kkt-sos1``, ``strong-duality``, ``nested``, ``implicit`` or ``analytic``.
    follower_objectives : dict
        Each follower block's objective value at the returned point.
    follower_checks : list of AgentCheck
        Filled by :func:`~gridgames.solvers.verify` (``verify=True`` by default).
    upper_evaluations, lower_evaluations : int
        Leader candidates evaluated and follower problems solved.
    history : list of float
        ``nested``: the best leader objective after each generation, in the
        leader's own sense (also in ``extra["history"]``, in pymoo's minimisation
        form); empty for the other methods.
    leader_values, follower_values
        Copies of the variable values at the returned point (see the properties).

    Examples
    --------
    >>> res = gg.solve_bilevel(m, m.follower, method="kkt-bigm")     # doctest: +SKIP
    >>> res.leader_values["x"], res.follower_values["follower"]["y"]  # doctest: +SKIP
    (4.0, 4.0)
    >>> res.to_frame()                                                # doctest: +SKIP
          agent      role variable index  value
    0    leader    leader        x  None    4.0
    1  follower  follower        y  None    4.0
    >>> print(res.summary())                                          # doctest: +SKIP
    """

    method: str = ""
    follower_objectives: dict[str, float] = field(default_factory=dict)
    follower_checks: list[AgentCheck] = field(default_factory=list)
    upper_evaluations: int = 0
    lower_evaluations: int = 0
    history: list[float] = field(default_factory=list)

    @property
    def leader_objective(self) -> float | None:
        return self.objective

    @property
    def leader_values(self) -> AgentValues | None:
        """The values of every variable outside the follower blocks (None when the result has no point)."""
        return next((v for v in self.values if v.role == "leader"), None)

    @property
    def follower_values(self) -> dict[str, AgentValues]:
        """Follower block name → the values of the variables declared in that block."""
        return _by_role(self.values, "follower")

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

    def _summary(self) -> Summary:
        out = super()._summary()
        out.title = "Bilevel result"
        gap_tol = self.extra.get("gap_tol")
        out.columns = ("agent", "role", "objective", "gap", "tolerance", "check")
        out.rows = [("leader", "leader", number(self.objective), "", "", "")]
        checks = {c.name: c for c in self.follower_checks}
        for name, value in self.follower_objectives.items():
            check = checks.get(name)
            if check is None:
                out.rows.append((name, "follower", number(value), "", "", "not re-solved"))
                continue
            limit = gap_limit(check.value, gap_tol) if gap_tol is not None else None
            verdict = "exceeds" if limit is not None and not check.gap <= limit else "ok"
            out.rows.append((name, "follower", number(value), number(check.gap, ".3g"), number(limit, ".3g"),
                             f"{verdict}, {'certified' if check.certified else 'local re-solve'}"))
        if self.follower_checks:
            out.notes.insert(0, ("Certificate", _certificate(
                len(self.follower_checks), "follower", self.follower_gap, gap_tol,
                "every re-solve proven optimal" if self.follower_gap_certified
                else "some re-solves only local (Ipopt): re-run verify(..., solver='scip') to certify")))
        elif self.follower_objectives:
            out.notes.insert(0, ("Certificate", "followers not re-solved (verify=False): their optimality "
                                                "is not checked"))
        _add_history(out, self.method, self.history)
        return out


@dataclass(repr=False)
class NashResult(SolveResult):
    """Outcome of :func:`~gridgames.solvers.solve_nash`.

    Attributes
    ----------
    method : str
        ``gauss-seidel``, ``jacobi``, ``kkt``, ``pso``, ``mcp`` or ``epec-diagonalisation``.
    objective : float or None
        The **sum** of the players' objective values, each in its own sense
        (kept for backward compatibility; it is no one's objective): read
        ``player_objectives`` for each player's.
    player_objectives : dict
        Player block name → its objective value at the returned point.
    gap : float
        :func:`~gridgames.solvers.nash_gap`'s maximum over players: the most any
        player gains by deviating alone (0 at an equilibrium); ``nan`` if not checked.
    player_gaps : dict
        Player block name → its gain by deviating alone.
    history : list of float
        One entry per iteration of the iterative methods (see :data:`HISTORY`):
        Gauss–Seidel/Jacobi the largest relative strategy change per sweep, ``pso``
        the best regret sum per generation, ``mcp`` the complementarity residual,
        ``epec`` the leaders' largest relative change per sweep; empty for ``kkt``.
    best_response_solves : int
        Single-player problems solved (iterations and the gap check).
    player_values, follower_values
        Copies of the variable values at the returned point (see the properties).

    Examples
    --------
    >>> res = gg.solve_nash(m, m.F, method="gauss-seidel")   # doctest: +SKIP
    >>> res.player_values["F[0]"]["q"]                        # doctest: +SKIP
    25.0
    >>> print(res.summary())                                  # doctest: +SKIP
    """

    method: str = ""
    gap: float = float("nan")
    player_gaps: dict[str, float] = field(default_factory=dict)
    player_objectives: dict[str, float] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)
    best_response_solves: int = 0

    @property
    def player_values(self) -> dict[str, AgentValues]:
        """Player block name → the values of the variables declared in that block (EPEC: the leaders)."""
        return {**_by_role(self.values, "player"), **_by_role(self.values, "leader")}

    @property
    def follower_values(self) -> dict[str, AgentValues]:
        """Follower block name → its values (EPEC only; empty for a Nash game)."""
        return _by_role(self.values, "follower")

    @property
    def shared_values(self) -> AgentValues | None:
        """The values of the variables outside every player block (None when there are none)."""
        return next((v for v in self.values if v.role == "shared"), None)

    def _summary(self) -> Summary:
        out = super()._summary()
        out.title = "EPEC result" if self.method.startswith("epec") else "Nash result"
        out.fields = [(("Objective (sum)" if label == "Objective" else label), value) for label, value in out.fields]
        gap_tol = self.extra.get("gap_tol")
        role = "leader" if self.method.startswith("epec") else "player"
        out.columns = ("agent", "role", "objective", "gap", "tolerance", "check")
        for name, value in self.player_objectives.items():
            gap = self.player_gaps.get(name)
            limit = gap_limit(value, gap_tol) if gap_tol is not None and gap is not None else None
            verdict = "" if gap is None else ("exceeds" if limit is not None and not gap <= limit else "ok")
            out.rows.append((name, role, number(value), number(gap, ".3g"), number(limit, ".3g"), verdict))
        if self.player_gaps:
            out.notes.insert(0, ("Certificate", _certificate(len(self.player_gaps), role, self.gap, gap_tol,
                                                             "gain of the best unilateral deviation")))
        elif self.player_objectives:
            out.notes.insert(0, ("Certificate", f"{role}s' gains by deviating not computed"))
        _add_history(out, self.method, self.history)
        return out


def _by_role(values: list[AgentValues], role: str) -> dict[str, AgentValues]:
    return {v.agent: v for v in values if v.role == role}


def _certificate(count: int, role: str, worst: float | None, gap_tol: float | None, how: str) -> str:
    tol = f"tolerance {gap_tol:g}·max(1, |objective|)" if gap_tol is not None else "no tolerance recorded"
    return f"{count} {role}(s) re-solved at the answer, largest gap {number(worst, '.3g')} ({tol}); {how}"


def _add_history(out: Summary, method: str, history: list[float]) -> None:
    if history:
        out.notes.insert(1 if out.notes and out.notes[0][0] == "Certificate" else 0, (
            "History", f"{len(history)} entries, {HISTORY.get(method, 'per iteration')}: first "
                       f"{number(history[0], '.4g')}, last {number(history[-1], '.4g')}"))
