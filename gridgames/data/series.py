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
  kept the first reading: up to 59 MW apart on the repeated hours).  Stamps
  with UTC offsets (``2017-11-05T01:00:00-04:00``) are read at the wall-clock
  time they write; all stamps of a file have an offset or none does.
* **Household files** (:mod:`gridgames.data.households`): turned into complete
  local days only; a day with a missing, repeated or NaN hour is left out.
* **Values below a floor**: a reader given ``min_value`` (loads: 0) refuses any
  value below it, naming the row (a negative load is a data error, not a
  forecastable value).
* **Daily means** (``daily_means``; the RTP clearing price): a day is averaged
  only when it has exactly its local-clock hours (23, 24 or 25 on clock-change
  days), each once; a day with a missing or repeated hour is an error naming
  the day and the hour.  Stamps with UTC offsets tell a clock-change day by
  themselves; stamps without need the file's time zone (``tz``), or every
  day must have the 24 hours 00-23.
* **Repeated local stamps** (naive stamps) are the autumn clock change only:
  exactly two readings of the repeated hour of that year's fall-back night in
  the file's time zone (``tz``; the stamp of the hour's start, or of its end
  for hour-ending files such as PJM's), one such stamp per night.  With UTC
  offsets a repeated wall-clock stamp must name two different instants.  Any
  other duplicate is an error naming the rows.
