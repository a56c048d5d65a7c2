"""Copy the agents' values into a game result when the engine returns it.

``solve_bilevel`` and ``solve_nash`` call :func:`record_values` once, just
before they hand the result back, so the result keeps the leader's, the
followers' and the players' values however the model is re-solved later
(:class:`~gridgames.solvers.values.AgentValues`, ``result.to_frame()``).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

import pyomo.environ as pyo
from pyomo.core.base.block import BlockData

from gridgames.solvers.games.structure import _as_blocks
from gridgames.solvers.result import SolveResult
from gridgames.solvers.values import AgentValues, capture

log = logging.getLogger(__name__)


def record_values(result: SolveResult, model: BlockData, *,
                  followers: BlockData | Iterable[BlockData] | None = None,
                  players: BlockData | Iterable[BlockData] | None = None,
                  loaded: bool | None = None) -> SolveResult:
    """Store copies of the agents' current values in ``result.values``; return ``result``.

    Parameters
    ----------
    result : SolveResult
        A :class:`~gridgames.solvers.games.results.BilevelResult` or
        :class:`~gridgames.solvers.games.results.NashResult` (any result works).
    model : Pyomo block
        The whole model.
    followers, players : block(s), optional
        Followers only: a bilevel model; everything outside them is the ``leader``.
        Players only: a Nash game; variables outside every player are ``shared``.
        Both: an EPEC; the players are ``leader`` s, the rest ``shared``.
    loaded : bool, optional
        Whether the model holds the answer; by default when ``result.status.has_point``
        or an EPEC cycle loaded its best approximate equilibrium (``cycle_length > 0``).
        Nothing is stored when it does not (the model then holds stale values).

    Notes
    -----
    ``nested``'s and ``implicit``'s convergence history (both minimise ``sense · objective``) is
    also turned into the leader's own sense here, into ``result.history``.
    """
    if loaded is None:
        loaded = result.status.has_point or getattr(result, "cycle_length", 0) > 0
    follower_blocks = _as_blocks(followers) if followers is not None else []
    player_blocks = _as_blocks(players) if players is not None else []
    if getattr(result, "method", "") in ("nested", "implicit") and result.extra.get("history"):
        result.history = [_leader_sense(model, follower_blocks) * h for h in result.extra["history"]]
    if not loaded:
        result.values = []
        return result
    agents = player_blocks + follower_blocks
    player_role = "leader" if follower_blocks else "player"
    values: list[AgentValues] = [capture(b, b.name, player_role) for b in player_blocks]
    values += [capture(b, b.name, "follower") for b in follower_blocks]
    rest_name = "shared" if player_blocks else "leader"
    rest = capture(model, rest_name, rest_name, skip=agents)
    if not player_blocks:
        values.insert(0, rest)      # a bilevel model's leader first
    elif len(rest):
        values.append(rest)
    result.values = values
    log.debug("recorded the values of %d agents", len(values))
    return result


def _leader_sense(model: BlockData, followers: list[BlockData]) -> float:
    """+1 when the leader's objective (the active one outside the followers) minimises, else -1."""
    ids = {id(o) for f in followers for o in f.component_data_objects(pyo.Objective, descend_into=True)}
    for objective in model.component_data_objects(pyo.Objective, active=True, descend_into=True):
        if id(objective) not in ids:
            return 1.0 if objective.sense == pyo.minimize else -1.0
    return 1.0
