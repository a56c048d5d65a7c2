"""Bill vs social welfare for one household-day: exact weighted sum, ε-constraint front, NSGA-II, MOPSO.

Objectives (both minimised here): ``f1 = (1 − λ1) · bill + ρ Σ_a k_a moved_a`` (eq. 8-9 with the
plan kept, λ2 = 1, plus the planning unit's priority cost; ρ = 0 gives eq. 8 alone) and
``−f2`` with f2 the social welfare of eq. 10-12.  The thermostat is held on its 25 °C power so
the decision is purely discrete (uninterruptible starts, interruptible on-hours).

Linear weighted evaluation (eq. 13-15; garbled ``κ1 = f2b f2b / ((f1b f1b) + (f2b f2b))``),
read as::

    κ1 = (f2* − f2') / [(f1' − f1*) + (f2* − f2')],   κ2 = (f1' − f1*) / [(f1' − f1*) + (f2* − f2')]
    min  F = κ1 f1 − κ2 f2

with f1*, f2* the individual optima and f1' (f2') the value of f1 (f2) at the other objective's
optimum (lexicographic, so they are Pareto points): each objective is weighted by the *other's*
range, i.e. both are scaled to their ranges.  Exact solutions: the welfare enters through an
epigraph ``w_t ≤ W(S_t) = L(S_t) − C(S_t)``, either as chords of the concave W through every load
the appliances can produce (exact there; a MILP for HiGHS, the default) or as two convex
quadratic constraints per period, one per branch of the saturated utility (SCIP MIQCP, the
brief's epigraph trick; slower, used as the independent check).  The exact Pareto front is an ε-constraint
sweep ``max f2 s.t. f1 ≤ ε``.  NSGA-II (pymoo) and :class:`gridgames.solvers.mopso.MOPSO` search
random keys decoded to schedules (:class:`RTPKeysProblem`); :class:`ScheduleMoves` is the
schedule neighbourhood (restart one uninterruptible appliance, move one interruptible on-hour)
that the ``mopso`` front method uses as turbulence and to mutate archive members (the paper's
"improved MOPSO" is not specified beyond the weighted evaluation; ours is a decomposition-leader,
archive-mutation MOPSO, see :data:`FRONT_METHODS`).  Fronts are compared by hypervolume (pymoo
``HV``) in objectives normalised by the exact ideal and nadir points.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pymoo.core.mutation import Mutation
from pymoo.core.problem import Problem

from gridgames.models.rtp.appliances import ApplianceSpec
from gridgames.models.rtp.objectives import Welfare
from gridgames.models.rtp.model import PlanningUnit
from gridgames.solvers.errors import ModelError
from gridgames.solvers.registry import get_solver

log = logging.getLogger(__name__)


@dataclass
class ExactPoint:
    """One exactly solved schedule: objectives (f1 min, f2 max), load, solve time."""

    f1: float
    f2: float
    load: np.ndarray
    time: float
    power: dict[str, np.ndarray] = field(default_factory=dict)


class BiObjectiveModel:
    """The household-day bi-objective MIQCP (built once; objectives and ε switched by Params).

    Parameters
    ----------
    specs : appliances
    prices : array
        $/kWh per period.
    welfare : Welfare
    lambda1 : float
        Preferential ratio of eq. 9 (plan kept: λ2 = 1).
    rho : float
        Priority cost per kWh moved (see :mod:`gridgames.models.rtp.model`).
    welfare_form : {'chords', 'quadratic'}
        ``chords``: exact MILP (HiGHS) on the loads the appliances can produce
        (:meth:`_welfare_chords`); ``quadratic``: the epigraph with two convex quadratic
        constraints per period (SCIP MIQCP).  Both give the same optima (tested).
    solver : str, optional
        Default ``highs`` for chords, ``scip`` for quadratic.
    """

    def __init__(self, specs: Sequence[ApplianceSpec], prices: np.ndarray, welfare: Welfare, *,
                 lambda1: float = 0.02, rho: float = 0.01, welfare_form: str = "chords", solver: str | None = None,
                 **solver_options) -> None:
        if not 0 <= lambda1 < 1:
            raise ModelError(f"[incentive].lambda1: must be in [0, 1), got {lambda1}")
        self.welfare, self.lambda1, self.rho = welfare, float(lambda1), float(rho)
        self.unit = PlanningUnit(specs, rho=rho, fix_thermostat=True, solver="highs")
        self.unit.set_prices(prices)
        self.prices = np.asarray(prices, float)
        m, b, grid = self.unit.model, self.unit.block, self.unit.grid
        self.grid = grid
        m.obj.deactivate()
        m.f1 = pyo.Expression(expr=(1 - self.lambda1) * b.bill + m.rho * m.comfort_cost)
        m.w = pyo.Var(grid.periods, bounds=(-1e6, 1e6))
        if welfare_form == "chords":
            self._welfare_chords(m, b, grid)
        elif welfare_form == "quadratic":
            W = welfare
            cost = {t: W.r * b.buy[t] ** 2 + W.b * b.buy[t] + W.c for t in grid.periods}
            m.w_util = pyo.Constraint(grid.periods, rule=lambda _, t: m.w[t] <= W.delta * b.buy[t]
                                      - 0.5 * W.m * b.buy[t] ** 2 - cost[t])
            m.w_sat = pyo.Constraint(grid.periods, rule=lambda _, t: m.w[t] <= W.delta ** 2 / (2 * W.m) - cost[t])
        else:
            raise ModelError(f"welfare_form must be 'chords' or 'quadratic', got {welfare_form!r}")
        m.f2 = pyo.Expression(expr=grid.dt * sum(m.w[t] for t in grid.periods))
        m.eps1 = pyo.Param(initialize=1e9, mutable=True)
        m.eps2 = pyo.Param(initialize=-1e9, mutable=True)
        m.cap1 = pyo.Constraint(expr=m.f1 <= m.eps1)
        m.cap2 = pyo.Constraint(expr=m.f2 >= m.eps2)
        m.k1 = pyo.Param(initialize=1.0, mutable=True)
        m.k2 = pyo.Param(initialize=1.0, mutable=True)
        m.obj_f1 = pyo.Objective(expr=m.f1)
        m.obj_f2 = pyo.Objective(expr=-m.f2)
        m.obj_ws = pyo.Objective(expr=m.k1 * m.f1 - m.k2 * m.f2)
        self.model = m
        self.solver_name = solver or ("highs" if welfare_form == "chords" else "scip")
        if self.solver_name == "highs":
            solver_options = {"mip_gap": 1e-7, **solver_options}
        self.solver = get_solver(self.solver_name, **solver_options)
        self.weights: tuple[float, float] | None = None
        self.anchors: tuple[ExactPoint, ExactPoint] | None = None

    def _welfare_chords(self, m: pyo.Block, b, grid) -> None:
        """Exact MILP form of the concave welfare on the loads the appliances can produce.

        ``S_t = base_t + Σ_a p_a γ_a,t`` with binary γ, so ``S_t`` lies on the lattice
        ``base_t + g ℕ`` (g the gcd of the movable powers, to 1e-4 kW).  ``W = L − C`` is concave,
        so ``min_j`` of the chords through consecutive lattice points equals ``W`` at every lattice
        point: ``w_t ≤ chord_j(S_t)`` for all j is exact where ``S_t`` can be.
        """
        units = [int(round(s.power * 1e4)) for s in self.unit.movable]
        if any(abs(u - s.power * 1e4) > 1e-6 for u, s in zip(units, self.unit.movable)):
            raise ModelError("welfare_form 'chords' needs appliance powers in multiples of 0.0001 kW; "
                             "use welfare_form='quadratic' (SCIP)")
        g = math.gcd(*units) / 1e4
        base = np.zeros(grid.n)
        top = np.zeros(grid.n)
        for s in self.unit.specs:
            if s in self.unit.movable:
                top[grid.window(s.start, s.end)] += s.power
            else:
                base += s.preferred_power(grid)
        rows = []
        for t in grid.periods:
            k = int(round(top[t] / g))
            v = base[t] + g * np.arange(k + 1)
            wv = self.welfare.utility(v) - self.welfare.cost(v)
            if k == 0:
                rows.append((t, float(wv[0]), 0.0, float(v[0])))
            for j in range(k):
                rows.append((t, float(wv[j]), float((wv[j + 1] - wv[j]) / g), float(v[j])))
        m.w_chord = pyo.Constraint(range(len(rows)), rule=lambda _, i: m.w[rows[i][0]] <= rows[i][1]
                                   + rows[i][2] * (b.buy[rows[i][0]] - rows[i][3]))

    # -- evaluation --------------------------------------------------------------------------------
    def evaluate(self, load: np.ndarray, comfort_cost: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """(f1, f2) of load curves ``(..., n)`` with their Σ k·moved (kWh) — numpy, no solver."""
        dt = self.grid.dt
        f1 = (1 - self.lambda1) * dt * np.asarray(load) @ self.prices + self.rho * np.asarray(comfort_cost)
        return f1, self.welfare.welfare(load, dt)

    def _solve(self, which: str, eps1: float = 1e9, eps2: float = -1e9) -> ExactPoint:
        m = self.model
        for name in ("obj_f1", "obj_f2", "obj_ws"):
            m.component(name).deactivate()
        m.component(which).activate()
        m.eps1.set_value(eps1)
        m.eps2.set_value(eps2)
        start = time.perf_counter()
        res = self.solver.solve(m, check=False)
        if not res.status.is_ok:
            raise ModelError(f"bi-objective household: {self.solver_name} stopped with {res.status} "
                             f"({res.message}) on {which} (eps1={eps1:g}, eps2={eps2:g})")
        plan = self.unit.read()
        f1, f2 = self.evaluate(plan.load, pyo.value(m.comfort_cost))
        return ExactPoint(float(f1), float(f2), plan.load, time.perf_counter() - start, plan.power)

    def anchor_points(self, tol: float = 1e-7) -> tuple[ExactPoint, ExactPoint]:
        """Lexicographic optima: (min f1, then max f2) and (max f2, then min f1)."""
        if self.anchors is None:
            a = self._solve("obj_f1")
            a = self._solve("obj_f2", eps1=a.f1 + tol * max(1.0, abs(a.f1)))
            b = self._solve("obj_f2")
            b = self._solve("obj_f1", eps2=b.f2 - tol * max(1.0, abs(b.f2)))
            self.anchors = (a, b)
        return self.anchors

    def weighted_sum(self) -> tuple[ExactPoint, tuple[float, float]]:
        """The eq. 13-15 point and its weights (κ1, κ2)."""
        a, b = self.anchor_points()
        # a = (f1*, f2') minimises f1, b = (f1', f2*) maximises f2: the ranges f1' − f1* and f2* − f2'
        r1, r2 = b.f1 - a.f1, b.f2 - a.f2
        if r1 <= 0 or r2 <= 0:
            raise ModelError("weighted sum: the two objectives do not conflict on this household-day "
                             f"(f1 range {r1:g}, f2 range {r2:g})")
        k1, k2 = r2 / (r1 + r2), r1 / (r1 + r2)
        self.model.k1.set_value(k1)
        self.model.k2.set_value(k2)
        self.weights = (k1, k2)
        return self._solve("obj_ws"), (k1, k2)

    def epsilon_front(self, n_points: int | None = 25, max_points: int = 500) -> list[ExactPoint]:
        """Exact front by ε-constraint on the welfare: ``min f1 s.t. f2 ≥ ε``, then ``max f2`` at that f1.

        (``min f1`` under a welfare floor solved 10-100× faster with HiGHS than ``max f2`` under a
        bill cap on the household-day.)  ``n_points``: ε evenly spaced between the anchors' f2 (a
        sample of the front).  ``None``: every non-dominated point, walking up from the min-f1
        anchor with ``ε`` just above the last point's f2 until the max-f2 anchor (at most
        ``max_points``).  The step ``1e-5·max(1, |f2|)`` sits above the solver's accumulated
        feasibility tolerance on the 24 epigraph rows; points closer than that in f2 are merged.
        """
        a, b = self.anchor_points()
        if n_points is not None:
            pts = [a, b] + [self._lexicographic(float(e)) for e in np.linspace(a.f2, b.f2, n_points)[1:-1]]
            return nondominated(pts)
        pts, cur = [a], a
        while cur.f2 < b.f2 - 1e-5 * max(1.0, abs(b.f2)) and len(pts) < max_points:
            cur = self._lexicographic(cur.f2 + 1e-5 * max(1.0, abs(cur.f2)))
            pts.append(cur)
        return nondominated(pts + [b])

    def _lexicographic(self, eps2: float, tol: float = 1e-7) -> ExactPoint:
        """min f1 s.t. f2 ≥ ε, then max f2 keeping that f1 (a Pareto point, not just weakly)."""
        p = self._solve("obj_f1", eps2=eps2)
        return self._solve("obj_f2", eps1=p.f1 + tol * max(1.0, abs(p.f1)))

    def max_f2_given_f1(self, f1: float, tol: float = 1e-7) -> ExactPoint:
        """The ε-constraint point at ``ε = f1`` (to check a point lies on the front)."""
        return self._solve("obj_f2", eps1=f1 + tol * max(1.0, abs(f1)))


def nondominated(points: Sequence[ExactPoint], tol: float = 1e-7) -> list[ExactPoint]:
    """Points not dominated by another (f1 min, f2 max), sorted by f1, (near-)duplicates dropped."""
    pts = sorted(points, key=lambda p: (p.f1, -p.f2))
    out: list[ExactPoint] = []
    for p in pts:
        if out and p.f2 <= out[-1].f2 + tol * max(1.0, abs(p.f2)):
            continue
        out.append(p)
    return out


@dataclass
class _KeyBlock:
    """The keys of one movable appliance in :class:`RTPKeysProblem` (``kind`` 'u' or 'i')."""

    name: str
    kind: str
    j: int                                # first key
    table: np.ndarray | None = None       # u: load row per start (n_starts, n)
    moved: np.ndarray | None = None       # u: k · kWh moved per start
    window: np.ndarray | None = None      # i: periods of the window
    hours: int = 0                        # i: on-periods
    power: float = 0.0
    pref: np.ndarray | None = None
    k: float = 1.0

    @property
    def size(self) -> int:
        return 1 if self.kind == "u" else self.window.size


class RTPKeysProblem(Problem):
    """Random-key encoding of the household-day schedule for pymoo (vectorised decode).

    One key per uninterruptible appliance (start = ⌊key · n_starts⌋, starts in time order) and
    one per window period of each interruptible appliance (the ``hours`` largest keys are its
    on-periods).  Every key vector decodes to a feasible schedule, so the problem is
    unconstrained in [0, 1]^n.  Objectives ``(f1, −f2)``.  :meth:`encode` maps a schedule back
    to keys (to seed a search with exact solutions); :class:`ScheduleMoves` is the matching
    neighbourhood.
    """

    def __init__(self, bo: BiObjectiveModel) -> None:
        unit, grid = bo.unit, bo.grid
        self.bo, self.n = bo, grid.n
        self.base = np.zeros(grid.n)
        self.blocks: list[_KeyBlock] = []
        n_var = 0
        movable = {s.name for s in unit.movable}
        for s in unit.specs:
            pref = s.preferred_power(grid)
            if s.name not in movable:
                self.base += pref
                continue
            if s.kind == "uninterruptible":
                dev = s.device(grid)
                run, starts = dev.run_profile(grid), dev.starts(grid)
                table = np.zeros((starts.size, grid.n))
                for i, st in enumerate(starts):
                    table[i, st:st + run.size] = run
                moved = 0.5 * grid.dt * np.abs(table - pref).sum(axis=1) * s.k
                self.blocks.append(_KeyBlock(s.name, "u", n_var, table=table, moved=moved))
            elif s.kind == "interruptible":
                self.blocks.append(_KeyBlock(s.name, "i", n_var, window=grid.window(s.start, s.end),
                                             hours=int(round(s.hours / grid.dt)), power=s.power, pref=pref, k=s.k))
            else:
                raise ModelError(f"RTPKeysProblem: appliance '{s.name}' of kind {s.kind!r} cannot be keyed")
            n_var += self.blocks[-1].size
        if n_var == 0:
            raise ModelError("RTP household has no movable discrete appliance: nothing to optimise")
        super().__init__(n_var=n_var, n_obj=2, xl=0.0, xu=1.0)

    def decode(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Load curves ``(pop, n)`` and Σ k·moved ``(pop,)`` of key vectors ``X``."""
        X = np.atleast_2d(X)
        pop = X.shape[0]
        load = np.tile(self.base, (pop, 1))
        comfort = np.zeros(pop)
        rows = np.arange(pop)[:, None]
        for blk in self.blocks:
            if blk.kind == "u":
                idx = np.minimum((X[:, blk.j] * blk.table.shape[0]).astype(int), blk.table.shape[0] - 1)
                load += blk.table[idx]
                comfort += blk.moved[idx]
            else:
                keys = X[:, blk.j:blk.j + blk.size]
                top = np.argsort(-keys, axis=1, kind="stable")[:, :blk.hours]
                on = np.zeros((pop, self.n))
                on[rows, blk.window[top]] = 1.0
                load += blk.power * on
                comfort += blk.k * 0.5 * self.bo.grid.dt * np.abs(blk.power * on - blk.pref).sum(axis=1)
        return load, comfort

    def encode(self, power: dict[str, np.ndarray]) -> np.ndarray:
        """Keys decoding to the schedule ``power`` (kW per period of each movable appliance).

        Uninterruptible: the centre of its start's key interval; interruptible: 0.75 on its
        on-periods, 0.25 elsewhere.  Raises :class:`ModelError` when a profile is not one the
        encoding can produce.
        """
        x = np.full(self.n_var, 0.5)
        for blk in self.blocks:
            p = np.asarray(power[blk.name], float)
            if blk.kind == "u":
                err = np.abs(blk.table - p).sum(axis=1)
                idx = int(np.argmin(err))
                if err[idx] > 1e-6:
                    raise ModelError(f"encode: '{blk.name}' power is not one uninterrupted run in its window")
                x[blk.j] = (idx + 0.5) / blk.table.shape[0]
            else:
                on = p[blk.window] > 1e-6
                if on.sum() != blk.hours or np.any(p[np.setdiff1d(np.arange(self.n), blk.window)] > 1e-6):
                    raise ModelError(f"encode: '{blk.name}' must be on {blk.hours} periods inside its window")
                x[blk.j:blk.j + blk.size] = np.where(on, 0.75, 0.25)
        return x

    def _evaluate(self, X, out, *args, **kwargs):
        load, comfort = self.decode(X)
        f1, f2 = self.bo.evaluate(load, comfort)
        out["F"] = np.column_stack([f1, -f2])


