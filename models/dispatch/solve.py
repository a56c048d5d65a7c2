"""Solve one dispatch with several solvers: one table row per solver, duals as prices."""
from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from gridgames.models.dispatch.config import DispatchData
from gridgames.models.dispatch.model import build_dispatch_model
from gridgames.solvers.errors import UnsupportedModelError
from gridgames.solvers.registry import get_solver

log = logging.getLogger(__name__)


def compare_solvers(data: DispatchData, solvers: list[str]) -> tuple[pd.DataFrame, dict]:
    """Solve the same dispatch with each solver; one table row per solver.

    With several solvers, one that refuses the model (its features do not cover a QP) gets a row with
    status ``unsupported``; a single named solver's refusal is raised.
    """
    rows, dispatch = [], {}
    for name in solvers:
        # a fresh model per solver on purpose: re-using one would hand each solver the
        # previous one's optimum as a warm start and make the timing comparison unfair
        model = build_dispatch_model(data)
        try:
            result = get_solver(name).solve(model)
        except UnsupportedModelError as exc:
            if len(solvers) == 1:
                raise
            # a registered solver that cannot take this model (an LP-only plug-in on the QP): its row says
            # so, the others' rows stay
            log.warning("%s", exc)
            rows.append({"solver": name, "status": "unsupported", "objective": None, "time_s": np.nan,
                         "mean_price": np.nan})
            continue
        prices = [model.dual.get(model.balance[t]) for t in model.T]
        rows.append({
            "solver": name,
            "status": str(result.status),
            "objective": result.objective if result.ok else None,   # a failed solve's number is not a result
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
