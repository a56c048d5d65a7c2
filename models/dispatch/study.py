"""The economic-dispatch family's study: the solver-comparison instance (``dispatch_small``).

The QP (:mod:`gridgames.models.dispatch.model`) is convex with linear constraints, so
HiGHS, Ipopt, SCIP and scipy must all agree on the optimum, and the duals of the
balance rows are the hourly marginal prices in every solver's sign convention.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gridgames.models.dispatch.config import DispatchData, load_dispatch_instance
from gridgames.models.dispatch.fields import FIELDS
from gridgames.models.dispatch.model import build_dispatch_model
from gridgames.models.dispatch.report import dispatch_report
from gridgames.models.dispatch.solve import compare_solvers
from gridgames.models.instance import Instance, register_study
from gridgames.models.report import RunReport
from gridgames.models.study import Study
from gridgames.solvers.registry import available_solvers

log = logging.getLogger(__name__)

__all__ = ["DispatchData", "DispatchStudy", "STUDY", "build_dispatch_model", "compare_solvers",
           "load_dispatch_instance", "run"]


class DispatchStudy(Study):
    """``model = "economic_dispatch"``: the dispatch with one solver, or every available one (default)."""

    name = "economic_dispatch"
    description = "multi-period economic dispatch QP (solver comparison)"
    fields = FIELDS

    def load(self, instance: Instance, options: Mapping[str, Any]) -> tuple[str, DispatchData]:
        return instance.name, load_dispatch_instance(instance)

    def solve(self, config: tuple[str, DispatchData], *, method: str | None, solver: str | None,
              options: Mapping[str, Any], out: Path | None = None) -> RunReport:
        title, data = config
        table, dispatch = compare_solvers(data, [solver] if solver else available_solvers())
        return dispatch_report(title, data, table, dispatch)


STUDY = register_study(DispatchStudy())
#: ``run(instance, solver=None)``: the registered study's run (kept as a module function)
run = STUDY.run
