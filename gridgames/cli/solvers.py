"""``gridgames solvers``: the registered solvers, whether each is installed, and Pyomo's installed plug-ins."""
from __future__ import annotations

import argparse

from gridgames.cli.boundary import cli_errors
from gridgames.solvers.plugins import DETECTED, detect_plugins, plugin_facts
from gridgames.solvers.registry import list_solvers


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solvers", help="list solvers and whether each is available",
                       description="List every registered solver (built-in and plug-in), the problem classes it "
                                   "takes and whether it is available on this machine.")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with cli_errors():  # e.g. `gridgames solvers | head -3`
        return _print_solvers()


def _print_solvers() -> int:
    infos = list_solvers()
    width = max(len(i.name) for i in infos)
    print(f"{'solver':<{width}}  available  {'features':<34}  description")
    missing = []
    for info in infos:
        features = ",".join(sorted(info.features)) if info.features_known else "unknown"
        print(f"{info.name:<{width}}  {'yes' if info.available else 'NO':<9}  {features:<34}  {info.description}")
        if not info.available:
            missing.append(f"  {info.name}: {info.install_hint}")
    if missing:
        print("to install the missing ones:\n" + "\n".join(missing))
    found = detect_plugins()
    print(f"\nPyomo plug-ins installed here (of {len(DETECTED)} probed), usable as pyomo:<name>:")
    for name in found:
        facts = plugin_facts(name).features
        print(f"  pyomo:{name:<16} {','.join(sorted(facts)) if facts is not None else 'features unknown'}")
    if not found:
        print("  none")
    print("any other Pyomo solver works as pyomo:<name> (e.g. pyomo:gurobi_direct once gurobipy is installed)")
    return 0
