"""Similar-day random forest (the RTP paper, Frontiers in Energy Research 2021, 9:714951).

The week is split into similar-day groups (``groups="weekday"``: seven
groups, the paper's choice; ``"workday"``: Monday-Friday and weekend;
``"none"``). In each group the Pauta (3σ) criterion drops training hours
whose deviation from the group's mean at that hour exceeds ``sigma``
standard deviations of the group's deviations. One scikit-learn random forest of CART regression
trees (bootstrap samples, squared-error splits) per group maps, for target
hour t, the inputs

* hour of day,
* load at t-24 (the previous day) and t-168 (the same hour a week before),
* mean load of the 24 hours ending at t-24,

to the load at t. Every input is at least 24 steps old, so a whole day is
predicted at once; longer horizons chain days, feeding predictions back.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor

from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster
from gridgames.forecasting.features import day_of_week, hour_of_day
from gridgames.forecasting.validation import ForecastError, check_positive_float, check_positive_int

logger = logging.getLogger(__name__)

_GROUPS = {"weekday": lambda d: d, "workday": lambda d: (d >= 5).astype(int), "none": lambda d: d * 0}


class RandomForestForecaster(Forecaster):
    """Similar-day random forest load forecaster.

    Parameters
    ----------
    groups : {"weekday", "workday", "none"}
        Similar-day grouping.
    sigma : float
        Pauta criterion threshold (3 = the 3σ rule).
    n_estimators, min_samples_leaf : int
        Forest size and leaf size.
    max_features : float or str or None
        Features tried per split (scikit-learn meaning).
    day : int
        Observations per day (24 for hourly data).
    calendar_tz : str, optional
        Time zone of the hour/weekday (default: the index's own).
    seed : int
        Random state of the bootstrap and feature sampling.
    n_jobs : int
        Parallel tree building (1 on this shared machine).
    """

    name = "random-forest"

    def __init__(self, *, groups: str = "weekday", sigma: float = 3.0, n_estimators: int = 200,
                 min_samples_leaf: int = 2, max_features: float | str | None = 1.0, day: int = 24,
                 calendar_tz: str | None = None, seed: int = 0, n_jobs: int = 1) -> None:
        if groups not in _GROUPS:
            raise ForecastError(f"parameter 'groups' must be one of {', '.join(_GROUPS)}, got {groups!r}")
        self.groups = groups
        self.sigma = check_positive_float(sigma, "sigma")
        self.n_estimators = check_positive_int(n_estimators, "n_estimators")
        self.min_samples_leaf = check_positive_int(min_samples_leaf, "min_samples_leaf")
        self.max_features = max_features
        self.day = check_positive_int(day, "day")
        self.calendar_tz = calendar_tz
        self.seed = int(seed)
        self.n_jobs = check_positive_int(n_jobs, "n_jobs")

    @property
    def min_history(self) -> int:
        return 7 * self.day + 14 * self.day

    def _min_history_reason(self) -> str:
        return "a week of lags plus two weeks of training days"

    def group_of(self, index: pd.DatetimeIndex) -> np.ndarray:
        """Similar-day group of each timestamp."""
        return _GROUPS[self.groups](day_of_week(index, self.calendar_tz))

    def features(self, values: np.ndarray, positions: np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
        """Inputs for targets at ``positions`` of ``values`` (timestamps ``index``)."""
        d = self.day
        csum = np.concatenate([[0.0], np.cumsum(values)])
        prev_mean = (csum[positions - d + 1] - csum[positions - 2 * d + 1]) / d
        return np.column_stack([hour_of_day(index, self.calendar_tz), values[positions - d],
                                values[positions - 7 * d], prev_mean])

    def _fit(self, y: pd.Series) -> FittedRandomForest:
        v = y.to_numpy()
        pos = np.arange(7 * self.day, len(v))
        idx = y.index[pos]
        grp = self.group_of(idx)
        hours = hour_of_day(idx, self.calendar_tz)
        x = self.features(v, pos, idx)
        target = v[pos]
        # Pauta criterion: residual from the group's mean at that hour, against the
        # standard deviation of all residuals of the group (pooled over hours)
        frame = pd.DataFrame({"g": grp, "h": hours, "y": target})
        frame["r"] = frame["y"] - frame.groupby(["g", "h"])["y"].transform("mean")
        sd = frame.groupby("g")["r"].transform("std").fillna(0).to_numpy()
        keep = ~((sd > 0) & (np.abs(frame["r"].to_numpy()) > self.sigma * sd))
        logger.info("random-forest: 3σ rule drops %d of %d training hours", int((~keep).sum()), len(keep))
        models = {}
        for g in np.unique(grp):
            m = keep & (grp == g)
            if m.sum() < 2:
                continue
            rf = RandomForestRegressor(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                                       max_features=self.max_features, random_state=self.seed,
                                       n_jobs=self.n_jobs)
            models[int(g)] = rf.fit(x[m], target[m])
        fallback = RandomForestRegressor(n_estimators=self.n_estimators, min_samples_leaf=self.min_samples_leaf,
                                         max_features=self.max_features, random_state=self.seed,
                                         n_jobs=self.n_jobs).fit(x[keep], target[keep])
        return FittedRandomForest(self, y, models, fallback, int((~keep).sum()))


class FittedRandomForest(FittedForecaster):
    """Fitted similar-day forests; ``update`` only extends the lag history."""

    def __init__(self, forecaster: RandomForestForecaster, history: pd.Series, models: dict,
                 fallback: RandomForestRegressor, n_outliers: int) -> None:
        super().__init__(forecaster, history)
        self.models, self.fallback, self.n_outliers = models, fallback, n_outliers
        self.keep_history = 8 * forecaster.day

    def _predict(self, horizon: int) -> np.ndarray:
        fc: RandomForestForecaster = self.forecaster
        v = list(self.history.to_numpy())
        n0 = len(v)
        future = self.future_index(horizon)
        out = np.empty(horizon)
        for start in range(0, horizon, fc.day):
            stop = min(start + fc.day, horizon)
            arr = np.asarray(v + [0.0] * (stop - start))
            pos = np.arange(n0 + start, n0 + stop)
            idx = future[start:stop]
            x = fc.features(arr, pos, idx)
            grp = fc.group_of(idx)
            pred = np.empty(stop - start)
            for g in np.unique(grp):
                m = grp == g
                pred[m] = self.models.get(int(g), self.fallback).predict(x[m])
            out[start:stop] = pred
            v += pred.tolist()
        return out


register_forecaster("random-forest", RandomForestForecaster)
