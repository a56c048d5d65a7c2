"""Reader of the shipped EIA-930 BPAT hourly demand files (``instances/data``).

``eia930_bpat_2019_hourly.csv`` holds raw demand, BPA's published day-ahead
demand forecast and the cleaned demand; ``eia930_bpat_2020_2022_hourly.csv``
holds raw and cleaned demand only (see ``instances/data/PROVENANCE.md``).
Timestamps are hour-ending, UTC.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.data.bundled import dataset_path
from gridgames.data.errors import InstanceError

logger = logging.getLogger(__name__)

TIME_COLUMN = "hour_ending_utc"
#: Column of BPA's published day-ahead forecast in the EIA-930 extract.
FORECAST_COLUMN = "demand_forecast_mw"
#: BPAT's local time zone (calendar features of the similar-day models).
BPAT_TZ = "America/Los_Angeles"

_FILES = {2019: "eia930_bpat_2019_hourly.csv", 2020: "eia930_bpat_2020_2022_hourly.csv",
          2021: "eia930_bpat_2020_2022_hourly.csv", 2022: "eia930_bpat_2020_2022_hourly.csv"}
_RENAME = {"demand_mw_raw": "actual", FORECAST_COLUMN: "bpa_forecast",
           "demand_mw_cleaned": "cleaned", "category": "category"}


def is_bpat_csv(path: str | Path) -> bool:
    """True when the CSV has the BPAT file's time and demand columns."""
    try:
        header = pd.read_csv(path, nrows=0).columns
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return False
    return TIME_COLUMN in header and "demand_mw_raw" in header and "demand_mw_cleaned" in header


def load_bpat_eia930(path_or_year: str | Path | int) -> pd.DataFrame:
    """Load a BPAT hourly demand file.

    Parameters
    ----------
    path_or_year : str, Path or int
        A CSV path, or a year (2019-2022) to pick the shipped file
        (2020-2022 are sliced out of the combined file).

    Returns
    -------
    pandas.DataFrame
        Hourly UTC index (hour ending, ``freq="h"``) with columns ``actual``
        (raw demand, MW; NaN where EIA has none), ``cleaned`` (screened and
        imputed demand, MW, never NaN), ``bpa_forecast`` (BPA's day-ahead
        forecast, MW; NaN where the file has none) and ``category``.

    Raises
    ------
    InstanceError
        Unknown year, a file that is not a BPAT extract, an unreadable file,
        gaps or duplicate timestamps (file and row named).
    """
    year = None
    if isinstance(path_or_year, (int, np.integer)) and not isinstance(path_or_year, bool):
        year = int(path_or_year)
        if year not in _FILES:
            raise InstanceError([f"no BPAT file for year {year} "
                                 f"(available: {', '.join(map(str, sorted(_FILES)))})"], "load_bpat_eia930")
        path = dataset_path(_FILES[year])
    else:
        path = Path(path_or_year)
    if not path.is_file():
        raise InstanceError([f"file not found: {path}"], "load_bpat_eia930")
    if not is_bpat_csv(path):
        raise InstanceError([f"{path.name}: not a BPAT EIA-930 extract (needs columns "
                             f"{TIME_COLUMN}, demand_mw_raw, demand_mw_cleaned)"], "load_bpat_eia930")
    frame = pd.read_csv(path)
    stamps = pd.to_datetime(frame[TIME_COLUMN], errors="coerce", utc=True)
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        raise InstanceError([f"{path.name} row {bad[0] + 2}: unparsable timestamp "
                             f"{frame[TIME_COLUMN].iloc[bad[0]]!r}"], "load_bpat_eia930")
    frame.index = pd.DatetimeIndex(stamps, name=TIME_COLUMN)
    frame = frame.drop(columns=[TIME_COLUMN]).rename(columns=_RENAME)
    if "bpa_forecast" not in frame:
        frame["bpa_forecast"] = np.nan
    for col in ("actual", "cleaned", "bpa_forecast"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame = frame[["actual", "cleaned", "bpa_forecast", "category"]].sort_index()
    dup = frame.index.duplicated()
    problems = []
    if dup.any():
        problems.append(f"{path.name}: duplicate timestamp {frame.index[dup][0]}")
    deltas = np.diff(frame.index.as_unit("ns").asi8)
    gaps = np.flatnonzero(deltas != pd.Timedelta("1h").value)
    if gaps.size and not dup.any():
        problems.append(f"{path.name}: gap between {frame.index[gaps[0]]} and {frame.index[gaps[0] + 1]}")
    nan_clean = np.flatnonzero(frame["cleaned"].isna().to_numpy())
    if nan_clean.size:
        problems.append(f"{path.name}: missing cleaned demand at {frame.index[nan_clean[0]]}")
    if problems:
        raise InstanceError(problems, "load_bpat_eia930")
    if year is not None:
        frame = frame.loc[str(year)]
    frame.index = pd.DatetimeIndex(frame.index, freq="h", name=TIME_COLUMN)
    logger.info("BPAT %s: %d hours %s .. %s", path.name, len(frame), frame.index[0], frame.index[-1])
    return frame
