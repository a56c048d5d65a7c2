"""Certificates at the edges: gaps at profiles a solver leaves just outside a row, integer players, SCIP bounds."""
from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from cournot_games import cournot
from gridgames.solvers import nash_gap


@pytest.mark.parametrize("excess", [1e-6, 1e-3])
@pytest.mark.parametrize("newton", [False, True])
def test_a_cap_broken_by_a_solver_tolerance_neither_invents_nor_hides_gains(newton, excess):
    """Variational equilibrium of four firms under a shared cap Q ≤ 60: λ = 8, q = (22, 20, 18, 0); the
    fourth firm would sell at the cap's price 100 − 35 − 60 = 5 > 0 but not at 5 − λ < 0, so it is idle.
    With the cap overfilled by 3 × excess (within the 1e-4 relative feasibility tolerance) the idle firm is
    not credited any room (1e-6 × 61 × 5 = 3e-4 before), and the others' losses from repairing the excess
    alone (8 × 3e-3 = 0.024 at the larger excess, beyond the tolerance) are not counted (re-solved on the
    cap relaxed to the profile)."""
    m = cournot([10.0, 12.0, 14.0, 35.0], "named")
    m.cap = pyo.Constraint(expr=m.Q <= 60.0)
    for i, q in enumerate([22.0 + excess, 20.0 + excess, 18.0 + excess, 0.0]):
        m.F[i].q.value = q
    gaps = nash_gap(m, m.F, newton=newton)
    assert gaps["F[3]"] < 1e-7, gaps
    for i in range(3):
        assert abs(gaps[f"F[{i}]"]) <= 1e-5 * abs(pyo.value(m.F[i].profit)), gaps
    # a real gain at an overfilled cap is still seen: the first firm sells 40 where (100 − 20 − q − 10) q
    # peaks at 35 (gain 1225 − 1200 = 25)
    for i, q in enumerate([40.0, 0.0, 0.0, 20.0 + 3e-6]):
        m.F[i].q.value = q
    assert nash_gap(m, m.F, newton=newton)["F[0]"] == pytest.approx(25.0, abs=1e-3)


def knapsack_game(seed: int = 3, n: int = 60):
    """P1 packs binary items (values ≈ 10 × weights, capacity half the weight); P2 sets y = 1 alone."""
    rng = np.random.default_rng(seed)
    w = rng.integers(1000, 2000, n)
    v = w * 10 + rng.integers(-30, 30, n)
    m = pyo.ConcreteModel()
    m.P1, m.P2 = pyo.Block(), pyo.Block()
    m.P1.x = pyo.Var(range(n), domain=pyo.Binary)
    m.P2.y = pyo.Var(bounds=(0, 2))
    m.P1.cap = pyo.Constraint(expr=sum(int(w[j]) * m.P1.x[j] for j in range(n)) <= int(w.sum() * 0.5))
    m.P1.o = pyo.Objective(expr=sum(int(v[j]) * m.P1.x[j] for j in range(n)) + 0.001 * m.P1.x[0] * m.P2.y,
                           sense=pyo.maximize)
    m.P2.o = pyo.Objective(expr=-(m.P2.y - 1) ** 2, sense=pyo.maximize)
    return m


def test_an_integer_player_is_solved_to_its_optimum_not_the_mip_solvers_default_gap():
    """HiGHS' default relative MIP gap (1e-4) stopped this knapsack 9.0 short of its optimum, more than
    gap_tol × |f| = 4.4, and the sweeps said optimal; the optimum is found with mip_gap = 0 here."""
    from gridgames.solvers import get_solver, solve_nash

    ref = knapsack_game()
    ref.P2.y.fix(1.0)
    ref.P2.o.deactivate()
    best = get_solver("highs", mip_gap=0.0).solve(ref).objective
    m = knapsack_game()
    res = solve_nash(m, [m.P1, m.P2], method="gauss-seidel")
    assert str(res.status) == "optimal", res.message
    assert pyo.value(m.P1.o) == pytest.approx(best, abs=1e-3)


@pytest.mark.parametrize("method", ["kkt-sos1", "kkt-bigm"])
def test_a_follower_variable_with_a_domain_and_bounds_reaches_scip(method):
    """``within=NonNegativeReals, bounds=(0, 5)`` makes Pyomo's ``y.lower`` the expression max(0, 0), which
    SCIP's interface cannot translate (status error, blaming abs()/Expr_if, before)."""
    from gridgames.solvers import solve_bilevel

    m = pyo.ConcreteModel()
    m.p = pyo.Var(bounds=(0, 10))
    m.f = pyo.Block()
    m.f.y = pyo.Var(within=pyo.NonNegativeReals, bounds=(0, 5))
    m.f.o = pyo.Objective(expr=(m.f.y - m.p) ** 2)
    m.o = pyo.Objective(expr=(m.p - 3) ** 2 + m.f.y)     # y = p: min (p − 3)² + p at p = 2.5
    res = solve_bilevel(m, m.f, method=method)
    assert str(res.status) == "optimal", res.message
    assert m.p.value == pytest.approx(2.5, abs=1e-2) and res.objective == pytest.approx(2.75, abs=1e-4)


def test_a_heuristic_answer_says_when_its_followers_were_checked_locally_only():
    from gridgames.solvers.games.status import judge_local
    from gridgames.solvers.result import SolveResult, SolveStatus

    res = SolveResult(SolveStatus.FEASIBLE, 1.0, 0.1, 1, "ga", "pymoo GA")
    judge_local(res, ["f"], role="follower")
    assert res.status is SolveStatus.FEASIBLE
    assert "follower 'f' is nonlinear" in res.message and "nearby only" in res.message
    res = SolveResult(SolveStatus.OPTIMAL, 1.0, 0.1, 1, "ipopt", "done")
    judge_local(res, ["f"], role="follower")
    assert res.status is SolveStatus.LOCALLY_OPTIMAL


