"""What each advertiser learns after an hour: its own auction results and its own pixel's purchases.

The platform reports to each advertiser only the opportunities it bid on, what it won, at which
price, and its own clicks and costs; the advertiser's pixel on its site reports the purchases of its
own product, by device. Nobody learns about another advertiser's bids, wins or sales.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from gaelp.bidders.protocol import BidderOutcome, OpportunityBatch


def pixel_reports(t: np.ndarray, device: np.ndarray, value: np.ndarray, advertiser: np.ndarray,
                  n_advertisers: int, weight: np.ndarray | None = None) -> list[tuple[np.ndarray, ...]]:
    """Split the hour's purchases by whose product was bought: each advertiser's pixel sees its own.

    Args:
        t, device, value: (m,) hour, device and revenue of each purchase.
        advertiser: (m,) whose product was bought.
        n_advertisers: advertisers in the market.
        weight: (m,) sampling weight of each buyer (importance sampling); None: 1.0 each.

    Returns:
        Per advertiser, its purchases' (t, device, value, weight), in the order they came due.

    Example:
        >>> import numpy as np
        >>> reports = pixel_reports(np.array([5, 5]), np.array([11, 12]), np.array([9.0, 7.0]),
        ...                         np.array([1, 0]), 2)
        >>> [r[1].tolist() for r in reports]
        [[12], [11]]
    """
    if weight is None:
        weight = np.ones(advertiser.size)
    if advertiser.size == 0:  # most hours of a small world
        everything: tuple[np.ndarray, ...] = (t, device, value, weight)
        return [everything] * n_advertisers
    order = np.argsort(advertiser, kind="stable")
    cuts = np.searchsorted(advertiser[order], np.arange(n_advertisers + 1)).tolist()
    # every column in advertiser order once; each advertiser's report is a slice (four gathers, not four each)
    columns = (t[order], device[order], value[order], weight[order])
    return [tuple(c[a:b] for c in columns) for a, b in itertools.pairwise(cuts)]


def own_outcomes(batch: OpportunityBatch, bids: np.ndarray, row: np.ndarray, slot: np.ndarray,
                 advertiser: np.ndarray, price: np.ndarray, clicked: np.ndarray, cost: np.ndarray,
                 pixels: list[tuple[np.ndarray, ...]]) -> list[BidderOutcome]:
    """Each advertiser's own view of the hour.

    Args:
        batch: the hour's (n,) opportunities, without truth (with their sampling weights).
        bids: (n_advertisers, n) the bids in force.
        row, slot, advertiser, price, clicked, cost: (k,) the cleared impressions.
        pixels: `pixel_reports` of the hour's purchases.
    """
    n_adv, n = bids.shape
    return outcomes_of(batch, bids, outcome_columns(n_adv, n, row, slot, advertiser, price, clicked, cost), pixels)


def outcome_columns(n_adv: int, n: int, row: np.ndarray, slot: np.ndarray, advertiser: np.ndarray,
                    price: np.ndarray, clicked: np.ndarray, cost: np.ndarray) -> OutcomeColumns:
    """Every advertiser's (slot won, price, clicked, cost) over `n` opportunities: (n_adv, n) each.

    Args:
        row, slot, advertiser, price, clicked, cost: (k,) the cleared impressions (rows below n; a batch of
            worlds passes every world's, its rows offset by the world's first).
    """
    # one (n_advertisers, n) matrix per field; each advertiser gets its own row
    shape = (n_adv, n)
    columns = OutcomeColumns(np.full(shape, -1, np.int8), np.zeros(shape), np.zeros(shape, bool), np.zeros(shape))
    cell = advertiser * n + row
    for out, value in zip(columns, (slot, price, clicked, cost), strict=True):
        out.reshape(-1)[cell] = value
    return columns


def outcomes_of(batch: OpportunityBatch, bids: np.ndarray, columns: OutcomeColumns,
                pixels: list[tuple[np.ndarray, ...]]) -> list[BidderOutcome]:
    """Each advertiser's own view of the hour from its rows of `columns` ((n_adv, n) each, `outcome_columns`)
    and of `bids` (n_adv, n), with its pixel's purchases."""
    slot_won, price_m, clicked_m, cost_m = columns
    return [BidderOutcome(batch, bids[j], slot_won[j], price_m[j], clicked_m[j], cost_m[j], *pixels[j])
            for j in range(bids.shape[0])]


class OutcomeColumns(NamedTuple):
    """Every advertiser's outcome columns, (n_adv, n) each: its row is its `BidderOutcome`'s."""

    slot: np.ndarray  # int8, -1 where the advertiser won nothing
    price: np.ndarray
    clicked: np.ndarray
    cost: np.ndarray
