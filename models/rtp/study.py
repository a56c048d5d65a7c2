"""The RTP study (Wang et al., Front. Energy Res. 9:714951, 2021): runner, tables, registration.

Modules of this model family:

* :mod:`~gridgames.models.rtp.pricing`: the price rule (eq. 3-4) and the step tariff;
* :mod:`~gridgames.models.rtp.config`: instance sections and the week's forecast-driven prices;
* :mod:`~gridgames.models.rtp.appliances`: appliances, priority k, Monte Carlo households;
* :mod:`~gridgames.models.rtp.model`: the smart energy planning unit (MILP, built once);
* :mod:`~gridgames.models.rtp.objectives`: f1, f2, incentive, comfort index (eq. 8-12, 16);
* :mod:`~gridgames.models.rtp.solve`: weighted sum (eq. 13-15), ε-front, NSGA-II, MOPSO;
* :mod:`~gridgames.models.rtp.district`: 1000 households × 7 days, parallel, resumable;
* :mod:`~gridgames.models.rtp.report`: Figures 4, 7, 10 and the fronts;
* this module: :func:`run` (``gridgames run instances/rtp_household.toml``), the λ1 sweep.

The consumer's keep-or-deviate choice behind the λ1 sweep (our model; the paper gives no
formula): on day d keeping the unit's plan costs its bill, and the days inside a run of at least
``m`` kept days earn ``λ1 · bill`` (eq. 9).  Each day the consumer also wants one appliance the
plan moved (drawn with the seed) back at its preferred time ("temporary consumption"), worth
``θ_d · bill_plan_d`` with ``θ_d ~ U(comfort_value)``; using it changes the bill by the price
difference and breaks the day's plan.  The consumer picks the kept days minimising the week's
cost by enumerating all ``2^days`` patterns (exact).
"""
from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgames.models.instance import Instance, register_study
from gridgames.models.report import RunReport
from gridgames.models.study import Study
from gridgames.models.rtp.pricing import step_tariff_bill
from gridgames.models.rtp.fields import FIELDS
from gridgames.models.rtp.config import RTPConfig, WeekPrices, load_config, week_prices
from gridgames.models.rtp.objectives import comfort_index, incentive_days
from gridgames.models.rtp.report import plot_appliances, plot_consumption, plot_fronts, plot_prices
from gridgames.models.rtp.model import DayPlan, PlanningUnit

log = logging.getLogger(__name__)

#: The paper's figures (Section "Examples and Results", Table 1).
PAPER = {"peak reduction, one household (%)": 40.13, "daily bill decrease (%)": 13.81,
         "weekly bill ($)": 36.85, "comfort index K": 0.74, "social welfare ($/day, system)": 467956.0}


def consumer_choice(bill_plan: np.ndarray, bill_pref: np.ndarray, value: np.ndarray, lambda1: float,
                    m: int) -> tuple[np.ndarray, float]:
    """Kept days (bool per day) and the week's cost, minimised over all keep/deviate patterns."""
    days = len(bill_plan)
    best, best_cost = None, np.inf
    for pattern in itertools.product((True, False), repeat=days):
        kept = np.array(pattern)
        disc = incentive_days(kept, m)
        cost = (np.sum(np.where(kept, bill_plan, bill_pref - value))
                - lambda1 * np.sum(bill_plan[disc]))
        if cost < best_cost - 1e-12:
            best, best_cost = kept, cost
    return best, float(best_cost)


def temporary_use(plan: DayPlan, prices: np.ndarray, specs: list, unit: PlanningUnit, appliance: str
                  ) -> tuple[float, float, float]:
    """Bill, kWh off plan and comfort index when ``appliance`` runs at its preferred time, the rest as planned."""
    pref = next(s for s in specs if s.name == appliance).preferred_power(unit.grid)
    diff = pref - plan.power[appliance]
    on = plan.on.copy()
    row = [s.name for s in unit.movable].index(appliance)
    on[row] = plan.on_preferred[row]
    return (plan.bill + unit.grid.dt * float(diff @ prices), 0.5 * unit.grid.dt * float(np.abs(diff).sum()),
            comfort_index(on, plan.on_preferred))


