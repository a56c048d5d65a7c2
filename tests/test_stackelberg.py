"""Tests of the Stackelberg pricing model: analytic equilibrium vs an
independent numeric solution, Appendix A's second-order conditions, the
instance, the data day and the run table.

The independent check re-implements the two utilities from the paper's text
(not from the package), computes the users' best response numerically
(U2 sampled and its vertex clipped) and maximises the company's utility per period
by a grid plus a bounded Brent refinement (scipy), the price floor by brentq.
"""
from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest
from scipy.optimize import brentq, minimize_scalar

from gridgames.models.instance import Instance, InstanceError
from gridgames.models.stackelberg.analytic import (analytic_equilibrium, appendix_a_price,
                                                   response_coefficients, second_order_terms,
                                                   solve_periods)
from gridgames.models.stackelberg.data import day_statistics, load_bpat
from gridgames.models.stackelberg.model import (analytic_values, build_model, follower_blocks,
                                                model_solution, set_params)
from gridgames.models.stackelberg.params import DayData, StackelbergParams, UserClass, l_max_of
from gridgames.models.stackelberg.study import load_config, multi_day, run
from gridgames.models.stackelberg.report import game_metrics
from gridgames.solvers.registry import get_solver

ROOT = Path(__file__).resolve().parent.parent
TOML = ROOT / "instances" / "stackelberg_bpat.toml"
DATA = ROOT / "instances" / "data"


def _instance(doc: dict | None = None, path: Path = TOML) -> Instance:
    data = tomllib.loads(TOML.read_text()) if doc is None else doc
    return Instance(model="stackelberg_pricing", path=path.resolve(), data=data, name="test")


@pytest.fixture(scope="module")
def cfg():
    return load_config(_instance())


@pytest.fixture(scope="module")
def day(cfg) -> DayData:
    return cfg.day(cfg.days[0])


# ---------------------------------------------------------------------------
# Independent numeric solution (utilities typed in from the paper's text)
# ---------------------------------------------------------------------------
def _u2(l, p, orl_k, s_k, P: StackelbergParams, u: UserClass):
    """One class's U2 term in period k; class of share σ: z_max σ, θ/σ, orl σ."""
    sig = u.share
    o = sig * orl_k
    sat = u.eta * l - u.eta * l ** 2 / (2 * sig * u.z_max)
    diss = u.w1 * (u.theta / sig) * (l - o) ** 2 + u.w2 * u.alpha * l * (p - P.r) / P.r
    return sat + P.ir * s_k * (l - o) - p * l - diss


def _best_response(p, orl_k, s_k, P, u, lo, hi):
    """Maximiser of U2 over [lo, hi], vectorised over p.

    U2 is a concave quadratic in l, so it is recovered exactly from three
    evaluations (checked at a fourth) and its vertex clipped to the bounds; a
    search on U2 values would stop at ~1e-4 MW because U2 is flat at the top.
    """
    p = np.atleast_1d(np.asarray(p, float))
    h = 1000.0
    f0, f1, f2, f3 = (_u2(x, p, orl_k, s_k, P, u) for x in (0.0, h, 2 * h, 3 * h))
    a = (f2 - 2 * f1 + f0) / (2 * h * h)
    b = (f1 - f0) / h - a * h
    assert np.allclose(f0 + b * 3 * h + a * 9 * h * h, f3, rtol=1e-9, atol=1e-6)
    assert np.all(a < 0)
    return np.clip(-b / (2 * a), lo, hi)


