"""The microgrid [forecast] and [margins] stages use the explicit [sellers]/[buyers] arrays of an instance.

Independent answer: the same loop run directly on the explicit market; the
drawn market of the instance's seed (which the loop used to take) differs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridgames.models.instance import load_instance
from gridgames.models.microgrid.config import MarketSpec, random_market
from microgrid_files import explicit_microgrid

ROOT = Path(__file__).resolve().parents[1]
LOAD = ROOT / "instances" / "data" / "pjm_dayton_hourly.csv"


def _instance(tmp_path: Path, market, extra: str) -> Path:
    return explicit_microgrid(tmp_path, market, "[methods]\ncompare = []\n" + extra)


def _load(path: Path):
    from gridgames.models.microgrid.study import STUDY
    return STUDY.load(load_instance(path), {})


FORECAST = f"""[forecast]
periods = 2
history_hours = 100
load_file = "{LOAD.as_posix()}"
forecaster = "naive-24"
"""


def test_forecast_loop_uses_the_explicit_market(tmp_path):
    """Each period's equilibrium consumption is the explicit market's at that period's demand scale
    (vectorised solver, independent of the loop), not the drawn market's of the instance's seed."""
    from gridgames.models.microgrid.forecast import forecast_loop_from_config, scaled_market
    from gridgames.models.microgrid.solve import equilibrium

    given = random_market(6, MarketSpec(n_sellers=3), seed=11)       # not the instance's seed (3)
    cfg = _load(_instance(tmp_path, given, FORECAST))
    assert cfg.forecast["n_buyers"] == 6                              # defaults to the explicit buyers
    table, _ = forecast_loop_from_config(cfg.instance, cfg.source, cfg.forecast)
    drawn = random_market(6, cfg.spec, 3)
    for scale, got in zip(table["demand_scale"], table["equilibrium_consumption_MWh"]):
        assert got == pytest.approx(equilibrium(scaled_market(given, scale)).r.sum(), rel=1e-9)
        assert got != pytest.approx(equilibrium(scaled_market(drawn, scale)).r.sum(), rel=1e-3)


@pytest.mark.parametrize("section,extra", [("forecast", FORECAST + "n_buyers = 9\n"),
                                           ("margins", "[margins]\nn_buyers = 9\n")])
def test_more_buyers_than_the_explicit_ones_are_cut_to_them_and_noted(tmp_path, section, extra):
    given = random_market(6, MarketSpec(n_sellers=3), seed=11)
    cfg = _load(_instance(tmp_path, given, extra))
    settings = getattr(cfg, section)
    assert settings["n_buyers"] == 6
    assert settings["buyers_note"] == f"[{section}].n_buyers = 9 cut to the 6 buyers given in [buyers]"


def test_margin_stage_defaults_to_the_explicit_buyers(tmp_path):
    given = random_market(6, MarketSpec(n_sellers=3), seed=11)
    cfg = _load(_instance(tmp_path, given, "[margins]\n"))
    assert cfg.margins["n_buyers"] == 6
    np.testing.assert_array_equal(cfg.market(cfg.margins["n_buyers"]).X, given.X)


def _short_load(tmp_path: Path, hours: int) -> Path:
    path = tmp_path / "short.csv"
    stamps = pd.date_range("2018-06-01 00:00", periods=hours, freq="h")
    path.write_text("Datetime,DAYTON_MW\n" + "".join(f"{t},{1000 + i % 24}\n" for i, t in enumerate(stamps)))
    return path


def test_forecast_load_file_shorter_than_history_and_periods_is_named(tmp_path):
    """150 hours for history_hours + periods = 100 + 60: a clear error naming the file and both counts."""
    from gridgames.models.instance import InstanceError
    from gridgames.models.microgrid.forecast import forecast_loop_from_config

    given = random_market(6, MarketSpec(n_sellers=3), seed=11)
    extra = (FORECAST.replace(LOAD.as_posix(), _short_load(tmp_path, 150).as_posix())
             .replace("periods = 2", "periods = 60"))
    cfg = _load(_instance(tmp_path, given, extra))
    with pytest.raises(InstanceError, match=r"\[forecast\].load_file: short.csv has 150 hours \(2018-06-01 "
                                            r"00:00:00 to 2018-06-07 05:00:00\); history_hours \+ periods = "
                                            r"100 \+ 60 = 160 hours are needed"):
        forecast_loop_from_config(cfg.instance, cfg.source, cfg.forecast)


def test_forecast_timezone_must_exist(tmp_path):
    from gridgames.models.instance import InstanceError

    given = random_market(6, MarketSpec(n_sellers=3), seed=11)
    with pytest.raises(InstanceError, match=r"\[forecast\].timezone: unknown time zone 'Ohio/Dayton'"):
        _load(_instance(tmp_path, given, FORECAST + 'timezone = "Ohio/Dayton"\n'))
    cfg = _load(_instance(tmp_path, given, FORECAST + 'timezone = "Europe/Brussels"\n'))
    assert cfg.forecast["timezone"] == "Europe/Brussels"


def test_margins_method_schema_matches_the_reader(tmp_path):
    """The schema's default and choices of [margins].method are the reader's (docs/instances.md is generated)."""
    from gridgames.models.microgrid.fields import FIELDS
    from gridgames.models.microgrid.margins import MARGIN_METHODS

    field = next(f for f in FIELDS.fields if (f.section, f.key) == ("margins", "method"))
    cfg = _load(_instance(tmp_path, random_market(6, MarketSpec(n_sellers=3), seed=11), "[margins]\n"))
    assert field.default == cfg.margins["method"] == "diagonalisation"
    assert tuple(field.choices) == MARGIN_METHODS
