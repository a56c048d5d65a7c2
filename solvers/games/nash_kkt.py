"""``solve_nash(method="kkt")``: every player's KKT conditions stacked into one system.

Scholtes regularisation solved by Ipopt (local), or ``solver="scip"`` with big-M bounds where they are
proved and SOS1 sets elsewhere (global).  ``variational=True`` ties each shared constraint's multipliers
(every inequality side's and every equality's) across the players: the variational equilibrium.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pyomo.environ as pyo

from gridgames.solvers.games.game_parts import lift
from gridgames.solvers.games.kkt_lifting import lift_totals, lifted_objective_gradient
from gridgames.solvers.games.kkt_methods import (Reformulation, add_complementarity, run_scholtes,
                                                 solve_reformulated)
from gridgames.solvers.games.structure import Agent
from gridgames.solvers.result import SolveResult


def solve_nash_kkt(model: pyo.Block, agents: Sequence[Agent], solver: str | None, *, variational: bool,
                   eps_start: float, eps_final: float, eps_factor: float, bigm: float | None,
                   multiplier_bound: float | None, solver_options: dict | None) -> SolveResult:
    """Stack all players' KKT systems; Scholtes/Ipopt or big-M/SCIP."""
    from pyomo.common.modeling import unique_component_name

    others = [o for o in model.component_data_objects(pyo.Objective, active=True, descend_into=True)
              if all(o is not a.objective for a in agents)]
    for o in others:
        o.deactivate()
    # shared constraints are primal constraints of the game: they stay active once, in the model
    name = unique_component_name(model, "_gg_nash_objective")
    model.add_component(name, pyo.Objective(expr=0.0))
    totals = None
    try:
        totals = lift_totals(model, agents, bounded=solver == "scip")   # sparse stationarity rows
        gradients = None if totals is None else [lifted_objective_gradient(a, totals) for a in agents]
        with Reformulation(model, agents, [a.shared for a in agents], smooth=solver != "scip",
                           gradients=gradients) as blocks:
            if variational:
                _tie_shared_multipliers(blocks)
            if totals is not None and solver != "scip":   # a shared cap's slack through its total: 2 entries, not N
                for kkt in blocks:
                    for pair in kkt.pairs:
                        pair.slack = lift(pair.slack, totals.substitution)
            if solver == "scip":   # big-M where bounds are proved, SOS1 elsewhere: global
                bounds, plans = add_complementarity(model, blocks, bigm=bigm, multiplier_bound=multiplier_bound)
                result = solve_reformulated(model, blocks, "scip", solver_options, bounds, plans)
            else:
                result = run_scholtes(model, blocks, solver or "ipopt", eps_start=eps_start, eps_final=eps_final,
                                      eps_factor=eps_factor, solver_options=solver_options)
            result.extra["shared_multipliers"] = shared_multipliers(blocks)
            if totals is not None:
                result.extra["lifted_totals"] = list(totals.names)
            return result
    finally:
        if totals is not None:
            totals.remove()
        model.del_component(name)
        for o in others:
            o.activate()


def _shared_multipliers(blocks: Sequence[Any]) -> Iterator[tuple[int, Any, str, Any]]:
    """``(player, shared constraint, side, multiplier)`` for every player's multiplier of a shared constraint:
    each inequality side's (``upper``, ``lower``) and each equality's (a shared balance ``Σ q = 0``)."""
    for i, kkt in enumerate(blocks):
        shared = {id(c) for c in kkt.agent.shared}
        yield from ((i, pair.source, pair.kind, pair.multiplier) for pair in kkt.pairs if id(pair.source) in shared)
        yield from ((i, con, "equality", pi) for con, pi in zip(kkt.equality_sources, kkt.equality_multipliers)
                    if id(con) in shared)


#: sign of a side's multiplier in ``∇f + λ∇g = 0``
#: (the KKT rows hold ``∇f + μ_up∇g − μ_low∇g − π∇g``)
_SIDE_SIGN = {"upper": 1.0, "lower": -1.0, "equality": -1.0}


def shared_multipliers(blocks: Sequence[Any]) -> dict[str, float]:
    """Each shared constraint's multiplier (the first player's; all equal at a variational equilibrium): the
    λ of ``∇f + λ∇g = 0`` in the minimisation form, both sides of a ranged row summed, as ``mcp`` reports
    it (negative for a binding ``≥`` row)."""
    out: dict[str, float] = {}
    first: dict[str, int] = {}
    for player, source, kind, multiplier in _shared_multipliers(blocks):
        if first.setdefault(source.name, player) != player or multiplier.value is None:
            continue
        out[source.name] = out.get(source.name, 0.0) + _SIDE_SIGN[kind] * float(multiplier.value)
    return out


def _tie_shared_multipliers(blocks: Sequence[Any]) -> None:
    """Variational equilibrium: one multiplier per shared constraint side (or equality) for all players."""
    by_side: dict[tuple[int, str], list] = {}
    for _, source, kind, multiplier in _shared_multipliers(blocks):
        by_side.setdefault((id(source), kind), []).append(multiplier)
    rows = [(ms[0], m) for ms in by_side.values() for m in ms[1:]]
    if rows:  # lives in the first KKT block, so it is removed with it
        blocks[0].block.variational = pyo.Constraint(range(len(rows)), rule=lambda _, r: rows[r][0] == rows[r][1])
    # the tied copies' complementarity pairs repeat the first one's (same slack, equal multiplier): one per side
    # is enough, and N copies of a market-wide slack made N dense rows (a 300-firm cap: 0.2 s per Ipopt iteration)
    keep = {id(ms[0]) for ms in by_side.values()}
    tied = set(by_side)
    for kkt in blocks:
        kkt.pairs = [p for p in kkt.pairs if (id(p.source), p.kind) not in tied or id(p.multiplier) in keep]
