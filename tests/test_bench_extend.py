"""The benchmark suite as researchers extend it: outside families (``--module``), tolerances with a
pass/fail column, code-aware fingerprints, what ``machine.json`` records, chained default folders."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gridgames.benchmarks.machine import machine_description
from gridgames.benchmarks.report import build_report
from gridgames.benchmarks.runner import case_path, results_frame, run_suite
from gridgames.benchmarks.suite import BenchmarkError, all_cases, case_family, load_case_module
from gridgames.benchmarks.tolerance import EXACT, HEURISTIC, LOCAL, REPORTED, Tolerance, check_row

#: a family kept outside the package: closed-form squares, one row deliberately off its reference
OUTSIDE = '''
from gridgames.benchmarks.suite import Case, case_family
from gridgames.benchmarks.tolerance import EXACT, HEURISTIC

OFFSET = {offset}


def run_square(*, n: int, method: str) -> dict:
    value = float(n * n) + (OFFSET if method == "guess" else 0.0)
    return {{"method": method, "size": n, "objective": value, "reference": float(n * n),
            "leader_gap": abs(value - n * n) / (n * n), "eq_gap": 0.0,
            "status": "feasible" if method == "guess" else "optimal"}}


@case_family("{family}", tolerance={{"guess": HEURISTIC, "*": EXACT}})
def squares() -> list:
    return [Case("{family}", f"n{{n}}-{{m}}", run_square, {{"n": n, "method": m}}, smoke=n == 2)
            for n in (2, 3) for m in ("exact", "guess")]
'''


def _write_family(path: Path, family: str, offset: float) -> Path:
    path.write_text(textwrap.dedent(OUTSIDE.format(family=family, offset=offset)), encoding="utf-8")
    return path


@pytest.mark.parametrize(("row", "tolerance", "verdict"), [
    ({"status": "optimal", "leader_gap": 5e-7, "eq_gap": 1e-9}, EXACT, "pass"),
    ({"status": "optimal", "leader_gap": -5e-7}, EXACT, "pass"),                     # sign does not matter
    ({"status": "optimal", "leader_gap": 2e-6}, EXACT, "fail: leader_gap 2e-06 > 1e-06"),
    ({"status": "optimal", "leader_gap": 0.0, "eq_gap": 3e-5}, EXACT, "fail: eq_gap 3e-05 > 1e-05"),
    ({"status": "time_limit", "leader_gap": 0.0}, EXACT, "fail: status time_limit (allowed: optimal)"),
    ({"status": "locally_optimal", "leader_gap": 0.07}, LOCAL, "miss: leader_gap 0.07 > 1e-06"),
    ({"status": "feasible", "leader_gap": 2e-4, "eq_gap": 0.0}, HEURISTIC, "pass"),
    ({"status": "ok", "leader_gap": 3.3}, REPORTED, "pass"),
    ({"status": "optimal", "leader_gap": None, "eq_gap": float("nan")}, EXACT, "pass"),  # nothing to judge
    ({"status": "optimal", "leader_gap": 1.0}, None, "-"),
])
def test_check_row_verdicts(row, tolerance, verdict):
    assert check_row(row, tolerance) == verdict


def test_tolerance_round_trips_through_a_record():
    tol = Tolerance(objective=1e-3, eq_gap=None, statuses=("ok", "feasible"), guaranteed=False)
    assert Tolerance.from_dict(json.loads(json.dumps(tol.to_dict()))) == tol


def test_family_declares_bad_tolerance_clearly():
    with pytest.raises(BenchmarkError, match="tolerance must be a Tolerance"):
        case_family("bad-tolerance", tolerance=1e-6)


def test_every_package_family_declares_tolerances():
    from gridgames.benchmarks.suite import row_tolerance
    for case in all_cases("smoke"):
        assert row_tolerance(case.family, "any-method") is not None, case.family


def test_outside_module_runs_checks_and_reports(tmp_path):
    module = _write_family(tmp_path / "my_cases.py", "outside-squares", offset=0.5)
    load_case_module(module)
    cases = all_cases("full", "outside-squares/*")
    assert len(cases) == 4
    run_suite(cases, tmp_path / "out", workers=0, progress=False)
    frame = results_frame(tmp_path / "out").set_index("case")
    assert frame.loc["n2-exact", "check"] == "pass"
    assert frame.loc["n2-guess", "check"].startswith("miss: leader_gap 0.125")   # a heuristic off by 12.5 %
    outcome = build_report(tmp_path / "out")
    text = outcome.path.read_text()
    assert "| check |" in text and "2 pass, 0 fail, 2 miss" in text
    assert outcome.check_failures == [] and outcome.misses == 2


def test_editing_a_helper_in_the_case_module_reruns_the_family(tmp_path):
    module = _write_family(tmp_path / "edit_cases.py", "edited-squares", offset=0.0)
    load_case_module(module)
    cases = all_cases("full", "edited-squares/*")
    out = tmp_path / "out"
    assert run_suite(cases, out, workers=0, progress=False).ran == 4
    assert run_suite(cases, out, workers=0, progress=False).ran == 0
    _write_family(module, "edited-squares", offset=1.0)                  # same functions, a changed constant
    load_case_module(module)
    again = run_suite(all_cases("full", "edited-squares/*"), out, workers=0, progress=False)
    assert again.ran == 4 and again.reasons == {"stale": 4}
    assert json.loads(case_path(out, cases[1]).read_text())["row"]["objective"] == 5.0   # n2-guess: 4 + 1


def test_bad_module_errors_name_the_cause(tmp_path):
    with pytest.raises(BenchmarkError, match="no such file"):
        load_case_module(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("import nosuchpackage_xyz\n", encoding="utf-8")
    with pytest.raises(BenchmarkError, match="failed to import: ModuleNotFoundError"):
        load_case_module(broken)
    empty = tmp_path / "empty_cases.py"
    empty.write_text("X = 1\n", encoding="utf-8")
    with pytest.raises(BenchmarkError, match="declares no case family"):
        load_case_module(empty)


def test_machine_json_has_versions_and_commit():
    machine = machine_description()
    assert machine["packages"]["pyomo"] and machine["packages"]["numpy"]
    assert machine["packages"]["gridgames"]
    commit = machine["commit"]
    assert commit is None or len(commit.split("+")[0]) == 40


@pytest.mark.slow
def test_cli_module_on_dask_workers_then_report_chains(tmp_path):
    """``bench --module FILE`` on a 2-process Dask cluster (the file's module travels by value), a
    guaranteed method's miss makes the exit status 1, and ``report`` on the default folder works."""
    module = _write_family(tmp_path / "cli_cases.py", "cli-squares", offset=0.0)
    exe = [sys.executable, "-m", "gridgames"]
    run = subprocess.run([*exe, "bench", "--module", str(module), "--suite", "smoke", "--cases", "cli-squares/*",
                          "--workers", "2", "--no-progress"], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "results" / "bench-smoke"                        # the default folder of --suite smoke
    assert len(list(out.glob("cases/cli-squares/*.json"))) == 2
    report = subprocess.run([*exe, "report", str(out)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    machine = json.loads((out / "machine.json").read_text())
    assert "packages" in machine and "commit" in machine
    # the same family with the 'exact' method off its reference: a fail, exit status 1
    (tmp_path / "cli_cases.py").write_text(
        (tmp_path / "cli_cases.py").read_text().replace('0.0 if method == "guess" else 0.0', "0.0")
        .replace('(OFFSET if method == "guess" else 0.0)', "1.0"), encoding="utf-8")
    bad = subprocess.run([*exe, "bench", "--module", str(module), "--suite", "smoke", "--cases", "cli-squares/*",
                          "--workers", "0", "--no-progress"], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert bad.returncode == 1
    assert "outside their family's tolerance" in bad.stderr and "cli-squares/n2-exact: fail" in bad.stderr
