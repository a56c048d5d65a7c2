"""``gridgames run INSTANCE``: solve an instance file, print and save its tables."""
from __future__ import annotations

import argparse
from pathlib import Path

from gridgames.models.instance import load_instance, registered_models


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="solve an instance file and print a summary")
    p.add_argument("instance", type=Path, help="TOML instance file (see instances/)")
    p.add_argument("--solver", help="solver name (default: the model's choice; see `gridgames solvers`)")
    p.add_argument("--method", help="solution method, for models that have several")
    p.add_argument("--out", type=Path, help="folder for result CSVs and PNG plots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_instance(args.instance, solver=args.solver, method=args.method, out=args.out)


def run_instance(path: Path, *, solver: str | None = None, method: str | None = None,
                 out: Path | None = None) -> int:
    """Load ``path``, run its model family, print the report, write files to ``out``."""
    instance = load_instance(path)
    entry = registered_models()[instance.model]
    options = {"solver": solver, "out": out}
    if method:
        options["method"] = method
    report = entry.run(instance, **options)
    print(report.format())
    if out is not None:
        for written in report.write(out):
            print(f"wrote {written}")
    return 0