def lambda_sweep(plans: list[DayPlan], prices: np.ndarray, unit: PlanningUnit, cfg: RTPConfig) -> pd.DataFrame:
    """Temporary consumption, weekly bill and comfort index for λ1 from ``cfg.sweep``.

    Each day one appliance the plan moved (drawn with the seed) is wanted at its preferred time,
    worth ``θ_d · bill_plan_d`` with ``θ_d ~ U(comfort_value)``; using it breaks the day's plan.
    """
    rng = np.random.default_rng(cfg.seed)
    bp = np.array([p.bill for p in plans])
    k_plan = np.array([comfort_index(p.on, p.on_preferred) for p in plans])
    alt_bill, alt_kwh, alt_k = bp.copy(), np.zeros(len(plans)), k_plan.copy()
    theta = rng.uniform(*cfg.comfort_value, size=len(plans))
    for d, plan in enumerate(plans):
        moved = [s.name for s in unit.movable if np.abs(plan.power[s.name] - s.preferred_power(unit.grid)).sum() > 1e-6]
        if moved:
            pick = moved[int(rng.integers(len(moved)))]
            alt_bill[d], alt_kwh[d], alt_k[d] = temporary_use(plan, prices[d], unit.specs, unit, pick)
        else:
            theta[d] = 0.0
    value = theta * bp
    start, stop, step = cfg.sweep
    rows = []
    for lam in np.round(np.arange(start, stop + step / 2, step), 10):
        kept, _ = consumer_choice(bp, alt_bill, value, lam, cfg.m_days)
        disc = incentive_days(kept, cfg.m_days)
        bill = float(np.sum(np.where(kept, bp, alt_bill)) - lam * np.sum(bp[disc]))
        rows.append({"lambda1": lam, "days on plan": int(kept.sum()), "incentive days": int(disc.sum()),
                     "temporary consumption (kWh)": float(alt_kwh[~kept].sum()),
                     "weekly bill ($)": bill, "comfort index K": float(np.mean(np.where(kept, k_plan, alt_k)))})
    return pd.DataFrame(rows).set_index("lambda1")


