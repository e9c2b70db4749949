"""`check_bidder`: the contract every bidder must pass, in the style of gymnasium's `check_env`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from gaelp.bidders.protocol import Bidder, BidderOutcome, OpportunityBatch


def check_bidder(bidder: Bidder, batch: OpportunityBatch, make_outcome: Callable[[np.ndarray], BidderOutcome],
                 fresh: Callable[[], Bidder]) -> None:
    """Contract test of a bidder, in the style of gymnasium's `check_env`.

    Checks: it satisfies the protocol; bids are a float array of shape (n,), finite and >= 0; bidding
    does not mutate the batch; it bids the same on the same batch from the same state; it accepts an
    outcome; its state, saved after learning from it and loaded into a freshly built bidder, makes
    that bidder bid exactly as the original does.

    Args:
        bidder: the bidder under test.
        batch: a batch to bid on (with truth if the bidder sees truth).
        make_outcome: builds a plausible outcome from the bids.
        fresh: builds a new bidder the way `bidder` was built (same config, same random stream).

    Raises:
        AssertionError: naming the broken rule.
    """
    assert isinstance(bidder, Bidder), f"{type(bidder).__name__} does not implement the Bidder protocol"
    assert isinstance(bidder.name, str) and bidder.name, "bidder.name must be a non-empty string"
    assert bidder.daily_budget >= 0, "daily_budget must be >= 0"
    view = batch if bidder.sees_truth else batch.without_truth()
    before = {k: getattr(view, k).copy() for k in ("channel", "device", "device_type", "intent", "reserve")}
    state = bidder.state_dict()
    bids = np.asarray(bidder.bid(view))
    assert bids.shape == (view.size,), f"bid() returned shape {bids.shape}, expected ({view.size},)"
    assert np.issubdtype(bids.dtype, np.floating), f"bid() returned dtype {bids.dtype}, expected float"
    assert np.isfinite(bids).all(), "bid() returned a non-finite bid"
    assert (bids >= 0).all(), "bid() returned a negative bid"
    for k, v in before.items():
        assert np.array_equal(getattr(view, k), v), f"bid() mutated batch.{k}"
    bidder.load_state_dict(state)
    again = np.asarray(bidder.bid(view))
    assert np.array_equal(bids, again), "bid() is not deterministic for the same state and batch"
    bidder.observe(make_outcome(bids))
    restored = fresh()
    assert restored is not bidder, "fresh() must build a new bidder"
    restored.load_state_dict(bidder.state_dict())
    assert np.array_equal(np.asarray(restored.bid(view)), np.asarray(bidder.bid(view))), \
        "a fresh bidder loaded with the state_dict() bids differently from the original"
