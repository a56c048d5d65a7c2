"""The benchmark suite: case registry, Dask vs local equality, kill-and-resume, report."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gridgames.benchmarks.report import write_report
from gridgames.benchmarks.runner import case_path, execute_case, results_frame, run_suite
from gridgames.benchmarks.suite import BenchmarkError, Case, all_cases

#: cheap, deterministic cases (the GA is seeded)
PATTERN = ("engine/pricing-t24-k1-analytic-smoke,engine/pricing-t24-k1-kkt-smoke,"
           "engine/pricing-t24-k1-nested-smoke,instances/dispatch_small-highs")


def _explode(*, message: str) -> dict:
    raise ValueError(message)


def test_smoke_suite_covers_every_family_and_keys_are_unique():
    smoke = all_cases("smoke")
    full = all_cases("full")
    assert {c.family for c in smoke} == {c.family for c in full}
    assert len({c.key for c in full}) == len(full)
    assert all(c.smoke for c in smoke)


def test_bad_selections_are_clear_errors():
    with pytest.raises(BenchmarkError, match="unknown suite"):
        all_cases("nightly")
    with pytest.raises(BenchmarkError, match="no smoke case matches"):
        all_cases("smoke", "nosuchfamily/*")
    with pytest.raises(BenchmarkError, match="must match"):
        Case("engine", "Bad Name", _explode, {})
    with pytest.raises(BenchmarkError, match="JSON-serialisable"):
        Case("engine", "x", _explode, {"a": object()})


def test_failed_case_is_recorded_and_the_suite_goes_on(tmp_path):
    bad = Case("engine", "explodes", _explode, {"message": "planted failure"})
    good = all_cases("smoke", "engine/pricing-t24-k1-analytic-smoke")
    outcome = run_suite([bad, *good], tmp_path, workers=0, progress=False)
    assert (outcome.ran, outcome.failed) == (2, 1)
    record = json.loads(case_path(tmp_path, bad).read_text())
    assert record["outcome"] == "failed" and "planted failure" in record["error"]
    assert json.loads(case_path(tmp_path, good[0]).read_text())["outcome"] == "ok"
    # an identical rerun recomputes nothing; --retry-failed reruns only the failure
    assert run_suite([bad, *good], tmp_path, workers=0, progress=False).ran == 0
    assert run_suite([bad, *good], tmp_path, workers=0, progress=False, retry_failed=True).ran == 1


def test_changed_params_make_a_stored_result_stale(tmp_path):
    case = Case("engine", "explodes", _explode, {"message": "a"})
    run_suite([case], tmp_path, workers=0, progress=False)
    changed = Case("engine", "explodes", _explode, {"message": "b"})
    assert run_suite([changed], tmp_path, workers=0, progress=False).ran == 1
    assert "b" in json.loads(case_path(tmp_path, changed).read_text())["error"]


@pytest.mark.slow
def test_two_worker_local_cluster_equals_local_run(tmp_path):
    cases = all_cases("smoke", PATTERN)
    run_suite(cases, tmp_path / "local", workers=0, progress=False)
    outcome = run_suite(cases, tmp_path / "dask", workers=2, progress=False)
    assert (outcome.ran, outcome.failed) == (len(cases), 0)
    local = results_frame(tmp_path / "local").set_index(["family", "case"]).sort_index()
    dask = results_frame(tmp_path / "dask").set_index(["family", "case"]).sort_index()
    assert list(local.index) == list(dask.index)
    for column in ("objective", "reference", "upper_evals", "lower_evals"):
        np.testing.assert_allclose(dask[column].astype(float), local[column].astype(float), rtol=1e-7)
    assert (dask["status"] == local["status"]).all()
    workers = {json.loads(p.read_text())["worker"] for p in (tmp_path / "dask").glob("cases/*/*.json")}
    assert str(os.getpid()) not in {w.split(":")[-1] for w in workers}  # really ran elsewhere


@pytest.mark.slow
def test_killed_run_resumes_without_recomputing(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "gridgames", "bench", "--suite", "smoke", "--cases", PATTERN,
               "--workers", "0", "--no-progress", "--out", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("cases/*/*.json"))) < 1:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = {p: p.read_text() for p in out.glob("cases/*/*.json")}
    n_cases = len(all_cases("smoke", PATTERN))
    assert first, "no case finished within 120 s, so the kill left nothing to resume from"
    assert len(first) < n_cases, "the kill landed after the last case, so nothing was left to resume"
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(first)} already done, {n_cases - len(first)} ran" in done.stdout
    for path, text in first.items():  # the cases done before the kill were not recomputed
        assert path.read_text() == text
    assert len(list(out.glob("cases/*/*.json"))) == n_cases


def test_report_has_a_table_per_family_and_plots(tmp_path):
    cases = all_cases("smoke", "engine/pricing-t24-k1-analytic-smoke,engine/pricing-t24-k1-kkt-smoke")
    run_suite(cases, tmp_path, workers=0, progress=False)
    record = execute_case(cases[0])
    # the analytic method and the closed form sum the same revenue in different orders
    assert record["outcome"] == "ok" and record["row"]["leader_gap"] <= 1e-12
    target = write_report(tmp_path, tmp_path / "pub" / "RESULTS.md")
    text = target.read_text()
    assert "## engine" in text and "pricing-t24-k1-kkt-smoke" in text
    assert "Machine: " in text
    for link in [line[line.index("(") + 1:-1] for line in text.splitlines() if line.startswith("![")]:
        assert (target.parent / link).is_file()
    with pytest.raises(BenchmarkError, match="no case results"):
        write_report(tmp_path / "empty")