class ScheduleMoves(Mutation):
    """One schedule-space move per key vector of an :class:`RTPKeysProblem` (vectorised).

    A movable appliance is drawn uniformly; an uninterruptible one restarts at another start
    (uniform), an interruptible one moves one on-period to one off-period of its window (both
    uniform; the block's keys are rewritten evenly spaced in the new rank order, so the move
    takes effect even where the swarm has clipped keys to equal bounds).  Every result is again a
    feasible schedule one move away — the neighbourhood of a local search on the discrete
    schedule, used by :class:`gridgames.solvers.mopso.MOPSO` as turbulence and to mutate archive
    members (and usable as NSGA-II's mutation).  (Moves restricted to ±1 h were measured and
    found much weaker: they cannot cross the price steps.)
    """

    def _do(self, problem, X, *args, random_state=None, **kwargs):
        if not isinstance(problem, RTPKeysProblem):
            raise ModelError(f"ScheduleMoves works on RTPKeysProblem keys, got {type(problem).__name__}")
        rng = random_state if random_state is not None else np.random.default_rng()
        X = np.array(X, float, copy=True)
        movable = [blk for blk in problem.blocks
                   if (blk.kind == "u" and blk.table.shape[0] > 1) or (blk.kind == "i" and blk.hours < blk.size)]
        if not movable:
            return X
        which = rng.integers(0, len(movable), len(X))
        for i, blk in enumerate(movable):
            rows = np.flatnonzero(which == i)
            if rows.size == 0:
                continue
            if blk.kind == "u":
                n = blk.table.shape[0]
                cur = np.minimum((X[rows, blk.j] * n).astype(int), n - 1)
                X[rows, blk.j] = ((cur + rng.integers(1, n, rows.size)) % n + 0.5) / n
                continue
            w, h, r = blk.size, blk.hours, np.arange(rows.size)
            cols = blk.j + np.arange(w)
            order = np.argsort(-X[np.ix_(rows, cols)], axis=1, kind="stable")     # ranks 0..h-1 are on
            on_rank, off_rank = rng.integers(0, h, rows.size), rng.integers(h, w, rows.size)
            order[r, on_rank], order[r, off_rank] = order[r, off_rank], order[r, on_rank].copy()
            new = np.empty((rows.size, w))
            new[r[:, None], order] = 1.0 - (np.arange(w) + 0.5) / w
            X[np.ix_(rows, cols)] = new
        return X


