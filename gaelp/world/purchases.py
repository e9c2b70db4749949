"""Purchases scheduled for later hours (post-click lags, organic decisions).

A purchase is a pending event (due hour, person, advertiser, device, kind). The first one that comes
due for a person executes; the later ones find the person CONVERTED or LOST and lapse. Events are
bucketed by due day so each hour touches only the events due today.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from gaelp.rng import Purpose

FIELDS = ("due", "person", "advertiser", "device", "kind")
DTYPES = (np.int64, np.int64, np.int16, np.int64, np.int8)
POST_CLICK, ORGANIC = 0, 1
_NEVER = np.iinfo(np.int64).max


_EMPTY_COLUMNS = tuple(np.empty(0, d) for d in DTYPES)
for _col in _EMPTY_COLUMNS:
    _col.flags.writeable = False  # shared by every empty result


def _empty() -> dict[str, np.ndarray]:
    return dict(zip(FIELDS, _EMPTY_COLUMNS))


def _concat(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    return {f: np.concatenate([p[f] for p in parts]) for f in FIELDS}


class PendingPurchases:
    """Pending purchase events by due day."""

    def __init__(self) -> None:
        self._days: dict[int, list[dict[str, np.ndarray]]] = {}
        self._today_day = -1
        self._today = _empty()
        self._next_due = _NEVER  # the earliest due hour of today's events: most hours pop nothing, without numpy

    def push(self, due, person, advertiser, device, kind) -> None:
        """Schedule purchases; arrays of equal length (scalars broadcast for advertiser / kind)."""
        n = np.shape(due)[0]
        if n == 0:
            return
        ev = {f: np.broadcast_to(np.asarray(v, d), (n,)).copy()
              for f, d, v in zip(FIELDS, DTYPES, (due, person, advertiser, device, kind))}
        # anything due today or earlier (overdue) belongs to today's events
        day = np.maximum(ev["due"] // 24, self._today_day)
        if (day == self._today_day).all():
            self._add_today(ev)
            return
        # sort once by due day; each day's events are then a slice (a view) of the sorted columns
        order = np.argsort(day, kind="stable")
        day_sorted = day[order]
        ev = {f: a[order] for f, a in ev.items()}
        cuts = (np.flatnonzero(np.diff(day_sorted)) + 1).tolist()
        for lo, hi in zip([0, *cuts], [*cuts, n]):
            d = int(day_sorted[lo])
            part = {f: a[lo:hi] for f, a in ev.items()}
            if d == self._today_day:
                self._add_today(part)
            else:
                self._days.setdefault(d, []).append(part)

    def start_day(self, day: int) -> None:
        """Make `day` the current day (its events are then popped hour by hour)."""
        self._today_day = day
        self._today = _concat([self._today, *self._days.pop(day, [])])
        self._next_due = int(self._today["due"].min()) if self._today["due"].size else _NEVER

    def pop_due(self, hour: int) -> dict[str, np.ndarray]:
        """Events due at `hour` (or earlier and not yet popped), in scheduling order."""
        if hour < self._next_due:
            return _empty()
        today = self._today
        due = today["due"] <= hour
        rest = np.flatnonzero(~due)
        if rest.size == 0:  # everything left today is due: hand the columns over
            self._today, self._next_due = _empty(), _NEVER
            return today
        pick = np.flatnonzero(due)
        self._today = {f: a[rest] for f, a in today.items()}
        self._next_due = int(self._today["due"].min())
        return {f: a[pick] for f, a in today.items()}

    def _add_today(self, ev: dict[str, np.ndarray]) -> None:
        """Append events (due today or overdue) to today's, after those already there."""
        self._today = _concat([self._today, ev])
        self._next_due = min(self._next_due, int(ev["due"].min()))

    def __len__(self) -> int:
        return int(self._today["due"].size + sum(p["due"].size for ps in self._days.values() for p in ps))

    def state_dict(self) -> dict[str, np.ndarray]:
        """All pending events as flat arrays (for checkpoints)."""
        allp = _concat([self._today, *[p for d in sorted(self._days) for p in self._days[d]]])
        return {f"pending_{f}": allp[f].copy() for f in FIELDS}

    def load_state_dict(self, state: dict[str, np.ndarray], today: int) -> None:
        """Restore events saved by `state_dict`; `today` is the day the run resumes at."""
        self._days = {}
        self._today_day = today
        self._today = _empty()
        self._next_due = _NEVER
        self.push(*(state[f"pending_{f}"] for f in FIELDS))


class Clicked(NamedTuple):
    """An hour's clicked impressions, (k,) each: what decides whether and when a click leads to a purchase."""

    advertiser: np.ndarray  # whose ad was clicked
    key: np.ndarray  # the impression's counter key
    person: np.ndarray
    channel: np.ndarray
    segment: np.ndarray
    stage: np.ndarray  # the person's stage when the hour's opportunities were drawn
    intent: np.ndarray
    device_type: np.ndarray
    device: np.ndarray  # where the ad was clicked


class Bought(NamedTuple):
    """The clicks that lead to a purchase (`rows` of the `Clicked`), with each purchase's due hour and device."""

    rows: np.ndarray
    due: np.ndarray
    person: np.ndarray
    advertiser: np.ndarray
    device: np.ndarray


Draw = Callable[[Any, np.ndarray, int], np.ndarray]
"""draw(rows, keys, purpose): the hour's counter uniforms of clicks `rows` (an index, or `slice(None)`: all)."""


def post_click(response: Any, appeal: np.ndarray, same_device: float, hour_cvr: float, t: int, c: Clicked,
               draw: Draw, other_device: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
               ) -> tuple[np.ndarray, Bought | None]:
    """Which clicks of hour `t` lead to a purchase, when and on which device.

    Args:
        response: the world's `ResponseModel` (conversion probability, purchase lag).
        appeal: (n_advertisers,) each advertiser's product appeal.
        same_device: probability that a purchase is made on the device of the click.
        hour_cvr: the hour of day's conversion multiplier.
        c: the hour's clicks.
        draw: the clicks' counter uniforms (a world's `CounterRng` of the day; a batch of worlds draws each
            click as its world's).
        other_device(rows, person, key): a device of each person other than the click's, drawn.

    Returns:
        (k,) each click's P(purchase), and the purchases (None: none).
    """
    p = response.cvr(c.channel, c.segment, c.stage, c.intent, c.device_type, hour_cvr, appeal[c.advertiser])
    buy = np.flatnonzero(draw(slice(None), c.key, Purpose.CONVERT) < p)
    if buy.size == 0:
        return p, None
    k, pe = c.key[buy], c.person[buy]
    lag = response.lag_hours(c.segment[buy], draw(buy, k, Purpose.LAG))
    due = t + np.maximum(1, np.ceil(lag)).astype(np.int64)
    same = draw(buy, k, Purpose.CONV_DEVICE) < same_device
    device = np.where(same, c.device[buy], other_device(buy, pe, k))
    return p, Bought(buy, due, pe, c.advertiser[buy], device)
