"""What each advertiser learns after an hour: its own auction results and its own pixel's purchases.

The platform reports to each advertiser only the opportunities it bid on, what it won, at which
price, and its own clicks and costs; the advertiser's pixel on its site reports the purchases of its
own product, by device. Nobody learns about another advertiser's bids, wins or sales.
"""

from __future__ import annotations

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
    cuts = np.searchsorted(advertiser[order], np.arange(n_advertisers + 1))
    out: list[tuple[np.ndarray, ...]] = []
    for j in range(n_advertisers):
        mine = order[cuts[j]:cuts[j + 1]]
        out.append((t[mine], device[mine], value[mine], weight[mine]))
    return out


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
    # one (n_advertisers, n) matrix per field; each advertiser gets its own row
    shape = (n_adv, n)
    slot_won = np.full(shape, -1, np.int8)
    price_m, clicked_m, cost_m = np.zeros(shape), np.zeros(shape, bool), np.zeros(shape)
    cell = advertiser * n + row
    for out, value in ((slot_won, slot), (price_m, price), (clicked_m, clicked), (cost_m, cost)):
        out.reshape(-1)[cell] = value
    return [BidderOutcome(batch, bids[j], slot_won[j], price_m[j], clicked_m[j], cost_m[j], *pixels[j])
            for j in range(n_adv)]
