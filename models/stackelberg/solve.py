"""Solving the pricing game for one day, an ir sweep or many days.

``method="analytic"`` is :func:`~gridgames.models.stackelberg.analytic.solve_periods`
(numpy, vectorised over periods and days); ``"kkt"``, ``"kkt-bigm"`` and
``"nested"`` hand the Pyomo model of :func:`~gridgames.models.stackelberg.model.build_model`
to :func:`gridgames.solvers.solve_bilevel`, re-using one model (mutable
Params) across a sweep or across days of equal length.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from gridgames.models.stackelberg.analytic import response_coefficients, solve_periods
from gridgames.models.stackelberg.model import (build_model, follower_blocks, load_params, model_solution,
                                                set_day)
from gridgames.models.stackelberg.params import DayData, StackelbergParams, check_bounds, stopped_error
from gridgames.models.stackelberg.report import game_metrics
from gridgames.solvers.errors import GridGamesError, ModelError

log = logging.getLogger(__name__)

METHODS = ("analytic", "kkt", "kkt-bigm", "nested")


def _engine():
    try:
        from gridgames.solvers import solve_bilevel  # noqa: PLC0415 (the lead's re-export)
    except ImportError:
        try:
            from gridgames.solvers.games.bilevel import solve_bilevel  # noqa: PLC0415
        except ImportError as exc:
            raise GridGamesError("methods other than 'analytic' need gridgames.solvers.solve_bilevel "
                                 f"(the game engine), which cannot be imported: {exc}") from None
    return solve_bilevel


def solve_day(params: StackelbergParams, day: DayData, *, method: str = "analytic",
              solver: str | None = None, model: Any = None, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Equilibrium prices (N,) and per-class loads (C, N) on one day.

    Parameters
    ----------
    params : StackelbergParams
    day : DayData
    method : {'analytic', 'kkt', 'kkt-bigm', 'nested'}
        ``analytic`` is :func:`solve_periods`; the others go through
        :func:`gridgames.solvers.solve_bilevel` on :func:`build_model`'s model.
    solver : str, optional
        Passed to ``solve_bilevel``.
    model : pyomo model, optional
        A model from :func:`build_model` to re-use: every Param is reloaded
        from ``params`` and ``day`` (:func:`load_params`, :func:`set_day`).
    **options
        Method options of ``solve_bilevel``.
    """
    if method not in METHODS:
        raise ModelError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "analytic":
        if options:
            log.warning("analytic method ignores options %s", sorted(options))
        check_bounds(params, day, method)
        return solve_periods(params, day.orl, day.d)
    solve_bilevel = _engine()
    if model is None:
        model = build_model(params, day)
    else:  # every coefficient, not only the scalars: the classes and d_max may differ too
        load_params(model, params)
        set_day(model, day)
    if method == "nested" and "search_bounds" not in options:
        options = {**options, "search_bounds": (np.zeros(len(day.orl)), choke_prices(params, day))}
    result = solve_bilevel(model, follower_blocks(model), method=method, solver=solver, **options)
    if not result.ok:
        raise stopped_error(method, day, params, str(result.status), result.message)
    return model_solution(model)


def choke_prices(params: StackelbergParams, day: DayData) -> np.ndarray:
    """Per period, an upper bound of the leader's optimal price for the ``nested`` search box.

    With ``l_min = 0`` this is the choke price, above which every user class
    buys nothing: higher prices change nothing for the users and earn the
    company no revenue, so the GA need not sample them (it otherwise spends
    most samples on prices where demand is zero).  Solves ``A_c + B_c p = 0``
    for each class's unclipped response line and takes the largest, clipped to
    ``[0, p_max]``.

    With ``l_min > 0`` the load above the choke price stays at ``l_min`` and
    the revenue ``p l_min`` keeps growing, so the optimum can sit at ``p_max``
    (it does in some periods): the bound is then ``p_max`` itself.
    """
    if params.l_min > 0:
        return np.full(day.n, float(params.p_max))
    A, B = response_coefficients(params, day.orl, day.sign)
    choke = (params.l_min - A) / B
    return np.clip(choke.max(axis=0), 0.0, params.p_max)


