"""The event parser as it was before the Arrow rewrite: a slow reference the fast one must match.

Kept for `test_event_log.py` only (pandas string operations over every row; sorts the event ids).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gaelp.attribution.event_log import EVENT_COLUMNS, EVENT_TYPES, EventTable, ParsedEvents
from gaelp.attribution.tables import (
    BadRowsError,
    RowErrors,
    _require,
    parse_numbers,
    parse_timestamps,
    text_column,
)


def reference_parse_events(df: pd.DataFrame, skip_bad: bool = False) -> ParsedEvents:
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
    _require(list(df.columns), EVENT_COLUMNS, "events", hint)
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
