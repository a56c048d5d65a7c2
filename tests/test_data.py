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


# ---------------------------------------------------------------------------
# Review round 7 (data): clock changes, offsets, daily means, household hours
# ---------------------------------------------------------------------------
def _hue(tmp_path: Path, days: dict[str, list[int]]) -> Path:
    """A HUE-shaped file (``date`` M/D/YYYY, ``hour``, ``energy_kWh`` = day index * 100 + hour)."""
    rows = ["date,hour,energy_kWh"]
    for k, (day, hours) in enumerate(days.items()):
        d = pd.Timestamp(day)
        rows += [f"{d.month}/{d.day}/{d.year},{h},{k * 100 + h}" for h in hours]
    (tmp_path / "household_hue_residential1_hourly.csv").write_text("\n".join(rows) + "\n")
    return tmp_path


def test_hue_hour_is_hour_beginning_so_a_day_is_its_own_hours_0_to_23(tmp_path):
    """PROVENANCE 3a: ``hour`` is hour-beginning 0-23 (the profile of a day is its own rows, not shifted)."""
    from gridgames.data.households import daily_profiles

    folder = _hue(tmp_path, {"2013-01-15": list(range(24)), "2013-01-16": list(range(24))})
    arr, dates = daily_profiles("hue", data_dir=folder)
    assert dates == ["2013-01-15", "2013-01-16"]
    np.testing.assert_array_equal(arr[0], np.arange(24.0))
    np.testing.assert_array_equal(arr[1], 100.0 + np.arange(24.0))


def test_hue_clock_change_days_are_left_out_not_repaired(tmp_path):
    """Fall-back day (hour 1 twice) and spring-forward day (no hour 2): neither is a complete 24-h day."""
    from gridgames.data.households import daily_profiles

    folder = _hue(tmp_path, {"2013-11-02": list(range(24)), "2013-11-03": [0, 1, *range(1, 24)],
                             "2014-03-09": [0, 1, *range(3, 24)], "2014-03-10": list(range(24))})
    arr, dates = daily_profiles("hue", data_dir=folder)
    assert dates == ["2013-11-02", "2014-03-10"]
    np.testing.assert_array_equal(arr[1], 300.0 + np.arange(24.0))


def test_hue_hour_outside_0_23_is_named_by_row(tmp_path):
    from gridgames.data.households import daily_profiles

    folder = _hue(tmp_path, {"2013-01-15": list(range(1, 25))})
    with pytest.raises(InstanceError, match=r"household_hue_residential1_hourly.csv row 25: date '1/15/2013', "
                                            r"hour '24': need an M/D/YYYY date and an hour-beginning hour 0-23"):
        daily_profiles("hue", data_dir=folder)


def test_shipped_hue_file_matches_its_rows():
    """The shipped file: 15 Jan 2013 is exactly the file's 24 rows of that date (hour 0 first)."""
    from gridgames.data.households import daily_profiles

    raw = pd.read_csv(dataset_path("household_hue"))
    want = raw[raw["date"] == "1/15/2013"].sort_values("hour")["energy_kWh"].to_numpy()
    arr, dates = daily_profiles("hue", first_day="2013-01-15", days=1)
    assert dates == ["2013-01-15"]
    np.testing.assert_array_equal(arr[0], want)


@pytest.mark.parametrize("value, needle", [
    ("2011-12-1", r"\[data\].first_day: not a date in the form YYYY-MM-DD: '2011-12-1'"),
    ("2011-12-32", r"\[data\].first_day: not a real date: '2011-12-32'"),
    (20111201, r"\[data\].first_day: must be a date"),
])
def test_first_day_must_be_a_real_date(value, needle):
    from gridgames.data.households import parse_first_day

    with pytest.raises(InstanceError, match=needle):
        parse_first_day(value)


def test_first_day_is_compared_as_a_date_and_must_lie_in_the_file():
    import datetime as dt

    from gridgames.data.households import daily_profiles

    _, by_text = daily_profiles("openmv", first_day="2011-12-01", days=2)
    _, by_date = daily_profiles("openmv", first_day=dt.date(2011, 12, 1), days=2)
    assert by_text == by_date == ["2011-12-01", "2011-12-02"]
    for day in ("2010-01-01", "2012-04-01"):
        with pytest.raises(InstanceError, match=rf"\[data\].first_day: {day} is outside "
                                                r"household_openmv_tou_hourly.csv, whose complete days run from "
                                                r"2011-11-25 to 2012-03-16"):
            daily_profiles("openmv", first_day=day, days=2, field="[data]")


