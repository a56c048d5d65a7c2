"""Household devices: each contributes variables, constraints and a net power.

Every device implements one interface:

* ``add_to(block, grid, relax) -> list`` adds its variables and constraints to
  ``block`` (its own sub-block of the household block) and returns its **net
  power** per period (kW, Pyomo expression or number; positive = drawn from
  the household bus, negative = fed into it);
* ``baseline(grid) -> ndarray`` is the device's *original* schedule (what it
  does without demand response), used by the comfort term;
* ``precheck(grid) -> list[str]`` finds infeasibility before any solve
  (each message names the device);
* ``rated_kw`` is its power rating (the reference of the 15 % shift limit);
  ``controllable`` says whether demand response may move it; ``integer`` whether
  it needs binaries (unless relaxed).

Thermostat model (first-order, exact discretisation of ``C dT/dt = (T_out − T)/R ∓ η P``)::

    T[t+1] = a·T[t] + (1 − a)·(T_out[t] − s·η·R·P[t]),   a = exp(−dt / (R·C)),

``s = +1`` for cooling (air conditioner), ``−1`` for heating; ``R`` in °C/kW,
``C`` in kWh/°C, ``η`` the coefficient of performance.
"""
from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pyomo.environ as pyo

from gridgames.models.households.timegrid import TimeGrid

log = logging.getLogger(__name__)


def _binary_domain(relax: bool) -> Any:
    return pyo.UnitInterval if relax else pyo.Binary


def _asap(grid: TimeGrid, periods: np.ndarray, energy: float, p_max: float) -> np.ndarray:
    """Power drawing ``energy`` kWh at ``p_max`` from the first of ``periods`` on."""
    power = np.zeros(grid.n)
    if energy <= 0 or periods.size == 0:
        return power
    per = p_max * grid.dt
    full = min(periods.size, int(math.floor(energy / per + 1e-12)))
    power[periods[:full]] = p_max
    rest = energy - full * per
    if rest > 1e-12 and full < periods.size:
        power[periods[full]] = rest / grid.dt
    return power


@dataclass
class Device(ABC):
    """Base class; see the module docstring for the interface."""

    name: str
    kind: ClassVar[str] = "device"
    controllable: ClassVar[bool] = True

    @property
    def integer(self) -> bool:
        return False

    @property
    def rated_kw(self) -> float:
        return 0.0

    def label(self) -> str:
        return f"{self.kind} '{self.name}'"

    @abstractmethod
    def add_to(self, block: pyo.Block, grid: TimeGrid, relax: bool = False) -> list[Any]:
        """Add variables and constraints to ``block``; return the net power per period (kW)."""

    def baseline(self, grid: TimeGrid) -> np.ndarray:
        return np.zeros(grid.n)

    def precheck(self, grid: TimeGrid) -> list[str]:
        return []

    def penalty(self, block: pyo.Block, grid: TimeGrid) -> Any:
        """Extra objective terms of the device (0 for most)."""
        return 0.0


@dataclass
class FixedLoad(Device):
    """An uncontrollable load profile (kW, one value per ``step`` hours)."""

    profile: np.ndarray = field(default_factory=lambda: np.zeros(24))
    step: float = 1.0
    kind: ClassVar[str] = "fixed"
    controllable: ClassVar[bool] = False

    def add_to(self, block: pyo.Block, grid: TimeGrid, relax: bool = False) -> list[Any]:
        return [float(v) for v in self.baseline(grid)]

    def baseline(self, grid: TimeGrid) -> np.ndarray:
        return grid.profile(self.profile, self.step, self.label())


def default_pv_shape(step: float = 1.0) -> np.ndarray:
    """Clear-day per-unit PV output: a half sine from 6 h to 18 h, peak 1 at noon (documented synthetic)."""
    mid = (np.arange(int(round(24 / step))) + 0.5) * step
    return np.clip(np.sin(np.pi * (mid - 6.0) / 12.0), 0.0, None)


@dataclass
class PV(Device):
    """PV generation ``peak_kw × shape`` (shape per unit, one value per ``step`` hours)."""

    peak_kw: float = 7.0
    shape: np.ndarray | None = None
    step: float = 1.0
    kind: ClassVar[str] = "pv"
    controllable: ClassVar[bool] = False

    def add_to(self, block: pyo.Block, grid: TimeGrid, relax: bool = False) -> list[Any]:
        return [float(v) for v in self.baseline(grid)]

    def baseline(self, grid: TimeGrid) -> np.ndarray:
        shape = default_pv_shape(self.step) if self.shape is None else self.shape
        return -self.peak_kw * grid.profile(shape, self.step, self.label())


