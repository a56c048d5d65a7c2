"""ARIMA and SARIMA by the Stackelberg paper's Algorithm 1 (statsmodels SARIMAX).

Algorithm 1 (Symmetry 2023, 15, 443, section 4.3), as implemented here:

1. Ljung-Box white-noise test on the series: with p >= ``alpha`` (0.01) the
   series is white noise and there is nothing to model (:class:`ForecastError`).
2. ADF stationarity test; while p >= ``alpha`` the series is differenced
   again (at most ``max_d`` times). The number of differences is ``d``.
3. BIC grid search over (p, q)(P, D, Q)_s with ``d`` from step 2 and
   configurable bounds (``max_p, max_q, max_P, max_D, max_Q``). A constant is
   included when the candidate has no differencing at all.
4. The order with the smallest BIC is fitted on the whole window and rolls
   forward with ``results.extend`` (new data filtered with fixed parameters).

Weekly cycle. A seasonal period of 168 h on hourly data makes SARIMAX's
state vector several hundred long (memory in gigabytes, minutes per fit), so
``s = 24`` is the default and the weekly cycle enters as ``weekly_fourier``
pairs of sine/cosine regressors of the position in the week (regression with
SARIMA errors). ``arima`` is the non-seasonal special case without regressors,
as in the paper's comparison.

For speed the grid is searched on the last ``search_length`` observations
with at most ``search_maxiter`` optimiser iterations per candidate, and the
selected orders are cached per (data, parameters).
"""
from __future__ import annotations

import hashlib
import itertools
import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.stats.diagnostic import acorr_ljungbox
from statsmodels.tsa.statespace.sarimax import SARIMAX
from statsmodels.tsa.stattools import adfuller

from gridgames.forecasting.base import FittedForecaster, Forecaster, register_forecaster
from gridgames.forecasting.features import weekly_fourier
from gridgames.forecasting.threads import blas_threads
from gridgames.forecasting.validation import ForecastError, check_positive_float, check_positive_int

logger = logging.getLogger(__name__)

#: Orders selected per (data, parameters): identification, best orders and the BIC table.
_ORDER_CACHE: dict[tuple, tuple[Identification, tuple[int, int, int], tuple[int, int, int, int],
                                pd.DataFrame]] = {}


@dataclass
class Identification:
    """Outcome of steps 1-2 of Algorithm 1.

    Attributes
    ----------
    d : int
        Number of differences needed for the ADF test to reject a unit root.
    ljung_box_pvalue : float
        p-value of the Ljung-Box test on the undifferenced series.
    adf_pvalues : list of float
        ADF p-value after 0, 1, ... differences.
    """

    d: int
    ljung_box_pvalue: float
    adf_pvalues: list[float] = field(default_factory=list)


