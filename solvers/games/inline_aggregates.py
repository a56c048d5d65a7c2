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

from collections.abc import Sequence
from typing import Any

import pyomo.environ as pyo
from pyomo.core.base.block import BlockData
from pyomo.core.expr.numvalue import native_types

#: owner tags of a sub-expression (else the one player's index)
NO_PLAYER, SEVERAL = -1, -2


def player_parts(blocks: Sequence[BlockData]) -> list[tuple[Any, list]]:
    """Each player block's active objective(s) and constraints, when the caller has not listed them."""
    return [(list(b.component_data_objects(pyo.Objective, active=True, descend_into=True)),
             list(b.component_data_objects(pyo.Constraint, active=True, descend_into=True))) for b in blocks]


def _player_roots(parts: Sequence[tuple[Any, Sequence]]) -> list[tuple[int, Any, Any]]:
    """``(player, component, expression)`` of each player's objective(s) and constraint bodies."""
    roots = []
    for i, (objectives, constraints) in enumerate(parts):
        for obj in objectives if isinstance(objectives, (list, tuple)) else [objectives]:
            roots.append((i, obj, obj.expr))
        roots.extend((i, con, con.body) for con in constraints)
    return roots


def _merge(a: int, b: int) -> int:
    if a == NO_PLAYER or a == b:
        return b
    return a if b == NO_PLAYER else SEVERAL


def _is_node(expr: Any) -> bool:
    return expr.__class__ not in native_types and expr.is_expression_type()


def _shared_nodes(roots: list[tuple[int, Any, Any]], stop: set[int]) -> list[tuple[Any, Any]]:
    """Sub-expressions that the expressions of two or more players hold, in the order first met (an outer
    one before those inside it).  One cheap pass: a node met again is not walked again, and whether a class
    is an expression node is asked once per class (this pass runs on every game, aggregative or not)."""
    first: dict[int, int] = {}
    where: dict[int, tuple[Any, Any]] = {}
    shared: dict[int, None] = {}     # ordered set
    is_node: dict[type, bool] = {cls: False for cls in native_types}
    for player, component, root in roots:
        stack = [root]
        while stack:
            expr = stack.pop()
            node = is_node.get(expr.__class__)
            if node is None:
                node = is_node[expr.__class__] = expr.is_expression_type()
            if not node:
                continue
            key = id(expr)
            holder = first.get(key)
            if holder is not None:
                if holder != player:
                    shared[key] = None
                continue
            first[key] = player
            where[key] = (expr, component)
            if key not in stop:
                stack.extend(expr.args)
    return [where[k] for k in shared]


class _Degrees:
    """Polynomial degree, owner tag and excluded flag of sub-expressions, each computed once (post-order)."""

    def __init__(self, owner: dict[int, int], exclude: set[int] | frozenset, stop: set[int]) -> None:
        self.owner, self.exclude, self.stop = owner, exclude, stop
        self.memo: dict[int, tuple[int | None, int, bool]] = {}

    def _leaf(self, expr: Any) -> tuple[int | None, int, bool]:
        if expr.__class__ in native_types or not expr.is_variable_type() or expr.fixed:
            return 0, NO_PLAYER, False
        return 1, self.owner.get(id(expr), NO_PLAYER), id(expr) in self.exclude

    def __call__(self, root: Any) -> tuple[int | None, int, bool]:
        memo = self.memo
        stack = [(root, False)]
        while stack:
            expr, done = stack.pop()
            key = id(expr)
            if key in memo and not done:
                continue
            if key in self.stop:   # a named aggregate lifted already: nothing around it is lifted again
                memo[key] = (None, NO_PLAYER, False)
                continue
            if not done:
                stack.append((expr, True))
                stack.extend((arg, False) for arg in expr.args if _is_node(arg) and id(arg) not in memo)
                continue
            degrees, tag, excluded = [], NO_PLAYER, False
            for arg in expr.args:
                d, t, x = memo[id(arg)] if _is_node(arg) else self._leaf(arg)
                degrees.append(d)
                tag, excluded = _merge(tag, t), excluded or x
            memo[key] = (expr._compute_polynomial_degree(degrees), tag, excluded)
        return memo[id(root)]


def shared_linear_nodes(parts: Sequence[tuple[Any, Sequence]], owner: dict[int, int],
                        exclude: set[int] | frozenset = frozenset(),
                        named: set[int] | frozenset = frozenset()) -> list[tuple[Any, str]]:
    """The outermost linear sub-expressions of several players' variables that several players' expressions hold.

    Parameters
    ----------
    parts : sequence of (objective, constraints)
        Each player's objective (or list of objectives) and constraints (:func:`player_parts` reads them
        from the blocks).
    owner : dict
        ``id(var)`` → the index of its player.
    exclude : set of int
        Ids of variables that must not be inside an aggregate (a system's parameters).
    named : set of int
        Ids of named Expressions already lifted: not looked into.

    Returns
    -------
    list of (expression node, str)
        Each node with a name for messages (``"the linear expression of several players' variables in
        'F[0].profit'"``).
    """
    stop = set(named)
    degrees = _Degrees(owner, exclude, stop)
    chosen: list[tuple[Any, str]] = []
    covered: set[int] = set()
    for node, where in _shared_nodes(_player_roots(parts), stop):
        stack = [node]           # the shared node, or (when it is not linear) the outermost linear parts in it
        while stack:
            expr = stack.pop()
            key = id(expr)
            if key in covered or key in stop:
                continue
            covered.add(key)
            degree, tag, excluded = degrees(expr)
            if degree == 1 and tag == SEVERAL and not excluded and not expr.is_named_expression_type():
                chosen.append((expr, f"the linear expression of several players' variables in '{where.name}'"))
                covered.update(_subtree(expr))
            elif tag == SEVERAL:
                stack.extend(arg for arg in expr.args if _is_node(arg))
    return chosen


def _subtree(expr: Any) -> set[int]:
    """Ids of the sub-expressions inside ``expr`` (one found shared inside a chosen one is not chosen again)."""
    out, stack = set(), list(expr.args)
    while stack:
        node = stack.pop()
        if _is_node(node) and id(node) not in out:
            out.add(id(node))
            stack.extend(node.args)
    return out
