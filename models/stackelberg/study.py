"""Stackelberg pricing game on real BPAT data (Symmetry 2023, 15, 443).

The utility (leader) sets hourly prices p_k, the users (follower) choose their
consumption l_k; the model, its equations and our readings of the paper's
garbled parts are in :mod:`gridgames.models.stackelberg.analytic` (Appendix A
re-derived) and ``docs/stackelberg.md`` (day choice and discrepancy note).

Modules of this model family:

* :mod:`~gridgames.models.stackelberg.params`: parameters, day data, validation;
* :mod:`~gridgames.models.stackelberg.data`: days cut out of the EIA-930 files;
* :mod:`~gridgames.models.stackelberg.model`: the Pyomo bilevel declaration;
* :mod:`~gridgames.models.stackelberg.analytic`: the exact closed-form equilibrium;
* :mod:`~gridgames.models.stackelberg.config`: instance sections, checked;
* :mod:`~gridgames.models.stackelberg.solve`: one day, an ir sweep, many days, any method;
* :mod:`~gridgames.models.stackelberg.report`, :mod:`~gridgames.models.stackelberg.plots`:
  Tables 7-9 with the paper's values, figures;
* this module: the study (:class:`StackelbergStudy`, :func:`run`), its report, registration.

``run(instance, method=...)`` solves with ``"analytic"`` (numpy, vectorised)
or hands the same Pyomo model to :func:`gridgames.solvers.solve_bilevel`
(``"kkt"``, ``"kkt-bigm"``, ``"nested"``).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgames.models.instance import Instance, register_study
from gridgames.models.report import RunReport, format_table
from gridgames.models.stackelberg.analytic import analytic_equilibrium
from gridgames.models.stackelberg.fields import FIELDS
from gridgames.models.stackelberg.config import StackelbergConfig, load_config
from gridgames.models.stackelberg.model import analytic_values, build_model
from gridgames.models.stackelberg.params import DayData, StackelbergParams, UserClass
from gridgames.models.stackelberg.plots import (plot_daily_peaks, plot_ir_sweep, plot_load_and_price,
                                                plot_load_by_ir)
from gridgames.models.stackelberg.report import comparison_table, paper_case_differences, paper_table
from gridgames.models.stackelberg.data import day_data
from gridgames.models.stackelberg.solve import METHODS, forecast_effect, multi_day, solve_day, sweep_ir
from gridgames.models.study import Option, Study

log = logging.getLogger(__name__)

__all__ = ["METHODS", "STUDY", "DayData", "StackelbergStudy", "StackelbergConfig", "StackelbergParams", "StackelbergReport",
           "UserClass", "analytic_equilibrium", "analytic_values", "build_model", "format_report",
           "load_config", "multi_day", "run", "solve_day", "sweep_ir"]


# --------------------------------------------------------------------------
# The run: Tables 7-9, figures, multi-day summary
# --------------------------------------------------------------------------
@dataclass
class StackelbergReport(RunReport):
    """Result of :func:`run`.

    Attributes
    ----------
    table : DataFrame
        One day: the long Tables 7-9 comparison (index table, quantity, ir;
        columns ours, paper, rel_diff).  Several days: the per-day summary.
    sweep : DataFrame or None
        The ir sweep (index ir) of Figures 11-14.
    printed : list of str
        Names of :attr:`tables` that :meth:`format` prints (all are written).
    """

    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    sweep: pd.DataFrame | None = None
    printed: list[str] = field(default_factory=list)

    def format(self) -> str:
        parts = [self.title, "=" * len(self.title)]
        for name in self.printed:
            parts += ["", f"[{name}]", format_table(self.tables[name])]
        if self.notes:
            parts += [""] + [f"note: {line}" for line in self.notes]
        return "\n".join(parts)


def format_report(result: StackelbergReport) -> str:
    """The text the CLI prints for a run."""
    return result.format()


def _equilibrium_frame(day: DayData, sols: dict[float, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    cols: dict[str, np.ndarray] = {"orl": day.orl, "d": day.d}
    for ir, (p, l) in sols.items():
        cols[f"p_ir{ir:g}"] = p
        cols[f"l_ir{ir:g}"] = np.atleast_2d(l).sum(axis=0)
    index = day.index if day.index is not None else pd.RangeIndex(1, day.n + 1, name="hour")
    return pd.DataFrame(cols, index=index)


def _run_single(cfg: StackelbergConfig, day: DayData, method: str, solver: str | None,
                options: dict[str, Any], title: str) -> StackelbergReport:
    params = cfg.params
    metrics, sols = sweep_ir(params, day, cfg.study_ir, method=method, solver=solver, **options)
    differences = paper_case_differences(params, cfg.days, cfg.data.tz, cfg.data.convention,
                                         cfg.demand_forecast, day)
    is_paper = not differences
    long = comparison_table({ir: row.to_dict() for ir, row in metrics.iterrows()}, paper=is_paper)
    start, stop, step = cfg.sweep
    grid = np.round(np.arange(start, stop + step / 2, step), 10)
    # The nested (evolutionary) method takes minutes per game: its sweep of ~80
    # games would take hours, so the sweep then uses the analytic method (noted).
    sweep_method = "analytic" if method == "nested" else method
    sweep, _ = sweep_ir(params, day, grid, method=sweep_method,
                        solver=None if sweep_method == "analytic" else solver,
                        **({} if sweep_method == "analytic" else options))
    key = round(float(params.ir), 10)
    p_op, l_op = sols[key] if key in sols else solve_day(params, day, method=method, solver=solver, **options)
    tables = {"comparison": long, "table7": paper_table(long, "table7"), "table8": paper_table(long, "table8"),
              "table9": paper_table(long, "table9"), "ir_sweep": sweep,
              "equilibrium": _equilibrium_frame(day, {**sols, **({params.ir: (p_op, l_op)})})}
    report = StackelbergReport(title=title + (" vs the paper" if is_paper else " (not the paper's case)"),
                               tables=tables, table=long, sweep=sweep,
                               printed=["table7", "table8", "table9"])
    best_fl = float(sweep["fluctuation_after"].idxmin())
    best_w = float(sweep["welfare_increase"].idxmax())
    report.notes += [
        f"day {day.label}: {day.n} periods ({cfg.data.convention!r} days in {cfg.data.tz}), "
        f"orl = actual load, d = {cfg.demand_forecast!r}, d_avg = {day.d_avg:,.2f} MW",
        f"price floor read as {params.price_floor!r}; method {method}"
        + (f", solver {solver}" if solver else ""),
        f"sweep ir {start:g}..{stop:g} step {step:g}: lowest fluctuation at ir = {best_fl:g}, "
        f"highest welfare increase at ir = {best_w:g}" + (" (paper: best in (3, 5) and (3, 4))" if is_paper else ""),
        "rel_diff = (ours - paper) / |paper|; why they differ: docs/stackelberg.md" if is_paper else
        "not the paper's case, so no paper values or intervals are shown: " + "; ".join(differences),
    ]
    if sweep_method != method:
        report.notes.append(f"the ir sweep (Figures 11-14) used the {sweep_method} method, not {method}")
    if cfg.demand_forecast != "actual":
        truth = day_data(cfg.data, cfg.days[0], "actual")
        report.tables["forecast_effect"] = forecast_effect(params, day, truth, cfg.study_ir)
        report.printed.append("forecast_effect")
        report.notes.append(f"forecast_effect: the equilibrium priced on d = {cfg.demand_forecast!r} vs on "
                            "perfect foresight (d = actual load), analytic method; peaks are the users' realised "
                            "response, gains are as planned (scored on each side's own d_avg)")
    loads = {ir: np.atleast_2d(l).sum(axis=0) for ir, (_, l) in sols.items()}

    def plots(out: Path) -> list[Path]:
        return [plot_load_and_price(out, day, np.atleast_2d(l_op).sum(axis=0), p_op, params.ir, params.r),
                plot_load_by_ir(out, day, loads),
                plot_ir_sweep(out, sweep, day.label, paper=is_paper)]

    report.plotters.append(plots)
    return report


def _run_multi(cfg: StackelbergConfig, method: str, solver: str | None, options: dict[str, Any],
               title: str) -> StackelbergReport:
    days = [cfg.day(d) for d in cfg.days]
    summary = multi_day(cfg.params, days, method=method, solver=solver, **options)
    cols = ["fluctuation_before", "fluctuation_after", "drop_ratio", "consumption_reduction",
            "reduction_rate", "peak_before", "peak_after", "peak_reduction",
            "company_utility_increase", "user_utility_increase", "welfare_increase"]
    stats = summary[cols].agg(["mean", "min", "max"]).T
    report = StackelbergReport(title=title, tables={"daily": summary, "summary": stats}, table=summary,
                               printed=["summary"])
    report.notes += [
        f"{len(days)} days {days[0].label} to {days[-1].label}, ir = {cfg.params.ir:g}, method {method}, "
        f"d = {cfg.demand_forecast!r}, price floor {cfg.params.price_floor!r}",
        f"mean daily peak reduction {100 * summary['peak_reduction'].mean():.2f} %; per-day rows in daily.csv",
    ]
    report.plotters.append(lambda out: [plot_daily_peaks(out, summary, cfg.params.ir)])
    return report


class StackelbergStudy(Study):
    """``model = "stackelberg_pricing"``: Tables 7-9 and the ir sweep on one day, or a summary over many days.

    One day: Tables 7-9 for the instance's incentive rates, with the paper's
    values beside ours when the run is the paper's case
    (:func:`~gridgames.models.stackelberg.report.paper_case_differences`), the ir sweep of Figures 11-14 and the figures.  Several
    days: one game per day, a summary table and the daily peak reduction plot.
    ``day``, ``days`` and ``demand_forecast`` override the instance's ``[data]``
    choices; ``solver`` goes to ``solve_bilevel`` (non-analytic methods).
    """

    name = "stackelberg_pricing"
    fields = FIELDS
    description = ("utility/users Stackelberg pricing game with incentives (Symmetry 2023, 15, 443) "
                   "on BPAT data: Tables 7-9, ir sweep, multi-day")
    methods = METHODS
    default_method = "analytic"
    options = (
        Option("day", str, help="one day of the data (YYYY-MM-DD) instead of the instance's"),
        Option("days", str, nargs=2, metavar=("FIRST", "LAST"), help="a range of days, one game per day"),
        Option("demand_forecast", str, help='d_k: "eia", "actual" or a forecaster name (see `gridgames forecast`)'),
    )

    def load(self, instance: Instance, options: Mapping[str, Any]) -> tuple[str, StackelbergConfig]:
        return instance.name, load_config(instance, day=options["day"], days=options["days"],
                                          demand_forecast=options["demand_forecast"])

    def solve(self, config: tuple[str, StackelbergConfig], *, method: str | None, solver: str | None,
              options: Mapping[str, Any], out: Path | None = None) -> StackelbergReport:
        name, cfg = config
        method = method or self.default_method
        if len(cfg.days) == 1:
            d = cfg.day(cfg.days[0])
            return _run_single(cfg, d, method, solver, {},
                               f"{name}: Stackelberg pricing on {d.label}, Tables 7-9")
        return _run_multi(cfg, method, solver, {}, f"{name}: Stackelberg pricing, {len(cfg.days)} days")


STUDY = register_study(StackelbergStudy())
#: ``run(instance, method="analytic", solver=None, day=None, days=None, demand_forecast=None)``
run = STUDY.run
