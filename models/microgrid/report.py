"""Tables and figures of the microgrid family: the data behind Figures 5-8 and their PNGs."""
from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gridgames.models.microgrid.baselines import Outcome
from gridgames.plotting import label, new_figure, outside_legend, place_legend, plot_series, save_figure


#: what each equilibrium method's answer is (a heuristic's row is not an exact equilibrium)
METHOD_ANSWERS = {"vectorised": "exact (aggregative fixed point)", "gauss-seidel": "exact (best responses)",
                  "jacobi": "exact (best responses)", "kkt": "KKT point (Ipopt; equilibrium for concave players)",
                  "kkt-nlp": "KKT point (Ipopt; equilibrium for concave players)",
                  "pso": "heuristic (feasible)", "pso-vectorised": "heuristic (feasible)"}


def method_answer(method: str) -> str:
    """``"exact (...)"``, ``"local (...)"`` or ``"heuristic (feasible)"`` for a microgrid method."""
    return METHOD_ANSWERS.get(method, "unknown")


_OPERATOR = re.compile(r"[*/^+=<>]|(?:log|exp|sqrt|sin|cos)\(|^-$")


def _strip_expressions(text: str) -> str:
    """``text`` without the algebraic expressions in it (operator tokens and their operands)."""
    tokens = text.split()
    expr = [bool(_OPERATOR.search(t)) for t in tokens]
    drop = list(expr)
    for i, is_op in enumerate(expr):          # the operands on both sides of an operator
        if is_op and ("=" in tokens[i] or "<" in tokens[i] or ">" in tokens[i] or len(tokens[i]) <= 2):
            for j in (i - 1, i + 1):
                if 0 <= j < len(tokens):
                    drop[j] = True
    kept = " ".join(t for t, d in zip(tokens, drop) if not d)
    for opening, closing in ("()", "[]"):
        while kept.count(closing) > kept.count(opening):
            kept = kept.replace(closing, "", 1)
    return re.sub(r"\s+([,;:.)])", r"\1", kept)


def short_error(exc: BaseException, width: int = 100) -> str:
    """A table cell for a method that did not run: ``not run: Type: first line``, no model expression.

    Only the first line of the message is kept, algebraic expressions in it
    (a Pyomo objective or constraint printed into the message) are left out,
    and the cell is at most ``width`` characters.

    >>> short_error(ValueError("player b[3]: objective 2*x[1]**2 + log(1 + x[2]) is not concave\\nmore"))
    'not run: ValueError: player b[3]: objective is not concave'
    """
    text = _strip_expressions((str(exc).strip().splitlines() or [""])[0])
    cell = f"not run: {type(exc).__name__}: {text}"
    return cell if len(cell) <= width else cell[: width - 1] + "…"


def market_notes(rows: Sequence[dict[str, Any]], floor_inactive: bool) -> list[str]:
    """Notes on what happened in the markets solved: capacity binding or not, price floor active or not."""
    binding = [r["buyers"] for r in rows if r.get("market") == "capacity_binding"]
    cleared = [r["buyers"] for r in rows if r.get("market") != "capacity_binding"]
    notes = []
    if binding:
        notes.append(f"capacity binds at {', '.join(map(str, binding))} buyers: requests rationed by a common "
                     "scarcity surcharge mu_m per seller (variational equilibrium); consumption per buyer then "
                     "falls as sum(G)/N (Figure 5's shape)")
    if cleared:
        notes.append(f"capacity does not bind at {', '.join(map(str, cleared))} buyers: every request is served "
                     "(mu = 0)")
    notes.append("price floor inactive (A_m >= c_m + eps_m for every seller)" if floor_inactive else
                 "price floor active for some seller: prices are kinked at the floor (methods needing smooth "
                 "payoffs, kkt-nlp, refuse the market)")
    return notes


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
