"""Metrics of one equilibrium and the paper's Tables 7-9 side by side.

Definitions (Section 5.3 of the paper; the baseline is the day before the
scheme: load ``orl_k`` at the old price ``r``, no incentive):

* fluctuation ``Σ_k (l_k − d_avg)²`` after, ``Σ_k (orl_k − d_avg)²`` before, and
  the drop ratio ``1 − after/before`` (Table 7).  Also ``Σ_k (l_k − mean l)²``
  (``fluctuation_after_own_mean``): the paper's Table 7 numbers follow this
  definition (docs/stackelberg.md), so both are compared with them;
* consumption ``Σ orl_k`` and its reduction ``Σ orl_k − Σ l_k`` (Table 8);
* "the extra cost incurred by power companies due to fluctuations in
  electricity consumption and incentives": ``μ Σ (l − d_avg)² + Σ E_k``; its
  reduction is the baseline's ``μ Σ (orl − d_avg)²`` minus that (Table 9);
* utility increases ``U1(p, l) − U1(r, orl)`` and ``U2(p, l) − U2(r, orl)`` and
  their sum, the social welfare increase (Table 9).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from gridgames.models.stackelberg.analytic import company_utility, user_utility
from gridgames.models.stackelberg.params import DayData, StackelbergParams

log = logging.getLogger(__name__)

#: Tables 7-9 of the paper (fluctuations converted from "ten thousand" units).
PAPER_TABLES: dict[float, dict[str, float]] = {
    0.0: {"fluctuation_after": 29.42387153e4, "fluctuation_after_own_mean": 29.42387153e4,
          "fluctuation_before": 499.91185e4, "drop_ratio": 0.9411,
          "consumption_before": 160590.0, "consumption_reduction": 1092.4074, "reduction_rate": 0.0068,
          "cost_reduction": 45653061.9, "company_utility_increase": 40347836.9,
          "user_utility_increase": 5404811.1, "welfare_increase": 45752648.0},
    1.0: {"fluctuation_after": 19.98781504e4, "fluctuation_after_own_mean": 19.98781504e4,
          "fluctuation_before": 499.91185e4, "drop_ratio": 0.96,
          "consumption_before": 160590.0, "consumption_reduction": 1141.7901, "reduction_rate": 0.0071,
          "cost_reduction": 46502239.1, "company_utility_increase": 41191116.5,
          "user_utility_increase": 5412354.9, "welfare_increase": 46603471.4},
    2.0: {"fluctuation_after": 13.45781961e4, "fluctuation_after_own_mean": 13.45781961e4,
          "fluctuation_before": 499.91185e4, "drop_ratio": 0.973,
          "consumption_before": 160590.0, "consumption_reduction": 1191.1728, "reduction_rate": 0.0074,
          "cost_reduction": 47057592.7, "company_utility_increase": 41740572.6,
          "user_utility_increase": 5420491.3, "welfare_increase": 47161063.9},
    3.0: {"fluctuation_after": 9.833885252e4, "fluctuation_after_own_mean": 9.833885252e4,
          "fluctuation_before": 499.91185e4, "drop_ratio": 0.98,
          "consumption_before": 160590.0, "consumption_reduction": 1240.5556, "reduction_rate": 0.0077,
          "cost_reduction": 47319122.8, "company_utility_increase": 41996205.2,
          "user_utility_increase": 5429220.2, "welfare_increase": 47425425.4},
}

#: Which paper table each quantity belongs to, in print order.
TABLE_OF = {
    "fluctuation_after": "table7", "fluctuation_after_own_mean": "table7",
    "fluctuation_before": "table7", "drop_ratio": "table7",
    "consumption_before": "table8", "consumption_reduction": "table8", "reduction_rate": "table8",
    "cost_reduction": "table9", "company_utility_increase": "table9",
    "user_utility_increase": "table9", "welfare_increase": "table9",
}

#: The paper's reported intervals of Figures 11-14 (best ir, and where the
#: incentive stops beating the pure price model).
PAPER_INTERVALS = {
    "fluctuation_after": {"best": (3.0, 5.0), "break_even": (7.4, 7.5)},
    "company_utility_increase": {"best": (3.0, 4.0), "break_even": (6.7, 6.8)},
    "user_utility_increase": {"best": None, "break_even": None},
    "welfare_increase": {"best": (3.0, 4.0), "break_even": (6.8, 6.9)},
}


def game_metrics(params: StackelbergParams, day: DayData, p: np.ndarray, l: np.ndarray,
                 ir: float | None = None) -> dict[str, float]:
    """Tables 7-9 quantities (plus peaks) of one equilibrium.

    Parameters
    ----------
    params : StackelbergParams
    day : DayData
    p : ndarray, shape (N,)
        Prices.
    l : ndarray, shape (N,) or (C, N)
        Consumption (per class for C > 1).
    ir : float, optional
        The incentive rate the equilibrium was computed with (default ``params.ir``).

    Returns
    -------
    dict of str to float
    """
    ir = params.ir if ir is None else ir
    l = np.atleast_2d(np.asarray(l, dtype=float))
    L = l.sum(axis=0)
    orl, d, d_avg, s = day.orl, day.d, day.d_avg, day.sign
    share = np.array([u.share for u in params.users])[:, None]
    r = np.full_like(orl, params.r)
    flu_before = float(((orl - d_avg) ** 2).sum())
    flu_after = float(((L - d_avg) ** 2).sum())
    incentive = float((ir * s * (L - orl)).sum())
    u1_after = float(company_utility(params, p, L, orl, d, ir).sum())
    u1_before = float(company_utility(params, r, orl, orl, d, 0.0).sum())
    u2_after = float(user_utility(params, p, l, orl, d, ir).sum())
    u2_before = float(user_utility(params, r, share * orl, orl, d, 0.0).sum())
    consumption = float(orl.sum())
    return {
        "fluctuation_after": flu_after,
        "fluctuation_after_own_mean": float(((L - L.mean()) ** 2).sum()),
        "fluctuation_before": flu_before,
        "drop_ratio": 1.0 - flu_after / flu_before if flu_before > 0 else np.nan,
        "consumption_before": consumption,
        "consumption_reduction": consumption - float(L.sum()),
        "reduction_rate": (consumption - float(L.sum())) / consumption,
        "cost_reduction": params.mu * flu_before - (params.mu * flu_after + incentive),
        "company_utility_increase": u1_after - u1_before,
        "user_utility_increase": u2_after - u2_before,
        "welfare_increase": (u1_after - u1_before) + (u2_after - u2_before),
        "incentive_paid": incentive,
        "peak_before": float(orl.max()),
        "peak_after": float(L.max()),
        "peak_reduction": float((orl.max() - L.max()) / orl.max()),
        "mean_price": float(np.mean(p)),
    }


#: The paper's case (Section 5.3): its day, data labelling and demand, and the game's coefficients.
PAPER_DAY = dt.date(2021, 1, 30)
PAPER_DATA = {"tz": "America/New_York", "convention": "label"}
#: Σ orl on the paper's day (Table 8), the check that the load data is the paper's
PAPER_CONSUMPTION = 160590.0


def paper_case_differences(params: StackelbergParams, days: Sequence[dt.date], tz: str, convention: str,
                           demand_forecast: str, day: DayData | None = None) -> list[str]:
    """How a run differs from the paper's case; empty when it *is* the paper's case.

    The paper's case is one day, 2021-01-30 as EIA labels it (US Eastern,
    ``day_convention = "label"``), ``d = orl`` (``demand_forecast = "actual"``),
    a load summing to the paper's 160,590 MWh, and the game of Section 5.3:
    :class:`StackelbergParams`' defaults (``a1, a2, a3, mu, r``, one user class
    with the paper's ``eta, theta, w1, w2, alpha, z_max``, ``l_min = 0``, no
    ``d_max``, our ``"average"`` reading of the price floor).  The incentive
    rates may differ: the paper's values exist for ir = 0..3 only and other rows
    get none.  Only then are the paper's values and intervals shown beside ours.

    Examples
    --------
    >>> import datetime as dt
    >>> paper_case_differences(StackelbergParams(), [dt.date(2021, 3, 10)], "America/New_York", "label", "actual")
    ['day 2021-03-10 (paper: 2021-01-30)']
    """
    found = []
    if len(days) != 1 or days[0] != PAPER_DAY:
        found.append(f"day {', '.join(map(str, days[:2]))}{' ...' if len(days) > 2 else ''} (paper: {PAPER_DAY})")
    if tz != PAPER_DATA["tz"] or convention != PAPER_DATA["convention"]:
        found.append(f"days in {tz} by {convention!r} (paper: EIA's labels, {PAPER_DATA['tz']})")
    if demand_forecast != "actual":
        found.append(f"d = {demand_forecast!r} (paper: the actual load)")
    ref = StackelbergParams()
    for name in ("a1", "a2", "a3", "mu", "r", "l_min", "d_max", "price_floor"):
        if getattr(params, name) != getattr(ref, name):
            found.append(f"{name} = {getattr(params, name)!r} (paper: {getattr(ref, name)!r})")
    user_fields = ("eta", "theta", "w1", "w2", "alpha", "z_max", "share")
    if len(params.users) != 1 or any(getattr(params.users[0], f) != getattr(ref.users[0], f) for f in user_fields):
        found.append("users differ from the paper's one class")
    if day is not None and not found and abs(float(day.orl.sum()) - PAPER_CONSUMPTION) > 0.5:
        found.append(f"load sums to {float(day.orl.sum()):,.1f} MWh (paper: {PAPER_CONSUMPTION:,.0f})")
    return found


def comparison_table(metrics_by_ir: dict[float, dict[str, float]], *, paper: bool = True) -> pd.DataFrame:
    """Long table: one row per (paper table, quantity, ir) with ours, paper, rel_diff.

    ``rel_diff = (ours − paper) / |paper|``; NaN where the paper gives no value.
    ``paper=False`` (not the paper's case, :func:`paper_case_differences`): the ``ours`` column only.
    """
    rows = []
    for quantity, table in TABLE_OF.items():
        for ir, metrics in metrics_by_ir.items():
            ours = metrics[quantity]
            row = {"table": table, "quantity": quantity, "ir": float(ir), "ours": ours}
            if paper:
                value = PAPER_TABLES.get(float(ir), {}).get(quantity, np.nan)
                rel = (ours - value) / abs(value) if np.isfinite(value) and value != 0 else np.nan
                row.update(paper=value, rel_diff=rel)
            rows.append(row)
    return pd.DataFrame(rows).set_index(["table", "quantity", "ir"])


def paper_table(long: pd.DataFrame, table: str) -> pd.DataFrame:
    """One paper table for printing: rows (quantity, ir), columns ours, paper, rel_diff_pct (when present)."""
    part = long.xs(table, level="table").copy()
    order = [q for q, t in TABLE_OF.items() if t == table]
    if "rel_diff" in part:
        part["rel_diff_pct"] = 100.0 * part.pop("rel_diff")
    return part.reindex(order, level="quantity")
