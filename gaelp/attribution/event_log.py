"""Validating an event log at scale: every check is an Arrow kernel or an integer array operation.

The columns and the rules are those of `gaelp.attribution.tables` (events layout). What makes a
10-million-row log quick is that no step sorts or hashes Python strings row by row:

* text columns (`user_id`, `channel`, `event_type`, `event_id`) are dictionary-encoded by Arrow (one
  hash pass in C++); trimming, lower-casing and sorting then touch only the distinct values, and
  every row carries an integer code;
* user codes follow the sorted user ids and channel codes the sorted channel names, as before, so
  journeys and credits are the same to the bit;
* `event_id` only breaks ties: it is compared for the few events of one user at the same instant
  and of the same kind, never sorted as a whole column; duplicates are found from the codes;
* timestamp columns of Arrow's timestamp type are read as integers; text timestamps go through the
  ISO 8601 parser of `tables`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gaelp.attribution.tables import (
    BadRowsError,
    RowErrors,
    Table,
    _require,
    as_arrow,
    check_numbers,
    check_time_range,
    parse_numbers,
    parse_timestamps,
)

EVENT_COLUMNS = ("event_id", "timestamp", "user_id", "channel", "event_type", "cost", "value")
EVENT_TYPES = ("impression", "click", "conversion")


@dataclass(frozen=True, slots=True, eq=False)
class EventTable:
    """Validated events (good rows only), in input order.

    Attributes:
        user: (n,) int64 user codes (in the order of the sorted user ids).
        t_hours: (n,) float64 hours since `t0_seconds` (the earliest event).
        is_conversion: (n,) bool.
        channel: (n,) int64 codes into `channels`; -1 on conversions.
        channels: Touch channel names, sorted.
        value: (n,) float64 conversion value (0 on touches).
        cost: (n,) float64.
        event_key: (n,) int64 tie-break that ignores row order: events of one user at the same time
            and of the same kind are ordered by it (the rank of their `event_id`); 0 elsewhere.
        row: (n,) int64 1-based input row of each event.
        t0_seconds: Epoch seconds of hour 0.
        order: (n,) int64 the events sorted by user, time, kind (touches first) and `event_key`,
            if the parser computed it already; None otherwise.

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
    order: np.ndarray | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ParsedEvents:
    """Validated events and the rejected rows (`row`, `reason`, then the input columns)."""

    events: EventTable
    rejects: pd.DataFrame


