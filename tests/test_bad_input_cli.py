"""Reliability campaign, CLI boundary and stored results: bad --out, dead schedulers, broken pipes,
damaged case files.

Each case asserts the exit code (or exception type), that no traceback reaches
stderr, and that the message names the option or the cause.  Most run the CLI
in-process (``gridgames.cli.main``); two run the installed console script.
Module-level imports use only names that existed before the campaign.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridgames.benchmarks.runner import case_path, run_suite
from gridgames.benchmarks.suite import BenchmarkError, Case
from gridgames.cli import main

GRIDGAMES = str(Path(sys.executable).with_name("gridgames"))


def square(*, n: int) -> dict:
    """A benchmark case of known answer: n^2."""
    return {"method": "closed form", "size": n, "objective": float(n * n), "reference": float(n * n),
            "leader_gap": 0.0, "status": "optimal"}


def cases(n: int = 2) -> list[Case]:
    return [Case("squares", f"n{k}", square, {"n": k}) for k in range(1, n + 1)]


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``gridgames ARGV`` in this process: exit code, stdout, stderr (SystemExit included)."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code not in (0, None), err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (root only): ``mount(size, readonly) -> Path``; unmounted afterwards."""
    mounted: list[Path] = []

    def mount(size: str = "64k", readonly: bool = False) -> Path:
        where = tmp_path / f"mnt{len(mounted)}"
        where.mkdir()
        opts = f"size={size}" + (",ro" if readonly else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot mount a tmpfs here (needs root)")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", str(where)], check=False)


