"""Fast best responses: Newton on each player's compiled KKT system, gap-based stops, per-player gap tolerances.

Independent answers: the microgrid market's vectorised numpy solver and its exact
per-buyer gaps (``models/microgrid/solve.py``, no code shared with the engine),
the Cournot closed form, and the players' Ipopt solves (``newton=False``).
"""
import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.models.microgrid.config import MarketSpec
from gridgames.models.microgrid.model import build_game, requests
from gridgames.models.microgrid.solve import nash_gaps
from gridgames.solvers.errors import ModelError
from cournot_games import cournot
from microgrid_games import N, TIGHT, load_requests, payoff_scale, small_market
from gridgames.solvers.games.compiled_player import CompiledPlayer
from gridgames.solvers.games.nash import nash_gap, players_of, solve_nash
from gridgames.solvers.games.nash_mcp import _status
from gridgames.solvers.games.responses import BestResponses
from gridgames.solvers.result import SolveStatus



def test_newton_gauss_seidel_reaches_the_vectorised_equilibrium():
    market, ref = small_market()
    assert ref.market_status == "cleared"
    model = build_game(market)
    res = solve_nash(model, model.buyer, method="gauss-seidel", tol=1e-10)
    assert res.status.is_ok, res.message
    report = res.extra["best_responses"]
    assert report["newton"] and report["newton_solves"] >= N * res.iterations
    assert report["newton_fallbacks"] == [] and report["joint_solves"] == 0
    r = requests(market, model)
    assert np.abs(r - ref.r).max() < 1e-5
    assert nash_gaps(market, r).max() < 1e-6 * payoff_scale(market, r)


@pytest.mark.parametrize("spec", [MarketSpec(), TIGHT], ids=["cleared", "capacity-binding"])
@pytest.mark.parametrize("shrink", [1.0, 0.5])
def test_newton_gaps_equal_ipopt_gaps_and_numpy(shrink, spec):
    """At the equilibrium (capacity-binding: rows that leave buyers no room) and at half of it."""
    market, ref = small_market(spec=spec)
    model = build_game(market)
    r = ref.r * shrink
    load_requests(model, r)
    newton = nash_gap(model, model.buyer, newton=True)
    ipopt = nash_gap(model, model.buyer, newton=False, batch=False)
    exact = nash_gaps(market, r)
    names = [model.buyer[i].name for i in range(N)]
    tol = 1e-7 * max(1.0, payoff_scale(market, r))
    assert np.allclose([newton[n] for n in names], exact, atol=tol, rtol=1e-6)
    assert np.allclose([newton[n] for n in names], [ipopt[n] for n in names], atol=tol, rtol=1e-6)
    if shrink < 1.0:
        assert min(exact) > 1.0   # the comparison is not between zeros
    assert np.allclose(requests(market, model), r)   # the profile is left as it was


def test_newton_jacobi_uncapacitated_matches_numpy():
    market, ref = small_market(capacity=False)
    model = build_game(market, capacity=False)
    res = solve_nash(model, model.buyer, method="jacobi", tol=1e-10, newton=True)
    assert res.status.is_ok, res.message
    assert res.extra["best_responses"]["newton"]
    r = requests(market, model)
    assert np.abs(r - ref.r).max() < 1e-5


@pytest.mark.parametrize("method,options", [("gauss-seidel", {}), ("jacobi", {"damping": 0.5})])
def test_newton_cournot_closed_form(method, options):
    """Three firms, P = 100 − Q: q_i = (100 − 4 c_i + Σc) / 4 (convex QP players: Newton by default)."""
    costs = np.array([10.0, 20.0, 30.0])
    m = cournot(costs)
    res = solve_nash(m, m.F, method=method, newton=True, tol=1e-10, **options)
    assert res.status.is_optimal, res.message
    assert res.extra["best_responses"]["newton_solves"] > 0
    expected = (100.0 - 4 * costs + costs.sum()) / 4.0
    np.testing.assert_allclose([m.F[i].q.value for i in range(3)], expected, atol=1e-6)
    assert res.gap == pytest.approx(0.0, abs=1e-6)


def test_second_order_check_hands_a_maximum_to_ipopt():
    """f = −(x − 0.5)² + 0.01 x Q on [0, 1]: Newton from 0.5 finds the interior stationary point, a
    maximum; the curvature check refuses it and Ipopt finds a bound (a true local minimum)."""
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(2))
    for i in range(2):
        m.P[i].x = pyo.Var(bounds=(0, 1), initialize=0.5)
    m.Q = pyo.Expression(expr=m.P[0].x + m.P[1].x)
    for i in range(2):
        m.P[i].f = pyo.Objective(expr=-(m.P[i].x - 0.5) ** 2 + 0.01 * m.P[i].x * m.Q)
    br = BestResponses(players_of(m, m.P), "ipopt", None, m)
    br.sync()
    compiled = br._compiled_player(0)
    assert isinstance(compiled, CompiledPlayer)
    answer = compiled.solve(br.solvers[0].own_values(), br.solvers[0].data())
    assert not answer.result.ok and "negative curvature" in answer.result.message
    x, res = br.respond(0)
    assert res.ok and res.solver == "ipopt" and min(abs(x[0]), abs(x[0] - 1.0)) < 1e-6
    assert any("negative curvature" in line for line in br.newton_fallbacks)


