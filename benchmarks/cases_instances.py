"""Case family ``instances``: the shipped instances, every applicable method and solver.

* ``dispatch_small`` — the economic-dispatch QP with each installed solver;
  the reference is a second solver's optimum (HiGHS, or Ipopt for HiGHS).
* ``stackelberg_bpat`` — the Stackelberg pricing game on its default day with
  every bilevel method; the reference is the closed-form equilibrium
  (``analytic``), the gap the relative difference in the company's utility U1.

* ``cli-<instance>`` — every instance file run end to end as ``gridgames run``
  does (its default method, report and figures written to a temporary folder):
  the wall time a user waits, and a check that every shipped instance runs.
  ``tou_city`` is left out here: its year is the ``scale`` suite, one case
  per seller-day (``tou-city`` family).

The TOU, microgrid and RTP instances also have their own families (``tou``,
``microgrid``, ``rtp``), which know their references.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from gridgames.data.bundled import instance_names, instance_path
from gridgames.benchmarks.tolerance import REPORTED, Tolerance
from gridgames.benchmarks.suite import Case, case_family
from gridgames.models.instance import load_instance
from gridgames.solvers import available_solvers

DISPATCH_SOLVERS = ("highs", "ipopt", "scip", "scipy")
STACKELBERG_METHODS = ("analytic", "kkt", "kkt-bigm", "nested")
#: GA budget of the Stackelberg ``nested`` case (24 leader prices)
STACKELBERG_GA = {"n_gen": 60, "pop_size": 40, "seed": 1}
#: whole-instance runs are reported; the dispatch QP and the Stackelberg day are judged against their references
INSTANCE_TOLERANCE = {"default": REPORTED,
                      "single-level QP": Tolerance(eq_gap=None, statuses=("optimal", "locally_optimal")),
                      "nested": Tolerance(objective=1e-3, eq_gap=None, statuses=("ok",), guaranteed=False),
                      "*": Tolerance(eq_gap=None, statuses=("ok",))}


def run_dispatch(*, solver: str) -> dict:
    """Solve ``dispatch_small`` with ``solver`` and a reference solver; compare costs."""
    from gridgames.models.dispatch.config import load_dispatch_instance
    from gridgames.models.dispatch.solve import compare_solvers

    data = load_dispatch_instance(load_instance(instance_path("dispatch_small")))
    reference_solver = "ipopt" if solver == "highs" else "highs"
    t0 = time.perf_counter()
    table, _ = compare_solvers(data, [solver, reference_solver])
    wall = time.perf_counter() - t0
    ours, ref = table.loc[solver], table.loc[reference_solver]
    return {"method": "single-level QP", "solver": solver, "size": len(data.load) * len(data.a),
            "objective": ours["objective"], "reference": ref["objective"],
            "reference_kind": f"second solver ({reference_solver})",
            "leader_gap": abs(ours["objective"] - ref["objective"]) / abs(ref["objective"]),
            "wall_time": wall, "solver_time": ours["time_s"], "status": ours["status"]}


def run_stackelberg(*, method: str, options: dict | None = None) -> dict:
    """The default day of ``stackelberg_bpat`` by ``method``; U1 against the closed form."""
    from gridgames.models.stackelberg.analytic import company_utility
    from gridgames.models.stackelberg.config import load_config
    from gridgames.models.stackelberg.solve import solve_day

    cfg = load_config(load_instance(instance_path("stackelberg_bpat")))
    params, day = cfg.params, cfg.day(cfg.days[0])

    def u1(p: np.ndarray, l: np.ndarray) -> float:
        return float(company_utility(params, p, np.atleast_2d(l).sum(axis=0), day.orl, day.d).sum())

    reference = u1(*solve_day(params, day, method="analytic"))
    t0 = time.perf_counter()
    p, l = solve_day(params, day, method=method, **(options or {}))
    wall = time.perf_counter() - t0
    objective = u1(p, l)
    return {"method": method, "solver": "default", "size": day.n * len(params.users),
            "objective": objective, "reference": reference, "reference_kind": "closed form",
            "leader_gap": abs(objective - reference) / abs(reference), "wall_time": wall,
            "status": "ok"}


#: instances whose end-to-end run is a study of its own (see the module docstring)
CLI_EXCLUDED = {"tou_city": "the city year is the scale suite (tou-city family)"}


def run_cli(*, instance: str) -> dict:
    """``gridgames run instances/<instance>.toml --out TMP``: wall time and files written."""
    from gridgames.models.study import run_file

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        report = run_file(instance_path(instance), out=Path(out))
        printed = report.format()
        files = len(report.write(out))
    return {"method": "default", "solver": "default", "wall_time": time.perf_counter() - start,
            "status": "ok", "files_written": files,
            "report_lines": printed.count("\n") + 1}


@case_family("instances", tolerance=INSTANCE_TOLERANCE)
def instance_cases() -> list[Case]:
    installed = set(available_solvers())
    cases = [Case("instances", f"dispatch_small-{s}", run_dispatch, {"solver": s}, smoke=s == "highs")
             for s in DISPATCH_SOLVERS if s in installed]
    for method in STACKELBERG_METHODS:
        options = STACKELBERG_GA if method == "nested" else None
        cases.append(Case("instances", f"stackelberg_bpat-{method}", run_stackelberg,
                          {"method": method, "options": options}, smoke=method in ("analytic", "kkt")))
    cases += [Case("instances", f"cli-{name}", run_cli, {"instance": name})
              for name in instance_names() if name not in CLI_EXCLUDED]
    return cases