def _period_solution(P: StackelbergParams, day: DayData, k: int) -> tuple[float, np.ndarray]:
    orl_k, d_avg = day.orl[k], day.d.mean()
    s_k = 1.0 if day.d[k] < d_avg else -1.0
    l_max = min(day.d.max() if P.d_max is None else P.d_max, min(u.z_max for u in P.users))

    def loads(p):
        return np.array([_best_response(p, orl_k, s_k, P, u, u.share * P.l_min, u.share * l_max)
                         for u in P.users])

    def u1(p):
        L = loads(p).sum(axis=0)
        return p * L - (P.a1 * L ** 2 + P.a2 * L + P.a3) - P.mu * (L - d_avg) ** 2 - P.ir * s_k * (L - orl_k)

    def floor(p):  # >= 0 where the price is allowed (a3 = 0 in these tests)
        L = loads(p).sum(axis=0)
        if P.price_floor == "average":
            return p - P.a1 * L - P.a2
        if P.price_floor == "marginal":
            return p - 2 * P.a1 * L - P.a2
        return np.ones_like(L)

    lo = 0.0
    if floor(0.0)[0] < 0:
        lo = brentq(lambda x: floor(x)[0], 0.0, P.p_max, xtol=1e-13, rtol=1e-15)
    grid = np.linspace(lo, P.p_max, 4001)
    j = int(np.argmax(u1(grid)))
    a, b = grid[max(j - 1, 0)], grid[min(j + 1, grid.size - 1)]
    res = minimize_scalar(lambda x: -u1(x)[0], bounds=(a, b), method="bounded",
                          options={"xatol": 1e-11, "maxiter": 500})
    p = res.x
    for edge in (lo, P.p_max):  # Brent on a bounded interval stops xatol short of an end
        if u1(edge)[0] >= u1(p)[0]:
            p = edge
    return float(p), loads(p)[:, 0]


def _numeric_equilibrium(P: StackelbergParams, day: DayData) -> tuple[np.ndarray, np.ndarray]:
    sols = [_period_solution(P, day, k) for k in range(day.n)]
    return np.array([s[0] for s in sols]), np.array([s[1] for s in sols]).T


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12))


# ---------------------------------------------------------------------------
# Data and the paper's day
# ---------------------------------------------------------------------------
def test_paper_day_found_exactly(cfg, day):
    stats = day_statistics(cfg.data)
    row = stats.loc[dt.date(2021, 1, 30)]
    assert row["hours"] == 24
    assert row["consumption"] == 160590.0                  # Table 8, original consumption
    assert row["flu_actual_mean"] == pytest.approx(4999118.5, abs=1e-6)  # Table 7, /1e4 = 499.91185
    assert day.index[0] == pd.Timestamp("2021-01-30 00:00", tz="America/New_York")
    # No Pacific 2019 day (hours inside the day) has that consumption.
    pacific = load_bpat([DATA / "eia930_bpat_2019_hourly.csv"], tz="America/Los_Angeles",
                        convention="interval")
    s19 = day_statistics(pacific)
    assert (s19["consumption"] - 160590).abs().min() > 100
    assert s19.loc[dt.date(2019, 6, 12), "consumption"] == 160435.0


# ---------------------------------------------------------------------------
# Analytic equilibrium vs the independent numeric solution
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("ir, floor", [(0.0, "average"), (3.0, "average"), (2.0, "none"), (1.0, "marginal")])
def test_analytic_matches_numeric_default_day(day, ir, floor):
    P = StackelbergParams(ir=ir, price_floor=floor)
    p, l = analytic_equilibrium(P, day)
    pn, ln = _numeric_equilibrium(P, day)
    assert _rel(p, pn) < 1e-6
    assert _rel(l, ln[0]) < 1e-6
    if floor == "average":  # the floor binds in some valley hours of this day
        slack = p - P.a1 * l - P.a2
        assert np.sum(np.abs(slack) < 1e-8) >= 3 and np.all(slack > -1e-8)


