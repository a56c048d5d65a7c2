"""The data layer: one clock-change policy, shipped datasets and instances found by name."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gridgames.data.bundled import DATASETS, dataset_path, instance_names, instance_path
from gridgames.data.series import read_local_hourly
from gridgames.models.instance import InstanceError, load_instance

ROOT = Path(__file__).resolve().parents[1]


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "local.csv"
    path.write_text("\n".join(["stamp,mw"] + rows) + "\n")
    return path


def test_local_clock_policy_averages_repeats_and_interpolates_one_missing_hour(tmp_path):
    path = _csv(tmp_path, ["2020-11-01 00:00,10", "2020-11-01 01:00,20", "2020-11-01 01:00,30",
                           "2020-11-01 02:00,40", "2020-11-01 04:00,80"])
    series = read_local_hourly(path, "stamp", "mw")
    assert series.index.freqstr == "h" and len(series) == 5
    assert series.tolist() == [10.0, 25.0, 40.0, 60.0, 80.0]   # repeated 01:00 averaged, 03:00 interpolated


def test_local_clock_policy_refuses_long_gaps_and_nans(tmp_path):
    path = _csv(tmp_path, ["2020-11-01 00:00,10", "2020-11-01 03:00,40"])
    with pytest.raises(InstanceError, match=r"2 hours missing between 2020-11-01 00:00:00 and 2020-11-01 03:00"):
        read_local_hourly(path, "stamp", "mw")
    path = _csv(tmp_path, ["2020-11-01 00:00,10", "2020-11-01 01:00,"])
    with pytest.raises(InstanceError, match=r"local.csv row 3: missing or non-numeric 'mw'"):
        read_local_hourly(path, "stamp", "mw", field_name="[data].load_file")


def test_pjm_file_has_one_series_for_every_family():
    """The shipped PJM file under the policy: regular, no NaN, repeated hours averaged (as RTP did)."""
    series = read_local_hourly(dataset_path("pjm_dayton"), "Datetime", "DAYTON_MW")
    raw = pd.read_csv(dataset_path("pjm_dayton"))
    stamps = pd.to_datetime(raw["Datetime"])
    repeated = stamps[stamps.duplicated()].iloc[0]
    assert series.index.freqstr == "h" and not series.isna().any()
    assert series[repeated] == pytest.approx(raw.loc[stamps == repeated, "DAYTON_MW"].mean())


def test_shipped_datasets_and_instances_by_name(tmp_path, monkeypatch):
    for name, file in DATASETS.items():
        assert dataset_path(name).name == file and dataset_path(name).is_file()
    assert {"dispatch_small", "stackelberg_bpat", "tou_community"} <= set(instance_names())
    with pytest.raises(InstanceError, match=r"dataset 'bpat': unknown; shipped datasets: eia930_bpat_2019"):
        dataset_path("bpat")
    monkeypatch.chdir(tmp_path)     # any working directory
    instance = load_instance("dispatch_small")
    assert instance.path == instance_path("dispatch_small") and instance.model == "economic_dispatch"
    assert instance.resolve("pjm_dayton") == dataset_path("pjm_dayton")
    assert instance.resolve("data/pjm_dayton_hourly.csv") == dataset_path("pjm_dayton")
    with pytest.raises(InstanceError, match=r"no shipped instance of that name \(shipped: dispatch_small"):
        load_instance("dispatch_large")


def test_instance_can_name_a_dataset_instead_of_a_path(tmp_path):
    from gridgames.models.dispatch.config import load_dispatch_instance

    text = (ROOT / "instances" / "dispatch_small.toml").read_text()
    path = tmp_path / "by_name.toml"
    path.write_text(text.replace('file = "data/eia930_bpat_2019_hourly.csv"', 'file = "eia930_bpat_2019"'))
    by_name = load_dispatch_instance(load_instance(path))
    by_path = load_dispatch_instance(load_instance(instance_path("dispatch_small")))
    assert np.array_equal(by_name.load.to_numpy(), by_path.load.to_numpy())
