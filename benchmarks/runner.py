"""Run benchmark cases locally or on Dask, one result file per case, resumable.

Every finished case is written at once to ``OUT/cases/<family>/<name>.json``
(atomically: a temporary file renamed into place), so a killed run loses at
most the cases that were running, and a rerun skips every case whose stored
fingerprint (function name, params and the function's source code) is
unchanged; an empty, truncated or wrongly shaped record is rerun and counted
as such, and ``force`` reruns everything.  A case that raises is
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
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import cloudpickle
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from gridgames.benchmarks.machine import machine_description
from gridgames.benchmarks.suite import ROW_FIELDS, BenchmarkError, Case, row_tolerance
from gridgames.benchmarks.tolerance import check_row
from gridgames.io import check_output_dir, describe_os_error
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


@functools.lru_cache(maxsize=None)
def _code_digest(func: Callable[..., Any]) -> str:
    """Hash of the source of the module defining a case function — the function and every helper
    beside it — or of the function alone when the module's source cannot be read (its qualified
    name when neither can)."""
    try:
        text = inspect.getsource(inspect.getmodule(func) or func)
    except (OSError, TypeError):
        try:
            text = inspect.getsource(func)
        except (OSError, TypeError):
            text = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', repr(func))}"
    return hashlib.sha256(text.encode()).hexdigest()


def case_fingerprint(case: Case) -> str:
    """What a stored record must match to be reused: the case's function name and params
    (``Case.fingerprint``) and the source of the case's module (an edit of a case function or of a
    helper in its ``cases_<family>.py`` reruns the family; an edit of the engine does not — use
    ``--force``)."""
    text = f"{case.fingerprint}:{_code_digest(case.func)}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
        "fingerprint": case_fingerprint(case), "outcome": "failed" if error else "ok",
        "error": error, "traceback": trace, "elapsed": time.perf_counter() - t0,
        "started": started.isoformat(timespec="seconds"),
        "worker": f"{socket.gethostname()}:{os.getpid()}", "row": _jsonable(row),
    }


def execute_pickled_case(payload: bytes) -> dict:
    """:func:`execute_case` on a case pickled by cloudpickle in the submitting process.

    Dask would pickle a case function *by reference* when it can, and a worker
    that cannot import the function's module (a ``--module`` file outside the
    package) would then fail to deserialise the task, outside any case. Pickled
    here, a file's module travels by value (``load_case_module`` registers it),
    and a case that still cannot be unpickled fails as its own record.
    """
    try:
        case = cloudpickle.loads(payload)
    except Exception as exc:  # noqa: BLE001 — a case this worker cannot rebuild is a failed case
        return {"family": "?", "case": "?", "params": {}, "fingerprint": "", "outcome": "failed",
                "error": f"the worker cannot rebuild the case: {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=-6), "elapsed": None, "started": None,
                "worker": f"{socket.gethostname()}:{os.getpid()}", "row": {}}
    return execute_case(case)


def case_path(out: Path, case: Case) -> Path:
    """Where a case's record is stored."""
    return out / "cases" / case.family / f"{case.name}.json"


#: Keys every stored case record has, all strings.
RECORD_KEYS = ("family", "case", "outcome", "fingerprint")


def record_problem(record: Any) -> str | None:
    """Why ``record`` is not a case record of this suite (None when it is one)."""
    if not isinstance(record, dict):
        return f"holds a JSON {type(record).__name__}, not a case record (an object)"
    missing = [k for k in RECORD_KEYS if k not in record]
    if missing:
        return f"not a case record: no {', '.join(repr(k) for k in missing)}"
    wrong = [k for k in RECORD_KEYS if not isinstance(record[k], str)]
    if wrong:
        return f"not a case record: {', '.join(repr(k) for k in wrong)} not a string"
    if record["outcome"] not in ("ok", "failed"):
        return f"unknown outcome {record['outcome']!r} (expected 'ok' or 'failed')"
    if not isinstance(record.get("row") or {}, dict):
        return f"'row' is a {type(record['row']).__name__}, not an object"
    return None


