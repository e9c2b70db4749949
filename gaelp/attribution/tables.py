"""Reading real logs: CSV / Parquet files, timestamps and row validation.

Two layouts are accepted (`gaelp.attribution.events` turns validated events into paths):

* **events**: one row per event, columns `event_id`, `timestamp`, `user_id`, `channel`,
  `event_type` (`impression`, `click` or `conversion`, case-insensitive), `cost`, `value`;
  optional `campaign` and `device_id` (carried along, not used: journeys are keyed by `user_id`).
* **paths**: the path table of the common attribution tools: `path` (channels joined by `" > "`),
  `total_conversions`, and optionally `total_conversion_value` and `total_null` (0 when absent).

Timestamps are ISO 8601 with a trailing `Z` or a UTC offset (`2024-05-01T09:30:00+02:00`) or epoch
seconds; a time without a zone is refused rather than guessed. Empty `cost` / `value` mean 0.

Bad rows are never dropped silently: each gets a reason, and the caller either fails on them
(`BadRowsError` lists row numbers and reasons) or, with `skip_bad=True`, receives them as a
rejects table. Row numbers count data rows from 1; in a CSV, row N is on line N + 1.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from gaelp.attribution.paths import Paths

EVENT_COLUMNS = ("event_id", "timestamp", "user_id", "channel", "event_type", "cost", "value")
PATH_COLUMNS = ("path", "total_conversions")
EVENT_TYPES = ("impression", "click", "conversion")
# A time of day followed by a zone: "T10:00Z", " 10:00:00.5+02:00", "T10:00:00-0500".
_ZONE = re.compile(r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
# An ISO 8601 date or date-time without a zone, which we refuse to guess.
_NAIVE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", re.IGNORECASE)
# Epoch seconds beyond this (year 5138) are almost surely milliseconds.
_EPOCH_MAX = 1e11
_SHOWN_ERRORS = 10


class BadRowsError(ValueError):
    """Input rows that cannot be used; `rejects` holds them with `row` and `reason` columns."""

    def __init__(self, rejects: pd.DataFrame) -> None:
        self.rejects = rejects
        lines = [
            f"row {r}: {why}" for r, why in zip(rejects["row"], rejects["reason"], strict=True)
        ]
        more = len(lines) - _SHOWN_ERRORS
        shown = lines[:_SHOWN_ERRORS] + ([f"... and {more} more"] if more > 0 else [])
        super().__init__(f"{len(lines)} bad row(s):\n  " + "\n  ".join(shown))


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV (all columns as text, so validation sees what was written) or Parquet file."""
    path = Path(path)
    suffixes = "".join(path.suffixes[-2:]).lower()
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix.lower() == ".csv" or suffixes in (".csv.gz", ".csv.zst", ".csv.bz2"):
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    raise ValueError(f"{path}: unknown file type {path.suffix!r}; use .csv or .parquet")


class RowErrors:
    """Collects reasons per row; a row with any reason is bad."""

    def __init__(self, n: int) -> None:
        self.reasons: defaultdict[int, list[str]] = defaultdict(list)
        self.bad = np.zeros(n, dtype=bool)

    def flag(self, mask: np.ndarray, values: np.ndarray | pd.Series | None, message: str) -> None:
        """Mark rows in `mask` bad; `message` may use `{v}` for the row's value (repr'd)."""
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return
        shown = None if values is None else np.asarray(values, dtype=object)[rows]
        for k, i in enumerate(rows):  # bad rows only: normally none or a few
            self.reasons[int(i)].append(message.format(v="" if shown is None else repr(shown[k])))
        self.bad[rows] = True

    def merge(self, other: RowErrors, mask: np.ndarray) -> None:
        """Take `other`'s reasons for the rows in `mask`."""
        for i in np.flatnonzero(other.bad & mask):
            self.reasons[int(i)].extend(other.reasons[int(i)])
        self.bad |= other.bad & mask

    def rejects(self, df: pd.DataFrame) -> pd.DataFrame:
        idx = np.flatnonzero(self.bad)
        out = df.iloc[idx].reset_index(drop=True)
        out.insert(0, "reason", ["; ".join(self.reasons[i]) for i in idx])
        out.insert(0, "row", idx + 1)
        return out


def text_column(col: pd.Series) -> np.ndarray:
    """Column as stripped strings, missing values as ''."""
    return col.astype(object).where(col.notna(), "").astype(str).str.strip().to_numpy()