def test_a_term_in_a_variable_the_follower_cannot_move_does_not_loosen_its_tolerance():
    """Follower min 1e6·y1 + (1 + 0.1x)·y2 with y1 == 1: its best y2 is 0.  A response y2 = 5 loses
    (1 + 0.5)·5 = 7.5; scaled by |f| ≈ 1e6 the tolerance was 10 and the answer passed."""
    from gridgames.solvers import solve_bilevel

    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 5), initialize=1)
    m.f = pyo.Block()
    m.f.y1 = pyo.Var(bounds=(0, 2))
    m.f.y2 = pyo.Var(bounds=(0, 5))
    m.f.e = pyo.Constraint(expr=m.f.y1 == 1)
    m.f.obj = pyo.Objective(expr=1e6 * m.f.y1 + (1 + 0.1 * m.x) * m.f.y2)
    m.F = pyo.Objective(expr=m.f.y2, sense=pyo.maximize)
    res = solve_bilevel(m, m.f, method="analytic", response=lambda mm: [(mm.f.y1, 1.0 + 0 * mm.x), (mm.f.y2, mm.x)])
    assert str(res.status) == "follower_not_optimal", res.message
    assert res.follower_gap == pytest.approx(7.5, rel=1e-6)
    assert "not at its optimum" in res.message


def test_a_looser_mip_gap_the_caller_gives_leaves_the_equilibrium_uncertified():
    from gridgames.solvers import solve_nash

    m = knapsack_game()
    res = solve_nash(m, [m.P1, m.P2], method="gauss-seidel", solver_options={"mip_gap": 1e-3})
    assert str(res.status) == "feasible", res.message
    assert "the mip_gap you gave" in res.message


def test_a_pinned_term_of_size_1e9_does_not_turn_rounding_into_a_gain():
    """P0 earns 1e9·y1 with y1 set by its own row 3·y1 − 0.003·q1 == 3.0000001 (an exp term makes it an Ipopt
    player): the rounding of y1 between profile and re-solve (~1e-12) is ~1e-3 of payoff, which the tolerance
    must cover (review 10: not_equilibrium / feasible when the pinned term left the scale entirely)."""
    from gridgames.solvers import solve_nash

    m = pyo.ConcreteModel()
    m.F = pyo.Block(range(2))
    for i in range(2):
        m.F[i].q = pyo.Var(bounds=(0, 10), initialize=1)
    m.F[0].y1 = pyo.Var(bounds=(0, 3), initialize=1)
    m.F[0].pin = pyo.Constraint(expr=3 * m.F[0].y1 - 0.003 * m.F[1].q == 3.0000001)
    m.F[0].profit = pyo.Objective(expr=1e9 * m.F[0].y1 + 2 * m.F[0].q - 0.1 * m.F[0].q ** 2
                                  - 0.01 * m.F[0].q * m.F[1].q + 1e-4 * pyo.exp(0.1 * m.F[0].q), sense=pyo.maximize)
    m.F[1].profit = pyo.Objective(expr=m.F[1].q - 0.1 * m.F[1].q ** 2 - 0.01 * m.F[0].q * m.F[1].q,
                                  sense=pyo.maximize)
    for method in ("gauss-seidel", "jacobi"):
        res = solve_nash(m, m.F, method=method)
        assert res.status.is_optimal, (method, res.message)


def test_a_pyomo_passthrough_solver_answers_for_a_player_block():
    """A player's block is not a model: Pyomo's legacy solvers have no ``solutions`` store on it (an
    AttributeError before)."""
    from gridgames.solvers import solve_nash

    if not _pyomo_solver("highs"):
        pytest.skip("Pyomo's highs is not available")
    m = cournot([10.0, 20.0], "named")
    res = solve_nash(m, m.F, method="gauss-seidel", solver="pyomo:highs")
    assert str(res.status) == "optimal", res.message
    assert [m.F[i].q.value for i in m.F] == pytest.approx([100 / 3, 70 / 3], abs=1e-5)


def _pyomo_solver(name: str) -> bool:
    try:
        return bool(pyo.SolverFactory(name).available(exception_flag=False))
    except Exception:  # noqa: BLE001 - an availability probe
        return False


def test_a_solver_whose_mip_gap_gridgames_cannot_set_leaves_integer_gains_uncertified():
    """A custom backend stops at its own MIP gap (HiGHS: 1e-4, ten times gap_tol): its integer players'
    gains, and an integer follower's re-solve, are not certified; ``pyomo:highs`` gets the 1e-7 gap."""
    from gridgames.solvers import get_solver, register_solver, solve_nash, verify
    from gridgames.solvers.games.agent_solve import AgentSolver
    from gridgames.solvers.games.players import players_of

    register_solver("test-own-highs", lambda **options: get_solver("highs"), features={"lp", "qp", "milp"},
                    replace=True)
    m = knapsack_game()
    res = solve_nash(m, [m.P1, m.P2], method="gauss-seidel", solver="test-own-highs")
    assert str(res.status) == "feasible", res.message
    assert "gridgames cannot set" in res.message
    assert not verify(m, [m.P1], solver="test-own-highs")[0].certified
    agent = players_of(m, [m.P1, m.P2])[0]
    assert AgentSolver(agent, "pyomo:highs")._options_for("pyomo:highs")["mip_gap"] == 1e-7
