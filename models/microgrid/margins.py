"""The sellers' margin stage on the game engine: sellers (leaders) choose ε_m, buyers (followers) play Nash.

Seller m chooses its margin ``ε_m``, i.e. its price floor ``F_m = c_m + ε_m``
(eq. (7)), to maximise its profit ``ψ_m = p_m(r_m) r_m − c_m G_m`` (eq. (19)),
anticipating the buyers' Nash equilibrium ``r`` of the lower stage.  This
module writes that game as Pyomo blocks for
:func:`~gridgames.solvers.games.epec.solve_epec`:

* ``m.seller[j]`` (leader): variable ``eps``, objective
  ``max Σ_i t[i, j]`` (its revenue; the constant ``c_m G_m`` is subtracted
  when profits are reported).
* ``m.buyer[i]`` (follower): requests ``r[j] ∈ [0, X_i]``, payments
  ``t[j] ≥ 0``, demand cap ``Σ_j r[j] ≤ X_i``, capacity ``total_j ≤ G_j``,
  objective ``max Σ_j f(r[j]) − t[j]``.

**The price floor, smoothly.**  ``p_m = max(q_m(r_m), F_m)`` is nonsmooth.
Buyer i's payment to seller m is ``p_m(r_m) r_im``; we write it as the
epigraph ``t_im ≥ F_m r_im`` and ``t_im ≥ q_m(r_m) r_im``: at the buyer's
optimum ``t_im`` is the larger one, i.e. exactly ``p_m r_im``.  Both
constraints are convex in the buyer's own requests (``q_m`` is increasing
and convex for ``r ≥ 0``), so every buyer's problem is a smooth convex
program and its KKT conditions are exact; the kink becomes a
complementarity (which of the two epigraph rows is active), no smoothing
parameter.  A seller's revenue is ``Σ_i t_im``.

**Margin range.**  ``ε_m`` is searched on ``[max(0, A_m − c_m), w_max − c_min]``:
below ``A_m − c_m`` the floor is under ``q_m(0)`` and inactive, so a seller's
profit does not depend on ε there; above the upper end no buyer buys.  (The
same upper end as :func:`~gridgames.models.microgrid.leaders.diagonalise`.)

**Capacity.**  Each buyer carries ``total_j ≤ G_j`` as its own constraint
(a generalized equilibrium).  When capacity does not bind at the answer this
is the same equilibrium as the vectorised solver's; when it binds the
buyers' multipliers may differ from the vectorised (variational) one and
the message says so.

**Method and check.**  The buyers depend on each other: at the lower level
they play a Nash game, which ``solve_bilevel`` states by their stacked KKT
conditions.  The default method is **diagonalisation**
(:func:`~gridgames.solvers.games.epec.solve_epec`): each seller's MPEC (its
margin against the buyers' equilibrium, Scholtes-Ipopt ``kkt``) in turn,
started from the vectorised equilibrium at the instance's margins, with
cycle detection; the engine's leaders' gap re-solves every seller's MPEC at
the answer (local: ``kkt-bigm`` refuses the nonlinear buyers).  The
**joint** method stacks all sellers' regularised MPEC conditions
(:mod:`gridgames.solvers.games.epec_joint`).  Either answer is certified
*independently* by the numpy nested search of
:mod:`~gridgames.models.microgrid.leaders`: each seller's best margin against
the others (grid + Brent over full lower-stage equilibria), whose gain over
the engine's margin is the leaders' gap reported.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from gridgames.models.microgrid.config import Market
from gridgames.models.microgrid.forecast import buyers_note, buyers_within
from gridgames.models.instance import Checker
from gridgames.models.microgrid.leaders import best_margin, diagonalise, seller_profit
from gridgames.models.microgrid.solve import equilibrium
from gridgames.solvers.games.epec import solve_epec
from gridgames.solvers.errors import ModelError
from gridgames.solvers.result import SolveStatus

log = logging.getLogger(__name__)

#: engine methods for the margin stage (see solve_margins)
MARGIN_METHODS = ("diagonalisation", "joint")
#: how diagonalisation solves each seller's MPEC (see solve_margins)
MPEC_METHODS = ("kkt", "implicit")
#: implicit MPECs: points of each seller's margin range tried before L-BFGS-B in the first sweep (a seller's
#: revenue is flat in its margin until its price floor binds, so a start at the lower end is stationary; the
#: numpy check's grid is 12); later sweeps start from the previous one (scanning every sweep: 427 s vs 11 s at 3x3)
IMPLICIT_SCAN = 12
#: implicit MPECs: Newton iterations per buyers' response (a buyer buying nothing from a seller leaves its floor
#: and curve multipliers non-unique, where semismooth Newton slows to gradient steps; 100 is not always enough)
IMPLICIT_FOLLOWER_MAX_ITER = 500
#: Ipopt iterations per regularised solve of the joint method (the stacked system is degenerate: a
#: solve that does not converge in these stops the ε sequence and is reported)
JOINT_MAX_ITER = 300
#: diagonalisation: sweeps over the sellers, and the largest relative margin change of a converged sweep
SWEEPS, SWEEP_TOL = 20, 1e-6
#: largest market of the margin stage an instance may ask for
MAX_MARGIN_BUYERS = 200


@dataclass
class MarginResult:
    """Sellers' margins from the engine and their independent certificate.

    Attributes
    ----------
    eps, profit : ndarray (M,)
        Margins found and every seller's profit there (numpy lower stage).
    gains : ndarray (M,)
        Each seller's profit gain from its numpy best margin against the others.
    gap, rel_gap : float
        ``max(gains)`` and ``gap / mean |profit|``.
    status : SolveStatus
        ``optimal`` when the engine's method succeeded and ``rel_gap ≤ gap_tol``,
        ``not_equilibrium`` when a seller gains more, the engine's status otherwise.
    """

    eps: np.ndarray
    profit: np.ndarray
    gains: np.ndarray
    gap: float
    rel_gap: float
    status: SolveStatus
    message: str
    method: str
    iterations: int
    time: float
    check_time: float
    engine_profit: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: each seller's gain from the engine's own re-solve of its MPEC (diagonalisation; local)
    engine_gains: dict[str, float] = field(default_factory=dict)
    #: diagonalisation fell into a cycle of this many sweeps (0: none)
    cycle_length: int = 0


def margin_bounds(market: Market) -> tuple[np.ndarray, float]:
    """Lower ends ``max(0, A − c)`` and the common upper end ``w_max − c_min`` of the margins."""
    return np.maximum(market.A - market.c, 0.0), float(market.w.max() - market.c.min())


def build_margin_game(market: Market, eps: np.ndarray | None = None, *, lifted: bool = False) -> pyo.ConcreteModel:
    """The Pyomo margin game (module docstring), started at ``eps`` and the buyers' equilibrium there.

    ``lifted=False``: buyer i's price term uses the market total ``Σ_k r_kj``
    (every buyer of seller j in every one of their rows: the buyers play a Nash
    game at the lower level, and each row, KKT row and Hessian block is dense in
    the seller's buyers).  ``lifted=True``: the others' total ``O_ij`` is an
    upper-level variable tied by the rows ``T_j = Σ_k r_kj``, ``O_ij = T_j − r_ij``
    outside the buyer blocks, and buyer i's rows use ``r_ij + O_ij``: each buyer
    sees ``O_ij`` as a parameter, so its problem (and KKT conditions) is the
    same as in the dense form at any point where the tying rows hold, i.e. at
    every feasible point of a seller's MPEC; every row then involves a few
    variables, which the NLP compiler and Ipopt handle far faster.
    """
    N, M = market.n_buyers, market.n_sellers
    lo, hi = margin_bounds(market)
    eps0 = np.clip(market.eps if eps is None else np.asarray(eps, float), lo, hi)
    start_market = market.with_(eps=eps0)
    r0 = equilibrium(start_market, check=False).r
    p0 = start_market.price(r0.sum(axis=0))
    m = pyo.ConcreteModel(name="microgrid margins")
    m.seller = pyo.Block(range(M))
    for j in range(M):
        m.seller[j].eps = pyo.Var(bounds=(float(lo[j]), hi), initialize=float(eps0[j]))
    m.buyer = pyo.Block(range(N))
    for i in range(N):
        b = m.buyer[i]
        sellers = [int(j) for j in np.flatnonzero(market.avail[i])]
        b.r = pyo.Var(sellers, bounds=(0.0, float(market.X[i])), initialize={j: float(r0[i, j]) for j in sellers})
        b.t = pyo.Var(sellers, bounds=(0.0, None), initialize={j: float(p0[j] * r0[i, j]) for j in sellers})
        b.demand = pyo.Constraint(expr=sum(b.r[j] for j in sellers) <= float(market.X[i]))
    buyers_of = [[i for i in range(N) if market.avail[i, j]] for j in range(M)]
    m.total = pyo.Expression(range(M), rule=lambda mod, j: sum(mod.buyer[i].r[j] for i in buyers_of[j]))
    if lifted:
        pairs = [(i, j) for j in range(M) for i in buyers_of[j]]
        t0 = r0.sum(axis=0)
        m.T = pyo.Var(range(M), bounds=(0.0, None), initialize={j: float(t0[j]) for j in range(M)})
        m.others = pyo.Var(pairs, bounds=(0.0, None), initialize={(i, j): float(t0[j] - r0[i, j]) for i, j in pairs})
        m.define_total = pyo.Constraint(range(M), rule=lambda mod, j: mod.T[j] == mod.total[j])
        m.define_others = pyo.Constraint(pairs, rule=lambda mod, i, j: mod.others[i, j] == mod.T[j] - mod.buyer[i].r[j])
    for i in range(N):
        b = m.buyer[i]
        X, w = float(market.X[i]), float(market.w[i])
        for j in b.r:
            A, B, C, c = (float(v[j]) for v in (market.A, market.B, market.C, market.c))
            tot = b.r[j] + m.others[i, j] if lifted else m.total[j]
            b.add_component(f"floor_{j}", pyo.Constraint(expr=b.t[j] >= (c + m.seller[j].eps) * b.r[j]))
            b.add_component(f"curve_{j}", pyo.Constraint(expr=b.t[j] >= (A + B * tot + C * tot * tot) * b.r[j]))
            b.add_component(f"capacity_{j}", pyo.Constraint(expr=tot <= float(market.G[j])))
        b.payoff = pyo.Objective(expr=sum(market.satisfaction.pyomo(b.r[j], X, w) - b.t[j] for j in b.r),
                                 sense=pyo.maximize)
    for j in range(M):
        m.seller[j].revenue = pyo.Objective(expr=sum(m.buyer[i].t[j] for i in buyers_of[j]), sense=pyo.maximize)
    return m


def certify_margins(market: Market, eps: np.ndarray, *, grid: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Every seller's profit at ``eps`` and its gain from its numpy best margin against the others."""
    _, hi = margin_bounds(market)
    profit = seller_profit(market, eps)
    gains = np.zeros(market.n_sellers)
    for j in range(market.n_sellers):
        best, _ = best_margin(market, np.asarray(eps, float), j, hi, grid)
        trial = np.array(eps, float)
        trial[j] = best
        gains[j] = max(float(seller_profit(market, trial)[j] - profit[j]), 0.0)
    return profit, gains


def solve_margins(market: Market, *, method: str = "diagonalisation", gap_tol: float = 1e-3,
                  eps: np.ndarray | None = None, joint_options: dict | None = None, max_iter: int = SWEEPS,
                  tol: float = SWEEP_TOL, mpec: str = "kkt", mpec_options: dict | None = None) -> MarginResult:
    """Sellers' margin equilibrium by the engine's EPEC method, certified by the numpy nested search.

    Parameters
    ----------
    market : Market
    method : {'diagonalisation', 'joint'}
        ``diagonalisation``: each seller's MPEC (the buyers' Nash equilibrium as
        stacked KKT conditions) by ``solve_bilevel(method="kkt")`` in turn, until a
        sweep moves no margin by more than ``tol``; the engine's leaders' gap is
        every seller's MPEC re-solved at the answer (Scholtes-Ipopt: a *local*
        check, the buyers being nonlinear).  ``joint``: every seller's regularised
        MPEC conditions stacked (:mod:`gridgames.solvers.games.epec_joint`).
    gap_tol : float
        Largest relative leaders' gap (``gap / mean |profit|``) accepted as an equilibrium,
        from the numpy search and from the engine's re-solves.
    eps : ndarray, optional
        Starting margins (default: the market's).
    max_iter, tol : int, float
        Diagonalisation sweeps and the convergence tolerance on the margins.
    mpec : {'kkt', 'implicit'}
        How diagonalisation solves each seller's MPEC, and re-solves it for the
        engine's leaders' gap: ``kkt`` (Scholtes-Ipopt on the lifted stacked KKT
        conditions) or ``implicit`` (L-BFGS-B over the seller's margin, the buyers'
        Nash equilibrium by semismooth Newton on their stacked KKT system and its
        derivative by the implicit-function theorem; the dense form, its market
        totals lifted by the engine).  Both are local.
    mpec_options : dict, optional
        Options of that ``solve_bilevel`` method (e.g. ``{"tol": 1e-8}`` for implicit;
        implicit's ``follower_max_iter`` defaults to :data:`IMPLICIT_FOLLOWER_MAX_ITER` here, and
        the first sweep scans :data:`IMPLICIT_SCAN` margins unless ``scan`` is given, which then
        applies to every sweep and the check).

    Returns
    -------
    MarginResult
        ``status`` ``locally_optimal`` when the engine converged and neither the
        engine's re-solves nor the numpy search finds a seller gaining more than
        ``gap_tol`` (relative): neither check is a global proof (the numpy one
        is a grid + Brent search over each seller's whole margin range);
        ``not_equilibrium`` when one does; the engine's status otherwise.

    Example
    -------
    >>> from gridgames.models.microgrid.config import MarketSpec, random_market
    >>> res = solve_margins(random_market(10, MarketSpec(n_sellers=3), seed=7))  # doctest: +SKIP
    """
    if method not in MARGIN_METHODS:
        raise ModelError(f"margins.method: choose one of {', '.join(MARGIN_METHODS)}, got {method!r}")
    if mpec not in MPEC_METHODS:
        raise ModelError(f"margins.mpec: choose one of {', '.join(MPEC_METHODS)}, got {mpec!r}")
    if mpec != "kkt" and method != "diagonalisation":
        raise ModelError(f"margins.mpec={mpec!r} applies to method='diagonalisation' only, got method={method!r}")
    t0 = time.perf_counter()
    # kkt diagonalisation: the lifted form (same MPECs, sparse rows; its tying rows are seller-level
    # constraints, which implicit refuses); joint and implicit: the dense form (implicit lifts the totals itself)
    model = build_margin_game(market, eps, lifted=method == "diagonalisation" and mpec == "kkt")
    if method == "joint":
        options = {"solver_options": {"max_iter": JOINT_MAX_ITER}, **(joint_options or {})}
        res = solve_epec(model, model.seller, model.buyer, method="joint", check_method=None,
                         joint_options=options)
    else:
        # the buyers are nonlinear (the curve epigraph), which kkt-bigm refuses: the check re-solves by `mpec` (local)
        options, first = dict(mpec_options or {}), None
        if mpec == "implicit":
            options = {"follower_max_iter": IMPLICIT_FOLLOWER_MAX_ITER, **options}
            first = {} if "scan" in options else {"scan": IMPLICIT_SCAN}
        res = solve_epec(model, model.seller, model.buyer, method="diagonalisation", bilevel_method=mpec,
                         check_method=mpec, max_iter=max_iter, tol=tol, bilevel_options=options,
                         first_sweep_options=first)
    found = np.array([model.seller[j].eps.value for j in range(market.n_sellers)], float)
    engine_profit = np.array([pyo.value(model.seller[j].revenue.expr) for j in range(market.n_sellers)]) \
        - market.c * market.G
    solve_time = time.perf_counter() - t0
    t1 = time.perf_counter()
    profit, gains = certify_margins(market.with_(eps=found), found)
    gap = float(gains.max())
    scale = max(float(np.mean(np.abs(profit))), 1e-12)
    rel = gap / scale
    status, message = res.status, res.message
    engine_rel = (max(res.player_gaps.values()) / scale) if res.player_gaps else 0.0
    if res.ok:
        ok = rel <= gap_tol and engine_rel <= gap_tol
        status = SolveStatus.LOCALLY_OPTIMAL if ok else SolveStatus.NOT_EQUILIBRIUM
        worst = int(np.argmax(gains))
        message += (f"; numpy check: seller {market.seller_names[worst]} gains {gap:.4g} "
                    f"(relative {rel:.2e}, tolerance {gap_tol:.0e})")
        if res.player_gaps:
            message += f"; engine re-solves (local): relative gain {engine_rel:.2e}"
    binding = equilibrium(market.with_(eps=found), check=False).r.sum(axis=0) >= market.G * (1 - 1e-7)
    if binding.any():
        message += "; capacity binds: the buyers' equilibrium is a generalized one (own capacity multipliers)"
    name = f"epec-{method}" + ("-implicit" if mpec == "implicit" else "")
    return MarginResult(found, profit, gains, gap, rel, status, message, name, res.iterations or 0,
                        solve_time, time.perf_counter() - t1, engine_profit, dict(res.player_gaps),
                        getattr(res, "cycle_length", 0))


def margins_settings(chk: Checker, explicit_buyers: int | None = None) -> dict[str, Any]:
    """The ``[margins]`` section, checked (problems recorded in ``chk``); ``{}`` when absent.

    With explicit ``[buyers]`` arrays (``explicit_buyers`` of them) ``n_buyers``
    defaults to their number and is cut to it (noted in the report).

    Keys: ``n_buyers`` (market size of the margin stage, default 10), ``method``
    (``diagonalisation``, the default, or ``joint``), ``gap_tol`` (relative leaders' gap accepted, default 1e-3) and
    ``numpy_reference`` (also run the numpy diagonalisation, default true).
    """
    if "margins" not in chk.data:
        return {}
    settings = {"n_buyers": buyers_within(chk, "margins", 10, MAX_MARGIN_BUYERS, explicit_buyers),
                "buyers_note": buyers_note(chk, "margins", explicit_buyers),
                "method": chk.string("margins", "method", "diagonalisation", choices=MARGIN_METHODS),
                "gap_tol": chk.number("margins", "gap_tol", 1e-3, gt=0),
                "numpy_reference": chk.raw("margins", "numpy_reference", True)}
    if not isinstance(settings["numpy_reference"], bool):
        chk.fail("[margins].numpy_reference", f"must be true or false, got {settings['numpy_reference']!r}")
    chk.unknown_keys("margins", [k for k in settings if k != "buyers_note"])
    return settings


def margins_table(market: Market, settings: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """One row per seller: the engine's margin and profit, its numpy gain, and the numpy diagonalisation's."""
    res = solve_margins(market, method=settings["method"], gap_tol=settings["gap_tol"])
    table = pd.DataFrame({"seller": market.seller_names, "eps": res.eps, "profit": res.profit,
                          "gain_by_deviating": res.gains}).set_index("seller")
    notes = [f"margin stage ({res.method}, {market.n_sellers} sellers x {market.n_buyers} buyers): status "
             f"{res.status.value}, leaders' gap {res.gap:.4g} (relative {res.rel_gap:.2e}), {res.iterations} "
             f"{'sweeps' if res.method == 'epec-diagonalisation' else 'NLP solves'}, {res.time:.1f} s "
             f"(+ {res.check_time:.1f} s numpy check); {res.message}"]
    if settings.get("buyers_note"):
        notes.append(settings["buyers_note"])
    if settings["numpy_reference"]:
        ref = diagonalise(market)
        table["eps_numpy"], table["profit_numpy"] = ref.eps, ref.profit
        notes.append(f"numpy diagonalisation (grid + Brent per seller, leaders.py): {ref.rounds} rounds, "
                     f"{'converged' if ref.converged else 'NOT converged'}, {ref.lower_evaluations} lower-stage "
                     "equilibria")
    return table, notes
