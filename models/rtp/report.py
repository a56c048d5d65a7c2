"""PNG figures of the RTP study (matplotlib, Agg): Figures 4, 7, 10 and the Pareto fronts."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from gridgames.plotting import label, new_figure, place_legend, save_figure


def _save(fig, path: Path) -> Path:
    return save_figure(fig, path, dpi=120)


def plot_prices(out: Path, rtp: np.ndarray, step_prices: np.ndarray, step_edges: tuple, dates: list[str],
                a0_source: str = "the price file") -> Path:
    """Figure 4: the week's real-time prices and the step tariff's block prices ($/kWh).

    ``a0_source`` names where the daily A0 came from (file and first day), for the title.
    """
    fig, ax = new_figure(title=f"Figure 4: real-time price vs step tariff (load-forecast days; A0 from "
                               f"{a0_source})", xlabel=label("Day", "date"), ylabel=label("Price", "$/MWh"),
                         figsize=(9, 4))
    hours = np.arange(rtp.size)
    ax.step(hours, 1000 * rtp.ravel(), where="post", label="real-time price (eq. 4)")
    edges = [0.0, *step_edges]
    for p, lo in zip(step_prices, edges):
        ax.axhline(1000 * p, ls="--", lw=1, color="grey")
        ax.text(rtp.size - 1, 1000 * p, f"step tariff > {lo:g} kWh/day", va="bottom", ha="right", fontsize=7)
    ax.set_xticks(np.arange(0, rtp.size + 1, 24), labels=[*dates, ""][: rtp.size // 24 + 1], fontsize=7)
    place_legend(ax)
    return _save(fig, out / "fig4_rtp_vs_step.png")


def plot_consumption(out: Path, pref: np.ndarray, plan: np.ndarray, title: str, name: str) -> Path:
    """Figure 7: consumption under the step tariff (own schedule) and under RTP (planning unit)."""
    fig, ax = new_figure(title=title, xlabel=label("Hour of the week", "h"), ylabel=label("Consumption", "kW"),
                         figsize=(9, 4))
    hours = np.arange(pref.size)
    ax.step(hours, pref.ravel(), where="post", label="step tariff (own schedule)")
    ax.step(hours, plan.ravel(), where="post", label="real-time price (planning unit)")
    place_legend(ax)
    return _save(fig, out / name)


def plot_appliances(out: Path, power: dict[str, np.ndarray]) -> Path:
    """Figure 10: power of each appliance by hour at the weighted-sum (scene 2) schedule."""
    fig, ax = new_figure(title="Figure 10: appliance power, scene 2 (weighted sum)", xlabel=label("Hour", "h"),
                         ylabel=label("Power", "kW"), figsize=(9, 4.5))
    import matplotlib  # noqa: PLC0415 (already loaded by new_figure)
    cmap = matplotlib.colormaps["tab20"]
    bottom = np.zeros(len(next(iter(power.values()))))
    hours = np.arange(bottom.size)
    for i, (name, p) in enumerate(power.items()):
        if np.any(p > 0):
            ax.bar(hours, p, bottom=bottom, label=name, width=0.9, color=cmap(i % 20))
            bottom += p
    place_legend(ax, fontsize=7, ncol=4)
    return _save(fig, out / "fig10_appliance_power.png")


def plot_fronts(out: Path, fronts: dict[str, np.ndarray], weighted: tuple[float, float]) -> Path:
    """Pareto fronts (bill f1 vs welfare f2) with the weighted-sum point marked."""
    fig, ax = new_figure(title="Pareto fronts: exact ε-constraint, NSGA-II, MOPSO (heuristics)",
                         xlabel=label("f1: bill − incentive + priority cost", "$/day"),
                         ylabel=label("f2: social welfare", "$/day"), figsize=(7, 5))
    styles = {"exact": dict(marker="o", ls="-", color="k"), "nsga2": dict(marker="x", ls="", color="tab:blue"),
              "nsga2-moves": dict(marker="1", ls="", color="tab:cyan"),
              "mopso": dict(marker="+", ls="", color="tab:orange"),
              "mopso-plain": dict(marker=".", ls="", color="tab:brown"),
              "mopso-anchored": dict(marker="2", ls="", color="tab:green")}
    for name, F in fronts.items():
        F = F[np.argsort(F[:, 0])]
        # heuristic fronts are point sets: markers only, unless a style says otherwise
        ax.plot(F[:, 0], F[:, 1], label=name, **styles.get(name, dict(marker="^", ls="")))
    ax.plot(*weighted, marker="*", ms=16, color="red", ls="", label="weighted sum (eq. 13-15)")
    place_legend(ax)
    return _save(fig, out / "pareto_fronts.png")
