"""``gridgames solvers``: the registered solvers and whether each is installed."""
from __future__ import annotations

import argparse

from gridgames.solvers.registry import list_solvers


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solvers", help="list solvers and whether each is available")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    infos = list_solvers()
    width = max(len(i.name) for i in infos)
    print(f"{'solver':<{width}}  available  {'features':<34}  description")
    missing = []
    for info in infos:
        features = ",".join(sorted(info.features))
        print(f"{info.name:<{width}}  {'yes' if info.available else 'NO':<9}  {features:<34}  {info.description}")
        if not info.available:
            missing.append(f"  {info.name}: pip install {info.package}")
    if missing:
        print("to install the missing ones:\n" + "\n".join(missing))
    print("any other Pyomo solver works as pyomo:<name> (e.g. pyomo:gurobi)")
    return 0
