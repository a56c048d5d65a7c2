"""``solve_nash(method="kkt")`` with market totals lifted out of the stationarity rows."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from cournot_games import cournot
from gridgames.solvers import SolveStatus, solve_nash
from gridgames.solvers.errors import UnsupportedModelError

COSTS = [10.0 + 0.5 * i for i in range(30)]
A = 1000.0    # every firm interior (q between 24.5 and 39)


def closed_form(costs, a=100.0, b=1.0) -> np.ndarray:
    """Interior Cournot equilibrium: ``Q* = (n a − Σc) / (b (n + 1))``, ``q_i = (a − c_i)/b − Q*``."""
    costs = np.asarray(costs)
    total = (len(costs) * a - costs.sum()) / (b * (len(costs) + 1))
    return (a - costs) / b - total


def quantities(m) -> np.ndarray:
    return np.array([m.F[i].q.value for i in m.F])


@pytest.mark.parametrize("solver", [None, "scip"])
@pytest.mark.parametrize("total_as", ["named", "inline", "rebuilt"])
def test_cournot_by_kkt_matches_the_closed_form_with_the_total_lifted_or_not(total_as, solver):
    m = cournot(COSTS, total_as, a=A)
    res = solve_nash(m, m.F, method="kkt", solver=solver)
    assert res.status is SolveStatus.OPTIMAL, res.message
    assert closed_form(COSTS, A).min() > 20.0
    np.testing.assert_allclose(quantities(m), closed_form(COSTS, A), atol=1e-5)
    lifted = res.extra.get("lifted_totals")
    if total_as == "rebuilt":     # a new sum in every payoff: nothing shared to lift
        assert lifted is None
    else:
        assert lifted is not None and len(lifted) == 1
    # the scratch block with the totals is gone, the user's model is as it was
    assert not [c for c in m.component_objects(pyo.Block, descend_into=False) if c.name.startswith("_gg")]


def test_lifted_rows_are_sparse():
    """With the total lifted each firm's stationarity row holds its own q, the total and its multipliers,
    not all 30 firms' quantities: the Jacobian has O(N) entries, not O(N²)."""
    lifted, dense = [], []
    for total_as, out in (("named", lifted), ("rebuilt", dense)):
        m = cournot(COSTS, total_as, a=A)
        res = solve_nash(m, m.F, method="kkt")
        out.append(res.extra["jac_nnz"])
    assert dense[0] >= len(COSTS) ** 2
    assert lifted[0] <= 10 * len(COSTS)


def test_a_payoff_convex_through_the_total_is_still_refused_with_its_term():
    m = cournot([10.0, 12.0, 14.0], "named", b=-1.0)   # price rising in the total: q² enters with +1
    with pytest.raises(UnsupportedModelError,
                       match=r"F\[0\].*not concave for a maximisation.*eigenvalue 2 .*F\[0\]\.q\*F\[0\]\.q"):
        solve_nash(m, m.F, method="kkt")


def test_shared_capacity_with_a_lifted_total_gives_the_variational_equilibrium():
    """Three firms, a shared cap Q ≤ 60 on the named total; the variational equilibrium has one price of
    the cap λ for all: q_i = a − c_i − Q − λ with Q = 60, so λ = (3a − Σc − 4·60)/3."""
    costs = [10.0, 12.0, 14.0]
    m = cournot(costs, "named")
    m.cap = pyo.Constraint(expr=m.Q <= 60.0)
    res = solve_nash(m, m.F, method="kkt", variational=True)
    assert res.status is SolveStatus.OPTIMAL, res.message
    lam = (3 * 100.0 - sum(costs) - 4 * 60.0) / 3
    np.testing.assert_allclose(quantities(m), [100.0 - c - 60.0 - lam for c in costs], atol=1e-5)
    assert res.extra["shared_multipliers"]["cap"] == pytest.approx(lam, abs=1e-5)



def test_a_variational_equilibrium_keeps_one_complementarity_pair_per_shared_side():
    """Tied multipliers make every player's copy of a shared cap's pair the same pair: stated once, the
    system stays sparse (N copies of a market-wide slack were N dense rows: 16 s for 300 firms, now ~4 s)."""
    n, cap = len(COSTS), 900.0     # the cap binds: Q would be 951 without it
    m = cournot(COSTS[:n], "named", a=A)
    m.cap = pyo.Constraint(expr=m.Q <= cap)
    res = solve_nash(m, m.F, method="kkt", variational=True)
    assert res.status is SolveStatus.OPTIMAL, res.message
    costs = np.array(COSTS[:n])
    lam = (n * A - costs.sum() - (n + 1) * cap) / n      # q_i = A − c_i − Q − λ with Q = cap
    np.testing.assert_allclose(quantities(m), A - costs - cap - lam, atol=1e-5)
    assert res.extra["shared_multipliers"]["cap"] == pytest.approx(lam, abs=1e-5)
    assert res.extra["jac_nnz"] <= 20 * n
