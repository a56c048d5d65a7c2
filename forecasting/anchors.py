"""Outside anchors: statsforecast's AutoARIMA, AutoETS and MSTL behind our interface.

These are the well-kept library models researchers already use; the
rolling-origin evaluation (:mod:`gridgames.forecasting.rolling`) runs them on
the same windows as ours. statsforecast is imported lazily (it costs ~3 s).
Each is fitted once on its window; ``update`` keeps the fitted parameters and
applies them to the extended history (statsforecast's ``forward``), as
``results.extend`` does for our SARIMA. Their own prediction intervals give
:meth:`FittedAnchor.predict_quantiles`.

The statsmodels SARIMAX (2,0,1)(1,1,1)₂₄ anchor needs no wrapper:
``get_forecaster("sarima", order=(2, 0, 1), seasonal_order=(1, 1, 1, 24), weekly_fourier=0)``.
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster
from gridgames.forecasting.intervals import check_taus
from gridgames.forecasting.validation import ForecastError, check_positive_int

logger = logging.getLogger(__name__)

_KINDS = ("autoarima", "autoets", "mstl")


def _build(kind: str, season: int, week: int):
    from statsforecast.models import MSTL, AutoARIMA, AutoETS

    if kind == "autoarima":  # approximation: R's forecast::auto.arima default for a series this long
        return AutoARIMA(season_length=season, approximation=True)
    if kind == "autoets":
        return AutoETS(season_length=season)
    return MSTL(season_length=[season, week], trend_forecaster=AutoETS(model="ZZN"))


class StatsforecastAnchor(Forecaster):
    """A statsforecast model (``kind`` = ``autoarima``, ``autoets`` or ``mstl``).

    Parameters
    ----------
    kind : str
        ``autoarima`` (AutoARIMA, season 24, with the conditional-sum-of-squares
        approximation during the search, as R's ``auto.arima`` does for series longer
        than 150: without it one fit took over 8 minutes on 42 days here), ``autoets`` (AutoETS, season 24)
        or ``mstl`` (MSTL with seasons 24 and 168, AutoETS trend).
    season : int
        Daily season in observations.
    """

    name = "sf"

    def __init__(self, kind: str = "autoets", *, season: int = 24) -> None:
        if kind not in _KINDS:
            raise ForecastError(f"parameter 'kind' must be one of {', '.join(_KINDS)}, got {kind!r}")
        self.kind = kind
        self.season = check_positive_int(season, "season", minimum=2)
        self.name = f"sf-{kind}"

    @property
    def min_history(self) -> int:
        return (2 * 7 if self.kind == "mstl" else 3) * self.season

    def _fit(self, y: pd.Series) -> FittedAnchor:
        model = _build(self.kind, self.season, 7 * self.season)
        model.fit(y.to_numpy())
        logger.info("%s: fitted on %d observations", self.name, len(y))
        return FittedAnchor(self, y, model)


class FittedAnchor(FittedForecaster):
    """A fitted statsforecast model; forecasts after updates use ``forward`` with fixed parameters."""

    def __init__(self, forecaster: StatsforecastAnchor, history: pd.Series, model) -> None:
        super().__init__(forecaster, history)
        self.model = model
        self.keep_history = len(history)
        self._n_fit = len(history)
        self._fit_end = history.index[-1]

    def _raw(self, horizon: int, levels: list[int] | None) -> dict:
        kw = {"level": levels} if levels else {}
        if self.end == self._fit_end:
            return self.model.predict(horizon, **kw)
        return self.model.forward(self.history.to_numpy(), horizon, **kw)

    def _predict(self, horizon: int) -> np.ndarray:
        return np.asarray(self._raw(horizon, None)["mean"])

    def predict_quantiles(self, horizon: int, taus: tuple[float, ...]) -> np.ndarray:
        """``horizon × len(taus)`` quantiles from the model's own central intervals."""
        taus = check_taus(taus)
        levels = sorted({int(round(abs(1 - 2 * t) * 100)) for t in taus} - {0})
        raw = self._raw(horizon, levels)
        out = np.empty((horizon, len(taus)))
        for j, t in enumerate(taus):
            lv = int(round(abs(1 - 2 * t) * 100))
            out[:, j] = raw["mean"] if lv == 0 else raw[f"{'lo' if t < 0.5 else 'hi'}-{lv}"]
        return out


for _kind in _KINDS:
    register_forecaster(f"sf-{_kind}", lambda _k=_kind, **kw: StatsforecastAnchor(_k, **kw))
