"""Declared instance fields: one source of truth for readers, reference, docs page and starter files."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from gridgames.cli import main
from gridgames.cli.new import write_starter
from gridgames.cli.schema import reference_page
from gridgames.data.bundled import instance_names
from gridgames.data.errors import InstanceError
from gridgames.models.instance import Checker, get_model, known_models, load_instance, model_fields
from gridgames.models.schema import TOP, _toml_value
from microgrid_files import explicit_microgrid

ROOT = Path(__file__).resolve().parents[1]
#: keys of the household table the TOU reader builds for each user (the households library reads them with
#: their defaults; a user cannot write them: ``[[users]]`` accepts its declared keys only)
BUILT_BY_READER = {("users", k) for k in ("dt", "horizon", "comfort", "shift_reference_kw", "import_limit_kw",
                                          "export_limit_kw", "base_step")}
VARIANTS = [(m, None) for m in known_models()] + [("tou_pricing", "city")]


def _load(path: Path | str):
    instance = load_instance(path)
    study = get_model(instance.model).study
    return study.load(instance, {o.name: o.default for o in study.options})


def _section_of(raw_section: str | None) -> str:
    """A Checker section name as declared: ``users[0]`` -> users, ``users #2`` -> users,
    ``followers.devices[1]`` -> followers.devices, ``users[0].devices[0]`` -> users.devices."""
    if raw_section is None:
        return TOP
    name = re.sub(r"\[\d+\]|\s#\d+", "", raw_section)
    return {"users.devices": "followers.devices"}.get(name, name)


@pytest.fixture
def read_keys(monkeypatch):
    """Every (section, key) a reader asks its Checker for."""
    seen: set[tuple[str, str]] = set()
    original = Checker.raw

    def raw(self, section, key, *args, **kwargs):
        seen.add((_section_of(section), key))
        return original(self, section, key, *args, **kwargs)

    monkeypatch.setattr(Checker, "raw", raw)
    return seen


def test_docs_page_is_generated_from_the_declarations():
    page = (ROOT / "docs" / "instances.md").read_text(encoding="utf-8")
    assert page == reference_page(), "docs/instances.md is stale: gridgames schema --all --format md > docs/instances.md"


@pytest.mark.parametrize("model,variant", VARIANTS)
def test_every_declared_key_is_accepted_and_every_read_key_declared(model, variant, tmp_path, read_keys):
    schema = model_fields(model)
    file = tmp_path / f"{model}.toml"
    file.write_text(schema.starter(variant, everything=True), encoding="utf-8")
    _load(file)      # every declared section, every field with a value: no unknown key, no problem
    for name in instance_names():
        if load_instance(name).model == model:
            _load(name)
    declared = {(f.section, f.key) for f in schema.fields} | {(TOP, k) for k in schema.keys(TOP)}
    undeclared = {k for k in read_keys if k not in declared and k[0] != "base_load" and k not in BUILT_BY_READER}
    assert not undeclared, f"read but not declared: {sorted(undeclared)}"


def _same(a, b, path="config") -> None:
    """Deep equality of two loaded configs (arrays, frames, dataclasses; the Instance itself skipped)."""
    import dataclasses

    import pandas as pd

    from gridgames.models.instance import Instance
    if isinstance(a, Instance) or callable(a) and not dataclasses.is_dataclass(a):
        return
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, (np.ndarray, pd.Series, pd.DataFrame)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=path)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    elif not isinstance(a, Path):
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("model,variant", VARIANTS)
def test_declared_defaults_are_the_readers_defaults(model, variant, tmp_path):
    """Every default written out (the starter) loads to the same config as every default left out."""
    schema = model_fields(model)
    full, bare = tmp_path / "full.toml", tmp_path / "bare.toml"
    full.write_text(schema.starter(variant, name="x"), encoding="utf-8")
    bare.write_text(schema.starter(variant, name="x", minimal=True), encoding="utf-8")
    a, b = _load(full), _load(bare)
    if model == "tou_pricing" and variant == "city":
        from gridgames.models.tou.city import load_city
        a, b = load_city(a), load_city(b)
    _same(a, b)


@pytest.mark.parametrize("model", known_models())
def test_an_undeclared_key_is_refused_naming_the_declared_ones(model, tmp_path):
    schema = model_fields(model)
    section = next(s for s in schema.section_names() if s and s not in schema.tables and "." not in s)
    text = schema.starter(None).replace(f"[{section}]\n", f"[{section}]\nno_such_key = 1\n", 1)
    (tmp_path / "bad.toml").write_text(text, encoding="utf-8")
    with pytest.raises(InstanceError) as err:
        _load(tmp_path / "bad.toml")
    message = str(err.value)
    assert f"[{section}].no_such_key: unknown key" in message
    assert all(k in message for k in schema.keys(section))


def test_schema_cli_lists_models_prints_fields_and_names_known_models(capsys):
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert all(m in out for m in known_models())
    assert main(["schema", "economic_dispatch"]) == 0
    out = capsys.readouterr().out
    assert "[generators]" in out and "MW/h" in out and "hour_ending_utc" in out
    assert main(["schema", "nope"]) == 1
    err = capsys.readouterr().err
    assert "unknown model 'nope'" in err and "economic_dispatch" in err


@pytest.mark.parametrize("model,args", [("economic_dispatch", ["--solver", "highs"]),
                                        ("stackelberg_pricing", ["--method", "analytic"]),
                                        ("microgrid_market", [])])
def test_starter_instance_runs_as_written(model, args, tmp_path, capsys):
    file = tmp_path / "starter.toml"
    assert main(["new", model, str(file)]) == 0
    text = file.read_text(encoding="utf-8")
    assert all(f.key in text for f in model_fields(model).fields)        # every field, commented or set
    assert main(["run", str(file), *args, "--out", str(tmp_path / "out")]) == 0
    assert any((tmp_path / "out").glob("*.csv"))


def test_new_refuses_to_overwrite_and_bad_paths(tmp_path, capsys):
    file = tmp_path / "a.toml"
    file.write_text("keep", encoding="utf-8")
    assert main(["new", "economic_dispatch", str(file)]) == 1
    assert "exists; use --force" in capsys.readouterr().err and file.read_text() == "keep"
    assert main(["new", "economic_dispatch", str(file), "--force"]) == 0 and "generators" in file.read_text()
    assert main(["new", "economic_dispatch", str(tmp_path / "no" / "a.toml")]) == 1
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(InstanceError, match="unknown model 'nope'"):
        write_starter("nope", tmp_path / "b.toml")
    with pytest.raises(InstanceError, match="variants city, community"):
        write_starter("tou_pricing", tmp_path / "b.toml", variant="town")


# ---------------------------------------------------------------------------------------------------
# microgrid: explicit arrays
# ---------------------------------------------------------------------------------------------------


def test_microgrid_explicit_arrays_equal_to_a_draw_give_the_same_market_and_equilibrium(tmp_path):
    from gridgames.models.microgrid.config import MarketSpec, random_market
    from gridgames.models.microgrid.solve import equilibrium

    drawn = random_market(30, MarketSpec(n_sellers=5), seed=3)
    cfg = _load(explicit_microgrid(tmp_path, drawn))
    assert cfg.counts == [30]
    given = cfg.market(30)
    for name in ("G", "c", "eps", "A", "B", "C", "X", "w", "avail"):
        np.testing.assert_array_equal(getattr(given, name), getattr(drawn, name), err_msg=name)
    a, b = equilibrium(drawn), equilibrium(given)
    np.testing.assert_allclose(b.r, a.r, atol=1e-12)
    assert a.rel_gap < 1e-6
    # the same seed and spec through the ranges: the explicit sellers equal the drawn ones
    ranged = _load(explicit_microgrid(tmp_path, drawn).with_name("explicit.toml"))
    np.testing.assert_array_equal(ranged.market(4).X, drawn.X[:4])


def test_microgrid_explicit_arrays_length_checks_name_the_field(tmp_path):
    from gridgames.models.microgrid.config import MarketSpec, random_market

    drawn = random_market(4, MarketSpec(n_sellers=3), seed=3)
    file = explicit_microgrid(tmp_path, drawn)
    text = file.read_text().replace(f"value = {_toml_value(drawn.w)}", "value = [300.0, 400.0]")
    text = text.replace(f"price_b = {_toml_value(drawn.B)}", "price_b = [0.1]")
    file.write_text(text)
    with pytest.raises(InstanceError) as err:
        _load(file)
    assert "[buyers].value: must have 4 entries, got 2" in str(err.value)
    assert "[sellers].price_b: must have 3 entries, got 1" in str(err.value)
    bad_rows = explicit_microgrid(tmp_path, drawn).read_text().replace("available = [[", "available = [[0, 0, 1], [")
    file.write_text(bad_rows)
    with pytest.raises(InstanceError, match=r"\[buyers\].available: must have 4 rows"):
        _load(file)


# ---------------------------------------------------------------------------------------------------
# TOU: per-household overrides in [[users]]
# ---------------------------------------------------------------------------------------------------
_TOU_HEAD = """model = "tou_pricing"
[seller]
p_avg_max = 1.0
cost = 0.3
valley_hours = [0, 1, 2, 3, 4, 5, 6, 7, 23]
peak_hours = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]
[followers]
comfort = 400
comfort_linear = {lin}
[data]
source = "openmv"
first_day = "2011-12-01"
days = 7
"""
_BATTERY = '[[users.devices]]\ntype = "battery"\nname = "b"\ncapacity = 6.0\np_max = 3.0\n'
_WASHER = '[[users.devices]]\ntype = "interruptible"\nname = "w"\nenergy = 3.0\nstart = 8\nend = 24\np_max = 1.5\n'


def _tou(tmp_path: Path, users: str, lin: float = 1.0, name: str = "t.toml"):
    file = tmp_path / name
    file.write_text(_TOU_HEAD.format(lin=lin) + users, encoding="utf-8")
    return _load(file)[1]


def _exact(cfg):
    from gridgames.models.tou.solve import solve_tou
    return solve_tou(cfg.households, cfg.weights, cfg.linear_params(), "strong-duality")


def test_tou_user_weight_equals_duplicated_users_and_comfort_scale_scales_omega(tmp_path):
    heavy = _tou(tmp_path, '[[users]]\nname = "A"\nweight = 2.0\n' + _BATTERY, name="w.toml")
    twins = _tou(tmp_path, '[[users]]\nname = "A"\n' + _BATTERY + '[[users]]\nname = "B"\n' + _BATTERY,
                 name="d.toml")
    assert heavy.weights == [2.0] and twins.weights == [1.0, 1.0]
    a, b = _exact(heavy), _exact(twins)
    assert a.objective == pytest.approx(b.objective, rel=1e-6)
    assert a.prices == pytest.approx(b.prices, rel=1e-5)
    devices = _BATTERY + _WASHER        # the washer moves: the comfort weight changes the answer
    scaled = _exact(_tou(tmp_path, '[[users]]\nname = "A"\ncomfort_scale = 10.0\n' + devices, lin=0.1,
                         name="s.toml"))
    omega = _exact(_tou(tmp_path, '[[users]]\nname = "A"\n' + devices, lin=1.0, name="o.toml"))
    plain = _exact(_tou(tmp_path, '[[users]]\nname = "A"\n' + devices, lin=0.1, name="p.toml"))
    assert scaled.objective == pytest.approx(omega.objective, rel=1e-6)
    assert scaled.prices == pytest.approx(omega.prices, rel=1e-5)
    assert abs(plain.objective - omega.objective) > 0.1 * abs(omega.objective) / 20


def test_tou_user_base_load_override_and_errors_name_the_field(tmp_path):
    own = [0.5] * 12 + [1.0] * 12
    cfg = _tou(tmp_path, f'[[users]]\nname = "A"\nbase_load = {own}\nbase_scale = 2.0\nshift_limit = 0.3\n'
                         '[[users]]\nname = "B"\n')
    a, b = cfg.households
    np.testing.assert_allclose(a.base_load, 2.0 * np.array(own))
    assert a.shift_limit == 0.3 and b.shift_limit == 0.15
    assert not np.allclose(b.base_load, a.base_load)
    with pytest.raises(InstanceError) as err:
        _tou(tmp_path, '[[users]]\nname = "A"\nbase_load = [1.0, 2.0]\nweight = -1\ncomfort = 3\n')
    text = str(err.value)
    assert "[users[0]].base_load: must have 24 entries, got 2" in text
    assert "[users[0]].weight: must be > 0, got -1" in text
    assert "[users[0]].comfort: unknown key (known: base_load, base_scale, comfort_scale" in text