"""
from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from gridgames.data.errors import InstanceError

log = logging.getLogger(__name__)

#: Time zone of naive local-clock stamps unless a reader is told otherwise: the shipped local-clock
#: file (PJM Dayton) is US Eastern.
LOCAL_TZ = "America/New_York"

#: A UTC offset (or ``Z``) right after a time of day, at the end of a stamp (``...01:00:00-05:00``).
_OFFSET = r"(?<=\d:\d\d)(?::\d\d(?:\.\d*)?)?\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)$"
#: The same, splitting the stamp into its wall-clock part (group 1) and the offset.
_WALL = r"^(.*\d:\d\d(?::\d\d(?:\.\d*)?)?)\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)$"


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


def _zone(tz: str, where: str) -> ZoneInfo:
    """``tz`` as a :class:`~zoneinfo.ZoneInfo`; an InstanceError naming ``where`` when it is not an IANA name."""
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise InstanceError([f"{where}: unknown time zone {tz!r} (an IANA name such as 'America/New_York')"],
                            where) from None


def _ambiguous(stamp: pd.Timestamp, zone: ZoneInfo) -> bool:
    """True when the naive wall-clock ``stamp`` happens twice in ``zone`` (the fall-back hour)."""
    wall = stamp.to_pydatetime()
    return wall.replace(tzinfo=zone, fold=0).utcoffset() > wall.replace(tzinfo=zone, fold=1).utcoffset()


def _fall_back_stamp(stamp: pd.Timestamp, zone: ZoneInfo) -> bool:
    """True when ``stamp`` labels the repeated hour of a fall-back night in ``zone``.

    The label is the hour's start (hour-beginning files) or its end (hour-ending files:
    PJM writes the repeated US hour 01:00-02:00 as ``02:00``).
    """
    return _ambiguous(stamp, zone) or _ambiguous(stamp - pd.Timedelta(hours=1), zone)


def _bad_repeats(path: Path, stamps: pd.Series, zone: ZoneInfo) -> list[str]:
    """Repeated naive stamps that are not the autumn clock change of ``zone``.

    Allowed: two readings of each stamp of the fall-back hour (:func:`_fall_back_stamp`; four stamps
    in a 15-minute file), one such hour per night.  Anything else is named by its CSV rows (header = row 1).
    """
    counts = stamps.value_counts()
    repeated = counts[counts > 1].sort_index()
    ok = np.array([n == 2 and _fall_back_stamp(t, zone) for t, n in repeated.items()], dtype=bool)
    allowed = repeated.index[ok]
    hours = pd.Series(allowed.floor("h")).groupby(allowed.normalize()).transform("nunique")
    ok[ok] = (hours == 1).to_numpy()      # repeated stamps of two different hours in one night: none is
    bad = repeated.index[~ok]
    if bad.empty:
        return []
    stamp = bad.min()
    rows = (np.flatnonzero((stamps == stamp).to_numpy()) + 2).tolist()
    return [f"{path.name} rows {', '.join(map(str, rows))}: duplicate timestamp {stamp} ({bad.size} "
            f"duplicated stamps in all; only the repeated hour of the autumn clock change in {zone.key} may "
            "appear twice)"]


def _wall_clock(path: Path, frame: pd.DataFrame, time_column: str) -> tuple[pd.Series, pd.Series | None, list[str]]:
    """The naive wall-clock stamps of a local-time column, and their UTC instants when the stamps carry offsets.

    Returns
    -------
    wall : Series
        Naive stamps (NaT where unparsable): the time written, offset left out.
    utc : Series or None
        The instants (``None`` when no stamp has an offset).
    problems : list of str
        Stamps with and without offsets mixed in one file (naming the first row of the fewer kind).
    """
    text = frame[time_column].astype(str).str.strip()
    marked = text.str.contains(_OFFSET, regex=True)
    if not marked.any():
        return pd.to_datetime(text.where(frame[time_column].notna()), errors="coerce"), None, []
    if not marked.all():
        odd = ~marked if marked.sum() >= (~marked).sum() else marked
        i = odd.index[odd.to_numpy()][0]              # frame rows keep the file's RangeIndex labels
        kind = "has no UTC offset" if odd is not marked else "has a UTC offset"
        return (pd.Series(pd.NaT, index=frame.index), None,
                [f"{path.name} row {i + 2}: timestamp {_cell(frame[time_column].loc[i])} {kind}, unlike "
                 f"{int(odd.size - odd.sum())} other rows (all stamps need an offset, or none)"])
    utc = pd.to_datetime(text, utc=True, errors="coerce")
    wall = pd.to_datetime(text.str.replace(_WALL, r"\1", regex=True), errors="coerce")
    return wall.where(utc.notna()), utc, []


def _same_instants(path: Path, frame: pd.DataFrame, time_column: str, utc: pd.Series) -> list[str]:
    """Stamps with offsets naming one instant twice (a true duplicate, not a clock change), by CSV row."""
    dup = utc.duplicated(keep=False).to_numpy()
    if not dup.any():
        return []
    first = utc[dup].min()
    rows = (np.flatnonzero((utc == first).to_numpy()) + 2).tolist()
    return [f"{path.name} rows {', '.join(map(str, rows))}: duplicate timestamp "
            f"{frame[time_column].iloc[rows[0] - 2]} (the same instant {first} more than once; "
            f"{int(utc[dup].nunique())} such instants in all)"]


def read_local_hourly(path: str | Path, time_column: str, value_column: str, *,
                      field_name: str = "data", min_value: float | None = None, tz: str = LOCAL_TZ) -> pd.Series:
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
    tz : str
        IANA time zone of naive stamps: only the repeated hour of its autumn clock change may
        appear twice (default :data:`LOCAL_TZ`, the shipped PJM file's).  Stamps with UTC
        offsets need no zone: a repeated wall-clock stamp must name two different instants.

    Returns
    -------
    pandas.Series
        Float values on a regular hourly naive (wall-clock) :class:`~pandas.DatetimeIndex`:
        repeated hours averaged, readings within an hour (15-minute data) averaged to it
        (a mean power: kW, MW; energy per interval must be converted first; an hour with
        fewer readings than most is missing), single missing hours interpolated.

    Raises
    ------
    InstanceError
        Missing file or column, NaN value, unparsable stamp, a duplicate other than the
        autumn clock change, stamps with and without UTC offsets mixed, or a gap of more
        than one hour.

    Examples
    --------
    >>> load = read_local_hourly(dataset_path("pjm_dayton"), "Datetime", "DAYTON_MW")   # doctest: +SKIP
    """
    path = Path(path)
    zone = _zone(tz, f"{field_name} ({path.name})")
    frame = _read_columns(path, (time_column, value_column), field_name)
    stamps, utc, problems = _wall_clock(path, frame, time_column)
    values = pd.to_numeric(frame[value_column], errors="coerce")
    if not problems:
        problems = _row_problems(path, frame, time_column, value_column, stamps, values)
    if not problems:
        repeats = (_bad_repeats(path, stamps, zone) if utc is None
                   else _same_instants(path, frame, time_column, utc))
        problems = _below(path, frame, time_column, value_column, values, min_value) + repeats
    if problems:
        raise InstanceError(problems, f"{field_name} ({path.name})")
    index = pd.DatetimeIndex(stamps, name=time_column)
    series = pd.Series(values.to_numpy(float), index=index, name=value_column)
    # readings within an hour (15-minute data) are averaged to it, as repeated hours are: a mean power (kW, MW);
    # an hour with fewer readings than most hours have is missing (a single one is interpolated, below)
    hourly = series.groupby(index.floor("h"))
    counts = hourly.size()
    series = hourly.mean()[counts >= counts.mode().iloc[0]].sort_index()
    series.index.name = time_column
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
        Parse timestamps as UTC instants, each written with its offset (``...Z``,
        ``...+01:00``; a stamp without one is refused: read as UTC it would shift
        local readings silently), or leave them naive.
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
    if utc:
        text = frame[time_column].astype(str).str.strip()
        naive = frame[time_column].notna() & ~text.str.contains(_OFFSET, regex=True)
        if naive.any():   # only those that parse (an unparsable stamp is named below)
            naive[naive] = pd.to_datetime(text[naive], errors="coerce", format="mixed").notna().to_numpy(bool)
        if naive.any():   # parsed as UTC they would shift every reading by the local offset, silently
            i = naive.index[naive.to_numpy()][0]
            raise InstanceError([f"{path.name} row {i + 2}: timestamp {_cell(frame[time_column].loc[i])} has no UTC "
                                 f"offset ({int(naive.sum())} such rows): {field_name} reads UTC instants, written "
                                 "with their offset ('2019-01-01T00:00:00Z', '2019-01-01T01:00:00+01:00'); local "
                                 "wall-clock stamps need their time zone (gridgames forecast: --local-time TZ; an "
                                 "instance file: convert them)"], where)
        stamps = pd.to_datetime(frame[time_column], errors="coerce", utc=True)
    else:
        wall, instants, problems = _wall_clock(path, frame, time_column)
        if problems or (instants is not None and instants.notna().any()
                        and (wall - instants.dt.tz_localize(None)).nunique() > 1):
            raise InstanceError(problems or [f"{path.name}: the timestamps of {time_column!r} carry different "
                                             "UTC offsets; a series read without utc needs one offset or none"],
                                where)
        stamps = pd.to_datetime(frame[time_column], errors="coerce")
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
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(freq))
        deltas = series.index[1:] - series.index[:-1]      # a TimedeltaIndex, tz-aware index or not
        gaps = np.flatnonzero((deltas != step) & (deltas != pd.Timedelta(0)))  # dups reported above
        short = np.flatnonzero((deltas < step) & (deltas != pd.Timedelta(0)))
        if short.size:
            i = short[0]
            problems.append(f"{path.name} row {order[i + 1] + 2}: readings {deltas[i]} apart ({series.index[i]}, "
                            f"{series.index[i + 1]}; {short.size} such steps), closer than the series' {freq} "
                            "spacing: average the data to that step first")
        elif gaps.size:
            i = gaps[0]
            problems.append(f"{path.name} row {order[i + 1] + 2}: gap in the {freq} series between "
                            f"{series.index[i]} and {series.index[i + 1]}"
                            + (f" ({gaps.size} gaps in all)" if gaps.size > 1 else ""))
    if problems:
        raise InstanceError(problems, where)
    return series