def fill(folder: Path) -> None:
    """Fill the file system holding ``folder``."""
    with open(folder / "ballast", "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 4096)
                handle.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


# ---------------------------------------------------------------------------
# --out: checked (and created) before any work
# ---------------------------------------------------------------------------
def _bad_out(kind: str, tmp_path: Path, tmpfs) -> Path:
    if kind == "existing-file":
        (tmp_path / "taken").write_text("x")
        return tmp_path / "taken"
    if kind == "parent-is-a-file":
        (tmp_path / "taken").write_text("x")
        return tmp_path / "taken" / "out"
    if kind == "proc":
        return Path("/proc/gridgames-out")
    if kind == "read-only-mount":
        return tmpfs(readonly=True) / "out"
    if kind == "read-only-mount-root":
        return tmpfs(readonly=True)
    if kind == "full-disk":
        where = tmpfs("64k")
        fill(where)
        return where / "out"
    if kind == "no-permission":
        if os.geteuid() == 0:
            pytest.skip("root ignores folder permissions")
        (tmp_path / "locked").mkdir(mode=0o555)
        return tmp_path / "locked" / "out"
    raise AssertionError(kind)


BAD_OUT = ["existing-file", "parent-is-a-file", "proc", "read-only-mount", "read-only-mount-root",
           "full-disk", "no-permission"]
CAUSES = {"existing-file": "existing file", "parent-is-a-file": "is a file", "proc": "cannot create",
          "read-only-mount": "read-only", "read-only-mount-root": "read-only", "full-disk": "no space",
          "no-permission": "ermission"}


@pytest.mark.parametrize("kind", BAD_OUT)
def test_bench_bad_out_is_one_line_before_any_work(kind, tmp_path, tmpfs, capsys):
    out = _bad_out(kind, tmp_path, tmpfs)
    code, stdout, err = run_cli(["bench", "--suite", "smoke", "--cases", "engine/*analytic*", "--workers", "0",
                                 "--no-progress", "--out", str(out)], capsys)
    assert_one_line_error(code, err, "--out", CAUSES[kind])
    assert "cases:" not in stdout  # nothing ran


RUN_COMMANDS = {
    "run": ["run", "instances/dispatch_small.toml", "--solver", "highs"],
    "forecast": ["forecast", "instances/data/eia930_bpat_2019_hourly.csv", "--model", "naive-24"],
}


@pytest.mark.parametrize("command", sorted(RUN_COMMANDS))
@pytest.mark.parametrize("kind", ["existing-file", "parent-is-a-file", "read-only-mount", "full-disk"])
def test_run_and_forecast_refuse_a_bad_out_before_any_work(command, kind, tmp_path, tmpfs, capsys, monkeypatch):
    """Before: the run solved, then raised a traceback when writing (the work was lost)."""
    monkeypatch.chdir(Path(__file__).resolve().parents[1])
    out = _bad_out(kind, tmp_path, tmpfs)
    code, stdout, err = run_cli([*RUN_COMMANDS[command], "--out", str(out)], capsys)
    assert_one_line_error(code, err, "--out", CAUSES[kind])
    assert stdout == ""  # refused before any work: no report printed

@pytest.mark.parametrize("kind", BAD_OUT)
def test_check_output_dir_names_option_and_cause(kind, tmp_path, tmpfs):
    from gridgames.io import OutputError, check_output_dir

    out = _bad_out(kind, tmp_path, tmpfs)
    with pytest.raises(OutputError, match=CAUSES[kind]) as err:
        check_output_dir(out, option="--out")
    assert str(err.value).startswith(f"--out {out}")


def test_check_output_dir_creates_a_missing_folder(tmp_path):
    from gridgames.io import check_output_dir

    out = check_output_dir(tmp_path / "a" / "b")
    assert out.is_dir() and list(out.iterdir()) == []  # the write probe leaves nothing behind


@pytest.mark.parametrize("kind", ["existing-file", "read-only-mount", "full-disk"])
def test_run_suite_checks_its_folder_before_running(kind, tmp_path, tmpfs):
    out = _bad_out(kind, tmp_path, tmpfs)
    with pytest.raises(Exception) as err:
        run_suite(cases(), out, workers=0, progress=False)
    from gridgames.io import OutputError

    assert isinstance(err.value, OutputError), repr(err.value)


# ---------------------------------------------------------------------------
# report: read-only folders, missing folders, damaged case files
# ---------------------------------------------------------------------------
def _results(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    run_suite(cases(2), out, workers=0, progress=False)
    return out


DAMAGED = {
    "list": "[1, 2, 3]",
    "string": '"ok"',
    "number": "42",
    "null": "null",
    "empty-object": "{}",
    "missing-outcome": json.dumps({"family": "squares", "case": "n9", "fingerprint": "x"}),
    "family-not-string": json.dumps({"family": 1, "case": "n9", "outcome": "ok", "fingerprint": "x"}),
    "bad-outcome": json.dumps({"family": "squares", "case": "n9", "outcome": "maybe", "fingerprint": "x"}),
    "row-is-list": json.dumps({"family": "squares", "case": "n9", "outcome": "ok", "fingerprint": "x",
                               "row": [1, 2]}),
    "wrong-path": json.dumps({"family": "squares", "case": "n1", "outcome": "ok", "fingerprint": "x"}),
    "truncated": '{"family": "squares", "case": "n9", "outc',
    "empty-file": "",
    "binary": "\udcff\udcfe\x00\x01",
}
DAMAGE_REASON = {
    "list": "list", "string": "str", "number": "int", "null": "NoneType", "empty-object": "'family'",
    "missing-outcome": "'outcome'", "family-not-string": "not a string", "bad-outcome": "maybe",
    "row-is-list": "'row'", "wrong-path": "path", "truncated": "not valid JSON", "empty-file": "empty",
    "binary": "UTF-8",
}


def _damage(out: Path, kind: str) -> Path:
    path = out / "cases" / "squares" / "n9.json"
    path.write_bytes(DAMAGED[kind].encode("utf-8", "surrogateescape"))
    return path


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_report_lists_damaged_case_files_as_skipped(kind, tmp_path, capsys):
    out = _results(tmp_path)
    _damage(out, kind)
    code, stdout, err = run_cli(["report", str(out)], capsys)
    assert code == 1, (stdout, err)
    assert "Traceback" not in err
    assert "SKIPPED" in err and "n9.json" in err and DAMAGE_REASON[kind] in err, err
    report = (out / "report.md").read_text()
    assert "2 cases, 2 ok, 0 failed, 1 case files skipped" in report
    assert "## Skipped case files" in report and "n9.json" in report


def test_report_with_nothing_skipped_exits_zero(tmp_path, capsys):
    out = _results(tmp_path)
    code, stdout, err = run_cli(["report", str(out)], capsys)
    assert code == 0 and err == ""
    assert "2 cases: 2 ok, 0 failed" in stdout


@pytest.mark.parametrize("kind", ["read-only-mount", "missing"])
def test_report_on_unusable_folder_is_one_line(kind, tmp_path, tmpfs, capsys):
    folder = tmpfs(readonly=True) if kind == "read-only-mount" else tmp_path / "nowhere"
    code, _, err = run_cli(["report", str(folder)], capsys)
    assert_one_line_error(code, err, str(folder))
    assert ("--markdown" in err) == (kind == "read-only-mount")


def test_report_of_a_read_only_results_folder_goes_elsewhere_with_markdown(tmp_path, tmpfs, capsys):
    out = _results(tmp_path)
    code, stdout, err = run_cli(["report", str(out), "--markdown", str(tmp_path / "pub" / "R.md")], capsys)
    assert code == 0 and (tmp_path / "pub" / "R.md").is_file(), err


def test_report_markdown_target_unwritable_is_one_line(tmp_path, capsys):
    out = _results(tmp_path)
    (tmp_path / "file").write_text("x")
    code, _, err = run_cli(["report", str(out), "--markdown", str(tmp_path / "file" / "R.md")], capsys)
    assert_one_line_error(code, err, "--markdown", "existing file")


# ---------------------------------------------------------------------------
# bench: damaged, stale and forced records are rerun and reported as such
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", list(DAMAGED))
def test_bench_reruns_a_damaged_record(kind, tmp_path):
    out = tmp_path / "results"
    run_suite(cases(1), out, workers=0, progress=False)
    path = case_path(out, cases(1)[0])
    path.write_bytes(DAMAGED[kind].encode("utf-8", "surrogateescape"))
    again = run_suite(cases(1), out, workers=0, progress=False)
    assert again.ran == 1 and again.failed == 0
    # a well-formed record of this very case with another fingerprint is stale, not damaged
    reason = "stale" if kind == "wrong-path" else "bad record"
    assert again.reasons == {reason: 1}
    assert reason in again.summary()
    assert json.loads(path.read_text())["row"]["objective"] == 1.0


def test_bench_reruns_when_the_case_code_changes(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    module = package / "gg_campaign_case.py"
    module.write_text("def value(*, n):\n    return {'objective': n}\n")
    monkeypatch.syspath_prepend(str(package))
    mod = importlib.import_module("gg_campaign_case")
    out = tmp_path / "results"
    first = run_suite([Case("code", "c1", mod.value, {"n": 1})], out, workers=0, progress=False)
    assert first.ran == 1
    same = run_suite([Case("code", "c1", mod.value, {"n": 1})], out, workers=0, progress=False)
    assert same.ran == 0
    module.write_text("def value(*, n):\n    return {'objective': 2 * n}\n")
    mod = importlib.reload(mod)
    changed = run_suite([Case("code", "c1", mod.value, {"n": 1})], out, workers=0, progress=False)
    assert changed.ran == 1 and changed.reasons == {"stale": 1}
    record = json.loads(case_path(out, Case("code", "c1", mod.value, {"n": 1})).read_text())
    assert record["row"]["objective"] == 2


def test_bench_force_reruns_everything(tmp_path):
    out = tmp_path / "results"
    run_suite(cases(2), out, workers=0, progress=False)
    forced = run_suite(cases(2), out, workers=0, progress=False, force=True)
    assert forced.ran == 2 and forced.reasons == {"forced": 2}


def test_bench_cli_force_flag(tmp_path, capsys):
    out = tmp_path / "results"
    argv = ["bench", "--suite", "smoke", "--cases", "engine/pricing-t24-k1-analytic-smoke", "--workers", "0",
            "--no-progress", "--out", str(out)]
    assert run_cli(argv, capsys)[0] == 0
    code, stdout, _ = run_cli(argv + ["--force"], capsys)
    assert code == 0 and "1 ran" in stdout and "forced" in stdout


# ---------------------------------------------------------------------------
# Dask scheduler: unreachable or malformed -> one line, fast
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("address,needle", [
    ("tcp://127.0.0.1:1", "cannot reach"), ("127.0.0.1:1", "cannot reach"),
    ("tcp://nonsense", "tcp://HOST:PORT"), ("tcp://:8786", "tcp://HOST:PORT")])
def test_bench_unreachable_scheduler_is_one_line(address, needle, tmp_path, capsys):
    code, stdout, err = run_cli(["bench", "--scheduler", address, "--out", str(tmp_path / "o"),
                                 "--suite", "smoke", "--no-progress"], capsys)
    assert_one_line_error(code, err, needle)
    assert "cases:" not in stdout


def test_run_suite_refuses_an_unreachable_scheduler(tmp_path):
    with pytest.raises(BenchmarkError, match="cannot reach the Dask scheduler"):
        run_suite(cases(), tmp_path / "o", scheduler="tcp://127.0.0.1:1", progress=False)
    assert not (tmp_path / "o").exists()  # checked before any work


# ---------------------------------------------------------------------------
# The entry point's handler: every failure one line, with its exit code
# ---------------------------------------------------------------------------
def _raiser(exc: BaseException):
    def func(args):
        raise exc
    return func


@pytest.mark.parametrize("exc,code,needle", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/out/x.csv"), 1, "no space left"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/out"), 1, "Permission denied: /data/out"),
    (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/x"), 1, "read-only"),
    (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), 1, "cannot connect"),
    (OSError("Timed out trying to connect to tcp://10.0.0.5:8786 after 10 s"), 1, "cannot connect"),
    (TimeoutError("timed out"), 1, "cannot connect"),
])
def test_run_command_turns_environment_failures_into_one_line(exc, code, needle, capsys):
    from gridgames.cli.boundary import run_command

    assert run_command(argparse.Namespace(command="bench", func=_raiser(exc))) == code
    err = capsys.readouterr().err
    assert_one_line_error(code, err, "gridgames bench: error:", needle)


def test_run_command_broken_pipe_and_interrupt(capsys):
    from gridgames.cli.boundary import EXIT_BROKEN_PIPE, run_command

    assert run_command(argparse.Namespace(command="x", func=_raiser(BrokenPipeError()))) == EXIT_BROKEN_PIPE
    assert run_command(argparse.Namespace(command="x", func=_raiser(KeyboardInterrupt()))) == 130
    assert "Traceback" not in capsys.readouterr().err


def test_broken_pipe_into_head_is_quiet():
    done = subprocess.run(f"'{GRIDGAMES}' solvers | head -1", shell=True, capture_output=True, text=True,
                          executable="/bin/bash", timeout=120)
    assert done.stdout.startswith("solver")
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr


def test_console_script_bad_out_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("x")
    done = subprocess.run([GRIDGAMES, "bench", "--suite", "smoke", "--out", str(tmp_path / "taken")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert_one_line_error(done.returncode, done.stderr, "--out", "existing file")
