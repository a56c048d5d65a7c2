"""Tables and figures of the TOU community study (the paper's Tables 3-4, Figures 2-4)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgames.models.tou.model import TouParams
from gridgames.models.tou.solve import TouSolution
from gridgames.plotting import label, new_figure, place_legend, plot_series, save_figure, twin_axis


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
    fig, (a1, a2) = new_figure(2, 1, title="Figure 2: elitist GA convergence (heuristic)", figsize=(7, 6),
                               sharex=True)
    gens = trace["generation"]
    for col in [c for c in trace.columns if c.startswith("p_")]:
        plot_series(a1, gens, trace[col], marker=".", label=f"{col[2:]} price")
    a1.set(title="Seller's best prices", ylabel=label("Price", "yuan/kWh"))
    place_legend(a1)
    plot_series(a2, gens, trace["shifted_kwh"], marker=".", color="C2", label="shifted energy (left)")
    a2.set(title="Households' response and seller objective", ylabel=label("Shifted energy", "kWh"),
           xlabel=label("Generation", "–"))
    twin = twin_axis(a2, label("Seller objective E[R] − β Var", "yuan"))
    plot_series(twin, gens, trace["objective"], color="C3", label="seller objective (right)")
    place_legend(a2)
    return save_figure(fig, path)


def plot_sweep(out: Path, table: pd.DataFrame, what: str, name: str, xlabel: str, title: str = "") -> Path:
    """Figures 3-4: peak/valley prices (left axis) and shifted energy (right axis) against a parameter."""
    path = out / name
    fig, a1 = new_figure(title=title or f"Prices and shifted energy against {what.replace('_', ' ')}",
                         xlabel=xlabel, ylabel=label("Price", "yuan/kWh"))
    for col in [c for c in table.columns if c.startswith("p_")]:
        plot_series(a1, table[what], table[col], marker="o", label=f"{col[2:]} price (left)")
    a2 = twin_axis(a1, label("Shifted energy", "kWh"))
    plot_series(a2, table[what], table["shifted_kwh"], marker="s", color="C2", ls="--",
                label="shifted energy (right)")
    place_legend(a1)
    return save_figure(fig, path)


def plot_transactions(out: Path, before: pd.DataFrame, after: pd.DataFrame) -> Path:
    """Net grid exchange per household before and after (purchases +, sales −)."""
    path = out / "transactions.png"
    fig, ax = new_figure(title="Net energy from the grid per household, before and after the TOU prices",
                         xlabel="Household", ylabel=label("Net energy from the grid", "kWh/day"))
    x = np.arange(len(before))
    ax.bar(x - 0.2, before["net_kwh"], 0.4, label="before")
    ax.bar(x + 0.2, after["net_kwh"], 0.4, label="after")
    ax.set_xticks(x, before.index)
    ax.axhline(0, color="k", lw=0.5)
    place_legend(ax)
    return save_figure(fig, path)
