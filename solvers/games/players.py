"""The players of a game: :func:`players_of` analyses the player blocks in time linear in the game's size.

Each named Expression's variables (and a large sum's, such as a market total written inline) are
collected once, not once per player that reads it.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pyomo.environ as pyo
from pyomo.common.numeric_types import native_types
from pyomo.core.base.block import BlockData
from pyomo.core.expr.numeric_expr import SumExpression
from pyomo.core.expr.visitor import identify_variables

from gridgames.solvers.errors import ModelError, UnsupportedModelError
from gridgames.solvers.games.game_parts import find_players
from gridgames.solvers.games.structure import Agent


class _VariableFinder:
    """Unfixed variables of expressions; a named Expression's (or a large sum's) are collected once and re-used."""

    #: a sub-expression with at least this many arguments (a market total written inline, which every payoff
    #: holds) has its variables collected once and re-used, as a named Expression's are
    LARGE = 16

    def __init__(self) -> None:
        #: id -> (the node, its variables): the node is held so that its id is never reused while cached (a
        #: constraint's ``body`` with variables on both sides is a new object at each access, freed at once)
        self.named: dict[int, tuple[Any, dict[int, Any]]] = {}

    def __call__(self, expr: Any) -> dict[int, Any]:
        found: dict[int, Any] = {}
        stack = [expr]
        while stack:
            node = stack.pop()
            if node.__class__ in native_types:
                continue
            if node.is_named_expression_type() or (isinstance(node, SumExpression) and node.nargs() >= self.LARGE):
                key = id(node)
                if key not in self.named:
                    self.named[key] = (node, {id(v): v for v in identify_variables(node, include_fixed=False)})
                found.update(self.named[key][1])
            elif node.is_expression_type():
                stack.extend(node.args)
            elif node.is_variable_type() and not node.fixed:
                found[id(node)] = node
        return found


def players_of(model: pyo.Block, players: BlockData | Iterable[BlockData]) -> list[Agent]:
    """Analyse the player blocks and attach the shared constraints that bind each.

    Returns
    -------
    list of Agent
        One per player: its variables, objective, constraints, the other
        variables it reads (``parameters``) and the shared constraints
        (outside every player block) that involve its variables.

    Raises
    ------
    ModelError
        A player without exactly one active objective or without unfixed
        variables, or nested inside another player.
    """
    found = find_players(model, players)
    if found.unowned:
        con = found.unowned[0]
        names = ", ".join(v.name for v in list(identify_variables(con.body, include_fixed=False))[:3])
        raise ModelError(f"constraint '{con.name}' is outside every player block and involves no player's "
                         f"variables ({names}): list the player that decides them, or fix them")
    variables_of = _VariableFinder()
    owner = {id(v): i for i, vs in enumerate(found.variables) for v in vs}
    reads: list[dict[int, Any]] = []
    for objective, constraints in zip(found.objectives, found.constraints):
        seen = variables_of(objective.expr)
        for con in constraints:
            seen.update(variables_of(con.body))
        reads.append(seen)
    shared: list[list] = [[] for _ in found.blocks]
    for con in found.shared:
        con_vars = variables_of(con.body)
        for i in sorted({owner[k] for k in con_vars if k in owner}):
            shared[i].append(con)
            reads[i].update(con_vars)
    for i, seen in enumerate(reads):
        stray = next((v for k, v in seen.items() if k not in owner), None)
        if stray is not None:
            raise ModelError(f"variable '{stray.name}' enters player '{found.blocks[i].name}''s problem but belongs "
                             "to no player block: declare it inside the player that decides it, fix it (a "
                             "parameter), or write it as an Expression of the players' variables")
    agents = []
    for i, block in enumerate(found.blocks):
        params = [v for k, v in reads[i].items() if owner.get(k) != i]
        agents.append(Agent(block, found.variables[i], found.objectives[i], found.constraints[i], params, shared[i]))
    return agents


def refuse_integer(method: str, integer: tuple[str, Any]) -> None:
    """Raise: ``method`` takes continuous players only (``integer`` from :func:`integer_variable`).

    Raises
    ------
    UnsupportedModelError
    """
    why = "pso searches continuous strategies" if method == "pso" else "the KKT conditions need continuous players"
    raise UnsupportedModelError(f"method '{method}': {why}, and player '{integer[0]}' has the integer variable "
                                f"'{integer[1].name}': use method='gauss-seidel' or 'jacobi' (each best response "
                                "by a MILP/MINLP solver)")