def test_analytic_matches_numeric_with_binding_load_bounds(day):
    # l_max below the peak response and l_min above the valley response;
    # p_max low enough that the inelastic l_min pieces are not unbounded gains.
    P = StackelbergParams(ir=2.0, price_floor="none", l_min=6550.0, d_max=6720.0, p_max=80.0)
    p, l = analytic_equilibrium(P, day)
    pn, ln = _numeric_equilibrium(P, day)
    assert _rel(p, pn) < 1e-6 and _rel(l, ln[0]) < 1e-6
    assert np.any(np.isclose(l, 6720.0)) or np.any(np.isclose(l, 6550.0))
    assert np.any(np.isclose(p, P.p_max)) or np.any(np.isclose(l, P.l_min))


def test_two_user_classes_match_numeric(day):
    users = (UserClass(eta=170.0, theta=0.03, w1=0.5, w2=0.5, alpha=6.0, share=0.35, name="a"),
             UserClass(eta=210.0, theta=0.01, w1=0.8, w2=0.2, alpha=12.0, share=0.65, name="b"))
    P = StackelbergParams(ir=1.5, users=users, price_floor="average")
    p, l = analytic_equilibrium(P, day)
    pn, ln = _numeric_equilibrium(P, day)
    assert l.shape == (2, day.n)
    assert _rel(p, pn) < 1e-6 and _rel(l, ln) < 1e-6


def test_identical_halves_equal_one_class(day):
    one = StackelbergParams(ir=2.0)
    two = replace(one, users=(UserClass(share=0.5), UserClass(share=0.5)))
    p1, l1 = analytic_equilibrium(one, day)
    p2, l2 = analytic_equilibrium(two, day)
    assert _rel(p2, p1) < 1e-12 and _rel(l2.sum(axis=0), l1) < 1e-12


def test_appendix_a_formula_when_nothing_binds(day):
    P = StackelbergParams(ir=3.0, price_floor="none")
    p, l = analytic_equilibrium(P, day)
    pa, la = appendix_a_price(P, day)
    assert _rel(p, pa) < 1e-12 and _rel(l, la) < 1e-12


# ---------------------------------------------------------------------------
# Appendix A's second-order conditions, checked by finite differences
# ---------------------------------------------------------------------------
def test_hessian_conditions(day):
    P = StackelbergParams(ir=2.0, price_floor="none")
    u = P.users[0]
    p, l = analytic_equilibrium(P, day)
    terms = second_order_terms(P, day)
    s = day.sign
    h = 1.0  # U2 is quadratic in l: central differences are exact up to rounding
    # Follower: U2 is separable, so the Hessian in l is diagonal; check both.
    total = lambda lv: np.sum(_u2(lv, p, day.orl, s, P, u))  # noqa: E731
    for k in (0, 7, 18):
        e = np.zeros(day.n)
        e[k] = h
        d2 = (total(l + e) - 2 * total(l) + total(l - e)) / h ** 2
        assert d2 == pytest.approx(terms["follower"][0, k], rel=1e-5)
        assert d2 < 0
        f = np.zeros(day.n)
        f[(k + 5) % day.n] = h
        mixed = (total(l + e + f) - total(l + e - f) - total(l - e + f) + total(l - e - f)) / (4 * h * h)
        assert abs(mixed) < 1e-6 * abs(d2)
    # Leader: U1(p, A + B p) in p, diagonal with 2B − 2a1B² − 2μB² < 0.
    A, B = response_coefficients(P, day.orl, s)

    def u1(pv):
        L = A[0] + B[0] * pv
        return np.sum(pv * L - (P.a1 * L ** 2 + P.a2 * L + P.a3) - P.mu * (L - day.d_avg) ** 2
                      - P.ir * s * (L - day.orl))

    for k in (2, 12, 20):
        e = np.zeros(day.n)
        e[k] = 1e-3
        d2 = (u1(p + e) - 2 * u1(p) + u1(p - e)) / 1e-6
        assert d2 == pytest.approx(terms["leader"][k], rel=1e-4)
        assert d2 < 0
        grad = (u1(p + e) - u1(p - e)) / 2e-3  # first-order condition at the analytic price
        assert abs(grad) < 1e-6 * abs(d2)


