"""Tables and figures of the microgrid family: the data behind Figures 5-8 and their PNGs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from gridgames.models.microgrid.baselines import Outcome
from gridgames.plotting import pyplot, save_figure


def figure_tables(outcomes: dict[int, list[Outcome]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (buyer count, method): averages of Figures 5-6; per seller: Figures 7-8."""
    rows, sellers = [], []
    for n, outs in outcomes.items():
        for o in outs:
            rows.append({"buyers": n, "method": o.method, "status": o.status,
                         "avg_consumption_MWh": o.consumption.mean(),
                         "avg_expenditure_yuan": o.expenditure.mean(),
                         "avg_unit_cost_yuan_per_MWh": o.expenditure.sum() / max(o.consumption.sum(), 1e-12),
                         "avg_price": o.seller_price.mean(), "total_seller_profit": o.seller_profit.sum(),
                         "storage_use_MWh": o.storage_use.mean() if o.storage_use is not None else 0.0})
            for m, (e, p, pr) in enumerate(zip(o.seller_energy, o.seller_price, o.seller_profit)):
                sellers.append({"buyers": n, "method": o.method, "seller": f"MG{m + 1}", "energy_MWh": e,
                                "price": p, "profit": pr})
    return (pd.DataFrame(rows).set_index(["buyers", "method"]),
            pd.DataFrame(sellers).set_index(["buyers", "method", "seller"]))


def plot_figures(summary: pd.DataFrame, sellers: pd.DataFrame, out: Path) -> list[Path]:
    """figure5_consumption.png ... figure8_price.png."""
    plt = pyplot()
    written = []
    for name, column, label in (("figure5_consumption", "avg_consumption_MWh",
                                 "average consumption per buyer (MWh)"),
                                ("figure6_expenditure", "avg_expenditure_yuan", "average expenditure per buyer (yuan)")):
        fig, ax = plt.subplots(figsize=(7, 4))
        for method, grp in summary[column].groupby(level="method"):
            ax.plot(grp.index.get_level_values("buyers"), grp.to_numpy(), marker="o", label=method)
        ax.set_xlabel("number of buyers")
        ax.set_ylabel(label)
        ax.legend()
        ax.grid(alpha=0.3)
        written.append(save_figure(fig, out / f"{name}.png", dpi=120))
    counts = sorted(set(sellers.index.get_level_values("buyers")))
    order = list(dict.fromkeys(sellers.index.get_level_values("seller")))   # MG1, MG2, ..., MG10
    for name, column, label in (("figure7_seller_energy", "energy_MWh", "energy sold (MWh)"),
                                ("figure8_seller_price", "price", "price (yuan/MWh)")):
        fig, axes = plt.subplots(1, len(counts), figsize=(3.2 * len(counts), 3.6), sharey=True, squeeze=False)
        for ax, n in zip(axes[0], counts):
            table = sellers.loc[n, column].unstack("method").reindex(order)
            table.plot.bar(ax=ax, width=0.8, legend=False)
            ax.set_title(f"{n} buyers")
            ax.set_xlabel("seller")
            ax.set_ylabel(label)
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels))
        written.append(save_figure(fig, out / f"{name}.png", dpi=120, rect=(0, 0.08, 1, 1)))
    return written
