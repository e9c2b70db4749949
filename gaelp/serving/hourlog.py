"""One hour of serving as the bidder learns it: the opportunities it bid on and the events reported back.

The simulator hands each bidder one `BidderOutcome` per hour; the server does the same. Opportunities
(one row per impression on offer) go into growable column arrays as they come; impressions, clicks
and conversions arrive later as events. When the hour closes, each touch is matched to the last
opportunity of the same device and channel in the hour (a sort and a binary search, no loop per event);
a touch without one (its opportunity fell in an earlier hour) becomes a row of its own, with intent 1
and device type 0, so that its cost still reaches the pacer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gaelp.bidders.protocol import BidderOutcome, OpportunityBatch

_OPP = {"device": np.int64, "channel": np.int8, "device_type": np.int8, "intent": np.int8,
        "reserve": np.float64, "bid": np.float64}
_TOUCH = {"device": np.int64, "channel": np.int8, "click": bool, "cost": np.float64}
_CONV = {"t": np.int64, "device": np.int64, "value": np.float64}


class _Columns:
    """Column arrays that grow by doubling; `view()` returns the filled part."""

    def __init__(self, dtypes: Mapping[str, Any], capacity: int = 1024) -> None:
        self.n = 0
        self.cols: dict[str, np.ndarray] = {k: np.empty(capacity, d) for k, d in dtypes.items()}

    def append(self, **values: np.ndarray | float) -> None:
        k = np.size(next(iter(values.values())))
        if self.n + k > next(iter(self.cols.values())).size:
            size = max(2 * (self.n + k), 1024)
            self.cols = {name: np.resize(c, size) for name, c in self.cols.items()}
        for name, v in values.items():
            self.cols[name][self.n:self.n + k] = v
        self.n += k

    def view(self) -> dict[str, np.ndarray]:
        return {name: c[: self.n] for name, c in self.cols.items()}


class HourLog:
    """What happened in one hour of serving, for `Bidder.observe`."""

    def __init__(self, t: int) -> None:
        self.t = t
        self.opportunities = _Columns(_OPP)
        self.touches = _Columns(_TOUCH, 256)
        self.conversions = _Columns(_CONV, 64)

    @property
    def empty(self) -> bool:
        """Nothing to learn from."""
        return self.opportunities.n == 0 and self.touches.n == 0 and self.conversions.n == 0

    def add_opportunities(self, device: np.ndarray, channel: np.ndarray, device_type: np.ndarray,
                          intent: np.ndarray, reserve: np.ndarray, bid: np.ndarray) -> None:
        """Rows of one request: (n,) arrays, the bid after safety (0: no bid)."""
        self.opportunities.append(device=device, channel=channel, device_type=device_type, intent=intent,
                                  reserve=reserve, bid=bid)

    def add_touches(self, device: np.ndarray, channel: np.ndarray, click: np.ndarray, cost: np.ndarray) -> None:
        """Impressions (click False) and clicks reported this hour: (k,) arrays."""
        self.touches.append(device=device, channel=channel, click=click, cost=cost)

    def add_conversions(self, t: np.ndarray, device: np.ndarray, value: np.ndarray) -> None:
        """Conversions reported this hour: their hours, devices and values, (k,) arrays."""
        self.conversions.append(t=t, device=device, value=value)

    def outcome(self, channel_names: tuple[str, ...]) -> BidderOutcome:
        """The hour as a `BidderOutcome`: won where an impression or click was reported, clicked where a click was.

        `price` is the reported cost of the row (per click where clicked); `slot` is 0 where won (an
        exchange reports no slot), -1 elsewhere.
        """
        opp, touch, conv = self.opportunities.view(), self.touches.view(), self.conversions.view()
        n = opp["device"].size
        row = _last_match(opp["device"], opp["channel"], touch["device"], touch["channel"])
        unmatched = row < 0
        k = int(unmatched.sum())
        row[unmatched] = n + np.arange(k)
        cols = {name: np.concatenate([opp[name], extra]) for name, extra in (
            ("device", touch["device"][unmatched]), ("channel", touch["channel"][unmatched]),
            ("device_type", np.zeros(k, np.int8)), ("intent", np.ones(k, np.int8)),
            ("reserve", np.zeros(k)), ("bid", np.zeros(k)))}
        size = n + k
        won = np.bincount(row, minlength=size) > 0
        clicked = np.bincount(row, weights=touch["click"], minlength=size) > 0
        cost = np.bincount(row, weights=touch["cost"], minlength=size)
        batch = OpportunityBatch(t=self.t, weekday=weekday(self.t), channel=cols["channel"], device=cols["device"],
                                 device_type=cols["device_type"], intent=cols["intent"], reserve=cols["reserve"],
                                 channel_names=channel_names)
        return BidderOutcome(batch=batch, bids=cols["bid"], slot=np.where(won, 0, -1).astype(np.int8),
                             price=np.where(won, cost, 0.0), clicked=clicked, cost=cost,
                             conv_t=conv["t"].copy(), conv_device=conv["device"].copy(),
                             conv_value=conv["value"].copy())


def clock_hour(seconds: float) -> int:
    """The server's hour of epoch `seconds`: hours since the Unix epoch (UTC), as the engine counts them."""
    return int(seconds // 3600)


def weekday(t: int) -> int:
    """Weekday (0 = Monday) of hour `t` since the Unix epoch, which fell on a Thursday."""
    return (t // 24 + 3) % 7


def _last_match(device: np.ndarray, channel: np.ndarray, q_device: np.ndarray, q_channel: np.ndarray) -> np.ndarray:
    """(k,) index of the last row with each query's (device, channel), -1 where none."""
    key = device * 256 + channel
    q_key = q_device * 256 + q_channel
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    pos = np.searchsorted(sorted_key, q_key, side="right") - 1
    hit = pos >= 0
    hit[hit] = sorted_key[pos[hit]] == q_key[hit]
    return np.where(hit, order[np.maximum(pos, 0)], -1) if order.size else np.full(q_key.size, -1)
