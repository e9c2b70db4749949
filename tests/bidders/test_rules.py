"""Tests for gaelp.bidders.rules: the rule-based rival."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.bidders.protocol import BidderContext, BidderOutcome, OpportunityBatch
from gaelp.bidders.registry import make_bidder
from gaelp.config import CompetitorConfig, Config

CFG = Config()
CHANNEL_MULT = (1.0, 0.6, 0.25)
INTENT_MULT = (0.5, 1.0, 1.8)
BASE_CPC = 3.2


def rival(sigma: float = 0.0, seed: int = 0):
    comp = CompetitorConfig(name="acme", value=120.0, budget_per_user=0.05, base_cpc=BASE_CPC,
                            channel_mult=CHANNEL_MULT, intent_mult=INTENT_MULT, creative_quality=1.0,
                            appeal=1.0, brand=0.5, bid_sigma=sigma)
    return make_bidder("rule", BidderContext(CFG, 1_000.0, np.random.default_rng(seed), comp))


def batch(n: int, t: int, seed: int = 0, device=None, channel=None, intent=None) -> OpportunityBatch:
    rng = np.random.default_rng(seed)
    return OpportunityBatch(
        t=t, weekday=0,
        channel=rng.integers(0, 3, n).astype(np.int8) if channel is None else np.asarray(channel, np.int8),
        device=rng.integers(0, 10**6, n) if device is None else np.asarray(device, np.int64),
        device_type=np.zeros(n, np.int8),
        intent=rng.integers(0, 3, n).astype(np.int8) if intent is None else np.asarray(intent, np.int8),
        reserve=np.zeros(n), channel_names=("search", "social", "display"))


def test_rule_bidder_bids_base_cpc_times_channel_and_intent_multipliers():
    r = rival()
    assert r.name == "acme" and not r.sees_truth
    b = batch(2_000, 7)
    bids = r.bid(b)
    # slow reference, one opportunity at a time
    expected = [BASE_CPC * CHANNEL_MULT[c] * INTENT_MULT[i] for c, i in zip(b.channel, b.intent)]
    assert bids.dtype == np.float64 and bids == pytest.approx(expected)


def test_rule_bidder_needs_a_competitor_config():
    with pytest.raises(ValueError, match="CompetitorConfig"):
        make_bidder("rule", BidderContext(CFG, 10.0, np.random.default_rng(0)))


def test_spread_is_deterministic_per_device_channel_and_hour():
    r = rival(sigma=0.7)
    b = batch(500, 33)
    bids = r.bid(b)
    assert np.array_equal(bids, r.bid(b)), "same opportunity, same bid"
    # a pure function of the opportunity: reordering or sub-setting the batch does not change it
    perm = np.random.default_rng(1).permutation(b.size)
    shuffled = batch(b.size, 33, device=b.device[perm], channel=b.channel[perm], intent=b.intent[perm])
    assert np.array_equal(r.bid(shuffled), bids[perm])
    # a twin built from the same stream draws the same spread; another hour draws another
    assert np.array_equal(rival(sigma=0.7).bid(b), bids)
    other_hour = batch(500, 34)
    assert not np.allclose(r.bid(other_hour), bids)
    assert not np.array_equal(rival(sigma=0.7, seed=1).bid(b), bids)


def test_spread_is_mean_preserving_lognormal():
    sigma = 0.8
    r = rival(sigma=sigma)
    n = 200_000
    b = batch(n, 12, device=np.arange(n), channel=np.zeros(n), intent=np.ones(n))
    ratio = r.bid(b) / (BASE_CPC * CHANNEL_MULT[0] * INTENT_MULT[1])
    assert np.all(ratio > 0)
    sd_of_mean = np.sqrt(np.expm1(sigma**2) / n)
    assert abs(ratio.mean() - 1.0) < 5 * sd_of_mean, "the spread must not change the average bid"
    log = np.log(ratio)
    assert log.std() == pytest.approx(sigma, rel=0.01)
    assert log.mean() == pytest.approx(-sigma**2 / 2, abs=0.01)


def test_rule_bidder_does_not_learn():
    r = rival(sigma=0.3)
    b = batch(100, 3)
    before = r.bid(b)
    won = np.ones(b.size, bool)
    r.observe(BidderOutcome(b, before, np.zeros(b.size, np.int8), before, won, before,
                            np.array([3]), b.device[:1], np.array([120.0])))
    assert np.array_equal(r.bid(b), before) and r.state_dict() == {}
