"""Nash gaps at profiles a solver leaves just outside a constraint, and of integer players."""
from __future__ import annotations

import pyomo.environ as pyo
import pytest

from cournot_games import cournot
from gridgames.solvers import nash_gap


@pytest.mark.parametrize("newton", [False, True])
def test_a_cap_broken_by_a_solver_tolerance_neither_invents_nor_hides_gains(newton):
    """Variational equilibrium of four firms under a shared cap Q ≤ 60: λ = 8, q = (22, 20, 18, 0); the
    fourth firm would sell at the cap's price 100 − 35 − 60 = 5 > 0 but not at 5 − λ < 0, so it is idle.
    With the cap overfilled by 3e-6 (a solver's tolerance), every gain is still ~0: the idle firm is not
    credited the tolerance's room (1e-6 × 61 × 5 = 3e-4 before), the others are not charged for
    repairing the excess (−3e-6 × 8 before)."""
    m = cournot([10.0, 12.0, 14.0, 35.0], "named")
    m.cap = pyo.Constraint(expr=m.Q <= 60.0)
    for i, q in enumerate([22.0 + 1e-6, 20.0 + 1e-6, 18.0 + 1e-6, 0.0]):
        m.F[i].q.value = q
    gaps = nash_gap(m, m.F, newton=newton)
    assert max(abs(g) for g in gaps.values()) < 1e-7, gaps
    # a real gain at an overfilled cap is still seen: the first firm sells 40 where (100 − 20 − q − 10) q
    # peaks at 35 (gain 1225 − 1200 = 25)
    for i, q in enumerate([40.0, 0.0, 0.0, 20.0 + 3e-6]):
        m.F[i].q.value = q
    assert nash_gap(m, m.F, newton=newton)["F[0]"] == pytest.approx(25.0, abs=1e-3)
