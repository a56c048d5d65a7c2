"""Solvers: the registry of backends and the game engine.

Public API
----------
available_solvers, get_solver, register_solver, list_solvers
    The solver registry (``highs``, ``ipopt``, ``scip``, ``scipy``, ``pyomo:<name>``).
SolveResult, SolveStatus
    The one result type every backend returns.
solve_bilevel, verify, BilevelResult, dual_of
    Bilevel (Stackelberg) models: follower blocks inside a Pyomo model;
    ``dual_of(constraint)`` puts a follower's multiplier in the leader's hands.
solve_nash, nash_gap, NashResult
    Nash games: one block per player.
"""
from gridgames.solvers.errors import (GridGamesError, ModelError, SolveFailedError, SolverNotAvailableError,
                                      UnknownSolverError, UnsupportedModelError)
from gridgames.solvers.games.bilevel import solve_bilevel, verify
from gridgames.solvers.games.dual_of import dual_of
from gridgames.solvers.games.nash import nash_gap, solve_nash
from gridgames.solvers.games.results import AgentCheck, BilevelResult, NashResult
from gridgames.solvers.registry import available_solvers, get_solver, list_solvers, register_solver
from gridgames.solvers.result import SolveResult, SolveStatus

__all__ = [
    "AgentCheck", "BilevelResult", "GridGamesError", "ModelError", "NashResult", "SolveResult",
    "SolveFailedError", "SolveStatus", "SolverNotAvailableError", "UnknownSolverError", "UnsupportedModelError",
    "available_solvers", "dual_of", "get_solver", "list_solvers", "nash_gap", "register_solver", "solve_bilevel",
    "solve_nash", "verify",
]
