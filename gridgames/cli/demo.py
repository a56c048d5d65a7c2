"""``gridgames demo``: the main job that ``make demo`` runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from gridgames.cli import SUBCOMMANDS
from gridgames.cli.run import run_instance

#: The instance the demo solves, relative to the repository root.
DEMO_INSTANCE = Path(__file__).resolve().parents[2] / "instances" / "stackelberg_bpat.toml"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help=SUBCOMMANDS["demo"])
    p.add_argument("--out", type=Path, default=Path("results/demo"), help="output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_instance(DEMO_INSTANCE, out=args.out)
