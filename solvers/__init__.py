"""Solvers: the registry of backends and the game engine.

Public API
----------
available_solvers, get_solver, register_solver, list_solvers
    The solver registry (``highs``, ``ipopt``, ``scip``, ``scipy``, ``pyomo:<name>``).
SolveResult, SolveStatus
    The one result type every backend returns.
solve_bilevel, verify, BilevelResult
    Bilevel (Stackelberg) models: follower blocks inside a Pyomo model.
solve_nash, nash_gap, NashResult
    Nash games: one block per player.

The names are resolved on first use (module ``__getattr__``): importing
``gridgames.solvers.errors`` (as the CLI does) does not import Pyomo.
"""
from __future__ import annotations

import importlib
from typing import Any

#: public name -> module that defines it
_LAZY: dict[str, str] = {
    **{name: "gridgames.solvers.errors" for name in (
        "GridGamesError", "ModelError", "SolverNotAvailableError", "UnknownSolverError", "UnsupportedModelError")},
    "solve_bilevel": "gridgames.solvers.games.bilevel",
    "verify": "gridgames.solvers.games.bilevel",
    "nash_gap": "gridgames.solvers.games.nash",
    "solve_nash": "gridgames.solvers.games.nash",
    **{name: "gridgames.solvers.games.results" for name in ("AgentCheck", "BilevelResult", "NashResult")},
    **{name: "gridgames.solvers.registry" for name in (
        "available_solvers", "get_solver", "list_solvers", "register_solver")},
    "SolveResult": "gridgames.solvers.result",
    "SolveStatus": "gridgames.solvers.result",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gridgames.solvers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
