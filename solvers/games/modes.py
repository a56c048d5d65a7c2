"""Complementarity modes: how each pair ``0 ≤ σ_k ⟂ μ_k ≥ 0`` of a KKT system is stated.

One small class per mode, in the manner of BilevelJuMP's ``src/modes``
(Dias Garcia, Bodin, Street et al.): the reformulation builds the KKT
blocks, a :class:`ModePlan` says which mode each pair gets, and each mode
adds its own rows to the agent's KKT block.

=================  ==============================================  =========
mode               complementarity as                               answer
=================  ==============================================  =========
:class:`Scholtes`  ``μ_k σ_k ≤ ε``, ε → 0 (NLPs, Ipopt)             local
:class:`BigM`      ``σ_k ≤ M^σ_k (1 − z_k)``, ``μ_k ≤ M^μ_k z_k``    global when the M are proved bounds
:class:`SOS1`      an SOS1 set ``{s_k, μ_k}`` with ``s_k = σ_k``    global (SCIP), needs no bound
=================  ==============================================  =========

``strong-duality`` (linear followers) replaces the pairs by one row per
follower, ``cᵀy ≤ tᵀμ`` (:class:`StrongDuality`).  Indicator constraints are
not offered: neither Pyomo's SCIP interface nor HiGHS takes them.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import pyomo.environ as pyo

from gridgames.solvers.games.kkt import KKTBlock

log = logging.getLogger(__name__)


class BigM:
    """``σ_k ≤ M^σ_k (1 − z_k)`` and ``μ_k ≤ M^μ_k z_k`` with a binary ``z_k``; needs finite bounds."""

    name = "bigm"

    def add(self, kkt: KKTBlock, pairs: Sequence[int], slack_bounds: Sequence[float],
            multiplier_bounds: Sequence[float]) -> None:
        if not pairs:
            return
        blk = kkt.block
        blk.z = pyo.Var(list(pairs), within=pyo.Binary)
        blk.slack_off = pyo.Constraint(
            list(pairs), rule=lambda b, k: kkt.pairs[k].slack <= slack_bounds[k] * (1 - b.z[k]))
        blk.mult_off = pyo.Constraint(
            list(pairs), rule=lambda b, k: kkt.pairs[k].multiplier <= multiplier_bounds[k] * b.z[k])


class SOS1:
    """An SOS1 set ``{s_k, μ_k}`` (at most one non-zero) with a slack variable ``s_k = σ_k ≥ 0``.

    Exact complementarity with no bound at all; SCIP branches on the sets.
    """

    name = "sos1"

    def add(self, kkt: KKTBlock, pairs: Sequence[int], *_: object) -> None:
        if not pairs:
            return
        blk = kkt.block
        blk.sos_slack = pyo.Var(list(pairs), within=pyo.NonNegativeReals)
        blk.sos_slack_def = pyo.Constraint(list(pairs),
                                           rule=lambda b, k: b.sos_slack[k] == kkt.pairs[k].slack)
        blk.sos = pyo.SOSConstraint(list(pairs), rule=lambda b, k: ([b.sos_slack[k], kkt.pairs[k].multiplier],
                                                                    [1, 2]), sos=1)


class Scholtes:
    """``μ_k σ_k ≤ ε`` with ε the mutable Param ``kkt.block.eps`` (driven to 0 by the caller)."""

    name = "scholtes"

    def __init__(self, eps: float = 1e-2) -> None:
        self.eps = eps

    def add(self, kkt: KKTBlock, pairs: Sequence[int] | None = None, *_: object) -> None:
        pairs = range(len(kkt.pairs)) if pairs is None else pairs
        kkt.block.eps = pyo.Param(mutable=True, initialize=self.eps)
        kkt.block.complementarity = pyo.Constraint(
            list(pairs), rule=lambda b, k: kkt.pairs[k].multiplier * kkt.pairs[k].slack <= b.eps)


class StrongDuality:
    """A linear follower's ``s·cᵀy ≤ tᵀμ + t_eᵀπ`` (weak duality gives ``≥``)."""

    name = "strong-duality"

    def add(self, kkt: KKTBlock, *_: object) -> None:
        primal = kkt.agent.sense * kkt.agent.objective.expr - kkt.objective_constant
        kkt.block.strong_duality = pyo.Constraint(expr=primal - kkt.dual_objective <= 0)


MODES = {"bigm": BigM, "sos1": SOS1}


def plan_modes(kkt: KKTBlock, slack_bounds: Sequence[float], multiplier_bounds: Sequence[float], *,
               default: str, per_source: dict | None = None) -> dict[str, list[int]]:
    """Which pairs get which mode: ``default`` (``bigm`` or ``sos1``), overridden per constraint
    or variable by ``per_source`` (``{component: "sos1", ...}``); a ``bigm`` pair without two
    finite bounds falls back to ``sos1``.  Returns mode name → pair indices."""
    plan: dict[str, list[int]] = {"bigm": [], "sos1": []}
    chosen = {}
    for comp, mode in (per_source or {}).items():
        for data in (comp.values() if comp.is_indexed() else [comp]):
            chosen[id(data)] = mode
    for k, pair in enumerate(kkt.pairs):
        mode = chosen.get(id(pair.source), default)
        if mode == "bigm" and not (math.isfinite(slack_bounds[k]) and math.isfinite(multiplier_bounds[k])):
            mode = "sos1"
        plan[mode].append(k)
    return plan


def apply_plan(kkt: KKTBlock, plan: dict[str, list[int]], slack_bounds: Sequence[float],
               multiplier_bounds: Sequence[float]) -> None:
    """Add each mode's rows for its pairs."""
    for name, pairs in plan.items():
        MODES[name]().add(kkt, pairs, slack_bounds, multiplier_bounds)
    log.info("%s: %d pairs big-M, %d SOS1", kkt.agent.name, len(plan["bigm"]), len(plan["sos1"]))
