"""Nash engine fixes from review 11: joint gap checks of HiGHS (LP/QP) players, the sweeps' stop on a
drift along a set of equilibria, and the failure message of a player whose own row reads other strategies."""
import numpy as np
import pyomo.environ as pyo
import pytest

from gridgames.solvers.games.nash import checked_gaps, nash_gap, solve_nash

A = (10.0, 12.0, 9.0)


def _cournot(n: int, a: float = 100.0, b: float = 1.0):
    """n firms, price a − b·Q/n·10, costs c_i q + d_i q²/2 (Q a named Expression); closed-form equilibrium."""
    rng = np.random.default_rng(1)
    c, d = rng.uniform(5, 15, n), rng.uniform(0.5, 1.5, n)
    slope = b * 10.0 / n
    s = np.sum(1 / (slope + d))
    total = np.sum((a - c) / (slope + d)) / (1 + slope * s)
    q = (a - c - slope * total) / (slope + d)
    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(n))
    for i in range(n):
        m.F[i].q = pyo.Var(bounds=(0, 1000))
    m.Q = pyo.Expression(expr=pyo.quicksum(m.F[i].q for i in range(n)))
    for i in range(n):
        m.F[i].profit = pyo.Objective(expr=(a - slope * m.Q) * m.F[i].q - float(c[i]) * m.F[i].q
                                      - float(d[i]) / 2 * m.F[i].q ** 2, sense=pyo.maximize)
    return m, q, c, d, slope


def _exact_gain(q, c, d, slope, a=100.0):
    """Each firm's gain from its exact best response (numpy), the others at q."""
    others = q.sum() - q
    best = np.clip((a - c - slope * others) / (2 * slope + d), 0, 1000)

    def profit(x):
        return (a - slope * (others + x)) * x - c * x - d / 2 * x ** 2
    return profit(best) - profit(q)


@pytest.mark.parametrize("n", [30, 600])
def test_gap_check_of_qp_players_is_one_joint_solve(n):
    """30 firms: one joint HiGHS QP; 600 (more than LARGE_QP variables): one joint Ipopt solve; the gains
    equal numpy's exact ones at the equilibrium and at a perturbed profile."""
    m, q, c, d, slope = _cournot(n)
    rng = np.random.default_rng(2)
    for profile in (q, q * (1 + 0.05 * rng.standard_normal(n))):
        for i in range(n):
            m.F[i].q.value = float(profile[i])
        gaps, br = checked_gaps(m, m.F)
        assert br.batched, br.batch_reason
        assert br.report()["joint_solves"] == 1 and not br.fallbacks
        expected = "highs" if n == 30 else "ipopt"
        assert br._joint["check"].backend == expected
        got = np.array([gaps[m.F[i].name] for i in range(n)])
        exact = _exact_gain(profile, c, d, slope)
        assert np.allclose(got, exact, atol=1e-6 * max(1.0, np.abs(exact).max()))


def test_integer_players_are_not_joined():
    """A relative MIP gap of the joint problem bounds no single player's gain: integer players stay alone."""
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(25))
    for i in range(25):
        m.P[i].x = pyo.Var(bounds=(0, 10), within=pyo.Integers)
    m.X = pyo.Expression(expr=sum(m.P[i].x for i in range(25)))       # the market total: an aggregative game
    for i in range(25):
        m.P[i].o = pyo.Objective(expr=6 * m.P[i].x - 0.01 * m.X, sense=pyo.maximize)   # a MILP player
        m.P[i].x.value = 2
    gaps, br = checked_gaps(m, m.P)
    assert not br.batched and "MILP" in br.batch_reason
    # best x = 10: 6·10 − 0.01·58 against 6·2 − 0.01·50
    assert gaps[m.P[0].name] == pytest.approx(59.42 - 11.5)


def _subset_gnep(coupled: bool):
    m = pyo.ConcreteModel()
    m.P = pyo.Block(range(3))
    for i in range(3):
        m.P[i].x = pyo.Var(bounds=(0, 20))
    for i in range(3):
        others = sum(m.P[j].x for j in range(3) if j != i)
        m.P[i].u = pyo.Objective(expr=A[i] * m.P[i].x - m.P[i].x ** 2 - 0.5 * m.P[i].x * others,
                                 sense=pyo.maximize)
    m.c12 = pyo.Constraint(expr=m.P[0].x + m.P[1].x <= 5)
    m.c23 = pyo.Constraint(expr=m.P[1].x + m.P[2].x <= 4)
    if coupled:
        m.P[2].own = pyo.Constraint(expr=m.P[2].x <= 4 - m.P[0].x)
    return m


def test_gauss_seidel_stops_on_a_drift_along_equilibria():
    """Two players keep pushing on x2 + x3 <= 4 by a solver's tolerance: the profile drifts 1.8e-8 a sweep
    at a constant gap of ~1e-7 along the set of generalized equilibria (500 sweeps ran before)."""
    m = _subset_gnep(False)
    res = solve_nash(m, m.P, method="gauss-seidel")
    assert str(res.status) == "optimal", res.message
    assert res.iterations <= 60 and "kept moving" in res.message
    x = np.array([pyo.value(m.P[i].x) for i in range(3)])
    assert x[0] + x[1] <= 5 + 1e-6 and x[1] + x[2] <= 4 + 1e-6
    assert max(nash_gap(m, m.P).values()) < 1e-5


def test_failure_names_a_players_own_coupling_row_as_its_own():
    m = _subset_gnep(True)
    res = solve_nash(m, m.P, method="gauss-seidel")
    assert str(res.status) == "error"
    assert "shared constraint(s) c23" in res.message
    assert "its own constraint(s) on the others' strategies P[2].own" in res.message
    assert "proven infeasible" in res.message and "provenInfeasible" not in res.message


def test_a_named_highs_is_not_given_a_large_joint_qp():
    """solver='highs' named: a joint QP of 2,400 variables took 14 s in HiGHS' active-set solver (1 s per player);
    by default the same check is one Ipopt solve."""
    from gridgames.solvers.games.players import players_of
    from gridgames.solvers.games.responses import BestResponses

    m, q, *_ = _cournot(600)
    for i in range(600):
        m.F[i].q.value = float(q[i])
    named = BestResponses(players_of(m, m.F), "highs", None, m)
    assert not named.batched and "solver='highs' was named" in named.batch_reason
    assert BestResponses(players_of(m, m.F), None, None, m, newton=False).batched   # as nash_gap builds it
