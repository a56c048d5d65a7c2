"""The parts of a game the stacked KKT system is assembled from: players, aggregates, constraint sides.

:func:`find_players` splits a model into players' own variables and constraints
and the shared constraints; :func:`find_aggregates` finds the named Expressions
(market totals) that are lifted into variables; :func:`constraint_sides` gives
one multiplier per finite side of each constraint row.  Used by
:mod:`~gridgames.solvers.games.stacked_kkt`, the best responses and the EPEC.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.block import BlockData
from pyomo.core.expr.visitor import identify_variables, replace_expressions
from pyomo.repn.standard_repn import generate_standard_repn

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.inline_aggregates import player_parts, shared_linear_nodes
from gridgames.solvers.games.structure import _as_blocks, check_agent_blocks, inside_any


@dataclass
class GamePlayers:
    """The players of a game, found in one linear pass (no per-player expression walks).

    Attributes
    ----------
    blocks : list of BlockData
    objectives : list of ObjectiveData
    senses : ndarray
        +1 (minimise) or −1 (maximise) per player.
    variables : list of list of VarData
        Each player's own unfixed variables.
    constraints : list of list of ConstraintData
        Each player's own active constraints.
    shared : list of ConstraintData
        Active constraints outside every player block that involve a player's variable.
    unowned : list of ConstraintData
        Active constraints outside every player block with unfixed variables, none
        of them a player's (a leader's constraints in a bilevel model; in a game, a
        player left out of the list).
    """

    blocks: list[BlockData]
    objectives: list
    senses: np.ndarray
    variables: list[list]
    constraints: list[list]
    shared: list = field(default_factory=list)
    unowned: list = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [b.name for b in self.blocks]


def block_parts(block: BlockData, role: str, skip: set[int] | frozenset = frozenset()) -> tuple[Any, list, list]:
    """An agent block's one active objective, unfixed variables and active constraints.

    Components inside sub-blocks whose ids are in ``skip`` (a leader's followers) are left out.

    Raises
    ------
    ModelError
        Not exactly one active objective, or no unfixed variable (naming the block and ``role``).
    """
    def own(ctype: Any, active: bool | None = None) -> list:
        found = block.component_data_objects(ctype, active=active, descend_into=True)
        return [c for c in found if not skip or not inside_any(c, skip)]

    objectives = own(pyo.Objective, True)
    if len(objectives) != 1:
        where = " outside its followers" if skip else ""
        raise ModelError(f"{role} block '{block.name}' must hold exactly one active Objective{where}, "
                         f"found {len(objectives)}")
    variables = [v for v in own(pyo.Var) if not v.fixed]
    if not variables:
        raise ModelError(f"{role} block '{block.name}' declares no unfixed variables")
    return objectives[0], variables, own(pyo.Constraint, True)


def find_players(model: pyo.Block, players: BlockData | Iterable[BlockData]) -> GamePlayers:
    """Check the player convention (see :mod:`gridgames.solvers.games.structure`) in linear time.

    Raises
    ------
    ModelError
        A player without exactly one active objective or without unfixed variables,
        or nested inside another player.
    """
    blocks = _as_blocks(players)
    check_agent_blocks(model, blocks, "player")
    ids = {id(b) for b in blocks}
    objectives, senses, variables, constraints = [], [], [], []
    for block in blocks:
        if inside_any(block, ids):
            raise ModelError(f"player block '{block.name}' is nested inside another player block")
        objective, own, cons = block_parts(block, "player")
        objectives.append(objective)
        senses.append(1.0 if objective.sense == pyo.minimize else -1.0)
        variables.append(own)
        constraints.append(cons)
    owned = _owners(blocks, variables)
    shared, unowned = [], []
    for c in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        if inside_any(c, ids):
            continue
        found = [id(v) in owned for v in identify_variables(c.body, include_fixed=False)]
        if any(found):
            shared.append(c)
        elif found:
            unowned.append(c)
    return GamePlayers(blocks, objectives, np.array(senses), variables, constraints, shared, unowned)


def refuse_stray_objectives(model: pyo.Block, blocks: Iterable[BlockData], role: str = "player") -> None:
    """Refuse an active Objective outside every agent block: no method would optimise it.

    Raises
    ------
    ModelError
        Naming the objective, with the fix (deactivate it or move it into its player).
    """
    ids = {id(b) for b in blocks}
    for obj in model.component_data_objects(pyo.Objective, active=True, descend_into=True):
        if not inside_any(obj, ids):
            raise ModelError(f"objective '{obj.name}' is active but outside every {role} block, so no "
                             f"{role} would optimise it: if it is a {role}'s payoff, list that {role}'s block "
                             f"(or move the objective into it); otherwise deactivate it")


def integer_variable(players: Iterable[tuple[str, list]]) -> tuple[str, Any] | None:
    """``(player name, variable)`` of the first integer or binary variable among ``(name, variables)``
    pairs; None when every variable is continuous."""
    for name, variables in players:
        for v in variables:
            if not v.is_continuous():
                return name, v
    return None


def _owners(blocks: list[BlockData], variables: list[list]) -> dict[int, int]:
    """``id(var) -> player index``.

    Raises
    ------
    ModelError
        A variable declared in two player blocks (e.g. a ``Reference`` to another
        player's variable): each player would decide it, so the game is ill-posed.
    """
    owned: dict[int, int] = {}
    for i, vs in enumerate(variables):
        for v in vs:
            j = owned.setdefault(id(v), i)
            if j != i:
                raise ModelError(f"variable '{v.name}' belongs to two player blocks, '{blocks[j].name}' and "
                                 f"'{blocks[i].name}' (a Reference to another player's variable?): each variable "
                                 "must be decided by one player; the other reads it from where it is declared")
    return owned


@dataclass
class Aggregates:
    """Linear aggregates of several players' variables (named Expressions, or shared inline sums): ``e = E x + e0``.

    Attributes
    ----------
    expressions : list of ExpressionData or expression nodes
    rows, vars, coef : entries of E (aggregate index, variable, coefficient)
    const : ndarray
        ``e0``.
    names : list of str
        Each aggregate's name for messages.
    """

    expressions: list
    rows: np.ndarray
    vars: list
    coef: np.ndarray
    const: np.ndarray
    names: list[str] = field(default_factory=list)


def find_aggregates(model: pyo.Block, blocks: list[BlockData], owner: dict[int, int],
                    exclude: set[int] | frozenset = frozenset(), parts: list | None = None) -> Aggregates:
    """Named Expressions outside the player ``blocks``, linear, mixing at least two players' variables,
    then the linear sub-expressions that several players' expressions share
    (:func:`~gridgames.solvers.games.inline_aggregates.shared_linear_nodes`: a market total written inline).

    ``owner`` maps ``id(var)`` to its player's index; an expression using a variable whose id is
    in ``exclude`` (a parameter of the system) is not lifted.  ``parts``: each player's objective and
    constraints when the caller has them (else read from the blocks).
    """
    ids = {id(b) for b in blocks}
    exprs, rows, vars_, coef, const, names = [], [], [], [], [], []
    named = [(e, e.expr, e.name) for e in model.component_data_objects(pyo.Expression, descend_into=True)
             if not inside_any(e, ids) and e.expr is not None]
    for e, body, name in named:
        repn = generate_standard_repn(body, quadratic=False)
        if not repn.is_linear() or len({owner.get(id(v)) for v in repn.linear_vars} - {None}) < 2:
            continue
        if exclude and any(id(v) in exclude for v in repn.linear_vars):
            continue
        j = len(exprs)
        exprs.append(e)
        names.append(name)
        rows.extend([j] * len(repn.linear_vars))
        vars_.extend(repn.linear_vars)
        coef.extend(float(c) for c in repn.linear_coefs)
        const.append(float(repn.constant))
    parts = player_parts(blocks) if parts is None else parts
    for node, name in shared_linear_nodes(parts, owner, exclude, named={id(e) for e in exprs}):
        repn = generate_standard_repn(node, quadratic=False)
        rows.extend([len(exprs)] * len(repn.linear_vars))
        exprs.append(node)
        names.append(name)
        vars_.extend(repn.linear_vars)
        coef.extend(float(c) for c in repn.linear_coefs)
        const.append(float(repn.constant))
    return Aggregates(exprs, np.array(rows, dtype=np.int64), vars_, np.array(coef, float), np.array(const, float),
                      names)


def lift(expr, substitution: dict[int, object]):
    """``expr`` with the named Expressions whose ids are keys replaced by the mapped expressions."""
    if not substitution:
        return expr
    return replace_expressions(expr, substitution, descend_into_named_expressions=True,
                               remove_named_expressions=True)


@dataclass
class Sides:
    """One multiplier per finite side of each constraint row."""

    row: np.ndarray      # constraint row (index into the compiled rows)
    bound: np.ndarray    # the side's bound
    c: np.ndarray        # F_λ = c (g − bound): −1 for an upper side, +1 for lower / equality
    omega: np.ndarray    # weight of λ∇g in the stationarity: +1 upper / equality, −1 lower
    free: np.ndarray     # equality: λ free


def constraint_sides(rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> Sides:
    """The finite sides of rows with bounds ``[lower, upper]``: equalities first, then upper, then lower sides."""
    eq = np.isfinite(lower) & np.isfinite(upper) & (np.abs(upper - lower) <= 1e-13 * (1 + np.abs(upper)))
    up = np.isfinite(upper) & ~eq
    lo = np.isfinite(lower) & ~eq
    row = np.concatenate([rows[eq], rows[up], rows[lo]])
    bound = np.concatenate([upper[eq], upper[up], lower[lo]])
    n_eq, n_up = int(eq.sum()), int(up.sum())
    c = np.concatenate([np.ones(n_eq), -np.ones(n_up), np.ones(int(lo.sum()))])
    omega = np.concatenate([np.ones(n_eq + n_up), -np.ones(int(lo.sum()))])
    free = np.concatenate([np.ones(n_eq, bool), np.zeros(n_up + int(lo.sum()), bool)])
    return Sides(row, bound, c, omega, free)
