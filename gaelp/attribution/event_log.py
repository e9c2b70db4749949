"""Validating an event log at scale: every check is an Arrow kernel or an integer array operation.

The columns and the rules are those of `gaelp.attribution.tables` (events layout). What makes a
10-million-row log quick is that no step sorts or hashes Python strings row by row:

* text columns (`user_id`, `channel`, `event_type`, `event_id`) are dictionary-encoded by Arrow (one
  hash pass in C++); trimming, lower-casing and sorting then touch only the distinct values, and
  every row carries an integer code;
* user codes follow the sorted user ids and channel codes the sorted channel names, as before, so
  journeys and credits are the same to the bit;
* `event_id` is hashed, never sorted: duplicates are found from its codes, and as a tie-break it
  is compared only for the few events of one user at the same instant and of the same kind;
* timestamp columns of Arrow's timestamp type are read as integers; text timestamps go through the
  ISO 8601 parser of `tables`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gaelp.attribution.files import Table, as_arrow
from gaelp.attribution.tables import (
    BadRowsError,
    RowErrors,
    _require,
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


def encode_text(col: pa.ChunkedArray | pa.Array, name: str, sort: bool = True) -> tuple[np.ndarray, pa.Array]:
    """Codes of a text column's trimmed values.

    Args:
        col: The column (text, dictionary of text, or numbers read as text).
        name: Its name, for errors.
        sort: Number the values in sorted order; otherwise in order of first appearance (no sort:
            the cheap choice for a column of ids that are only compared).

    Returns:
        codes: (n,) int64 code of each row (nulls read as "").
        values: the distinct trimmed values (Arrow strings), `values[codes]` being the column.
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
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.utf8_trim_whitespace(encoded.dictionary)  # the distinct values only
    if not pc.all(pc.equal(values, encoded.dictionary)).as_py():
        # Trimming merged some values ("a" and " a"): encode again (first appearance order is kept).
        trimmed = values.dictionary_encode()
        codes = trimmed.indices.to_numpy(zero_copy_only=False).astype(np.int64)[codes]
        values = trimmed.dictionary
    if sort:
        order = pc.array_sort_indices(values).to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes, values = rank[codes], values.take(pa.array(order))
    return codes, values


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


def _sort_order(user: np.ndarray, secs: np.ndarray, is_conv: np.ndarray) -> np.ndarray:
    """Order by (user, time, kind); one integer sort when times are whole seconds (the usual case)."""
    n = len(user)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    span = secs.max() - secs.min()
    if np.all(secs == np.floor(secs)) and span < 2**32 and user.max() < 2**30:
        # user (30 bits) | seconds since the first event (32 bits) | kind (1 bit): one int64 key,
        # one sort instead of lexsort's three (3x faster at 10M events).
        key = (user.astype(np.int64) << 33) | ((secs - secs.min()).astype(np.int64) << 1) | is_conv
        return np.argsort(key, kind="stable")
    return np.lexsort((is_conv, secs, user))


def _tie_keys(event_id: np.ndarray, ids: pa.Array, user: np.ndarray, secs: np.ndarray,
              is_conv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order of the events by (user, time, kind, event_id) and each event's tie-break key.

    Returns:
        order: (n,) int64 the sorted order (a strict order: good events have distinct ids).
        key: (n,) int64 rank of `event_id` among events tied on (user, time, kind), else 0.
    """
    n = len(user)
    order = _sort_order(user, secs, is_conv)
    key = np.zeros(n, dtype=np.int64)
    if n < 2:
        return order, key
    u, tt, c = user[order], secs[order], is_conv[order]
    same = (u[1:] == u[:-1]) & (tt[1:] == tt[:-1]) & (c[1:] == c[:-1])
    if not same.any():
        return order, key
    tied = np.zeros(n, dtype=bool)
    tied[1:] |= same
    tied[:-1] |= same
    at = np.flatnonzero(tied)  # positions in `order`: runs of tied events, each run contiguous
    rows = order[at]
    # Only tied events compare their ids: rank those few strings, then sort each run by rank.
    rank = np.empty(rows.size, dtype=np.int64)
    rank[pc.array_sort_indices(ids.take(pa.array(event_id[rows]))).to_numpy()] = np.arange(rows.size)
    key[rows] = rank
    run = np.cumsum(np.r_[True, ~same[at[:-1]]])
    order[at] = rows[np.lexsort((rank, run))]
    return order, key


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
    event_id, ids = encode_text(table["event_id"], "event_id", sort=False)
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
    # Event id codes are numbered in order of first appearance: a row is a code's first when its
    # code exceeds every code before it.
    seen = np.maximum.accumulate(event_id) if n else event_id
    first_row = np.flatnonzero(np.r_[True, event_id[1:] > seen[:-1]] if n else event_id)
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
    # Sorting the seconds sorts the hours: (s - t0) / 3600 is increasing and keeps whole seconds apart.
    order, key = _tie_keys(event_id[good], ids, user_code, secs[good], conv_good)
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


def validated_rows(df: Table, events: EventTable) -> pa.Table:
    """The good rows of `df` as stored: trimmed text, lower-case `event_type`, epoch seconds.

    Args:
        df: The input `parse_events` validated.
        events: Its events (`ParsedEvents.events`).

    Returns:
        Columns event_id, t_seconds, user_id, channel (empty on conversions), event_type, cost, value.
    """
    table = as_arrow(df).take(pa.array(events.row - 1, pa.int64()))
    text = {c: pc.utf8_trim_whitespace(pc.cast(pc.fill_null(table[c], ""), pa.string()))
            for c in ("event_id", "user_id", "channel")}
    secs = _seconds(table["timestamp"], RowErrors(table.num_rows))
    return pa.table({
        "event_id": text["event_id"],
        "t_seconds": secs,
        "user_id": text["user_id"],
        "channel": pc.if_else(pa.array(events.is_conversion), "", text["channel"]),
        "event_type": pc.utf8_lower(pc.utf8_trim_whitespace(pc.cast(table["event_type"], pa.string()))),
        "cost": events.cost,
        "value": events.value,
    })
