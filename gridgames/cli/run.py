"""``gridgames run INSTANCE``: solve an instance file, print and save its tables."""
from __future__ import annotations

import argparse
from pathlib import Path

from gridgames.models.instance import load_instance, registered_models
from gridgames.solvers.errors import ModelError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="solve an instance file and print a summary")
    p.add_argument("instance", type=Path, help="TOML instance file (see instances/)")
    p.add_argument("--solver", help="solver name (default: the model's choice; see `gridgames solvers`)")
    p.add_argument("--method", help="solution method, for models that have several")
    p.add_argument("--out", type=Path, help="folder for result CSVs and PNG plots")
    p.add_argument("--day", help="one day of the data (YYYY-MM-DD), for models with daily games")
    p.add_argument("--days", nargs=2, metavar=("FIRST", "LAST"), help="a range of days, one game per day")
    p.add_argument("--demand-forecast", help='"eia", "actual" or a forecaster name (see `gridgames forecast`)')
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    extra = {key: value for key, value in (("day", args.day), ("days", args.days),
                                           ("demand_forecast", args.demand_forecast)) if value}
    return run_instance(args.instance, solver=args.solver, method=args.method, out=args.out, **extra)


def run_instance(path: Path, *, solver: str | None = None, method: str | None = None,
                 out: Path | None = None, **extra: object) -> int:
    """Load ``path``, run its model family, print the report, write files to ``out``.

    ``extra`` options (``day``, ``days``, ``demand_forecast``) go to model
    families that take them; one that does not is told so by name.
    """
    instance = load_instance(path)
    entry = registered_models()[instance.model]
    options = {"solver": solver, "out": out, **extra}
    if method:
        if not entry.methods:
            raise ModelError(f"model '{instance.model}' has one solution path; --method does not apply "
                             "(use --solver to pick the solver)")
        if method not in entry.methods:
            raise ModelError(f"model '{instance.model}' has no method {method!r}; "
                             f"choose one of {', '.join(entry.methods)}")
        options["method"] = method
    report = entry.run(instance, **options)
    print(report.format())
    if out is not None:
        for written in report.write(out):
            print(f"wrote {written}")
    return 0
