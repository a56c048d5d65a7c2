"""The microgrid market declared as a Pyomo game for ``solve_nash`` (one block per buyer), and the PSO.

Model: ``m.buyer[i]`` holds buyer i's requests ``r[m]`` (its available sellers
only, bounds ``[0, X_i]``), its demand cap ``Σ_m r[m] ≤ X_i`` and its objective
``max Σ_m f(r[m]) − p_m(r_m) r[m]`` (eq. (18)); the seller totals
``m.total[m]`` are model-level expressions of all buyers' requests, and the
capacities ``m.capacity[m]: total ≤ G_m`` are shared constraints (eq. (6)).

Price floor (eq. (7)).  ``p_m = max(q_m(r_m), c_m + ε_m)`` is nonsmooth.  When
``A_m ≥ c_m + ε_m`` the floor is provably inactive for ``r ≥ 0`` (``q_m`` is
nondecreasing) and the smooth ``q_m`` is used.  Otherwise, with the kink
``r̄_m`` where ``q_m(r̄_m) = c_m + ε_m``, write
``p_m = F_m + (B_m + 2 C_m r̄_m) s + C_m s²`` with ``s = max(0, r_m − r̄_m)``,
and give each buyer its own ``s[m] ≥ 0``, ``s[m] ≥ total_m − r̄_m``: the buyer
pays ``p(s) r[m]``, increasing in s, so at its optimum ``s`` sits at
``max(0, r_m − r̄_m)`` whenever it buys from m — the floor is exact, no
smoothing.

PSO: the paper's particle swarm (Section 3.3) is pymoo's PSO with the
linearly decreasing inertia weight of eq. (23),
``w_k = w_max − k (w_max − w_min)/k_max`` (:class:`LinearInertiaPSO`).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pymoo.algorithms.soo.nonconvex.pso import PSO

from gridgames.models.microgrid.config import Market
from gridgames.models.microgrid.solve import MarketSolution, attach_gap, buyer_payoffs, nash_gaps
from gridgames.solvers.games.nash import solve_nash
from gridgames.solvers.games.status import GAP_TOL
from gridgames.solvers.result import SolveStatus

ENGINE_METHODS = ("gauss-seidel", "jacobi", "kkt", "pso", "mcp")


class LinearInertiaPSO(PSO):
    """pymoo PSO with eq. (23): inertia falls linearly from ``w_max`` to ``w_min`` over ``k_max`` generations.

    Parameters
    ----------
    k_max : int
        Generations of the run (the termination's ``n_gen``).
    w_max, w_min : float
        Inertia at the first and the last generation (0.9 and 0.4, the usual values).
    **kwargs
        Passed to pymoo's ``PSO`` (``pop_size``, ``c1``, ``c2``, ...); ``adaptive`` is off.
    """

    def __init__(self, k_max: int, w_max: float = 0.9, w_min: float = 0.4, **kwargs: Any) -> None:
        super().__init__(w=w_max, adaptive=False, **kwargs)
        self.k_max, self.w_max, self.w_min = int(k_max), float(w_max), float(w_min)

    def _advance(self, infills=None, **kwargs):
        super()._advance(infills=infills, **kwargs)
        k = min(self.n_gen, self.k_max)
        self.w = self.w_max - k * (self.w_max - self.w_min) / self.k_max


def build_game(market: Market, *, capacity: bool = True, start: np.ndarray | None = None) -> pyo.ConcreteModel:
    """The Pyomo game: ``model.buyer`` is the indexed player block (see the module docstring)."""
    N, M = market.n_buyers, market.n_sellers
    kink = market.kink
    kinked = [m for m in range(M) if not market.A[m] >= market.floor[m]]
    m_ = pyo.ConcreteModel(name="microgrid market")
    m_.buyer = pyo.Block(range(N))
    for i in range(N):
        b = m_.buyer[i]
        sellers = [int(j) for j in np.flatnonzero(market.avail[i])]
        init = {j: float(start[i, j]) if start is not None else 0.0 for j in sellers}
        b.r = pyo.Var(sellers, bounds=(0.0, float(market.X[i])), initialize=init)
        b.demand = pyo.Constraint(expr=sum(b.r[j] for j in sellers) <= float(market.X[i]))
        ks = [j for j in kinked if j in sellers]
        if ks:
            b.s = pyo.Var(ks, bounds=(0.0, float(market.X.sum())), initialize=0.0)
    buyers_of = [[i for i in range(N) if market.avail[i, j]] for j in range(M)]
    m_.total = pyo.Expression(range(M), rule=lambda mod, j: sum(mod.buyer[i].r[j] for i in buyers_of[j]))
    for i in range(N):
        b = m_.buyer[i]
        X, w = float(market.X[i]), float(market.w[i])
        terms = []
        for j in b.r:
            A, B, C, F = (float(v[j]) for v in (market.A, market.B, market.C, market.floor))
            if j in kinked:
                b.add_component(f"kink_{j}", pyo.Constraint(expr=b.s[j] >= m_.total[j] - float(kink[j])))
                s = b.s[j]
                price = F + (B + 2.0 * C * float(kink[j])) * s + C * s * s
            else:
                tot = m_.total[j]
                price = A + B * tot + (C * tot * tot if C else 0.0)
            terms.append(market.satisfaction.pyomo(b.r[j], X, w) - price * b.r[j])
        b.payoff = pyo.Objective(expr=sum(terms), sense=pyo.maximize)
    if capacity:
        m_.capacity = pyo.Constraint(range(M), rule=lambda mod, j: (mod.total[j] <= float(market.G[j]))
                                     if buyers_of[j] else pyo.Constraint.Skip)
    return m_


def requests(market: Market, model: pyo.ConcreteModel) -> np.ndarray:
    """The (N, M) request matrix held in the model's variables."""
    r = np.zeros((market.n_buyers, market.n_sellers))
    for i in range(market.n_buyers):
        for j, v in model.buyer[i].r.items():
            r[i, j] = v.value or 0.0
    return r


def solve_engine(market: Market, method: str, *, start: np.ndarray | None = None, solver: str | None = None,
                 pso_generations: int = 100, pso_pop: int = 30, seed: int = 1, **options: Any) -> MarketSolution:
    """Solve with ``solve_nash`` (``gauss-seidel``, ``jacobi``, ``kkt``, ``pso`` or ``mcp``).

    ``kkt`` is run with ``variational=True`` (one capacity multiplier per
    seller, the same equilibrium as the vectorised solver; ``mcp`` selects it
    by construction); best-response iterations find *a* generalized
    equilibrium when capacity binds.  The result's ``nash_gap`` is the
    engine's Pyomo ``nash_gap``; the numpy gap is in ``message``.  ``mcp``
    skips the engine's per-buyer check unless ``verify=True`` is passed, and
    then reports the exact numpy gap as ``nash_gap``.
    """
    t0 = time.perf_counter()
    model = build_game(market, start=start)
    if method == "kkt":
        options.setdefault("variational", True)
    if method == "pso":
        options["algorithm"] = LinearInertiaPSO(k_max=pso_generations, pop_size=pso_pop)
        options.update(n_gen=pso_generations, seed=seed)
    if method == "jacobi":
        options.setdefault("damping", 0.5)
    if method == "mcp":
        options.setdefault("verify", False)
    # (Ipopt best responses keep the shared capacities exactly: the engine sets bound_relax_factor = 0
    # for players with shared constraints.)
    # Ipopt by default: a buyer's problem is nonconvex in (r, s) as written (price × request, s the floor
    # kink's slack), which would send its gap check to SCIP, but convex once s is minimised out (the price
    # rises with s); the numpy gap in `message` is the family's global check
    res = solve_nash(model, model.buyer, method=method, solver=solver or "ipopt", **options)
    r = requests(market, model)
    status = res.status
    gains = nash_gaps(market, r)
    numpy_gap = float(gains.max())
    if (status is SolveStatus.LOCALLY_OPTIMAL and res.extra.get("checked_locally")
            and np.all(gains <= GAP_TOL * np.maximum(1.0, np.abs(buyer_payoffs(market, r))))):
        # the engine re-solved the buyers by Ipopt only; the family's exact best responses (each buyer's
        # concave problem solved in closed form) are a global check of every buyer's gain
        status = SolveStatus.OPTIMAL
        res.message += "; optimal: every buyer's gain is within tolerance by the family's exact best responses"
    sol = MarketSolution(r=r, method=method, status=status, time=time.perf_counter() - t0,
                         iterations=int(res.iterations or 0), history=list(res.history))
    if "shared_multipliers" in res.extra:  # mcp: the capacity multipliers are the scarcity surcharges mu_m
        shared = res.extra["shared_multipliers"]
        sol.mu = np.array([shared.get(f"capacity[{j}]", 0.0) for j in range(market.n_sellers)])
    sol.nash_gap = float(res.gap) if not np.isnan(res.gap) else max(numpy_gap, 0.0)
    sol.rel_gap = sol.nash_gap / max(float(np.mean(np.abs(buyer_payoffs(market, r)))), 1e-12)
    over = r.sum(axis=0) >= market.G * (1 - 1e-7)
    sol.market_status = "capacity_binding" if over.any() else "cleared"
    sol.message = f"{res.message}; numpy exact gap {numpy_gap:.3e}"
    return sol


def solve_pso(market: Market, *, generations: int = 200, pop_size: int = 40, seed: int = 1,
              w_max: float = 0.9, w_min: float = 0.4, time_limit: float | None = None) -> MarketSolution:
    """The paper's PSO on the vectorised regret: minimise ``Σ_i gap_i(r)`` over the requests.

    Each particle is the whole request profile (one coordinate per available
    buyer-seller pair, box ``[0, X_i]``); the demand and capacity caps are
    met by repairing every particle (rows scaled to ``X_i``, then columns to
    ``G_m``) before its regret is computed; the regrets of the whole swarm are computed
    at once by :func:`~gridgames.models.microgrid.solve.nash_gaps` on a batch
    axis.  Kept as the baseline it is in the paper: it does not reach small gaps.
    """
    from pymoo.core.callback import Callback
    from pymoo.core.problem import Problem
    from pymoo.optimize import minimize
    from pymoo.termination import get_termination

    rows, cols = np.nonzero(market.avail)
    N, M = market.n_buyers, market.n_sellers
    t0 = time.perf_counter()

    def unflatten(Z: np.ndarray) -> np.ndarray:
        """Requests of each particle, repaired onto the feasible set (rows to X_i, then columns to G_m)."""
        r = np.zeros((Z.shape[0], N, M))
        r[:, rows, cols] = Z
        with np.errstate(divide="ignore", invalid="ignore"):
            r *= np.minimum(1.0, np.nan_to_num(market.X / r.sum(axis=-1), nan=1.0, posinf=1.0))[..., None]
            r *= np.minimum(1.0, np.nan_to_num(market.G / r.sum(axis=-2), nan=1.0, posinf=1.0))[..., None, :]
        return r

    class Regret(Problem):
        def __init__(self) -> None:
            super().__init__(n_var=rows.size, n_obj=1, xl=np.zeros(rows.size), xu=market.X[rows])

        def _evaluate(self, Z, out, *args, **kwargs):
            r = unflatten(np.atleast_2d(Z))
            out["F"] = np.maximum(nash_gaps(market, r), 0.0).sum(axis=-1)[:, None]

    history: list[float] = []

    class Hist(Callback):
        def notify(self, algorithm):
            history.append(float(algorithm.opt.get("F").min()))

    termination = get_termination("n_gen", generations)
    if time_limit is not None:
        from pymoo.termination.collection import TerminationCollection
        from pymoo.termination.max_gen import MaximumGenerationTermination
        from pymoo.termination.max_time import TimeBasedTermination
        termination = TerminationCollection(MaximumGenerationTermination(generations),
                                            TimeBasedTermination(time_limit))
    res = minimize(Regret(), LinearInertiaPSO(k_max=generations, w_max=w_max, w_min=w_min, pop_size=pop_size),
                   termination, seed=seed, callback=Hist(), verbose=False)
    if res.X is None:
        r = np.zeros((N, M))
        status = SolveStatus.INFEASIBLE
    else:
        r = unflatten(np.atleast_2d(res.X))[0]
        status = SolveStatus.FEASIBLE  # a heuristic: attach_gap reports how far from equilibrium
    sol = MarketSolution(r=r, method="pso-vectorised", status=status, time=time.perf_counter() - t0,
                         iterations=len(history), history=history,
                         message=f"pymoo PSO (eq. 23 inertia {w_max}->{w_min}), {len(history)} generations, "
                                 f"pop {pop_size}")
    attach_gap(market, sol)
    sol.market_status = "capacity_binding" if np.any(r.sum(axis=0) >= market.G * (1 - 1e-7)) else "cleared"
    return sol