@dataclass
class ShiftableAppliance(Device):
    """Runs ``profile`` (kW per ``step`` hours) once, uninterrupted, inside ``[start, end)`` hours.

    One binary per admissible start period; relaxed, the run may be split
    into fractions (an LP bound, not a schedule).
    """

    profile: np.ndarray = field(default_factory=lambda: np.ones(1))
    start: float = 0.0
    end: float = 24.0
    preferred_start: float | None = None
    step: float = 1.0
    kind: ClassVar[str] = "shiftable"

    @property
    def integer(self) -> bool:
        return True

    @property
    def rated_kw(self) -> float:
        return float(np.max(self.profile))

    def run_profile(self, grid: TimeGrid) -> np.ndarray:
        """The run on the grid's step (length = duration / dt)."""
        duration = len(self.profile) * self.step
        sub = TimeGrid(grid.dt, math.ceil(duration / grid.dt - 1e-9) * grid.dt)
        arr = np.asarray(self.profile, float)
        return sub.profile(np.concatenate([arr, np.zeros(int(math.ceil(sub.horizon / self.step)))]),
                           self.step, self.label())

    def starts(self, grid: TimeGrid) -> np.ndarray:
        window = grid.window(self.start, self.end)
        length = self.run_profile(grid).size
        if window.size < length:
            return np.array([], dtype=int)
        return window[: window.size - length + 1]

    def precheck(self, grid: TimeGrid) -> list[str]:
        length = self.run_profile(grid).size
        window = grid.window(self.start, self.end)
        if window.size < length:
            return [f"{self.label()}: runs {length * grid.dt:g} h but its window [{self.start:g} h, "
                    f"{self.end:g} h) holds only {window.size * grid.dt:g} h of the horizon"]
        return []

    def add_to(self, block: pyo.Block, grid: TimeGrid, relax: bool = False) -> list[Any]:
        run = self.run_profile(grid)
        starts = self.starts(grid)
        block.start = pyo.Var(starts.tolist(), within=_binary_domain(relax), initialize=0)
        block.once = pyo.Constraint(expr=sum(block.start[s] for s in starts) == 1)
        power: list[Any] = [0.0] * grid.n
        for s in starts:
            for k, p in enumerate(run):
                if p != 0.0:
                    power[s + k] = power[s + k] + float(p) * block.start[s]
        block.power = pyo.Expression(grid.periods, rule=lambda _, t: power[t])
        return [block.power[t] for t in grid.periods]

    def baseline(self, grid: TimeGrid) -> np.ndarray:
        starts = self.starts(grid)
        power = np.zeros(grid.n)
        if starts.size == 0:
            return power
        first = grid.index_of(self.start if self.preferred_start is None else self.preferred_start)
        first = int(starts[np.argmin(np.abs(starts - first))])
        run = self.run_profile(grid)
        power[first:first + run.size] = run
        return power


@dataclass
class InterruptibleAppliance(Device):
    """Delivers ``energy`` kWh inside ``[start, end)`` hours at power in ``{0} ∪ [p_min, p_max]``.

    ``p_min > 0`` adds an on/off binary per period (semi-continuous power).
    """

    energy: float = 1.0
    start: float = 0.0
    end: float = 24.0
    p_max: float = 1.0
    p_min: float = 0.0
    kind: ClassVar[str] = "interruptible"

    @property
    def integer(self) -> bool:
        return self.p_min > 0

    @property
    def rated_kw(self) -> float:
        return self.p_max

    def precheck(self, grid: TimeGrid) -> list[str]:
        window = grid.window(self.start, self.end)
        most = self.p_max * window.size * grid.dt
        if self.energy > most + 1e-9:
            return [f"{self.label()}: needs {self.energy:g} kWh but can draw at most {self.p_max:g} kW × "
                    f"{window.size * grid.dt:g} h = {most:g} kWh inside [{self.start:g} h, {self.end:g} h)"]
        return []

    def add_to(self, block: pyo.Block, grid: TimeGrid, relax: bool = False) -> list[Any]:
        window = grid.window(self.start, self.end).tolist()
        block.p = pyo.Var(window, bounds=(0.0, self.p_max), initialize=0.0)
        block.energy = pyo.Constraint(expr=grid.dt * sum(block.p[t] for t in window) == self.energy)
        if self.p_min > 0:
            block.on = pyo.Var(window, within=_binary_domain(relax), initialize=0)
            block.upper = pyo.Constraint(window, rule=lambda b, t: b.p[t] <= self.p_max * b.on[t])
            block.lower = pyo.Constraint(window, rule=lambda b, t: b.p[t] >= self.p_min * b.on[t])
        inside = set(window)
        return [block.p[t] if t in inside else 0.0 for t in grid.periods]

    def baseline(self, grid: TimeGrid) -> np.ndarray:
        return _asap(grid, grid.window(self.start, self.end), self.energy, self.p_max)


