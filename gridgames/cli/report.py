"""``gridgames report``: tables and plots of a benchmark results folder as markdown."""
from __future__ import annotations

import argparse
from pathlib import Path

from gridgames.cli import SUBCOMMANDS
from gridgames.benchmarks.report import write_report


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help=SUBCOMMANDS["report"])
    p.add_argument("results", type=Path, metavar="RESULTS_DIR", help="folder written by `gridgames bench`")
    p.add_argument("--markdown", type=Path,
                   help="write the markdown here instead of RESULTS_DIR/report.md (figures/ goes beside it), "
                        "e.g. benchmarks/RESULTS.md")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print(f"written: {write_report(args.results, args.markdown)}")
    return 0
