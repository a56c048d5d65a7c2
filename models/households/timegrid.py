"""The time grid of a household model: step, horizon, profiles and windows.

A household is scheduled over ``n = horizon / dt`` periods; period ``t``
covers the hours ``[t·dt, (t+1)·dt)`` counted from the start of the horizon.
Powers are in kW and are held constant within a period, so the energy of a
period is ``power × dt`` (kWh).  Profiles given on another step (hourly PV,
hourly outdoor temperature) are step-held onto the grid by :meth:`TimeGrid.profile`;
a profile covering whole days is repeated over a multi-day horizon.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeGrid:
    """Step and horizon of a schedule.

    Parameters
    ----------
    dt : float
        Period length in hours (1.0 hourly, 0.25 for 15 minutes).
    horizon : float
        Horizon length in hours (24 by default; a multiple of ``dt``).
    """

    dt: float = 1.0
    horizon: float = 24.0

    def __post_init__(self) -> None:
        if not (self.dt > 0 and self.horizon > 0):
            raise ModelError(f"time grid: dt and horizon must be > 0, got dt={self.dt}, horizon={self.horizon}")
        n = self.horizon / self.dt
        if abs(n - round(n)) > 1e-9:
            raise ModelError(f"time grid: horizon {self.horizon} h is not a multiple of dt {self.dt} h")

    @property
    def n(self) -> int:
        """Number of periods."""
        return int(round(self.horizon / self.dt))

    @property
    def periods(self) -> range:
        return range(self.n)

    @property
    def hours(self) -> np.ndarray:
        """Start hour of every period, shape (n,)."""
        return np.arange(self.n) * self.dt

    def index_of(self, hour: float) -> int:
        """First period starting at or after ``hour`` (``n`` when past the horizon)."""
        return int(min(self.n, max(0, math.ceil(hour / self.dt - 1e-9))))

    def window(self, start: float, end: float) -> np.ndarray:
        """Periods lying entirely inside the hours ``[start, end)``, as indices."""
        first = self.index_of(start)
        last = int(min(self.n, max(0, math.floor(end / self.dt + 1e-9))))
        return np.arange(first, max(first, last))

    def profile(self, values: Sequence[float] | np.ndarray, step: float = 1.0,
                what: str = "profile") -> np.ndarray:
        """Step-hold ``values`` (one per ``step`` hours) onto the grid.

        Parameters
        ----------
        values : array-like
            One value per ``step`` hours from the start of the horizon.
        step : float
            Hours covered by each value.
        what : str
            Named in the error message.

        Returns
        -------
        numpy.ndarray
            Shape (n,).  A profile shorter than the horizon that covers a whole
            number of days is repeated day after day.

        Raises
        ------
        ModelError
            The profile neither covers the horizon nor whole days, or the grid
            step does not divide the profile step (or vice versa).
        """
        arr = np.asarray(values, dtype=float).ravel()
        covered = arr.size * step
        if covered + 1e-9 < self.horizon:
            days = covered / 24.0
            if arr.size == 0 or abs(days - round(days)) > 1e-9 or round(days) == 0:
                raise ModelError(f"{what}: {arr.size} values of {step:g} h cover {covered:g} h, less than the "
                                 f"{self.horizon:g} h horizon and not a whole number of days")
            reps = int(math.ceil(self.horizon / covered))
            arr = np.tile(arr, reps)
        # value covering the start hour of each period; a coarser grid averages the finer values
        if self.dt <= step + 1e-12:
            idx = np.floor(self.hours / step + 1e-9).astype(int)
            return arr[idx]
        ratio = self.dt / step
        if abs(ratio - round(ratio)) > 1e-9:
            raise ModelError(f"{what}: grid step {self.dt:g} h is not a multiple of the profile step {step:g} h")
        k = int(round(ratio))
        return arr[: self.n * k].reshape(self.n, k).mean(axis=1)