@dataclass
class Thermostat(Device):
    """Air conditioner (``mode='cool'``) or heater (``'heat'``) keeping a room in a comfort band.

    Room temperature follows the first-order model of the module docstring;
    ``T[1..n]`` must stay in ``[t_min, t_max]``; ``discomfort`` (per °C²·h)
    adds ``discomfort · Σ dt (T − t_pref)²`` to the household objective.
    ``t_out`` is the outdoor temperature (°C, one value per ``step`` hours).
    """

    t_out: np.ndarray = field(default_factory=lambda: np.full(24, 30.0))
    mode: str = "cool"
    p_max: float = 3.0
    r: float = 2.0
    c: float = 2.0
    cop: float = 2.5
    t_init: float = 25.0
    t_min: float = 22.0
    t_max: float = 27.0
    t_pref: float = 25.0
    discomfort: float = 0.0
    step: float = 1.0
    kind: ClassVar[str] = "thermostat"

    @property
    def rated_kw(self) -> float:
        return self.p_max

    @property
    def sign(self) -> float:
        return 1.0 if self.mode == "cool" else -1.0

    def decay(self, grid: TimeGrid) -> float:
        """``a = exp(−dt / (R C))``."""
        return math.exp(-grid.dt / (self.r * self.c))

    def outdoor(self, grid: TimeGrid) -> np.ndarray:
        return grid.profile(self.t_out, self.step, f"{self.label()} t_out")

    def simulate(self, grid: TimeGrid, power: np.ndarray) -> np.ndarray:
        """Room temperatures ``T[0..n]`` under a power schedule (numpy, for checks and baselines)."""
        a, out = self.decay(grid), self.outdoor(grid)
        temps = np.empty(grid.n + 1)
        temps[0] = self.t_init
        drive = (1 - a) * (out - self.sign * self.cop * self.r * np.asarray(power, float))
        for t in range(grid.n):
            temps[t + 1] = a * temps[t] + drive[t]
        return temps

    def precheck(self, grid: TimeGrid) -> list[str]:
        problems = []
        for power, bound, word in ((self.p_max, self.t_max, "above"), (0.0, self.t_min, "below")):
            if self.sign < 0:   # a heater: full power is the warmest path, off the coldest
                power = self.p_max - power
            temps = self.simulate(grid, np.full(grid.n, power))[1:]
            bad = temps > bound + 1e-9 if word == "above" else temps < bound - 1e-9
            if bad.any():
                t = int(np.argmax(bad))
                problems.append(f"{self.label()}: the room is {temps[t]:.2f} °C at {(t + 1) * grid.dt:g} h even "
                                f"with the {self.mode}ing {'at full power' if power == self.p_max else 'off'}, "
                                f"{word} the comfort band [{self.t_min:g}, {self.t_max:g}] °C")
        return problems

    def add_to(self, block: pyo.Block, grid: TimeGrid, relax: bool = False) -> list[Any]:
        a, out = self.decay(grid), self.outdoor(grid)
        k = self.sign * self.cop * self.r
        block.p = pyo.Var(grid.periods, bounds=(0.0, self.p_max), initialize=0.0)
        block.temp = pyo.Var(range(1, grid.n + 1), bounds=(self.t_min, self.t_max), initialize=self.t_pref)

        def dynamics(b: pyo.Block, t: int) -> Any:
            prev = self.t_init if t == 0 else b.temp[t]
            return b.temp[t + 1] == a * prev + (1 - a) * (float(out[t]) - k * b.p[t])

        block.dynamics = pyo.Constraint(grid.periods, rule=dynamics)
        return [block.p[t] for t in grid.periods]

    def penalty(self, block: pyo.Block, grid: TimeGrid) -> Any:
        if self.discomfort <= 0:
            return 0.0
        return self.discomfort * grid.dt * sum((block.temp[t] - self.t_pref) ** 2 for t in block.temp)

    def baseline(self, grid: TimeGrid) -> np.ndarray:
        """Power holding the room at ``t_pref``: ``s (T_out − t_pref) / (η R)``, clipped to ``[0, p_max]``."""
        return np.clip(self.sign * (self.outdoor(grid) - self.t_pref) / (self.cop * self.r), 0.0, self.p_max)


