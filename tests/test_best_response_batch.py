"""Fast best responses: joint (batched) solves against per-player solves and the microgrid's numpy solver.

The microgrid market's vectorised solver (``models/microgrid/solve.py``) shares
no code with the engine: its equilibrium and its exact per-buyer gaps are the
independent answers here.
"""
import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.models.microgrid.config import MarketSpec
from gridgames.models.microgrid.model import build_game, requests
from gridgames.models.microgrid.solve import nash_gaps
from gridgames.solvers.errors import ModelError
from microgrid_games import N, TIGHT, load_requests, payoff_scale, small_market
from gridgames.solvers.games.nash import nash_gap, players_of, solve_nash
from gridgames.solvers.games.responses import BestResponses



@pytest.mark.parametrize("spec", [MarketSpec(), TIGHT], ids=["cleared", "capacity-binding"])
@pytest.mark.parametrize("shrink", [1.0, 0.5])
def test_batched_gap_equals_per_player_gap_and_numpy(shrink, spec):
    """At the equilibrium (gaps ~0) and at half of it (every buyer gains): joint = alone = exact numpy gaps."""
    market, ref = small_market(spec=spec)
    model = build_game(market)
    r = ref.r * shrink
    load_requests(model, r)
    joint = nash_gap(model, model.buyer, batch=True)
    alone = nash_gap(model, model.buyer, batch=False)
    exact = nash_gaps(market, r)
    tol = 1e-7 * max(1.0, payoff_scale(market, r))
    names = [model.buyer[i].name for i in range(N)]
    assert np.allclose([joint[n] for n in names], [alone[n] for n in names], atol=tol, rtol=1e-7)
    assert np.allclose([joint[n] for n in names], exact, atol=tol, rtol=1e-6)
    if shrink < 1.0:
        assert min(exact) > 1.0  # the comparison is not between zeros
    assert np.allclose(requests(market, model), r)  # the profile is left as it was


def test_batched_jacobi_reaches_the_vectorised_equilibrium():
    """Uncapacitated market (Jacobi steps from one profile overshoot shared caps): joint Jacobi = numpy solver."""
    market, ref = small_market(capacity=False)
    model = build_game(market, capacity=False)
    res = solve_nash(model, model.buyer, method="jacobi", tol=1e-10, batch=True)
    assert res.status.is_ok, res.message
    report = res.extra["best_responses"]
    assert report["batched"] and report["joint_solves"] >= res.iterations and report["player_solves"] == 0
    r = requests(market, model)
    assert np.abs(r - ref.r).max() < 1e-5
    assert nash_gaps(market, r, capacity=False).max() < 1e-6 * payoff_scale(market, r)


def test_gauss_seidel_sweeps_reach_the_vectorised_equilibrium():
    """Per-player persistent solves, final gap by one joint solve; = numpy solver (capacities not binding)."""
    market, ref = small_market()
    assert ref.market_status == "cleared"
    model = build_game(market)
    res = solve_nash(model, model.buyer, method="gauss-seidel", tol=1e-10, batch=True)
    assert res.status.is_ok, res.message
    r = requests(market, model)
    assert np.abs(r - ref.r).max() < 1e-5
    assert res.extra["best_responses"]["joint_solves"] == 1  # the final nash_gap
    assert set(res.extra["timings"]) >= {"analyse", "setup", "iterate", "verify", "total"}


def test_gauss_seidel_with_binding_capacities_is_a_generalized_equilibrium():
    """Every cap binds: the sweeps find a generalized equilibrium (not the variational one the numpy
    solver selects), so the independent check is the numpy exact best response with the capacity left.
    The sweeps crawl here (strategy change ~1e-6 per sweep, as before this work): 20 sweeps, then the
    engine's joint gap check must agree with the numpy gaps."""
    market, ref = small_market(spec=TIGHT)
    assert ref.market_status == "capacity_binding"
    model = build_game(market)
    res = solve_nash(model, model.buyer, method="gauss-seidel", max_iter=20, batch=True)
    r = requests(market, model)
    assert (r.sum(axis=0) <= market.G + 1e-6).all()
    exact = nash_gaps(market, r)
    assert exact.max() < 1e-6 * payoff_scale(market, r)
    names = [model.buyer[i].name for i in range(N)]
    assert np.allclose([res.player_gaps[n] for n in names], exact, atol=1e-7 * payoff_scale(market, r))


def _infeasible_buyer(model, k: int) -> None:
    b = model.buyer[k]
    b.impossible = pyo.Constraint(expr=sum(b.r[j] for j in b.r) >= 2.0 * b.r[next(iter(b.r))].ub + 1.0)


def test_infeasible_player_in_a_batch_is_reported():
    market, ref = small_market()
    model = build_game(market)
    load_requests(model, ref.r)
    _infeasible_buyer(model, 4)
    br = BestResponses(players_of(model, model.buyer), None, None, model, batch=True)
    assert br.batched
    br.gaps()    # the joint solve fails, each player is re-solved alone; buyer[4] on its rows relaxed to the profile
    assert any("buyer[4]" in line and "re-solved alone" in line for line in br.fallbacks)
    gaps = nash_gap(model, model.buyer, batch=True)   # as without batching: the profile breaks its own row
    assert gaps[model.buyer[4].name] == float("inf")
    assert gaps == nash_gap(model, model.buyer, batch=False)


def test_infeasible_player_stops_a_batched_jacobi_with_its_name():
    market, _ = small_market(capacity=False)
    model = build_game(market, capacity=False)
    _infeasible_buyer(model, 7)
    res = solve_nash(model, model.buyer, method="jacobi", batch=True)
    assert str(res.status) == "error"
    assert "buyer[7]" in res.message and "re-solved alone" in res.message
    assert res.extra["best_responses"]["fallbacks"]


def test_batch_is_refused_with_a_reason_when_it_does_not_apply():
    """Below the automatic threshold, and on a game without aggregates: per player, said why."""
    market, _ = small_market()
    model = build_game(market)
    br = BestResponses(players_of(model, model.buyer), None, None, model)
    assert not br.batched and "fewer than" in br.batch_reason
    br = BestResponses(players_of(model, model.buyer), None, None, None, batch=True)
    assert not br.batched and "aggregates" in br.batch_reason
    with pytest.raises(ModelError, match="batch must be"):
        solve_nash(model, model.buyer, method="jacobi", batch="yes")
