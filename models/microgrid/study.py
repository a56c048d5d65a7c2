"""Microgrid market Nash game (Energies 2021, 14, 5246): the paper instance from the CLI.

``gridgames run instances/microgrid_paper.toml --out DIR`` draws the Section
5.2 markets (10 sellers, 200-1000 buyers), solves the buyers' Nash equilibrium
with the vectorised aggregative solver (:mod:`microgrid_solve`), runs the two
Section 5.3 baselines (:mod:`microgrid_baselines`), prints the tables behind
Figures 5-8 and writes them as PNGs; on a small market drawn from the same
spec it compares every equilibrium method (vectorised, Gauss-Seidel, Jacobi,
KKT, PSO) with their Nash gaps; optionally it runs the LSTM
forecast-equilibrium loop of Figure 4 (:mod:`microgrid_forecast`).

Model, reading of the garbled equations and the satisfaction function:
:mod:`gridgames.models.microgrid.config`; closed form:
:mod:`gridgames.models.microgrid.analytic`; Pyomo players and PSO:
:mod:`gridgames.models.microgrid.model`.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgames.models.instance import Instance, register_study
from gridgames.models.microgrid.baselines import Outcome, from_solution, load_transfer, storage_stackelberg
from gridgames.models.microgrid.config import (MAX_SMALL_BUYERS, Market, MarketSource, MarketSpec,
                                               explicit_arrays, market_spec_from_checker)
from gridgames.models.microgrid.fields import FIELDS
from gridgames.models.microgrid.forecast import check_load_file, forecast_settings
from gridgames.models.microgrid.margins import margins_settings, margins_table
from gridgames.models.microgrid.model import ENGINE_METHODS, solve_engine, solve_pso
from gridgames.models.microgrid.report import figure_tables, market_notes, method_answer, plot_figures, short_error
from gridgames.models.microgrid.solve import MarketSolution, equilibrium
from gridgames.models.report import RunReport
from gridgames.models.study import Study
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)

METHODS = ("vectorised",) + ENGINE_METHODS + ("kkt-nlp", "pso-vectorised")


def solve_market(market: Market, method: str = "vectorised", **options: Any) -> MarketSolution:
    """Buyers' Nash equilibrium of ``market`` by ``method`` (one of :data:`METHODS`); reports ``nash_gap``."""
    if method == "vectorised":
        return equilibrium(market, **options)
    if method in ENGINE_METHODS:
        return solve_engine(market, method, **options)
    if method == "pso-vectorised":
        return solve_pso(market, **options)
    if method == "kkt-nlp":
        return solve_kkt_nlp(market, **options)
    raise ModelError(f"unknown microgrid method {method!r}; choose one of {', '.join(METHODS)}")


def solve_kkt_nlp(market: Market, **options: Any) -> MarketSolution:
    """The joint KKT system of all buyers through the engine: ``solve_nash(method="kkt", variational=True)``.

    Any smooth concave satisfaction (the paper's logarithm included): the
    engine differentiates the buyers' Pyomo payoffs symbolically and checks
    their concavity at sampled points; one capacity multiplier per seller
    (variational) gives the vectorised solver's equilibrium.  Scholtes
    relaxation ε = 1e-2 → 1e-10, Ipopt.  The price floor must be inactive
    (``A_m ≥ c_m + ε_m``): the kinked price is not concave in a buyer's own
    requests.
    """
    if not market.floor_inactive:
        raise ModelError("kkt-nlp needs an inactive price floor (A_m >= c_m + eps_m for every seller); "
                         "use method 'vectorised' or 'gauss-seidel'")
    sol = solve_engine(market, "kkt", **{"variational": True, **options})
    sol.method = "kkt-nlp"
    return sol


