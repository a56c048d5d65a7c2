"""Run benchmark cases locally or on Dask, one result file per case, resumable.

Every finished case is written at once to ``OUT/cases/<family>/<name>.json``
(atomically: a temporary file renamed into place), so a killed run loses at
most the cases that were running, and a rerun skips every case whose stored
fingerprint (function and params) is unchanged.  A case that raises is
recorded with its error and the suite goes on; ``retry_failed`` reruns those.

Execution:

* ``workers=0`` — in this process, one case after another (debugging).
* ``workers=N`` — a Dask ``LocalCluster`` of N single-threaded worker processes.
* ``scheduler="tcp://host:8786"`` — an existing Dask cluster (start one with
  ``dask scheduler`` on one machine and ``dask worker tcp://host:8786
  --nthreads 1`` on each worker machine, every one with gridgames installed).

Numerical libraries inside a case are limited to one BLAS/OpenMP thread so
that N workers use N cores.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import platform
import socket
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from gridgames.benchmarks.suite import ROW_FIELDS, BenchmarkError, Case
from gridgames.models.report import atomic_write_text

logger = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    """numpy scalars and arrays, NaN and infinities made JSON-safe (NaN → None)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def execute_case(case: Case) -> dict:
    """Run one case and return its record (never raises: failures are recorded)."""
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    error = trace = None
    try:
        with threadpool_limits(1):
            row = case.func(**case.params)
        if not isinstance(row, dict):
            raise BenchmarkError(f"{case.key}: the case function returned {type(row).__name__}, not a dict")
    except Exception as exc:  # noqa: BLE001 — a failing case is data, the suite goes on
        row = {}
        error = f"{type(exc).__name__}: {exc}"
        trace = traceback.format_exc(limit=-6)
    return {
        "family": case.family, "case": case.name, "params": case.params,
        "fingerprint": case.fingerprint, "outcome": "failed" if error else "ok",
        "error": error, "traceback": trace, "elapsed": time.perf_counter() - t0,
        "started": started.isoformat(timespec="seconds"),
        "worker": f"{socket.gethostname()}:{os.getpid()}", "row": _jsonable(row),
    }


def case_path(out: Path, case: Case) -> Path:
    """Where a case's record is stored."""
    return out / "cases" / case.family / f"{case.name}.json"


def read_record(path: Path) -> dict | None:
    """A stored record, or None when missing or unreadable (then the case is rerun)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def write_record(out: Path, case: Case, record: dict) -> Path:
    path = case_path(out, case)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True))
    return path


def pending_cases(cases: Iterable[Case], out: Path, *, retry_failed: bool = False) -> list[Case]:
    """Cases without a current stored result (fingerprint changed, missing, or failed and retried)."""
    todo = []
    for case in cases:
        record = read_record(case_path(out, case))
        current = record is not None and record.get("fingerprint") == case.fingerprint
        if not current or (retry_failed and record.get("outcome") != "ok"):
            todo.append(case)
    return todo


@dataclass
class SuiteRun:
    """What one call of :func:`run_suite` did."""

    selected: int
    skipped: int
    ran: int
    failed: int
    wall_time: float
    out: Path

    def summary(self) -> str:
        return (f"{self.selected} cases: {self.skipped} already done, {self.ran} ran "
                f"({self.failed} failed) in {self.wall_time:.1f} s; results in {self.out}")


def machine_description() -> dict[str, Any]:
    """The facts a benchmark table needs to be read later."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = float("nan")
    return {"host": socket.gethostname(), "cpus": os.cpu_count(), "memory_gib": round(memory, 1),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(), "platform": platform.platform()}


class _Progress:
    """tqdm bar with done / running / failed counts."""

    def __init__(self, total: int, enabled: bool, workers: int) -> None:
        self.bar = tqdm(total=total, disable=not enabled, unit="case", desc="bench")
        self.failed = 0
        self.done = 0
        self.running = min(workers, total)
        self.total = total

    def finished(self, record: dict) -> None:
        self.failed += record["outcome"] != "ok"
        self.done += 1
        self.bar.update(1)
        self.running = min(self.running, self.total - self.done)
        self.bar.set_postfix(running=self.running, failed=self.failed, last=f"{record['family']}/{record['case']}")

    def close(self) -> None:
        self.bar.close()


