"""``gridgames bench``: run the benchmark suite (locally or on Dask), resumable, then write the report."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gridgames.cli import SUBCOMMANDS
from gridgames.benchmarks.report import build_report
from gridgames.benchmarks.runner import check_scheduler, run_suite
from gridgames.benchmarks.suite import SUITES, all_cases, load_case_module
from gridgames.cli.boundary import cli_errors
from gridgames.io import check_output_dir


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help=SUBCOMMANDS["bench"],
                       description="Run the benchmark suite. Each case's result is written as it finishes; "
                                   "a rerun skips cases already done (same params and code), so an "
                                   "interrupted run resumes.")
    p.add_argument("--suite", choices=SUITES, default="full", help="smoke: the smallest size of every case")
    p.add_argument("--cases", metavar="PATTERN",
                   help="shell pattern(s) on family/name, comma-separated (e.g. 'engine/*,smd/smd1-*')")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=2,
                       help="Dask LocalCluster worker processes (0: run in this process); default 2")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="an existing Dask scheduler, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--out", type=Path, help="results folder (default: results/bench-SUITE, e.g. results/bench-smoke)")
    p.add_argument("--module", action="append", default=[], metavar="PATH_OR_MODULE",
                   help="also load the case families of this .py file or importable module (repeatable); "
                        "installed packages can add families through the 'gridgames.benchmarks' entry point")
    p.add_argument("--retry-failed", action="store_true", help="rerun cases whose stored result is a failure")
    p.add_argument("--force", action="store_true", help="rerun every selected case, even those already done")
    p.add_argument("--list", action="store_true", help="list the selected cases and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.out is None:
        args.out = Path(f"results/bench-{args.suite}")
    with cli_errors():
        for module in args.module:
            load_case_module(module)
        if not args.list:  # before any work: a bad --out or a dead scheduler costs nothing
            check_output_dir(args.out)
            if args.scheduler:
                check_scheduler(args.scheduler)
        cases = all_cases(args.suite, args.cases)
        if args.list:
            for case in cases:
                print(f"{case.key:<50} {'smoke' if case.smoke else ''}")
            print(f"{len(cases)} cases")
            return 0
        outcome = run_suite(cases, args.out, workers=args.workers, scheduler=args.scheduler,
                            retry_failed=args.retry_failed, progress=not args.no_progress, force=args.force)
        print(outcome.summary())
        report = build_report(args.out)
        print(f"report: {report.path}" + (f" ({report.misses} rows of local or heuristic methods outside "
                                          f"their tolerance: see the check column)" if report.misses else ""))
        if report.skipped or report.check_failures:
            print(f"gridgames bench: {report.summary()}", file=sys.stderr)
    return 0 if outcome.failed == 0 and not report.skipped and not report.check_failures else 1
