"""The ``gridgames`` command line.

Each subcommand lives in its own module of this package and exposes
``add_parser(subparsers)``, which registers the subcommand and sets
``func`` (called with the parsed arguments, returns an exit code).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from gridgames.solvers.errors import GridGamesError

#: Subcommand modules, in the order ``gridgames --help`` lists them.
SUBCOMMANDS = ("solvers", "run", "demo", "forecast", "bench", "report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gridgames",
        description="Electricity demand-side market games on Pyomo: solve instances, compare solvers.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"gridgames.cli.{name.replace('-', '_')}")
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``gridgames`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except GridGamesError as exc:  # our own errors: message only, no traceback
        print(f"gridgames {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
