"""The smart energy planning unit of the RTP paper: a household's appliance MILP, built once.

For one day's prices ``A_t`` ($/kWh) the unit solves (eq. 5-8, priority reading of
:mod:`gridgames.models.rtp.appliances`)::

    min  Σ_t A_t S_t dt  +  ρ Σ_a k_a · moved_a
    s.t. the household library's device constraints (one uninterrupted run of each
         uninterruptible appliance, on/off hours of interruptible ones, thermostat band)

with ``moved_a = ½ Σ_t |Q_a,t − Q⁰_a,t| dt`` the kWh of appliance a moved away from its
preferred schedule Q⁰ — linear in the start binaries (uninterruptible), in the on binaries
(interruptible, on/off at rated power), and through two inequalities per period (thermostat).
The incentive ``λ1 · bill`` of eq. 9 scales the bill only, so it does not change the plan;
it enters the consumer's keep-or-deviate choice (:mod:`gridgames.models.rtp.study`).

The Pyomo model is built once per household; :meth:`PlanningUnit.solve` writes the day's prices
into the household block's mutable ``price`` Param and re-solves with the same persistent HiGHS
object (only the changed objective coefficients are sent).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from gridgames.models.households.model import household_block, household_schedule
from gridgames.models.rtp.appliances import ApplianceSpec, check_appliances, to_household
from gridgames.models.households.timegrid import TimeGrid
from gridgames.solvers.errors import ModelError
from gridgames.solvers.registry import get_solver

log = logging.getLogger(__name__)


@dataclass
class DayPlan:
    """One solved day: loads (kW per period), per-appliance power and on states, money."""

    load: np.ndarray
    power: dict[str, np.ndarray]
    on: np.ndarray            # (appliances, periods) bool, controllable appliances only
    on_preferred: np.ndarray
    bill: float
    moved_kwh: float
    objective: float
    solve_time: float


def moved_expressions(model: pyo.Block, block: Any, specs: Sequence[ApplianceSpec], grid: TimeGrid
                      ) -> dict[str, Any]:
    """``moved_a`` (kWh) per controllable appliance as linear Pyomo expressions (aux vars on ``model``)."""
    out: dict[str, Any] = {}
    dt = grid.dt
    for s in specs:
        sub = block.component(s.name)
        pref = s.preferred_power(grid)
        if s.kind == "uninterruptible":
            dev = s.device(grid)
            run = dev.run_profile(grid)
            terms = []
            for st in sub.start:
                p = np.zeros(grid.n)
                p[st:st + run.size] = run
                terms.append(0.5 * dt * float(np.abs(p - pref).sum()) * sub.start[st])
            out[s.name] = sum(terms)
        elif s.kind == "interruptible":
            out[s.name] = 0.5 * dt * s.power * sum((1 - sub.on[t]) if pref[t] > 0 else sub.on[t] for t in sub.on)
        elif s.kind == "thermostat" and hasattr(sub, "p"):
            name = f"rtp_dev_{s.name}"
            model.add_component(name, pyo.Var(grid.periods, bounds=(0, None)))
            u = model.component(name)
            model.add_component(name + "_up", pyo.Constraint(
                grid.periods, rule=lambda _, t, u=u, sub=sub, pref=pref: u[t] >= sub.p[t] - pref[t]))
            model.add_component(name + "_dn", pyo.Constraint(
                grid.periods, rule=lambda _, t, u=u, sub=sub, pref=pref: u[t] >= pref[t] - sub.p[t]))
            out[s.name] = 0.5 * dt * sum(u[t] for t in grid.periods)
    return out


class PlanningUnit:
    """A household's schedule model, built once and re-solved for each day's prices.

    Parameters
    ----------
    specs : list of ApplianceSpec
    rho : float
        ρ, $ per kWh moved for an appliance with k = 1 (≥ 0).
    name : str
    fix_thermostat : bool
        Thermostat on its 25 °C power (a purely discrete problem).
    solver : str
        ``highs`` (default, persistent) or any MILP solver of the registry.
    **solver_options
        Passed to :func:`get_solver`.
    """

    def __init__(self, specs: Sequence[ApplianceSpec], *, rho: float = 0.01, name: str = "household",
                 fix_thermostat: bool = False, solver: str = "highs", grid: TimeGrid | None = None,
                 **solver_options: Any) -> None:
        check_appliances(specs, f"household '{name}'")
        if not rho >= 0:
            raise ModelError(f"[unit].rho: must be >= 0, got {rho}")
        self.specs = list(specs)
        self.household = to_household(self.specs, name, fix_thermostat=fix_thermostat, grid=grid)
        self.grid = self.household.grid
        self.model = pyo.ConcreteModel(name=f"planning unit {name}")
        self.block = household_block(self.model, self.household, 0.0, "h")
        self.block.cost.deactivate()
        for t in self.grid.periods:     # no PV/storage here: the load S_t is the purchase (keeps welfare honest)
            self.block.sell[t].fix(0.0)
        self.movable = [s for s in self.specs if s.kind != "fixed"
                        and not (fix_thermostat and s.kind == "thermostat")]
        moved = moved_expressions(self.model, self.block, self.movable, self.grid)
        self.model.moved = pyo.Expression(expr=sum(moved.values()) if moved else 0.0)
        self.model.comfort_cost = pyo.Expression(
            expr=sum(s.k * moved[s.name] for s in self.movable if s.name in moved) if moved else 0.0)
        self.model.rho = pyo.Param(initialize=float(rho), mutable=True)
        self.model.obj = pyo.Objective(expr=self.block.bill + self.model.rho * self.model.comfort_cost)
        self.solver_name = solver
        self.solver = get_solver(solver, **solver_options)
        self.on_preferred = np.array([s.preferred_power(self.grid) > 1e-9 for s in self.movable]).reshape(
            len(self.movable), self.grid.n)

    def set_prices(self, prices: Sequence[float] | np.ndarray) -> None:
        """Write ``A_t`` ($/kWh per period) into the block's mutable Param."""
        arr = np.asarray(prices, float)
        if arr.shape != (self.grid.n,) or not np.all(np.isfinite(arr)):
            raise ModelError(f"planning unit '{self.household.name}': need {self.grid.n} finite prices, "
                             f"got shape {arr.shape}")
        for t, v in enumerate(arr):
            self.block.price[t] = float(v)

    def solve(self, prices: Sequence[float] | np.ndarray) -> DayPlan:
        """Schedule one day at ``prices``; raises :class:`ModelError` when the solver fails."""
        self.set_prices(prices)
        res = self.solver.solve(self.model, check=False)
        if not res.status.is_ok:
            raise ModelError(f"planning unit '{self.household.name}': {self.solver_name} stopped with "
                             f"{res.status} ({res.message})")
        return self.read(res.solve_time)

    def read(self, solve_time: float = 0.0) -> DayPlan:
        """The current variable values as a :class:`DayPlan`."""
        sched = household_schedule(self.block)
        power = sched.device_power
        on = np.array([power[s.name] > 1e-6 for s in self.movable]).reshape(len(self.movable), self.grid.n)
        return DayPlan(load=sched.net, power=power, on=on, on_preferred=self.on_preferred,
                       bill=float(pyo.value(self.block.bill)), moved_kwh=float(pyo.value(self.model.moved)),
                       objective=float(pyo.value(self.model.obj)), solve_time=solve_time)

    def preferred(self, prices: Sequence[float] | np.ndarray) -> DayPlan:
        """The consumer's own schedule (no planning unit; what the step tariff leaves), at ``prices``."""
        power = {s.name: s.preferred_power(self.grid) for s in self.specs}
        load = np.sum(list(power.values()), axis=0)
        return DayPlan(load=load, power=power, on=self.on_preferred.copy(), on_preferred=self.on_preferred,
                       bill=float(self.grid.dt * load @ np.asarray(prices, float)), moved_kwh=0.0,
                       objective=float(self.grid.dt * load @ np.asarray(prices, float)), solve_time=0.0)
