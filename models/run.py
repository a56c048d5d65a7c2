"""``gg.run_instance``: run an instance file (or a shipped instance by name) from Python.

The notebook counterpart of ``gridgames run INSTANCE``: the same study
declaration checks the method, the solver and the options (an undeclared
option is the study's error naming the declared ones), the same model runs,
and the :class:`~gridgames.models.report.RunReport` comes back with its
tables as ``pandas.DataFrame`` s.  Nothing is written unless ``out`` is given.

Examples
--------
>>> import gridgames as gg
>>> report = gg.run_instance("dispatch_small", solver="highs")
>>> report.tables["solvers"].loc["highs", "status"]
'optimal'
>>> tex = report.to_latex()                           # booktabs tables for a paper
>>> paths = report.save("results/dispatch")           # doctest: +SKIP
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from gridgames.io import check_output_dir
from gridgames.models.report import RunReport
from gridgames.models.study import run_file

log = logging.getLogger(__name__)


def run_instance(path_or_name: str | Path, method: str | None = None, solver: str | None = None,
                 out: str | Path | None = None, **options: Any) -> RunReport:
    """Load an instance, check the options against its model's study, solve it, return the report.

    Parameters
    ----------
    path_or_name : str or Path
        A TOML instance file, or the name of a shipped instance (``"dispatch_small"``,
        ``"stackelberg_bpat"``, ...).
    method, solver : str, optional
        As ``gridgames run --method/--solver``; None takes the model's default.
    out : str or Path, optional
        A folder: checked to be writable before any work, then the report's tables
        (CSV), figures and ``report.md`` are written there (:meth:`RunReport.save`).
        Families that write while they run (the TOU city) use it too.
    **options
        The model's declared options (``day="2019-06-01"`` for the Stackelberg
        instance; ``gridgames run INSTANCE --help`` lists them).

    Returns
    -------
    RunReport
        ``tables`` (name → DataFrame), ``notes``, ``to_latex()``, ``save(dir)``,
        ``format()`` (the CLI's text).

    Raises
    ------
    ModelError
        An option, method or solver the model does not declare (the message names
        the declared ones).
    InstanceError
        A missing or invalid instance file.
    OutputError
        ``out`` cannot be written.
    """
    folder = check_output_dir(out, option="out") if out is not None else None
    report = run_file(path_or_name, method=method, solver=solver,
                      **({"out": folder} if folder is not None else {}), **options)
    if folder is not None:
        for written in report.save(folder):
            log.info("wrote %s", written)
    return report
