"""Issue 19, model families: every bad instance field and damaged data file is a clear error.

Each case breaks ONE thing of a shipped instance (or of a copy of a shipped data file) and
asserts a :class:`GridGamesError` (never another exception type: that would be a traceback at
the CLI) whose message names the field or file and the cause.  A few cases run the CLI in a
subprocess: exit code 1, no ``Traceback`` in stderr, the field named.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridgames.models import instance as instance_module
from gridgames.models.instance import load_instance
from gridgames.solvers.errors import GridGamesError, ModelError

ROOT = Path(__file__).resolve().parents[1]
INSTANCES = ROOT / "instances"
DATA = INSTANCES / "data"


# ---------------------------------------------------------------------------
# editing a shipped instance
# ---------------------------------------------------------------------------
def set_key(text: str, section: str | None, key: str, value: str | None) -> str:
    """``text`` with ``[section].key`` set to the TOML ``value`` (None: the line removed).

    The key is looked up between the section's header and the next header; a key
    that is not there is inserted right after the header.
    """
    lines = text.splitlines()
    start = 0 if section is None else next(i for i, line in enumerate(lines)
                                           if line.split("#")[0].strip() == f"[{section}]") + 1
    end = next((i for i in range(start, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    for i in range(start, end):
        if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
            if value is None:
                del lines[i]
            else:
                lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    assert value is not None, f"{key} not in [{section}]"
    lines.insert(start, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def write_instance(tmp_path: Path, text: str, name: str = "bad.toml") -> Path:
    """Write ``text`` next to a ``data`` link to the shipped data (relative paths keep working)."""
    link = tmp_path / "data"
    if not link.exists():
        link.symlink_to(DATA)
    path = tmp_path / name
    path.write_text(text)
    return path


def _load_stackelberg(path):
    from gridgames.models.stackelberg.config import load_config
    return load_config(load_instance(path))


def _load_dispatch(path):
    from gridgames.models.dispatch.config import load_dispatch_instance
    return load_dispatch_instance(load_instance(path))


def _load_microgrid(path):
    from gridgames.models.microgrid.study import STUDY
    return STUDY.load(load_instance(path), {})


def _load_tou(path):
    from gridgames.models.tou.config import load_community
    return load_community(load_instance(path))


def _load_city(path):
    from gridgames.models.tou.city import load_city
    return load_city(load_instance(path))


def _load_rtp(path):
    from gridgames.models.rtp.config import load_config
    return load_config(load_instance(path))


FAMILIES = {
    "stackelberg": ("stackelberg_bpat.toml", _load_stackelberg),
    "dispatch": ("dispatch_small.toml", _load_dispatch),
    "microgrid": ("microgrid_paper.toml", _load_microgrid),
    "tou": ("tou_community.toml", _load_tou),
    "city": ("tou_city.toml", _load_city),
    "rtp": ("rtp_household.toml", _load_rtp),
}

#: (family, section, key, kind) of scalar numeric fields; kind "int" also gets a float case
NUMBERS = [
    ("stackelberg", "game", "a1", "pos"), ("stackelberg", "game", "mu", "pos"), ("stackelberg", "game", "r", "pos"),
    ("stackelberg", "game", "ir", "pos"), ("stackelberg", "users", "theta", "pos"),
    ("stackelberg", "users", "z_max", "pos"), ("stackelberg", "bounds", "p_max", "pos"),
    ("stackelberg", "bounds", "l_min", "pos"),
    ("microgrid", "market", "n_sellers", "int"), ("microgrid", "market", "seed", "int"),
    ("microgrid", "market", "base_markup", "pos"), ("microgrid", "market", "curvature_share", "pos"),
    ("microgrid", "baselines", "storage_share", "pos"), ("microgrid", "baselines", "offpeak_price", "pos"),
    ("microgrid", "methods", "n_buyers", "int"), ("microgrid", "methods", "pso_generations", "int"),
    ("tou", "seller", "p_max", "pos"), ("tou", "seller", "risk_aversion", "pos"),
    ("tou", "followers", "comfort", "pos"), ("tou", "followers", "shift_limit", "pos"),
    ("tou", "data", "days", "int"), ("tou", "solve", "ga_pop_size", "int"),
    ("city", "city", "households", "int"), ("city", "city", "sellers", "int"), ("city", "city", "days", "int"),
    ("city", "city", "scale_sigma", "pos"), ("city", "city", "pv_share", "pos"),
    ("rtp", "data", "days", "int"), ("rtp", "data", "eur_to_usd", "pos"), ("rtp", "welfare", "delta", "pos"),
    ("rtp", "incentive", "lambda1", "pos"), ("rtp", "incentive", "m", "int"), ("rtp", "unit", "rho", "pos"),
]
BAD_VALUES = {"wrong type": '"abc"', "nan": "nan", "inf": "inf", "overflow": "1e308", "negative": "-1",
              "boolean": "true"}


def _number_cases():
    for family, section, key, kind in NUMBERS:
        for label, value in BAD_VALUES.items():
            yield pytest.param(family, section, key, value, id=f"{family}-{section}.{key}-{label}")
        if kind == "int":
            yield pytest.param(family, section, key, "2.5", id=f"{family}-{section}.{key}-float-for-int")


def assert_refused(family: str, text: str, tmp_path: Path, *needles: str) -> str:
    """Loading ``text`` raises a GridGamesError naming every needle; its message."""
    _, loader = FAMILIES[family]
    path = write_instance(tmp_path, text)
    with pytest.raises(GridGamesError) as err:
        loader(path)
    message = str(err.value)
    for needle in needles:
        assert needle in message, message
    return message


def shipped(family: str) -> str:
    return (INSTANCES / FAMILIES[family][0]).read_text()


@pytest.mark.parametrize("family, section, key, value", list(_number_cases()))
def test_bad_number_is_refused_naming_the_field(tmp_path, family, section, key, value):
    assert_refused(family, set_key(shipped(family), section, key, value), tmp_path, f"[{section}].{key}")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_unknown_top_level_key_is_refused(tmp_path, family):
    assert_refused(family, set_key(shipped(family), None, "nmae", '"typo"'), tmp_path, "nmae", "unknown")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_unknown_section_is_refused(tmp_path, family):
    assert_refused(family, shipped(family) + "\n[bogus_section]\nx = 1\n", tmp_path, "bogus_section", "unknown")


_SECTIONS = [("stackelberg", "game"), ("stackelberg", "bounds"), ("stackelberg", "data"), ("dispatch", "data"),
             ("dispatch", "generators"), ("microgrid", "market"), ("microgrid", "baselines"),
             ("microgrid", "methods"), ("microgrid", "forecast"), ("tou", "seller"), ("tou", "solve"),
             ("city", "city"), ("city", "seller"), ("rtp", "data"), ("rtp", "welfare"), ("rtp", "incentive")]


@pytest.mark.parametrize("family, section", _SECTIONS)
def test_unknown_key_in_a_section_is_refused(tmp_path, family, section):
    assert_refused(family, set_key(shipped(family), section, "bogus_key", "1"), tmp_path,
                   f"[{section}].bogus_key", "unknown")


@pytest.mark.parametrize("family, section, key", [
    ("stackelberg", "data", "files"), ("stackelberg", "data", "day"), ("dispatch", "data", "file"),
    ("dispatch", "data", "day"), ("dispatch", "generators", "a"), ("dispatch", "generators", "pmax"),
    ("tou", "data", "source"), ("rtp", "data", "load_file"), ("rtp", "data", "price_file"),
])
def test_missing_required_field_is_named(tmp_path, family, section, key):
    assert_refused(family, set_key(shipped(family), section, key, None), tmp_path, f"[{section}].{key}")


@pytest.mark.parametrize("key, value", [("a", "[0.0008, nan, 0.005]"), ("b", "[12.0, 18.0, inf]"),
                                        ("pmax", "[5000.0, 1e308, 2500.0]"), ("ramp", "[800.0, 600.0]"),
                                        ("pmin", '["1500", 500.0, 0.0]'), ("pmin", "[-1.0, 500.0, 0.0]")])
def test_dispatch_generator_lists_checked(tmp_path, key, value):
    assert_refused("dispatch", set_key(shipped("dispatch"), "generators", key, value), tmp_path,
                   f"[generators].{key}")


def test_dispatch_needs_a_generator(tmp_path):
    text = shipped("dispatch")
    for key in ("a", "b", "pmin", "pmax", "ramp"):
        text = set_key(text, "generators", key, "[]")
    assert_refused("dispatch", text, tmp_path, "[generators].a", "at least 1 entry")


def test_microgrid_capacity_range_must_be_positive(tmp_path):
    assert_refused("microgrid", set_key(shipped("microgrid"), "market", "capacity", "[0.0, 0.0]"), tmp_path,
                   "[market].capacity", "must be > 0")


# ---------------------------------------------------------------------------
# 1. Stackelberg: bound consistency, the closed form says infeasible
# ---------------------------------------------------------------------------
def test_stackelberg_l_min_above_d_max_is_refused_at_load(tmp_path):
    text = set_key(set_key(shipped("stackelberg"), "bounds", "d_max", "5000.0"), "bounds", "l_min", "6000.0")
    assert_refused("stackelberg", text, tmp_path, "[bounds].l_min", "d_max")


@pytest.fixture(scope="module")
def stackelberg_day():
    from gridgames.models.stackelberg.config import load_config
    cfg = load_config(load_instance(INSTANCES / "stackelberg_bpat.toml"))
    return cfg, cfg.day(cfg.days[0])


def test_stackelberg_analytic_says_infeasible_when_l_min_exceeds_the_peak(stackelberg_day):
    from gridgames.models.stackelberg.analytic import analytic_equilibrium
    from gridgames.models.stackelberg.solve import multi_day, solve_day
    cfg, day = stackelberg_day
    peak = float(day.d.max())
    params = dataclasses.replace(cfg.params, l_min=peak + 100.0)
    for call in (lambda: solve_day(params, day, method="analytic"), lambda: analytic_equilibrium(params, day),
                 lambda: multi_day(params, [day])):
        with pytest.raises(ModelError, match=r"analytic on .* stopped with status infeasible: l_min = .* exceeds"):
            call()
    # feasible just below the peak: loads respect l_min (the closed form is exact)
    ok = dataclasses.replace(cfg.params, l_min=peak - 1.0)
    _, loads = solve_day(ok, day, method="analytic")
    assert loads.min() >= ok.l_min - 1e-9


def test_stackelberg_kkt_reports_the_same_status_as_analytic(stackelberg_day):
    from gridgames.models.stackelberg.solve import solve_day
    cfg, day = stackelberg_day
    params = dataclasses.replace(cfg.params, l_min=float(day.d.max()) + 100.0)
    with pytest.raises(ModelError, match=r"kkt on .* stopped with status infeasible"):
        solve_day(params, day, method="kkt")


@pytest.mark.parametrize("sweep, needle", [("[0.0, 8.0, 1e-5]", "800,001 points"),
                                           ("[0.0, 8.0, 0.0]", "step > 0"), ("[8.0, 0.0, 0.1]", "stop >= start")])
def test_stackelberg_sweep_size_guard(tmp_path, sweep, needle):
    assert_refused("stackelberg", set_key(shipped("stackelberg"), "study", "sweep", sweep), tmp_path,
                   "[study].sweep", needle)


@pytest.mark.parametrize("sweep, needle", [("[0.01, 0.03, 1e-9]", "20,000,001 points"), ("[0.03, 0.01, 0.01]", "stop")])
def test_rtp_sweep_size_guard(tmp_path, sweep, needle):
    assert_refused("rtp", set_key(shipped("rtp"), "incentive", "sweep", sweep), tmp_path, "[incentive].sweep", needle)


def test_stackelberg_unknown_time_zone(tmp_path):
    assert_refused("stackelberg", set_key(shipped("stackelberg"), "data", "timezone", '"Mars/Olympus"'), tmp_path,
                   "[data].timezone", "Mars/Olympus")


# ---------------------------------------------------------------------------
# 2. TOU city: stored seller-day records carry a fingerprint; bad ones are solved again
# ---------------------------------------------------------------------------
def test_read_record_reasons(tmp_path):
    from gridgames.models.report import fingerprint, read_record
    fp = fingerprint({"p_max": 2.0})
    path = tmp_path / "r.json"
    assert read_record(path, fp, ["a"]) == (None, "missing")
    for text, why in (("{}", "empty"), ('{"a": 1, "fingerp', "truncated"), ("[1, 2]", "wrong shape"),
                      ('{"b": 1}', "wrong shape"), (json.dumps({"a": 1, "fingerprint": "old"}), "stale"),
                      ("\x00\xff\xfe", "truncated")):
        path.write_text(text, encoding="latin-1")
        assert read_record(path, fp, ["a"]) == (None, why), text
    path.write_text(json.dumps({"a": 1, "fingerprint": fp}))
    assert read_record(path, fp, ["a"]) == ({"a": 1, "fingerprint": fp}, "")
    assert fingerprint({"p_max": 2.5}) != fp


def test_city_resume_recomputes_stale_empty_truncated_and_misshaped_records(tmp_path):
    from gridgames.models.tou.city import load_city, result_path, run_seller_days
    from gridgames.models.tou.solve import GAOptions
    cfg = load_city(load_instance(INSTANCES / "tou_city.toml"))
    small = dataclasses.replace(cfg, households=20, sellers=1, days=4, method="nested",
                                ga=GAOptions(pop_size=4, n_gen=1), classes=[2])
    rows, _, solved, redone = run_seller_days(small, tmp_path, workers=1, progress=False)
    assert (solved, len(rows), redone) == (4, 4, {})
    _, _, again, redone = run_seller_days(small, tmp_path, workers=1, progress=False)
    assert (again, redone) == (0, {})
    result_path(tmp_path, 0, 0).write_text("{}")
    result_path(tmp_path, 0, 1).write_text(result_path(tmp_path, 0, 1).read_text()[:40])
    result_path(tmp_path, 0, 2).write_text(json.dumps({"seller": 0, "day": 2}))
    _, _, again, redone = run_seller_days(small, tmp_path, workers=1, progress=False)
    assert again == 3 and redone == {"empty": 1, "truncated": 1, "wrong shape": 1}
    changed = dataclasses.replace(small, seller={**small.seller, "p_max": 1.8})
    rows, _, again, redone = run_seller_days(changed, tmp_path, workers=1, progress=False)
    assert again == 4 and redone == {"stale": 4}
    assert max(max(r["prices"].values()) for r in rows) <= 1.8 + 1e-9
    # workers do not change results: same fingerprint
    _, _, again, _ = run_seller_days(dataclasses.replace(changed, workers=3), tmp_path, workers=1, progress=False)
    assert again == 0


# ---------------------------------------------------------------------------
# 4. Dispatch: truncated day, unknown time zone, undeclared options
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("hours", [1, 9])
def test_dispatch_refuses_a_truncated_day(tmp_path, hours):
    frame = pd.read_csv(DATA / "eia930_bpat_2019_hourly.csv")
    stamps = pd.to_datetime(frame["hour_ending_utc"], utc=True).dt.tz_convert("America/Los_Angeles")
    first = int(np.flatnonzero(stamps.dt.strftime("%Y-%m-%d") == "2019-06-12")[0])
    frame.iloc[:first + hours].to_csv(tmp_path / "short.csv", index=False)
    text = set_key(shipped("dispatch"), "data", "file", '"short.csv"')
    assert_refused("dispatch", text, tmp_path, "[data].day", f"has {hours} hours", "truncated")


@pytest.mark.parametrize("key, value, needle", [("timezone", '"Mars/Olympus"', "[data].timezone"),
                                                ("day", '"2019-13-45"', "[data].day"),
                                                ("day", "20190612", "[data].day"),
                                                ("day", '"2031-01-01"', "[data].day")])
def test_dispatch_bad_day_or_zone(tmp_path, key, value, needle):
    assert_refused("dispatch", set_key(shipped("dispatch"), "data", key, value), tmp_path, needle)


def test_dispatch_refuses_undeclared_options():
    from gridgames.models.dispatch.study import STUDY
    for option in ({"demand_forecast": "eia"}, {"day": "2019-01-01"}):
        with pytest.raises(ModelError, match=r"has no option .*its options: none"):
            STUDY.run(load_instance(INSTANCES / "dispatch_small.toml"), **option)


# ---------------------------------------------------------------------------
# 5. Microgrid: misspelled sections, integers, size guards, --solver
# ---------------------------------------------------------------------------
def test_microgrid_misspelled_section_names_the_known_ones(tmp_path):
    text = shipped("microgrid").replace("[baselines]", "[baseline]")
    assert_refused("microgrid", text, tmp_path, "baseline", "unknown key (known:", "baselines")


@pytest.mark.parametrize("value, needle", [("[200.7]", "whole number"), ("[200, 0]", "> 0"),
                                           ("[200, 10000000]", "<= 100000"), ('["200"]', "list of numbers"),
                                           ("[200, nan]", "not finite"), ("[]", "at least 1 entry")])
def test_microgrid_buyer_counts_checked(tmp_path, value, needle):
    assert_refused("microgrid", set_key(shipped("microgrid"), "market", "buyer_counts", value), tmp_path,
                   "[market].buyer_counts", needle)


@pytest.mark.parametrize("section, key, value", [("methods", "n_buyers", "100000"),
                                                 ("forecast", "n_buyers", "60.5"),
                                                 ("forecast", "periods", "-3"),
                                                 ("methods", "compare", '["vectorised", 3]'),
                                                 ("methods", "compare", '["vectorized"]')])
def test_microgrid_methods_and_forecast_sections_checked_at_load(tmp_path, section, key, value):
    assert_refused("microgrid", set_key(shipped("microgrid"), section, key, value), tmp_path, f"[{section}].{key}")


def test_microgrid_forecast_unknown_key_refused_before_any_solve(tmp_path):
    assert_refused("microgrid", set_key(shipped("microgrid"), "forecast", "histroy_hours", "200"), tmp_path,
                   "[forecast].histroy_hours")


def test_microgrid_solver_with_a_method_that_takes_none(tmp_path):
    from gridgames.models.microgrid.study import STUDY
    text = set_key(shipped("microgrid"), "market", "buyer_counts", "[5]")
    with pytest.raises(ModelError, match="uses no solver"):
        STUDY.run(load_instance(write_instance(tmp_path, text)), method="vectorised", solver="highs")


# ---------------------------------------------------------------------------
# 6. Every family: files that are not TOML
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"\x00\xff\xfe\x89PNG\r\n\x1a\n" * 10, b"model = \"rtp\"\n[data\n",
                                     b"\xef\xbb\xbfmodel = 3\n"])
def test_not_a_toml_file_names_the_file(tmp_path, content):
    path = tmp_path / "broken.toml"
    path.write_bytes(content)
    with pytest.raises(GridGamesError, match="broken.toml"):
        load_instance(path)


def test_magnitude_limit_is_stated():
    assert instance_module.MAX_MAGNITUDE == 1e12


# ---------------------------------------------------------------------------
# The CLI boundary: exit 1, no traceback, the field named (few: each costs a process)
# ---------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, "-m", "gridgames", *args], capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.mark.parametrize("case", ["baseline-section", "sweep-hang", "dispatch-option", "binary-toml"])
def test_cli_reports_bad_input_in_one_line(tmp_path, case):
    if case == "baseline-section":
        path = write_instance(tmp_path, shipped("microgrid").replace("[baselines]", "[baseline]"))
        args, needle = [str(path)], "baseline"
    elif case == "sweep-hang":
        path = write_instance(tmp_path, set_key(shipped("stackelberg"), "study", "sweep", "[0.0, 8.0, 1e-5]"))
        args, needle = [str(path)], "[study].sweep"
    elif case == "dispatch-option":
        args, needle = [str(INSTANCES / "dispatch_small.toml"), "--demand-forecast", "eia"], "demand-forecast"
    else:
        path = tmp_path / "binary.toml"
        path.write_bytes(b"\x00\xff\xfe" * 50)
        args, needle = [str(path)], "binary.toml"
    proc = _cli("run", *args)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert needle in proc.stderr + proc.stdout


def test_rtp_district_chunks_damaged_or_stale_are_solved_again(tmp_path):
    from gridgames.models.rtp.district import run_district
    prices = np.tile(np.linspace(0.08, 0.2, 24), (1, 1))
    first = run_district(4, prices, processes=1, chunk=2, results_dir=tmp_path, seed=2)
    assert (first.chunks_reused, first.chunks_redone) == (0, {})
    (tmp_path / "chunk_000000.json").write_text("[1, 2]")          # a list: was an AttributeError
    (tmp_path / "chunk_000002.json").write_text('{"fingerprint": "x", "bill_')
    again = run_district(4, prices, processes=1, chunk=2, results_dir=tmp_path, seed=2)
    assert again.chunks_reused == 0 and again.chunks_redone == {"truncated": 1, "wrong shape": 1}
    np.testing.assert_allclose(again.bill_plan, first.bill_plan, rtol=1e-9)
    stale = run_district(4, prices, rho=0.02, processes=1, chunk=2, results_dir=tmp_path, seed=2)
    assert stale.chunks_redone == {"stale": 2}


# ---------------------------------------------------------------------------
# review round 5: fields that disagreed with the explicit arrays were ignored, or a default was checked
# ---------------------------------------------------------------------------
_EXPLICIT_MARKET = """model = "microgrid_market"
name = "explicit"
[market]
{market}
[sellers]
capacity = [300.0, 450.0, 250.0]
cost = [50.0, 47.0, 53.0]
margin = [10.0, 8.0, 12.0]
price_b = [0.4, 0.3, 0.5]
price_c = [0.0005, 0.0003, 0.001]
[buyers]
demand = [40.0, 60.0, 25.0, 80.0]
value = [350.0, 420.0, 300.0, 480.0]
available = {available}
[methods]
compare = []
"""
_AVAILABLE = "[[1,1,0],[0,1,1],[1,0,1],[1,1,1]]"


def test_microgrid_explicit_arrays_are_not_checked_against_a_default_they_replace(tmp_path):
    # before: "[market].availability: must lie in [1, n_sellers=3]" for the default (2, 6) nobody wrote
    text = _EXPLICIT_MARKET.format(market="n_sellers = 3", available=_AVAILABLE)
    _load_microgrid(write_instance(tmp_path, text))


@pytest.mark.parametrize("market, available, needle", [
    ("n_sellers = 4", _AVAILABLE, "[market].n_sellers: is 4 but [sellers] gives 3 sellers"),
    ("buyer_counts = [3]", _AVAILABLE, "[market].buyer_counts: is [3] but [buyers] gives 4 buyers"),
    ("seed = 1", "[[1,1,0],[0,1,1],[1,0,1],[0,0,0]]", "[buyers].available: row 3 has no seller available"),
])
def test_microgrid_explicit_arrays_disagreeing_fields_are_named(tmp_path, market, available, needle):
    # before: the first two were ignored without a word; the third failed at solve time, naming no field
    assert_refused("microgrid", _EXPLICIT_MARKET.format(market=market, available=available), tmp_path, needle)


def test_tou_two_users_of_one_name_are_refused(tmp_path):
    text = shipped("tou").replace('name = "U2"', 'name = "U1"', 1)
    assert_refused("tou", text, tmp_path, "[users[1]].name: 'U1' is also the name of users[0]")


def test_stackelberg_empty_ir_list_is_refused(tmp_path):
    # before: accepted, then a KeyError from the report's pandas code
    text = set_key(shipped("stackelberg"), "study", "ir", "[]")
    assert_refused("stackelberg", text, tmp_path, "[study].ir: is empty")


def test_an_unknown_solver_is_refused_even_by_a_method_that_uses_none(tmp_path):
    from gridgames.models.run import run_instance
    # before: stackelberg's analytic method ran and reported "solver bogus"
    with pytest.raises(GridGamesError, match="unknown solver 'bogus'"):
        run_instance(INSTANCES / "stackelberg_bpat.toml", solver="bogus")


@pytest.mark.parametrize("key, value, needle", [("load_file", '"nothere.csv"', "no such file"),
                                                ("load_column", '"NOPE_MW"', "is not a column")])
def test_microgrid_forecast_file_checked_at_load(tmp_path, key, value, needle):
    """Checked when the instance loads, not after every market of the run is solved."""
    text = shipped("microgrid")
    if "[forecast]" not in text:
        text += '\n[forecast]\nload_file = "pjm_dayton"\n'
    assert_refused("microgrid", set_key(text, "forecast", key, value), tmp_path, f"[forecast].{key}", needle)