def test_infeasible_player_falls_back_and_is_named():
    market, _ = small_market(capacity=False)
    model = build_game(market, capacity=False)
    b = model.buyer[7]
    b.impossible = pyo.Constraint(expr=sum(b.r[j] for j in b.r) >= 2.0 * b.r[next(iter(b.r))].ub + 1.0)
    res = solve_nash(model, model.buyer, method="gauss-seidel")
    assert str(res.status) == "error" and "buyer[7]" in res.message
    assert any("buyer[7]" in line for line in res.extra["best_responses"]["newton_fallbacks"])


@pytest.mark.parametrize("method", ["gauss-seidel", "jacobi"])
def test_gap_stop_stops_on_the_sweeps_own_gap(method):
    """gap_stop: fewer sweeps than the strategy-change test needs; the final nash_gap still decides."""
    market, ref = small_market(capacity=method == "gauss-seidel")
    kw = {"capacity": method == "gauss-seidel"}
    runs = {}
    for stop in (False, True):
        model = build_game(market, **kw)
        runs[stop] = (solve_nash(model, model.buyer, method=method, tol=1e-12, gap_tol=1e-6, gap_stop=stop,
                                 max_iter=300), requests(market, model))
    (full, _), (early, r) = runs[False], runs[True]
    assert early.status.is_ok, early.message
    assert "relative gap" in early.message and early.iterations < full.iterations
    assert max(nash_gaps(market, r, capacity=kw["capacity"]).max(), 0.0) <= 1e-6 * max(1.0, payoff_scale(market, r)) * 10


def test_nash_mcp_gap_tolerance_is_per_player():
    """A player with a small objective is not excused by a large one elsewhere (the mean-scaled rule was)."""
    gaps, values = {"a": 1e-4, "b": 0.0}, {"a": 1.0, "b": 1e6}
    status, message = _status(gaps, values, 1e-6)
    assert status is SolveStatus.NOT_EQUILIBRIUM and "'a'" in message
    status, _ = _status({"a": 1e-7, "b": 0.5}, values, 1e-6)   # b's limit is 1e-6 x 1e6 = 1
    assert status is SolveStatus.OPTIMAL
    status, message = _status({}, values, 1e-6)
    assert status is SolveStatus.LOCALLY_OPTIMAL and "not verified" in message


def test_bad_newton_option_is_refused():
    market, _ = small_market()
    model = build_game(market)
    with pytest.raises(ModelError, match="newton must be"):
        solve_nash(model, model.buyer, method="gauss-seidel", newton="yes")


@pytest.mark.parametrize("total_as, lifted", [("named", True), ("inline", True), ("rebuilt", False)])
def test_a_market_total_written_inline_is_lifted_like_a_named_one(total_as, lifted):
    """The Cournot total as a named Expression, as one Python expression all payoffs hold, or rebuilt in each
    payoff: the first two are aggregates (each best response a Newton solve of a convex QP, by default), the
    third is not (HiGHS on each player with the others fixed); all reach the closed form."""
    costs = np.array([10.0, 20.0, 30.0, 15.0])
    m = cournot(costs, total_as, own_quadratic=0.5)
    br = BestResponses(players_of(m, m.F), None, None, m)
    assert (br.tracker is not None) is lifted
    res = solve_nash(m, m.F, method="gauss-seidel", tol=1e-10)
    assert res.status is SolveStatus.OPTIMAL, res.message
    assert (res.extra["best_responses"]["newton_solves"] > 0) is lifted
    # first-order conditions 100 − Q − q_i − c_i − q_i = 0: q_i = (100 − c_i − Q) / 2, Q = (400 − Σc) / 6
    Q = (400 - costs.sum()) / 6
    np.testing.assert_allclose([m.F[i].q.value for i in m.F], (100 - costs - Q) / 2, atol=1e-6)


