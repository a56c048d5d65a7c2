"""PNG figures of the Stackelberg pricing study (matplotlib, Agg backend).

Each function writes one file under ``out`` and returns its path:
Figures 8-9 (load before/after with the price), Figure 10 (load for several
incentive rates), Figures 11-14 (the incentive-rate sweep, with the paper's
reported intervals shaded) and the multi-day peak reduction.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.models.stackelberg.params import DayData
from gridgames.models.stackelberg.report import PAPER_INTERVALS
from gridgames.plotting import pyplot as _pyplot
from gridgames.plotting import save_figure

log = logging.getLogger(__name__)


def _hours(day: DayData) -> np.ndarray:
    return np.arange(1, day.n + 1)


def plot_load_and_price(out: Path, day: DayData, load: np.ndarray, price: np.ndarray,
                        ir: float, r: float) -> Path:
    """Figures 8-9: original vs optimised load, price on a second axis."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    h = _hours(day)
    ax.plot(h, day.orl, color="saddlebrown", marker="o", ms=3, label="original load orl")
    ax.plot(h, load, color="tab:blue", marker="s", ms=3, label=f"optimised load (ir = {ir:g})")
    ax.axhline(day.d_avg, color="grey", ls=":", lw=1, label="d_avg")
    ax.set(xlabel="hour (ending)", ylabel="load (MW)", title=f"Load and price, {day.label}")
    ax2 = ax.twinx()
    ax2.step(h, price, where="mid", color="tab:red", label="price p_k")
    ax2.axhline(r, color="tab:red", ls="--", lw=0.8, label="price before (r)")
    ax2.set_ylabel("price ($/MWh)")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], fontsize=8, loc="upper left")
    return save_figure(fig, Path(out) / "fig08_09_load_price.png")


def plot_load_by_ir(out: Path, day: DayData, loads: dict[float, np.ndarray]) -> Path:
    """Figure 10: load curves for several incentive rates."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.2))
    h = _hours(day)
    ax.plot(h, day.orl, color="saddlebrown", lw=2, label="original")
    for ir, load in loads.items():
        style = {"color": "grey"} if ir == 0 else {}
        ax.plot(h, load, label=f"ir = {ir:g}" + (" (price only)" if ir == 0 else ""), **style)
    ax.set(xlabel="hour (ending)", ylabel="load (MW)", title=f"Peak shaving for several ir, {day.label}")
    ax.legend(fontsize=8)
    return save_figure(fig, Path(out) / "fig10_load_by_ir.png")


def plot_ir_sweep(out: Path, sweep: pd.DataFrame, day_label: str) -> Path:
    """Figures 11-14: fluctuation, company and user utility increase, welfare increase vs ir."""
    plt = _pyplot()
    panels = [("fluctuation_after", "fluctuation Σ(l − d_avg)²", "Fig. 11"),
              ("company_utility_increase", "company utility increase", "Fig. 12"),
              ("user_utility_increase", "user utility increase", "Fig. 13"),
              ("welfare_increase", "social welfare increase", "Fig. 14")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharex=True)
    ir = sweep.index.to_numpy(float)
    for ax, (col, label, fig_no) in zip(axes.ravel(), panels):
        ax.plot(ir, sweep[col], color="tab:blue", label="ours")
        ax.axhline(sweep[col].iloc[0], color="grey", ls=":", lw=1, label="ir = 0 (price only)")
        marks = PAPER_INTERVALS[col]
        if marks["best"]:
            ax.axvspan(*marks["best"], color="tab:green", alpha=0.15, label="paper: best interval")
        if marks["break_even"]:
            ax.axvspan(*marks["break_even"], color="tab:red", alpha=0.25,
                       label="paper: equals price-only")
        ax.set(title=f"{fig_no}: {label}", xlabel="incentive rate ir")
        ax.legend(fontsize=7)
    fig.suptitle(f"Incentive-rate sweep, {day_label}")
    return save_figure(fig, Path(out) / "fig11_14_ir_sweep.png")


def plot_daily_peaks(out: Path, summary: pd.DataFrame, ir: float) -> Path:
    """Multi-day runs: daily peak before/after and the peak reduction."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    x = pd.to_datetime(summary.index)
    ax1.plot(x, summary["peak_before"], color="saddlebrown", label="peak before")
    ax1.plot(x, summary["peak_after"], color="tab:blue", label=f"peak after (ir = {ir:g})")
    ax1.set(ylabel="MW", title="Daily peak load")
    ax1.legend(fontsize=8)
    ax2.bar(x, 100 * summary["peak_reduction"], color="tab:green", width=0.8)
    ax2.set(ylabel="peak reduction (%)", xlabel="day")
    fig.autofmt_xdate()
    return save_figure(fig, Path(out) / "daily_peak_reduction.png")