# --------------------------------------------------------------------------
# Every method on a small market
# --------------------------------------------------------------------------
def method_table(market: Market, methods: list[str], *, pso_generations: int = 100) -> pd.DataFrame:
    """Every method on one small market: time, Nash gaps, distance to the vectorised answer."""
    ref = equilibrium(market)
    rows = []
    for method in methods:
        try:
            if method == "vectorised":
                sol = ref
            elif method == "pso":
                # engine PSO: every particle costs N Pyomo best-response solves, so a quarter of the budget
                sol = solve_engine(market, "pso", pso_generations=max(5, pso_generations // 4), pso_pop=10)
            elif method == "pso-vectorised":
                sol = solve_pso(market, generations=pso_generations)
            else:
                sol = solve_market(market, method, **({"tol": 1e-12} if method in ("gauss-seidel", "jacobi")
                                                       else {}))
            rows.append({"method": method, "answer": method_answer(method), "status": str(sol.status),
                         "market": sol.market_status, "time_s": sol.time, "nash_gap": sol.nash_gap,
                         "rel_gap": sol.rel_gap, "max_diff_vs_vectorised": float(np.abs(sol.r - ref.r).max())})
        except Exception as exc:   # a method that does not apply is a row, not a crash
            rows.append({"method": method, "answer": method_answer(method), "status": short_error(exc),
                         "market": "", "time_s": np.nan, "nash_gap": np.nan, "rel_gap": np.nan,
                         "max_diff_vs_vectorised": np.nan})
    return pd.DataFrame(rows).set_index("method")


# --------------------------------------------------------------------------
# The CLI entry point
# --------------------------------------------------------------------------
@dataclass
class MicrogridConfig:
    """The checked sections of a microgrid instance."""

    instance: Instance
    spec: MarketSpec
    counts: list[int]
    seed: int
    storage_share: float
    offpeak_price: float
    compare: list[str]
    n_small: int
    pso_generations: int
    forecast: dict[str, Any]
    source: MarketSource | None = None
    margins: dict[str, Any] = field(default_factory=dict)

    def market(self, n: int) -> Market:
        """The study's market of ``n`` buyers (drawn, or the explicit arrays)."""
        return (self.source or MarketSource(self.spec, self.seed)).market(n)


class MicrogridStudy(Study):
    """``model = "microgrid_market"``: Figures 5-8, the baselines, every method on a small market, the LSTM loop.

    ``method`` solves the paper-size markets (default ``vectorised``; the Pyomo
    methods are practical for a few dozen buyers only); ``solver`` is the
    best-response solver of the Pyomo methods (``gauss-seidel``, ``jacobi``,
    ``kkt``, ``pso``) and is refused with the others, which use no solver.
    """

    name = "microgrid_market"
    description = ("microgrid sellers x buyers Nash game with dynamic prices (Energies 2021, 14, 5246): "
                   "Figures 5-8, baselines, every equilibrium method, LSTM forecast loop")
    methods = METHODS
    default_method = "vectorised"
    fields = FIELDS

    def load(self, instance: Instance, options: Mapping[str, Any]) -> MicrogridConfig:
        chk = instance.checker()
        chk.declared_keys(FIELDS, ["", "baselines", "methods"])
        for section in ("baselines", "methods", "forecast", "margins"):
            chk.section(section, required=False)
        spec, counts, seed = market_spec_from_checker(chk)
        source = explicit_arrays(chk, spec, seed)
        if source.n_buyers is not None:
            counts = [source.n_buyers]
        share = chk.number("baselines", "storage_share", 0.3, ge=0, le=1)
        offpeak = chk.number("baselines", "offpeak_price", 60.0, gt=0)
        compare = chk.raw("methods", "compare", ["vectorised", "gauss-seidel", "kkt-nlp"])
        n_small = chk.number("methods", "n_buyers", 12, ge=1, le=MAX_SMALL_BUYERS, integer=True)
        pso_gens = chk.number("methods", "pso_generations", 60, ge=1, integer=True)
        if source.n_buyers is not None and n_small is not None:
            n_small = min(n_small, source.n_buyers)
        if not isinstance(compare, list) or any(not isinstance(m, str) or m not in METHODS for m in compare):
            chk.fail("[methods].compare", f"must be a list of methods from {', '.join(METHODS)}, got {compare!r}")
        forecast_cfg = forecast_settings(chk, source.n_buyers)
        check_load_file(chk, instance.resolve, forecast_cfg)
        margins_cfg = margins_settings(chk, source.n_buyers)
        chk.raise_if_any()
        return MicrogridConfig(instance, spec, counts, seed, share, offpeak, list(compare), int(n_small),
                               int(pso_gens), forecast_cfg, source, margins_cfg)

    def solve(self, config: MicrogridConfig, *, method: str | None, solver: str | None,
              options: Mapping[str, Any], out: Path | None = None) -> RunReport:
        method = method or self.default_method
        if solver is not None and method not in ENGINE_METHODS:
            raise ModelError(f"model 'microgrid_market': method {method!r} uses no solver; --solver applies to "
                             f"the methods {', '.join(ENGINE_METHODS)}")
        cfg, spec, seed = config, config.spec, config.seed
        outcomes: dict[int, list[Outcome]] = {}
        gaps = []
        from tqdm.auto import tqdm  # noqa: PLC0415
        for n in tqdm(cfg.counts, desc=f"markets ({method})", unit="market", leave=False):
            market = cfg.market(n)
            sol = solve_market(market, method, **({"solver": solver} if method in ENGINE_METHODS else {}))
            gaps.append({"buyers": n, "method": method, "status": str(sol.status), "market": sol.market_status,
                         "time_s": sol.time, "nash_gap": sol.nash_gap, "rel_gap": sol.rel_gap,
                         "max_mu": float(sol.mu.max()) if sol.mu.size else np.nan})
            outcomes[n] = [from_solution(market, sol, "distributed Nash"), load_transfer(market),
                           storage_stackelberg(market, storage_share=cfg.storage_share,
                                               offpeak_price=cfg.offpeak_price)]
        summary, sellers = figure_tables(outcomes)
        tables = {"equilibrium": pd.DataFrame(gaps).set_index("buyers"), "figures5_6": summary,
                  "figures7_8_sellers": sellers}
        if cfg.compare:
            tables["methods_small_market"] = method_table(cfg.market(cfg.n_small), cfg.compare,
                                                          pso_generations=cfg.pso_generations)
        origin = "given in [sellers]" if cfg.source and cfg.source.sellers else f"drawn with seed {seed}"
        notes = [f"sellers {origin}: capacities {np.round(cfg.market(1).G, 1).tolist()} MWh",
                 *market_notes(gaps, cfg.market(1).floor_inactive),
                 "consumption = energy bought from the sellers this period; the storage baseline's battery energy "
                 "is in storage_use_MWh"]
        if cfg.forecast:
            from gridgames.models.microgrid.forecast import forecast_loop_from_config  # noqa: PLC0415
            f_table, f_notes = forecast_loop_from_config(cfg.instance, cfg.source or MarketSource(spec, seed),
                                                         cfg.forecast)
            tables["forecast_loop"] = f_table
            notes += f_notes
        if cfg.margins:  # the sellers' margin stage (EPEC) on the engine, numpy-checked
            tables["margins"], m_notes = margins_table(cfg.market(cfg.margins["n_buyers"]), cfg.margins)
            notes += m_notes
        report = RunReport(title=f"Microgrid market game: {cfg.instance.name}", tables=tables, notes=notes)
        report.plotters.append(lambda d: plot_figures(summary, sellers, Path(d)))
        return report


STUDY = register_study(MicrogridStudy())
#: ``run(instance, method="vectorised", solver=None)``
run = STUDY.run

__all__ = ["METHODS", "STUDY", "MarketSpec", "MicrogridStudy", "run", "solve_market"]