def test_only_the_fall_back_hour_may_repeat(tmp_path):
    """A repeat on an October Sunday that is not the clock change is a duplicate, named by rows."""
    rows = ["2016-10-16 13:00,10", "2016-10-16 14:00,20", "2016-10-16 14:00,300", "2016-10-16 15:00,40"]
    with pytest.raises(InstanceError, match=r"local.csv rows 3, 4: duplicate timestamp 2016-10-16 14:00"):
        read_local_hourly(_csv(tmp_path, rows), "stamp", "mw")
    # the 2016 US fall-back night (6 Nov), hour-ending stamp as PJM writes it: accepted and averaged
    rows = ["2016-11-06 01:00,10", "2016-11-06 02:00,20", "2016-11-06 02:00,30", "2016-11-06 03:00,40"]
    assert read_local_hourly(_csv(tmp_path, rows), "stamp", "mw").tolist() == [10.0, 25.0, 40.0]
    # two repeated stamps in one night are not one clock change
    rows = ["2016-11-06 01:00,10", "2016-11-06 01:00,15", "2016-11-06 02:00,20", "2016-11-06 02:00,30"]
    with pytest.raises(InstanceError, match=r"duplicate timestamp 2016-11-06 01:00:00 \(2 duplicated"):
        read_local_hourly(_csv(tmp_path, rows), "stamp", "mw")


def test_fall_back_hour_is_the_files_time_zones(tmp_path):
    """25 Oct 2020 02:00 is the European fall-back hour, not the US one (1 Nov 2020)."""
    rows = ["2020-10-25 01:00,10", "2020-10-25 02:00,20", "2020-10-25 02:00,30", "2020-10-25 03:00,40"]
    path = _csv(tmp_path, rows)
    assert read_local_hourly(path, "stamp", "mw", tz="Europe/Brussels").tolist() == [10.0, 25.0, 40.0]
    with pytest.raises(InstanceError, match=r"duplicate timestamp 2020-10-25 02:00.*America/New_York"):
        read_local_hourly(path, "stamp", "mw")
    with pytest.raises(InstanceError, match=r"unknown time zone 'Mars/Base'"):
        read_local_hourly(path, "stamp", "mw", tz="Mars/Base")


def test_local_reader_reads_stamps_with_utc_offsets(tmp_path):
    """ISO stamps with -04:00/-05:00 across the US fall-back: read at their wall-clock time (no traceback)."""
    rows = ["2017-11-05T00:00:00-04:00,10", "2017-11-05T01:00:00-04:00,20", "2017-11-05T01:00:00-05:00,30",
            "2017-11-05T02:00:00-05:00,40"]
    series = read_local_hourly(_csv(tmp_path, rows), "stamp", "mw")
    assert series.index.tz is None and series.index[0] == pd.Timestamp("2017-11-05 00:00")
    assert series.tolist() == [10.0, 25.0, 40.0]
    same = rows[:2] + ["2017-11-05T01:00:00-04:00,30"] + rows[3:]           # one instant twice
    with pytest.raises(InstanceError, match=r"local.csv rows 3, 4: duplicate timestamp 2017-11-05T01:00:00-04:00"):
        read_local_hourly(_csv(tmp_path, same), "stamp", "mw")
    mixed = rows[:3] + ["2017-11-05 02:00:00,40"]
    with pytest.raises(InstanceError, match=r"local.csv row 5: timestamp '2017-11-05 02:00:00' has no UTC offset"):
        read_local_hourly(_csv(tmp_path, mixed), "stamp", "mw")


def _prices(tmp_path: Path, stamps: list[str], name: str = "prices.csv") -> Path:
    path = tmp_path / name
    path.write_text("stamp,price\n" + "".join(f"{s},{k}\n" for k, s in enumerate(stamps)))
    return path


def _local_day(day: str, tz: str, offsets: bool) -> list[str]:
    start, end = ((pd.Timestamp(day) + pd.Timedelta(days=k)).tz_localize(tz).tz_convert("UTC") for k in (0, 1))
    hours = pd.date_range(start, end, freq="h", inclusive="left").tz_convert(tz)
    if offsets:
        return [t.isoformat() for t in hours]
    return [t.strftime("%Y-%m-%d %H:%M:%S") for t in hours]


