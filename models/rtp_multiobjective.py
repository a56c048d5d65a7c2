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
random keys decoded to schedules (:class:`RTPKeysProblem`); fronts are compared by hypervolume
(pymoo ``HV``) in objectives normalised by the exact ideal and nadir points.
"""
from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pymoo.core.problem import Problem

from gridgames.models.rtp_appliances import ApplianceSpec
from gridgames.models.rtp_objectives import Welfare
from gridgames.models.rtp_unit import PlanningUnit
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
        Priority cost per kWh moved (see :mod:`gridgames.models.rtp_unit`).
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
        r1, r2 = b.f1 - a.f1, a.f2 - b.f2   # f1' − f1*, f2* − f2'  (f2* = b.f2 ... see below)
        r2 = b.f2 - a.f2
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


class RTPKeysProblem(Problem):
    """Random-key encoding of the household-day schedule for pymoo (vectorised decode).

    One key per uninterruptible appliance (start = ⌊key · n_starts⌋) and one per window period of
    each interruptible appliance (the ``hours`` largest keys are its on-periods).  Every key
    vector decodes to a feasible schedule, so the problem is unconstrained in [0, 1]^n.
    Objectives ``(f1, −f2)``.
    """

    def __init__(self, bo: BiObjectiveModel) -> None:
        unit, grid = bo.unit, bo.grid
        self.bo, self.n = bo, grid.n
        self.base = np.zeros(grid.n)
        self.parts: list[tuple] = []
        n_var = 0
        movable = {s.name for s in unit.movable}
        for s in unit.specs:
            pref = s.preferred_power(grid)
            if s.name not in movable:
                self.base += pref
            elif s.kind == "uninterruptible":
                dev = s.device(grid)
                run, starts = dev.run_profile(grid), dev.starts(grid)
                table = np.zeros((starts.size, grid.n))
                for i, st in enumerate(starts):
                    table[i, st:st + run.size] = run
                moved = 0.5 * grid.dt * np.abs(table - pref).sum(axis=1) * s.k
                self.parts.append(("u", n_var, table, moved))
                n_var += 1
            elif s.kind == "interruptible":
                window = grid.window(s.start, s.end)
                self.parts.append(("i", n_var, window, int(round(s.hours / grid.dt)), s.power, pref, s.k))
                n_var += window.size
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
        for part in self.parts:
            if part[0] == "u":
                _, j, table, moved = part
                idx = np.minimum((X[:, j] * table.shape[0]).astype(int), table.shape[0] - 1)
                load += table[idx]
                comfort += moved[idx]
            else:
                _, j, window, hours, power, pref, k = part
                keys = X[:, j:j + window.size]
                top = np.argsort(-keys, axis=1, kind="stable")[:, :hours]
                on = np.zeros((pop, self.n))
                on[rows, window[top]] = 1.0
                load += power * on
                comfort += k * 0.5 * self.bo.grid.dt * np.abs(power * on - pref).sum(axis=1)
        return load, comfort

    def _evaluate(self, X, out, *args, **kwargs):
        load, comfort = self.decode(X)
        f1, f2 = self.bo.evaluate(load, comfort)
        out["F"] = np.column_stack([f1, -f2])


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


def compare_fronts(bo: BiObjectiveModel, *, n_points: int | None = 25, pop_size: int = 60, n_gen: int = 150,
                   seed: int = 1, methods: Sequence[str] = ("nsga2", "mopso")) -> FrontComparison:
    """Exact ε-front (``n_points=None``: complete), the weighted-sum point, NSGA-II and MOPSO fronts, hypervolumes."""
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    from gridgames.solvers.mopso import MOPSO

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
        algo = {"nsga2": lambda: NSGA2(pop_size=pop_size),
                "mopso": lambda: MOPSO(pop_size=pop_size, archive_size=100)}.get(method)
        if algo is None:
            raise ModelError(f"front method must be 'nsga2' or 'mopso', got {method!r}")
        t0 = time.perf_counter()
        res = minimize(problem, algo(), ("n_gen", n_gen), seed=seed, verbose=False)
        times[method] = time.perf_counter() - t0
        F = np.atleast_2d(res.F)
        fronts[method] = np.column_stack([F[:, 0], -F[:, 1]])
        hv[method] = normalised_hv(F, ideal, nadir)
    return FrontComparison(E, ws, weights, fronts, hv, times)
