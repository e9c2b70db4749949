"""One advertiser slot across a batch of worlds: the rows, outcomes and state tables a batched bidder uses.

A batch of worlds (`gaelp.experiments.batched.BatchedWorlds`) asks the advertiser in one slot of every
world (e.g. each world's Q-learning rival) to bid on all the worlds' opportunities in one call, and to
learn from all their outcomes in one call. `WorldRows` is the hour's opportunities of every world,
concatenated world-major with a world column; `WorldOutcomes` one advertiser's outcomes over them;
`Stacked` holds one state array of every world's bidder as the rows of one (W, ...) array, each world's
bidder keeping a view of its row, so that the batch and the worlds' own bidders read and write the same
numbers (`state_dict`, a frozen twin or a later world-alone hour see what the batch learned).

Exactness: a batched bidder gives each world's rows the numbers that world's own bidder gives them,
bit for bit (tests/bidders/test_worlds.py): elementwise arithmetic is the same on a longer array,
`np.bincount` over `world * cells + cell` adds each cell's values in the world's own row order, and the
sums that numpy pairs (`ndarray.sum`) are taken per world on the world's own slice (`segment_sums`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from operator import attrgetter, is_
from typing import Any, NamedTuple

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

    @classmethod
    def of(cls, rows: WorldRows, outcomes: Sequence[BidderOutcome]) -> WorldOutcomes:
        """Concatenate the worlds' outcomes of one advertiser slot (each over its world's batch in `rows`)."""
        clicked = np.concatenate([o.clicked for o in outcomes])
        return cls(rows, np.concatenate([o.bids for o in outcomes]), clicked,
                   np.concatenate([o.cost for o in outcomes]), np.flatnonzero(clicked), outcomes)


def segment_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(k, W) each of k rows of `values` (k, N) summed over each world's slice `bounds[w]:bounds[w + 1]`.

    Each is numpy's pairwise sum of the slice, so it equals the world alone's `ndarray.sum` of its rows
    bit for bit (one sum per world, not `np.add.reduceat`, which adds in plain order).
    """
    cut = bounds.tolist()
    out = np.empty((values.shape[0], len(cut) - 1))
    for w in range(len(cut) - 1):
        out[:, w] = values[:, cut[w]:cut[w + 1]].sum(axis=1)
    return out


class Stacked:
    """Attribute `name` of every world's object as the rows of one (W, ...) array; the objects hold views.

    An object that rebinds its attribute (`load_state_dict`, an update that builds a new array) is seen at
    the next `get`, which stacks the worlds' arrays again.

    Args:
        objects: one per world, in world order.
        name: the attribute, an array of the same shape in every object.
    """

    def __init__(self, objects: Sequence[Any], name: str) -> None:
        self.objects, self.name = list(objects), name
        self._stack()

    def _stack(self) -> None:
        self.array = np.stack([getattr(o, self.name) for o in self.objects])
        for o, row in zip(self.objects, self.array, strict=True):
            setattr(o, self.name, row)
        self._views = [getattr(o, self.name) for o in self.objects]

    def get(self) -> np.ndarray:
        """(W, ...) the worlds' current arrays (writes into it are the objects' own)."""
        if not all(map(is_, map(attrgetter(self.name), self.objects), self._views)):
            self._stack()
        return self.array
