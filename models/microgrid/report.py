"""Tables and figures of the microgrid family: the data behind Figures 5-8 and their PNGs."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from gridgames.models.microgrid.baselines import Outcome
from gridgames.plotting import label, new_figure, outside_legend, place_legend, plot_series, save_figure


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
    written = []
    for name, column, title, ylabel in (
            ("figure5_consumption", "avg_consumption_MWh", "Figure 5: average consumption per buyer",
             label("Consumption per buyer", "MWh")),
            ("figure6_expenditure", "avg_expenditure_yuan", "Figure 6: average expenditure per buyer",
             label("Expenditure per buyer", "yuan"))):
        fig, ax = new_figure(title=title, xlabel=label("Number of buyers"), ylabel=ylabel)
        for method, grp in summary[column].groupby(level="method"):
            plot_series(ax, grp.index.get_level_values("buyers"), grp.to_numpy(), marker="o", label=method)
        place_legend(ax)
        ax.grid(alpha=0.3)
        written.append(save_figure(fig, out / f"{name}.png", dpi=120))
    counts = sorted(set(sellers.index.get_level_values("buyers")))
    order = list(dict.fromkeys(sellers.index.get_level_values("seller")))   # MG1, MG2, ..., MG10
    for name, column, title, ylabel in (("figure7_seller_energy", "energy_MWh", "Figure 7: energy sold per seller",
                                         label("Energy sold", "MWh")),
                                        ("figure8_seller_price", "price", "Figure 8: price per seller",
                                         label("Price", "yuan/MWh"))):
        fig, axes = new_figure(1, len(counts), title=title, figsize=(3.2 * len(counts) + 1.5, 3.8),
                               sharey=True, squeeze=False)
        for ax, n in zip(axes[0], counts):
            table = sellers.loc[n, column].unstack("method").reindex(order)
            table.plot.bar(ax=ax, width=0.8, legend=False)
            ax.set_title(f"{n} buyers")
            ax.set_xlabel("Seller")
            ax.set_ylabel(ylabel)
        outside_legend(axes[0][-1], *axes[0][0].get_legend_handles_labels())
        written.append(save_figure(fig, out / f"{name}.png", dpi=120))
    return written
