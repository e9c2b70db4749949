"""Rival advertisers. Each has its own budget, value and rules and sees only its own outcomes.

`RuleBidder` ("rule") bids a base CPC times channel and intent multipliers, with an optional
log-normal spread per opportunity (drawn from a hash of device and hour, so a counterfactual run
draws the same spread for the same opportunity). Learning competitors register more kinds.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from gaelp.bidders.protocol import (
    BaseBidder,
    BidderContext,
    BidderOutcome,
    OpportunityBatch,
)
from gaelp.rng import CounterRng


class RuleBidder(BaseBidder):
    """Rule-based rival: base CPC x channel x query intent (x spread), within its daily budget."""

    def __init__(self, ctx: BidderContext) -> None:
        comp = ctx.competitor
        if comp is None:
            raise ValueError("the 'rule' bidder is a competitor: its context needs a CompetitorConfig")
        super().__init__(comp.name, ctx.daily_budget)
        self.sigma = comp.bid_sigma
        self._table = comp.base_cpc * np.outer(np.asarray(comp.channel_mult), np.asarray(comp.intent_mult))
        self._noise = CounterRng(int(ctx.rng.integers(2**62)))

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """Table lookup by (channel, intent), times a log-normal spread when `bid_sigma > 0`."""
        b = self._table.ravel()[batch.context]
        if self.sigma > 0 and batch.size:
            # exp(sigma * ndtri(u) - sigma**2 / 2), in place on the fresh uniforms
            spread = self._noise.uniform(batch.device * 8 + batch.channel, batch.t, 1)
            # np.clip's result (the uniforms have no NaN) by two ufuncs, without its Python overhead
            ndtri(np.minimum(np.maximum(spread, 1e-12, out=spread), 1 - 1e-12, out=spread), out=spread)
            spread *= self.sigma
            spread -= 0.5 * self.sigma**2
            b *= np.exp(spread, out=spread)
        return b

    def observe(self, outcome: BidderOutcome) -> None:
        """Rules do not learn."""
