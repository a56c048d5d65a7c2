"""Tests of the value of a forecast in the Stackelberg and RTP games (models/forecast_value.py)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gridgames.data.bpat import load_bpat_eia930
from gridgames.models.forecast_value import game_value, plot_value, value_summary
from gridgames.models.instance import InstanceError
from gridgames.models.rtp import PriceRule


def frame_of(actual: np.ndarray, forecasts: dict[str, np.ndarray]) -> pd.DataFrame:
    idx = pd.date_range("2019-06-10", periods=len(actual), freq="h", tz="UTC")
    origin = idx[::24].repeat(24)
    return pd.concat([pd.DataFrame({"model": m, "origin": origin, "actual": actual, "forecast": f}, index=idx)
                      for m, f in forecasts.items()])


@pytest.fixture(scope="module")
def june() -> np.ndarray:
    return load_bpat_eia930(2019)["cleaned"]["2019-06-10":"2019-06-12"].to_numpy()


def test_perfect_forecast_changes_nothing_and_a_wrong_one_does(june):
    flat = np.repeat(june.reshape(3, 24).mean(axis=1), 24)
    table = game_value(frame_of(june, {"perfect": june, "flat": flat, "late": np.roll(june, 3)}))
    s = value_summary(table)
    cols = ["stackelberg_company_gain_change", "stackelberg_bill_change", "stackelberg_price_change",
            "rtp_bill_change", "rtp_price_change"]
    assert np.allclose(s.loc["perfect", cols], 0.0)
    assert s.loc["late", "stackelberg_price_change"] > 0 and s.loc["late", "rtp_price_change"] > 0
    assert (table.loc[table["model"] == "late", "stackelberg_company_gain_change"] != 0).all()
    assert s.loc["flat", "days"] == 3


def test_rtp_bill_change_of_a_flat_forecast_by_hand(june):
    """A flat forecast has no deviation: every RTP price is A0, so the bill moves by Σ (A0 − p_actual)·load."""
    a0, rule = 100.0, PriceRule()
    day = june[:24]
    table = game_value(frame_of(day, {"flat": np.full(24, day.mean())}), a0=a0, rule=rule)
    p0 = day.mean()
    rel = (day - p0) / p0
    mu = np.where(np.abs(rel) < 0.10, 0.5, np.where(np.abs(rel) <= 0.20, 0.8, 1.2))
    frac = np.clip(mu * rel, -0.15, 0.10)
    frac[np.abs(frac) < 0.05] = 0.0
    p_actual = a0 * (1 + frac)
    assert table["rtp_bill_change"].iloc[0] == pytest.approx(float((a0 - p_actual) @ day))
    assert table["rtp_price_change"].iloc[0] == pytest.approx(float(np.mean(np.abs(a0 - p_actual))))


def test_bad_tables_are_refused_and_the_figure_is_written(june, tmp_path):
    with pytest.raises(InstanceError, match="missing column"):
        game_value(pd.DataFrame({"model": ["a"], "actual": [1.0]}))
    with pytest.raises(InstanceError, match="no complete day"):
        game_value(frame_of(june[:20], {"short": june[:20]}))
    s = value_summary(game_value(frame_of(june, {"perfect": june, "late": np.roll(june, 3)})))
    assert plot_value(s, tmp_path / "value.png").stat().st_size > 10_000