def forecast_effect(params: StackelbergParams, forecast_day: DayData, actual_day: DayData,
                    ir_values: Sequence[float]) -> pd.DataFrame:
    """How the equilibrium moves when the utility prices on a forecast instead of the truth.

    Solves each incentive rate twice with the exact analytic method: with the
    instance's demand forecast ``d`` (what the utility knows the day before) and
    with perfect foresight ``d = orl``.  The forecast enters the game through
    ``d_avg`` (the fluctuation target) and the incentive signs ``s_k``.

    Returns
    -------
    DataFrame
        Index ``ir``; the forecast's MAPE on the day, the mean absolute price
        change, the users' peak load under each scheme (their response to the
        announced prices and incentive signs: realised), and the company and
        welfare gains *as planned*: each scored against its own ``d_avg``, so
        the forecast column is what the utility expected, not what it got;
        ``company_gain_realised_forecast`` scores the forecast's prices and loads
        against ``actual_day`` (what it got), and ``users_bill_*`` is Σ p_k L_k.
    """
    mape = float(np.mean(np.abs(forecast_day.d - actual_day.orl) / actual_day.orl) * 100.0)
    rows = {}
    for ir in ir_values:
        pr = replace(params, ir=float(ir))
        check_bounds(pr, forecast_day, "analytic")
        check_bounds(pr, actual_day, "analytic")
        pf, lf = solve_periods(pr, forecast_day.orl, forecast_day.d)
        pa, la = solve_periods(pr, actual_day.orl, actual_day.d)
        mf, ma = game_metrics(pr, forecast_day, pf, lf, ir), game_metrics(pr, actual_day, pa, la, ir)
        rows[float(ir)] = {
            "forecast_mape_pct": mape,
            "mean_abs_price_change": float(np.mean(np.abs(pf - pa))),
            "peak_load_forecast": float(np.atleast_2d(lf).sum(axis=0).max()),
            "peak_load_perfect": float(np.atleast_2d(la).sum(axis=0).max()),
            "company_gain_planned_forecast": mf["company_utility_increase"],
            "company_gain_perfect": ma["company_utility_increase"],
            "welfare_gain_planned_forecast": mf["welfare_increase"],
            "welfare_gain_perfect": ma["welfare_increase"],
            "company_gain_realised_forecast": game_metrics(pr, actual_day, pf, lf, ir)["company_utility_increase"],
            "users_bill_forecast": float(pf @ np.atleast_2d(lf).sum(axis=0)),
            "users_bill_perfect": float(pa @ np.atleast_2d(la).sum(axis=0)),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "ir"
    return table


def sweep_ir(params: StackelbergParams, day: DayData, ir_values: Sequence[float], *,
             method: str = "analytic", solver: str | None = None, **options: Any
             ) -> tuple[pd.DataFrame, dict[float, tuple[np.ndarray, np.ndarray]]]:
    """Metrics for every incentive rate; one Pyomo model is re-used for non-analytic methods.

    Returns
    -------
    table : DataFrame
        Index ``ir``, columns of :func:`game_metrics`.
    solutions : dict
        ``ir -> (p, l)``.
    """
    from tqdm.auto import tqdm  # noqa: PLC0415
    model = None if method == "analytic" else build_model(params, day)
    rows, sols = {}, {}
    # analytic games take milliseconds; a bar for the solver-based methods (seconds per game)
    for ir in tqdm(ir_values, desc=f"ir sweep ({method})", unit="game", leave=False,
                   disable=method == "analytic" or len(ir_values) < 5):
        ir = round(float(ir), 10)
        pr = replace(params, ir=ir)
        p, l = solve_day(pr, day, method=method, solver=solver, model=model, **options)
        rows[ir] = game_metrics(pr, day, p, l, ir)
        sols[ir] = (p, l)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "ir"
    return table, sols


def multi_day(params: StackelbergParams, days: Sequence[DayData], *, method: str = "analytic",
              solver: str | None = None, **options: Any) -> pd.DataFrame:
    """One game per day; the analytic method is vectorised over the days.

    Returns
    -------
    DataFrame
        Index day label, columns of :func:`game_metrics`.
    """
    rows: dict[str, dict[str, float]] = {}
    if method == "analytic":
        by_n: dict[int, list[DayData]] = {}
        for d in days:
            by_n.setdefault(d.n, []).append(d)
        for d in days:
            check_bounds(params, d, method)
        for group in by_n.values():  # DST days (23 or 25 h) form their own stacks
            p, l = solve_periods(params, np.stack([d.orl for d in group]), np.stack([d.d for d in group]))
            for i, d in enumerate(group):
                rows[d.label] = game_metrics(params, d, p[i], l[:, i, :])
    else:
        from tqdm import tqdm  # noqa: PLC0415
        models: dict[int, Any] = {}
        for d in tqdm(days, desc=f"days ({method})", unit="day", leave=False):
            if d.n not in models:
                models[d.n] = build_model(params, d)
            p, l = solve_day(params, d, method=method, solver=solver, model=models[d.n], **options)
            rows[d.label] = game_metrics(params, d, p, l)
    table = pd.DataFrame.from_dict(rows, orient="index").loc[[d.label for d in days]]
    table.index.name = "day"
    return table
