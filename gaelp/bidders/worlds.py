"""One advertiser slot across a batch of worlds: the rows, outcomes and state tables a batched bidder uses.

A batch of worlds (`gaelp.experiments.batched.BatchedWorlds`) asks the advertiser in one slot of every
world (e.g. each world's Q-learning rival) to bid on all the worlds' opportunities in one call, and to
learn from all their outcomes in one call. `WorldRows` is the hour's opportunities of every world,
concatenated world-major with a world column; `WorldOutcomes` one advertiser's outcomes over them.
A batched bidder holds its worlds' tables as `gaelp.stacked.Stacked` (W, ...) arrays that each world's
bidder views, so that the batch and the worlds' own bidders read and write the same numbers
(`state_dict`, a frozen twin or a later world-alone hour see what the batch learned).

Exactness: a batched bidder gives each world's rows the numbers that world's own bidder gives them,
bit for bit (tests/bidders/test_worlds.py): elementwise arithmetic is the same on a longer array,
`np.bincount` over `world * cells + cell` adds each cell's values in the world's own row order, and the
sums that numpy pairs (`ndarray.sum`) are taken per world on the world's own slice (`gaelp.stacked.segment_sums`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import NamedTuple, Protocol, overload

import numpy as np

from gaelp.bidders.protocol import BidderOutcome, OpportunityBatch


class WorldRows(NamedTuple):
    """The hour's opportunities of every world of a batch, world-major (world 0's rows first).

    Attributes:
        t: the hour (the same in every world of a batch).
        bounds: (W + 1,) world w's rows are `bounds[w]:bounds[w + 1]`.
        world: (N,) int64 world of each row.
        context, channel, intent, device, device_type, weight: (N,) the worlds' `OpportunityBatch` columns.
        batches: each world's own batch.
    """

    t: int
    bounds: np.ndarray
    world: np.ndarray
    context: np.ndarray
    channel: np.ndarray
    intent: np.ndarray
    device: np.ndarray
    device_type: np.ndarray
    weight: np.ndarray
    batches: Sequence[OpportunityBatch]

    @classmethod
    def of(cls, batches: Sequence[OpportunityBatch]) -> WorldRows:
        """The rows of these worlds' batches of one hour, in world order."""
        sizes = [b.size for b in batches]
        bounds = np.zeros(len(batches) + 1, np.int64)
        np.cumsum(sizes, out=bounds[1:])

        def cat(name: str) -> np.ndarray:
            return np.concatenate([getattr(b, name) for b in batches])

        return cls(batches[0].t, bounds, np.repeat(np.arange(len(batches)), sizes), cat("context"), cat("channel"),
                   cat("intent"), cat("device"), cat("device_type"), cat("weight"), batches)

    @property
    def n_worlds(self) -> int:
        """Worlds in the batch."""
        return self.bounds.size - 1

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """(N,) values cut into each world's (n_w,) part (views), in world order."""
        cut = self.bounds.tolist()
        return [values[a:b] for a, b in itertools.pairwise(cut)]


class WorldOutcomes(NamedTuple):
    """One advertiser slot's outcomes of the hour in every world of a batch, over `rows`.

    Attributes:
        rows: the hour's opportunities.
        bids, clicked, cost: (N,) the worlds' `BidderOutcome` columns, concatenated.
        clicks: (k,) indices of the clicked rows.
        outcomes: each world's own outcome (its pixel's conversions are read from it).
    """

    rows: WorldRows
    bids: np.ndarray
    clicked: np.ndarray
    cost: np.ndarray
    clicks: np.ndarray
    outcomes: Sequence[BidderOutcome]

    def converting(self) -> list[int]:
        """The worlds whose outcome holds pixel purchases (their pixel reported some this hour)."""
        if isinstance(self.outcomes, SlotOutcomes):  # without building the others' outcomes
            return self.outcomes.converting()
        return [w for w, o in enumerate(self.outcomes) if o.conv_device.size]

    @classmethod
    def of(cls, rows: WorldRows, outcomes: Sequence[BidderOutcome]) -> WorldOutcomes:
        """Concatenate the worlds' outcomes of one advertiser slot (each over its world's batch in `rows`)."""
        clicked = np.concatenate([o.clicked for o in outcomes])
        return cls(rows, np.concatenate([o.bids for o in outcomes]), clicked,
                   np.concatenate([o.cost for o in outcomes]), np.flatnonzero(clicked), outcomes)


class SlotOutcomes(Sequence[BidderOutcome]):
    """One advertiser slot's `BidderOutcome` in every world of a batch, each built when read: a batched
    bidder reads a world's own outcome only where its pixel reported purchases, or when it learns world by
    world (most world-hours have no purchase, and six outcomes an hour were 2-3% of a batch's hour).

    Args:
        rows: the hour's opportunities.
        columns: the slot's (bids, slot won, price, clicked, cost), (N,) each over `rows`.
        pixels: each world's report of this slot's pixel, (conv_t, conv_device, conv_value, conv_weight).
    """

    def __init__(self, rows: WorldRows, columns: Sequence[np.ndarray], pixels: Sequence[tuple[np.ndarray, ...]]) -> None:
        self.rows, self.columns, self.pixels = rows, columns, pixels
        self._cut = rows.bounds.tolist()

    def __len__(self) -> int:
        return len(self.pixels)

    @overload
    def __getitem__(self, w: int) -> BidderOutcome: ...

    @overload
    def __getitem__(self, w: slice) -> list[BidderOutcome]: ...

    def __getitem__(self, w: int | slice) -> BidderOutcome | list[BidderOutcome]:
        if isinstance(w, slice):
            return [self[i] for i in range(len(self))[w]]
        w = range(len(self))[w]  # negative indices and bounds as a list's
        a, b = self._cut[w], self._cut[w + 1]
        return BidderOutcome(self.rows.batches[w], *(c[a:b] for c in self.columns), *self.pixels[w])

    def converting(self) -> list[int]:
        """The worlds whose pixel reported purchases this hour."""
        return [w for w, p in enumerate(self.pixels) if p[1].size]


class WorldsBidder(Protocol):
    """One slot's bidders of a batch of worlds (e.g. ours, a form its maker supplies), bidding and learning
    in one call each. Each world's bids and learning are what its own bidder's `bid` and `observe` give alone.
    """

    def bid(self, rows: WorldRows) -> list[np.ndarray]:
        """Each world's (n_w,) bids on its rows, as its bidder's `bid` of its batch (a world without
        opportunities: an empty array, its bidder not asked, as alone)."""
        ...

    def observe(self, outcomes: SlotOutcomes) -> None:
        """Every world's `observe` of its outcome of the hour (`outcomes.columns` over `outcomes.rows`)."""
        ...
