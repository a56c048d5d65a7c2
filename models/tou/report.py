"""Tables and figures of the TOU community study (the paper's Tables 3-4, Figures 2-4)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgames.models.tou.model import TouParams
from gridgames.models.tou.solve import TouSolution
from gridgames.plotting import pyplot, save_figure


def methods_table(solutions: Sequence[TouSolution]) -> pd.DataFrame:
    """One row per solve: prices, objective, revenue, risk, time, evaluations, follower gap."""
    return pd.DataFrame([s.row() for s in solutions]).set_index(["method", "comfort_form"])


def households_table(sol: TouSolution) -> pd.DataFrame:
    """Per household: bills before/after, comfort cost, shifted energy, satisfaction (M, R, S)."""
    rows = [{"household": o.name, "weight": o.weight, "bill_before": o.bill_before, "bill_after": o.bill_after,
             "comfort_cost": o.comfort_cost, "shifted_kwh": o.shifted_kwh, "comfort_M": o.comfort_index,
             "reliability_R": o.reliability, "satisfaction": o.satisfaction} for o in sol.outcomes]
    return pd.DataFrame(rows).set_index("household")


def transactions_table(sol: TouSolution, params: TouParams, when: str) -> pd.DataFrame:
    """Tables 3-4: energy exchanged with the grid per price period (kWh; purchases +, sales −)."""
    per = np.array(params.hour_period())
    rows = []
    for o in sol.outcomes:
        buy, sell = (o.buy_before, o.sell_before) if when == "before" else (o.buy_after, o.sell_after)
        row: dict[str, Any] = {"household": o.name}
        for k in params.names:
            mask = per == k
            row[f"{k}_buy"] = float(buy[mask].sum())
            row[f"{k}_sell"] = -float(sell[mask].sum())
        row["net_kwh"] = float(buy.sum() - sell.sum())
        row["volume_kwh"] = float(buy.sum() + sell.sum())
        rows.append(row)
    return pd.DataFrame(rows).set_index("household")


def plot_convergence(out: Path, trace: pd.DataFrame) -> Path:
    """Figure 2: the best chromosome's prices and the households' answer, per generation."""
    path = out / "fig2_ga_convergence.png"
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for col in [c for c in trace.columns if c.startswith("p_")]:
        a1.plot(trace["generation"], trace[col], marker=".", label=col[2:])
    a1.set_ylabel("price (yuan/kWh)")
    a1.legend()
    a1.set_title("elitist GA: seller's best prices and households' response")
    a2.plot(trace["generation"], trace["shifted_kwh"], marker=".", color="C2", label="shifted energy")
    a2.set_ylabel("shifted energy (kWh)")
    ax = a2.twinx()
    ax.plot(trace["generation"], trace["objective"], color="C3", label="seller objective")
    ax.set_ylabel("E[R] − β Var (yuan)")
    a2.set_xlabel("generation")
    return save_figure(fig, path)


def plot_sweep(out: Path, table: pd.DataFrame, what: str, name: str, label: str) -> Path:
    """Figures 3-4: peak/valley prices and shifted energy against a parameter."""
    path = out / name
    plt = pyplot()
    fig, a1 = plt.subplots(figsize=(7, 4))
    for col in [c for c in table.columns if c.startswith("p_")]:
        a1.plot(table[what], table[col], marker="o", label=col[2:])
    a1.set_xlabel(label)
    a1.set_ylabel("price (yuan/kWh)")
    a2 = a1.twinx()
    a2.plot(table[what], table["shifted_kwh"], marker="s", color="C2", ls="--", label="shifted energy")
    a2.set_ylabel("shifted energy (kWh)")
    lines = a1.get_legend_handles_labels()
    more = a2.get_legend_handles_labels()
    a1.legend(lines[0] + more[0], lines[1] + more[1], loc="best")
    return save_figure(fig, path)


def plot_transactions(out: Path, before: pd.DataFrame, after: pd.DataFrame) -> Path:
    """Net grid exchange per household before and after (purchases +, sales −)."""
    path = out / "transactions.png"
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(before))
    ax.bar(x - 0.2, before["net_kwh"], 0.4, label="before")
    ax.bar(x + 0.2, after["net_kwh"], 0.4, label="after")
    ax.set_xticks(x, before.index)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("net energy from the grid (kWh/day)")
    ax.legend()
    return save_figure(fig, path)
