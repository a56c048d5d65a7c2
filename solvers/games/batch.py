"""Every player's best response against one fixed profile, solved as ONE block-separable model.

With the others held at the current profile, the players' best-response
problems are independent: a Jacobi step and a Nash-gap check are one
separable problem.  :class:`BatchResponses` joins the players' lifted views
(:class:`~gridgames.solvers.games.best_response.AggregateAgentSolver`: own
variables and Params only) into one model,

    min Σ_i s_i f_i(x_i; p_i, q_i)   s.t. every player's own and shared rows,

(``s_i = +1`` for a minimising player, ``−1`` for a maximising one), which the
solver translates once; a re-solve only refreshes the Params.  The blocks share
no variable and no row, so a solution of the joint problem is every player's
best response.  What is checked, never assumed:

* the joint status must be a success; otherwise every player is re-solved alone;
* each player's rows and bounds must hold at the joint answer (to
  :data:`FEASIBILITY_TOL`, scaled); a player that fails is re-solved alone;
* each re-solve is reported (:attr:`BatchResponses.fallbacks`): a player whose
  own solve fails too is an error naming it, as in the per-player path.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from gridgames.solvers.games.agent_solve import bound_violation, violation_of
from gridgames.solvers.games.best_response import AggregateAgentSolver
from gridgames.solvers.result import SolveResult

log = logging.getLogger(__name__)

#: a player's rows and bounds must hold at the joint answer to this, times ``1 + |bound|``
FEASIBILITY_TOL = 1e-6


@dataclass
class BatchAnswer:
    """One joint solve: each player's best response and the result that stands for it.

    Attributes
    ----------
    responses : list of ndarray
        Player i's best-response values (its own variables, in order).
    results : list of SolveResult
        The joint result for players answered by it, the player's own for a re-solved one.
    best : ndarray
        Each player's objective at its best response (the others at the profile).
    current : ndarray
        Each player's objective at the profile.
    joint : SolveResult
        The joint solve's result.
    """

    responses: list[np.ndarray]
    results: list[SolveResult]
    best: np.ndarray
    current: np.ndarray
    joint: SolveResult


@dataclass
class BatchResponses:
    """The players' best responses by one solve of their joint, separable model.

    Parameters
    ----------
    solvers : sequence of AggregateAgentSolver
        One per player; all must use the same backend (their views are joined).
    options : dict
        Backend options of the joint solve.
    check : bool
        A gap check: a player re-solved alone uses its ``best_response_value`` (the check's options).

    Attributes
    ----------
    fallbacks : list of str
        One line per player re-solved alone, and why (kept over the object's life).
    joint_solves : int
    """

    solvers: Sequence[AggregateAgentSolver]
    options: dict
    check: bool = False
    #: the joint solve's backend (default: the players')
    backend: str | None = None
    fallbacks: list[str] = field(default_factory=list)
    joint_solves: int = 0
    time: float = 0.0
    translation_time: float = 0.0

    def __post_init__(self) -> None:
        self.model = pyo.ConcreteModel(name="joint best responses")
        signs = [1.0 if s.target.obj.sense == pyo.minimize else -1.0 for s in self.solvers]
        self.model.obj = pyo.Objective(expr=sum(sign * s.target.obj.expr for sign, s in zip(signs, self.solvers)),
                                       sense=pyo.minimize)
        rows = [c for s in self.solvers for c in s.target.rows.values()]
        if rows:
            self.model.rows = pyo.Reference(rows)
        self._backend = self.solvers[0]._backend(self.backend or self.solvers[0].solver_name, self.options)

    def solve(self) -> BatchAnswer:
        """Best responses of all players at the current profile; the profile is left unchanged.

        Raises
        ------
        ModelError
            A non-finite value reaches a player's Params (see ``AggregateAgentSolver.refresh``).
        """
        t0 = time.perf_counter()
        saved = [s.agent.snapshot() for s in self.solvers]
        for s in self.solvers:
            s.refresh()
        current = np.array([s.view_value() for s in self.solvers])
        joint = self._backend.solve(self.model)
        self.joint_solves += 1
        self.translation_time += float(joint.extra.get("translation_time", 0.0) or 0.0)
        n = len(self.solvers)
        responses: list = [None] * n
        results: list = [joint] * n
        best = np.full(n, np.nan)
        alone = []
        for i, s in enumerate(self.solvers):
            why = self._rejected(s, joint)
            if why is None:
                responses[i] = s.own_values()
                best[i] = s.view_value()
            else:
                alone.append(i)
                self.fallbacks.append(f"player '{s.agent.name}' re-solved alone ({why})")
        for s, values in zip(self.solvers, saved):
            s.agent.restore(values)
        for i in alone:  # at the profile again: each player's own solve refreshes its Params from it
            best[i], responses[i], results[i] = self._alone(self.solvers[i], saved[i])
        self.time += time.perf_counter() - t0
        log.debug("joint best responses: %s in %.3fs, %d re-solved alone", joint.status,
                  time.perf_counter() - t0, sum(r is not joint for r in results))
        return BatchAnswer(responses, results, best, current, joint)

    def _alone(self, solver: AggregateAgentSolver, saved: list) -> tuple[float, np.ndarray, SolveResult]:
        """One player's own solve (the gap check's options when :attr:`check`); its variables restored."""
        if self.check:
            value, result = solver.best_response_value()   # restores the profile: no response to return
            return value, solver.own_values(), result
        result = solver.solve()
        value, response = (solver.view_value() if result.ok else float("nan")), solver.own_values()
        solver.agent.restore(saved)
        return value, response, result

    @staticmethod
    def _rejected(solver: AggregateAgentSolver, joint: SolveResult) -> str | None:
        """Why the joint answer does not stand for this player (None when it does)."""
        if not joint.ok:
            return f"the joint solve ended {joint.status}: {joint.message}"
        violation = _view_violation(solver)
        if not violation <= FEASIBILITY_TOL:
            return f"its rows or bounds are violated by {violation:.2e} at the joint answer"
        return None


def _view_violation(solver: AggregateAgentSolver) -> float:
    """Largest scaled violation of the player's view rows and own bounds at the current values (inf: no value)."""
    if any(v.value is None for v in solver.agent.variables):
        return float("inf")
    rows = max((violation_of(con, scaled=True) for con in solver.target.rows.values()), default=0.0)
    return max(rows, bound_violation(solver.agent.variables, scaled=True))
