"""Seasonal naive baselines: tomorrow repeats the last day (or week)."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster
from gridgames.forecasting.validation import check_positive_int

logger = logging.getLogger(__name__)


class SeasonalNaive(Forecaster):
    """``ŷ(t) = y(t - season)``, repeated for horizons longer than one season.

    Parameters
    ----------
    season : int
        Season length in observations (24 = one day of hourly data, 168 = one week).
    """

    name = "naive"

    def __init__(self, season: int = 24) -> None:
        self.season = check_positive_int(season, "season")
        self.name = f"naive-{self.season}"

    @property
    def min_history(self) -> int:
        return self.season

    def _min_history_reason(self) -> str:
        return f"one season of {self.season} observations"

    def _fit(self, y: pd.Series) -> FittedForecaster:
        return _FittedNaive(self, y)


class _FittedNaive(FittedForecaster):
    def __init__(self, forecaster: SeasonalNaive, history: pd.Series) -> None:
        super().__init__(forecaster, history)
        self.keep_history = forecaster.season

    def _predict(self, horizon: int) -> np.ndarray:
        last = self.history.to_numpy()[-self.forecaster.season:]
        return np.resize(last, horizon)


register_forecaster("naive-24", lambda **kw: SeasonalNaive(season=kw.pop("season", 24), **kw))
register_forecaster("naive-168", lambda **kw: SeasonalNaive(season=kw.pop("season", 168), **kw))
