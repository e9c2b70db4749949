"""From an event log to journeys: which touches belong to which conversion.

For each user, events are ordered by time (touches before a conversion logged in the same
instant; then by `event_id`, so the input row order never matters). Then:

* a conversion's path is the user's touches after the previous conversion and at most
  `window_days` before it (the lookback window; Google Ads' default is 30 days);
* touches after the previous conversion but older than the window never led to a conversion:
  they form a non-converting path of their own ("expired");
* touches after the user's last conversion form a non-converting path;
* a conversion with no touch inside its window has no path. It is counted in the summary
  (`direct_conversions`) and not credited to any channel.

Everything is a handful of sorts and cumulative operations over the whole table; there is no
loop over users or events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaelp.attribution.event_log import EventTable
from gaelp.attribution.paths import Paths

# Path keys: 3 * anchor + kind, so one sort groups touches by path.
_CONVERTING, _EXPIRED, _TRAILING = 0, 1, 2


@dataclass(frozen=True, slots=True)
class EventSummary:
    """How the events were used; every event lands in exactly one bucket.

    Attributes:
        touches: Impressions and clicks.
        conversions: Conversion events.
        converting_paths: Conversions with at least one touch in their window.
        direct_conversions: Conversions with no touch in their window (not credited).
        direct_value: Their total value.
        expired_touches: Touches older than the window before the next conversion.
        trailing_touches: Touches after the user's last conversion.
        null_paths: Non-converting paths (expired and trailing groups).

    """

    touches: int
    conversions: int
    converting_paths: int
    direct_conversions: int
    direct_value: float
    expired_touches: int
    trailing_touches: int
    null_paths: int


@dataclass(frozen=True, slots=True, eq=False)
class EventPaths:
    """Journeys built from events; `paths.touch_index` holds each touch's 0-based input row."""

    paths: Paths
    summary: EventSummary


def events_to_paths(events: EventTable, window_days: float = 30.0) -> EventPaths:
    """Cut validated events into converting and non-converting paths.

    Args:
        events: Validated events (`gaelp.attribution.event_log.parse_events`).
        window_days: Lookback window of a conversion, in days (> 0).

    Returns:
        The paths (with touch times and conversion times in hours) and a summary.

    """
    if not window_days > 0:
        raise ValueError(f"window_days must be > 0, got {window_days}")
    n = len(events.user)
    order = events.order
    if order is None:
        order = np.lexsort((events.event_key, events.is_conversion, events.t_hours, events.user))
    user, t = events.user[order], events.t_hours[order]
    conv = events.is_conversion[order]

    # Index of the next conversion at or after each event (n if none): a reversed running min.
    candidate = np.where(conv, np.arange(n), n)
    next_conv = np.minimum.accumulate(candidate[::-1])[::-1] if n else candidate
    touch = np.flatnonzero(~conv)
    nxt = next_conv[touch]
    nxt_safe = np.minimum(nxt, max(n - 1, 0))
    same_user = (nxt < n) & (user[nxt_safe] == user[touch])
    in_window = same_user & (t[nxt_safe] - t[touch] <= window_days * 24.0)
    key = np.where(
        in_window,
        3 * nxt + _CONVERTING,
        np.where(same_user, 3 * nxt + _EXPIRED, 3 * (n + user[touch]) + _TRAILING),
    )
    # A stable sort keeps touches of one path in time order.
    by_path = np.argsort(key, kind="stable")
    touch, key = touch[by_path], key[by_path]
    # The keys are sorted now: paths start where the key changes (np.unique would sort again).
    starts = np.r_[True, key[1:] != key[:-1]] if key.size else np.zeros(0, dtype=bool)
    path_key, path_id = key[starts], np.cumsum(starts) - 1
    kind, anchor = path_key % 3, path_key // 3
    converting = kind == _CONVERTING
    n_paths = len(path_key)
    counts = np.bincount(path_id, minlength=n_paths)
    last_touch_t = t[touch][np.cumsum(counts) - 1] if n_paths else np.zeros(0)
    conv_row = np.where(converting, anchor, 0)
    conv_value = events.value[order][conv_row]

    paths = Paths(
        channels=events.channels,
        path_id=path_id.astype(np.int64),
        channel=events.channel[order][touch],
        conversions=converting.astype(np.float64),
        value=np.where(converting, conv_value, 0.0),
        nulls=(~converting).astype(np.float64),
        t_hours=t[touch],
        conversion_t_hours=np.where(converting, t[conv_row], last_touch_t),
        touch_index=events.row[order][touch] - 1,
    )
    conv_idx = np.flatnonzero(conv)
    attributed = np.zeros(n, dtype=bool)
    attributed[anchor[converting]] = True
    direct = conv_idx[~attributed[conv_idx]]
    touches_by_kind = np.bincount(kind[path_id], minlength=3)
    summary = EventSummary(
        touches=int(touch.size),
        conversions=int(conv_idx.size),
        converting_paths=int(converting.sum()),
        direct_conversions=int(direct.size),
        direct_value=float(events.value[order][direct].sum()),
        expired_touches=int(touches_by_kind[_EXPIRED]),
        trailing_touches=int(touches_by_kind[_TRAILING]),
        null_paths=int((~converting).sum()),
    )
    return EventPaths(paths, summary)
