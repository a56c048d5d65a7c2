"""Bounds on the slacks and multipliers of a KKT system, proved rather than guessed.

A big-M complementarity row ``σ_k ≤ M^σ_k (1 − z_k)``, ``μ_k ≤ M^μ_k z_k`` is
exact only when ``M^σ_k`` and ``M^μ_k`` bound ``σ_k`` and ``μ_k`` at every
solution.  Three sources, cheapest first:

1. **interval arithmetic** on the slack over the variables' bounds, and on
   each stationarity row for a multiplier (:func:`~gridgames.solvers.games.
   kkt_bounds.derive_multiplier_bounds`);
2. **an LP over the relaxation** — the whole model's linear constraints
   (leader's, followers' primal constraints, stationarity rows, ``μ ≥ 0``)
   with the complementarity and every nonlinear row left out: every solution
   of the bilevel problem lies in it, so ``max σ_k`` and ``max μ_k`` over it
   are valid bounds.  For a linear follower whose data do not depend on the
   leader this is the LP over its dual polyhedron;
3. **the caller's** ``bigm`` / ``multiplier_bound`` — not proved, so a bound
   found active at the answer makes the result non-optimal
   (:func:`user_bounds_active`).

A pair with no finite bound from any source is stated as an SOS1 set
(:mod:`~gridgames.solvers.games.modes`).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any
from dataclasses import dataclass, field

import pyomo.environ as pyo
from pyomo.contrib.fbbt.fbbt import compute_bounds_on_expr
from pyomo.core.expr.visitor import identify_variables
from pyomo.repn.standard_repn import generate_standard_repn

from gridgames.solvers.games.coupled_bounds import RangeLP, widen
from gridgames.solvers.games.kkt import KKTBlock, Pair
from gridgames.solvers.result import SolveStatus

log = logging.getLogger(__name__)

#: a user-given bound counts as active at the answer from this fraction of it on
ACTIVE_FRACTION = 1.0 - 1e-6


@dataclass
class PairBounds:
    """Upper bounds of one KKT block's slacks and multipliers, with where each came from."""

    slack: list[float] = field(default_factory=list)
    multiplier: list[float] = field(default_factory=list)
    #: per pair: ``"proved"`` (both bounds derived), ``"user"`` (both from ``bigm``),
    #: ``"user-multiplier"`` (the multiplier's from ``multiplier_bound``), ``"none"``
    origin: list[str] = field(default_factory=list)


def derive_bounds(model: pyo.Block, blocks: Sequence[KKTBlock], *, bigm: float | None = None,
                  multiplier_bound: float | None = None, use_lp: bool = True,
                  need: Callable[[Pair], bool] | None = None) -> list[PairBounds]:
    """Bounds for every pair of every block: interval arithmetic, then the relaxation LP, then the caller's.

    ``bigm`` overrides every bound (the old meaning); ``multiplier_bound`` fills in
    multipliers nothing else bounded.  ``need(pair)`` limits the LPs to the pairs
    whose bounds matter to the caller (default: all).  Multiplier bounds found are also set as the
    multipliers' upper bounds (later rows and the solver use them).
    """
    out = []
    for kkt in blocks:
        if bigm is not None:
            n = len(kkt.pairs)
            out.append(PairBounds([bigm] * n, [bigm] * n, ["user"] * n))
            continue
        derived = derive_multiplier_bounds(kkt)
        out.append(PairBounds([slack_upper_bound(p) for p in kkt.pairs],
                              [derived.get(k, math.inf) for k in range(len(kkt.pairs))],
                              ["proved"] * len(kkt.pairs)))
    if bigm is not None:
        return out
    if use_lp and any(not math.isfinite(v) for b in out for v in b.slack + b.multiplier):
        _bound_by_relaxation(model, blocks, out, need or (lambda pair: True))
    for kkt, bounds in zip(blocks, out):
        for k, pair in enumerate(kkt.pairs):
            if not math.isfinite(bounds.multiplier[k]) and multiplier_bound is not None:
                bounds.multiplier[k] = multiplier_bound
                bounds.origin[k] = "user-multiplier"
                pair.multiplier.setub(multiplier_bound)
            if not (math.isfinite(bounds.slack[k]) and math.isfinite(bounds.multiplier[k])):
                bounds.origin[k] = "none"
    return out


