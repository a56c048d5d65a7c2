"""TOU peak/valley pricing by an electricity seller with household followers (TOU paper).

Paper: the reference list in ``docs/references.md`` ("user-side resource
interactive transaction decision-making based on scipy solver and genetic
algorithm").  Its equations were lost in extraction; our reading is in
:mod:`gridgames.models.tou.model` and ``docs/tou.md``.

Modules of this model family:

* :mod:`~gridgames.models.tou.model`: the Pyomo bilevel model (leader
  mean-variance revenue, household followers), outcomes, satisfaction index;
* :mod:`~gridgames.models.tou.solve`: elitist GA (nested) and exact methods, sweeps;
* :mod:`~gridgames.data.households`: daily profiles from the real household files;
* :mod:`~gridgames.models.tou.config`: the instance sections, checked;
* :mod:`~gridgames.models.tou.report`: Tables 3-4, Figures 2-4;
* :mod:`~gridgames.models.tou.city`: 5000 households × 10 sellers × 365 days;
* :mod:`gridgames.forecasting.clustering`: fuzzy C-means load classes;
* this module: the study (:class:`TouStudy`, :func:`run`) and its registration.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from gridgames.models.instance import Instance, register_study
from gridgames.models.report import RunReport
from gridgames.models.tou.config import FIELDS, TouCommunity, load_community
from gridgames.models.tou.report import (households_table, methods_table, plot_convergence, plot_sweep,
                                         plot_transactions, transactions_table)
from gridgames.models.tou.solve import EXACT_METHODS, METHODS, TouSolution, integer_devices, solve_tou, sweep
from gridgames.models.study import Option, Study
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)

__all__ = ["METHODS", "STUDY", "TouStudy", "run", "run_community", "solve_tou"]


def _params_for(cfg: TouCommunity, method: str):
    return cfg.linear_params() if method in EXACT_METHODS else cfg.params


def run_community(cfg: TouCommunity, *, method: str = "nested", solver: str | None = None,
                  sweeps: bool = True, title: str = "TOU community") -> RunReport:
    """The 5-user study: main solve, GA-vs-exact comparison, sweeps, tables and figures.

    ``method='nested'`` solves the paper's model (quadratic comfort) with the
    elitist GA; an exact method solves the linear-comfort LP relaxation; ``kkt``
    the quadratic model locally.  The comparison always solves the linear
    model by the elitist GA and by ``cfg.exact_method`` (both methods on the
    same model).
    """
    if method not in METHODS:
        raise ModelError(f"unknown method {method!r} for tou_pricing; choose one of {', '.join(METHODS)}")
    hs, w = cfg.households, cfg.weights
    main = solve_tou(hs, w, _params_for(cfg, method), method, ga=cfg.ga, solver=solver,
                     trace=method == "nested")
    solutions: list[TouSolution] = [main]
    lin = cfg.linear_params()
    integer = integer_devices(hs)
    # the comparison solves one problem by both methods: the GA gets the exact route's relaxation too
    ga_lin = solve_tou(hs, w, lin, "nested", ga=cfg.ga, relax=bool(integer))
    exact = main if method == cfg.exact_method else solve_tou(hs, w, lin, cfg.exact_method)
    for s in (ga_lin, exact):
        if s is not main:
            solutions.append(s)
    before = transactions_table(main, cfg.params, "before")
    after = transactions_table(main, cfg.params, "after")
    tables: dict[str, pd.DataFrame] = {
        "methods": methods_table(solutions),
        "households": households_table(main),
        "table3_transactions_before": before,
        "table4_transactions_after": after,
    }
    gap = abs(ga_lin.objective - exact.objective) / max(1.0, abs(exact.objective))
    notes = [
        f"main solve: {main.label} on the {main.comfort_form} comfort model, {main.answer}; prices "
        + ", ".join(f"{k} {v:.4f}" for k, v in main.prices.items()) + " yuan/kWh",
        f"GA (heuristic) vs exact ({cfg.exact_method}, global) on the same linear-comfort model"
        + (f" with the integer devices relaxed to continuous ({', '.join(integer)})" if integer else
           " (no integer devices: nothing relaxed)")
        + f": objectives {ga_lin.objective:.4f} vs {exact.objective:.4f}, relative gap {gap:.2e}",
        f"risk measure: variance of the revenue over {cfg.params.scenarios.shape[0]} load scenarios "
        f"(real days {cfg.base_days[0]} .. {cfg.base_days[-1]}); CVaR95 reported beside it",
        "satisfaction S = 0.5 M + 0.5 R, M = 1 − Σ|L − L0| / ΣL0 (comfort), R = 1 − shed / ΣL0 (reliability); "
        f"range {min(o.satisfaction for o in main.outcomes):.3f} .. {max(o.satisfaction for o in main.outcomes):.3f} "
        "(paper: 0.95 .. 0.99)",
    ]
    if main.trace:
        tables["fig2_convergence"] = pd.DataFrame(main.trace).set_index("generation")
    sweep_tables: dict[str, pd.DataFrame] = {}
    if sweeps:
        base = _params_for(cfg, cfg.sweep_method)
        if cfg.comfort_sweep:
            # the paper's Figure 3 is at risk aversion 0; for the linear model the values scale ω_lin
            values = cfg.comfort_sweep if base.comfort_form == "quadratic" else \
                [v * cfg.comfort_linear / cfg.params.comfort for v in cfg.comfort_sweep]
            rows = sweep(hs, w, dataclasses.replace(base, risk_aversion=0.0), cfg.sweep_method, "comfort",
                         values, ga=cfg.sweep_ga)
            sweep_tables["fig3_comfort_sweep"] = pd.DataFrame(rows).set_index("comfort")
        if cfg.risk_sweep:
            rows = sweep(hs, w, base, cfg.sweep_method, "risk_aversion", cfg.risk_sweep, ga=cfg.sweep_ga)
            sweep_tables["fig4_risk_sweep"] = pd.DataFrame(rows).set_index("risk_aversion")
        tables.update(sweep_tables)

    def plots(out: Path) -> list[Path]:
        paths = [plot_transactions(out, before, after)]
        if main.trace:
            paths.append(plot_convergence(out, pd.DataFrame(main.trace)))
        if "fig3_comfort_sweep" in sweep_tables:
            paths.append(plot_sweep(out, sweep_tables["fig3_comfort_sweep"].reset_index(), "comfort",
                                    "fig3_comfort_sweep.png", "Comfort coefficient ω (yuan)",
                                    "Figure 3: prices and shifted energy against the comfort weight (risk aversion 0)"))
        if "fig4_risk_sweep" in sweep_tables:
            paths.append(plot_sweep(out, sweep_tables["fig4_risk_sweep"].reset_index(), "risk_aversion",
                                    "fig4_risk_sweep.png", "Risk aversion β (–)",
                                    "Figure 4: prices and shifted energy against the risk aversion"))
        return paths

    return RunReport(title=title, tables=tables, notes=notes, plotters=[plots])


class TouStudy(Study):
    """``model = "tou_pricing"``: the 5-user community, or the city year when the instance has ``[city]``.

    ``method`` defaults to ``nested`` (community) or the instance's exact
    method (city); ``solver`` is the follower solver (nested) or the
    single-level solver (exact methods).  The city writes its per-seller-day
    results under ``out`` (required there) so that a rerun resumes.
    """

    name = "tou_pricing"
    description = ("TOU peak/valley pricing: seller (mean-variance revenue) vs households "
                   "(device schedules), elitist GA and exact methods; community and city scale")
    methods = METHODS
    fields = FIELDS
    options = (Option("sweeps", bool, default=True,
                      help="community: run the comfort and risk sweeps of Figures 3-4"),)

    def load(self, instance: Instance, options: Mapping[str, Any]) -> Instance | tuple[str, TouCommunity]:
        if "city" in instance.data:
            return instance     # the city parses its own sections (tou.city.load_city)
        return instance.name, load_community(instance)

    def solve(self, config: Instance | tuple[str, TouCommunity], *, method: str | None, solver: str | None,
              options: Mapping[str, Any], out: Path | None = None) -> RunReport:
        if isinstance(config, Instance):
            from gridgames.models.tou.city import run_city
            return run_city(config, method=method, solver=solver, out=out)
        name, cfg = config
        return run_community(cfg, method=method or "nested", solver=solver, sweeps=options["sweeps"],
                             title=f"{name}: TOU pricing, seller vs {len(cfg.households)} households")


STUDY = register_study(TouStudy())
#: ``run(instance, method=None, solver=None, out=None, sweeps=True)``
run = STUDY.run
