"""The forecaster interface and its registry.

A :class:`Forecaster` holds parameters only (checked in ``__init__``);
``fit(series)`` validates the series and returns a :class:`FittedForecaster`,
which forecasts with ``predict(horizon)`` and rolls forward with
``update(new_observations)`` (no full refit where the method allows).
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gridgames.forecasting.threads import blas_threads
from gridgames.forecasting.validation import ForecastError, check_positive_int, check_series

logger = logging.getLogger(__name__)


class Forecaster(ABC):
    """A forecasting method with its parameters; ``fit`` returns a fitted model."""

    #: Registry name (``get_forecaster(name)``).
    name: ClassVar[str] = ""

    @property
    @abstractmethod
    def min_history(self) -> int:
        """Fewest observations ``fit`` accepts."""

    def _min_history_reason(self) -> str:
        return ""

    def fit(self, series: pd.Series) -> FittedForecaster:
        """Fit on ``series`` (regular DatetimeIndex, no NaN) and return the fitted model.

        Raises
        ------
        ForecastError
            Bad input (gap, NaN, irregular index, too short a history) named by timestamp.
        """
        y = check_series(series, min_length=self.min_history, name=self.name,
                         why=self._min_history_reason())
        if pd.Timedelta(y.index.freq) != pd.Timedelta(hours=1):
            raise ForecastError(f"{self.name}: the series steps {pd.Timedelta(y.index.freq)}, the forecasters count "
                                "hours (seasons of 24 and 168 steps, day-long windows): average it to hourly values "
                                "first (series.resample('h').mean())")
        with blas_threads():
            return self._fit(y)

    @abstractmethod
    def _fit(self, y: pd.Series) -> FittedForecaster:
        """Fit on a validated series."""

    def params(self) -> dict[str, Any]:
        """The constructor parameters (for reports and refits)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "name"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


class FittedForecaster(ABC):
    """A fitted model: forecasts from the end of its history and rolls forward.

    Attributes
    ----------
    forecaster : Forecaster
        The method and parameters that produced this fit.
    history : pandas.Series
        The observations seen so far (fit series plus updates).
    step : pandas.Timedelta
        Time step of the series.
    """

    #: Observations of history kept after updates (None keeps all).
    keep_history: int | None = None

    def __init__(self, forecaster: Forecaster, history: pd.Series) -> None:
        self.forecaster = forecaster
        self.step = pd.Timedelta(history.index[1] - history.index[0])
        self.history = history

    @property
    def end(self) -> pd.Timestamp:
        """Timestamp of the last observation seen."""
        return self.history.index[-1]

    def future_index(self, horizon: int) -> pd.DatetimeIndex:
        """The ``horizon`` timestamps after :attr:`end`."""
        return pd.date_range(self.end + self.step, periods=horizon, freq=self.step,
                             name=self.history.index.name)

    def predict(self, horizon: int) -> pd.Series:
        """Forecast the next ``horizon`` steps after the last observation.

        Returns
        -------
        pandas.Series
            ``horizon`` values indexed by the future timestamps.
        """
        horizon = check_positive_int(horizon, "horizon")
        with blas_threads():
            values = np.asarray(self._predict(horizon), dtype=float)
        if values.shape != (horizon,) or not np.all(np.isfinite(values)):
            raise ForecastError(f"{self.forecaster.name}: the model produced an invalid forecast "
                                f"(shape {values.shape}, finite: {bool(np.all(np.isfinite(values)))})")
        return pd.Series(values, index=self.future_index(horizon), name="forecast")

    def update(self, new_observations: pd.Series) -> FittedForecaster:
        """Add observations that follow :attr:`end` (no refit of the parameters).

        Raises
        ------
        ForecastError
            If the new values do not start one step after :attr:`end`, or have a
            gap, NaN or a different step.
        """
        name = f"{self.forecaster.name} update"
        if not isinstance(new_observations, pd.Series) or len(new_observations) == 0:
            raise ForecastError(f"{name}: expected a non-empty pandas Series of new observations")
        if len(new_observations) == 1:
            new = check_series(pd.concat([self.history.iloc[-1:], new_observations]),
                               name=name).iloc[1:]
        else:
            new = check_series(new_observations, name=name)
        expected = self.end + self.step
        if new.index[0] != expected:
            raise ForecastError(f"{name}: new observations start at {new.index[0]}, "
                                f"expected {expected} (one step after {self.end})")
        if len(new) > 1 and pd.Timedelta(new.index[1] - new.index[0]) != self.step:
            raise ForecastError(f"{name}: new observations have step {new.index[1] - new.index[0]}, "
                                f"the series has {self.step}")
        with blas_threads():
            self._update(new)
        hist = pd.concat([self.history, new])
        if self.keep_history is not None and len(hist) > self.keep_history:
            hist = hist.iloc[-self.keep_history:]
        self.history = pd.Series(hist.to_numpy(), index=pd.DatetimeIndex(hist.index, freq=self.step),
                                 name=self.history.name)
        return self

    @abstractmethod
    def _predict(self, horizon: int) -> np.ndarray:
        """Forecast values for the next ``horizon`` steps."""

    def _update(self, new: pd.Series) -> None:
        """Roll the model's state forward (history is extended by :meth:`update`)."""


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------
_REGISTRY: dict[str, Callable[..., Forecaster]] = {}


def register_forecaster(name: str, factory: Callable[..., Forecaster]) -> None:
    """Make ``get_forecaster(name, **params)`` build ``factory(**params)``."""
    _REGISTRY[name] = factory


def registered() -> dict[str, Callable[..., Forecaster]]:
    """The registry (name -> factory)."""
    return dict(_REGISTRY)
