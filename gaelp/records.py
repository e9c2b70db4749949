"""What one simulated hour produced, as one typed, frozen record, and the day's log built from them.

`Simulation.step_hour()` returns an `HourRecord`; observers get the same record. It holds the hour's
opportunities as advertisers saw them, every bid in force, the cleared impressions, the purchases that
came due, and the ground truth experiments need (who each opportunity was, their stage and segment,
the true click and purchase probabilities the world drew from). The arrays are the simulation's own,
not copies: treat them as read-only.

The records are typed named tuples: immutable like a frozen dataclass, and built in a fraction of
its time (a frozen dataclass sets each field through `object.__setattr__`; three records an hour
cost 2% of a small world's run that way).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from gaelp.bidders.protocol import OpportunityBatch
from gaelp.market.clearing import Cleared

IMPRESSION_FIELDS = ("t", "key", "person", "device", "advertiser", "channel", "slot", "intent", "clicked", "cost")


class Purchases(NamedTuple):
    """The purchases that came due in one hour (ours and rivals'), one row each, m rows.

    Attributes:
        t: (m,) int64 hour.  person: (m,) int64 buyer.  device: (m,) int64 device it bought on.
        advertiser: (m,) int64 whose product (0 is ours, `OURS`).  value: (m,) revenue.
        kind: (m,) int8, 0 post-click, 1 organic decision (`world.purchases`).
        credit_channel: (m,) int channel of our last click (else impression) in the lookback window, -1 none
            (the platform's last-touch credit; -1 for rivals' purchases).
        by_click: (m,) bool, credited to a click of ours.
        journey_start: (m,) int64 hour the buyer's journey began.
    """

    t: np.ndarray
    person: np.ndarray
    device: np.ndarray
    advertiser: np.ndarray
    value: np.ndarray
    kind: np.ndarray
    credit_channel: np.ndarray
    by_click: np.ndarray
    journey_start: np.ndarray

    @property
    def size(self) -> int:
        """Number of purchases."""
        return int(self.person.shape[0])

    def columns(self) -> dict[str, np.ndarray]:
        """CONVERSION_FIELDS -> arrays."""
        return {f: getattr(self, f) for f in CONVERSION_FIELDS}


CONVERSION_FIELDS = Purchases._fields
"""The columns of a day log's purchases: the fields of `Purchases`."""


class HourTruth(NamedTuple):
    """Ground truth of one hour, for experiments and oracles only (never for a bidder).

    Attributes:
        person: (n,) int64 person behind each opportunity.
        stage: (n,) int8 their journey stage at the hour's start (`world.population.Stage`).
        segment: (n,) int8 their segment.
        key: (n,) int64 counter key of each opportunity (an impression's is `key * SLOT_KEYS + slot`).
        imp_person: (k,) int64 person who saw each impression.
        imp_key: (k,) int64 counter key of each impression.
        click: (c,) int64 index into the impressions of each click.
        p_purchase: (c,) true P(purchase of the clicked advertiser | that click).
    """

    person: np.ndarray
    stage: np.ndarray
    segment: np.ndarray
    key: np.ndarray
    imp_person: np.ndarray
    imp_key: np.ndarray
    click: np.ndarray
    p_purchase: np.ndarray


class HourRecord(NamedTuple):
    """Everything one simulated hour produced: n opportunities, k impressions, m purchases.

    Attributes:
        t: the simulated hour (`day = t // 24`).
        batch: the (n,) opportunities as every advertiser saw them (no truth attached).
        bids: (n_bidders, n) float64 bids in force: after our safety limits, the frequency caps and the
            withdrawal of advertisers whose budget ran out (bidder-major: row 0 is ours).
        impressions: the (k,) cleared impressions in time order (`market.clearing.Cleared`: row into the
            batch, slot, advertiser, price, clicked, cost and the true click probability `ctr`).
        purchases: the (m,) purchases that came due this hour.
        truth: ground truth (people, stages, segments, counter keys, purchase probabilities of clicks).
    """

    t: int
    batch: OpportunityBatch
    bids: np.ndarray
    impressions: Cleared
    purchases: Purchases
    truth: HourTruth

    def impression_columns(self) -> dict[str, np.ndarray]:
        """IMPRESSION_FIELDS -> (k,) arrays: the hour's rows of the day log."""
        cl, b = self.impressions, self.batch
        return {"t": np.full(cl.row.size, self.t, np.int64), "key": self.truth.key[cl.row],
                "person": self.truth.imp_person, "device": b.device[cl.row], "advertiser": cl.advertiser,
                "channel": b.channel[cl.row], "slot": cl.slot, "intent": b.intent[cl.row], "clicked": cl.clicked,
                "cost": cl.cost}


def _concat(parts: list[dict[str, np.ndarray]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not parts:
        return {f: np.empty(0) for f in names}
    return {f: np.concatenate([p[f] for p in parts]) for f in names}


class DayLog:
    """Everything that happened on one day, as column arrays (ground truth: person ids included).

    The columns are assembled from the day's hour records on first access, so a run nobody logs (a
    benchmark, a quick simulation) does not pay for it.

    Attributes:
        day: the simulated day.
        records: the day's hour records, in time order.
        impressions: IMPRESSION_FIELDS -> (k,) arrays, every advertiser's impressions in time order.
        conversions: CONVERSION_FIELDS -> (m,) arrays, every purchase (ours and rivals').
    """

    def __init__(self, day: int, records: Sequence[HourRecord]) -> None:
        self.day = day
        self.records = tuple(records)
        self._impressions: dict[str, np.ndarray] | None = None
        self._conversions: dict[str, np.ndarray] | None = None

    @property
    def impressions(self) -> dict[str, np.ndarray]:
        """Every impression of the day (`key` is the opportunity's counter key)."""
        if self._impressions is None:
            self._impressions = _concat([r.impression_columns() for r in self.records], IMPRESSION_FIELDS)
        return self._impressions

    @property
    def conversions(self) -> dict[str, np.ndarray]:
        """Every purchase of the day."""
        if self._conversions is None:
            self._conversions = _concat([r.purchases.columns() for r in self.records], CONVERSION_FIELDS)
        return self._conversions

