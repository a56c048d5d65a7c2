"""The ``gridgames`` command line.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers the subcommand and sets
``func`` (called with the parsed arguments, returns an exit code).

Only the module of the subcommand being run is imported (``gridgames --help``
imports none of them, nor numpy, Pyomo, torch or matplotlib): the others get a
placeholder entry with their one-line help.  A subcommand that takes flags of
its own beyond its parser (``run``: the model's options) sets
``accepts_extra=True`` and finds them in ``args.extra``.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys


#: Subcommands in the order ``gridgames --help`` lists them, with their one-line help.
SUBCOMMANDS: dict[str, str] = {
    "solvers": "list solvers and whether each is available",
    "run": "solve an instance file and print a summary",
    "demo": "the Stackelberg pricing case on real BPAT data: Tables 7-9 beside the paper, plots",
    "forecast": "rolling forecast backtest; Table 6 comparison with the paper",
    "bench": "run benchmark cases (model x method x solver) with references",
    "report": "write report.md with tables and plots from a benchmark results folder",
    "schema": "the instance fields of a model (section, key, type, units, default, help)",
    "new": "write a commented starter instance of a model",
}


def _command(argv: list[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in SUBCOMMANDS else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; only the subcommand named in ``argv`` is imported (all of them when ``argv`` is None)."""
    parser = argparse.ArgumentParser(
        prog="gridgames",
        description="Electricity demand-side market games on Pyomo: solve instances, compare solvers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = _command(argv) if argv is not None else None
    for name, text in SUBCOMMANDS.items():
        if argv is None or name == chosen:
            importlib.import_module(f"gridgames.cli.{name.replace('-', '_')}").add_parser(sub)
        else:
            sub.add_parser(name, help=text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gridgames`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from gridgames.cli.boundary import run_command  # one line and an exit code for every failure

    return run_command(args)