def _offset_day(day: str, wall: pd.Series, utc: pd.Series, rows: np.ndarray) -> list[str]:
    """What keeps ``day`` (readings at file rows ``rows``, stamps with UTC offsets) from being complete.

    Complete: the readings are distinct instants one hour apart, from local 00:00 to 23:00
    (so 23, 24 or 25 of them: the offsets tell a clock-change day).
    """
    inst = utc.iloc[rows]
    dup = inst.duplicated(keep=False).to_numpy()
    if dup.any():
        twice = rows[dup]
        return [f"the reading of {wall.iloc[twice[0]]} (UTC {inst.iloc[int(np.flatnonzero(dup)[0])]}) more than "
                f"once (rows {', '.join(str(r + 2) for r in twice[:4])})"]
    order = np.argsort(inst.to_numpy(), kind="stable")
    at, local = inst.iloc[order], wall.iloc[rows[order]]
    out = []
    if local.iloc[0].strftime("%H:%M") != "00:00":
        out.append(f"nothing from 00:00 until {local.iloc[0].strftime('%H:%M')}")
    step = (at.iloc[1:].to_numpy() - at.iloc[:-1].to_numpy()) / pd.Timedelta(hours=1)
    for k in np.flatnonzero(step != 1.0)[:3]:
        out.append(f"{local.iloc[k]} and {local.iloc[k + 1]} are {step[k]:g} h apart, not 1 h")
    if local.iloc[-1].strftime("%H:%M") != "23:00":
        out.append(f"nothing after {local.iloc[-1].strftime('%H:%M')}")
    return out


