"""RTP bi-objective problem: exact front, weighted sum (eq. 13-15), NSGA-II and MOPSO hypervolumes."""
from __future__ import annotations

import numpy as np
import pytest

from gridgames.models.rtp import rtp_prices
from gridgames.models.rtp_appliances import library
from gridgames.models.rtp_multiobjective import BiObjectiveModel, RTPKeysProblem, compare_fronts, normalised_hv
from gridgames.models.rtp_objectives import Welfare

NAMES = ("lighting", "cooker", "oven", "washer", "dishwasher")


def _small(**kw) -> BiObjectiveModel:
    """One household-day, five appliances (three uninterruptible, 1650 schedules) at a forecast-shaped RTP.

    Kept this small because HiGHS needs ~1-3 s per ε-constraint MILP even here (see docs/rtp.md).
    """
    lib = {a.name: a for a in library()}
    load = 2000 + 400 * np.sin(np.arange(24) / 24 * 2 * np.pi - 2)
    return BiObjectiveModel([lib[n] for n in NAMES], rtp_prices(load, 0.08), Welfare(), lambda1=0.02, **kw)


@pytest.fixture(scope="module")
def comparison():
    bo = _small()
    return bo, compare_fronts(bo, n_points=None, pop_size=40, n_gen=100, seed=1)


def test_chords_milp_and_scip_miqcp_agree():
    """The HiGHS chord MILP and the SCIP quadratic epigraph give the same anchors (two solvers)."""
    a1, b1 = _small().anchor_points()
    a2, b2 = _small(welfare_form="quadratic").anchor_points()
    for p, q in ((a1, a2), (b1, b2)):
        assert p.f1 == pytest.approx(q.f1, abs=1e-6) and p.f2 == pytest.approx(q.f2, abs=1e-5)


def test_weighted_sum_point_lies_on_the_exact_front(comparison):
    bo, cmp = comparison
    a, b = bo.anchor_points()
    k1, k2 = cmp.weights
    # eq. 14-15: each objective weighted by the other's range, weights sum to one
    assert k1 == pytest.approx((b.f2 - a.f2) / ((b.f1 - a.f1) + (b.f2 - a.f2)))
    assert k1 + k2 == pytest.approx(1.0)
    ws = cmp.weighted
    on_front = bo.max_f2_given_f1(ws.f1)
    assert on_front.f2 == pytest.approx(ws.f2, abs=1e-6)
    E = cmp.exact
    assert not np.any((E[:, 0] <= ws.f1 - 1e-9) & (E[:, 1] >= ws.f2 + 1e-9))   # no exact point dominates it
    assert np.min(np.abs(E[:, 0] - ws.f1) + np.abs(E[:, 1] - ws.f2)) < 1e-6     # and it is one of them
    # it minimises κ1 f1 − κ2 f2 over the whole exact front
    assert k1 * ws.f1 - k2 * ws.f2 <= np.min(k1 * E[:, 0] - k2 * E[:, 1]) + 1e-9


def test_metaheuristic_points_are_never_better_than_the_exact_front(comparison):
    _, cmp = comparison
    E = cmp.exact
    for name in ("nsga2", "mopso"):
        for f1, f2 in cmp.fronts[name]:
            # no heuristic point dominates an exact point
            assert not np.any((f1 <= E[:, 0] - 1e-9) & (f2 >= E[:, 1] + 1e-9)), name


def test_mopso_hypervolume_within_two_percent_of_exact(comparison):
    _, cmp = comparison
    assert len(cmp.exact) >= 4
    assert cmp.hv["mopso"] <= cmp.hv["exact"] + 1e-9
    assert cmp.hv["mopso"] >= 0.98 * cmp.hv["exact"]


def test_keys_decode_matches_the_milp_objectives(comparison):
    """Decoded schedules keep the energy, evaluate consistently and never beat the exact min f1."""
    bo, _ = comparison
    prob = RTPKeysProblem(bo)
    X = np.random.default_rng(0).random((5, prob.n_var))
    F = prob.evaluate(X)
    load, comfort = prob.decode(X)
    assert np.all(np.isclose(load.sum(axis=1), load[0].sum()))       # same energy whatever the keys
    f1, f2 = bo.evaluate(load, comfort)
    assert np.allclose(F[:, 0], f1) and np.allclose(F[:, 1], -f2)
    a, _ = bo.anchor_points()
    assert np.all(F[:, 0] >= a.f1 - 1e-9)                               # the exact min f1 is a lower bound


def test_mopso_on_zdt1_against_the_analytic_front():
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem

    from gridgames.solvers.mopso import MOPSO

    problem = get_problem("zdt1", n_var=5)
    pf = problem.pareto_front()
    res = minimize(problem, MOPSO(pop_size=50, archive_size=100), ("n_gen", 150), seed=3)
    ideal, nadir = np.zeros(2), np.ones(2)
    hv_true, hv = normalised_hv(pf, ideal, nadir), normalised_hv(res.F, ideal, nadir)
    assert hv <= hv_true + 1e-6
    assert hv >= 0.98 * hv_true