def encode_text(col: pa.ChunkedArray | pa.Array, name: str) -> tuple[np.ndarray, pa.Array]:
    """Codes of a text column's trimmed values; codes follow the sorted values.

    Returns:
        codes: (n,) int64 code of each row (nulls read as "").
        values: the distinct trimmed values, sorted (Arrow strings); `values[codes]` is the column.
    """
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        try:
            col = pc.cast(col, pa.string())
        except pa.ArrowException:
            raise ValueError(f"column {name!r} holds {col.type}, not text or numbers") from None
    encoded = pc.fill_null(col, "").dictionary_encode()
    trimmed = pc.utf8_trim_whitespace(encoded.dictionary).dictionary_encode()  # distinct values only
    order = pc.array_sort_indices(trimmed.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    to_sorted = rank[trimmed.indices.to_numpy(zero_copy_only=False)]
    codes = to_sorted[encoded.indices.to_numpy(zero_copy_only=False)]
    return codes, trimmed.dictionary.take(pa.array(order))


def _dense(codes: np.ndarray, keep: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Renumber `codes[keep]` 0..k-1 in code order; also returns the codes used."""
    used = np.flatnonzero(np.bincount(codes[keep], minlength=size))
    new = np.full(size, -1, dtype=np.int64)
    new[used] = np.arange(used.size)
    return new[codes[keep]], used


def _seconds(col: pa.ChunkedArray, errors: RowErrors) -> np.ndarray:
    """Epoch seconds of the timestamp column (NaN where bad)."""
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            raise ValueError("column 'timestamp' holds times without a time zone; store UTC times")
        per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[col.type.unit]
        missing = col.is_null().to_numpy(zero_copy_only=False)
        errors.flag(missing, None, "missing timestamp")
        ticks = pc.fill_null(col.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
        secs = np.where(missing, np.nan, ticks / per_second)
        shown = np.asarray(pc.cast(col, pa.string()).to_numpy(zero_copy_only=False), dtype=object) \
            if np.any(~missing & ((secs < 0) | (secs >= 4_102_444_800))) else secs
        return check_time_range(secs, errors, "timestamp", shown)
    return parse_timestamps(col.to_pandas(), errors)


def _numbers(col: pa.ChunkedArray, n: int, errors: RowErrors, name: str) -> np.ndarray:
    """A cost or value column: empty (null) means 0; NaN, infinite, negative or too large is bad."""
    if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
        empty = col.is_null().to_numpy(zero_copy_only=False)
        vals = pc.fill_null(col, 0).to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        return check_numbers(vals, empty, errors, name, vals, required=False)
    return parse_numbers(col.to_pandas(), n, errors, name)


def _tie_keys(event_id: np.ndarray, user: np.ndarray, secs: np.ndarray,
              is_conv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order of the events by (user, time, kind, event_id) and each event's tie-break key.

    Returns:
        order: (n,) int64 the sorted order.
        key: (n,) int64 rank of `event_id` among events tied on (user, time, kind), else 0.
    """
    n = len(user)
    order = np.lexsort((is_conv, secs, user))
    key = np.zeros(n, dtype=np.int64)
    if n < 2:
        return order, key
    u, t, c = user[order], secs[order], is_conv[order]
    same = (u[1:] == u[:-1]) & (t[1:] == t[:-1]) & (c[1:] == c[:-1])
    if not same.any():
        return order, key
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    rows = order[tied]
    # Codes follow the sorted ids (encode_text), so comparing codes compares the ids themselves.
    key[rows] = event_id[rows]
    return np.lexsort((key, is_conv, secs, user)), key


def parse_events(df: Table, skip_bad: bool = False) -> ParsedEvents:
    """Validate an event table (a DataFrame or an Arrow table, as `tables.read_table` gives).

    Args:
        df: Events (see `gaelp.attribution.tables` for columns).
        skip_bad: If False, any bad row raises `BadRowsError`; if True, bad rows are returned
            in `rejects` and left out of `events`.

    Raises:
        ValueError: A required column is missing (or a zone-less datetime column).
        BadRowsError: Bad rows and `skip_bad` is False.

    """
    names = list(df.columns) if isinstance(df, pd.DataFrame) else df.column_names
    hint = "; is this a path table? (use the paths format)" if "path" in names else ""
    _require(names, EVENT_COLUMNS, "events", hint)
    table = as_arrow(df)
    n = table.num_rows
    errors = RowErrors(n, df)
    event_id, ids = encode_text(table["event_id"], "event_id")
    user, users = encode_text(table["user_id"], "user_id")
    channel, channels = encode_text(table["channel"], "channel")
    kind_code, kinds = encode_text(table["event_type"], "event_type")
    errors.flag(event_id == _code_of(ids, ""), None, "missing event_id")
    errors.flag(user == _code_of(users, ""), None, "missing user_id")
    kind_of = np.array([EVENT_TYPES.index(k) if k in EVENT_TYPES else -1
                        for k in pc.utf8_lower(kinds).to_pylist()], dtype=np.int64)
    kind = kind_of[kind_code] if n else np.zeros(0, dtype=np.int64)
    unknown = kind < 0
    errors.flag(unknown, _shown(kinds, kind_code, unknown),
                "unknown event_type {v} (allowed: " + ", ".join(EVENT_TYPES) + ")")
    is_conv = kind == EVENT_TYPES.index("conversion")
    no_channel = ~is_conv & ~unknown & (channel == _code_of(channels, ""))
    errors.flag(no_channel, _shown(pc.utf8_lower(kinds), kind_code, no_channel), "missing channel on {v}")
    secs = _seconds(table["timestamp"], errors)
    cost = _numbers(table["cost"], n, errors, "cost")
    value = _numbers(table["value"], n, errors, "value")
    # Codes are numbered in sorted order, but the first row of each code is its first occurrence:
    first_row = np.full(len(ids), n, dtype=np.int64)
    np.minimum.at(first_row, event_id, np.arange(n))
    dup = (first_row[event_id] != np.arange(n)) & (event_id != _code_of(ids, ""))
    errors.flag(dup, first_row[event_id] + 1, "duplicate event_id (first seen at row {v})")

    rejects = errors.rejects(df)
    if rejects.shape[0] and not skip_bad:
        raise BadRowsError(rejects)
    good = ~errors.bad
    touch_channel, used = _dense(channel, good & ~is_conv, len(channels))
    ch_code = np.full(n, -1, dtype=np.int64)
    ch_code[good & ~is_conv] = touch_channel
    user_code, _ = _dense(user, good, len(users))
    t0 = float(secs[good].min()) if good.any() else 0.0
    t_hours = (secs[good] - t0) / 3600.0
    conv_good = is_conv[good]
    order, key = _tie_keys(event_id[good], user_code, t_hours, conv_good)
    events = EventTable(
        user=user_code,
        t_hours=t_hours,
        is_conversion=conv_good,
        channel=ch_code[good],
        channels=tuple(channels.take(pa.array(used, pa.int64())).to_pylist()),
        value=np.where(is_conv, value, 0.0)[good],
        cost=cost[good],
        event_key=key,
        row=np.flatnonzero(good).astype(np.int64) + 1,
        t0_seconds=t0,
        order=order,
    )
    return ParsedEvents(events, rejects)


def _code_of(values: pa.Array, text: str) -> int:
    """Code of `text` among the sorted distinct values, or -1."""
    i = pc.index(values, text).as_py()
    return -1 if i is None else int(i)


def _shown(values: pa.Array, codes: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Values of the masked rows for messages (None if no row is masked)."""
    if not mask.any():
        return None
    shown = np.empty(len(codes), dtype=object)
    shown[mask] = np.asarray(values.take(pa.array(codes[mask])).to_pylist(), dtype=object)
    return shown
