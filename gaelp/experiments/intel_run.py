"""Run a campaign and score our competitive intelligence against the simulator's truth.

Our bidder is a *probe*: our fixed bid times a random factor, log-uniform in [1/spread, spread],
drawn per (device, channel, hour) from a counter hash. A single fixed bid would censor every auction
at the same point and show the competing-bid distribution at one value only; a bid that varies
independently of the auction shows it over a range, without biasing the estimate.

The truth comes from the hour records (an observer keeps the rivals' bids in force and the slots
they won), and `gaelp.bidders.intel.price_to_beat` runs the mechanism's rule on the matrix.
Our bidder never sees any of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gaelp.bidders.intel import (
    Intel,
    RecordingBidder,
    StepCdf,
    ecdf,
    estimate,
    ks_distance,
    price_to_beat,
    reveals_price,
)
from gaelp.bidders.protocol import OURS, BaseBidder, BidderContext, OpportunityBatch
from gaelp.config import Config
from gaelp.records import HourRecord
from gaelp.rng import CounterRng, Streams
from gaelp.simulation import Simulation, build_competitors


class ProbeBidder(BaseBidder):
    """A fixed bid times an independent log-uniform factor in [1/spread, spread]."""

    def __init__(self, ctx: BidderContext, spread: float = 2.0) -> None:
        if not spread >= 1.0:
            raise ValueError(f"spread must be >= 1, got {spread}")
        super().__init__("probe", ctx.daily_budget)
        self.base, self.log_spread = ctx.config.bidders.fixed_bid, float(np.log(spread))
        self._draws = CounterRng(int(ctx.rng.integers(2**62)))

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """The base bid times exp(U(-log spread, log spread))."""
        u = self._draws.uniform(batch.device * 8 + batch.channel, batch.t, 1)
        return self.base * np.exp((2.0 * u - 1.0) * self.log_spread)


class _RivalTruth:
    """Observer: the rivals' bids in force and the slots they won, hour by hour (ground truth)."""

    def __init__(self) -> None:
        self.bids: list[np.ndarray] = []
        self.slots: list[np.ndarray] = []

    def __call__(self, rec: HourRecord) -> None:
        cl = rec.impressions
        rivals = np.flatnonzero(np.arange(rec.bids.shape[0]) != OURS)
        self.bids.append(rec.bids[rivals])
        slots = np.full(rec.bids.shape, -1, np.int64)
        slots[cl.advertiser, cl.row] = cl.slot
        self.slots.append(slots[rivals])


@dataclass(frozen=True, slots=True)
class IntelCheck:
    """Estimates from our logs beside the truth.

    Attributes:
        intel: the estimates.
        truth_price_to_beat: the empirical CDF of the true H over the auctions we entered.
        truth_overlap_rate, truth_outranking_share: the same rates computed from every bid.
        ks_distance: sup |estimate - truth| over our bid range.
        entered: auctions we entered.
    """

    intel: Intel
    truth_price_to_beat: StepCdf
    truth_overlap_rate: float
    truth_outranking_share: float
    ks_distance: float
    entered: int

    def to_json(self) -> dict[str, Any]:
        """The documented `gaelp intel --json` object."""
        i = self.intel
        lo, hi = i.bid_range
        qs = np.linspace(lo, hi, 6)
        return {
            "impression_share": i.impression_share, "lost_share_budget": i.lost_share_budget,
            "lost_share_rank": i.lost_share_rank, "top_of_page_rate": i.top_of_page_rate,
            "overlap_rate": i.overlap_rate, "overlap_rate_truth": self.truth_overlap_rate,
            "position_above_rate": i.position_above_rate,
            "outranking_share": i.outranking_share, "outranking_share_truth": self.truth_outranking_share,
            "bid_range": [lo, hi], "entered": self.entered,
            "price_to_beat_cdf": {"at": qs.round(3).tolist(), "estimate": i.price_to_beat(qs).round(4).tolist(),
                                  "truth": self.truth_price_to_beat(qs).round(4).tolist()},
            "ks_distance": self.ks_distance,
        }


def run_intel(cfg: Config, days: int, spread: float = 2.0) -> IntelCheck:
    """Run `days` days of `cfg`'s market with our probe bidder and score the intelligence."""
    streams = Streams(cfg.seed)
    probe = RecordingBidder(ProbeBidder(BidderContext(cfg, cfg.campaign.budget_per_user * cfg.users,
                                                      streams.get("bidders")), spread))
    rivals = _RivalTruth()
    sim = Simulation(cfg, probe, build_competitors(cfg, streams), observers=[rivals])
    sim.run(days)
    log = probe.log()
    channels = cfg.world.channels
    intel = estimate(log, tuple(c.mechanism for c in channels), tuple(c.slots for c in channels))
    bids = np.vstack([log.bid, np.concatenate(rivals.bids, axis=1)])  # (n_bidders, n), ours first (OURS)
    rival_slots = np.concatenate(rivals.slots, axis=1)
    entered = log.entered
    truth_h = price_to_beat(bids, sim.market.quality, log.reserve)[entered]
    truth = ecdf(truth_h)
    lo, hi = intel.bid_range
    return IntelCheck(intel, truth, *_truth_rates(log, bids, rival_slots, sim.market.quality, cfg),
                      ks_distance(intel.price_to_beat, truth, lo, hi), int(entered.sum()))


def _truth_rates(log, bids, rival_slots, quality, cfg: Config) -> tuple[float, float]:
    reveal = reveals_price(tuple(c.mechanism for c in cfg.world.channels))[log.channel]
    multi = np.array([c.slots for c in cfg.world.channels])[log.channel] > 1
    won = log.slot >= 0
    mine = won & multi & reveal
    overlap = (rival_slots >= 0).any(axis=0)
    rivals = bids[1:]
    ok = (rivals > 0) & (rivals >= log.reserve)
    below = (ok & (rivals * quality[1:, None] <= log.bid * quality[0])).any(axis=0)
    entered = log.entered & reveal
    return (float((mine & overlap).sum() / max(mine.sum(), 1)),
            float((entered & below).sum() / max(entered.sum(), 1)))
