"""Solving the TOU game: the elitist GA (nested) and the exact single-level methods.

* ``nested``: :func:`gridgames.solvers.games.bilevel.solve_bilevel` with an
  elitist pymoo GA (:class:`ElitistGA`: ``FitnessSurvival`` keeps the best
  ``pop_size`` of parents + offspring, so the best chromosome is never lost,
  the paper's "genetic algorithm based on elite strategy") over the period
  prices; each candidate re-solves every household (the paper uses scipy for
  the lower level; we use the engine's persistent HiGHS/Ipopt).
* ``strong-duality`` / ``kkt-bigm``: exact (global, SCIP) on the LP follower
  (``comfort_form='linear'``, ``relax=True``); ``kkt``: Scholtes/Ipopt, local,
  works on the quadratic follower too.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pymoo.algorithms.soo.nonconvex.ga import GA, FitnessSurvival
from pymoo.core.duplicate import DefaultDuplicateElimination
from pymoo.core.repair import Repair

from gridgames.models.households.model import Household
from gridgames.models.tou.config import EXACT_METHODS, METHODS, GAOptions  # noqa: F401  (re-exported)
from gridgames.models.tou.model import (HouseholdOutcome, TouParams, build_tou_model, cvar, household_outcomes,
                                        leader_prices, revenue_scenarios, set_prices)
from gridgames.solvers import AgentSolver, analyse_agents
from gridgames.solvers.errors import ModelError
from gridgames.solvers.games.bilevel import solve_bilevel

log = logging.getLogger(__name__)


#: SCIP settings of the exact methods (on top of the relative gap 1e-4).  Measured on city
#: seller-days (2 classes, ~1240 variables after the strong-duality reformulation): SCIP's
#: ``multistart`` heuristic (Ipopt from many random points at the root) took 2.0 s and OBBT
#: (a bound-tightening LP per variable) 0.7 s of a 4.0 s solve, while the root heuristics had
#: already found the optimum; without them a seller-day takes 0.7-0.9 s.  Both only find
#: points or tighten bounds: SCIP still proves the same gap, so the answer is as exact.
SCIP_EXACT_OPTIONS: dict[str, Any] = {"heuristics/multistart/freq": -1, "propagating/obbt/freq": -1}


#: what each method's answer is: the GA a heuristic, SCIP's reformulations global, Scholtes/Ipopt local
ANSWERS = {"nested": "heuristic (feasible)", "strong-duality": "global (SCIP, gap 1e-4)",
           "kkt-bigm": "global (SCIP, gap 1e-4)", "kkt": "local (Scholtes/Ipopt)"}


def integer_devices(households: Sequence[Household]) -> list[str]:
    """``household.device`` of every device that needs integer variables."""
    return [f"{h.name}.{d.name}" for h in households for d in h.devices if d.integer]


class _Trace(list):
    """A list that survives ``copy.deepcopy`` as itself (pymoo's ``minimize`` deep-copies the algorithm)."""

    def __deepcopy__(self, memo: dict) -> "_Trace":
        return self


class PriceRepair(Repair):
    """Map every chromosome onto the seller's feasible prices (order, then average-price cap).

    The seller's constraints are known in closed form, so instead of letting
    the GA waste candidates on infeasible prices we repair them (a standard
    GA device; the paper does not say how its GA handled the constraints):

    1. sort the period prices so that valley ≤ shoulder ≤ peak;
    2. if the time-average price exceeds ``p_avg_max``, shrink every price
       towards ``p_min`` by the one factor that puts the average on the cap
       (``p ← p_min + s (p − p_min)``), which keeps the price ratios' order
       and the box.

    The seller's revenue grows with the prices until the cap, so the optimum
    usually lies on it; without the repair the elitist GA reaches the cap only
    by chance (on the 5-user case it stopped 2.6 % below the exact optimum).

    A row already on the cap (within :attr:`CAP_TOL`) is left exactly as it is,
    and the average is an elementwise product and sum, not a BLAS dot: whether
    ``avg > cap`` held for a row on the cap used to depend on the last bit of
    ``X @ hours`` (a fused multiply-add in some BLAS kernels gives 1 + 2e-16),
    and a parent copied unchanged by crossover and mutation then came back
    moved by one ulp on some machines and bit-identical on others, so the GA's
    duplicate test, and with it the whole search path, changed with the CPU.

    Parameters
    ----------
    params : TouParams
        Periods (hours per period), ``p_min`` and ``p_avg_max``.
    names : list of str
        Period name of each chromosome position (the leader variables' order).
    """

    #: rows whose average exceeds the cap by at most this (yuan/kWh) count as on it (left unchanged)
    CAP_TOL = 1e-12

    def __init__(self, params: TouParams, names: Sequence[str]) -> None:
        super().__init__()
        rank = {k: i for i, k in enumerate(params.names)}
        self.order = np.array([rank[k] for k in names])
        self.hours = np.array([len(params.periods[k]) for k in names], float)
        self.p_min, self.cap = float(params.p_min), float(params.p_avg_max)

    def _do(self, problem: Any, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        X = np.array(X, float, copy=True)
        # valley ≤ shoulder ≤ peak: the k-th smallest price goes to the k-th period by rank
        X = np.sort(X, axis=1)[:, self.order]
        # elementwise product and sum (no BLAS kernel, no fused multiply-add): the same bits everywhere
        avg = (X * self.hours).sum(axis=1) / self.hours.sum()
        over = avg > self.cap + self.CAP_TOL
        if np.any(over) and self.cap > self.p_min:
            scale = (self.cap - self.p_min) / (avg[over] - self.p_min)
            X[over] = self.p_min + scale[:, None] * (X[over] - self.p_min)
        return X


#: two chromosomes closer than this (Euclidean, yuan/kWh) are duplicates for the GA; pymoo's default
#: (1e-16) is an exact-equality test, which made the search path hinge on the last bit of the prices
DUPLICATE_TOL = 1e-10


class ElitistGA(GA):
    """pymoo GA with elitist (μ+λ) fitness survival that records the best chromosome per generation.

    Offspring within :data:`DUPLICATE_TOL` of another chromosome are duplicates (re-mated), so
    which candidates the GA evaluates does not depend on rounding in the last bit.
    """

    def __init__(self, pop_size: int = 20, **kwargs: Any) -> None:
        super().__init__(pop_size=pop_size, survival=FitnessSurvival(),
                         eliminate_duplicates=DefaultDuplicateElimination(epsilon=DUPLICATE_TOL), **kwargs)
        self.best_trace: list[np.ndarray] = _Trace()

    def _post_advance(self) -> None:
        super()._post_advance()
        if self.opt is not None and len(self.opt):
            self.best_trace.append(np.atleast_1d(self.opt.get("X")[0]).astype(float).copy())


@dataclass
class TouSolution:
    """One solved TOU game (values read back from the model)."""

    method: str
    comfort_form: str
    prices: dict[str, float]
    objective: float
    expected_revenue: float
    variance: float
    cvar95: float
    avg_price: float
    time: float
    status: str
    upper_evals: int
    lower_evals: int
    follower_gap: float
    outcomes: list[HouseholdOutcome]
    history: list[float] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    relaxed: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The method's name, with ``(integer devices relaxed to continuous)`` when it solved the relaxation."""
        return self.method + (" (integer devices relaxed to continuous)" if self.relaxed else "")

    @property
    def answer(self) -> str:
        """What the solve guarantees: ``heuristic (feasible)``, ``global`` or ``local`` (of the relaxation)."""
        kind = ANSWERS.get(self.method, "unknown")
        return kind + (f", LP relaxation of {len(self.relaxed)} integer devices" if self.relaxed else "")

    @property
    def shifted_kwh(self) -> float:
        """Energy moved by all households (weighted), kWh."""
        return float(sum(o.weight * o.shifted_kwh for o in self.outcomes))

    def row(self) -> dict[str, Any]:
        """A flat table row (``method`` says when integer devices were relaxed; ``answer`` what it guarantees)."""
        return {"method": self.label, "comfort_form": self.comfort_form, "answer": self.answer,
                **{f"p_{k}": v for k, v in self.prices.items()}, "objective": self.objective,
                "expected_revenue": self.expected_revenue, "variance": self.variance, "cvar95": self.cvar95,
                "avg_price": self.avg_price, "shifted_kwh": self.shifted_kwh, "time_s": self.time,
                "upper_evals": self.upper_evals, "lower_evals": self.lower_evals,
                "max_follower_gap": self.follower_gap, "status": self.status}


def solve_tou(households: Sequence[Household], weights: Sequence[float], params: TouParams, method: str, *,
              ga: GAOptions | None = None, solver: str | None = None, solver_options: dict | None = None,
              trace: bool = False, workers: int = 1, method_options: dict | None = None,
              relax: bool | None = None) -> TouSolution:
    """Build and solve the TOU game with one method.

    Parameters
    ----------
    method : {'nested', 'strong-duality', 'kkt-bigm', 'kkt'}
        Exact methods need ``params.comfort_form == 'linear'`` except ``kkt``.
    ga : GAOptions
        For ``nested``.
    trace : bool
        (nested) re-solve the followers at each generation's best prices, for
        the convergence figure of both sides' decisions.
    solver_options : dict, optional
        Exact methods default to a relative gap of 1e-4 (SCIP; 1e-9, the
        engine's default, made SCIP run past 5 minutes on the 5-user case).
    method_options : dict, optional
        More ``solve_bilevel`` options (e.g. ``multiplier_bound`` for ``kkt-bigm``).
    relax : bool, optional
        Relax integer devices to continuous; default: for every method but
        ``nested`` (the KKT-based methods need continuous followers).  The
        devices relaxed are in :attr:`TouSolution.relaxed` and the method's
        label says so.

    Raises
    ------
    ModelError
        Unknown method, or an exact LP method on the quadratic follower.
    """
    if method not in METHODS:
        raise ModelError(f"unknown method {method!r} for tou_pricing; choose one of {', '.join(METHODS)}")
    if method in ("strong-duality",) and params.comfort_form != "linear":
        raise ModelError("strong-duality needs the linear (absolute-deviation) comfort: set "
                         "comfort_form = 'linear' (the quadratic comfort makes the follower a QP)")
    relax = method != "nested" if relax is None else bool(relax)
    model, followers = build_tou_model(households, weights, params, relax=relax)
    start = time.perf_counter()
    ga = ga or GAOptions()
    if method == "nested":
        algorithm = ElitistGA(pop_size=ga.pop_size, repair=PriceRepair(params, list(model.K)))
        result = solve_bilevel(model, followers, method="nested", solver=solver, algorithm=algorithm,
                               n_gen=ga.n_gen, seed=ga.seed, polish_evaluations=ga.polish, workers=workers,
                               **({"solver_options": solver_options} if solver_options else {}))
    else:
        if method in EXACT_METHODS:
            solver = solver or "scip"   # the price × purchase products make these models nonlinear: SCIP
        tuned = SCIP_EXACT_OPTIONS if solver == "scip" else {}
        opts = {"solver_options": {"mip_gap": 1e-4, **tuned, **(solver_options or {})}, **(method_options or {})}
        if method == "kkt":
            opts = {"solver_options": solver_options} if solver_options else {}
        result = solve_bilevel(model, followers, method=method, solver=solver, **opts)
    elapsed = time.perf_counter() - start
    if not result.status.is_ok:
        raise ModelError(f"tou_pricing: method {method} ended with status {result.status} ({result.message})")
    sol = read_solution(model, followers, method, params.comfort_form, elapsed, str(result.status),
                        result.upper_evaluations, result.lower_evaluations,
                        max((c.gap for c in result.follower_checks), default=0.0))
    sol.history = [-h for h in result.extra.get("history", [])]
    sol.relaxed = integer_devices(households) if relax else []
    if method == "nested" and trace:
        sol.trace = _trace(model, followers, algorithm.best_trace, sol.history)
        set_prices(model, sol.prices)
    return sol


def read_solution(model: pyo.ConcreteModel, followers: Sequence[Any], method: str, form: str, elapsed: float,
                  status: str, upper: int, lower: int, gap: float) -> TouSolution:
    """Numbers of the solved model."""
    revs = revenue_scenarios(model)
    return TouSolution(method, form, leader_prices(model), float(pyo.value(model.objective)),
                       float(pyo.value(model.expected_revenue)), float(pyo.value(model.variance)),
                       cvar(revs), float(pyo.value(model.avg_price)), elapsed, status, int(upper), int(lower),
                       float(gap), household_outcomes(model, followers))


def _trace(model: pyo.ConcreteModel, followers: Sequence[Any], xs: list[np.ndarray],
           history: list[float]) -> list[dict[str, Any]]:
    """Per generation: best prices and the followers' answer to them (shifted energy, purchases)."""
    agents = analyse_agents(model, list(followers), role="follower")
    solvers = [AgentSolver(a) for a in agents]
    names = list(model.K)
    rows, cache = [], {}
    for gen, x in enumerate(xs):
        key = tuple(np.round(x, 12))
        if key not in cache:
            set_prices(model, dict(zip(names, x)))
            for s in solvers:
                s.solve()
            out = household_outcomes(model, followers)
            cache[key] = (sum(o.weight * o.shifted_kwh for o in out),
                          sum(o.weight * float(o.buy_after.sum()) for o in out))
        shifted, bought = cache[key]
        rows.append({"generation": gen + 1, **{f"p_{k}": float(v) for k, v in zip(names, x)},
                     "objective": history[gen] if gen < len(history) else np.nan,
                     "shifted_kwh": shifted, "purchased_kwh": bought})
    return rows


def sweep(households: Sequence[Household], weights: Sequence[float], params: TouParams, method: str,
          what: str, values: Sequence[float], *, ga: GAOptions | None = None) -> list[dict[str, Any]]:
    """Re-solve for each value of ``what`` ('comfort' or 'risk_aversion'); one row per value."""
    if what not in ("comfort", "risk_aversion"):
        raise ModelError(f"sweep over 'comfort' or 'risk_aversion', got {what!r}")
    rows = []
    for v in values:
        p = dataclasses.replace(params, **{what: float(v)})
        sol = solve_tou(households, weights, p, method, ga=ga)
        rows.append({what: float(v), **sol.row()})
    return rows
