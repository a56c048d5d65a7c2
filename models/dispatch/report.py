"""Tables and the stacked dispatch figure of the economic-dispatch family."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.models.dispatch.config import DispatchData
from gridgames.models.report import RunReport
from gridgames.plotting import label, new_figure, place_legend, save_figure


def plot_dispatch(out: Path, data: DispatchData, name: str, values: np.ndarray) -> Path:
    """Stacked generator output of solver ``name`` against the load."""
    fig, ax = new_figure(title=f"Dispatch ({name})", xlabel=label("Hour", "h"), ylabel=label("Output", "MW"),
                         figsize=(8, 4))
    hours = np.arange(values.shape[1])
    ax.stackplot(hours, values, labels=[f"generator {g}" for g in range(values.shape[0])])
    ax.plot(hours, data.load.to_numpy(), "k--", label="load")
    place_legend(ax)
    return save_figure(fig, out / "dispatch.png")


def dispatch_report(title: str, data: DispatchData, table: pd.DataFrame, dispatch: dict[str, np.ndarray]
                    ) -> RunReport:
    """The solver table, a note on the prices, and the figure of the first solver that solved."""
    report = RunReport(f"{title}: economic dispatch, {len(data.a)} generators, "
                       f"{len(data.load)} h from {data.load.index[0]:%Y-%m-%d}", tables={"solvers": table})
    report.notes.append("mean_price is the mean dual of the balance rows ($/MWh): the same "
                        "sign convention (d objective / d load) for every solver that reports duals")
    if dispatch:
        name, values = next(iter(dispatch.items()))
        report.plotters.append(lambda out: [plot_dispatch(out, data, name, values)])
    return report
