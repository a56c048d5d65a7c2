"""Who owns what in a bilevel model or a game.

The convention (the contract with users):

* a **follower** (bilevel) or **player** (Nash) is a Pyomo ``Block`` holding its
  own variables, its own constraints and exactly one active ``Objective``;
* every variable declared inside that block is the agent's decision;
* every other unfixed variable its expressions reference is a parameter to it
  (the leader's decision, or the other players' strategies);
* everything outside the agent blocks belongs to the leader (bilevel) or is a
  shared constraint (Nash).
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.common.log import LoggingIntercept
from pyomo.core.base.block import BlockData
from pyomo.core.base.constraint import ConstraintData
from pyomo.core.base.objective import ObjectiveData
from pyomo.core.base.var import VarData
from pyomo.core.expr.numeric_expr import (DivisionExpression, MonomialTermExpression, NegationExpression,
                                          ProductExpression, SumExpression)
from pyomo.core.expr.numvalue import native_numeric_types
from pyomo.core.expr.visitor import identify_variables

from gridgames.solvers.errors import ModelError
from gridgames.solvers.validate import finite_data_named
from gridgames.solvers.games.terms import NamedTerms, QuadraticTerms, quadratic_terms, unfixed_variables


def _has_variables(expr: Any) -> bool:
    """A factor with unfixed variables of anyone (then not a constant scale)."""
    return expr.__class__ not in native_numeric_types and expr.is_potentially_variable() \
        and next(iter(unfixed_variables(expr)), None) is not None


#: share of the pinned own variables' terms kept in a gap tolerance's scale (see Agent.objective_constant)
PINNED_WEIGHT = 1e-2


class OwnFreePart:
    """The value of an objective's top-level terms that involve none of the agent's own variables.

    ``a*q - b*q**2 + 1e6 + W*fee`` of a follower deciding ``q`` gives ``1e6 + W·fee``:
    constants, Params, fixed variables and other agents' variables (the leader's
    fee, the rivals' strategies).  They change none of the agent's decisions, so a
    gap tolerance relative to the objective must not scale with them.  Constant
    factors, negations and constant divisors are looked through (``−(profit − 1e9)``
    gives ``1e9``); other products and functions are not split (``(p − c)·q``
    counts whole).

    One instance per solve: the variables of each named Expression (a market total)
    are collected once and shared by every agent, so a payoff built on a total of
    5,000 buyers costs each agent a few set lookups, not a walk of the total.
    """

    def __init__(self) -> None:
        self._named: dict[int, frozenset[int]] = {}

    def __call__(self, expr: Any, own: set[int] | frozenset[int]) -> float:
        """Sum of the own-free top-level terms of ``expr`` at the current values (``own``: ids of the
        agent's variables)."""
        if expr.__class__ in native_numeric_types:
            return float(expr)
        if expr.is_named_expression_type():
            return self(expr.expr, own)
        if isinstance(expr, SumExpression):
            return float(sum(self(arg, own) for arg in expr.args))
        if not self._involves(expr, own):
            value = pyo.value(expr, exception=False)
            return float(value) if value is not None else 0.0
        # a linear map of a sum: −(profit − 1e9), 0.5·(profit − 1e9), (profit − 1e9)/1000
        if isinstance(expr, NegationExpression):
            return -self(expr.args[0], own)
        if isinstance(expr, (ProductExpression, MonomialTermExpression)):
            a, b = expr.args
            if not _has_variables(a):
                return float(pyo.value(a)) * self(b, own)
            if not _has_variables(b):
                return float(pyo.value(b)) * self(a, own)
        if isinstance(expr, DivisionExpression) and not _has_variables(expr.args[1]):
            denominator = float(pyo.value(expr.args[1]))
            return self(expr.args[0], own) / denominator if denominator else 0.0
        return 0.0

    def _involves(self, expr: Any, own: set[int] | frozenset[int]) -> bool:
        """Does ``expr`` use one of the ``own`` variables?"""
        if expr.__class__ in native_numeric_types or not expr.is_potentially_variable():
            return False
        if expr.is_variable_type():
            return id(expr) in own
        if expr.is_named_expression_type():
            found = self._named.get(id(expr))
            if found is None:
                found = self._named[id(expr)] = frozenset(id(v) for v in unfixed_variables(expr))
            return not own.isdisjoint(found)
        return any(self._involves(arg, own) for arg in expr.args)


@dataclass
class Agent:
    """One follower or player block, analysed.

    Attributes
    ----------
    block : BlockData
        The Pyomo block.
    variables : list of VarData
        Its own unfixed decision variables (declared inside the block).
    objective : ObjectiveData
        Its one active objective.
    constraints : list of ConstraintData
        Its active constraints (inside the block), plus shared constraints the
        caller attaches.
    parameters : list of VarData
        Unfixed variables outside the block that its expressions reference.
    """

    block: BlockData
    variables: list[VarData]
    objective: ObjectiveData
    constraints: list[ConstraintData]
    parameters: list[VarData] = field(default_factory=list)
    #: constraints outside the block that also bind this agent (generalized Nash)
    shared: list[ConstraintData] = field(default_factory=list)
    #: ``id(component) -> (expression, its QuadraticTerms)`` for the objective and the block's
    #: constraints, from the one walk :func:`analyse_agents` made (reused by ``agent_qp``)
    terms: dict[int, tuple[object, QuadraticTerms]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.block.name

    @property
    def sense(self) -> int:
        """+1 for minimisation, -1 for maximisation."""
        return 1 if self.objective.sense == pyo.minimize else -1

    def value(self) -> float:
        """Current objective value in the agent's own sense.

        Raises
        ------
        ModelError
            The objective cannot be evaluated at the current values (a division
            by zero, a logarithm of a non-positive number, ...), naming the agent.
        """
        return objective_value(self.objective.expr, self.name, self.variables + self.parameters)

    def objective_constant(self, part: OwnFreePart | None = None) -> float:
        """The part of the objective the agent cannot change at the current values: fixed costs, Params,
        fixed variables and terms in other agents' variables (:class:`OwnFreePart`; pass one
        instance to every agent of a solve).

        Gap tolerances scale with the objective's value *without* it: such a term
        changes no decision, so it must not loosen the certificate.  The terms of own
        variables the agent cannot move (equal bounds, or an equality row of that one
        variable) count at :data:`PINNED_WEIGHT` only: a ``1e6·y1`` term with ``y1 == 1``
        loosened the tolerance to 10 and hid a gain of 7.5, but such a term still carries
        the solvers' rounding (2.5e-12 on ``y1`` is 2.5e-3 on ``1e9·y1``), which the
        tolerance must cover.
        """
        part = part or OwnFreePart()
        own = {id(v) for v in self.variables}
        constant = part(self.objective.expr, own)
        pinned = self.pinned_variables()
        if not pinned:
            return constant
        with_pinned = part(self.objective.expr, own - pinned)   # the pinned terms counted as constant
        return constant + (1.0 - PINNED_WEIGHT) * (with_pinned - constant)

    def pinned_variables(self) -> set[int]:
        """Ids of own variables with equal bounds or set alone by one of the agent's equality rows."""
        own = {id(v) for v in self.variables}
        pinned = {id(v) for v in self.variables if v.lb is not None and v.lb == v.ub}
        for con in self.constraints:
            if not con.equality:
                continue
            present = [v for v in identify_variables(con.body, include_fixed=False) if id(v) in own]
            if len(present) == 1 and con.body.polynomial_degree() == 1:   # y1 == 1, y1 == x (a parameter)
                pinned.add(id(present[0]))
        return pinned

    def snapshot(self) -> list[float | None]:
        return [v.value for v in self.variables]

    def restore(self, values: Sequence[float | None]) -> None:
        for v, x in zip(self.variables, values):
            v.set_value(x, skip_validation=True)


def objective_value(expr: object, owner: str, variables: Sequence[VarData]) -> float:
    """``value(expr)``; a clear error naming ``owner`` and the values of ``variables`` where it is undefined.

    Raises
    ------
    ModelError
        A division by zero, a logarithm of a non-positive number, an overflow, ...
    """
    try:
        with LoggingIntercept(StringIO(), "pyomo", logging.ERROR):  # Pyomo logs the failure, then raises
            return float(pyo.value(expr))
    except (ZeroDivisionError, ValueError, OverflowError) as exc:
        raise ModelError(f"'{owner}': its objective cannot be evaluated at {values_text(variables)} ({exc}): "
                         "start from a point where it is defined (initial values inside its domain)") from None


def check_agent_blocks(model: BlockData, blocks: Sequence[BlockData], role: str) -> None:
    """Refuse agent blocks that cannot be the model's agents: the model itself, a block of another
    model, a deactivated block (each named, with the fix).

    Raises
    ------
    ModelError
    """
    root = model.model()
    for block in blocks:
        if block is model or block is root:
            raise ModelError(f"the {role} block is the model itself ('{block.name}'): pass the blocks that "
                             f"hold each {role}'s variables and objective, e.g. solve(m, m.{role})")
        if block.model() is not root:
            raise ModelError(f"{role} block '{block.name}' belongs to another model than the one solved (a "
                             "block of a second ConcreteModel?): build it inside the model you pass")
        if not block.active:
            raise ModelError(f"{role} block '{block.name}' is deactivated: leave it out of the list "
                             "([b for b in m.f.values() if b.active]) or activate it")


def _as_blocks(agents: BlockData | Iterable[BlockData]) -> list[BlockData]:
    if isinstance(agents, (BlockData, pyo.Block)):
        agents = [agents]
    elif isinstance(agents, str):   # iterating it would give its letters
        raise ModelError(f"agents must be Pyomo Blocks (or a list of them), got the string {agents!r}: pass the "
                         f"block itself (m.{agents}), not its name")
    elif hasattr(agents, "is_component_type") or not hasattr(agents, "__iter__"):
        # a Var, Constraint, ... (iterating a Pyomo component yields its indices, not itself)
        name = getattr(agents, "name", repr(agents))
        raise ModelError(f"agents must be Pyomo Blocks (or a list of them), got {type(agents).__name__} "
                         f"'{name}': pass the block that holds the agent's variables and objective")
    blocks: list[BlockData] = []
    for item in agents:
        if isinstance(item, pyo.Block) and item.is_indexed():
            blocks.extend(item.values())
        elif isinstance(item, BlockData):
            blocks.append(item)
        else:
            name = getattr(item, "name", None)
            raise ModelError(f"agents must be Pyomo Blocks, got {type(item).__name__} "
                             f"{repr(name) if name else repr(item)}")
    if not blocks:
        raise ModelError("no follower/player blocks were given")
    seen: set[int] = set()
    for block in blocks:
        if id(block) in seen:
            raise ModelError(f"block '{block.name}' is listed twice among the followers/players: list each once")
        seen.add(id(block))
    return blocks


def values_text(variables: Iterable, limit: int = 6) -> str:
    """``"p=1, q=2.5"``: the first ``limit`` variables with a value, for messages."""
    return ", ".join(f"{v.name}={v.value:.6g}" for v in list(variables)[:limit] if v.value is not None)


def inside_any(component, block_ids: set[int]) -> bool:
    """True when ``component`` sits (at any depth) inside a block whose id is in ``block_ids``."""
    parent = component.parent_block()
    while parent is not None:
        if id(parent) in block_ids:
            return True
        parent = parent.parent_block()
    return False


def _active_objectives(block: BlockData, *, descend_into: bool = True) -> list[ObjectiveData]:
    return list(block.component_data_objects(pyo.Objective, active=True, descend_into=descend_into))


def analyse_agents(model: BlockData, agents: BlockData | Iterable[BlockData],
                   role: str = "follower", named: NamedTerms | None = None) -> list[Agent]:
    """Split ``model`` into agent blocks and check the convention.

    ``named`` keeps the walks of named Expressions (one is made when not given):
    pass the same one to :func:`leader_part` so that an Expression shared by the
    followers and the leader (a payment) is walked once.

    Raises
    ------
    ModelError
        An agent block without exactly one active objective, without variables,
        or nested inside another agent.
    """
    blocks = _as_blocks(agents)
    check_agent_blocks(model, blocks, role)
    ids = {id(b) for b in blocks}
    named = NamedTerms() if named is None else named
    result = []
    # (a Param without a value: Pyomo logs and raises a ValueError mid-walk; check_finite names the Param)
    with PauseGC(), finite_data_named(model), LoggingIntercept(StringIO(), "pyomo", logging.ERROR):
        for block in blocks:
            result.append(_analyse_one(block, ids, role, named))
    return result


def _analyse_one(block: BlockData, ids: set[int], role: str, named: NamedTerms) -> Agent:
    """:func:`analyse_agents` for one block (``ids``: the ids of all agent blocks)."""
    if inside_any(block, ids):
        raise ModelError(f"{role} block '{block.name}' is nested inside another {role} block")
    objectives = _active_objectives(block)
    if len(objectives) != 1:
        names = f" ({', '.join(repr(o.name) for o in objectives[:5])})" if objectives else ""
        raise ModelError(f"{role} block '{block.name}' must hold exactly one active Objective, "
                         f"found {len(objectives)}{names}")
    own = [v for v in block.component_data_objects(pyo.Var, descend_into=True) if not v.fixed]
    if not own:
        raise ModelError(f"{role} block '{block.name}' declares no unfixed variables")
    constraints = list(block.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    own_ids = {id(v) for v in own}
    params: dict[int, VarData] = {}
    terms: dict[int, tuple[object, QuadraticTerms]] = {}
    for comp, expr in [(objectives[0], objectives[0].expr)] + [(c, c.body) for c in constraints]:
        walked = quadratic_terms(expr, named)  # one walk: the variables now, the coefficients for agent_qp
        terms[id(comp)] = (expr, walked)
        for v in walked.columns:
            if id(v) not in own_ids:
                params[id(v)] = v
    return Agent(block, own, objectives[0], constraints, list(params.values()), terms=terms)


@dataclass
class LeaderPart:
    """Everything outside the follower blocks."""

    variables: list[VarData]
    objective: ObjectiveData
    constraints: list[ConstraintData]
    #: the objective's terms, from the walk that found the variables
    terms: QuadraticTerms | None = field(default=None, repr=False, compare=False)

    def value(self) -> float:
        """The objective's value at the current variable values (numpy, from :attr:`terms`)."""
        if self.terms is None or self.terms.dynamic:  # a Param's value may have changed since the walk
            return float(pyo.value(self.objective.expr))
        return self.terms.value()


def leader_part(model: BlockData, followers: Sequence[Agent], *, nash_followers: bool = False,
                named: NamedTerms | None = None) -> LeaderPart:
    """The leader's objective, constraints and variables.

    Leader variables are the unfixed variables that appear outside the follower
    blocks or as parameters of a follower, minus the followers' own variables.
    A follower that uses another follower's variable (the followers play a
    Nash game at the lower level) is refused unless ``nash_followers`` (the
    methods that solve such a lower level say so).  ``named``: the walks of
    named Expressions made by :func:`analyse_agents` (reused).
    """
    # loops over every variable of a large model: no cyclic collections meanwhile; data problems named
    with PauseGC(), finite_data_named(model), LoggingIntercept(StringIO(), "pyomo", logging.ERROR):
        follower_blocks = {id(f.block) for f in followers}
        follower_vars = {id(v) for f in followers for v in f.variables}
        objectives = [o for o in _active_objectives(model) if not inside_any(o, follower_blocks)]
        if len(objectives) != 1:
            names = ", ".join(f"'{o.name}'" for o in objectives[:5])
            hint = (f" ({names}: a follower left out of the list? pass every follower block)"
                    if len(objectives) > 1 else "")
            raise ModelError(f"the leader (everything outside the follower blocks) must have exactly one "
                             f"active Objective, found {len(objectives)}{hint}")
        constraints = [c for c in model.component_data_objects(pyo.Constraint, active=True, descend_into=True)
                       if not inside_any(c, follower_blocks)]
        found: dict[int, VarData] = {}
        terms = quadratic_terms(objectives[0].expr, NamedTerms() if named is None else named)
        for v in terms.columns:
            if id(v) not in follower_vars:
                found[id(v)] = v
        for c in constraints:
            for v in unfixed_variables(c.body):
                if id(v) not in follower_vars:
                    found[id(v)] = v
        for f in followers:
            for v in f.parameters:
                if id(v) in follower_vars:
                    if nash_followers:
                        continue
                    raise ModelError(f"follower '{f.name}' uses variable '{v.name}' of another follower (a Nash game "
                                     "at the lower level), which this method does not support: use method kkt, "
                                     "kkt-bigm, kkt-sos1 or nested (or solve_nash for the followers alone)")
                found[id(v)] = v
    return LeaderPart(list(found.values()), objectives[0], constraints, terms)


def bound_of(v: VarData, side: str) -> Any:
    """``v.lower`` / ``v.upper`` for a reformulation row: a mutable Param bound stays an expression, but
    a domain combined with bounds (``within=NonNegativeReals, bounds=(0, 80)``, which Pyomo states as
    ``max(0, 0)``) becomes its number, since solver interfaces such as SCIP's cannot translate it."""
    term = v.lower if side == "lower" else v.upper
    if type(term).__name__ in ("NPV_MaxExpression", "NPV_MinExpression"):
        return v.lb if side == "lower" else v.ub
    return term


def fixing_value(v: VarData) -> float:
    """The value :class:`FixedVariables` fixes ``v`` at: its value, else its lower bound, upper bound or 0."""
    if v.value is not None:
        return float(v.value)
    lo, hi = v.bounds
    return float(lo if lo is not None else (hi if hi is not None else 0.0))


class FixedVariables:
    """Context manager: fix ``variables`` (at current values) and unfix them on exit."""

    def __init__(self, variables: Iterable[VarData]) -> None:
        self.variables = [v for v in variables if not v.fixed]

    def __enter__(self) -> FixedVariables:
        for v in self.variables:
            if v.value is None:
                v.set_value(fixing_value(v), skip_validation=True)
            v.fix()
        return self

    def __exit__(self, *exc: object) -> None:
        for v in self.variables:
            v.unfix()
