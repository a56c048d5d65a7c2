"""Gradient-boosted trees (LightGBM) on lags, rolling statistics and a local calendar.

A direct multi-horizon forecaster: one LightGBM model with the lead ``h`` as a
feature maps what is known at the issue time ``o`` (the last observation) to
the value at ``t = o + h``, ``h = 1 .. max_horizon``. The features of a pair
``(o, h)`` use observations at positions ``<= o`` only:

* the lead ``h``;
* the *base*: the value at the same hour on the latest observed day,
  ``y[t - 24k]`` with ``k = ceil(h / 24)``, and the value a week before ``t``
  (``y[t - 168 m]``, ``m = ceil(h / 168)``);
* the last observation ``y[o]``, its change over one hour and over one day;
* the mean of the last 24 and 168 hours, the standard deviation of the last
  24, the change of the daily mean from the day before, the change of the
  base from the day before it;
* the calendar of ``t`` in ``calendar_tz`` (hour, weekday, day of year,
  US holiday of the day and of the base day, DST day) and the local hour of ``o``.

The default target is the difference ``y[t] - base`` (``target="level"``
learns ``y[t]`` itself). Training pairs are taken at every ``origin_stride``-th
observation counted back from the end of the history, so the issue hour of
the latest origin is always among them; every training target lies inside
the history. ``update`` only extends the lag history (no refit).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster
from gridgames.forecasting.calendar import CALENDAR_COLUMNS, calendar_features
from gridgames.forecasting.validation import ForecastError, check_positive_float, check_positive_int

logger = logging.getLogger(__name__)

#: Feature names, in the column order of :meth:`BoostedForecaster.features`.
FEATURES = ("lead", "base", "week_before", "last", "last_change_1h", "last_change_24h", "mean_24h",
            "mean_168h", "std_24h", "mean_24h_change", "base_change_24h", *CALENDAR_COLUMNS,
            "origin_hour")

_TARGETS = ("difference", "level")


class BoostedForecaster(Forecaster):
    """Direct multi-horizon LightGBM forecaster (history and calendar only).

    Parameters
    ----------
    max_horizon : int
        Longest lead trained (and the longest ``predict`` allowed).
    target : {"difference", "level"}
        Learn ``y[t]`` minus the same hour of the latest observed day, or ``y[t]``.
    origin_stride : int
        A training origin every ``origin_stride`` observations (1 = every hour).
    history_days : int, optional
        Train on at most this many days at the end of the series (None: all).
    n_estimators, num_leaves, min_child_samples : int
        LightGBM trees, leaves per tree and samples per leaf.
    learning_rate, subsample, colsample : float
        Shrinkage, row and column subsampling.
    objective : str
        LightGBM objective (``"l2"``, ``"l1"``, ``"huber"``).
    day : int
        Observations per day (24 for hourly data).
    calendar_tz : str, optional
        Time zone of the calendar (default: the index's own; BPAT: America/Los_Angeles).
    seed, n_jobs : int
        Random state and LightGBM threads (1 on this shared machine).

    Examples
    --------
    >>> f = get_forecaster("boosted", calendar_tz="America/Los_Angeles")   # doctest: +SKIP
    >>> f.fit(load_bpat_eia930(2019)["cleaned"][:"2019-10-31"]).predict(24)   # doctest: +SKIP
    """

    name = "boosted"

    def __init__(self, *, max_horizon: int = 24, target: str = "difference", origin_stride: int = 24,
                 history_days: int | None = None, n_estimators: int = 400, num_leaves: int = 31,
                 min_child_samples: int = 40, learning_rate: float = 0.05, subsample: float = 0.8,
                 colsample: float = 0.8, objective: str = "l1", day: int = 24,
                 calendar_tz: str | None = None, seed: int = 0, n_jobs: int = 1) -> None:
        if target not in _TARGETS:
            raise ForecastError(f"parameter 'target' must be one of {', '.join(_TARGETS)}, got {target!r}")
        self.max_horizon = check_positive_int(max_horizon, "max_horizon")
        self.target = target
        self.origin_stride = check_positive_int(origin_stride, "origin_stride")
        self.history_days = None if history_days is None else check_positive_int(history_days, "history_days")
        self.n_estimators = check_positive_int(n_estimators, "n_estimators")
        self.num_leaves = check_positive_int(num_leaves, "num_leaves", minimum=2)
        self.min_child_samples = check_positive_int(min_child_samples, "min_child_samples")
        self.learning_rate = check_positive_float(learning_rate, "learning_rate")
        for key, val in (("subsample", subsample), ("colsample", colsample)):
            if check_positive_float(val, key) > 1:
                raise ForecastError(f"parameter {key!r} must be in (0, 1], got {val!r}")
        self.subsample, self.colsample = float(subsample), float(colsample)
        self.objective = str(objective)
        self.day = check_positive_int(day, "day")
        self.calendar_tz = calendar_tz
        self.seed = int(seed)
        self.n_jobs = check_positive_int(n_jobs, "n_jobs")

    @property
    def lookback(self) -> int:
        """Observations before an origin that its features read (a week, plus the lead's days)."""
        week = 7 * self.day
        return week * int(np.ceil(self.max_horizon / week))

    @property
    def min_history(self) -> int:
        return self.lookback + self.max_horizon + 14 * self.day

    def _min_history_reason(self) -> str:
        return "a week of lags, the longest lead and two weeks of training origins"

    def features(self, values: np.ndarray, origins: np.ndarray, leads: np.ndarray,
                 calendar: np.ndarray, origin_hour: np.ndarray) -> np.ndarray:
        """Feature rows (:data:`FEATURES`) of the pairs ``(origins[i], leads[i])``.

        Parameters
        ----------
        values : array
            Observations; only positions ``<= origins[i]`` are read for row ``i``.
        origins, leads : int arrays
            Position of the last observation at the issue time, and steps ahead (>= 1).
        calendar : array
            :func:`~gridgames.forecasting.calendar.calendar_features` of each target time.
        origin_hour : array
            Local hour of each origin.
        """
        d, o, h = self.day, origins, leads
        t = o + h
        base_pos = t - d * np.ceil(h / d).astype(int)
        week = 7 * d
        week_pos = t - week * np.ceil(h / week).astype(int)
        csum = np.concatenate([[0.0], np.cumsum(values)])
        csq = np.concatenate([[0.0], np.cumsum(values ** 2)])
        mean24 = (csum[o + 1] - csum[o + 1 - d]) / d
        mean24_before = (csum[o + 1 - d] - csum[o + 1 - 2 * d]) / d
        mean168 = (csum[o + 1] - csum[o + 1 - week]) / week
        var24 = np.maximum((csq[o + 1] - csq[o + 1 - d]) / d - mean24 ** 2, 0.0)
        base = values[base_pos]
        last = values[o]
        return np.column_stack([h, base, values[week_pos], last, last - values[o - 1], last - values[o - d],
                                mean24, mean168, np.sqrt(var24), mean24 - mean24_before,
                                base - values[base_pos - d], calendar, origin_hour])

    def _fit(self, y: pd.Series) -> FittedBoosted:
        import lightgbm  # lazy: keeps `import gridgames` light

        if self.history_days is not None:
            y = y.iloc[-max(self.history_days * self.day, self.min_history):]
        v = y.to_numpy()
        n = len(v)
        cal = calendar_features(y.index, self.calendar_tz)
        first = self.lookback + 2 * self.day
        origins = np.arange(n - 1 - self.origin_stride, first - 1, -self.origin_stride)[::-1]
        o = np.repeat(origins, self.max_horizon)
        h = np.tile(np.arange(1, self.max_horizon + 1), len(origins))
        keep = o + h <= n - 1
        o, h = o[keep], h[keep]
        x = self.features(v, o, h, cal[o + h], cal[o, 0])
        target = v[o + h] - (x[:, 1] if self.target == "difference" else 0.0)
        model = lightgbm.LGBMRegressor(
            objective=self.objective, n_estimators=self.n_estimators, learning_rate=self.learning_rate,
            num_leaves=self.num_leaves, min_child_samples=self.min_child_samples, subsample=self.subsample,
            subsample_freq=1, colsample_bytree=self.colsample, random_state=self.seed, n_jobs=self.n_jobs,
            verbose=-1)
        model.fit(x, target)
        logger.info("boosted: %d trees on %d (origin, lead) pairs from %d observations",
                    self.n_estimators, len(target), n)
        return FittedBoosted(self, y, model, len(target))


class FittedBoosted(FittedForecaster):
    """A fitted boosted model; ``update`` extends the lag history only.

    Attributes
    ----------
    model : lightgbm.LGBMRegressor
    n_training_pairs : int
        (origin, lead) pairs the model was trained on.
    """

    def __init__(self, forecaster: BoostedForecaster, history: pd.Series, model, n_training_pairs: int) -> None:
        super().__init__(forecaster, history)
        self.model, self.n_training_pairs = model, n_training_pairs
        self.keep_history = forecaster.lookback + 2 * forecaster.day

    def _predict(self, horizon: int) -> np.ndarray:
        fc: BoostedForecaster = self.forecaster
        if horizon > fc.max_horizon:
            raise ForecastError(f"boosted: horizon {horizon} exceeds max_horizon {fc.max_horizon} "
                                "(the longest lead trained; raise max_horizon)")
        v = self.history.to_numpy()
        leads = np.arange(1, horizon + 1)
        origins = np.full(horizon, len(v) - 1)
        cal = calendar_features(self.future_index(horizon), fc.calendar_tz)
        origin_hour = calendar_features(self.history.index[-1:], fc.calendar_tz)[:, 0]
        x = fc.features(v, origins, leads, cal, np.repeat(origin_hour, horizon))
        pred = self.model.predict(x)
        return pred + (x[:, 1] if fc.target == "difference" else 0.0)


register_forecaster("boosted", BoostedForecaster)
