"""The intelligence estimate against the simulator's truth on a default campaign."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.bidders.protocol import BidderContext
from gaelp.config import build_config
from gaelp.experiments.intel_run import ProbeBidder, run_intel

LEARNING_MARKET = [{"name": "qustodio", "kind": "q_learning"}, {"name": "bark", "kind": "policy_gradient"},
                   {"name": "circle", "kind": "rule"}, {"name": "aura", "kind": "rival_tcpa"}, {"name": "others"}]


@pytest.mark.parametrize(("seed", "market", "users"), [(0, None, 3000), (1, None, 3000), (2, LEARNING_MARKET, 6000),
                                                       (3, LEARNING_MARKET, 6000)])
def test_competing_bid_estimate_is_within_ks_01_after_a_week(seed: int, market, users: int) -> None:
    # Learning rivals pile their bids into a narrow band, a steep step that needs a few more auctions.
    data = {"users": users, "seed": seed}
    if market is not None:
        data["market"] = {"competitors": market}
    check = run_intel(build_config(data), days=7)
    lo, hi = check.intel.bid_range
    assert hi > 2 * lo  # the probe covered a range of prices
    assert check.ks_distance <= 0.1
    assert check.entered > 1000
    j = check.to_json()
    assert {"impression_share", "top_of_page_rate", "ks_distance"} <= j.keys()
    assert 0 < j["impression_share"] <= 1 and 0 < j["top_of_page_rate"] <= 1
    # Overlap is exact when derivable; outranking is a lower bound (a rival below the reserve is unseen).
    assert j["overlap_rate"] == pytest.approx(j["overlap_rate_truth"])
    assert j["outranking_share"] <= j["outranking_share_truth"] + 1e-12


def test_probe_bids_are_spread_and_deterministic() -> None:
    cfg = build_config({"users": 10})
    p = ProbeBidder(BidderContext(cfg, 1.0, np.random.default_rng(0)), spread=2.0)
    from gaelp.bidders.protocol import OpportunityBatch

    n = 2000
    rng = np.random.default_rng(1)
    batch = OpportunityBatch(t=5, weekday=0, channel=rng.integers(0, 3, n).astype(np.int8),
                             device=np.arange(n), device_type=np.zeros(n, np.int8), intent=np.ones(n, np.int8),
                             reserve=np.zeros(n), channel_names=cfg.channel_names)
    b = p.bid(batch)
    base = cfg.bidders.fixed_bid
    assert b.min() >= base / 2 and b.max() <= base * 2
    assert abs(np.log(b / base).mean()) < 0.05  # log-uniform around the base bid
    np.testing.assert_array_equal(b, p.bid(batch))
    with pytest.raises(ValueError, match="spread"):
        ProbeBidder(BidderContext(cfg, 1.0, np.random.default_rng(0)), spread=0.5)
