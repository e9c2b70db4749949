"""Journey encoder: what our own logs say about each device, as a feature row per opportunity.

The advertiser sees device ids, never people. Per device it keeps, from its own `BidderOutcome`s only:
impressions (touches) and clicks by channel, the hours of the first touch, the last touch and the last
click, and whether its pixel has reported a purchase. `features(batch)` turns an hour's opportunities
into a float32 matrix, one row per opportunity, from that table and the opportunity's own context
(channel, query intent, device type, hour). No person id, stage or true probability is ever read:
`batch.truth` is ignored.

Feature columns (`FEATURES` names them):

    bias | channel one-hot (n_ch) | intent one-hot (3) | desktop | log1p touches by channel (n_ch) |
    log1p clicks by channel (n_ch) | touched in 24 h | touched in 7 d | clicked in 24 h | clicked in 7 d |
    log1p(hours since last click) / 7 (0 if never) | log1p(days since first touch) / 3 | sin, cos hour

Everything is whole-array numpy over the batch; the table grows as new device ids appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gaelp.bidders.protocol import N_INTENTS, BidderOutcome, OpportunityBatch
from gaelp.bidders.worlds import WorldRows
from gaelp.stacked import Stacked

_NEVER = -(10**9)
_COUNTS = np.uint16  # touches / clicks per device and channel: daily frequency caps keep them far below 65,535
# float32 (sin, cos) of each hour of the day, as the feature row holds them
_HOUR = [np.array([np.sin(a), np.cos(a)], np.float32) for a in (2 * np.pi * k / 24 for k in range(24))]


def feature_names(channel_names: tuple[str, ...]) -> tuple[str, ...]:
    """Names of the encoder's feature columns, in order."""
    ch = list(channel_names)
    return ("bias", *(f"ch_{c}" for c in ch), "intent_info", "intent_category", "intent_purchase", "desktop",
            *(f"touches_{c}" for c in ch), *(f"clicks_{c}" for c in ch), "touched_24h", "touched_7d",
            "clicked_24h", "clicked_7d", "log_hours_since_click", "log_days_since_first", "hour_sin", "hour_cos")