def test_daily_mean_refuses_a_missing_or_repeated_hour(tmp_path):
    from gridgames.data.series import daily_means

    day = _local_day("2023-07-11", "Europe/Brussels", offsets=True)
    days = pd.DatetimeIndex(["2023-07-11"])
    assert daily_means(_prices(tmp_path, day), "stamp", "price", days)[0] == pytest.approx(11.5)
    with pytest.raises(InstanceError, match=r"2023-07-11 has 23 hourly readings .* 17:00:00 and "
                                            r"2023-07-11 19:00:00 are 2 h apart"):
        daily_means(_prices(tmp_path, day[:18] + day[19:]), "stamp", "price", days)
    with pytest.raises(InstanceError, match=r"2023-07-11 has 25 hourly readings .* reading of 2023-07-11 "
                                            r"18:00:00 .* more than once \(rows 20, 21\)"):
        daily_means(_prices(tmp_path, day[:19] + day[18:]), "stamp", "price", days)
    naive = _local_day("2023-07-11", "Europe/Brussels", offsets=False)
    with pytest.raises(InstanceError, match=r"25 hourly readings .* 2 readings of 2023-07-11 18:00:00 \(rows 20, 21\)"):
        daily_means(_prices(tmp_path, naive[:19] + naive[18:]), "stamp", "price", days, tz="Europe/Brussels")
    with pytest.raises(InstanceError, match=r"23 hourly readings .* no reading of 18:00"):
        daily_means(_prices(tmp_path, naive[:18] + naive[19:]), "stamp", "price", days)


@pytest.mark.parametrize("day, hours", [("2022-03-27", 23), ("2022-10-30", 25)])
def test_daily_mean_of_a_clock_change_day(tmp_path, day, hours):
    """Offsets in the stamps (or the time zone of naive stamps) tell a 23- or 25-hour day from a gap or a duplicate."""
    from gridgames.data.series import daily_means

    days = pd.DatetimeIndex([day])
    with_offsets = _local_day(day, "Europe/Brussels", offsets=True)
    naive = _local_day(day, "Europe/Brussels", offsets=False)
    assert len(with_offsets) == hours
    want = (hours - 1) / 2
    assert daily_means(_prices(tmp_path, with_offsets), "stamp", "price", days)[0] == pytest.approx(want)
    assert daily_means(_prices(tmp_path, naive), "stamp", "price", days, tz="Europe/Brussels")[0] == \
        pytest.approx(want)
    with pytest.raises(InstanceError, match=rf"{day} has {hours} hourly readings .*no time zone is known"):
        daily_means(_prices(tmp_path, naive), "stamp", "price", days)


def test_duplicate_utc_stamp_is_not_also_reported_as_a_gap(tmp_path):
    from gridgames.data.series import read_series_csv

    stamps = ["2021-07-01T11:00:00Z", "2021-07-01T12:00:00Z", "2021-07-01T12:00:00Z", "2021-07-01T13:00:00Z"]
    with pytest.raises(InstanceError) as err:
        read_series_csv(_prices(tmp_path, stamps), "stamp", "price")
    assert err.value.problems == ["prices.csv row 4: duplicate timestamp 2021-07-01 12:00:00+00:00"]


def test_naive_series_reader_refuses_mixed_utc_offsets(tmp_path):
    from gridgames.data.series import read_series_csv

    stamps = ["2017-11-05T00:00:00-04:00", "2017-11-05T01:00:00-04:00", "2017-11-05T01:00:00-05:00"]
    with pytest.raises(InstanceError, match=r"prices.csv: the timestamps of 'stamp' carry different UTC offsets"):
        read_series_csv(_prices(tmp_path, stamps), "stamp", "price", utc=False, freq=None)


def test_a_uci_hour_short_of_a_quarter_leaves_its_day_out(tmp_path):
    """The UCI file is 15-minute means: an hour is the mean of its four quarters, and an hour with a quarter
    missing (or NaN) is not known, so its day is not a complete profile (before: averaged from the rest)."""
    import pandas as pd

    from gridgames.data.households import SOURCES, daily_profiles

    stamps = pd.date_range("2007-01-01", periods=3 * 96, freq="15min")
    power = np.arange(stamps.size, dtype=float) % 7 + 1.0
    frame = pd.DataFrame({"interval_start_local": stamps.strftime("%Y-%m-%dT%H:%M:%S"),
                          "global_active_power_kw": power})
    frame.loc[5, "global_active_power_kw"] = np.nan          # 2007-01-01 01:15
    frame = frame.drop(index=96 + 10)                         # 2007-01-02 02:30
    frame.to_csv(tmp_path / SOURCES["uci"], index=False)
    profiles, days = daily_profiles("uci", data_dir=tmp_path)
    assert days == ["2007-01-03"]
    np.testing.assert_allclose(profiles[0], power[192:].reshape(24, 4).mean(axis=1))
