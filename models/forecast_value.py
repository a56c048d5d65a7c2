"""The value of a forecast: the games played on each forecaster's output instead of the actual load.

For every forecast day (a day-ahead block of 24 hours from a backtest) and
every forecaster, two games are played against perfect foresight:

* **Stackelberg pricing** (:func:`~gridgames.models.stackelberg.solve.forecast_effect`,
  analytic equilibrium, parameters of ``instances/stackelberg_bpat.toml``): the
  company prices on ``d = forecast`` while the users respond from their real
  consumption ``orl = actual``; reported are the change of the company's
  *realised* utility gain (scored against the actual load), of the users'
  bill ``Σ p_k L_k`` and the mean absolute price change.
* **Real-time price rule** (:func:`~gridgames.models.rtp.pricing.rtp_prices`, eq. 3-4
  of the RTP paper with its default rule): the day's prices from the forecast
  instead of the actual load, and the bill of the actual load under them
  (the utility's revenue; the rule has no response of its own).

Differences are forecast minus perfect foresight, per day, averaged over the
days; the currency is $ with prices in $/MWh and loads in MW (hourly = MWh).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.models.instance import InstanceError, load_instance
from gridgames.models.rtp.pricing import PriceRule, rtp_prices
from gridgames.models.stackelberg.config import load_config
from gridgames.models.stackelberg.params import DayData, StackelbergParams
from gridgames.models.stackelberg.solve import forecast_effect
from gridgames.plotting import new_figure, place_legend, save_figure

logger = logging.getLogger(__name__)

#: The Stackelberg instance whose game parameters are used.
STACKELBERG_TOML = Path(__file__).resolve().parent.parent / "instances" / "stackelberg_bpat.toml"


def stackelberg_params(ir: float = 3.0) -> StackelbergParams:
    """The game parameters of ``instances/stackelberg_bpat.toml`` at incentive rate ``ir``."""
    return replace(load_config(load_instance(STACKELBERG_TOML)).params, ir=float(ir))


def day_blocks(frame: pd.DataFrame) -> dict[pd.Timestamp, tuple[np.ndarray, np.ndarray]]:
    """``origin -> (actual, forecast)`` of every complete 24-value block without a missing actual."""
    out = {}
    for origin, block in frame.groupby("origin", sort=True):
        if len(block) == 24 and block["actual"].notna().all():
            out[pd.Timestamp(origin)] = (block["actual"].to_numpy(float), block["forecast"].to_numpy(float))
    return out


def game_value(frame: pd.DataFrame, *, params: StackelbergParams | None = None, a0: float = 100.0,
               rule: PriceRule | None = None) -> pd.DataFrame:
    """Per day and model: how the Stackelberg and RTP outcomes move with the forecast.

    Parameters
    ----------
    frame : pandas.DataFrame
        Hourly rows with ``model``, ``origin``, ``actual`` (MW) and ``forecast`` (MW),
        e.g. the forecasts written by ``bench_forecast_rolling --forecasts-csv``.
    params : StackelbergParams, optional
        Game parameters (default :func:`stackelberg_params`).
    a0 : float
        Clearing price of the RTP rule ($/MWh).
    rule : PriceRule, optional
        RTP price rule (default: the paper's).

    Returns
    -------
    pandas.DataFrame
        One row per (model, day): forecast MAPE, Stackelberg realised company gain,
        users' bill and mean ``|price change|`` (forecast − perfect), RTP bill and mean
        ``|price change|``.

    Raises
    ------
    InstanceError
        Missing columns or no complete day.
    """
    need = {"model", "origin", "actual", "forecast"}
    if not need <= set(frame.columns):
        raise InstanceError([f"forecast table: missing column(s) {sorted(need - set(frame.columns))}"],
                            "game_value")
    params = params or stackelberg_params()
    rule = rule or PriceRule()
    rows = []
    for model, sub in frame.groupby("model", sort=False):
        for origin, (act, fc) in day_blocks(sub).items():
            label = str(origin.date())
            eff = forecast_effect(params, DayData(act, np.clip(fc, 0.0, None), label),
                                  DayData(act, act, label), [params.ir]).iloc[0]
            p_f, p_a = rtp_prices(fc, a0, rule), rtp_prices(act, a0, rule)
            rows.append({
                "model": model, "day": label, "MAPE": eff["forecast_mape_pct"],
                "stackelberg_company_gain_change": eff["company_gain_realised_forecast"] - eff["company_gain_perfect"],
                "stackelberg_bill_change": eff["users_bill_forecast"] - eff["users_bill_perfect"],
                "stackelberg_price_change": eff["mean_abs_price_change"],
                "rtp_bill_change": float((p_f - p_a) @ act), "rtp_price_change": float(np.mean(np.abs(p_f - p_a))),
            })
    if not rows:
        raise InstanceError(["forecast table: no complete day (24 hours with actual values)"], "game_value")
    return pd.DataFrame(rows)


def value_summary(per_day: pd.DataFrame) -> pd.DataFrame:
    """Means over the days per model, plus mean absolute bill changes and the number of days."""
    g = per_day.groupby("model", sort=False)
    out = g.mean(numeric_only=True)
    out["stackelberg_abs_bill_change"] = g["stackelberg_bill_change"].apply(lambda s: s.abs().mean())
    out["rtp_abs_bill_change"] = g["rtp_bill_change"].apply(lambda s: s.abs().mean())
    out["days"] = g.size()
    return out


def plot_value(summary: pd.DataFrame, path: str | Path, *, period: str = "") -> Path:
    """Bar chart of the leader's lost gain and the absolute bill and price changes per forecaster.

    ``period`` is appended to the title (e.g. ``"BPAT, 8 windows of 2021-2022"``).
    """
    from matplotlib.ticker import MaxNLocator

    fig, axes = new_figure(1, 3, title="Value of a forecast: the games played on each forecaster's day-ahead "
                           "output instead of the actual load" + (f" ({period})" if period else ""),
                           figsize=(14, 4.8))
    names = list(summary.index)
    y = np.arange(len(names))
    panels = [
        ("Stackelberg: company's realised utility gain\nforecast − perfect foresight",
         "Utility change (thousand $/day)", [("stackelberg_company_gain_change", "change", "tab:red")]),
        ("Users' bill: mean |forecast − perfect|", "Bill change (thousand $/day)",
         [("stackelberg_abs_bill_change", "Stackelberg", "tab:blue"), ("rtp_abs_bill_change", "RTP rule", "tab:orange")]),
        ("Prices: mean |forecast − perfect|", "Price change ($/MWh)",
         [("stackelberg_price_change", "Stackelberg", "tab:blue"), ("rtp_price_change", "RTP rule", "tab:orange")]),
    ]
    for ax, (title, unit, series) in zip(axes, panels):
        h = 0.8 / len(series)
        for j, (col, lab, color) in enumerate(series):
            scale = 1.0 if "($/" in unit else 1e-3
            ax.barh(y + (j - (len(series) - 1) / 2) * h, summary[col] * scale, height=h, color=color, label=lab)
        ax.set_yticks(y, names if ax is axes[0] else [""] * len(names))
        if ax is axes[0]:
            ax.set_ylabel("Forecaster")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(unit)
        ax.axvline(0, color="black", lw=0.8)
        ax.xaxis.set_major_locator(MaxNLocator(5))
        if len(series) > 1:
            place_legend(ax)
    axes[0].invert_yaxis()
    for ax in axes[1:]:
        ax.set_ylim(axes[0].get_ylim())
    return save_figure(fig, path)
