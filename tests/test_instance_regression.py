"""Every shipped instance gives the same numbers as the stored results.

Each case loads a file of ``instances/``, shrinks what makes it slow (fewer
buyers, GA generations, days or households: the edits are listed per case and
always the same), runs the registered model family exactly as ``gridgames run``
does, and compares every number of every report table (wall and solver times
left out) with ``tests/expected/instances.json``, within a relative tolerance.

The stored file was written before the model families moved into their own
packages, so a pass means the move changed no result.  To rewrite it after an
intended change of results::

    GRIDGAMES_REGEN_RESULTS=1 .venv/bin/python -m pytest tests/test_instance_regression.py
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gridgames.models.instance import Instance, load_instance, registered_models

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"
RESULTS = Path(__file__).resolve().parent / "expected" / "instances.json"
REGEN = bool(os.environ.get("GRIDGAMES_REGEN_RESULTS"))
#: table columns / row labels that measure time, not the answer
TIMING_WORDS = ("time", "wall", "chunks reused", "(s)")


def _set(data: dict, dotted: str, value: Any) -> None:
    *sections, key = dotted.split(".")
    for name in sections:
        data = data.setdefault(name, {})
    data[key] = value


#: instance file -> (edits to its document, extra run options, relative tolerance)
CASES: dict[str, tuple[dict[str, Any], dict[str, Any], float]] = {
    "dispatch_small": ({}, {"solver": "highs"}, 1e-7),
    "stackelberg_bpat": ({}, {}, 1e-7),
    "stackelberg_bpat-days": ({}, {"days": ["2019-06-03", "2019-06-05"], "demand_forecast": "eia"}, 1e-7),
    "tou_community": ({"solve.ga_generations": 4, "solve.ga_pop_size": 8, "solve.comfort_sweep": [100, 400],
                       "solve.risk_sweep": [0.0, 5.0], "solve.sweep_generations": 3, "solve.sweep_pop_size": 6},
                      {}, 1e-6),
    "microgrid_paper": ({"market.buyer_counts": [40, 80], "methods.compare": ["vectorised", "gauss-seidel"],
                         "methods.n_buyers": 6, "forecast": None}, {}, 1e-5),
    "rtp_household": ({"data.forecaster": "naive-168", "data.days": 2, "front.points": 3, "front.n_gen": 5,
                       "front.pop_size": 10,
                       "unit.appliances": ["lighting", "oven", "washer", "dispenser"]}, {}, 1e-6),
    "rtp_district": ({"data.forecaster": "naive-168", "data.days": 2, "district.households": 6,
                      "district.processes": 1}, {}, 1e-6),
    "tou_city": ({"city.households": 40, "city.sellers": 2, "city.days": 1, "city.workers": 1,
                  "city.scenario_days": 3}, {}, 1e-6),
}


def _instance(case: str, tmp_path: Path) -> Instance:
    instance = load_instance(INSTANCES / f"{case.split('-')[0]}.toml")
    edits, _, _ = CASES[case]
    for dotted, value in edits.items():
        if value is None:
            instance.data.pop(dotted)
        else:
            _set(instance.data, dotted, value)
    if case == "rtp_district":
        instance.data["district"]["results_dir"] = str(tmp_path / "chunks")
    return instance


def _is_timing(label: Any) -> bool:
    return any(word in str(label).lower() for word in TIMING_WORDS)


def _cell(value: Any) -> Any:
    if isinstance(value, (bool, str)) or value is None:
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return None if math.isnan(number) else number


def report_numbers(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, dict[str, Any]]]:
    """Every table as ``{row label: {column: value}}``, timing rows and columns left out."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, frame in tables.items():
        rows = {}
        for label, row in frame.iterrows():
            if _is_timing(label):
                continue
            rows[str(label)] = {str(col): _cell(v) for col, v in row.items() if not _is_timing(col)}
        out[name] = rows
    return out


def run_case(case: str, tmp_path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """Run one case through its registered model family; the report's numbers."""
    instance = _instance(case, tmp_path)
    _, options, _ = CASES[case]
    run: Callable[..., Any] = registered_models()[instance.model].run
    if instance.model == "tou_pricing" and "city" in instance.data:
        options = {**options, "out": tmp_path / "city"}
    report = run(instance, **options)
    return report_numbers(report.tables)


def _compare(got: Any, want: Any, rtol: float, where: str) -> list[str]:
    if isinstance(want, dict):
        if not isinstance(got, dict) or set(got) != set(want):
            return [f"{where}: keys {sorted(got) if isinstance(got, dict) else got!r} != {sorted(want)}"]
        return [p for key in want for p in _compare(got[key], want[key], rtol, f"{where}/{key}")]
    if isinstance(want, float) and isinstance(got, float):
        if math.isclose(got, want, rel_tol=rtol, abs_tol=1e-6):
            return []
        return [f"{where}: {got!r} != stored {want!r}"]
    return [] if got == want else [f"{where}: {got!r} != stored {want!r}"]


def _stored() -> dict[str, Any]:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


SLOW = {"stackelberg_bpat-days", "rtp_household", "rtp_district", "tou_city"}


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c in SLOW else c for c in CASES])
def test_instance_gives_the_stored_numbers(case, tmp_path):
    got = run_case(case, tmp_path)
    if REGEN:
        stored = _stored()
        stored[case] = json.loads(json.dumps(got))
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        pytest.skip("results rewritten")
    stored = _stored()
    assert case in stored, f"no stored results for {case}: run with GRIDGAMES_REGEN_RESULTS=1"
    problems = _compare(json.loads(json.dumps(got)), stored[case], CASES[case][2], case)
    assert not problems, "\n".join(problems[:20])


def test_comparison_catches_a_changed_number():
    """The comparison is not vacuous: one changed digit or one missing row fails."""
    stored = {"t": {"r": {"objective": 1.0, "status": "optimal"}}}
    assert _compare(stored, stored, 1e-7, "x") == []
    assert _compare({"t": {"r": {"objective": 1.001, "status": "optimal"}}}, stored, 1e-7, "x")
    assert _compare({"t": {}}, stored, 1e-7, "x")
