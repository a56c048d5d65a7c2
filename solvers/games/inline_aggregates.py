"""Market totals written inline: shared linear sub-expressions of several players' payoffs.

A researcher often writes a Cournot market as ::

    Q = sum(m.F[i].q for i in firms)                # a Python expression, not a named Expression
    for i in firms:
        m.F[i].profit = pyo.Objective(expr=(a - b * Q) * m.F[i].q - c[i] * m.F[i].q, sense=pyo.maximize)

Every payoff then holds the *same* expression object ``Q``.  Lifting it the way a
named ``Expression`` is lifted (:func:`~gridgames.solvers.games.game_parts.find_aggregates`)
gives each best response a model in its own variables and two Params instead of
all N quantities (20 Cournot firms: a Gauss-Seidel best response through
persistent HiGHS went from 6.4 ms to ~3 ms), and keeps the stacked KKT
system's Newton matrix sparse.

:func:`shared_linear_nodes` finds, in one pass over the players' objectives and
constraint bodies (each sub-expression visited once however many payoffs hold
it), the outermost sub-expressions that are

* linear (polynomial degree 1, from Pyomo's own per-node degree rule),
* in the variables of at least two players,
* held by the expressions of at least two players (or inside a node that is),
* free of excluded variables (a system's parameters).

A sum rebuilt inside each player's payoff (``sum(...)`` written in the loop) is
a different object per player and is not found: write it once, or as a named
Expression.
"""
from __future__ import annotations

from typing import Any

import pyomo.environ as pyo
from pyomo.core.base.block import BlockData
from pyomo.core.expr.numvalue import native_types

#: owner tags of a sub-expression (else the one player's index)
NO_PLAYER, SEVERAL = -1, -2


def _player_roots(blocks: list[BlockData]) -> list[tuple[int, str, Any]]:
    """``(player, component name, expression)`` of every active objective and constraint body in the blocks."""
    roots = []
    for i, block in enumerate(blocks):
        for obj in block.component_data_objects(pyo.Objective, active=True, descend_into=True):
            roots.append((i, obj.name, obj.expr))
        for con in block.component_data_objects(pyo.Constraint, active=True, descend_into=True):
            roots.append((i, con.name, con.body))
    return roots


def _merge(a: int, b: int) -> int:
    if a == NO_PLAYER or a == b:
        return b
    return a if b == NO_PLAYER else SEVERAL


class _Node:
    """What the pass knows of one sub-expression: degree, whose variables, which players hold it."""

    __slots__ = ("expr", "children", "degree", "owner", "excluded", "players", "where")

    def __init__(self, expr: Any, where: str) -> None:
        self.expr, self.where = expr, where
        self.children: list[int] = []
        self.degree: int | None = 0
        self.owner, self.excluded = NO_PLAYER, False
        self.players: set[int] = set()


def _leaf(expr: Any, owner: dict[int, int], exclude: set[int] | frozenset) -> tuple[int, int, bool]:
    """Degree, owner tag and excluded flag of a leaf (number, Param, variable)."""
    if type(expr) in native_types or not expr.is_variable_type() or expr.fixed:
        return 0, NO_PLAYER, False
    return 1, owner.get(id(expr), NO_PLAYER), id(expr) in exclude


def _analyse(roots: list[tuple[int, str, Any]], owner: dict[int, int], exclude: set[int] | frozenset,
             stop: set[int]) -> dict[int, _Node]:
    """Every expression node under the roots, each once: children, degree, owners, holding players."""
    nodes: dict[int, _Node] = {}
    for player, where, root in roots:
        if type(root) in native_types or not root.is_expression_type():
            continue
        if id(root) in nodes:
            nodes[id(root)].players.add(player)
            continue
        stack = [(root, False)]
        while stack:
            expr, done = stack.pop()
            key = id(expr)
            if done:
                node = nodes[key]
                degrees = []
                for arg in expr.args:
                    child = nodes.get(id(arg))
                    if child is None:
                        degree, tag, excluded = _leaf(arg, owner, exclude)
                    else:
                        degree, tag, excluded = child.degree, child.owner, child.excluded
                    degrees.append(degree)
                    node.owner, node.excluded = _merge(node.owner, tag), node.excluded or excluded
                node.degree = expr._compute_polynomial_degree(degrees)
                continue
            if key in nodes:
                nodes[key].players.add(player)
                continue
            node = nodes[key] = _Node(expr, where)
            node.players.add(player)
            if key in stop:  # a named aggregate lifted already: nothing around it is lifted again
                node.degree = None
                continue
            stack.append((expr, True))
            for arg in expr.args:
                if type(arg) not in native_types and arg.is_expression_type():
                    node.children.append(id(arg))
                    if id(arg) not in nodes:
                        stack.append((arg, False))
                    else:
                        nodes[id(arg)].players.add(player)
    return nodes


def shared_linear_nodes(blocks: list[BlockData], owner: dict[int, int], exclude: set[int] | frozenset = frozenset(),
                        named: set[int] | frozenset = frozenset()) -> list[tuple[Any, str]]:
    """The outermost linear sub-expressions of several players' variables that several players' expressions hold.

    Parameters
    ----------
    blocks : list of BlockData
        The players.
    owner : dict
        ``id(var)`` → the index of its player.
    exclude : set of int
        Ids of variables that must not be inside an aggregate (a system's parameters).
    named : set of int
        Ids of named Expressions already lifted: not looked into.

    Returns
    -------
    list of (expression node, str)
        Each node with a name for messages (``"the linear expression shared by ... (first in 'F[0].profit')"``).
    """
    roots = _player_roots(blocks)
    nodes = _analyse(roots, owner, exclude, set(named))
    chosen: list[tuple[Any, str]] = []
    visited: set[int] = set()
    stack = [(id(root), False) for _, _, root in roots if id(root) in nodes]
    while stack:
        key, shared_above = stack.pop()
        if key in visited or key in named:
            continue
        visited.add(key)
        node = nodes[key]
        shared = shared_above or len(node.players) > 1
        if (shared and node.degree == 1 and node.owner == SEVERAL and not node.excluded
                and not node.expr.is_named_expression_type()):
            chosen.append((node.expr, f"the linear expression of several players' variables in '{node.where}'"))
            continue
        stack.extend((child, shared) for child in node.children)
    return chosen