def _mask(n: int, idx: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[idx] = True
    return out


def _epoch_seconds(col: pd.Series) -> np.ndarray:
    """Seconds since 1970 of a time-zone-aware datetime column, whatever its unit (NaN if NaT)."""
    delta = col.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")
    return delta.dt.total_seconds().to_numpy(dtype=np.float64, na_value=np.nan)


def parse_timestamps(col: pd.Series, errors: RowErrors, name: str = "timestamp") -> np.ndarray:
    """Parse a timestamp column to epoch seconds, flagging bad rows in `errors`.

    Accepts ISO 8601 with a zone, epoch seconds, or a time-zone-aware datetime column.

    Returns:
        (n,) float64 epoch seconds, NaN where bad.
    """
    n = len(col)
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        errors.flag(col.isna().to_numpy(), None, f"missing {name}")
        return _epoch_seconds(col)
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        raise ValueError(f"column {name!r} holds times without a time zone; store UTC times")
    text = text_column(col)
    secs = np.full(n, np.nan)
    empty = text == ""
    errors.flag(empty, None, f"missing {name}")
    numeric = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
    is_num = ~np.isnan(numeric) & ~empty
    in_range = is_num & (numeric >= 0) & (numeric < _EPOCH_MAX)
    errors.flag(is_num & ~in_range, text, f"{name} {{v}} is out of range for epoch seconds")
    secs[in_range] = numeric[in_range]
    rest = np.flatnonzero(~empty & ~is_num)
    if rest.size:
        candidate = pd.Series(text[rest])
        has_zone = candidate.str.contains(_ZONE).to_numpy(dtype=bool)
        naive = ~has_zone & candidate.str.match(_NAIVE).to_numpy(dtype=bool)
        errors.flag(_mask(n, rest[naive]), text, f"{name} {{v}} has no time zone (add Z or +hh:mm)")
        zoned = rest[has_zone]
        upper = candidate[has_zone].str.upper()  # pandas wants "T" and "Z"
        parsed = pd.to_datetime(upper, format="ISO8601", utc=True, errors="coerce")
        ok = parsed.notna().to_numpy()
        secs[zoned[ok]] = _epoch_seconds(parsed[ok])
        unparsed = _mask(n, np.concatenate([zoned[~ok], rest[~has_zone & ~naive]]))
        errors.flag(unparsed, text, f"{name} {{v}} is not ISO 8601 nor epoch seconds")
    return secs


def parse_numbers(col: pd.Series | None, n: int, errors: RowErrors, name: str) -> np.ndarray:
    """Non-negative finite float64 column; empty means 0; bad rows are flagged in `errors`."""
    if col is None:
        return np.zeros(n)
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        vals = col.to_numpy(dtype=np.float64, na_value=0.0)
        text = vals
    else:
        text = text_column(col)
        vals = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
        not_number = np.isnan(vals) & (text != "")
        errors.flag(not_number, text, f"{name} {{v}} is not a number")
        vals = np.where(text == "", 0.0, vals)
    bad_inf = np.isinf(vals)
    errors.flag(bad_inf, text, f"{name} {{v}} is not finite")
    errors.flag(vals < 0, text, f"negative {name} {{v}}")
    return np.where(np.isfinite(vals) & (vals >= 0), vals, 0.0)


def _require(df: pd.DataFrame, columns: tuple[str, ...], kind: str, hint: str = "") -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{kind} input is missing column(s) {', '.join(missing)}; it has "
            f"{', '.join(map(str, df.columns)) or 'none'}{hint}"
        )


@dataclass(frozen=True, slots=True, eq=False)
class EventTable:
    """Validated events (good rows only), in input order.

    Attributes:
        user: (n,) int64 user codes.
        t_hours: (n,) float64 hours since `t0_seconds` (the earliest event).
        is_conversion: (n,) bool.
        channel: (n,) int64 codes into `channels`; -1 on conversions.
        channels: Touch channel names, sorted.
        value: (n,) float64 conversion value (0 on touches).
        cost: (n,) float64.
        event_key: (n,) int64 rank of `event_id`, a tie-break that ignores row order.
        row: (n,) int64 1-based input row of each event.
        t0_seconds: Epoch seconds of hour 0.

    """

    user: np.ndarray
    t_hours: np.ndarray
    is_conversion: np.ndarray
    channel: np.ndarray
    channels: tuple[str, ...]
    value: np.ndarray
    cost: np.ndarray
    event_key: np.ndarray
    row: np.ndarray
    t0_seconds: float


@dataclass(frozen=True, slots=True, eq=False)
class ParsedEvents:
    """Validated events and the rejected rows (`row`, `reason`, then the input columns)."""

    events: EventTable
    rejects: pd.DataFrame