@dataclass
class _Storage(Device):
    capacity: float = 6.0
    p_max: float = 3.0
    eta_ch: float = 0.95
    eta_dis: float = 0.95

    @property
    def rated_kw(self) -> float:
        return self.p_max

    def _add_storage(self, block: pyo.Block, grid: TimeGrid, periods: list[int], e_start: float,
                     e_min: float, e_max: float, discharge: bool) -> None:
        block.ch = pyo.Var(periods, bounds=(0.0, self.p_max), initialize=0.0)
        block.dis = pyo.Var(periods, bounds=(0.0, self.p_max if discharge else 0.0), initialize=0.0)
        ends = [t + 1 for t in periods]
        block.energy = pyo.Var(ends, bounds=(e_min, e_max), initialize=e_start)

        def balance(b: pyo.Block, t: int) -> Any:
            prev = e_start if t == periods[0] else b.energy[t]
            return b.energy[t + 1] == prev + grid.dt * (self.eta_ch * b.ch[t] - b.dis[t] / self.eta_dis)

        block.balance = pyo.Constraint(periods, rule=balance)


@dataclass
class Battery(_Storage):
    """Stationary battery: ``capacity`` kWh, ``p_max`` kW each way, SoC in ``[soc_min, soc_max]``.

    ``cyclic`` requires the final energy to be at least the initial one
    (no free energy from depleting the battery within the horizon).
    """

    soc_min: float = 0.1
    soc_max: float = 1.0
    soc_init: float = 0.5
    cyclic: bool = True
    kind: ClassVar[str] = "battery"

    def add_to(self, block: pyo.Block, grid: TimeGrid, relax: bool = False) -> list[Any]:
        periods = list(grid.periods)
        e0 = self.soc_init * self.capacity
        self._add_storage(block, grid, periods, e0, self.soc_min * self.capacity,
                          self.soc_max * self.capacity, True)
        if self.cyclic:
            block.cyclic = pyo.Constraint(expr=block.energy[grid.n] >= e0)
        return [block.ch[t] - block.dis[t] for t in periods]


@dataclass
class EV(_Storage):
    """Electric vehicle plugged in over ``[arrival, departure)`` hours of the horizon.

    Arrives with ``energy_arrival`` kWh, must hold at least ``energy_departure``
    kWh when it leaves; energy stays in ``[soc_min·capacity, capacity]``;
    ``v2g`` lets it discharge into the house (and hence the grid).
    Overnight sessions need a horizon that contains them (e.g. 12 h → 36 h).
    """

    capacity: float = 17.0
    p_max: float = 3.4
    soc_min: float = 0.4
    arrival: float = 18.0
    departure: float = 24.0
    energy_arrival: float = 8.0
    energy_departure: float = 15.0
    v2g: bool = True
    kind: ClassVar[str] = "ev"

    def precheck(self, grid: TimeGrid) -> list[str]:
        plugged = grid.window(self.arrival, self.departure)
        hours = plugged.size * grid.dt
        if self.energy_departure > self.capacity + 1e-9:
            return [f"{self.label()}: departure energy {self.energy_departure:g} kWh exceeds its capacity "
                    f"{self.capacity:g} kWh"]
        need = self.energy_departure - self.energy_arrival
        most = self.p_max * self.eta_ch * hours
        if need > most + 1e-9:
            return [f"{self.label()}: cannot reach its departure energy: it needs {need:g} kWh more between "
                    f"arrival {self.arrival:g} h and departure {self.departure:g} h, but charging at "
                    f"{self.p_max:g} kW × {hours:g} h plugged in × efficiency {self.eta_ch:g} gives at most "
                    f"{most:g} kWh"]
        return []

    def add_to(self, block: pyo.Block, grid: TimeGrid, relax: bool = False) -> list[Any]:
        plugged = grid.window(self.arrival, self.departure).tolist()
        if not plugged:
            return [0.0] * grid.n
        self._add_storage(block, grid, plugged, self.energy_arrival, self.soc_min * self.capacity,
                          self.capacity, self.v2g)
        block.departure = pyo.Constraint(expr=block.energy[plugged[-1] + 1] >= self.energy_departure)
        inside = set(plugged)
        return [block.ch[t] - block.dis[t] if t in inside else 0.0 for t in grid.periods]

    def baseline(self, grid: TimeGrid) -> np.ndarray:
        """Uncontrolled charging: full power from arrival until the departure energy is stored."""
        need = max(0.0, self.energy_departure - self.energy_arrival) / self.eta_ch
        return _asap(grid, grid.window(self.arrival, self.departure), need, self.p_max)


DEVICE_TYPES: dict[str, type[Device]] = {
    cls.kind: cls for cls in (FixedLoad, PV, ShiftableAppliance, InterruptibleAppliance, Thermostat, Battery, EV)
}
