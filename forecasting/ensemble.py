"""Ensembles of registered forecasters, combined by name.

``get_forecaster("ensemble", members=["boosted", "sarima"], weights="fit")``
forecasts ``Σ_i w_i ŷ_i``. ``weights="equal"`` averages; ``weights="fit"``
chooses non-negative weights summing to one that minimise the squared error
of the members' day-ahead forecasts on a validation window (the last
``validation_days`` of the history): the members are fitted on the history
before it, rolled through it day by day with ``update`` (each block issued
with only the data known then) and so arrive fitted at the end of the history
without a second fit. Explicit weights (a sequence) are taken as given.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster, registered
from gridgames.forecasting.validation import ForecastError, check_positive_int

logger = logging.getLogger(__name__)


def simplex_least_squares(forecasts: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Weights ``w >= 0, Σ w = 1`` minimising ``||forecasts @ w - actual||²`` (SLSQP).

    Examples
    --------
    >>> f = np.array([[1.0, 3.0], [2.0, 4.0]]); simplex_least_squares(f, f @ [0.25, 0.75]).round(6)
    array([0.25, 0.75])
    """
    f = np.asarray(forecasts, dtype=float)
    a = np.asarray(actual, dtype=float)
    m = f.shape[1]
    scale = max(float(np.mean(a ** 2)), 1e-12)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        r = f @ w - a
        return float(r @ r) / (len(a) * scale), 2 * f.T @ r / (len(a) * scale)

    res = minimize(loss, np.full(m, 1.0 / m), jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * m,
                   constraints=[{"type": "eq", "fun": lambda w: np.sum(w) - 1.0}],
                   options={"ftol": 1e-12, "maxiter": 500})
    if not res.success:
        raise ForecastError(f"ensemble: weight fit failed ({res.message})")
    w = np.clip(res.x, 0.0, None)
    return w / w.sum()


class EnsembleForecaster(Forecaster):
    """A weighted combination of registered forecasters.

    Parameters
    ----------
    members : sequence
        Forecaster names, or ``(name, params)`` pairs, e.g.
        ``["boosted", ("sarima", {"weekly_fourier": 2})]``.
    weights : {"equal", "fit"} or sequence of float
        Simple average, weights fitted on the validation window, or given weights.
    validation_days : int
        Days at the end of the history that fit the weights (``weights="fit"``).
    windows : dict, optional
        Days of history each member is fitted on (by name); default all it is given.
    day : int
        Observations per day (the validation blocks are one day each).
    """

    name = "ensemble"

    def __init__(self, members: Sequence = ("boosted", "sarima"), *, weights: str | Sequence[float] = "equal",
                 validation_days: int = 28, windows: dict[str, int] | None = None, day: int = 24,
                 **shared) -> None:
        if isinstance(members, str) or len(members) < 2:
            raise ForecastError(f"ensemble: 'members' must list at least two forecasters, got {members!r}")
        self.members = [(m, {}) if isinstance(m, str) else (m[0], dict(m[1])) for m in members]
        unknown = [m for m, _ in self.members if m not in registered() or m == "ensemble"]
        if unknown:
            raise ForecastError(f"ensemble: unknown member {unknown[0]!r} "
                                f"(available: {', '.join(sorted(set(registered()) - {'ensemble'}))})")
        if isinstance(weights, str):
            if weights not in ("equal", "fit"):
                raise ForecastError(f"ensemble: 'weights' must be 'equal', 'fit' or numbers, got {weights!r}")
        else:
            w = np.asarray(weights, dtype=float)
            if w.shape != (len(self.members),) or np.any(w < 0) or not np.isclose(w.sum(), 1.0):
                raise ForecastError(f"ensemble: {len(self.members)} weights >= 0 summing to 1 expected, "
                                    f"got {list(weights)!r}")
        self.weights = weights
        self.validation_days = check_positive_int(validation_days, "validation_days")
        self.windows = dict(windows or {})
        self.day = check_positive_int(day, "day")
        self.shared = shared
        self._built = [self._member(n, p) for n, p in self.members]

    def _member(self, name: str, params: dict) -> Forecaster:
        from gridgames.forecasting.api import accepts, get_forecaster

        kw = {k: v for k, v in self.shared.items() if accepts(name, k)}
        return get_forecaster(name, **{**kw, **params})

    @property
    def min_history(self) -> int:
        base = max(max(f.min_history for f in self._built),
                   max((d * self.day for d in self.windows.values()), default=0))
        return base + (self.validation_days * self.day if self.weights == "fit" else 0)

    def _fit_members(self, y: pd.Series) -> list[FittedForecaster]:
        fits = []
        for (name, _), f in zip(self.members, self._built):
            days = self.windows.get(name)
            fits.append(f.fit(y.iloc[-days * self.day:] if days else y))
        return fits

    def _fit(self, y: pd.Series) -> FittedEnsemble:
        if self.weights != "fit":
            w = np.full(len(self.members), 1.0 / len(self.members)) if self.weights == "equal" \
                else np.asarray(self.weights, dtype=float)
            return FittedEnsemble(self, y, self._fit_members(y), w)
        split = len(y) - self.validation_days * self.day
        fits = self._fit_members(y.iloc[:split])
        preds, actual = [], []
        for start in range(split, len(y), self.day):
            block = y.iloc[start:start + self.day]
            preds.append(np.column_stack([f.predict(len(block)).to_numpy() for f in fits]))
            actual.append(block.to_numpy())
            for f in fits:
                f.update(block)
        w = simplex_least_squares(np.vstack(preds), np.concatenate(actual))
        logger.info("ensemble weights %s on %d validation days", dict(zip([m for m, _ in self.members],
                                                                         w.round(3))), self.validation_days)
        return FittedEnsemble(self, y, fits, w)


class FittedEnsemble(FittedForecaster):
    """Fitted members and their weights (``weights``, in the order of ``members``)."""

    def __init__(self, forecaster: EnsembleForecaster, history: pd.Series, fits: list[FittedForecaster],
                 weights: np.ndarray) -> None:
        super().__init__(forecaster, history)
        self.fits, self.weights = fits, weights
        self.keep_history = 2 * forecaster.day

    def _predict(self, horizon: int) -> np.ndarray:
        return sum(w * f.predict(horizon).to_numpy() for w, f in zip(self.weights, self.fits))

    def _update(self, new: pd.Series) -> None:
        for f in self.fits:
            f.update(new)


register_forecaster("ensemble", EnsembleForecaster)
