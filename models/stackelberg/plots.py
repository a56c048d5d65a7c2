"""PNG figures of the Stackelberg pricing study (matplotlib, Agg backend).

Each function writes one file under ``out`` and returns its path:
Figures 8-9 (load before/after with the price), Figure 10 (load for several
incentive rates), Figures 11-14 (the incentive-rate sweep, with the paper's
reported intervals shaded on the paper's case only) and the multi-day peak reduction.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.models.stackelberg.params import DayData
from gridgames.models.stackelberg.report import PAPER_INTERVALS
from gridgames.plotting import (format_date_axis, label, new_figure, place_legend, plot_series, save_figure,
                                twin_axis)

log = logging.getLogger(__name__)


def _hours(day: DayData) -> np.ndarray:
    return np.arange(1, day.n + 1)


def _hour_label(day: DayData) -> str:
    """The hour axis: clock hours on a 24-hour day, numbered periods on a clock-change day (23 or 25)."""
    if day.n == 24:
        return label("Hour ending", "h")
    return label(f"Hourly period of the day (1-{day.n}: a clock-change day)")


def plot_load_and_price(out: Path, day: DayData, load: np.ndarray, price: np.ndarray,
                        ir: float, r: float) -> Path:
    """Figures 8-9: original vs optimised load, price on a second axis."""
    fig, ax = new_figure(title=f"Load and price, {day.label}", xlabel=_hour_label(day),
                         ylabel=label("Load", "MW"), figsize=(8, 4.2))
    h = _hours(day)
    ax.plot(h, day.orl, color="saddlebrown", marker="o", ms=3, label="original load orl")
    ax.plot(h, load, color="tab:blue", marker="s", ms=3, label=f"optimised load (ir = {ir:g})")
    ax.axhline(day.d_avg, color="grey", ls=":", lw=1, label="d_avg")
    ax2 = twin_axis(ax, label("Price", "$/MWh"))
    ax2.step(h, price, where="mid", color="tab:red", label="price p_k")
    ax2.axhline(r, color="tab:red", ls="--", lw=0.8, label="price before (r)")
    place_legend(ax)
    return save_figure(fig, Path(out) / "fig08_09_load_price.png")


def plot_load_by_ir(out: Path, day: DayData, loads: dict[float, np.ndarray]) -> Path:
    """Figure 10: load curves for several incentive rates."""
    fig, ax = new_figure(title=f"Peak shaving for several ir, {day.label}", xlabel=_hour_label(day),
                         ylabel=label("Load", "MW"), figsize=(8, 4.2))
    h = _hours(day)
    ax.plot(h, day.orl, color="saddlebrown", lw=2, label="original")
    for ir, load in loads.items():
        style = {"color": "grey"} if ir == 0 else {}
        ax.plot(h, load, label=f"ir = {ir:g}" + (" (price only)" if ir == 0 else ""), **style)
    place_legend(ax)
    return save_figure(fig, Path(out) / "fig10_load_by_ir.png")


def plot_ir_sweep(out: Path, sweep: pd.DataFrame, day_label: str, *, paper: bool = False) -> Path:
    """Figures 11-14: fluctuation, company and user utility increase, welfare increase vs ir.

    ``paper=True`` (the paper's case only) shades the paper's reported intervals.
    """
    panels = [("fluctuation_after", "Fluctuation Σ(l − d_avg)²", "MW²", "Fig. 11"),
              ("company_utility_increase", "Company utility increase", "$", "Fig. 12"),
              ("user_utility_increase", "User utility increase", "$", "Fig. 13"),
              ("welfare_increase", "Social welfare increase", "$", "Fig. 14")]
    fig, axes = new_figure(2, 2, title=f"Incentive-rate sweep, {day_label}", figsize=(10, 7), sharex=True)
    ir = sweep.index.to_numpy(float)
    for ax, (col, quantity, unit, fig_no) in zip(axes.ravel(), panels):
        plot_series(ax, ir, sweep[col], color="tab:blue", label="ours")
        ax.axhline(sweep[col].iloc[0], color="grey", ls=":", lw=1, label="ir = 0 (price only)")
        marks = PAPER_INTERVALS[col] if paper else {"best": None, "break_even": None}
        if marks["best"]:
            ax.axvspan(*marks["best"], color="tab:green", alpha=0.15, label="paper: best interval")
        if marks["break_even"]:
            ax.axvspan(*marks["break_even"], color="tab:red", alpha=0.25,
                       label="paper: equals price-only")
        ax.set(title=f"{fig_no}: {quantity}", xlabel=label("Incentive rate ir", "$/MWh"),
               ylabel=label(quantity, unit))
        place_legend(ax, fontsize=7)
    return save_figure(fig, Path(out) / "fig11_14_ir_sweep.png")


def plot_daily_peaks(out: Path, summary: pd.DataFrame, ir: float) -> Path:
    """Multi-day runs: daily peak before/after and the peak reduction."""
    fig, (ax1, ax2) = new_figure(2, 1, title=f"Daily peak load and its reduction (ir = {ir:g})",
                                 figsize=(9, 6), sharex=True)
    x = pd.to_datetime(summary.index)
    plot_series(ax1, x, summary["peak_before"], color="saddlebrown", label="peak before")
    plot_series(ax1, x, summary["peak_after"], color="tab:blue", label=f"peak after (ir = {ir:g})")
    ax1.set(ylabel=label("Daily peak", "MW"), title="Daily peak load")
    place_legend(ax1)
    ax2.bar(x, 100 * summary["peak_reduction"], color="tab:green", width=0.8)
    ax2.set(ylabel=label("Peak reduction", "%"), xlabel=label("Day", "date"), title="Peak reduction")
    format_date_axis(ax2)
    return save_figure(fig, Path(out) / "daily_peak_reduction.png")
