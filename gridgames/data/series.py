"""Every time-series reader of the package, with one policy for clock changes, gaps and NaNs.

The policy
----------
* **UTC files** (``read_series_csv``; EIA-930 BPAT, the Belgian prices' UTC
  column): timestamps must be regular.  A missing value (NaN or empty cell), an
  unparsable timestamp, a duplicate or a gap is an error naming the file and
  the CSV row; nothing is repaired.
* **Local-clock files** (``read_local_hourly``; PJM Dayton, whose stamps are
  wall-clock time): the autumn clock change repeats an hour and the spring one
  skips one.  A repeated stamp is **averaged** (the two readings share one
  wall-clock label; the mean keeps the day's energy balance closest), a single
  missing hour is **linearly interpolated**; a longer gap or a NaN value is an
  error naming the file and row.  The same PJM file therefore gives the same
  series to every family (before, RTP averaged and the microgrid forecast loop
  kept the first reading: up to 59 MW apart on the repeated hours).
* **Household files** (:mod:`gridgames.data.households`): turned into complete
  local days only; a day with a missing, repeated or NaN hour is left out.
* **Values below a floor**: a reader given ``min_value`` (loads: 0) refuses any
  value below it, naming the row (a negative load is a data error, not a
  forecastable value).
* **Daily means** (``daily_means``; the RTP clearing price): a day is averaged
  only when it is complete (at least 23 readings, the spring clock-change
  day); a partial day is an error naming the day and how many hours it has.
* **Repeated local stamps** are the autumn clock change only: exactly two
  readings of one hour on a Sunday in October or November.  Any other
  duplicate is an error naming the rows.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gridgames.data.errors import InstanceError

log = logging.getLogger(__name__)


def _read_columns(path: Path, columns: tuple[str, ...], field_name: str) -> pd.DataFrame:
    """The CSV file (all columns), with a clear error for a missing or unreadable file or column."""
    where = f"{field_name} ({path.name})"
    if not path.is_file():
        raise InstanceError([f"{where}: file not found: {path}"], field_name)
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InstanceError([f"{where}: not a readable CSV file ({exc})"], field_name) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InstanceError([f"{where}: no column {c!r} (columns: {', '.join(frame.columns)})"
                             for c in missing], field_name)
    if frame.empty:
        raise InstanceError([f"{where}: no data rows (the file has a header only)"], field_name)
    return frame


def _row_problems(path: Path, frame: pd.DataFrame, time_column: str, value_column: str,
                  stamps: pd.Series, values: pd.Series) -> list[str]:
    """Unparsable timestamps and missing values, by CSV row (header = row 1)."""
    problems = []
    for i in np.flatnonzero(stamps.isna().to_numpy())[:5]:
        problems.append(f"{path.name} row {i + 2}: unparsable timestamp {frame[time_column].iloc[i]!r}")
    for i in np.flatnonzero(values.isna().to_numpy())[:5]:
        problems.append(f"{path.name} row {i + 2}: missing or non-numeric {value_column!r} "
                        f"({_cell(frame[value_column].iloc[i])}) at {frame[time_column].iloc[i]}")
    n_nan = int(values.isna().sum())
    if n_nan > 5:
        problems.append(f"{path.name}: {n_nan} missing values in {value_column!r} in all")
    return problems


def _below(path: Path, frame: pd.DataFrame, time_column: str, value_column: str, values: pd.Series,
           min_value: float | None) -> list[str]:
    """Rows whose value is below ``min_value`` (header = row 1)."""
    if min_value is None:
        return []
    low = np.flatnonzero((values < min_value).to_numpy())
    return [f"{path.name} row {i + 2}: {value_column!r} = {values.iloc[i]:g} at {frame[time_column].iloc[i]} "
            f"is below {min_value:g}" + (f" ({low.size} such rows in all)" if low.size > 1 else "")
            for i in low[:1]]


def _bad_repeats(path: Path, stamps: pd.Series) -> list[str]:
    """Repeated local stamps that are not the autumn clock change (two readings, Sunday, Oct/Nov)."""
    counts = stamps.value_counts()
    repeated = counts[counts > 1]
    bad = repeated[(repeated > 2) | ~(repeated.index.month.isin((10, 11)) & (repeated.index.day_of_week == 6))]
    if bad.empty:
        return []
    stamp = bad.index.min()
    rows = (np.flatnonzero((stamps == stamp).to_numpy()) + 2).tolist()
    return [f"{path.name} rows {', '.join(map(str, rows))}: duplicate timestamp {stamp} ({bad.size} "
            "duplicated stamps in all; only the autumn clock change may repeat an hour)"]


def read_local_hourly(path: str | Path, time_column: str, value_column: str, *,
                      field_name: str = "data", min_value: float | None = None) -> pd.Series:
    """An hourly series with wall-clock (naive local) stamps, clock changes repaired by the module's policy.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    time_column, value_column : str
        Column names of the naive local timestamps and the values.
    field_name : str
        The instance field that named this file, used in error messages.
    min_value : float, optional
        Values below it are refused (loads: 0).

    Returns
    -------
    pandas.Series
        Float values on a regular hourly naive :class:`~pandas.DatetimeIndex`:
        repeated hours averaged, single missing hours interpolated.

    Raises
    ------
    InstanceError
        Missing file or column, NaN value, unparsable stamp, or a gap of more than one hour.

    Examples
    --------
    >>> load = read_local_hourly(dataset_path("pjm_dayton"), "Datetime", "DAYTON_MW")   # doctest: +SKIP
    """
    path = Path(path)
    frame = _read_columns(path, (time_column, value_column), field_name)
    stamps = pd.to_datetime(frame[time_column], errors="coerce")
    values = pd.to_numeric(frame[value_column], errors="coerce")
    problems = _row_problems(path, frame, time_column, value_column, stamps, values)
    if not problems:
        problems = _below(path, frame, time_column, value_column, values, min_value) + _bad_repeats(path, stamps)
    if problems:
        raise InstanceError(problems, f"{field_name} ({path.name})")
    series = pd.Series(values.to_numpy(float), index=pd.DatetimeIndex(stamps, name=time_column), name=value_column)
    series = series.groupby(level=0).mean().sort_index()
    step = np.diff(series.index.to_numpy()) / np.timedelta64(1, "h")
    long = np.flatnonzero(step > 2)
    if long.size:
        i = long[0]
        raise InstanceError([f"{path.name}: {int(step[i]) - 1} hours missing between {series.index[i]} and "
                             f"{series.index[i + 1]} (only single missing hours are interpolated)"
                             + (f" ({long.size} such gaps in all)" if long.size > 1 else "")],
                            f"{field_name} ({path.name})")
    return series.asfreq("h").interpolate()


def read_series_csv(path: str | Path, time_column: str, value_column: str, *,
                    freq: str | None = "h", field_name: str = "data",
                    utc: bool = True, min_value: float | None = None) -> pd.Series:
    """Read one regular time series from a CSV file, checking every row.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    time_column, value_column : str
        Column names of the timestamps and the values.
    freq : str or None
        Expected spacing (pandas offset alias); ``None`` skips the gap check.
    field_name : str
        The instance field that named this file, used in error messages.
    utc : bool
        Parse timestamps as UTC (``...Z`` strings) or leave them naive.
    min_value : float, optional
        Values below it are refused (loads: 0).

    Returns
    -------
    pandas.Series
        Float values on a sorted :class:`~pandas.DatetimeIndex` named ``time_column``.

    Raises
    ------
    InstanceError
        Naming the file and the CSV row (1-based, header = row 1) of a NaN,
        an unparsable timestamp, a duplicate or a gap; or a missing file or column.
    """
    path = Path(path)
    where = f"{field_name} ({path.name})"
    frame = _read_columns(path, (time_column, value_column), field_name)
    stamps = pd.to_datetime(frame[time_column], errors="coerce", utc=utc)
    values = pd.to_numeric(frame[value_column], errors="coerce")
    problems = _row_problems(path, frame, time_column, value_column, stamps, values)
    problems += [] if problems else _below(path, frame, time_column, value_column, values, min_value)
    if problems:
        raise InstanceError(problems, where)
    series = pd.Series(values.to_numpy(dtype=float), index=pd.DatetimeIndex(stamps, name=time_column),
                       name=value_column)
    order = np.argsort(series.index.to_numpy(), kind="stable")
    series = series.iloc[order]
    dup = series.index.duplicated()
    if dup.any():
        rows = order[np.flatnonzero(dup)] + 2
        problems.append(f"{path.name} row {rows[0]}: duplicate timestamp {series.index[dup][0]}"
                        + (f" ({dup.sum()} duplicates in all)" if dup.sum() > 1 else ""))
    if freq is not None and len(series) > 1:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq)).to_timedelta64()
        deltas = np.diff(series.index.to_numpy())
        gaps = np.flatnonzero((deltas != step) & (deltas != np.timedelta64(0)))  # dups reported above
        if gaps.size:
            i = gaps[0]
            problems.append(f"{path.name} row {order[i + 1] + 2}: gap in the {freq} series between "
                            f"{series.index[i]} and {series.index[i + 1]}"
                            + (f" ({gaps.size} gaps in all)" if gaps.size > 1 else ""))
    if problems:
        raise InstanceError(problems, where)
    return series


def daily_means(path: str | Path, time_column: str, value_column: str, days: pd.DatetimeIndex, *,
                field_name: str = "data", min_hours: int = 23) -> np.ndarray:
    """The mean value of each local calendar day in ``days``; a partial day is refused.

    The day of a reading is the date written in its stamp (``2022-01-01T05:00:00+01:00``
    belongs to 1 January whatever the offset), so local-time files keep their days.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    time_column, value_column : str
        Column names of the (local) timestamps and the values.
    days : DatetimeIndex
        The wanted days.
    field_name : str
        The instance field that named this file, used in error messages.
    min_hours : int
        Fewest readings a complete day has (23: the spring clock-change day).

    Raises
    ------
    InstanceError
        Missing file or column, a NaN or unparsable stamp (by row), a day with no
        readings or fewer than ``min_hours`` (naming the day and its count).

    Examples
    --------
    >>> a0 = daily_means(dataset_path("prices_be"), "hour_start_local", "price_eur_per_mwh",
    ...                  pd.date_range("2022-01-03", periods=7))                 # doctest: +SKIP
    """
    path = Path(path)
    frame = _read_columns(path, (time_column, value_column), field_name)
    text = frame[time_column].astype(str)
    stamps = pd.to_datetime(text.str[:19], errors="coerce")
    values = pd.to_numeric(frame[value_column], errors="coerce")
    day_of = text.str[:10]
    wanted = [d.strftime("%Y-%m-%d") for d in days]
    rows = day_of.isin(wanted)
    # only the wanted days' rows are checked (row numbers stay the file's)
    problems = _row_problems(path, frame, time_column, value_column, stamps.where(rows, pd.Timestamp(0)),
                             values.where(rows, 0.0))
    counts = day_of[rows].value_counts()
    for day in wanted:
        n = int(counts.get(day, 0))
        if n < min_hours:
            problems.append(f"{path.name}: {day} has {n} hourly readings of {value_column!r}; a complete day "
                            f"has at least {min_hours} (a daily mean of a partial day is refused)")
    if problems:
        raise InstanceError(problems, f"{field_name} ({path.name})")
    return np.array([values[(day_of == day).to_numpy()].mean() for day in wanted])


def _cell(value: object) -> str:
    """A CSV cell as the user wrote it: ``blank``, ``nan`` or ``'abc'`` (no ``np.float64(...)`` repr)."""
    if isinstance(value, str):
        return repr(value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "blank or nan"
    return str(value)