# ---------------------------------------------------------------------------
# Comparative statics and the pure price model
# ---------------------------------------------------------------------------
def test_raising_mu_lowers_fluctuation_on_one_model(day):
    m = build_model(StackelbergParams(ir=1.0), day)
    flus = []
    for mu in (0.1, 1.0, 10.0, 100.0):
        set_params(m, mu=mu)  # the same Pyomo model, mutable Params
        values = analytic_values(m)
        for var, val in values.items():
            var.set_value(val)
        _, l = model_solution(m)
        flus.append(float(((l.sum(axis=0) - day.d_avg) ** 2).sum()))
    assert all(a > b for a, b in zip(flus, flus[1:]))


def test_ir_zero_is_the_pure_price_model(day):
    P = StackelbergParams(ir=0.0)
    p, l = analytic_equilibrium(P, day)
    # The incentive sign s_k is irrelevant at ir = 0: flipping it changes nothing.
    p_flip, l_flip = solve_periods(P, day.orl, day.d[::-1])  # same d_avg, other s_k
    assert _rel(p_flip, p) < 1e-12 and _rel(l_flip[0], l) < 1e-12
    # And the model's objectives equal the utilities without incentive terms.
    m = build_model(P, day)
    for var, val in analytic_values(m).items():
        var.set_value(val)
    L = l
    u1 = np.sum(p * L - (P.a1 * L ** 2 + P.a2 * L) - P.mu * (L - day.d_avg) ** 2)
    u = P.users[0]
    u2 = np.sum(u.eta * L - u.eta * L ** 2 / (2 * u.z_max) - p * L - u.w1 * u.theta * (L - day.orl) ** 2
                - u.w2 * u.alpha * L * (p - P.r) / P.r)
    assert pyo.value(m.company) == pytest.approx(u1, rel=1e-12)
    assert pyo.value(m.users.utility) == pytest.approx(u2, rel=1e-12)
    assert game_metrics(P, day, p, l)["incentive_paid"] == 0.0


def test_followers_solved_by_ipopt_at_analytic_prices(day):
    users = (UserClass(share=0.4, eta=180.0, name="a"), UserClass(share=0.6, theta=0.02, name="b"))
    P = StackelbergParams(ir=2.0, users=users)
    m = build_model(P, day)
    p, l = analytic_equilibrium(P, day)
    for k in m.K:
        m.p[k].fix(p[k])
    m.company.deactivate()
    m.price_floor.deactivate()
    blocks = follower_blocks(m)
    assert len(blocks) == 2 and m.users.is_indexed()
    for c, b in enumerate(blocks):
        for other in blocks:
            other.utility.deactivate()
        b.utility.activate()
        res = get_solver("ipopt").solve(m)
        assert res.ok
        lc = np.array([pyo.value(b.l[k]) for k in m.K])
        assert _rel(lc, l[c]) < 1e-6


# ---------------------------------------------------------------------------
# Instance validation and errors
# ---------------------------------------------------------------------------
def _doc_with(**changes) -> dict:
    doc = tomllib.loads(TOML.read_text())
    for path, value in changes.items():
        section, key = path.split("__")
        doc.setdefault(section, {})[key] = value
    return doc


def test_bad_parameters_reported_together():
    doc = _doc_with(users__theta=-1.0, users__w1=0.6, game__a2=-0.5, game__colour="red",
                    bounds__p_max=0.0)
    with pytest.raises(InstanceError) as err:
        load_config(_instance(doc))
    problems = "\n".join(err.value.problems)
    assert "[users].theta: must be > 0, got -1" in problems
    assert "[users].w1 + w2: must equal 1, got 0.9" in problems
    assert "[game].a2: must be >= 0, got -0.5" in problems
    assert "[game].colour: unknown key" in problems
    assert "[bounds].p_max" in problems
    assert len(err.value.problems) == 5


