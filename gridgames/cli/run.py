"""``gridgames run INSTANCE``: solve an instance file, print its report, write it to ``--out``.

The flags after ``--method``, ``--solver`` and ``--out`` belong to the model
family the instance names: they are built from its study's declared options
(:class:`gridgames.models.study.Option`), so ``gridgames run INSTANCE --help``
lists them and a flag the family does not declare is an error naming the ones
it does.  Only that family is imported.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from gridgames.cli import SUBCOMMANDS
from gridgames.io import check_output_dir
from gridgames.models.instance import get_model, known_models, load_instance
from gridgames.models.study import run_file
from gridgames.solvers.errors import ModelError

log = logging.getLogger(__name__)

USAGE = "gridgames run INSTANCE [--method METHOD] [--solver SOLVER] [--out DIR] [model options] [-h]"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solver", help="solver name (default: the model's choice; see `gridgames solvers`)")
    parser.add_argument("--method", help="solution method, for models that have several")
    parser.add_argument("--out", type=Path, help="folder for result CSVs and PNG plots")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help=SUBCOMMANDS["run"], add_help=False, usage=USAGE,
                       description="Solve an instance file. Model options follow the instance's model: "
                                   "`gridgames run INSTANCE --help` lists them. Models: "
                                   + ", ".join(known_models()))
    p.add_argument("instance", nargs="?", type=Path,
                   help="TOML instance file, or the name of a shipped one (dispatch_small, ...)")
    _common(p)
    p.add_argument("-h", "--help", action="store_true", help="show this help (after INSTANCE: with its model's options)")
    p.set_defaults(func=run, accepts_extra=True, run_parser=p)


def study_parser(study: Any, instance: Path) -> argparse.ArgumentParser:
    """The full ``gridgames run`` parser of one instance: common flags and the study's options."""
    methods = f" ({', '.join(study.methods)})" if study.methods else " (none: one solution path)"
    parser = argparse.ArgumentParser(
        prog=f"gridgames run {instance}", usage=None,
        description=f"model '{study.name}': {study.description}. Methods{methods}"
                    + (f"; solvers: {', '.join(study.solvers)}" if study.solvers else "") + ".")
    _common(parser)
    study.add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    extra: list[str] = list(getattr(args, "extra", []) or [])
    if args.instance is None:
        if args.help:
            args.run_parser.print_help()
            return 0
        raise ModelError(f"run: give an instance file ({USAGE})")
    instance = load_instance(args.instance)
    study = get_model(instance.model).study
    if study is None:   # a family registered with register_model(): no declared options
        if args.help or extra:
            raise ModelError(f"model '{instance.model}' declares no options")
        return run_instance(instance.path, solver=args.solver, method=args.method, out=args.out)
    parser = study_parser(study, args.instance)
    if args.help:
        parser.print_help()
        return 0
    values, unknown = parser.parse_known_args(extra)
    if unknown:
        known = ", ".join(o.flag for o in study.options) or "none"
        raise ModelError(f"model '{study.name}' ({args.instance}) has no option {' '.join(unknown)}; "
                         f"its options: {known} (and --method, --solver, --out)")
    options = {o.name: getattr(values, o.name) for o in study.options}
    return run_instance(instance.path, solver=args.solver, method=args.method, out=args.out, **options)


def run_instance(path: Path, *, solver: str | None = None, method: str | None = None,
                 out: Path | None = None, **options: object) -> int:
    """Load ``path``, run its model family, print the report, write it to ``out`` (once).

    ``options`` are the family's declared options (``day``, ``days``, ...); one
    it does not declare is a :class:`ModelError` naming those it does.  Returns the
    exit code: 1 when some unit of work failed (``report.failures``), else 0.
    """
    if out is not None:  # a bad --out is refused before any work
        out = check_output_dir(out, option="--out")
    report = run_file(path, solver=solver, method=method, out=out, **options)
    print(report.format())
    if out is not None:
        for written in report.write(out):
            print(f"wrote {written}")
    return 1 if report.failures else 0