def _household_study(cfg: RTPConfig, week: WeekPrices, report: RunReport) -> None:
    from gridgames.models.rtp.solve import FRONT_METHODS, BiObjectiveModel, compare_fronts

    unit = PlanningUnit(cfg.appliances, rho=cfg.rho)
    plans, prefs, rows = [], [], []
    for d, date in enumerate(week.dates):
        plan, pref = unit.solve(week.rtp[d]), unit.preferred(week.rtp[d])
        energy = float(pref.load.sum())
        step_bill = float(step_tariff_bill(energy, cfg.step_edges, week.step_prices)[0])
        plans.append(plan)
        prefs.append(pref)
        rows.append({"day": date, "A0 ($/MWh)": 1000 * week.a0[d], "energy (kWh)": energy,
                     "bill step tariff ($)": step_bill, "bill RTP own schedule ($)": pref.bill,
                     "bill RTP planned ($)": plan.bill, "peak own (kW)": pref.load.max(),
                     "peak planned (kW)": plan.load.max(), "moved (kWh)": plan.moved_kwh,
                     "K": comfort_index(plan.on, plan.on_preferred),
                     "welfare own ($)": float(cfg.welfare.welfare(pref.load)),
                     "welfare planned ($)": float(cfg.welfare.welfare(plan.load)),
                     "solve (s)": plan.solve_time})
    days = pd.DataFrame(rows).set_index("day")
    report.tables["days"] = days
    sweep = lambda_sweep(plans, week.rtp, unit, cfg)
    report.tables["lambda_sweep"] = sweep
    at = sweep.iloc[int(np.argmin(np.abs(sweep.index.to_numpy() - cfg.lambda1)))]

    fd = cfg.front_day
    bo = BiObjectiveModel(cfg.appliances, week.rtp[fd], cfg.welfare, lambda1=cfg.lambda1, rho=cfg.rho)
    cmp = compare_fronts(bo, n_points=cfg.front_points or None, pop_size=cfg.front_pop, n_gen=cfg.front_gen,
                         seed=cfg.seed + 1)
    hv_rows = [{"front": k, "points": len(cmp.fronts[k]), "hypervolume": v,
                "HV gap to exact (%)": 100 * (cmp.hv["exact"] - v) / cmp.hv["exact"], "time (s)": cmp.times[k]}
               for k, v in cmp.hv.items()]
    report.tables["fronts"] = pd.DataFrame(hv_rows).set_index("front")
    a, b = bo.anchor_points()
    report.tables["weighted_sum"] = pd.DataFrame(
        [{"point": "min f1 (scene 1)", "f1 ($)": a.f1, "f2 ($)": a.f2, "peak (kW)": a.load.max()},
         {"point": "max f2", "f1 ($)": b.f1, "f2 ($)": b.f2, "peak (kW)": b.load.max()},
         {"point": f"weighted k1={cmp.weights[0]:.4f} k2={cmp.weights[1]:.4f} (scene 2)", "f1 ($)": cmp.weighted.f1,
          "f2 ($)": cmp.weighted.f2, "peak (kW)": cmp.weighted.load.max()}]).set_index("point")

    peak_red = 100 * np.mean(1 - days["peak planned (kW)"] / days["peak own (kW)"])
    bill_dec_step = 100 * np.mean(1 - days["bill RTP planned ($)"] / days["bill step tariff ($)"])
    bill_dec_own = 100 * np.mean(1 - days["bill RTP planned ($)"] / days["bill RTP own schedule ($)"])
    ours = {"peak reduction, one household (%)": peak_red, "daily bill decrease (%)": bill_dec_step,
            "weekly bill ($)": float(at["weekly bill ($)"]), "comfort index K": float(at["comfort index K"]),
            "social welfare ($/day, system)": float(days["welfare planned ($)"].mean())}
    comp = pd.DataFrame({"paper": PAPER, "ours": ours})
    comp.loc["daily bill decrease vs own schedule at RTP (%)"] = [np.nan, bill_dec_own]
    comp.loc["social welfare, weighted-sum point ($/day)"] = [np.nan, cmp.weighted.f2]
    comp.loc["peak reduction at the weighted-sum point, front day (%)"] = [
        np.nan, 100 * (1 - cmp.weighted.load.max() / prefs[fd].load.max())]
    report.tables["paper_vs_ours"] = comp
    n_days = len(days)
    if n_days != 7:
        report.notes.append(f"the run covers {n_days} days, not a week: 'weekly bill' is the bill over those "
                            f"{n_days} days (x{7 / n_days:.2f} for a week), set [data].days = 7 to compare it")
    if cfg.m_days > n_days:
        report.notes.append(f"the incentive needs m = {cfg.m_days} days on plan but the run has {n_days}: no day "
                            "earns it, so every lambda_sweep row is the same")
    report.notes += [
        f"weekly bill and K are at lambda1 = {sweep.index[int(np.argmin(np.abs(sweep.index - cfg.lambda1)))]:g} "
        f"(m = {cfg.m_days} days); the paper's $36.85/week is at its own (retail, Chinese) tariff, ours at "
        "wholesale-level prices (Belgian day-ahead daily mean, EUR→USD) for our 13 appliances: not comparable",
        "social welfare: the paper's $467,956/day is for its whole system; ours is one household's "
        "Σ_t [L(S) − C(S)] with the [welfare] parameters",
        f"front day {week.dates[fd]}: exact front = ε-constraint sweep, HiGHS MILP "
        f"({cfg.front_points or 'all'} ε values on the welfare), "
        "thermostat held at its 25 °C power in the bi-objective problem; with a grid of ε values the exact "
        "front is an inner approximation, so a heuristic front filling its gaps can show a negative HV gap",
        "fronts: " + "; ".join(f"{k} = {v}" for k, v in FRONT_METHODS.items()) + f"; {cfg.front_pop} evaluations "
        f"per generation each, {cfg.front_gen} generations, seed {cfg.seed + 1}",
    ]

    def plots(out: Path) -> list[Path]:
        return [plot_prices(out, week.rtp, week.step_prices, cfg.step_edges, week.dates, _a0_source(cfg)),
                plot_consumption(out, np.concatenate([p.load for p in prefs]),
                                 np.concatenate([p.load for p in plans]),
                                 "Figure 7: daily consumption, step tariff vs real-time price", "fig7_consumption.png"),
                plot_appliances(out, cmp.weighted.power),
                plot_fronts(out, cmp.fronts, (cmp.weighted.f1, cmp.weighted.f2))]

    report.plotters.append(plots)


def _a0_source(cfg: RTPConfig) -> str:
    """Where the daily A0 comes from, for labels: the price file and its first day."""
    name = cfg.price_file.name if cfg.price_file is not None else "the price file"
    return f"{name} from {cfg.price_week_start}"


