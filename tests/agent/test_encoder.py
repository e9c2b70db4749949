"""The journey encoder reads only our own logs: shuffled truth gives identical bids, and the table follows
our impressions, clicks and pixel purchases."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from gaelp.agent.bidder import AgentBidder
from gaelp.agent.encoder import JourneyEncoder, WorldsEncoder, feature_names
from gaelp.bidders.protocol import BidderOutcome, BidderWrapper, OpportunityBatch, Truth
from gaelp.bidders.worlds import WorldRows
from gaelp.config import build_config
from gaelp.simulation import Simulation


class _TruthMangler(BidderWrapper):
    """Declares it sees truth (so the simulation builds it) and hands the inner bidder a mangled truth."""

    def __init__(self, inner, mode: str) -> None:
        super().__init__(inner)
        self.sees_truth = True
        self.mode = mode
        self.bids: list[np.ndarray] = []

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        tr = batch.truth
        if self.mode == "shuffled":
            order = np.random.default_rng(batch.t).permutation(batch.size)
            batch = replace(batch, truth=Truth(tr.p_convert[order], tr.value[order]))
        elif self.mode == "garbage":
            batch = replace(batch, truth=Truth(np.ones(batch.size), np.full(batch.size, 1e6)))
        out = self.inner.bid(batch)
        self.bids.append(out.copy())
        return out


def _bids(mode: str) -> list[np.ndarray]:
    cfg = build_config({"users": 1500, "days": 1, "seed": 4})
    bidder = _TruthMangler(AgentBidder(cfg), mode)
    bidder.inner.set_action(np.linspace(-0.5, 0.5, bidder.inner.action.size))
    Simulation(cfg, bidder=bidder).run()
    return bidder.bids


def test_shuffled_truth_gives_identical_bids() -> None:
    base, shuffled, garbage = _bids("as_is"), _bids("shuffled"), _bids("garbage")
    assert len(base) > 20 and sum(b.size for b in base) > 250
    assert np.unique(np.concatenate(base)).size > 10  # bids differ by journey and context, not one number
    for a, b, c in zip(base, shuffled, garbage, strict=True):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def _batch(t: int, device: list[int], channel: list[int]) -> OpportunityBatch:
    n = len(device)
    return OpportunityBatch(t=t, weekday=0, channel=np.array(channel, np.int8), device=np.array(device, np.int64),
                            device_type=np.zeros(n, np.int8), intent=np.ones(n, np.int8), reserve=np.zeros(n),
                            channel_names=("search", "social", "display"))


def test_table_counts_touches_clicks_and_recency() -> None:
    enc = JourneyEncoder(3, capacity=4)
    names = feature_names(("search", "social", "display"))
    assert len(names) == enc.n_features
    b = _batch(10, [2, 2, 7, 3], [0, 1, 1, 2])
    won = np.array([0, 0, 1, -1], np.int8)
    clicked = np.array([True, False, True, False])
    enc.observe(BidderOutcome(b, np.ones(4), won, np.ones(4), clicked, clicked * 1.0, np.array([12]),
                              np.array([7]), np.array([220.0])))
    x = enc.features(_batch(35, [2, 7, 3, 99], [0, 0, 0, 0]))
    col = {n: i for i, n in enumerate(names)}
    one = np.float32(np.log1p(1))
    assert x[0, col["touches_search"]] == one and x[0, col["touches_social"]] == one
    assert x[0, col["clicks_search"]] == one and x[0, col["clicks_social"]] == 0
    assert x[0, col["clicked_24h"]] == 0 and x[0, col["clicked_7d"]] == 1  # 25 hours ago: within 7 days only
    assert x[2].tolist() == x[3].tolist()  # a device that lost its auction and one never seen look alike
    known = enc.features(_batch(35, [2, 7, 3], [0, 0, 0]))  # every device in the table: the usual hour's path
    assert known.tolist() == x[:3].tolist()
    assert enc.is_converted(np.array([7, 2, 1000])).tolist() == [True, False, False]


def _outcome(rng: np.random.Generator, t: int, n: int, devices: int) -> BidderOutcome:
    b = OpportunityBatch(t=t, weekday=0, channel=rng.integers(0, 3, n).astype(np.int8),
                         device=rng.integers(0, devices, n), device_type=rng.integers(0, 2, n).astype(np.int8),
                         intent=rng.integers(0, 3, n).astype(np.int8), reserve=np.zeros(n),
                         channel_names=("search", "social", "display"))
    won = np.where(rng.random(n) < 0.6, 0, -1).astype(np.int8)
    clicked = (won >= 0) & (rng.random(n) < 0.3)
    return BidderOutcome(b, np.ones(n), won, np.ones(n), clicked, clicked * 1.0, np.zeros(0), np.zeros(0, np.int64),
                         np.zeros(0))


def test_worlds_encoder_reads_and_counts_as_each_encoder_alone() -> None:
    rng = np.random.default_rng(3)
    batched, alone = ([JourneyEncoder(3, capacity=40) for _ in range(3)] for _ in range(2))
    worlds = WorldsEncoder(batched)
    for t in range(30):
        # unequal worlds, one of them often without an opportunity; devices repeat within an hour
        outcomes = [_outcome(rng, t, int(rng.integers(0, 12)) * (w != 1 or t % 3 == 0), 40) for w in range(3)]
        rows = WorldRows.of([o.batch for o in outcomes])
        assert worlds.ready(rows.device)
        x, converted = worlds.features_and_converted(rows)
        for enc, o, part, conv in zip(alone, outcomes, rows.split(x), rows.split(converted), strict=True):
            x_w, conv_w = enc.features_and_converted(o.batch)
            assert np.array_equal(part, x_w) and np.array_equal(conv, conv_w)
        slot, clicked = (np.concatenate([getattr(o, f) for o in outcomes]) for f in ("slot", "clicked"))
        won = np.flatnonzero(slot >= 0)
        worlds.touch(rows, won, clicked[won])
        for enc, o in zip(alone, outcomes, strict=True):
            enc.observe(o)
        if t == 20:  # a purchase marks a device converted in world 2 (each world's own `mark_converted`)
            for enc in (batched[2], alone[2]):
                enc.mark_converted(np.array([5]))
    for a, b in zip(batched, alone, strict=True):
        assert all(np.array_equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert batched[0].touches.sum() > 20 and batched[2].converted[5]
    # a device past the tables, or tables of unequal sizes (one encoder grew), are not read as one
    assert not worlds.ready(np.array([3, 40]))
    batched[1].mark_converted(np.array([45]))
    assert not worlds.ready(np.array([3]))