def _bound_by_relaxation(model: pyo.Block, blocks: Sequence[KKTBlock], out: list[PairBounds],
                         need: Callable[[Pair], bool]) -> None:
    """Fill infinite bounds with ``max σ_k`` / ``max μ_k`` over the linear part of the relaxation (HiGHS).

    Nonlinear rows (a leader price times a follower quantity, a stationarity row
    whose coefficients depend on the leader) are left out for these LPs: a
    superset of the relaxation, so the bounds stay valid, only looser.
    """
    nonlinear = [c for c in model.component_data_objects(pyo.Constraint, active=True, descend_into=True)
                 if c.body.polynomial_degree() not in (0, 1)]
    for con in nonlinear:
        con.deactivate()
    try:
        with RangeLP(model) as lp:
            n_lp = 0
            for kkt, bounds in zip(blocks, out):
                partners = exclusive_partners(kkt)
                for k, pair in enumerate(kkt.pairs):
                    if not need(pair):
                        continue
                    for kind, expr in (("slack", pair.slack), ("multiplier", pair.multiplier)):
                        values = getattr(bounds, kind)
                        if math.isfinite(values[k]) or expr.polynomial_degree() not in (0, 1):
                            continue
                        partner = kkt.pairs[partners[k]].multiplier if kind == "multiplier" and k in partners \
                            else None
                        status, value = _extreme_with_partner_at_zero(lp, expr, partner)
                        n_lp += 1
                        if status is SolveStatus.INFEASIBLE:
                            log.info("the relaxation is infeasible: the bilevel problem has no solution")
                            return
                        if value is not None:
                            values[k] = max(widen(value, +1), 0.0)
                            if kind == "multiplier":
                                pair.multiplier.setub(values[k])
            log.info("relaxation LPs: %d solved (%d nonlinear rows left out)", n_lp, len(nonlinear))
    finally:
        for con in nonlinear:
            con.activate()


def exclusive_partners(kkt: KKTBlock) -> dict[int, int]:
    """Pair index → the other side of the same variable or ranged row, when the two multipliers are never
    both positive: the lower and upper bounds differ, so one of the two slacks is positive at any point."""
    sides: dict[tuple[int, str], int] = {}
    for k, pair in enumerate(kkt.pairs):
        group = "bound" if pair.kind in ("lb", "ub") else "row"
        sides[(id(pair.source), group, pair.kind)] = k
    out = {}
    for (source, group, kind), k in sides.items():
        other = {"lb": "ub", "ub": "lb", "lower": "upper", "upper": "lower"}[kind]
        j = sides.get((source, group, other))
        if j is not None and _strict_range(kkt.pairs[k].source, group):
            out[k] = j
    return out


def _strict_range(source: Any, group: str) -> bool:
    """The source's lower bound is strictly below its upper bound."""
    if group == "bound":
        lo, hi = source.lb, source.ub
    else:
        lo, hi = pyo.value(source.lower, exception=False), pyo.value(source.upper, exception=False)
    return lo is not None and hi is not None and lo < hi


def _extreme_with_partner_at_zero(lp: RangeLP, expr: Any, partner: Any) -> tuple[SolveStatus, float | None]:
    """``max expr`` over the relaxation, with ``partner`` (the other side's multiplier) held at 0 when given:
    valid since the two are never both positive, and it closes the ray ``μ_lb = μ_ub → ∞`` of a variable
    with both bounds that leaves the LP unbounded otherwise."""
    if partner is None:
        return lp.extreme(expr, -1)
    saved = partner.ub
    partner.setub(0.0)
    try:
        return lp.extreme(expr, -1)
    finally:
        partner.setub(saved)


def _interval(expr: Any) -> tuple[float, float]:
    if isinstance(expr, (int, float)):
        return float(expr), float(expr)
    lo, hi = compute_bounds_on_expr(expr)
    return (-math.inf if lo is None else lo, math.inf if hi is None else hi)