def _run_local(cases: list[Case], out: Path, progress: _Progress) -> None:
    for case in cases:
        record = execute_case(case)
        write_record(out, case, record)
        progress.finished(record)


def _run_dask(cases: list[Case], out: Path, progress: _Progress, *, workers: int,
              scheduler: str | None) -> None:
    import dask
    from dask.distributed import Client, LocalCluster, as_completed

    for name in ("distributed", "tornado"):  # the scheduler runs in this process: keep its INFO lines quiet
        logging.getLogger(name).setLevel(logging.ERROR)
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        # non-daemonic workers: a case may start its own process pool (a model run end to end)
        with dask.config.set({"distributed.worker.daemon": False}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=":0", silence_logs=logging.ERROR)
        client = Client(cluster)
    try:
        by_key = {}
        futures = []
        for case in cases:
            future = client.submit(execute_case, case, pure=False, key=f"case-{case.family}-{case.name}-"
                                   f"{case.fingerprint}-{time.time_ns()}")
            by_key[future.key] = case
            futures.append(future)
        for future in as_completed(futures):
            case = by_key[future.key]
            try:
                record = future.result()
            except Exception as exc:  # noqa: BLE001 — a lost worker fails only its case
                record = {"family": case.family, "case": case.name, "params": case.params,
                          "fingerprint": case.fingerprint, "outcome": "failed",
                          "error": f"worker failure: {type(exc).__name__}: {exc}", "traceback": None,
                          "elapsed": None, "started": None, "worker": None, "row": {}}
            write_record(out, case, record)
            progress.finished(record)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def run_suite(cases: list[Case], out: str | Path, *, workers: int = 2, scheduler: str | None = None,
              retry_failed: bool = False, progress: bool = True) -> SuiteRun:
    """Run the cases that have no current result and store one record per case.

    Parameters
    ----------
    cases : list of Case
        From :func:`gridgames.benchmarks.suite.all_cases`.
    out : path
        Results folder (created); ``cases/<family>/<name>.json`` per case and
        ``machine.json`` describing this machine.
    workers : int
        Dask LocalCluster worker processes; 0 runs in this process.
    scheduler : str, optional
        Address of a running Dask scheduler; overrides ``workers``.
    retry_failed : bool
        Rerun cases whose stored record is a failure.
    progress : bool
        Show a progress bar (cases done, running, failed).

    Returns
    -------
    SuiteRun
    """
    if workers < 0:
        raise BenchmarkError(f"workers must be >= 0, got {workers}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "machine.json", json.dumps(machine_description(), indent=1))
    todo = pending_cases(cases, out, retry_failed=retry_failed)
    t0 = time.perf_counter()
    bar = _Progress(len(todo), progress, workers if scheduler is None else len(todo))
    try:
        if not todo:
            pass
        elif scheduler is None and workers == 0:
            _run_local(todo, out, bar)
        else:
            _run_dask(todo, out, bar, workers=workers, scheduler=scheduler)
    finally:
        bar.close()
    return SuiteRun(selected=len(cases), skipped=len(cases) - len(todo), ran=bar.done, failed=bar.failed,
                    wall_time=time.perf_counter() - t0, out=out)


def results_frame(out: str | Path) -> pd.DataFrame:
    """All stored records under ``out`` as one table: identity, outcome, then the row's columns."""
    records = [read_record(p) for p in sorted(Path(out).glob("cases/*/*.json"))]
    rows = []
    for record in records:
        if record is None:
            continue
        row = {"family": record["family"], "case": record["case"], "outcome": record["outcome"],
               "error": record.get("error"), "elapsed": record.get("elapsed")}
        row.update({k: None for k in ROW_FIELDS})
        row.update(record.get("row") or {})
        rows.append(row)
    columns = ["family", "case", "outcome", *ROW_FIELDS, "elapsed", "error"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    extras = [c for c in frame.columns if c not in columns]
    return frame[columns + extras]
