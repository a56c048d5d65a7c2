"""A small multi-period economic dispatch: the solver-comparison instance.

Generators g with quadratic cost ``a_g P² + b_g P`` meet a real hourly load
``D_t`` (BPAT, one day) within capacity and ramp limits::

    min  Σ_t Σ_g a_g P_gt² + b_g P_gt
    s.t. Σ_g P_gt = D_t                      (balance, dual = marginal price)
         Pmin_g ≤ P_gt ≤ Pmax_g
         |P_gt − P_g,t−1| ≤ R_g

A convex QP with linear constraints, so HiGHS, Ipopt, SCIP and scipy must
all agree on the optimum; the duals of the balance rows are the hourly
marginal prices, a check of each solver's dual sign convention.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from gridgames.models.instance import Checker, Instance, read_series_csv, register_model
from gridgames.models.report import RunReport
from gridgames.solvers.errors import GridGamesError
from gridgames.solvers.registry import available_solvers, get_solver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatchData:
    """Generators (arrays of equal length) and the hourly load in MW."""

    a: np.ndarray
    b: np.ndarray
    pmin: np.ndarray
    pmax: np.ndarray
    ramp: np.ndarray
    load: pd.Series


def build_dispatch_model(data: DispatchData) -> pyo.ConcreteModel:
    """The dispatch QP as a Pyomo model with a ``dual`` import Suffix."""
    m = pyo.ConcreteModel(name="economic_dispatch")
    m.G = pyo.RangeSet(0, len(data.a) - 1)
    m.T = pyo.RangeSet(0, len(data.load) - 1)
    m.P = pyo.Var(m.G, m.T, bounds=lambda _, g, t: (data.pmin[g], data.pmax[g]))
    m.balance = pyo.Constraint(m.T, rule=lambda m, t: sum(m.P[g, t] for g in m.G) == float(data.load.iloc[t]))
    m.ramp_up = pyo.Constraint(m.G, m.T, rule=lambda m, g, t: pyo.Constraint.Skip if t == 0
                               else m.P[g, t] - m.P[g, t - 1] <= data.ramp[g])
    m.ramp_down = pyo.Constraint(m.G, m.T, rule=lambda m, g, t: pyo.Constraint.Skip if t == 0
                                 else m.P[g, t - 1] - m.P[g, t] <= data.ramp[g])
    m.cost = pyo.Objective(expr=sum(data.a[g] * m.P[g, t] ** 2 + data.b[g] * m.P[g, t]
                                    for g in m.G for t in m.T))
    m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    return m


def load_dispatch_instance(instance: Instance) -> DispatchData:
    """Validate the ``[generators]`` and ``[data]`` sections; all problems at once."""
    chk: Checker = instance.checker()
    chk.unknown_keys(None, {"model", "name", "generators", "data"})
    chk.unknown_keys("generators", {"a", "b", "pmin", "pmax", "ramp"})
    chk.unknown_keys("data", {"file", "time_column", "value_column", "day", "timezone"})
    a = chk.numbers("generators", "a", ge=0)
    n = None if a is None else len(a)
    b = chk.numbers("generators", "b", length=n)
    pmin = chk.numbers("generators", "pmin", length=n, ge=0)
    pmax = chk.numbers("generators", "pmax", length=n, gt=0)
    ramp = chk.numbers("generators", "ramp", length=n, gt=0)
    if pmin is not None and pmax is not None and len(pmin) == len(pmax):
        bad = np.flatnonzero(pmin > pmax)
        chk.check(bad.size == 0, "[generators].pmin",
                  f"entry {bad[0] if bad.size else 0} exceeds pmax" if bad.size else "")
    file = chk.string("data", "file")
    time_col = chk.string("data", "time_column", "hour_ending_utc")
    value_col = chk.string("data", "value_column", "demand_mw_cleaned")
    day = chk.string("data", "day")
    tz = chk.string("data", "timezone", "America/Los_Angeles")
    chk.raise_if_any()
    series = read_series_csv(instance.resolve(file), time_col, value_col, field_name="[data].file")
    local = series.tz_convert(tz)
    try:
        load = local.loc[day]
    except KeyError:
        load = local.iloc[0:0]
    if load.empty:
        raise GridGamesError(f"{instance.path}: [data].day: {day!r} is not in the data "
                             f"({local.index[0].date()} to {local.index[-1].date()})")
    if load.max() > pmax.sum() or load.min() < pmin.sum():
        raise GridGamesError(f"{instance.path}: load {load.min():.0f}-{load.max():.0f} MW is outside the "
                             f"fleet's range {pmin.sum():.0f}-{pmax.sum():.0f} MW: the dispatch is infeasible")
    return DispatchData(a, b, pmin, pmax, ramp, load)


def compare_solvers(data: DispatchData, solvers: list[str]) -> tuple[pd.DataFrame, dict]:
    """Solve the same dispatch with each solver; one table row per solver."""
    rows, dispatch = [], {}
    for name in solvers:
        # a fresh model per solver on purpose: re-using one would hand each solver the
        # previous one's optimum as a warm start and make the timing comparison unfair
        model = build_dispatch_model(data)
        result = get_solver(name).solve(model)
        prices = [model.dual.get(model.balance[t]) for t in model.T]
        rows.append({
            "solver": name,
            "status": str(result.status),
            "objective": result.objective,
            "time_s": result.solve_time,
            "mean_price": float(np.mean(prices)) if all(p is not None for p in prices) else np.nan,
        })
        if result.ok:
            dispatch[name] = np.array([[pyo.value(model.P[g, t]) for t in model.T] for g in model.G])
    table = pd.DataFrame(rows).set_index("solver")
    best = table["objective"].dropna()
    if not best.empty:
        table["rel_gap_to_best"] = (table["objective"] - best.min()).abs() / abs(best.min())
    return table, dispatch


def run(instance: Instance, *, solver: str | None = None, **_: object) -> RunReport:
    """Solve the dispatch with ``solver`` or, by default, with every available solver."""
    data = load_dispatch_instance(instance)
    solvers = [solver] if solver else available_solvers()
    table, dispatch = compare_solvers(data, solvers)
    report = RunReport(f"{instance.name}: economic dispatch, {len(data.a)} generators, "
                       f"{len(data.load)} h from {data.load.index[0]:%Y-%m-%d}",
                       tables={"solvers": table})
    report.notes.append("mean_price is the mean dual of the balance rows ($/MWh): the same "
                        "sign convention (d objective / d load) for every solver that reports duals")

    def plot(out: Path) -> list[Path]:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if not dispatch:
            return []
        name, values = next(iter(dispatch.items()))
        fig, ax = plt.subplots(figsize=(8, 4))
        hours = np.arange(values.shape[1])
        ax.stackplot(hours, values, labels=[f"generator {g}" for g in range(values.shape[0])])
        ax.plot(hours, data.load.to_numpy(), "k--", label="load")
        ax.set(xlabel="hour", ylabel="MW", title=f"dispatch ({name})")
        ax.legend(loc="upper left", fontsize=8)
        path = out / "dispatch.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return [path]

    report.plotters.append(plot)
    return report


register_model("economic_dispatch", run, "multi-period economic dispatch QP (solver comparison)")
