"""Turn a results folder of the benchmark suite into ``report.md`` with tables and plots.

One section per case family: a table of every case (method, solver, size,
status, gap to the reference, equilibrium/follower gap, times, evaluation
counts), the failures with their errors, and PNG plots where the rows allow:

* time vs size per method (log-log) when a family has several sizes;
* gap to the reference vs wall time (log-log) when rows have a ``leader_gap``;
* convergence (``history``: a list of gap or objective values per iteration);
* Pareto fronts (``pareto_front``: a list of objective pairs).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gridgames.benchmarks.runner import records_frame, scan_results
from gridgames.benchmarks.suite import BenchmarkError
from gridgames.io import OutputError, check_output_dir
from gridgames.models.report import atomic_write_text
from gridgames.plotting import pyplot, save_figure

TABLE_COLUMNS = ("case", "method", "solver", "size", "status", "check", "objective", "reference", "leader_gap",
                 "eq_gap", "wall_time", "upper_evals", "lower_evals")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if value == 0:
            return "0"
        return f"{value:.3g}" if abs(value) < 1e-3 or abs(value) >= 1e5 else f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _natural_key(text: str) -> list:
    """``t24`` before ``t168``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(text))]


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce") if column in frame else pd.Series(dtype=float)


def _plot_time_vs_size(family: str, frame: pd.DataFrame, figures: Path) -> Path | None:
    size, wall = _numeric(frame, "size"), _numeric(frame, "wall_time")
    ok = size.notna() & wall.notna() & (size > 0) & (wall > 0)
    sizes_per_method = frame[ok].assign(_s=size[ok]).groupby("method", dropna=False)["_s"].nunique()
    if sizes_per_method.empty or sizes_per_method.max() < 2:
        return None
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for method, group in frame[ok].assign(_s=size[ok], _w=wall[ok]).groupby("method", dropna=False):
        group = group.groupby("_s")["_w"].median()
        ax.loglog(group.index, group.values, "o-", label=str(method))
    ax.set(xlabel="size", ylabel="wall time (s)", title=f"{family}: time vs size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, figures / f"{family}-time-vs-size.png")


def _plot_gap_vs_time(family: str, frame: pd.DataFrame, figures: Path) -> Path | None:
    gap, wall = _numeric(frame, "leader_gap"), _numeric(frame, "wall_time")
    ok = gap.notna() & wall.notna() & (wall > 0)
    if ok.sum() < 2:
        return None
    floor = 1e-16
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for method, group in frame[ok].assign(_g=gap[ok].abs().clip(lower=floor), _w=wall[ok]).groupby(
            "method", dropna=False):
        ax.scatter(group["_w"], group["_g"], label=str(method), s=18)
    ax.set(xscale="log", yscale="log", xlabel="wall time (s)", ylabel="relative gap to reference",
           title=f"{family}: gap vs time (gaps below {floor:g} drawn at {floor:g})")
    ax.grid(True, which="both", alpha=0.3)
    ax.margins(0.08)   # markers at the extremes stay whole
    ax.legend(fontsize=8)
    return _save(fig, figures / f"{family}-gap-vs-time.png")


def _plot_series(family: str, records: list[dict], key: str, figures: Path) -> Path | None:
    series = [(r["case"], r["row"][key]) for r in records if isinstance((r.get("row") or {}).get(key), list)
              and r["row"][key]]
    if not series:
        return None
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for name, values in series[:12]:
        if key == "pareto_front":
            pts = np.asarray(values, dtype=float)
            if pts.ndim == 2 and pts.shape[1] >= 2:
                ax.scatter(pts[:, 0], pts[:, 1], s=10, label=name)
        else:
            vals = np.abs(np.asarray(values, dtype=float))
            ax.semilogy(np.arange(1, len(vals) + 1), np.maximum(vals, 1e-16), label=name)
    if key == "pareto_front":
        ax.set(xlabel="objective 1", ylabel="objective 2", title=f"{family}: Pareto fronts")
    else:
        ax.set(xlabel="iteration", ylabel="|value|", title=f"{family}: convergence")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
    return _save(fig, figures / f"{family}-{'pareto' if key == 'pareto_front' else 'convergence'}.png")


def _save(fig, path: Path) -> Path:
    return save_figure(fig, path)


def _by_family(records: list[dict]) -> dict[str, list[dict]]:
    by_family: dict[str, list[dict]] = {}
    for record in records:
        by_family.setdefault(record["family"], []).append(record)
    return by_family


def _machine(results: Path) -> dict:
    try:
        machine = json.loads((results / "machine.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return machine if isinstance(machine, dict) else {}


@dataclass
class ReportOutcome:
    """What :func:`build_report` wrote and what it had to leave out."""

    path: Path
    cases: int
    ok: int
    failed: int
    #: (case file, why it was skipped)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    #: ``family/case: fail: why`` for every row outside a tolerance its method guarantees
    check_failures: list[str] = field(default_factory=list)
    #: rows outside the tolerance of a local or heuristic method (reported, not failures)
    misses: int = 0

    def summary(self) -> str:
        text = f"{self.cases} cases: {self.ok} ok, {self.failed} failed"
        if self.check_failures:
            text += f"; {len(self.check_failures)} outside their family's tolerance:"
            text += "".join(f"\n  {line}" for line in self.check_failures)
        if self.skipped:
            text += f"; {len(self.skipped)} case file(s) SKIPPED (not in the tables):"
            text += "".join(f"\n  {path}: {why}" for path, why in self.skipped)
        return text


def write_report(results_dir: str | Path, markdown: str | Path | None = None, *,
                 title: str = "gridgames benchmark results") -> Path:
    """Write ``report.md`` (and ``figures/*.png``) for a results folder; its path.

    See :func:`build_report` (which also says what was skipped).
    """
    return build_report(results_dir, markdown, title=title).path


def build_report(results_dir: str | Path, markdown: str | Path | None = None, *,
                 title: str = "gridgames benchmark results") -> ReportOutcome:
    """Write ``report.md`` (and ``figures/*.png``) for a results folder.

    Case files that cannot be used (unreadable, empty, truncated, not a case
    record) are listed in the report and in the outcome, never dropped
    silently.

    Parameters
    ----------
    results_dir : path
        A folder written by :func:`gridgames.benchmarks.runner.run_suite`.
    markdown : path, optional
        Where to write the markdown (default ``results_dir/report.md``); the
        figures go to a ``figures/`` folder beside it.
    title : str
        First heading.

    Returns
    -------
    ReportOutcome
        The markdown file, counts, and the skipped case files with reasons.

    Raises
    ------
    BenchmarkError
        The folder does not exist or holds no usable case results.
    OutputError
        The markdown's folder cannot be written (checked before any work).
    """
    results = Path(results_dir)
    if not results.is_dir():
        raise BenchmarkError(f"{results}: no case results: no such folder "
                             f"(run `gridgames bench --out {results}` first)")
    target = Path(markdown) if markdown else results / "report.md"
    try:
        check_output_dir(target.parent, option="--markdown folder" if markdown else "results folder")
    except OutputError as exc:
        raise OutputError(f"{exc}; write the report elsewhere with --markdown PATH" if not markdown
                          else str(exc)) from None
    stored = scan_results(results)
    frame = records_frame(stored.records)
    if frame.empty:
        skipped = "".join(f"; skipped {p.name}: {why}" for p, why in stored.skipped[:5])
        raise BenchmarkError(f"{results}: no usable case results (expected cases/<family>/<case>.json; "
                             f"run `gridgames bench --out` first){skipped}")
    figures = target.parent / "figures"
    if figures.exists() and markdown:
        shutil.rmtree(figures)
    machine = _machine(results)
    records = _by_family(stored.records)
    ok = int((frame["outcome"] == "ok").sum())
    lines = [f"# {title}", "",
             f"Written {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC from `{results}`: "
             f"{len(frame)} cases, {ok} ok, {len(frame) - ok} failed"
             + (f", {len(stored.skipped)} case files skipped (listed at the end)" if stored.skipped else "")
             + ".", ""]
    checks = frame["check"].astype(str)
    failures = [f"{r.family}/{r.case}: {r.check}" for r in frame[checks.str.startswith("fail")].itertuples()]
    lines += [f"Checks against each family's tolerance: {int((checks == 'pass').sum())} pass, "
              f"{len(failures)} fail, {int(checks.str.startswith('miss').sum())} miss (a local or heuristic "
              f"method outside the tolerance), {int((checks == '-').sum())} not judged.", ""]
    lines += _machine_lines(machine)
    lines += ["Columns: `check` = the row against its family's tolerance (`pass`; `fail`: a method that "
              "guarantees the reference missed it or its status is wrong; `miss`: a local or heuristic method "
              "outside it; `-`: no tolerance declared); `leader_gap` = relative gap of the objective to the "
              "reference (closed form, second solver, known optimum or scipy baseline, per family); `eq_gap` = "
              "the equilibrium's `nash_gap` or the followers' optimality gap from `verify()`; times in seconds.",
              ""]
    for family, group in frame.groupby("family", sort=True):
        group = group.iloc[sorted(range(len(group)), key=lambda i: _natural_key(group["case"].iloc[i]))]
        lines += [f"## {family}", ""]
        done = group[group["outcome"] == "ok"]
        if not done.empty:
            cols = [c for c in TABLE_COLUMNS if c in done and done[c].notna().any()]
            lines += [markdown_table(done[cols]), ""]
        failed = group[group["outcome"] != "ok"]
        if not failed.empty:
            lines += ["Failed cases:", ""] + [f"- `{r.case}`: {r.error}" for r in failed.itertuples()] + [""]
        plots = [_plot_time_vs_size(family, done, figures), _plot_gap_vs_time(family, done, figures),
                 _plot_series(family, records.get(family, []), "history", figures),
                 _plot_series(family, records.get(family, []), "pareto_front", figures)]
        for plot in plots:
            if plot is not None:
                lines += [f"![{plot.stem}]({plot.relative_to(target.parent).as_posix()})", ""]
    if stored.skipped:
        lines += ["## Skipped case files", "", "Not in the tables above: rerun `gridgames bench` on this folder "
                  "to recompute them.", ""]
        lines += [f"- `{path.relative_to(results).as_posix()}`: {why}" for path, why in stored.skipped] + [""]
    atomic_write_text(target, "\n".join(lines))
    return ReportOutcome(target, len(frame), ok, len(frame) - ok, stored.skipped, failures,
                         int(checks.str.startswith("miss").sum()))


def _machine_lines(machine: dict) -> list[str]:
    """The machine, the package versions and the source commit a results folder was made with."""
    if not machine:
        return []
    lines = [f"Machine: {machine.get('cpus')} CPUs, {machine.get('memory_gib')} GiB, {machine.get('processor')}, "
             f"Python {machine.get('python')}, {machine.get('platform')}."]
    packages = machine.get("packages")
    if isinstance(packages, dict) and packages:
        lines.append("Packages: " + ", ".join(f"{name} {version}" for name, version in packages.items()
                                              if version) + ".")
    if "commit" in machine:
        lines.append(f"Source: commit {machine['commit']}." if machine["commit"]
                     else "Source: not a git checkout (an installed package).")
    return [" ".join(lines), ""]