def test_a_response_below_its_bound_by_ipopts_relaxation_is_put_on_the_bound():
    """Kelly's mechanism from w = 0: the best response to 0 is 'as little as possible', which Ipopt returns
    1e-8 outside the bound, where a w_i / (w_1 + w_2) payoff is ~1 instead of undefined; on the bound
    the profile stays undefined and the result says so instead of claiming an equilibrium."""
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(2))
    for i in range(2):
        m.P[i].w = pyo.Var(bounds=(0, 10), initialize=0.0)
    total = m.P[0].w + m.P[1].w
    for i, a in enumerate((2.0, 1.0)):
        m.P[i].u = pyo.Objective(expr=a * m.P[i].w / total - m.P[i].w, sense=pyo.maximize)
    r = solve_nash(m, m.P, method="gauss-seidel")
    assert r.status is SolveStatus.ERROR and "could not be computed" in r.message
    assert all(m.P[i].w.value >= 0.0 for i in range(2))


def test_sweeps_stop_when_the_profile_wanders_along_a_set_of_equilibria():
    """Mohsenian-Rad et al. (2010) load shifting: each household pays its share of Σ_h a_h L_h².  From sweep 2
    the profile's Nash gap is ~0, but the HiGHS best responses move it by ~1e-6 every sweep (their own
    accuracy), above tol = 1e-8: before, Gauss-Seidel ran all 500 sweeps (~40 s).  The totals are those of
    the potential's minimiser (scipy SLSQP on Σ_h a_h L_h²)."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(7)
    n, hours = 6, 24
    a = np.array([0.2 if h < 8 else 0.3 for h in range(hours)])
    base = rng.uniform(0.3, 0.8, size=(n, hours))
    energy = rng.uniform(5, 12, size=n)
    windows = [(int(s), int(s) + int(w)) for s, w in zip(rng.integers(0, 12, n), rng.integers(8, 13, n))]
    share = (energy + base.sum(axis=1)) / (energy.sum() + base.sum())
    cap = [[2.0 if lo <= h < min(hi, hours) else 0.0 for h in range(hours)] for lo, hi in windows]
    m = pyo.ConcreteModel()
    m.hh = pyo.Block(range(n))
    for k in range(n):
        m.hh[k].x = pyo.Var(range(hours), bounds=lambda _, h, k=k: (0.0, cap[k][h]),
                            initialize=lambda _, h, k=k: energy[k] * cap[k][h] / sum(cap[k]))
        m.hh[k].energy = pyo.Constraint(expr=sum(m.hh[k].x[h] for h in range(hours)) == energy[k])
    for k in range(n):
        m.hh[k].bill = pyo.Objective(expr=share[k] * sum(
            a[h] * sum(base[j, h] + m.hh[j].x[h] for j in range(n)) ** 2 for h in range(hours)))
    res = solve_nash(m, m.hh, method="gauss-seidel")
    assert res.status is SolveStatus.OPTIMAL and "best responses accurate only to about that" in res.message, \
        res.message
    assert res.iterations < 100
    load = base.sum(0) + np.array([[m.hh[k].x[h].value for h in range(hours)] for k in range(n)]).sum(0)

    def cost(z):
        return float((a * (base.sum(0) + z.reshape(n, hours).sum(0)) ** 2).sum())

    rows = [{"type": "eq", "fun": lambda z, k=k: z.reshape(n, hours)[k].sum() - energy[k]} for k in range(n)]
    start = np.concatenate([[energy[k] * c / sum(cap[k]) for c in cap[k]] for k in range(n)])
    ref = minimize(cost, start, bounds=[(0.0, c) for row in cap for c in row], constraints=rows, method="SLSQP",
                   options={"ftol": 1e-14, "maxiter": 2000})
    np.testing.assert_allclose(load, base.sum(0) + ref.x.reshape(n, hours).sum(0), atol=1e-4)


def test_a_slowly_contracting_sweep_is_not_taken_for_a_stall():
    """45 Cournot firms, P = 100 − Q: Gauss-Seidel contracts by ~0.98 per sweep.  A stall test on the strategy
    change alone (0.9 over 20 sweeps, a gap of 1e-9) stopped it 2e-5 from the closed form; the profile's own
    Nash gap must be ~0 (1e-12) before a stall stops it, so it runs on to tol."""
    n = 45
    costs = np.linspace(1.0, 3.0, n)
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(n))
    for i in range(n):
        m.F[i].q = pyo.Var(bounds=(0, 1000))
    total = sum(m.F[i].q for i in range(n))
    for i in range(n):
        m.F[i].profit = pyo.Objective(expr=(100.0 - total) * m.F[i].q - costs[i] * m.F[i].q, sense=pyo.maximize)
    res = solve_nash(m, m.F, method="gauss-seidel", max_iter=3000)
    assert res.status is SolveStatus.OPTIMAL, res.message
    closed_form = (100.0 + costs.sum() - (n + 1) * costs) / (n + 1)
    np.testing.assert_allclose([m.F[i].q.value for i in range(n)], closed_form, atol=1e-6)