class JourneyEncoder:
    """Per-device journey table from our own logs, and the feature rows it gives opportunities.

    Args:
        n_channels: channels of the market.
        capacity: device ids expected (the table grows past it if needed).
    """

    def __init__(self, n_channels: int, capacity: int = 0) -> None:
        self.n_channels = n_channels
        self.n_features = 1 + n_channels + N_INTENTS + 1 + 2 * n_channels + 6 + 2
        # the table in two blocks, each gathered once per hour: (devices, touches | clicks by channel) and
        # (first touch, last touch, last click; devices); `touches`, `clicks` and the hours are views of them
        self._counts = np.zeros((capacity, 2 * n_channels), _COUNTS)
        self._times = np.full((3, capacity), _NEVER, np.int32)
        self.converted = np.zeros(capacity, bool)
        # (contexts x device types, bias | channel one-hot | intent one-hot | desktop): the row's head by
        # `context x 2 + device type`
        ctx = np.arange(n_channels * N_INTENTS * 2) // 2
        head = np.zeros((ctx.size, 1 + n_channels + N_INTENTS + 1), np.float32)
        head[:, 0] = 1.0
        head[np.arange(ctx.size), 1 + ctx // N_INTENTS] = 1.0
        head[np.arange(ctx.size), 1 + n_channels + ctx % N_INTENTS] = 1.0
        head[:, -1] = np.arange(ctx.size) % 2
        self._head = head

    # --- the table --------------------------------------------------------------------------------
    _FIELDS = ("touches", "clicks", "first_touch_t", "last_touch_t", "last_click_t", "converted")

    @property
    def touches(self) -> np.ndarray:
        """(devices, n_channels) our impressions per device and channel (a view of the table)."""
        return self._counts[:, :self.n_channels]

    @property
    def clicks(self) -> np.ndarray:
        """(devices, n_channels) our clicks per device and channel (a view of the table)."""
        return self._counts[:, self.n_channels:]

    @property
    def first_touch_t(self) -> np.ndarray:
        """(devices,) hour of the first impression of ours (`_NEVER`: none)."""
        return self._times[0]

    @property
    def last_touch_t(self) -> np.ndarray:
        """(devices,) hour of the last impression of ours (`_NEVER`: none)."""
        return self._times[1]

    @property
    def last_click_t(self) -> np.ndarray:
        """(devices,) hour of the last click of ours (`_NEVER`: none)."""
        return self._times[2]

    def _grow(self, max_id: int) -> None:
        n = self.converted.size
        if max_id < n:
            return
        m = max(max_id + 1, 2 * n, 1024)
        self._counts = np.concatenate([self._counts, np.zeros((m - n, self._counts.shape[1]), _COUNTS)])
        self._times = np.concatenate([self._times, np.full((3, m - n), _NEVER, np.int32)], axis=1)
        self.converted = np.concatenate([self.converted, np.zeros(m - n, bool)])

    def _rows(self, device: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Device ids clipped into the table, and which of them the table knows."""
        known = device < self.converted.size
        return np.where(known, device, 0), known

    def is_converted(self, device: np.ndarray) -> np.ndarray:
        """(n,) bool: our pixel has reported a purchase on this device."""
        rows, known = self._rows(device)
        return known & self.converted[rows]

    def clicked_within(self, device: np.ndarray, t: np.ndarray, hours: int) -> np.ndarray:
        """(n,) bool: `device` (n,) had its last click of ours at most `hours` before hour `t` (n,)."""
        rows, known = self._rows(device)
        last = self.last_click_t[rows].astype(np.int64)
        return known & (last != _NEVER) & (last <= t) & (t - last <= hours)

    def observe(self, outcome: BidderOutcome) -> None:
        """Fold in one hour of our own results: impressions won, clicks, pixel conversions."""
        won = (outcome.slot >= 0).nonzero()[0]
        if won.size:
            dev = outcome.batch.device[won]
            self._grow(int(dev.max()))
            _touch(self._counts.reshape(-1), self._times, self.n_channels, outcome.batch.t, dev,
                   outcome.batch.channel[won], outcome.clicked[won])
        self.mark_converted(outcome.conv_device)

    def mark_converted(self, device: np.ndarray) -> None:
        """Devices a purchase was linked to (resolved people): treated as converted."""
        if device.size:
            self._grow(int(device.max()))
            self.converted[device] = True

    # --- features ---------------------------------------------------------------------------------
    def features(self, batch: OpportunityBatch) -> np.ndarray:
        """(n, n_features) float32 feature rows of the batch's opportunities (see the module docstring)."""
        return self.features_and_converted(batch)[0]

    def features_and_converted(self, batch: OpportunityBatch) -> tuple[np.ndarray, np.ndarray]:
        """`features(batch)` and `is_converted(batch.device)`, from one look-up of the batch's devices."""
        dev = batch.device
        if dev.size and int(dev.max()) < self.converted.size:  # the usual hour: the table knows every device
            counts, times = self._counts[dev], self._times[:, dev].astype(np.int64)
            converted = self.converted[dev]
        else:
            dev, known = self._rows(dev)
            counts = self._counts[dev] * known[:, None]
            times = np.where(known, self._times[:, dev], _NEVER).astype(np.int64)
            converted = known & self.converted[dev]
        return _feature_rows(self._head, self.n_features, batch.t, batch.context * 2 + batch.device_type, counts,
                             times), converted

    # --- persistence ------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Copies of the table."""
        return {name: getattr(self, name).copy() for name in self._FIELDS}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self._counts = np.concatenate([np.array(s["touches"], _COUNTS), np.array(s["clicks"], _COUNTS)], axis=1)
        self._times = np.stack([np.array(s[name], np.int32) for name in ("first_touch_t", "last_touch_t",
                                                                          "last_click_t")])
        self.converted = np.array(s["converted"], bool)


class WorldsEncoder:
    """The journey tables of a batch's campaigns (one encoder per world), read and updated as one.

    Each world's table is a row block of stacked arrays that its encoder views (`gaelp.stacked.Stacked`),
    so that one gather gives every world's opportunities their rows and one scatter counts every world's
    impressions; each world's numbers are those its encoder gives alone (elementwise, and each world's counts
    added in its own order). Tables of unequal sizes (an encoder that grew past the devices it expected) or a
    device past its table are not batched: the caller then runs each world's encoder (`ready` says which).

    Args:
        encoders: each world's encoder, of one market (the same channels).
    """

    def __init__(self, encoders: Sequence[JourneyEncoder]) -> None:
        self.encoders = list(encoders)
        first = self.encoders[0]
        if any(e.n_channels != first.n_channels for e in self.encoders):
            raise ValueError("a batch's journey encoders must share their channels")
        self.n_channels, self.n_features, self._head = first.n_channels, first.n_features, first._head
        self._tables: tuple[Stacked, Stacked, Stacked] | None = None

    def ready(self, device: np.ndarray) -> bool:
        """Whether the tables can be read and updated as one for rows of `device` (N,) (their worlds' ids)."""
        size = self.encoders[0].converted.size
        if any(e.converted.size != size for e in self.encoders) or (device.size and int(device.max()) >= size):
            return False
        if self._tables is None:  # stacked again whenever an encoder takes new arrays (`Stacked.get`)
            # (W, devices, counts), (3, W, devices) and (W, devices): world w's rows are its encoder's own arrays
            self._tables = (Stacked(self.encoders, "_counts"), Stacked(self.encoders, "_times", axis=1),
                            Stacked(self.encoders, "converted"))
        return True

    def _rows(self, world: np.ndarray, device: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The stacked tables, flat ((W x devices) rows), and the rows of `device` (N,) of worlds `world` (N,)."""
        if self._tables is None:
            raise RuntimeError("call ready() first")
        counts, times, converted = (t.get() for t in self._tables)
        size = converted.shape[1]
        return (counts.reshape(-1, counts.shape[2]), times.reshape(3, -1), converted.reshape(-1),
                world * size + device)

    def features_and_converted(self, rows: WorldRows) -> tuple[np.ndarray, np.ndarray]:
        """Every world's `JourneyEncoder.features_and_converted` of its rows of `rows`, end to end (after
        `ready(rows.device)`)."""
        counts, times, converted, at = self._rows(rows.world, rows.device)
        return _feature_rows(self._head, self.n_features, rows.t, rows.context * 2 + rows.device_type, counts[at],
                             times[:, at].astype(np.int64)), converted[at]

    def touch(self, rows: WorldRows, won: np.ndarray, clicked: np.ndarray) -> None:
        """The impressions part of every world's `JourneyEncoder.observe` (its table's counts and hours; the
        converted devices are each world's `mark_converted`), after `ready(rows.device)`.

        Args:
            rows: the hour's opportunities.  won: (k,) the rows we won.  clicked: (k,) bool, which were clicked.
        """
        counts, times, _, at = self._rows(rows.world[won], rows.device[won])
        _touch(counts.reshape(-1), times, self.n_channels, rows.t, at, rows.channel[won], clicked)


def _feature_rows(head: np.ndarray, n_features: int, t: int, head_row: np.ndarray, counts: np.ndarray,
                  times: np.ndarray) -> np.ndarray:
    """(n, n_features) float32 feature rows of hour `t`'s opportunities from their rows of the table.

    Args:
        head: the table of the rows' heads (`JourneyEncoder._head`).  head_row: (n,) context x 2 + device type.
        counts: (n, 2 x n_channels) touches, then clicks, by channel.  times: (3, n) int64 first touch, last
            touch, last click (`_NEVER`: none).
    """
    n, col = head_row.size, head.shape[1]
    x = np.empty((n, n_features), np.float32)
    x[:, :col] = head[head_row]  # bias, channel, intent, desktop
    x[:, col:col + counts.shape[1]] = np.log1p(counts)  # touches, then clicks, by channel
    col += counts.shape[1]
    first, last_click = times[0], times[2]
    since = t - times  # (first touch, last touch, last click; n): huge where never
    since_touch, since_click = since[1], since[2]
    x[:, col] = since_touch <= 24
    x[:, col + 1] = since_touch <= 24 * 7
    x[:, col + 2] = since_click <= 24
    x[:, col + 3] = since_click <= 24 * 7
    x[:, col + 4] = np.where(last_click != _NEVER, np.log1p(since_click) / 7.0, 0.0)
    x[:, col + 5] = np.where(first != _NEVER, np.log1p((t - first) / 24.0) / 3.0, 0.0)
    col += 6
    x[:, col:col + 2] = _HOUR[t % 24]
    return x


def _touch(counts: np.ndarray, times: np.ndarray, n_channels: int, t: int, dev: np.ndarray, channel: np.ndarray,
           clicked: np.ndarray) -> None:
    """Count hour `t`'s impressions won on table rows `dev` (k,) in `channel` (k,), `clicked` (k,) bool of them.

    Args:
        counts: the flat table of counts (rows of touches | clicks by channel).  times: (3, rows) the hours of
            the first touch, last touch and last click.
    """
    cell = dev * (2 * n_channels) + channel.astype(np.int64)  # the flat index of (row, its channel's touches)
    np.add.at(counts, cell, 1)
    first = times[0, dev]
    times[0, dev] = np.where(first == _NEVER, t, first)
    times[1, dev] = t
    if clicked.any():
        np.add.at(counts, cell[clicked] + n_channels, 1)
        times[2, dev[clicked]] = t


class RequestLog:
    """Per device, the bid requests offered to us (every opportunity of a batch, won or not): an advertiser
    sees every request, bought or not. The log-link prior may read them (`AgentBidder(requests=True)`); the
    journey table above does not.

    Args:
        n_channels: channels of the market.
        capacity: device ids expected (the table grows past it if needed).
    """

    def __init__(self, n_channels: int, capacity: int) -> None:
        self.by_channel = np.zeros((capacity, n_channels), np.uint32)
        self.by_intent = np.zeros((capacity, N_INTENTS), np.uint32)
        self.first_t = np.full(capacity, -1, np.int64)

    def _grow(self, max_id: int) -> None:
        n = self.first_t.size
        if max_id < n:
            return
        m = max(max_id + 1, 2 * n, 1024)
        self.by_channel = np.concatenate([self.by_channel, np.zeros((m - n, self.by_channel.shape[1]), np.uint32)])
        self.by_intent = np.concatenate([self.by_intent, np.zeros((m - n, N_INTENTS), np.uint32)])
        self.first_t = np.concatenate([self.first_t, np.full(m - n, -1, np.int64)])

    @property
    def n_features(self) -> int:
        """Columns of a row of `features`: requests by channel, by query intent, days since the first, per day."""
        return self.by_channel.shape[1] + N_INTENTS + 2

    def features(self, batch: OpportunityBatch) -> np.ndarray:
        """(n, n_features) float32: the columns `ceiling_fit.Layout` names, from requests before this hour."""
        known = batch.device < self.first_t.size
        dev = np.where(known, batch.device, 0)
        ch = self.by_channel[dev] * known[:, None]
        it = self.by_intent[dev] * known[:, None]
        first = np.where(known, self.first_t[dev], -1)
        days = np.where(first >= 0, (batch.t - first) / 24.0, 0.0)
        per_day = ch.sum(axis=1) / np.maximum(days, 1.0)
        return np.concatenate([np.log1p(ch), np.log1p(it), np.log1p(days)[:, None], np.log1p(per_day)[:, None]],
                              axis=1).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        """Copies of the table."""
        return {"by_channel": self.by_channel.copy(), "by_intent": self.by_intent.copy(), "first_t": self.first_t.copy()}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.by_channel, self.by_intent = np.array(s["by_channel"], np.uint32), np.array(s["by_intent"], np.uint32)
        self.first_t = np.array(s["first_t"], np.int64)

    def observe(self, batch: OpportunityBatch) -> None:
        """Fold in the hour's requests."""
        if batch.size == 0:
            return
        self._grow(int(batch.device.max()))
        np.add.at(self.by_channel, (batch.device, batch.channel.astype(np.int64)), 1)
        np.add.at(self.by_intent, (batch.device, batch.intent.astype(np.int64)), 1)
        first = self.first_t[batch.device]
        self.first_t[batch.device] = np.where(first < 0, batch.t, first)
