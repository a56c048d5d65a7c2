"""The BOLIB family: every problem solved to its known optimum by global methods with no bound given."""
from __future__ import annotations

import pyomo.environ as pyo
import pytest

from gridgames.benchmarks.bolib import build_bolib
from gridgames.benchmarks.bolib_problems import (CORRECTIONS, LINEAR, PROBLEMS, QUADRATIC, get_problem,
                                                 reference_value)
from gridgames.benchmarks.cases_bolib import bolib_cases, methods_for, run_bolib
from gridgames.models.instance import InstanceError
from gridgames.solvers import SolveStatus

NAMES = sorted(PROBLEMS)
REL = 1e-5


def close(value: float | None, reference: float) -> bool:
    return value is not None and abs(value - reference) <= REL * max(1.0, abs(reference))


def test_the_family_has_at_least_30_linear_and_quadratic_problems():
    assert len(LINEAR) >= 20 and len(QUADRATIC) >= 20 and len(PROBLEMS) >= 30
    assert {p.kind for p in LINEAR} == {"linear"} and {p.kind for p in QUADRATIC} == {"quadratic"}
    cases = bolib_cases()
    assert {c.params["problem"] for c in cases} == set(PROBLEMS)
    assert any(c.smoke for c in cases)


@pytest.mark.parametrize("name", NAMES)
def test_kkt_bigm_reaches_the_known_optimum_with_no_bound_given(name):
    row = run_bolib(problem=name, method="kkt-bigm")
    assert row["status"] == "optimal", row["message"]
    assert close(row["objective"], reference_value(name)), (row["objective"], reference_value(name))
    assert row["eq_gap"] <= 1e-6 * max(1.0, abs(row["objective"]))
    assert row["wall_time"] < 60


@pytest.mark.parametrize("name", [p.name for p in LINEAR])
def test_strong_duality_and_kkt_sos1_agree_on_the_linear_problems(name):
    for method in ("strong-duality", "kkt-sos1"):
        row = run_bolib(problem=name, method=method)
        assert row["status"] == "optimal" and close(row["objective"], reference_value(name)), (method, row)


def test_no_global_method_reports_optimal_beyond_the_gap_tolerance():
    # every global row of a sample: optimal implies a follower gap within 1e-5·max(1, |f|)
    for name in NAMES[::4]:
        for method in methods_for(name):
            if method == "kkt":
                continue
            row = run_bolib(problem=name, method=method)
            if row["status"] == "optimal":
                assert row["eq_gap"] <= 1e-5 * max(1.0, abs(row["objective"])), (name, method, row)


def test_kkt_reaches_a_published_optimum_on_at_least_90_percent():
    # a published optimum: BOLIB's F* (which may be a local one) or the corrected global value
    reached = []
    for name in NAMES:
        row = run_bolib(problem=name, method="kkt")
        reached.append(row["status"] in ("locally_optimal", "optimal") and (
            close(row["objective"], reference_value(name)) or close(row["objective"], get_problem(name).F_star)))
    assert sum(reached) >= 0.9 * len(NAMES), [n for n, ok in zip(NAMES, reached) if not ok]


def test_corrections_are_bilevel_feasible_points_better_than_published():
    for name, (value, _why) in CORRECTIONS.items():
        assert value <= get_problem(name).F_star + 1e-12, name   # all BOLIB problems minimise


def test_single_variable_rows_become_bounds_and_the_model_follows_the_convention():
    m = build_bolib("AnandalinghamWhite1990")      # x >= 0 (G) and y >= 0 (g) are bounds
    assert m.x[1].lb == 0 and m.follower.y[1].lb == 0
    assert len(m.G) == 0 and len(m.follower.g) == 5
    assert m.follower.objective.sense == pyo.minimize
    with pytest.raises(InstanceError, match="unknown BOLIB problem 'Nope'"):
        get_problem("Nope")
    assert SolveStatus.OPTIMAL.is_optimal