def derive_multiplier_bounds(kkt: KKTBlock, *, max_rounds: int = 5) -> dict[int, float]:
    """Upper bounds on the multipliers from the stationarity rows, by interval arithmetic.

    Row j reads ``R_j(x, y, other μ) + c_k μ_k = 0`` with ``c_k`` a constant.
    When ``μ_k`` is the row's only multiplier without a bound yet, ``μ_k ≤
    max over the box of −R_j / c_k``.  A variable's lower- and upper-bound
    multipliers share its row but are never both positive (one of the two
    slacks is strictly positive when ``l < u``), so each is bounded with the
    other set to zero.  Rounds repeat until nothing new is bounded; bounds are
    also set on the multiplier variables so later rows can use them.
    """
    pair_of = {id(p.multiplier): k for k, p in enumerate(kkt.pairs)}
    bounds: dict[int, float] = {}
    rows = []
    for terms in kkt.stationarity_rows:
        mult, rest = {}, []
        for term in terms:
            ks = [pair_of[id(v)] for v in _vars(term) if id(v) in pair_of]
            coef = _coefficient(term, kkt.pairs[ks[0]].multiplier) if len(ks) == 1 else None
            if ks and coef is not None:
                mult[ks[0]] = (coef, term)
            else:
                rest.append(term)  # no multiplier, or a multiplier times a variable coefficient
        rows.append((mult, rest))
    for _ in range(max_rounds):
        progress = False
        for mult, rest in rows:
            unknown = [k for k in mult if k not in bounds]
            if len(unknown) == 2 and not _bound_partners(kkt, *unknown):
                continue
            if not unknown or len(unknown) > 2:
                continue
            for k in unknown:
                coef = mult[k][0]
                others = [t for j, (_, t) in mult.items() if j not in unknown]
                residual = sum(rest) + sum(others)
                lo, hi = _interval(residual)
                cand = max(-lo / coef, 0.0) if coef > 0 else max(hi / -coef, 0.0)
                if math.isfinite(cand):
                    bounds[k] = cand
                    kkt.pairs[k].multiplier.setub(cand)
                    progress = True
        if not progress:
            break
    return bounds


def _bound_partners(kkt: KKTBlock, a: int, b: int) -> bool:
    """True for the lower- and upper-bound multipliers of one variable."""
    pa, pb = kkt.pairs[a], kkt.pairs[b]
    return pa.is_variable_bound and pb.is_variable_bound and pa.source is pb.source


def _vars(expr: Any) -> list:
    if isinstance(expr, (int, float)):
        return []
    return list(identify_variables(expr, include_fixed=False))


def _coefficient(term: Any, var: Any) -> float | None:
    """The constant coefficient of ``var`` in a term linear in it alone (None otherwise)."""
    repn = generate_standard_repn(term, quadratic=False)
    if repn.nonlinear_expr is not None or len(repn.linear_vars) != 1 or repn.linear_vars[0] is not var:
        return None
    return float(repn.linear_coefs[0])


def slack_upper_bound(pair: object) -> float:
    """Largest value of a pair's slack over the variables' bounds (interval arithmetic; may be inf)."""
    return _interval(pair.slack)[1]


def user_bounds_active(blocks: Sequence[KKTBlock], bounds: Sequence[PairBounds]) -> list[str]:
    """Labels of the pairs whose caller-given bound is reached at the current point."""
    active = []
    for kkt, b in zip(blocks, bounds):
        for k, pair in enumerate(kkt.pairs):
            if not b.origin[k].startswith("user"):
                continue
            mu = pair.multiplier.value or 0.0
            slack = pyo.value(pair.slack, exception=False) or 0.0
            if (b.multiplier[k] > 0 and mu >= ACTIVE_FRACTION * b.multiplier[k]) or \
                    (b.origin[k] == "user" and b.slack[k] > 0 and slack >= ACTIVE_FRACTION * b.slack[k]):
                active.append(pair.label)
    return active
