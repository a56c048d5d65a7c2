"""Probabilistic forecasts: quantiles, split-conformal intervals, coverage, pinball loss and CRPS.

Two sources of quantiles:

* **the model's own** — a fitted forecaster with a ``predict_quantiles(horizon,
  taus)`` method (SARIMA: Gaussian with the state-space forecast variance;
  statsforecast anchors: their own intervals) is asked at every origin of a
  backtest (:func:`~gridgames.forecasting.backtest.rolling_backtest`, ``taus=``);
* **split-conformal** for any forecaster — :func:`conformal_quantiles` adds, to
  each forecast of a backtest, the empirical quantiles of the errors *of the
  same lead* made at the previous ``calibration_days`` origins. Only forecasts
  whose every target was observed before the issue time are used (a day-ahead
  block issued at 00:00 is verified at 23:00 the same day, so the calibration
  of day ``d`` uses the blocks of days ``d-K .. d-1``).

Scores: :func:`coverage` of a central interval, :func:`pinball` (quantile)
loss, and :func:`crps` approximated by twice the mean pinball loss over an
even grid of quantile levels (Gneiting & Raftery 2007, eq. 22-23).
"""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.stats import norm

from gridgames.forecasting.validation import ForecastError, check_positive_int

logger = logging.getLogger(__name__)

#: Quantile levels scored in the backtests: the 90 % interval's ends and an even grid for the CRPS.
DEFAULT_TAUS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def quantile_column(tau: float) -> str:
    """Column name of the ``tau`` quantile in a backtest frame (``"q0.05"``)."""
    return f"q{tau:g}"


def check_taus(taus: object) -> tuple[float, ...]:
    """Sorted quantile levels strictly inside (0, 1), else :class:`ForecastError`."""
    try:
        out = tuple(sorted(float(t) for t in taus))  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ForecastError(f"quantile levels must be numbers in (0, 1), got {taus!r}") from None
    if not out or not all(0 < t < 1 for t in out):
        raise ForecastError(f"quantile levels must be numbers in (0, 1), got {taus!r}")
    return out


def interval_taus(level: float) -> tuple[float, float]:
    """The quantile levels of a central ``level`` interval (0.9 -> 0.05, 0.95)."""
    if not 0 < level < 1:
        raise ForecastError(f"interval level must be in (0, 1), got {level!r}")
    return round((1 - level) / 2, 10), round((1 + level) / 2, 10)


def gaussian_quantiles(mean: np.ndarray, std: np.ndarray, taus: tuple[float, ...]) -> np.ndarray:
    """``len(mean) × len(taus)`` quantiles of independent normals N(mean, std²)."""
    return np.asarray(mean)[:, None] + np.asarray(std)[:, None] * norm.ppf(np.asarray(taus))[None, :]