def load_record(path: Path) -> tuple[dict | None, str | None]:
    """A stored record and None, or None and why it cannot be used (missing, unreadable, truncated, wrong shape)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, "missing"
    except (OSError, UnicodeDecodeError) as exc:
        reason = describe_os_error(exc) if isinstance(exc, OSError) else "not UTF-8 text"
        return None, f"unreadable ({reason})"
    if not text.strip():
        return None, "empty file"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON, truncated? ({exc.msg}: line {exc.lineno}, column {exc.colno})"
    problem = record_problem(record)
    return (None, problem) if problem else (record, None)


def read_record(path: Path) -> dict | None:
    """A stored record, or None when missing, unreadable or not a case record (then the case is rerun)."""
    return load_record(path)[0]


def write_record(out: Path, case: Case, record: dict) -> Path:
    """Store ``record`` atomically, with the tolerance its family declares for the row's method."""
    tolerance = row_tolerance(case.family, (record.get("row") or {}).get("method"))
    record["tolerance"] = tolerance.to_dict() if tolerance is not None else None
    path = case_path(out, case)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True))
    return path


def pending_reasons(cases: Iterable[Case], out: Path, *, retry_failed: bool = False,
                    force: bool = False) -> dict[str, str]:
    """Why each case without a current stored result must run, by case key.

    Reasons: ``new``, ``forced``, ``stale`` (params or code changed),
    ``failed`` (retried), or the unusable record's problem (``unreadable``,
    ``truncated``, ``wrong shape`` ...).
    """
    todo: dict[str, str] = {}
    for case in cases:
        if force:
            todo[case.key] = "forced"
            continue
        record, problem = load_record(case_path(out, case))
        if record is not None and (record["family"], record["case"]) != (case.family, case.name):
            record, problem = None, f"holds case {record['family']}/{record['case']}"
        if record is None:
            todo[case.key] = "new" if problem == "missing" else f"bad record: {problem}"
        elif record["fingerprint"] != case_fingerprint(case):
            todo[case.key] = "stale"
        elif retry_failed and record["outcome"] != "ok":
            todo[case.key] = "failed"
    return todo


def pending_cases(cases: Iterable[Case], out: Path, *, retry_failed: bool = False,
                  force: bool = False) -> list[Case]:
    """Cases without a current stored result (fingerprint changed, missing or unusable, failed and retried)."""
    cases = list(cases)
    reasons = pending_reasons(cases, out, retry_failed=retry_failed, force=force)
    return [c for c in cases if c.key in reasons]


@dataclass
class SuiteRun:
    """What one call of :func:`run_suite` did."""

    selected: int
    skipped: int
    ran: int
    failed: int
    wall_time: float
    out: Path
    #: why the cases that ran had to: counts by reason (new, stale, bad record: ..., failed, forced)
    reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        why = "; ".join(f"{n} {reason}" for reason, n in sorted(self.reasons.items()))
        return (f"{self.selected} cases: {self.skipped} already done, {self.ran} ran "
                f"({self.failed} failed) in {self.wall_time:.1f} s"
                + (f" [ran because: {why}]" if why else "") + f"; results in {self.out}")


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
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT)
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
            future = client.submit(execute_pickled_case, cloudpickle.dumps(case), pure=False, key=f"case-{case.family}-{case.name}-"
                                   f"{case.fingerprint}-{time.time_ns()}")
            by_key[future.key] = case
            futures.append(future)
        for future in as_completed(futures):
            case = by_key[future.key]
            try:
                record = future.result()
                if record.get("family") == "?":  # the worker could not rebuild the case: name it here
                    record.update(family=case.family, case=case.name, params=case.params,
                                  fingerprint=case_fingerprint(case))
            except Exception as exc:  # noqa: BLE001 — a lost worker fails only its case
                record = {"family": case.family, "case": case.name, "params": case.params,
                          "fingerprint": case_fingerprint(case), "outcome": "failed",
                          "error": f"worker failure: {type(exc).__name__}: {exc}", "traceback": None,
                          "elapsed": None, "started": None, "worker": None, "row": {}}
            write_record(out, case, record)
            progress.finished(record)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