def test_day_outside_data_is_a_clear_error():
    with pytest.raises(InstanceError, match=r"\[data\]\.day: 2030-01-01 is outside the data"):
        load_config(_instance(_doc_with(data__day="2030-01-01")))
    with pytest.raises(InstanceError, match="not a date"):
        load_config(_instance(_doc_with(data__day="30/01/2021")))


def test_eia_forecast_missing_for_2021_is_named():
    cfg = load_config(_instance(_doc_with(data__demand_forecast="eia")))
    with pytest.raises(InstanceError, match="2019 file only"):
        cfg.day(cfg.days[0])


def test_validate_params_direct():
    with pytest.raises(InstanceError, match="shares must sum to 1"):
        StackelbergParams().with_(users=(UserClass(share=0.5), UserClass(share=0.4)))


# ---------------------------------------------------------------------------
# The run: table layout, figures; multi-day
# ---------------------------------------------------------------------------
def test_run_table_and_plots(tmp_path):
    report = run(_instance())
    report.write(tmp_path)
    table = report.table
    assert list(table.columns) == ["ours", "paper", "rel_diff"]
    assert table.index.names == ["table", "quantity", "ir"]
    assert sorted(table.index.get_level_values("ir").unique()) == [0.0, 1.0, 2.0, 3.0]
    assert len(table) == 11 * 4
    assert table.loc[("table8", "consumption_before", 0.0), "ours"] == 160590.0
    assert table.loc[("table7", "fluctuation_before", 3.0), "rel_diff"] == pytest.approx(0.0, abs=1e-12)
    welfare = table.xs("welfare_increase", level="quantity")
    assert (welfare["ours"] > 0).all()
    assert len(report.sweep) == 81
    text = report.format()
    assert "[table7]" in text and "[table9]" in text
    for name in ("fig08_09_load_price.png", "fig10_load_by_ir.png", "fig11_14_ir_sweep.png",
                 "comparison.csv", "ir_sweep.csv"):
        assert (tmp_path / name).stat().st_size > 1000


def test_multi_day_vectorised_equals_per_day():
    data = load_bpat([DATA / "eia930_bpat_2019_hourly.csv"], tz="America/Los_Angeles", convention="interval")
    from gridgames.models.stackelberg.data import day_data, day_range
    days = [day_data(data, d, "eia") for d in day_range(dt.date(2019, 3, 8), dt.date(2019, 3, 12))]
    assert [d.n for d in days] == [24, 24, 23, 24, 24]  # DST day has 23 hours
    P = StackelbergParams(ir=3.0)
    summary = multi_day(P, days)
    for d in days:
        p, l = analytic_equilibrium(P, d)
        assert summary.loc[d.label, "peak_after"] == pytest.approx(l.max(), rel=1e-12)
        assert summary.loc[d.label, "fluctuation_after"] == pytest.approx(((l - d.d_avg) ** 2).sum(), rel=1e-12)
    assert l_max_of(P, days[0]) == days[0].d.max()


