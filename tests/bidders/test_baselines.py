"""Tests for gaelp.bidders.baselines, and the `check_bidder` contract over every registered bidder."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.bidders.baselines import FixedBidder, OracleBidder, TargetCpaBidder
from gaelp.bidders.contract import check_bidder
from gaelp.bidders.protocol import BidderContext, BidderOutcome, OpportunityBatch, Truth
from gaelp.bidders.registry import BIDDERS, make_bidder
from gaelp.config import CompetitorConfig, Config, build_config

SEED = 31337
BUDGET = 500.0
CFG = build_config({"bidders": {"fixed_bid": 2.75, "target_cpa": 90.0, "oracle_fraction": 0.35},
                    "campaign": {"lookback_days": 7}})
N_CH = len(CFG.world.channels)
RIVAL = CompetitorConfig(name="rival", value=150.0, budget_per_user=0.05, base_cpc=2.0,
                         channel_mult=tuple(np.linspace(1.0, 0.3, N_CH)), creative_quality=1.0, appeal=1.0,
                         brand=0.5, bid_sigma=0.5)


def context(cfg: Config = CFG, seed: int = SEED, budget: float = BUDGET) -> BidderContext:
    """A context every registered bidder accepts: ours ignore the competitor config, rivals need it."""
    return BidderContext(cfg, budget, np.random.default_rng(seed), RIVAL)


def make_batch(n: int, t: int, seed: int = SEED, *, truth: bool = True, device_base: int = 0,
               channel=None, intent=None, device_type=None) -> OpportunityBatch:
    rng = np.random.default_rng(seed + t)
    ch = rng.integers(0, N_CH, n).astype(np.int8) if channel is None else np.full(n, channel, np.int8)
    it = rng.integers(0, 3, n).astype(np.int8) if intent is None else np.full(n, intent, np.int8)
    dt = rng.integers(0, 2, n).astype(np.int8) if device_type is None else np.full(n, device_type, np.int8)
    tr = Truth(p_convert=rng.uniform(0.0, 0.1, n), value=rng.choice([100.0, 220.0, 300.0], n)) if truth else None
    return OpportunityBatch(t=t, weekday=(t // 24) % 7, channel=ch, device=device_base + np.arange(n, dtype=np.int64),
                            device_type=dt, intent=it, reserve=np.full(n, 0.1), channel_names=CFG.channel_names,
                            truth=tr)


def outcome(batch: OpportunityBatch, bids: np.ndarray, *, win=None, click=None, price_frac: float = 0.7,
            conv_t=None, conv_device=None, seed: int = SEED) -> BidderOutcome:
    """A plausible outcome: wins where asked (default: the higher half of bids), clicks, costs, conversions."""
    rng = np.random.default_rng(seed)
    batch = batch.without_truth()
    n = batch.size
    won = (bids > np.median(bids)) & (bids > 0) if win is None else np.asarray(win, bool)
    clicked = won & (rng.random(n) < 0.3) if click is None else np.asarray(click, bool) & won
    price = np.where(won, price_frac * bids, 0.0)
    if conv_device is None:
        conv_device = batch.device[clicked][:3]
    conv_device = np.asarray(conv_device, np.int64)
    conv_t = np.full(conv_device.size, batch.t, np.int64) if conv_t is None else np.asarray(conv_t, np.int64)
    return BidderOutcome(batch, np.asarray(bids, float), np.where(won, 0, -1).astype(np.int8), price, clicked,
                         np.where(clicked, price, 0.0), conv_t, conv_device, np.full(conv_device.size, 220.0))


# --------------------------------------------------------------------------------------------------
# the contract, over every registered bidder (a newly registered one is covered automatically)


@pytest.mark.parametrize("name", sorted(BIDDERS))
def test_every_registered_bidder_passes_check_bidder(name):
    bidder = make_bidder(name, context())
    for t in (5, 29):  # a fresh bidder, then one that has learned from an hour
        batch = make_batch(300, t)
        check_bidder(bidder, batch, lambda bids, b=batch: outcome(b, bids), lambda: make_bidder(name, context()))


@pytest.mark.parametrize("name", sorted(BIDDERS))
def test_every_registered_bidder_restores_into_a_fresh_instance(name):
    a = make_bidder(name, context())
    batch = make_batch(200, 7)
    view = batch if a.sees_truth else batch.without_truth()
    a.observe(outcome(batch, np.asarray(a.bid(view))))
    b = make_bidder(name, context())
    b.load_state_dict(a.state_dict())
    nxt = make_batch(200, 8)
    nxt = nxt if a.sees_truth else nxt.without_truth()
    assert np.array_equal(a.bid(nxt), b.bid(nxt))


def test_registry_holds_the_baselines():
    reg = BIDDERS
    assert {"fixed", "target_cpa", "oracle"} <= set(reg)
    assert reg["fixed"] is FixedBidder and reg["target_cpa"] is TargetCpaBidder and reg["oracle"] is OracleBidder


# --------------------------------------------------------------------------------------------------
# fixed


def test_fixed_bidder_bids_the_configured_constant_whatever_it_observes():
    bidder = make_bidder("fixed", context())
    for t in range(3):
        batch = make_batch(100, t, truth=False)
        bids = bidder.bid(batch)
        assert np.all(bids == CFG.bidders.fixed_bid)
        bidder.observe(outcome(batch, bids, win=np.ones(100, bool), click=np.ones(100, bool)))


# --------------------------------------------------------------------------------------------------
# target CPA


def one_context_batch(n: int, t: int, channel: int, intent: int, device_type: int, device_base: int):
    return make_batch(n, t, truth=False, channel=channel, intent=intent, device_type=device_type,
                      device_base=device_base)


def learn(bidder: TargetCpaBidder, clicked_batches, converting_devices, conv_t: int) -> None:
    """Every opportunity of the batches won and clicked for free (no pacing effect), then pixel
    conversions of `converting_devices` at hour `conv_t`."""
    for b in clicked_batches:
        bids = bidder.bid(b)
        bidder.observe(outcome(b, bids, win=np.ones(b.size, bool), click=np.ones(b.size, bool), price_frac=0.0,
                               conv_device=np.empty(0)))
    quiet = make_batch(1, conv_t, truth=False)
    conv_t = np.full(len(converting_devices), conv_t)
    bidder.observe(outcome(quiet, bidder.bid(quiet), win=np.zeros(1, bool), conv_t=conv_t,
                           conv_device=converting_devices))


def test_target_cpa_starts_from_its_prior_everywhere():
    bidder = make_bidder("target_cpa", context())
    bids = bidder.bid(make_batch(500, 0, truth=False))
    assert np.allclose(bids, bids[0]) and bids[0] > 0


def test_target_cpa_raises_its_bid_where_clicks_convert_and_lowers_it_where_they_do_not():
    bidder = make_bidder("target_cpa", context())
    good = one_context_batch(100, 10, channel=0, intent=2, device_type=1, device_base=0)
    bad = one_context_batch(100, 10, channel=N_CH - 1, intent=0, device_type=0, device_base=1_000)
    learn(bidder, [good, bad], converting_devices=np.arange(30), conv_t=40)
    probe = {name: one_context_batch(5, 41, *ctx, device_base=5_000 + 10 * i)
             for i, (name, ctx) in enumerate({"good": (0, 2, 1), "bad": (N_CH - 1, 0, 0), "unseen": (0, 1, 0)}.items())}
    bid = {name: float(bidder.bid(b)[0]) for name, b in probe.items()}
    assert bid["good"] > bid["unseen"] > bid["bad"] > 0
    # the estimate is Beta-smoothed: with more converting clicks the bid rises further
    more = make_bidder("target_cpa", context())
    learn(more, [good, bad], converting_devices=np.arange(60), conv_t=40)
    assert float(more.bid(probe["good"])[0]) > bid["good"]


def test_target_cpa_stops_bidding_on_devices_it_saw_convert():
    bidder = make_bidder("target_cpa", context())
    good = one_context_batch(50, 3, channel=0, intent=2, device_type=1, device_base=0)
    learn(bidder, [good], converting_devices=np.array([4, 7, 777_777]), conv_t=5)  # one never clicked
    again = one_context_batch(50, 6, channel=0, intent=2, device_type=1, device_base=0)
    bids = bidder.bid(again)
    excluded = np.isin(again.device, [4, 7])
    assert np.all(bids[excluded] == 0.0) and np.all(bids[~excluded] > 0)
    far = one_context_batch(1, 6, channel=0, intent=2, device_type=1, device_base=777_777)
    assert bidder.bid(far)[0] == 0.0, "a converted device is excluded even without a click of ours"


def test_target_cpa_credits_only_conversions_inside_the_lookback_window():
    window_h = 24 * CFG.campaign.lookback_days
    good = one_context_batch(100, 10, channel=0, intent=2, device_type=1, device_base=0)
    inside, outside = make_bidder("target_cpa", context()), make_bidder("target_cpa", context())
    learn(inside, [good], converting_devices=np.arange(30), conv_t=10 + window_h)
    learn(outside, [good], converting_devices=np.arange(30), conv_t=10 + window_h + 1)
    fresh = make_bidder("target_cpa", context())
    probe = one_context_batch(3, 10 + window_h + 2, channel=0, intent=2, device_type=1, device_base=9_000)
    assert inside.bid(probe)[0] > fresh.bid(probe)[0] > outside.bid(probe)[0]


@pytest.mark.parametrize("name", ["target_cpa", "oracle"])
def test_paced_bidders_shade_their_bids_after_overspending(name):
    # a twin sees the same clicks for free: what differs between the two is pacing only
    spender, twin = make_bidder(name, context()), make_bidder(name, context())
    batch = make_batch(200, 0)
    view = batch if spender.sees_truth else batch.without_truth()
    bids = np.full(batch.size, BUDGET / 20)
    for bidder, frac in ((spender, 1.0), (twin, 0.0)):  # the spender blows the day's budget in hour 0
        bidder.observe(outcome(batch, bids, win=np.ones(batch.size, bool), click=np.arange(batch.size) < 20,
                               price_frac=frac, conv_device=np.empty(0)))
    shaded, free = spender.bid(view), twin.bid(view)
    ratio = shaded[free > 0] / free[free > 0]
    assert ratio.size and np.all(ratio < 1.0) and np.allclose(ratio, ratio[0]), "pacing shades every bid alike"


# --------------------------------------------------------------------------------------------------
# oracle


def test_oracle_refuses_a_batch_without_truth():
    bidder = make_bidder("oracle", context())
    with pytest.raises(ValueError, match="truth"):
        bidder.bid(make_batch(10, 0, truth=False))


def test_oracle_bids_in_proportion_to_the_true_value_of_a_click():
    bidder = make_bidder("oracle", context())
    assert bidder.sees_truth
    batch = make_batch(1_000, 0)
    bids = bidder.bid(batch)
    worth = batch.truth.p_convert * batch.truth.value
    assert bids == pytest.approx(CFG.bidders.oracle_fraction * worth)  # a fresh pacer does not shade
    order = np.argsort(worth)
    assert np.all(np.diff(bids[order]) >= 0)


# --------------------------------------------------------------------------------------------------
# oracle_lp


def test_oracle_lp_bids_k_times_true_purchase_probability_times_target_cpa():
    batch = make_batch(400, 3)
    for k in (0.5, 2.0):
        ctx = BidderContext(CFG, BUDGET, np.random.default_rng(SEED), extra={"k": k})
        bids = make_bidder("oracle_lp", ctx).bid(batch)
        assert np.allclose(bids, k * CFG.bidders.target_cpa * batch.truth.p_convert)
    # it ignores the value of a sale: its target is a cost per acquisition
    same_p = make_batch(400, 3)
    richer = OpportunityBatch(**{f: getattr(same_p, f) for f in ("t", "weekday", "channel", "device", "device_type",
                                                                "intent", "reserve", "channel_names")},
                              truth=Truth(p_convert=same_p.truth.p_convert, value=same_p.truth.value * 10))
    bidder = make_bidder("oracle_lp", context())
    assert np.array_equal(bidder.bid(richer), bidder.bid(same_p))


def test_oracle_lp_takes_k_from_the_config_unless_the_context_gives_one():
    cfg = build_config({"bidders": {"oracle_lp_k": 3.0}})
    batch = make_batch(50, 1)
    from_cfg = make_bidder("oracle_lp", BidderContext(cfg, BUDGET, np.random.default_rng(SEED)))
    assert from_cfg.k == 3.0
    assert np.allclose(from_cfg.bid(batch), 3.0 * cfg.bidders.target_cpa * batch.truth.p_convert)
    assert make_bidder("oracle_lp", BidderContext(cfg, BUDGET, np.random.default_rng(SEED), extra={"k": 0.25})).k == 0.25


def test_oracle_lp_needs_the_truth_and_a_positive_k():
    bidder = make_bidder("oracle_lp", context())
    assert bidder.sees_truth
    with pytest.raises(ValueError, match="truth"):
        bidder.bid(make_batch(10, 1, truth=False))
    with pytest.raises(ValueError, match="k must be > 0"):
        make_bidder("oracle_lp", BidderContext(CFG, BUDGET, np.random.default_rng(SEED), extra={"k": 0.0}))
