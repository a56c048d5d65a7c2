"""``gridgames demo``: the main job that ``make demo`` runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from gridgames.cli import SUBCOMMANDS
from gridgames.cli.run import run_instance
from gridgames.data.bundled import instance_path

#: The shipped instance the demo solves (found in the installed package, from any folder).
DEMO_INSTANCE = "stackelberg_bpat"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help=SUBCOMMANDS["demo"])
    p.add_argument("--out", type=Path, default=Path("results/demo"), help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_instance(instance_path(DEMO_INSTANCE), out=args.out)