def normalised_hv(F: np.ndarray, ideal: np.ndarray, nadir: np.ndarray, ref: float = 1.1) -> float:
    """Hypervolume of ``F`` (minimised objectives) after scaling ideal → 0, nadir → 1; reference ``ref``."""
    from pymoo.indicators.hv import HV
    span = np.where(nadir - ideal > 0, nadir - ideal, 1.0)
    Z = (np.asarray(F, float) - ideal) / span
    return float(HV(ref_point=np.full(Z.shape[1], ref))(Z))


@dataclass
class FrontComparison:
    """Fronts (f1, f2 columns) and hypervolumes of the exact sweep, NSGA-II and MOPSO."""

    exact: np.ndarray
    weighted: ExactPoint
    weights: tuple[float, float]
    fronts: dict[str, np.ndarray]
    hv: dict[str, float]
    times: dict[str, float]


#: Heuristic front methods of :func:`compare_fronts` (each uses ``pop_size`` evaluations per generation).
FRONT_METHODS = {
    "nsga2": "NSGA-II, pymoo defaults (SBX crossover, polynomial mutation)",
    "nsga2-moves": "NSGA-II with ScheduleMoves as its mutation",
    "mopso-plain": "MOPSO, crowding-tournament leaders, polynomial-mutation turbulence (no problem knowledge)",
    "mopso": "MOPSO, decomposition leaders, ScheduleMoves turbulence + archive mutants (half the evaluations)",
    "mopso-anchored": "'mopso' with the two exact anchor schedules (f1*, f2*) in the initial swarm",
}


