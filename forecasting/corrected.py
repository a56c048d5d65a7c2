"""Error correction of a published forecast: BPA's day-ahead forecast plus a SARIMA of its error.

The balancing authority's day-ahead forecast ``f_t`` (EIA-930 column
``demand_forecast_mw``, "DF") uses weather forecasts, which this project does
not have; it is hard to beat from demand history alone (no model of ours
does, see ``docs/forecasting.md``). Its *error* ``r_t = y_t - f_t`` is,
however, strongly autocorrelated (lag 1: 0.93, lag 6: 0.40, lag 24: 0.16 on
BPAT September-November 2019): weather-forecast misses persist for hours.
``bpa-corrected`` therefore models the error with SARIMA by the paper's
Algorithm 1 (``sarima.py``: Ljung-Box, ADF, BIC grid) and forecasts

    ŷ_t = f_t + r̂_t,

where ``r̂`` is the SARIMA forecast of the error from the errors observed up
to the issue time. It is a post-processor of BPA's forecast, not an
independent forecast: it is available exactly when BPA's forecast and the
demand up to the issue time are.

Information used when a day-ahead block is issued at 00:00 (UTC in the BPAT
backtests): demand up to the hour ending at the issue time, and the reference
forecast for the 24 hours to be forecast, which BPA issues the day before
(see ``docs/forecasting.md`` for the EIA posting times).

Error-model defaults differ from ``sarima``: the error of an unbiased forecast
is stationary, so ``max_d = 0`` (the ADF test on the whole 42-day window
agrees, p < 1e-12; on the 10-day search tail of ``sarima`` it does not reject
at 0.01 and the resulting random-walk correction is worse than none);
``max_D = 0``, no weekly regressors, and the BIC grid is searched on the
whole window (``search_length = 1008``).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster
from gridgames.forecasting.sarima import FittedSarima, SarimaForecaster
from gridgames.forecasting.validation import ForecastError

logger = logging.getLogger(__name__)

#: Error-model parameters that differ from ``sarima``'s defaults (see the module docstring).
ERROR_MODEL_DEFAULTS = {"max_d": 0, "max_D": 0, "weekly_fourier": 0, "search_length": 1008}


class ReferenceCorrection(Forecaster):
    """A published forecast corrected by a SARIMA model of its error.

    Parameters
    ----------
    reference : pandas.Series
        The published forecast on a DatetimeIndex covering the fit window and
        every hour to be forecast (BPAT: ``load_bpat_eia930(2019)["bpa_forecast"]``,
        file column ``demand_forecast_mw``). Only its values at the fitted and
        forecast hours are read; a missing hour or a NaN there is an error
        naming the column and the timestamp.
    reference_name : str, optional
        Name used in messages (default: the series' name).
    **sarima_params
        Parameters of the error model
        (:class:`~gridgames.forecasting.sarima.SarimaForecaster`); defaults
        :data:`ERROR_MODEL_DEFAULTS` override ``sarima``'s own.

    Raises
    ------
    ForecastError
        No reference, not a Series on a DatetimeIndex, duplicate stamps or
        non-numeric values.
    """

    name = "bpa-corrected"
    #: compare_models and the CLI pass the published forecast as ``reference``.
    needs_reference = True

    def __init__(self, reference: pd.Series | None = None, *, reference_name: str | None = None,
                 **sarima_params) -> None:
        if reference is None:
            raise ForecastError(f"{self.name}: needs the published forecast it corrects: pass "
                                "reference=<pandas Series> (BPAT: load_bpat_eia930(2019)['bpa_forecast'], "
                                "file column 'demand_forecast_mw')")
        if not isinstance(reference, pd.Series) or not isinstance(reference.index, pd.DatetimeIndex):
            raise ForecastError(f"{self.name}: parameter 'reference' must be a pandas Series on a "
                                f"DatetimeIndex, got {type(reference).__name__}")
        self.reference_name = str(reference_name or reference.name or "reference")
        dup = reference.index.duplicated()
        if dup.any():
            raise ForecastError(f"{self.name}: reference forecast '{self.reference_name}' has a duplicate "
                                f"timestamp {reference.index[dup][0]}")
        values = pd.to_numeric(reference, errors="coerce")
        bad = values.isna() & reference.notna()
        if bad.any():
            raise ForecastError(f"{self.name}: reference forecast '{self.reference_name}' has a non-numeric "
                                f"value {reference[bad].iloc[0]!r} at {reference.index[bad][0]}")
        self.reference = values.astype(float).sort_index()
        self.sarima = SarimaForecaster(**{**ERROR_MODEL_DEFAULTS, **sarima_params})
        self.sarima.name = f"{self.name} (error model)"

    def __repr__(self) -> str:
        r = self.reference
        span = f"{r.index[0]} .. {r.index[-1]}" if len(r) else "empty"
        return f"{type(self).__name__}(reference={self.reference_name!r} [{span}], sarima={self.sarima!r})"

    @property
    def min_history(self) -> int:
        return self.sarima.min_history

    def _min_history_reason(self) -> str:
        return self.sarima._min_history_reason()

    def reference_at(self, index: pd.DatetimeIndex) -> np.ndarray:
        """The reference forecast at ``index``.

        Raises
        ------
        ForecastError
            A time-zone mismatch, a timestamp the reference does not cover, or
            a NaN there (the column and the first such timestamp are named).
        """
        ref = self.reference
        label = f"{self.name}: reference forecast '{self.reference_name}'"
        if (ref.index.tz is None) != (index.tz is None):
            raise ForecastError(f"{label} is indexed {'naive' if ref.index.tz is None else 'tz-aware'} "
                                f"but the series {'naive' if index.tz is None else 'tz-aware'}")
        pos = ref.index.get_indexer(index)
        missing = np.flatnonzero(pos < 0)
        if missing.size:
            cover = f"{ref.index[0]} .. {ref.index[-1]}" if len(ref) else "no timestamps"
            raise ForecastError(f"{label} has no value for {index[missing[0]]} (it covers {cover})"
                                + (f"; {missing.size} such timestamps" if missing.size > 1 else ""))
        values = ref.to_numpy()[pos]
        nan = np.flatnonzero(~np.isfinite(values))
        if nan.size:
            raise ForecastError(f"{label}: missing or non-finite value ({values[nan[0]]}) at {index[nan[0]]}"
                                + (f"; {nan.size} such values" if nan.size > 1 else ""))
        return values

    def _fit(self, y: pd.Series) -> FittedReferenceCorrection:
        error = pd.Series(y.to_numpy() - self.reference_at(y.index), index=y.index, name="error")
        base = self.sarima._fit(error)
        logger.info("%s: error model SARIMAX%s%s on %d hours, mean error %.1f", self.name, base.order,
                    base.seasonal_order, len(y), float(error.mean()))
        return FittedReferenceCorrection(self, y, base)


class FittedReferenceCorrection(FittedForecaster):
    """Fitted correction; ``update`` rolls the error model (statsmodels ``extend``).

    Attributes
    ----------
    base : FittedSarima
        The SARIMA of the reference's error.
    """

    def __init__(self, forecaster: ReferenceCorrection, history: pd.Series, base: FittedSarima) -> None:
        super().__init__(forecaster, history)
        self.base = base
        self.keep_history = base.keep_history

    def predict_components(self, horizon: int) -> pd.DataFrame:
        """Reference forecast, predicted error and corrected forecast for the next ``horizon`` steps."""
        idx = self.future_index(horizon)
        ref = self.forecaster.reference_at(idx)
        err = np.asarray(self.base._predict(horizon), dtype=float)
        return pd.DataFrame({"reference": ref, "error": err, "forecast": ref + err}, index=idx)

    def _predict(self, horizon: int) -> np.ndarray:
        return self.predict_components(horizon)["forecast"].to_numpy()

    def _update(self, new: pd.Series) -> None:
        error = pd.Series(new.to_numpy() - self.forecaster.reference_at(new.index), index=new.index)
        self.base.update(error)


register_forecaster("bpa-corrected", ReferenceCorrection)
