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
AgentSolver, default_solver_for, analyse_agents, run_scholtes
    Engine pieces for model families: one agent's best response (built once,
    re-solved), the default solver for a block, agents from blocks, the
    Scholtes loop.

The names are resolved on first use (module ``__getattr__``): importing
``gridgames.solvers.errors`` (as the CLI does) does not import Pyomo.
"""
from __future__ import annotations

from gridgames._lazy import lazy_exports

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    **{name: "gridgames.solvers.errors" for name in (
        "GridGamesError", "ModelError", "SolveFailedError", "SolverNotAvailableError", "SolverOptionError",
        "SolverRegistrationError", "UnknownSolverError", "UnsupportedModelError")},
    "solve_bilevel": "gridgames.solvers.games.bilevel",
    "verify": "gridgames.solvers.games.bilevel",
    "dual_of": "gridgames.solvers.games.dual_of",
    "nash_gap": "gridgames.solvers.games.nash",
    "solve_nash": "gridgames.solvers.games.nash",
    **{name: "gridgames.solvers.games.results" for name in ("AgentCheck", "BilevelResult", "NashResult")},
    **{name: "gridgames.solvers.registry" for name in (
        "available_solvers", "get_solver", "list_solvers", "register_solver")},
    # engine pieces that model families use (public names; defined in the engine's modules)
    "AgentSolver": "gridgames.solvers.games.agent_solve",          # one agent's best response, persistent
    "default_solver_for": "gridgames.solvers.games.agent_solve",   # the registry's pick for a block
    "analyse_agents": "gridgames.solvers.games.structure",         # blocks -> agents (variables, objective)
    "run_scholtes": "gridgames.solvers.games.kkt_methods",         # the Scholtes regularisation loop
    "SolveResult": "gridgames.solvers.result",
    "SolveStatus": "gridgames.solvers.result",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
