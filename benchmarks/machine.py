"""What a benchmark table needs to be read later: the machine, package versions, the source commit.

Written as ``machine.json`` beside the case results by every
:func:`~gridgames.benchmarks.runner.run_suite`; the report prints it under the title.

>>> sorted(machine_description())                  # doctest: +NORMALIZE_WHITESPACE
['commit', 'cpus', 'host', 'memory_gib', 'packages', 'platform', 'processor', 'python']
"""
from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def machine_description() -> dict[str, Any]:
    """The facts a benchmark table needs to be read later."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = float("nan")
    return {"host": socket.gethostname(), "cpus": os.cpu_count(), "memory_gib": round(memory, 1),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "platform": platform.platform(),
            "packages": package_versions(), "commit": source_commit()}


#: the distributions whose versions decide a benchmark's numbers and times
PACKAGES = ("gridgames", "pyomo", "highspy", "pyscipopt", "cyipopt-wheels", "numpy", "scipy", "pandas",
            "pymoo", "statsmodels", "torch", "lightgbm", "dask", "distributed")


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution (None when it is not installed), without importing it."""
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def source_commit() -> str | None:
    """The git commit of the gridgames source this run used, ``+dirty`` when it has uncommitted
    changes; None when gridgames is not run from a git checkout (e.g. an installed wheel)."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