def identify(y: np.ndarray, *, alpha: float = 0.01, max_d: int = 2, lags: int | None = None,
             white_noise_check: bool = True, name: str = "sarima") -> Identification:
    """Ljung-Box white-noise test, then ADF tests with differencing until stationary.

    Parameters
    ----------
    y : array
        The series.
    alpha : float
        Significance level of both tests (the paper uses 0.01).
    max_d : int
        Most differences taken.
    lags : int, optional
        Ljung-Box lag (default ``min(48, n // 5)``).
    white_noise_check : bool
        Raise when the series is white noise.

    Raises
    ------
    ForecastError
        If the Ljung-Box test cannot reject white noise (p >= alpha).
    """
    y = np.asarray(y, dtype=float)
    lags = lags or max(1, min(48, len(y) // 5))
    lb = float(acorr_ljungbox(y, lags=[lags])["lb_pvalue"].iloc[0])
    if white_noise_check and not lb < alpha:
        raise ForecastError(f"{name}: the series looks like white noise (Ljung-Box p = {lb:.3g} "
                            f">= {alpha:g} at lag {lags}); there is nothing for ARIMA to model")
    x, pvals, d = y, [], 0
    while True:
        if np.ptp(x) == 0:
            pvals.append(0.0)
            break
        with warnings.catch_warnings():  # statsmodels 0.15 announces a return-type change
            warnings.simplefilter("ignore", FutureWarning)
            p = float(adfuller(x, autolag="AIC")[1])
        pvals.append(p)
        if p < alpha or d >= max_d:
            if p >= alpha:
                logger.warning("%s: still non-stationary after %d differences (ADF p = %.3g)", name, d, p)
            break
        x, d = np.diff(x), d + 1
    logger.info("%s: Ljung-Box p = %.3g, ADF p-values %s -> d = %d", name, lb,
                ", ".join(f"{p:.3g}" for p in pvals), d)
    return Identification(d=d, ljung_box_pvalue=lb, adf_pvalues=pvals)


def _fit_sarimax(y: np.ndarray, exog: np.ndarray | None, order, seasonal_order, maxiter: int):
    trend = "c" if order[1] == 0 and seasonal_order[1] == 0 else "n"
    model = SARIMAX(y, exog=exog if exog is not None and exog.shape[1] else None, order=order,
                    seasonal_order=seasonal_order, trend=trend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(disp=False, maxiter=maxiter)


def bic_grid_search(y: np.ndarray, exog: np.ndarray | None, *, d: int, seasonal_period: int,
                    max_p: int, max_q: int, max_P: int = 0, max_D: int = 0, max_Q: int = 0,
                    maxiter: int = 50) -> tuple[tuple[int, int, int], tuple[int, int, int, int], pd.DataFrame]:
    """Steps 3-8 of Algorithm 1: the (p, d, q)(P, D, Q)_s with the smallest BIC.

    Returns
    -------
    order, seasonal_order, table
        The best orders and a DataFrame of every candidate's BIC (NaN where
        the fit failed), sorted by BIC.
    """
    rows = []
    seasonal = max(max_P, max_D, max_Q) > 0
    for p, q, P, D, Q in itertools.product(range(max_p + 1), range(max_q + 1), range(max_P + 1),
                                           range(max_D + 1), range(max_Q + 1)):
        order = (p, d, q)
        sorder = (P, D, Q, seasonal_period) if seasonal and (P or D or Q) else (0, 0, 0, 0)
        if not seasonal and (P or D or Q):
            continue
        try:
            bic = float(_fit_sarimax(y, exog, order, sorder, maxiter).bic)
        except (np.linalg.LinAlgError, ValueError, IndexError) as exc:
            logger.debug("order %s%s failed: %s", order, sorder, exc)
            bic = float("nan")
        rows.append({"p": p, "d": d, "q": q, "P": sorder[0], "D": sorder[1], "Q": sorder[2],
                     "s": sorder[3], "bic": bic})
    table = pd.DataFrame(rows).drop_duplicates(subset=["p", "q", "P", "D", "Q"])
    table = table.sort_values("bic", na_position="last").reset_index(drop=True)
    if not np.isfinite(table["bic"].iloc[0]):
        raise ForecastError("BIC grid search: every candidate model failed to fit")
    best = table.iloc[0]
    order = (int(best.p), int(best.d), int(best.q))
    sorder = (int(best.P), int(best.D), int(best.Q), int(best.s))
    logger.info("BIC grid (%d candidates): best %s%s, BIC %.1f", len(table), order, sorder, best.bic)
    return order, sorder, table


class SarimaForecaster(Forecaster):
    """Seasonal ARIMA with Algorithm 1's tests and BIC order search.

    Parameters
    ----------
    order, seasonal_order : tuple, optional
        Fixed (p, d, q) and (P, D, Q, s); skip the tests and the grid search.
    seasonal_period : int
        s in observations (24 = daily cycle of hourly data).
    max_p, max_q, max_P, max_D, max_Q : int
        Bounds of the BIC grid (``max_P = max_D = max_Q = 0`` gives ARIMA).
    max_d : int
        Most differences the ADF loop takes.
    alpha : float
        Significance level of the Ljung-Box and ADF tests.
    weekly_fourier : int
        Pairs of weekly sine/cosine regressors (0 = none).
    search_length : int
        The grid is searched on the last ``search_length`` observations.
    search_maxiter, maxiter : int
        Optimiser iterations per grid candidate and for the final fit.
    white_noise_check : bool
        Refuse a white-noise series (Algorithm 1, line 1).
    """

    name = "sarima"

    def __init__(self, order: tuple[int, int, int] | None = None,
                 seasonal_order: tuple[int, int, int, int] | None = None, *,
                 seasonal_period: int = 24, max_p: int = 2, max_q: int = 1, max_P: int = 1,
                 max_D: int = 1, max_Q: int = 1, max_d: int = 1, alpha: float = 0.01,
                 weekly_fourier: int = 3, search_length: int = 240, search_maxiter: int = 30,
                 maxiter: int = 200, white_noise_check: bool = True) -> None:
        self.seasonal_period = check_positive_int(seasonal_period, "seasonal_period", minimum=2)
        for key, val in (("max_p", max_p), ("max_q", max_q), ("max_P", max_P), ("max_D", max_D),
                         ("max_Q", max_Q), ("max_d", max_d), ("weekly_fourier", weekly_fourier)):
            check_positive_int(val, key, minimum=0)
        self.max_p, self.max_q, self.max_P, self.max_D, self.max_Q = max_p, max_q, max_P, max_D, max_Q
        self.max_d = max_d
        self.alpha = check_positive_float(alpha, "alpha")
        self.weekly_fourier = weekly_fourier
        self.search_length = check_positive_int(search_length, "search_length", minimum=10)
        self.search_maxiter = check_positive_int(search_maxiter, "search_maxiter")
        self.maxiter = check_positive_int(maxiter, "maxiter")
        self.white_noise_check = bool(white_noise_check)
        self.order = self._check_order(order, "order", 3)
        self.seasonal_order = self._check_order(seasonal_order, "seasonal_order", 4)

    @staticmethod
    def _check_order(value, name: str, length: int):
        if value is None:
            return None
        if (not isinstance(value, (tuple, list)) or len(value) != length
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 0
                           for v in value)):
            raise ForecastError(f"parameter {name!r} must be {length} non-negative integers, got {value!r}")
        return tuple(int(v) for v in value)

    @property
    def seasonal(self) -> bool:
        if self.seasonal_order is not None:
            return any(self.seasonal_order[:3])
        return max(self.max_P, self.max_D, self.max_Q) > 0

    @property
    def min_history(self) -> int:
        n = 3 * self.seasonal_period if self.seasonal else 30
        if self.weekly_fourier:
            n = max(n, 2 * 7 * self.seasonal_period)
        return n

    def _min_history_reason(self) -> str:
        parts = [f"3 seasonal periods of {self.seasonal_period}"] if self.seasonal else ["30 observations"]
        if self.weekly_fourier:
            parts.append(f"two weeks of {7 * self.seasonal_period} for the weekly regressors")
        return " and ".join(parts)

    def exog(self, index: pd.DatetimeIndex) -> np.ndarray | None:
        """Weekly Fourier regressors at ``index`` (None without them)."""
        return weekly_fourier(index, self.weekly_fourier) if self.weekly_fourier else None

    def select_orders(self, y: pd.Series) -> tuple[tuple, tuple, Identification | None, pd.DataFrame | None]:
        """Algorithm 1, lines 1-8, on ``y`` (cached per data and parameters)."""
        if self.order is not None:
            sorder = self.seasonal_order or (0, 0, 0, 0)
            return self.order, sorder, None, None
        tail = y.iloc[-self.search_length:]
        key = (hashlib.sha1(tail.to_numpy().tobytes()).hexdigest(), tail.index[0], type(self).__name__,
               tuple(sorted((k, str(v)) for k, v in self.params().items())))
        if key in _ORDER_CACHE:  # same data and parameters: the tests and the grid give the same
            ident, order, sorder, table = _ORDER_CACHE[key]
            logger.info("%s: orders from cache %s%s", self.name, order, sorder)
            return order, sorder, ident, table
        with blas_threads():  # also when called directly, outside fit()
            ident = identify(tail.to_numpy(), alpha=self.alpha, max_d=self.max_d, name=self.name,
                             white_noise_check=self.white_noise_check)
            order, sorder, table = bic_grid_search(
                tail.to_numpy(), self.exog(tail.index), d=ident.d, seasonal_period=self.seasonal_period,
                max_p=self.max_p, max_q=self.max_q, max_P=self.max_P, max_D=self.max_D,
                max_Q=self.max_Q, maxiter=self.search_maxiter)
        _ORDER_CACHE[key] = (ident, order, sorder, table)
        return order, sorder, ident, table

    def _fit(self, y: pd.Series) -> FittedSarima:
        order, sorder, ident, table = self.select_orders(y)
        candidates = [(order, sorder)]
        if table is not None:  # fall back down the BIC ranking if the final fit degenerates
            for _, r in table.iloc[1:4].iterrows():
                if np.isfinite(r.bic):
                    candidates.append(((int(r.p), int(r.d), int(r.q)), (int(r.P), int(r.D), int(r.Q), int(r.s))))
        scale = float(np.var(np.diff(y.to_numpy()))) + float(np.var(y.to_numpy())) + 1e-12
        problems = []
        for order, sorder in candidates:
            try:
                results = _fit_sarimax(y.to_numpy(), self.exog(y.index), order, sorder, self.maxiter)
            except (np.linalg.LinAlgError, ValueError) as exc:
                problems.append(f"SARIMAX{order}{sorder}: {exc}")
                continue
            sigma2 = float(results.params[-1])
            if not np.isfinite(results.llf) or not 0 < sigma2 < 10 * scale:
                problems.append(f"SARIMAX{order}{sorder}: degenerate fit (innovation variance {sigma2:.3g})")
                logger.warning("%s: %s, trying the next order", self.name, problems[-1])
                continue
            logger.info("%s: fitted SARIMAX%s%s on %d observations, BIC %.1f", self.name, order, sorder,
                        len(y), results.bic)
            return FittedSarima(self, y, results, order, sorder, ident, table)
        raise ForecastError(f"{self.name}: no SARIMAX order could be fitted: {'; '.join(problems)}")


class FittedSarima(FittedForecaster):
    """A fitted SARIMAX; ``update`` filters new data with the fitted parameters.

    Attributes
    ----------
    results : statsmodels SARIMAXResults
        The current results object (after the latest ``extend``).
    order, seasonal_order : tuple
        The selected orders.
    identification : Identification or None
        Test outcomes (None when the orders were given).
    bic_table : pandas.DataFrame or None
        BIC of every grid candidate.
    """

    def __init__(self, forecaster: SarimaForecaster, history: pd.Series, results, order, seasonal_order,
                 identification: Identification | None, bic_table: pd.DataFrame | None) -> None:
        super().__init__(forecaster, history)
        self.results = results
        self.order, self.seasonal_order = order, seasonal_order
        self.identification, self.bic_table = identification, bic_table
        self.keep_history = 24 * 7 * 8

    def _predict(self, horizon: int) -> np.ndarray:
        exog = self.forecaster.exog(self.future_index(horizon))
        return np.asarray(self.results.forecast(horizon, exog=exog))

    def predict_quantiles(self, horizon: int, taus: tuple[float, ...]) -> np.ndarray:
        """``horizon × len(taus)`` Gaussian quantiles from the state-space forecast variance."""
        from gridgames.forecasting.intervals import gaussian_quantiles

        exog = self.forecaster.exog(self.future_index(horizon))
        with blas_threads():
            fc = self.results.get_forecast(horizon, exog=exog)
        return gaussian_quantiles(np.asarray(fc.predicted_mean), np.asarray(fc.se_mean), taus)

    def _update(self, new: pd.Series) -> None:
        self.results = self.extended(new)

    def extended(self, new: pd.Series):
        """The results object rolled over ``new`` (state of this object unchanged)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.results.extend(new.to_numpy(), exog=self.forecaster.exog(new.index))


class ArimaForecaster(SarimaForecaster):
    """Non-seasonal ARIMA by Algorithm 1 (BIC grid over p and q, ``d`` from the ADF loop).

    Same parameters as :class:`SarimaForecaster`; defaults ``max_p = max_q = 3``,
    no seasonal part and no weekly regressors.
    """

    name = "arima"

    def __init__(self, order: tuple[int, int, int] | None = None, *, max_p: int = 3, max_q: int = 3,
                 weekly_fourier: int = 0, **params) -> None:
        for key in ("max_P", "max_D", "max_Q", "seasonal_order"):
            if params.get(key):
                raise ForecastError(f"arima has no seasonal part: parameter {key!r} is not accepted "
                                    "(use 'sarima')")
            params.pop(key, None)
        super().__init__(order, None, max_p=max_p, max_q=max_q, max_P=0, max_D=0, max_Q=0,
                         weekly_fourier=weekly_fourier, **params)


register_forecaster("sarima", SarimaForecaster)
register_forecaster("arima", ArimaForecaster)
