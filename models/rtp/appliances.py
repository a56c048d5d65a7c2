"""Appliances of the RTP paper and Monte Carlo households (Wang et al. 2021, eq. 5-7).

Each appliance is an :class:`ApplianceSpec`; :func:`to_household` turns a list of them into a
:class:`gridgames.models.households.model.Household` of the household library (composition, no new
device classes):

=================== =====================================================================
``kind``            household-library device
=================== =====================================================================
``fixed``           :class:`FixedLoad` on its preferred hours (lighting, induction cooker)
``uninterruptible`` :class:`ShiftableAppliance` (one uninterrupted run; eq. 5 with k = 1)
``interruptible``   :class:`InterruptibleAppliance` with ``p_min = p_max``: on/off at rated
                    power, ``hours`` on-periods anywhere in its window (λ_t of eq. 5A binary)
``thermostat``      :class:`Thermostat` (eq. 7, cooling δ = 1; band 22-27 °C, 25 °C preferred)
=================== =====================================================================

The priority coefficient ``k ∈ (0, 1]`` of eq. 5A (garbled ``S_it = Σ_a k λ_t Q_at``) is read as
the appliance's *reluctance to be moved*: "the larger the value, the later the adjustment
sequence; k = 1: cannot be interrupted".  The planning unit charges ``ρ · k_a`` per kWh moved
away from the preferred schedule (:mod:`gridgames.models.rtp.model`), so low-k appliances are
shifted first; ``k = 1`` is required for ``uninterruptible`` appliances (the paper's EV example).

Monte Carlo households (:func:`sample_households`): each library appliance is owned with its
``probability`` (fixed seed); households with fewer than two appliances are redrawn (the paper's
"2 to 13 appliances"); preferred start hours are jittered by up to ``jitter`` hours.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from gridgames.models.households.model import Household
from gridgames.models.households.devices import (Device, FixedLoad, InterruptibleAppliance, ShiftableAppliance,
                                                Thermostat)
from gridgames.models.households.timegrid import TimeGrid
from gridgames.models.instance import InstanceError

KINDS = ("fixed", "uninterruptible", "interruptible", "thermostat")


def summer_outdoor(low: float = 24.0, high: float = 33.0) -> np.ndarray:
    """Documented synthetic summer day: a cosine from ``low`` at 4 h to ``high`` at 16 h (°C, hourly)."""
    h = np.arange(24) + 0.5
    return low + (high - low) * 0.5 * (1 - np.cos(2 * np.pi * (h - 4.0) / 24.0))


@dataclass(frozen=True)
class ApplianceSpec:
    """One appliance.

    Parameters
    ----------
    name : str
    kind : {'fixed', 'uninterruptible', 'interruptible', 'thermostat'}
    power : float
        Rated power, kW.
    hours : int
        On-periods per day (run length for fixed/uninterruptible, on-hours for interruptible).
    start, end : float
        Window (h) the appliance may run in.
    preferred : float
        Preferred start hour (its schedule without the planning unit).
    k : float
        Priority coefficient in (0, 1]; 1 for uninterruptible.
    probability : float
        Ownership probability in the Monte Carlo generation.
    """

    name: str
    kind: str
    power: float
    hours: int = 1
    start: float = 0.0
    end: float = 24.0
    preferred: float = 0.0
    k: float = 1.0
    probability: float = 1.0

    def problems(self) -> list[str]:
        """Validation messages naming the appliance's field."""
        where = f"appliance '{self.name}'"
        out = []
        if self.kind not in KINDS:
            out.append(f"{where}.kind: must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not (self.power > 0):
            out.append(f"{where}.power: must be > 0 kW, got {self.power}")
        if not (0 < self.k <= 1):
            out.append(f"{where}.k: the priority coefficient must be in (0, 1], got {self.k}")
        if self.kind == "uninterruptible" and self.k != 1:
            out.append(f"{where}.k: an uninterruptible appliance has k = 1 (paper, eq. 5), got {self.k}")
        if not (0 <= self.probability <= 1):
            out.append(f"{where}.probability: must be in [0, 1], got {self.probability}")
        if not (0 <= self.start < self.end <= 24):
            out.append(f"{where}: window [{self.start}, {self.end}) must lie inside [0, 24)")
        if self.kind != "thermostat":
            if int(self.hours) != self.hours or self.hours < 1:
                out.append(f"{where}.hours: must be a positive integer, got {self.hours}")
            elif not (self.start <= self.preferred and self.preferred + self.hours <= self.end):
                out.append(f"{where}.preferred: a run of {self.hours} h from {self.preferred} h leaves the "
                           f"window [{self.start}, {self.end})")
        return out

    def preferred_power(self, grid: TimeGrid) -> np.ndarray:
        """kW per period of the preferred schedule (thermostat: power holding 25 °C)."""
        if self.kind == "thermostat":
            return self.device().baseline(grid)
        p = np.zeros(grid.n)
        first = grid.index_of(self.preferred)
        p[first:first + int(round(self.hours / grid.dt))] = self.power
        return p

    def device(self, grid: TimeGrid | None = None) -> Device:
        """The household-library device (see the module table)."""
        if self.kind == "fixed":
            return FixedLoad(self.name, self.preferred_power(grid or TimeGrid()), step=(grid or TimeGrid()).dt)
        if self.kind == "uninterruptible":
            return ShiftableAppliance(self.name, profile=np.full(int(self.hours), self.power), start=self.start,
                                      end=self.end, preferred_start=self.preferred)
        if self.kind == "interruptible":
            return InterruptibleAppliance(self.name, energy=self.power * self.hours, start=self.start,
                                          end=self.end, p_max=self.power, p_min=self.power)
        return Thermostat(self.name, t_out=summer_outdoor(), mode="cool", p_max=self.power, r=2.0, c=2.0,
                          cop=2.5, t_init=25.0, t_min=22.0, t_max=27.0, t_pref=25.0)


def library() -> list[ApplianceSpec]:
    """The 13 appliances of the single-household case (paper: lighting 0.05 kW and induction cooker
    1 kW fixed; humidifier 0.05 kW, oven 1 kW, water dispenser 0.6 kW flexible; the others and all
    windows, k and probabilities are ours, documented in ``docs/rtp.md``)."""
    A = ApplianceSpec
    return [
        A("lighting", "fixed", 0.05, 5, 18, 23, 18, 1.0, 1.0),
        A("cooker", "fixed", 1.0, 1, 18, 19, 18, 1.0, 0.9),
        A("fridge", "fixed", 0.1, 24, 0, 24, 0, 1.0, 0.95),
        A("tv", "fixed", 0.15, 4, 19, 23, 19, 1.0, 0.8),
        A("humidifier", "interruptible", 0.05, 8, 0, 24, 16, 0.2, 0.4),
        A("dispenser", "interruptible", 0.6, 3, 6, 22, 7, 0.5, 0.6),
        A("water_heater", "interruptible", 2.0, 3, 0, 24, 17, 0.3, 0.5),
        A("oven", "uninterruptible", 1.0, 1, 10, 21, 17, 1.0, 0.5),
        A("washer", "uninterruptible", 0.5, 2, 8, 24, 19, 1.0, 0.7),
        A("dishwasher", "uninterruptible", 1.2, 2, 13, 24, 20, 1.0, 0.5),
        A("dryer", "uninterruptible", 2.0, 1, 10, 24, 21, 1.0, 0.3),
        A("ev", "uninterruptible", 3.3, 3, 15, 24, 18, 1.0, 0.2),
        A("aircon", "thermostat", 2.5, 24, 0, 24, 0, 0.7, 0.6),
    ]


def check_appliances(specs: Sequence[ApplianceSpec], source: str = "appliances") -> None:
    """Raise :class:`InstanceError` listing every bad field (and duplicate names)."""
    problems = [p for s in specs for p in s.problems()]
    names = [s.name for s in specs]
    problems += [f"appliance name '{n}' is used twice" for n in sorted(set(names)) if names.count(n) > 1]
    if problems:
        raise InstanceError(problems, source)


def to_household(specs: Sequence[ApplianceSpec], name: str = "household", *, fix_thermostat: bool = False,
                 grid: TimeGrid | None = None) -> Household:
    """A library :class:`Household` (no shift limit, no comfort term: the unit adds its own).

    ``fix_thermostat`` replaces a thermostat by a fixed load on its preferred (25 °C) power, for
    the purely discrete multi-objective problem.
    """
    grid = grid or TimeGrid()
    devices: list[Device] = []
    for s in specs:
        if fix_thermostat and s.kind == "thermostat":
            devices.append(FixedLoad(s.name, s.preferred_power(grid), step=grid.dt))
        else:
            devices.append(s.device(grid))
    return Household(name, devices=devices, grid=grid, shift_limit=None, comfort=0.0)


def sample_households(n: int, seed: int = 0, specs: Sequence[ApplianceSpec] | None = None,
                      jitter: int = 2, min_appliances: int = 2) -> list[list[ApplianceSpec]]:
    """Monte Carlo households: ownership by probability, preferred starts jittered inside the window.

    Parameters
    ----------
    n : int
        Number of households.
    seed : int
        numpy Generator seed (same seed, same households).
    specs : list, optional
        Appliance library (default :func:`library`).
    jitter : int
        Preferred starts move by an integer in ``[-jitter, jitter]`` hours, kept inside the window.
    min_appliances : int
        Households with fewer appliances are redrawn.
    """
    specs = list(specs or library())
    if n < 1:
        raise InstanceError([f"[district].households: must be >= 1, got {n}"], "Monte Carlo households")
    rng = np.random.default_rng(seed)
    prob = np.array([s.probability for s in specs])
    out: list[list[ApplianceSpec]] = []
    while len(out) < n:
        owned = rng.random(len(specs)) < prob
        shifts = rng.integers(-jitter, jitter + 1, len(specs))
        if owned.sum() < min_appliances:
            continue
        house = []
        for s, own, d in zip(specs, owned, shifts):
            if not own:
                continue
            if s.kind in ("thermostat",) or s.hours * 1.0 >= s.end - s.start:
                house.append(s)
                continue
            pref = float(np.clip(s.preferred + d, s.start, s.end - s.hours))
            house.append(replace(s, preferred=pref))
        out.append(house)
    return out