def parse_events(df: pd.DataFrame, skip_bad: bool = False) -> ParsedEvents:
    """Validate an event table.

    Args:
        df: Events (see module docstring for columns).
        skip_bad: If False, any bad row raises `BadRowsError`; if True, bad rows are returned
            in `rejects` and left out of `events`.

    Raises:
        ValueError: A required column is missing (or a zone-less datetime column).
        BadRowsError: Bad rows and `skip_bad` is False.

    """
    hint = "; is this a path table? (use the paths format)" if "path" in df.columns else ""
    _require(df, EVENT_COLUMNS, "events", hint)
    n = len(df)
    errors = RowErrors(n)
    event_id, user_id = text_column(df["event_id"]), text_column(df["user_id"])
    errors.flag(event_id == "", None, "missing event_id")
    errors.flag(user_id == "", None, "missing user_id")
    kind = np.char.lower(text_column(df["event_type"]).astype(str))
    errors.flag(
        ~np.isin(kind, EVENT_TYPES),
        text_column(df["event_type"]),
        "unknown event_type {v} (allowed: " + ", ".join(EVENT_TYPES) + ")",
    )
    channel = text_column(df["channel"])
    is_conv = kind == "conversion"
    errors.flag(
        ~is_conv & np.isin(kind, EVENT_TYPES) & (channel == ""), kind, "missing channel on {v}"
    )
    secs = parse_timestamps(df["timestamp"], errors)
    cost = parse_numbers(df["cost"], n, errors, "cost")
    value = parse_numbers(df["value"], n, errors, "value")
    first_row = pd.Series(np.arange(n)).groupby(event_id).transform("min").to_numpy()
    dup = (first_row != np.arange(n)) & (event_id != "")
    errors.flag(dup, first_row + 1, "duplicate event_id (first seen at row {v})")

    rejects = errors.rejects(df)
    if rejects.shape[0] and not skip_bad:
        raise BadRowsError(rejects)
    good = ~errors.bad
    touch_names = np.unique(channel[good & ~is_conv])
    ch_code = np.where(is_conv, -1, np.searchsorted(touch_names, channel))
    t0 = float(secs[good].min()) if good.any() else 0.0
    events = EventTable(
        user=pd.factorize(user_id[good], sort=True)[0].astype(np.int64),
        t_hours=(secs[good] - t0) / 3600.0,
        is_conversion=is_conv[good],
        channel=ch_code[good].astype(np.int64),
        channels=tuple(str(c) for c in touch_names),
        value=np.where(is_conv, value, 0.0)[good],
        cost=cost[good],
        event_key=pd.factorize(event_id[good], sort=True)[0].astype(np.int64),
        row=np.flatnonzero(good).astype(np.int64) + 1,
        t0_seconds=t0,
    )
    return ParsedEvents(events, rejects)


@dataclass(frozen=True, slots=True, eq=False)
class ParsedPathTable:
    """Paths from the good rows and the rejected rows (`row`, `reason`, then the input columns)."""

    paths: Paths
    rejects: pd.DataFrame


def parse_path_table(df: pd.DataFrame, skip_bad: bool = False) -> ParsedPathTable:
    """Validate a path table and build `Paths` (one path per good row, in row order).

    Channel names are trimmed, so `"a>b"` and `"a > b"` are the same path; channel codes follow
    the sorted channel names.

    Raises:
        ValueError: A required column is missing.
        BadRowsError: Bad rows (empty path or channel name, bad or negative counts) and
            `skip_bad` is False.

    """
    import pyarrow as pa
    import pyarrow.compute as pc

    hint = "; is this an event log? (use the events format)" if "event_type" in df.columns else ""
    _require(df, PATH_COLUMNS, "paths", hint)
    n = len(df)
    errors = RowErrors(n)
    conversions = parse_numbers(df["total_conversions"], n, errors, "total_conversions")
    value = parse_numbers(df.get("total_conversion_value"), n, errors, "total_conversion_value")
    nulls = parse_numbers(df.get("total_null"), n, errors, "total_null")
    # Split, trim and encode every path at once in Arrow: no Python string per touch.
    raw = pa.array(df["path"].astype(object), from_pandas=True)
    raw = raw if pa.types.is_string(raw.type) else pc.cast(raw, pa.string())
    path_text = pc.fill_null(pc.utf8_trim_whitespace(raw), "")
    parts = pc.split_pattern(path_text, ">")
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False).astype(np.int64)
    names = pc.utf8_trim_whitespace(pc.list_flatten(parts)).dictionary_encode()
    row_of = np.repeat(np.arange(n), lengths)
    empty_path = pc.equal(path_text, "").to_numpy(zero_copy_only=False)
    errors.flag(empty_path, None, "empty path")
    empty_name = np.zeros(n, dtype=bool)
    empty_name[row_of[pc.equal(names, "").to_numpy(zero_copy_only=False)]] = True
    errors.flag(
        empty_name & ~empty_path,
        path_text.to_numpy(zero_copy_only=False) if empty_name.any() else None,
        "empty channel name in path {v}",
    )

    rejects = errors.rejects(df)
    if rejects.shape[0] and not skip_bad:
        raise BadRowsError(rejects)
    good = ~errors.bad
    keep = good[row_of]
    # Codes follow sorted channel names among the good rows, as np.unique would give.
    dictionary = np.asarray(names.dictionary.to_pylist(), dtype=object)
    index = names.indices.to_numpy(zero_copy_only=False)[keep]
    used = np.flatnonzero(np.bincount(index, minlength=len(dictionary)))
    used = used[np.argsort(dictionary[used].astype(str), kind="stable")]
    rank = np.full(len(dictionary), -1, dtype=np.int64)
    rank[used] = np.arange(len(used))
    new_id = np.cumsum(good) - 1
    paths = Paths(
        channels=tuple(str(c) for c in dictionary[used]),
        path_id=new_id[row_of[keep]].astype(np.int64),
        channel=rank[index],
        conversions=conversions[good],
        value=value[good],
        nulls=nulls[good],
    )
    return ParsedPathTable(paths, rejects)