def test_paper_tables_follow_a_fixed_price(day):
    """The evidence of docs/stackelberg.md, section 4, from the paper's own numbers."""
    from gridgames.models.stackelberg.report import PAPER_TABLES

    P = StackelbergParams()
    u = P.users[0]
    den = u.eta / u.z_max + 2 * u.w1 * u.theta
    irs = np.array([0.0, 1.0, 2.0, 3.0])
    col = {q: np.array([PAPER_TABLES[i][q] for i in irs]) for q in PAPER_TABLES[0.0]}
    n_peak_minus_valley = -day.sign.sum()
    assert n_peak_minus_valley == 2
    # Consumption reduction: + (n_peak − n_valley)/den per unit of ir (prices fixed).
    assert np.diff(col["consumption_reduction"]) == pytest.approx(np.full(3, 2 / den), abs=2e-4)
    # Fluctuation: second difference 2 Σ (s − s̄)²/den² (own-mean fluctuation).
    s = day.sign
    assert np.diff(col["fluctuation_after"], 2) == pytest.approx(
        np.full(2, 2 * ((s - s.mean()) ** 2).sum() / den ** 2), rel=1e-6)
    # Company utility: −2 (24 μ/den² + 24/den), no a1 l² term.
    assert np.diff(col["company_utility_increase"], 2) == pytest.approx(
        np.full(2, -2 * (24 * P.mu / den ** 2 + 24 / den)), rel=1e-6)
    # Figure 11's "(7.4, 7.5)": where the fitted quadratic returns to its ir = 0 value.
    c, b, _ = np.polyfit(irs, col["fluctuation_after"], 2)
    assert 7.4 < -b / c < 7.5 and 3 < -b / (2 * c) < 5
    # Mean price implied by Table 8 vs d_avg implied by Table 9: p_k = a1 d_k + a2.
    A, B = response_coefficients(P, day.orl, day.sign, ir=0.0)
    sum_l = day.orl.sum() - col["consumption_reduction"][0]
    sum_p = (A[0].sum() - sum_l) / -B[0, 0]
    mean_l = sum_l / day.n
    drop = 4999118.5 - col["fluctuation_after"][0]           # own-mean parts
    # μ[(F0 + n(ō − x)²) − (F1 + n(l̄ − x)²)] = cost reduction, solved for x = d_avg
    o = day.orl.mean()
    x = 0.5 * (o + mean_l - (col["cost_reduction"][0] / P.mu - drop) / (day.n * (o - mean_l)))
    assert P.a1 * day.n * x + day.n * P.a2 == pytest.approx(sum_p, abs=0.05)


def test_user_classes_from_toml_and_their_problems():
    doc = tomllib.loads(TOML.read_text())
    doc["users"] = [{"name": "homes", "share": 0.6, "theta": 0.02},
                    {"name": "shops", "share": 0.3, "eta": -5.0}]
    with pytest.raises(InstanceError) as err:
        load_config(_instance(doc))
    text = "\n".join(err.value.problems)
    assert "[[users]] #2.eta: must be > 0, got -5" in text
    assert "shares must sum to 1, got 0.9" in text
    doc["users"][1].update(share=0.4, eta=150.0)
    cfg = load_config(_instance(doc))
    assert [u.name for u in cfg.params.users] == ["homes", "shops"]
    m = build_model(cfg.params, cfg.day(cfg.days[0]))
    assert m.users.is_indexed() and len(follower_blocks(m)) == 2


def test_unknown_forecaster_is_reported_with_the_field():
    with pytest.raises(InstanceError, match=r"\[data\]\.demand_forecast: .*'no_such_forecaster'"):
        load_config(_instance(_doc_with(data__demand_forecast="no_such_forecaster")))


def test_forecaster_demand_is_aligned_to_the_day():
    """d_k from our 'naive-24' forecaster is yesterday's load, hour by hour."""
    from gridgames.models.stackelberg.data import day_data

    data = load_bpat([DATA / "eia930_bpat_2019_hourly.csv"], tz="America/Los_Angeles", convention="interval")
    today = day_data(data, dt.date(2019, 6, 12), "naive-24")
    yesterday = day_data(data, dt.date(2019, 6, 11), "actual")
    assert today.n == 24
    np.testing.assert_array_equal(today.d, yesterday.orl)


def test_forecaster_without_enough_history_names_the_field():
    from gridgames.models.stackelberg.data import day_data

    data = load_bpat([DATA / "eia930_bpat_2019_hourly.csv"], tz="America/Los_Angeles", convention="interval")
    with pytest.raises(InstanceError, match=r"\[data\]\.demand_forecast: forecaster 'naive-168' cannot "
                                            r"forecast the day starting 2019-01-02 01:00:00-08:00: .*too short"):
        day_data(data, dt.date(2019, 1, 2), "naive-168")