def conformal_quantiles(frame: pd.DataFrame, taus: tuple[float, ...] = DEFAULT_TAUS, *,
                        calibration_days: int = 28, min_calibration: int = 20) -> pd.DataFrame:
    """Split-conformal quantile forecasts from the past errors of the same lead.

    Parameters
    ----------
    frame : pandas.DataFrame
        A backtest's forecasts (``actual``, ``forecast``, ``origin``, ``lead``;
        :attr:`BacktestResult.forecasts`), one block per origin.
    taus : tuple of float
        Quantile levels.
    calibration_days : int
        Number of previous origins whose errors calibrate an origin's quantiles.
    min_calibration : int
        Origins without at least this many verified previous blocks get NaN (20: the
        fewest errors whose max is a valid 95 % bound, 1 - 1/(n + 1) >= 0.95).

    Returns
    -------
    pandas.DataFrame
        ``frame`` with one column per level (:func:`quantile_column`): ``forecast`` plus
        the ``ceil((n + 1)τ)``-th smallest of the ``n`` calibration errors of the same lead
        (``floor`` for τ < 1/2): the split-conformal quantile, so a central interval
        covers at least its level when the errors are exchangeable.
    """
    taus = check_taus(taus)
    check_positive_int(calibration_days, "calibration_days")
    out = frame.copy()
    err = pd.DataFrame({"e": frame["actual"] - frame["forecast"], "origin": frame["origin"].to_numpy(),
                        "lead": frame["lead"].to_numpy()}, index=frame.index)
    table = err.pivot_table(index="origin", columns="lead", values="e", dropna=False)  # origin × lead
    last_target = pd.Series(frame.index, index=frame["origin"].to_numpy()).groupby(level=0).max()
    last_target = last_target.reindex(table.index).to_numpy()
    tau = np.asarray(taus)
    quant = np.full((len(table), table.shape[1], len(taus)), np.nan)
    for i, o in enumerate(table.index):
        rows = np.flatnonzero(last_target < o)[-calibration_days:]  # blocks verified before the issue
        if len(rows) < min_calibration:
            continue
        past = np.sort(table.to_numpy()[rows], axis=0)  # NaN sorts last
        n = np.sum(np.isfinite(past), axis=0)  # per lead
        # split-conformal ranks: ceil((n+1)τ) from below for τ >= 1/2, floor((n+1)τ) for τ < 1/2
        rank = np.where(tau[None, :] >= 0.5, np.ceil((n[:, None] + 1) * tau[None, :]),
                        np.floor((n[:, None] + 1) * tau[None, :]))
        rank = np.clip(rank, 1, np.maximum(n, 1)[:, None]).astype(int) - 1
        quant[i] = np.where(n[:, None] > 0, past[rank, np.arange(past.shape[1])[:, None]], np.nan)
    pos_o = table.index.get_indexer(frame["origin"].to_numpy())
    pos_l = table.columns.get_indexer(frame["lead"].to_numpy())
    qs = frame["forecast"].to_numpy()[:, None] + quant[pos_o, pos_l]
    for j, tau in enumerate(taus):
        out[quantile_column(tau)] = qs[:, j]
    return out


def pinball(actual: np.ndarray, quantile: np.ndarray, tau: float) -> float:
    """Mean pinball (quantile) loss ``max(τ(y-q), (τ-1)(y-q))``.

    Examples
    --------
    >>> pinball(np.array([10.0]), np.array([8.0]), 0.9)   # under-forecast by 2 at τ = 0.9
    1.8
    """
    d = np.asarray(actual, dtype=float) - np.asarray(quantile, dtype=float)
    return float(np.mean(np.maximum(tau * d, (tau - 1) * d)))


def crps(actual: np.ndarray, quantiles: np.ndarray, taus: tuple[float, ...]) -> float:
    """CRPS approximated from quantile forecasts: ``2 × mean_τ pinball_τ``.

    ``quantiles`` is ``n × len(taus)``; with an even grid of levels this is the
    quantile-score form of the CRPS (exact as the grid becomes dense).
    """
    q = np.asarray(quantiles, dtype=float)
    return float(2 * np.mean([pinball(actual, q[:, j], t) for j, t in enumerate(taus)]))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of ``actual`` inside ``[lower, upper]``."""
    a = np.asarray(actual, dtype=float)
    return float(np.mean((a >= np.asarray(lower)) & (a <= np.asarray(upper))))


def interval_scores(frame: pd.DataFrame, taus: tuple[float, ...] = DEFAULT_TAUS,
                    level: float = 0.9) -> dict[str, float]:
    """Coverage and width of the ``level`` interval, its two pinball losses and the CRPS.

    Rows without an actual value or without quantiles are left out.

    Raises
    ------
    ForecastError
        If the frame lacks a quantile column or no row has both.
    """
    taus = check_taus(taus)
    lo, hi = interval_taus(level)
    cols = [quantile_column(t) for t in taus]
    missing = [c for c in cols + [quantile_column(lo), quantile_column(hi)] if c not in frame]
    if missing:
        raise ForecastError(f"interval scores: no quantile column {missing[0]!r} in the forecasts")
    ok = frame[cols + ["actual"]].notna().all(axis=1)
    if not ok.any():
        raise ForecastError("interval scores: no forecast has both quantiles and an actual value")
    f = frame[ok]
    a = f["actual"].to_numpy()
    lower, upper = f[quantile_column(lo)].to_numpy(), f[quantile_column(hi)].to_numpy()
    return {"coverage": coverage(a, lower, upper), "width": float(np.mean(upper - lower)),
            "pinball_lo": pinball(a, lower, lo), "pinball_hi": pinball(a, upper, hi),
            "CRPS": crps(a, f[cols].to_numpy(), taus), "n_scored": int(ok.sum())}
