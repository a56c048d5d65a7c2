"""The microgrid sellers' margin stage on the engine (models/microgrid/margins.py).

Independent answers: the vectorised buyers' equilibrium and seller profits of
models/microgrid/solve.py (numpy), and the numpy nested search of leaders.py.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.data.errors import InstanceError
from gridgames.models.instance import load_instance
from gridgames.models.microgrid.config import MarketSpec, random_market
from gridgames.models.microgrid.leaders import seller_profit
from gridgames.models.microgrid.solve import buyer_payoffs, equilibrium
from gridgames.models.microgrid.margins import build_margin_game, certify_margins, margin_bounds, solve_margins
from gridgames.solvers import ModelError, nash_gap

ROOT = Path(__file__).resolve().parents[1]
MARKET = random_market(4, MarketSpec(n_sellers=3), seed=7)
#: margins where every floor binds (above A − c) and the buyers still buy
EPS = np.array([60.0, 50.0, 55.0])


def test_floor_epigraph_reproduces_the_vectorised_equilibrium_and_profits():
    """At fixed margins the Pyomo buyers, started at the numpy equilibrium, gain nothing by deviating
    (engine nash_gap, Ipopt best responses), and the sellers' Pyomo revenue minus c·G is numpy's profit."""
    m = build_margin_game(MARKET, EPS)
    for j in m.seller:
        m.seller[j].eps.fix()
        m.seller[j].revenue.deactivate()
    gaps = nash_gap(m, m.buyer)
    scale = float(np.mean(np.abs(buyer_payoffs(MARKET.with_(eps=EPS), equilibrium(MARKET.with_(eps=EPS)).r))))
    assert max(gaps.values()) <= 1e-7 * scale      # Ipopt's tolerance on payoffs of ~1e3-1e4 yuan
    revenue = np.array([pyo.value(m.seller[j].revenue.expr) for j in m.seller])
    np.testing.assert_allclose(revenue - MARKET.c * MARKET.G, seller_profit(MARKET, EPS), rtol=1e-7)


def test_margin_bounds_start_where_the_floor_becomes_active():
    lo, hi = margin_bounds(MARKET)
    np.testing.assert_allclose(lo, MARKET.A - MARKET.c)   # A = c + eps + markup > c in this spec
    assert hi == pytest.approx(MARKET.w.max() - MARKET.c.min())


def test_certificate_finds_the_gain_of_a_seller_below_its_best_margin():
    """At margins at the lower end a seller gains by raising its floor; the numpy search finds a gain > 0."""
    lo, _ = margin_bounds(MARKET)
    profit, gains = certify_margins(MARKET, lo)
    assert profit.shape == (3,) and gains.max() > 1.0


def test_unknown_margin_method_is_named():
    with pytest.raises(ModelError, match="margins.method"):
        solve_margins(MARKET, method="newton")


@pytest.mark.parametrize("kwargs,match", [({"mpec": "nested"}, "margins.mpec: choose one of kkt, implicit"),
                                          ({"method": "joint", "mpec": "implicit"}, "'diagonalisation' only")])
def test_bad_mpec_value_is_named(kwargs, match):
    with pytest.raises(ModelError, match=match):
        solve_margins(MARKET, **kwargs)


def test_instance_margins_section_errors_name_the_field(tmp_path):
    from gridgames.models.microgrid.study import STUDY
    text = (ROOT / "instances" / "microgrid_margins.toml").read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('method = "diagonalisation"', 'method = "newton"').replace("n_buyers = 3", "n_buyers = 0"))
    with pytest.raises(InstanceError) as err:
        STUDY.load(load_instance(bad), {})
    assert "[margins].method" in str(err.value) and "[margins].n_buyers" in str(err.value)


def test_lifted_form_gives_the_dense_form_mpec():
    """One seller's MPEC (kkt) from the same start: the lifted others' totals give the dense form's answer."""
    from gridgames.solvers.games.epec import _leaders, _mpec
    from gridgames.solvers.games.structure import _as_blocks

    answers = []
    for lifted in (False, True):
        m = build_margin_game(MARKET, lifted=lifted)
        followers = _as_blocks(m.buyer)
        res = _mpec(m, _leaders(m.seller, followers), 0, followers, "kkt", {})
        assert res.ok, res.message
        answers.append([m.seller[0].eps.value, pyo.value(m.seller[0].revenue.expr)])
    np.testing.assert_allclose(answers[1], answers[0], rtol=1e-7)


def test_diagonalisation_reaches_the_numpy_equilibrium():
    """3 sellers x 3 buyers: the engine's diagonalisation (each seller's MPEC over the buyers' Nash KKT
    conditions) converges to the numpy diagonalisation's margins (grid + Brent over full lower-stage
    equilibria, leaders.py), and the numpy search finds no seller gaining by deviating."""
    from gridgames.models.microgrid.leaders import diagonalise
    from gridgames.solvers.result import SolveStatus

    market = random_market(3, MarketSpec(n_sellers=3), seed=7)
    res = solve_margins(market)
    assert res.status is SolveStatus.LOCALLY_OPTIMAL and res.cycle_length == 0, res.message
    np.testing.assert_allclose(res.eps, diagonalise(market).eps, rtol=1e-3)
    assert res.rel_gap <= 1e-6 and max(res.engine_gains.values()) <= 1e-6 * np.abs(res.engine_profit).mean()
    np.testing.assert_allclose(res.engine_profit, res.profit, rtol=1e-6)


def test_diagonalisation_with_implicit_mpecs_reaches_the_numpy_equilibrium():
    """The same 3 x 3 market with each seller's MPEC by implicit (the buyers' Nash equilibrium differentiated
    through their stacked KKT system): the numpy diagonalisation's margins, no seller gaining."""
    from gridgames.models.microgrid.leaders import diagonalise
    from gridgames.solvers.result import SolveStatus

    market = random_market(3, MarketSpec(n_sellers=3), seed=7)
    res = solve_margins(market, mpec="implicit")
    assert res.status is SolveStatus.LOCALLY_OPTIMAL and res.method == "epec-diagonalisation-implicit", res.message
    np.testing.assert_allclose(res.eps, diagonalise(market).eps, rtol=1e-3)
    assert res.rel_gap <= 1e-6 and max(res.engine_gains.values()) <= 1e-6 * np.abs(res.engine_profit).mean()
