"""``gridgames report``: tables and plots of a benchmark results folder as markdown."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gridgames.cli import SUBCOMMANDS
from gridgames.benchmarks.report import build_report
from gridgames.cli.boundary import cli_errors


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help=SUBCOMMANDS["report"], description=SUBCOMMANDS["report"])
    p.add_argument("results", type=Path, metavar="RESULTS_DIR", help="folder written by `gridgames bench`")
    p.add_argument("--markdown", type=Path,
                   help="write the markdown here instead of RESULTS_DIR/report.md (figures/ goes beside it), "
                        "e.g. benchmarks/RESULTS.md")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the report; exit 1 when some case files had to be skipped (they are listed).

    Rows outside their family's tolerance are listed on stderr (the report's ``check`` column);
    ``gridgames bench`` exits 1 for them, the report itself is still written."""
    with cli_errors():
        outcome = build_report(args.results, args.markdown)
        print(f"written: {outcome.path} ({outcome.cases} cases: {outcome.ok} ok, {outcome.failed} failed)")
        if outcome.skipped or outcome.check_failures:
            print(f"gridgames report: {outcome.summary()}", file=sys.stderr)
    return 1 if outcome.skipped else 0