def _district_study(cfg: RTPConfig, week: WeekPrices, report: RunReport) -> None:
    from gridgames.models.rtp.district import run_district

    res = run_district(cfg.households, week.rtp, rho=cfg.rho, welfare=cfg.welfare, seed=cfg.seed,
                       processes=cfg.processes, results_dir=cfg.results_dir, specs=cfg.appliances)
    rows = []
    for d, date in enumerate(week.dates):
        lp, lq = res.load_plan[d], res.load_pref[d]
        rows.append({"day": date, "peak own (kW)": lq.max(), "peak planned (kW)": lp.max(),
                     "peak reduction (%)": 100 * (1 - lp.max() / lq.max()),
                     "PAR own": lq.max() / lq.mean(), "PAR planned": lp.max() / lp.mean(),
                     "bill own ($)": res.bill_pref[:, d].sum(), "bill planned ($)": res.bill_plan[:, d].sum(),
                     "mean K": res.comfort[:, d].mean(), "welfare planned ($)": res.welfare_plan[:, d].sum()})
    report.tables["district_days"] = pd.DataFrame(rows).set_index("day")
    report.tables["district_summary"] = pd.Series({   # object dtype: counts stay integers
        "households": len(res.bill_plan), "mean appliances": res.n_appliances.mean(),
        "household peak reduction (%)": 100 * np.mean(1 - res.peak_plan / res.peak_pref),
        "household daily bill decrease vs own (%)": 100 * np.mean(1 - res.bill_plan / res.bill_pref),
        "mean weekly bill ($)": res.bill_plan.sum(axis=1).mean(), "mean K": res.comfort.mean(),
        "MILP solves": res.n_solves, "wall time (s)": res.wall_time,
        # a reused chunk's solver time is from the run that solved it: the sum can exceed this run's wall time
        "solver time, reused chunks included (s)": res.solve_time,
        "chunks reused": res.chunks_reused}, dtype=object).to_frame("value")
    if res.chunks_redone:
        report.notes.append("district chunk files not reused and solved again: "
                            + ", ".join(f"{n} {why}" for why, n in sorted(res.chunks_redone.items())))

    def plots(out: Path) -> list[Path]:
        return [plot_prices(out, week.rtp, week.step_prices, cfg.step_edges, week.dates, _a0_source(cfg)),
                plot_consumption(out, res.load_pref.ravel(), res.load_plan.ravel(),
                                 f"District of {cfg.households} households: own schedule vs RTP plan",
                                 "district_consumption.png")]

    report.plotters.append(plots)


class RTPStudy(Study):
    """``model = "rtp"``: one household (``[district].households = 1``) or a district.

    Only HiGHS is accepted as solver: schedules and exact fronts are persistent
    HiGHS MILPs (SCIP is the cross-check in the tests and benchmark cases).
    Everything else is set in the instance.
    """

    name = "rtp"
    fields = FIELDS
    description = ("real-time pricing from a random-forest load forecast, appliance "
                   "planning unit, bill vs welfare fronts (Front. Energy Res. 2021, 9:714951)")
    solvers = ("highs",)

    def load(self, instance: Instance, options: Mapping[str, Any]) -> tuple[str, RTPConfig]:
        return instance.name, load_config(instance)

    def solve(self, config: tuple[str, RTPConfig], *, method: str | None, solver: str | None,
              options: Mapping[str, Any], out: Path | None = None) -> RunReport:
        name, cfg = config
        week = week_prices(cfg)
        report = RunReport(title=f"RTP study: {name}")
        report.tables["prices"] = pd.DataFrame(
            {"A0 ($/MWh)": 1000 * week.a0, "RTP min ($/MWh)": 1000 * week.rtp.min(axis=1),
             "RTP max ($/MWh)": 1000 * week.rtp.max(axis=1),
             "forecast MAPE (%)": 100 * np.mean(np.abs(week.forecast - week.actual) / week.actual, axis=1)},
            index=pd.Index(week.dates, name="day"))
        report.notes.append(f"A0 = daily mean day-ahead price ({cfg.price_column}) of {_a0_source(cfg)} "
                            f"(the paper's PJM Dayton 2019 prices are not available) × {cfg.eur_to_usd} USD/EUR; "
                            f"load forecast: {cfg.forecaster} on {cfg.load_file.name} ({cfg.load_column}) "
                            f"from {cfg.week_start}")
        if cfg.households == 1:
            _household_study(cfg, week, report)
        else:
            _district_study(cfg, week, report)
        return report


STUDY = register_study(RTPStudy())
#: ``run(instance, solver=None)``
run = STUDY.run