def front_algorithm(method: str, problem: RTPKeysProblem, pop_size: int, seed: int = 1):
    """The pymoo algorithm of ``method`` (a key of :data:`FRONT_METHODS`) for ``pop_size`` evaluations/generation.

    MOPSO methods split the budget: a swarm of ``⌈pop_size/2⌉`` particles plus ``⌊pop_size/2⌋``
    archive mutants per generation.  ``mopso-anchored`` puts the keys of the lexicographic optima
    (:meth:`BiObjectiveModel.anchor_points`, the f1*, f2* the eq. 13-15 weights need anyway) in
    place of two Latin-hypercube particles.
    """
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.operators.sampling.lhs import LHS

    from gridgames.solvers.mopso import MOPSO

    if method not in FRONT_METHODS:
        raise ModelError(f"front method must be one of {', '.join(FRONT_METHODS)}, got {method!r}")
    if pop_size < 4:
        raise ModelError(f"[front].pop_size: must be >= 4 (MOPSO splits it into particles and mutants), got {pop_size}")
    if method == "nsga2":
        return NSGA2(pop_size=pop_size)
    if method == "nsga2-moves":
        return NSGA2(pop_size=pop_size, mutation=ScheduleMoves())
    if method == "mopso-plain":
        return MOPSO(pop_size=pop_size, archive_size=100)
    swarm = pop_size - pop_size // 2
    sampling = None
    if method == "mopso-anchored":
        sampling = LHS()(problem, swarm, random_state=np.random.default_rng(seed)).get("X")
        sampling[:2] = [problem.encode(p.power) for p in problem.bo.anchor_points()]
    return MOPSO(pop_size=swarm, archive_size=100, leaders="decomposition", mutation=ScheduleMoves(),
                 archive_mutants=pop_size // 2, sampling=sampling)


def compare_fronts(bo: BiObjectiveModel, *, n_points: int | None = 25, pop_size: int = 60, n_gen: int = 150,
                   seed: int = 1, methods: Sequence[str] = tuple(FRONT_METHODS)) -> FrontComparison:
    """Exact ε-front (``n_points=None``: complete), the weighted-sum point and heuristic fronts, hypervolumes.

    ``methods``: keys of :data:`FRONT_METHODS`.  Hypervolumes are normalised by the exact front's
    ideal and nadir points (:func:`normalised_hv`).
    """
    from pymoo.optimize import minimize

    t0 = time.perf_counter()
    exact = bo.epsilon_front(n_points)
    t_exact = time.perf_counter() - t0
    ws, weights = bo.weighted_sum()
    E = np.array([[p.f1, p.f2] for p in exact])
    ideal = np.array([E[:, 0].min(), -E[:, 1].max()])
    nadir = np.array([E[:, 0].max(), -E[:, 1].min()])
    hv = {"exact": normalised_hv(np.column_stack([E[:, 0], -E[:, 1]]), ideal, nadir)}
    fronts, times = {"exact": E}, {"exact": t_exact}
    problem = RTPKeysProblem(bo)
    for method in methods:
        algo = front_algorithm(method, problem, pop_size, seed)
        t0 = time.perf_counter()
        res = minimize(problem, algo, ("n_gen", n_gen), seed=seed, verbose=False)
        times[method] = time.perf_counter() - t0
        F = np.atleast_2d(res.F)
        fronts[method] = np.column_stack([F[:, 0], -F[:, 1]])
        hv[method] = normalised_hv(F, ideal, nadir)
    return FrontComparison(E, ws, weights, fronts, hv, times)
