"""The platform's daily frequency caps: how often one advertiser may reach one person on one channel.

Counts are kept per (person, channel) and advertiser and reset at the start of each day. An hour is
one batch, so the counts stand as of the hour's start; a person's k-th repeat opportunity on a channel
within the same hour (k = 1, 2, ...) is open only to advertisers at least k below their cap, as if each
had won every earlier one. No advertiser ever passes a cap, at the price of leaving such rare repeats
to fewer bidders.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

_NO_OPPORTUNITY = np.iinfo(np.int32).max  # an empty cell of the scratch table of `blocked`


class FrequencyCaps:
    """Daily impression counters per (person, channel, advertiser) and the caps they enforce.

    Args:
        n_people: people in the world.
        caps: (n_channels,) impressions one advertiser may show one person per day on each channel.
        n_advertisers: advertisers in the market.

    Example:
        >>> import numpy as np
        >>> caps = FrequencyCaps(n_people=2, caps=np.array([1, 3]), n_advertisers=2)
        >>> caps.record(np.array([0]), np.array([0]), np.array([1]))
        >>> caps.blocked(np.array([0, 0, 1]), np.array([0, 1, 0])).tolist()
        [[False, False, False], [True, False, False]]
    """

    def __init__(self, n_people: int, caps: np.ndarray, n_advertisers: int) -> None:
        self.caps = np.asarray(caps)
        self.n_channels = int(self.caps.size)
        self.n_advertisers = n_advertisers
        # rows padded to whole 8-byte words, so one person-channel's counters are read as one word
        # (one cache line) per opportunity
        self._width = -(-n_advertisers // 8) * 8
        self.counts = np.zeros((n_people * self.n_channels, self._width), np.uint8)
        # scratch for finding a person's repeat opportunities on a channel within an hour (see blocked)
        self._first = np.full(n_people * self.n_channels, _NO_OPPORTUNITY, np.int32)

    def new_day(self) -> None:
        """Reset every counter (the caps are daily)."""
        self.counts[:] = 0

    def blocked(self, person: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """(n_advertisers, n) bool: which advertisers the caps keep out of each opportunity of the hour.

        Args:
            person: (n,) person of each opportunity, rows in time order.
            channel: (n,) its channel.
        """
        row = person * self.n_channels + channel  # rows of counts: (person, channel)
        shown = np.take(self.counts.view(np.uint64), row, axis=0).view(np.uint8)[:, :self.n_advertisers]
        count = np.ascontiguousarray(shown.T).astype(np.int16)
        index = np.arange(row.size, dtype=np.int32)
        first = self._first
        np.minimum.at(first, row, index)
        repeat = np.flatnonzero(first[row] != index)  # not the first of its (person, channel) this hour
        first[row] = _NO_OPPORTUNITY  # the scratch table is clean again
        if repeat.size:
            group = row[repeat]
            order = np.argsort(group, kind="stable")  # a group's repeats stay in time order
            sorted_group = group[order]
            new_group = np.empty(order.size, bool)
            new_group[0] = True
            np.not_equal(sorted_group[1:], sorted_group[:-1], out=new_group[1:])
            run = np.arange(order.size)
            run_start = np.maximum.accumulate(np.where(new_group, run, 0))
            count[:, repeat[order]] += (run - run_start + 1).astype(np.int16)
        return count >= self.caps[channel]

    def record(self, person: np.ndarray, channel: np.ndarray, advertiser: np.ndarray) -> None:
        """Count impressions: (k,) person, channel and advertiser of each."""
        cell = (person * self.n_channels + channel) * self._width + advertiser
        np.add.at(self.counts.reshape(-1), cell, np.uint8(1))

    def state_dict(self) -> dict[str, Any]:
        """Today's non-zero counters (flat cell, count): small, since few people see ads on a day."""
        flat = self.counts.reshape(-1)
        cell = np.flatnonzero(flat)
        return {"caps_cell": cell, "caps_count": flat[cell].copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output (counters of a world built with the same sizes)."""
        self.counts[:] = 0
        self.counts.reshape(-1)[np.asarray(state["caps_cell"], np.int64)] = np.asarray(state["caps_count"], np.uint8)


class WorldsCaps:
    """The frequency caps of a batch of worlds as one table, whose rows each world's `FrequencyCaps` views.

    World w's counters are rows `w * n_people * n_channels ...` of one array, so the batch asks
    `blocked` once for all worlds' opportunities (people numbered `w * n_people + person`): a repeat of
    a (person, channel) never spans two worlds, and every count is an integer, so each world's mask is
    the one its own caps give.

    Args:
        caps: each world's caps, of one configuration (people, channels, caps, advertisers).
    """

    def __init__(self, caps: Sequence[FrequencyCaps]) -> None:
        first = caps[0]
        for c in caps:
            if c.counts.shape != first.counts.shape or not np.array_equal(c.caps, first.caps):
                raise ValueError("a batch's worlds have caps of different sizes or limits")
        self.worlds = list(caps)
        self.n_people = first.counts.shape[0] // first.n_channels
        self.table = FrequencyCaps(self.n_people * len(caps), first.caps, first.n_advertisers)
        self._stack()

    def _stack(self) -> None:
        rows = self.worlds[0].counts.shape[0]
        self.table.counts = np.concatenate([c.counts for c in self.worlds])
        for w, c in enumerate(self.worlds):
            c.counts = self.table.counts[w * rows:(w + 1) * rows]
        self._views = [c.counts for c in self.worlds]

    def blocked(self, world: np.ndarray, person: np.ndarray, channel: np.ndarray) -> np.ndarray:
        """(n_advertisers, N) every world's `FrequencyCaps.blocked` of its rows (world-major, each world's in
        time order), side by side."""
        self._restack()
        return self.table.blocked(world * self.n_people + person, channel)

    def record(self, world: np.ndarray, person: np.ndarray, channel: np.ndarray, advertiser: np.ndarray) -> None:
        """Every world's `FrequencyCaps.record` of its impressions ((k,) each, `world` of each) at once."""
        self._restack()
        self.table.record(world * self.n_people + person, channel, advertiser)

    def _restack(self) -> None:
        if any(c.counts is not v for c, v in zip(self.worlds, self._views, strict=True)):
            self._stack()  # a world's caps took a new table