def _naive_day(day: str, wall: pd.Series, rows: np.ndarray, tz: str | None) -> list[str]:
    """What keeps ``day`` (naive wall-clock readings at file rows ``rows``) from being complete.

    Complete: each wall-clock hour of the day in ``tz`` once, the repeated autumn hour twice
    (23, 24 or 25 readings); without ``tz``, the 24 hours 00:00-23:00 once each.
    """
    start = pd.Timestamp(day)
    if tz is None:
        expected = pd.date_range(start, periods=24, freq="h")
    else:
        ends = [t.tz_localize(tz, ambiguous=True, nonexistent="shift_forward").tz_convert("UTC")
                for t in (start, start + pd.Timedelta(days=1))]          # hours counted in UTC
        expected = pd.date_range(*ends, freq="h", inclusive="left").tz_convert(tz).tz_localize(None)
    got = pd.Series(wall.iloc[rows].to_numpy(), index=rows + 2)
    want, have = pd.Series(expected).value_counts(), got.value_counts()
    missing = [t for t in want.index.sort_values() if have.get(t, 0) < want[t]]
    extra = [t for t in have.index.sort_values() if have[t] > want.get(t, 0)]
    out = [f"no reading of {t.strftime('%H:%M')}" for t in missing[:3]]
    out += [f"{have[t]} readings of {t} (rows {', '.join(map(str, got.index[got == t][:4]))})" for t in extra[:3]]
    return out


def daily_means(path: str | Path, time_column: str, value_column: str, days: pd.DatetimeIndex, *,
                field_name: str = "data", tz: str | None = None) -> np.ndarray:
    """The mean value of each local calendar day in ``days``; a day that is not complete is refused.

    The day of a reading is the date written in its stamp (``2022-01-01T05:00:00+01:00``
    belongs to 1 January whatever the offset), so local-time files keep their days.  A
    complete day has exactly its local-clock hours, each once: 24, or 23 / 25 on a
    clock-change day.  Stamps with UTC offsets show a clock change by themselves (the
    readings must be distinct instants one hour apart from 00:00 to 23:00); naive stamps
    need ``tz`` to allow one (without it every day must have the 24 hours 00:00-23:00).

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
    tz : str, optional
        IANA time zone of naive stamps (not needed for stamps with UTC offsets).

    Raises
    ------
    InstanceError
        Missing file or column, a NaN or unparsable stamp (by row), stamps with and
        without offsets mixed, a day with no readings, a missing hour, or a repeated
        hour (naming the day, its count and the hour or rows).

    Examples
    --------
    >>> a0 = daily_means(dataset_path("prices_be"), "hour_start_local", "price_eur_per_mwh",
    ...                  pd.date_range("2022-01-03", periods=7))                 # doctest: +SKIP
    """
    path = Path(path)
    where = f"{field_name} ({path.name})"
    if tz is not None:
        tz = _zone(tz, where).key
    frame = _read_columns(path, (time_column, value_column), field_name)
    text = frame[time_column].astype(str).str.strip()
    values = pd.to_numeric(frame[value_column], errors="coerce")
    day_of = text.str[:10]
    wanted = [d.strftime("%Y-%m-%d") for d in days]
    rows = day_of.isin(wanted)
    # only the wanted days' rows are checked (row numbers stay the file's)
    wall, utc, problems = _wall_clock(path, frame[rows.to_numpy()], time_column)
    wall = wall.reindex(frame.index)
    utc = None if utc is None else utc.reindex(frame.index)
    if not problems:
        problems = _row_problems(path, frame, time_column, value_column, wall.where(rows, pd.Timestamp(0)),
                                 values.where(rows, 0.0))
    if problems:
        raise InstanceError(problems, where)
    for day in wanted:
        at = np.flatnonzero((day_of == day).to_numpy())
        if at.size == 0:
            problems.append(f"{path.name}: {day} has 0 hourly readings of {value_column!r} (a daily mean of a "
                            "missing day is refused)")
            continue
        why = _naive_day(day, wall, at, tz) if utc is None else _offset_day(day, wall, utc, at)
        if why:
            hint = ("; the stamps carry no UTC offset and no time zone is known: name the file's zone (RTP: "
                    "[data].price_timezone) or write offsets in the stamps"
                    if utc is None and tz is None and 23 <= at.size <= 25 else "")
            problems.append(f"{path.name}: {day} has {at.size} hourly readings of {value_column!r}, not its "
                            f"local-clock hours once each: {'; '.join(why)} (a daily mean of an incomplete day is "
                            f"refused{hint})")
    if problems:
        raise InstanceError(problems, where)
    return np.array([values.iloc[np.flatnonzero((day_of == day).to_numpy())].mean() for day in wanted])


def _cell(value: object) -> str:
    """A CSV cell as the user wrote it: ``blank``, ``nan`` or ``'abc'`` (no ``np.float64(...)`` repr)."""
    if isinstance(value, str):
        return repr(value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "blank or nan"
    return str(value)