SCHEDULER_TIMEOUT = 10  # seconds to connect to a remote Dask scheduler (dask's default is 30)


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Refuse a ``tcp://host:port`` Dask scheduler that does not answer, in seconds, before any work.

    Other protocols (``tls://``, ``ucx://``, ``inproc://``) are left to Dask.

    Raises
    ------
    BenchmarkError
        The address is malformed or nothing listens there.
    """
    protocol, sep, rest = address.rpartition("://")
    if sep and protocol != "tcp":
        return
    host, colon, port = rest.rpartition(":")
    if not colon or not port.isdigit() or not host:
        raise BenchmarkError(f"scheduler {address!r}: expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = "no answer" if isinstance(exc, TimeoutError) else describe_os_error(exc)
        raise BenchmarkError(f"cannot reach the Dask scheduler at {address}: {reason}; "
                             "is `dask scheduler` running there?") from None


def run_suite(cases: list[Case], out: str | Path, *, workers: int = 2, scheduler: str | None = None,
              retry_failed: bool = False, progress: bool = True, force: bool = False) -> SuiteRun:
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
    force : bool
        Rerun every case, current or not.

    Returns
    -------
    SuiteRun

    Raises
    ------
    BenchmarkError
        Negative ``workers``, or an unreachable ``scheduler``.
    OutputError
        ``out`` cannot be created or written (checked before any case runs).
    """
    if workers < 0:
        raise BenchmarkError(f"workers must be >= 0, got {workers}")
    if scheduler:
        check_scheduler(scheduler)
    out = check_output_dir(out, option="results folder")
    atomic_write_text(out / "machine.json", json.dumps(machine_description(), indent=1))
    reasons = pending_reasons(cases, out, retry_failed=retry_failed, force=force)
    todo = [c for c in cases if c.key in reasons]
    for key, reason in reasons.items():
        if reason.startswith("bad record"):
            logger.warning("%s: stored result unusable (%s): rerunning", key, reason.removeprefix("bad record: "))
    counts: dict[str, int] = {}
    for reason in reasons.values():
        label = "bad record" if reason.startswith("bad record") else reason
        counts[label] = counts.get(label, 0) + 1
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
                    wall_time=time.perf_counter() - t0, out=out, reasons=counts)


@dataclass
class StoredResults:
    """The usable case records under a results folder, and the files that were not."""

    records: list[dict]
    #: (file, why it was skipped)
    skipped: list[tuple[Path, str]]


def scan_results(out: str | Path) -> StoredResults:
    """Every ``cases/<family>/<case>.json`` under ``out``: records, and skipped files with reasons."""
    records, skipped = [], []
    for path in sorted(Path(out).glob("cases/*/*.json")):
        record, problem = load_record(path)
        if record is not None and (record["family"], record["case"]) != (path.parent.name, path.stem):
            record, problem = None, f"holds case {record['family']}/{record['case']}, not the one its path names"
        if record is None:
            skipped.append((path, problem or "unusable"))
        else:
            records.append(record)
    return StoredResults(records, skipped)


def records_frame(records: list[dict]) -> pd.DataFrame:
    """Case records as one table: identity, outcome, then the row's columns."""
    rows = []
    for record in records:
        row = {"family": record["family"], "case": record["case"], "outcome": record["outcome"],
               "error": record.get("error"), "elapsed": record.get("elapsed")}
        row.update({k: None for k in ROW_FIELDS})
        row.update(record.get("row") or {})
        row["check"] = (check_row(record.get("row") or {}, record.get("tolerance")) if record["outcome"] == "ok"
                        else "fail: the case raised")
        rows.append(row)
    columns = ["family", "case", "outcome", *ROW_FIELDS, "check", "elapsed", "error"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    extras = [c for c in frame.columns if c not in columns]
    return frame[columns + extras]


def results_frame(out: str | Path) -> pd.DataFrame:
    """All usable stored records under ``out`` as one table (see :func:`scan_results` for the skipped ones)."""
    return records_frame(scan_results(out).records)
