"""``solve_bilevel(method="analytic")``: the caller's closed form, loaded or optimised over.

``equilibrium=`` loads every value the caller gives; the followers are then checked by
:func:`~gridgames.solvers.games.bilevel.verify_followers`, and the leader's choice stays the caller's
claim, so the status is ``feasible`` at best.  ``response=`` replaces the followers by their
closed-form best response and solves the leader's single-level problem.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.common.modeling import unique_component_name

from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.structure import Agent
from gridgames.solvers.registry import get_solver
from gridgames.solvers.result import SolveResult, SolveStatus

def solve_closed_form(model: pyo.Block, leader, agents: list[Agent], *, solver: str | None,
                      equilibrium: Callable[[pyo.Block], Mapping] | None = None,
                      response: Callable[[pyo.Block], Mapping] | None = None,
                      solver_options: dict | None = None) -> SolveResult:
    """Load a closed-form equilibrium, or optimise the leader over a closed-form response.

    ``equilibrium(model)`` returns ``(variable, value)`` pairs (or a Pyomo
    ``ComponentMap``) for the leader and follower variables.
    ``response(model)`` returns ``(follower variable, Pyomo expression of leader
    variables)`` pairs: the followers' best response; the followers are then
    replaced by those equalities and the leader's single-level problem is
    solved (``solver``, Ipopt by default).  (Pyomo variables are not hashable,
    hence pairs rather than a dict.)
    """
    start = time.perf_counter()
    if (equilibrium is None) == (response is None):
        raise ModelError("method='analytic' needs exactly one of equilibrium=<fn(model) -> values> "
                         "or response=<fn(model) -> follower expressions>")
    if equilibrium is not None:
        if not callable(equilibrium):
            raise ModelError(f"method='analytic': equilibrium must be a function model -> [(variable, value), ...], "
                             f"got {type(equilibrium).__name__}")
        with PauseGC():
            for var, value in _pairs(equilibrium(model)):
                var.set_value(float(value), skip_validation=True)
        missing = [v.name for a in agents for v in a.variables if v.value is None]
        if missing:
            raise ModelError(f"equilibrium() left follower variables without values: {missing[:5]}")
        # nothing certifies the leader's choice (p = 1 with q = 8 is the followers' best response and a poor
        # price): the followers' checks can only take it as far as feasible
        return SolveResult(SolveStatus.FEASIBLE, leader.value(),
                           time.perf_counter() - start, 0, "analytic",
                           "closed-form equilibrium loaded; only the followers are checked: the leader's optimality "
                           "is the closed form's claim, not certified (response= solves the leader's problem)")
    if not callable(response):
        raise ModelError(f"method='analytic': response must be a function model -> [(follower variable, "
                         f"expression of leader variables), ...], got {type(response).__name__}")
    items = _pairs(response(model))
    blk_name = unique_component_name(model, "_gg_response")
    model.add_component(blk_name, pyo.Block())
    blk = model.component(blk_name)
    blk.fix = pyo.Constraint(range(len(items)), rule=lambda _, i: items[i][0] == items[i][1])
    for a in agents:
        for con in a.constraints:
            con.deactivate()
        a.objective.deactivate()
    try:
        result = get_solver(solver or "ipopt", **(solver_options or {})).solve(model)
    finally:
        for a in agents:
            for con in a.constraints:
                con.activate()
            a.objective.activate()
        model.del_component(blk)
    result.solve_time = time.perf_counter() - start
    return result

def _pairs(values: Any) -> list[tuple[Any, Any]]:
    """``(var, value)`` pairs from a ComponentMap, a mapping or an iterable of pairs.

    Raises
    ------
    ModelError
        Anything else (naming what ``equilibrium()`` returned).
    """
    try:
        pairs = list(values.items()) if hasattr(values, "items") else list(values)
        if all(len(p) == 2 for p in pairs):
            return pairs
    except TypeError:
        pass
    raise ModelError(f"equilibrium() must return (variable, value) pairs or a mapping variable -> value, "
                     f"got {type(values).__name__} {values!r:.80}")
