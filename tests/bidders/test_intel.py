"""Competitive intelligence estimators against slow references and the mechanisms themselves."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.bidders.intel import (
    AuctionLog,
    StepCdf,
    current_status_cdf,
    ecdf,
    estimate,
    kaplan_meier,
    ks_distance,
    mixture,
    price_to_beat,
)
from gaelp.bidders.protocol import OpportunityBatch
from gaelp.market.mechanisms import first_price, gsp, second_price


def _km_reference(time: np.ndarray, observed: np.ndarray, at: np.ndarray) -> np.ndarray:
    out = []
    for x in at:
        s = 1.0
        for u in np.unique(time[observed]):
            if u > x:
                break
            at_risk = np.sum(time >= u)
            s *= 1 - np.sum((time == u) & observed) / at_risk
        out.append(1 - s)
    return np.array(out)


def _pava_reference(y: np.ndarray, w: np.ndarray) -> np.ndarray:
    blocks = [[float(v), float(wt), 1] for v, wt in zip(y, w)]
    i = 0
    while i < len(blocks) - 1:
        if blocks[i][0] > blocks[i + 1][0]:
            v0, w0, n0 = blocks[i]
            v1, w1, n1 = blocks.pop(i + 1)
            blocks[i] = [(v0 * w0 + v1 * w1) / (w0 + w1), w0 + w1, n0 + n1]
            i = max(i - 1, 0)
        else:
            i += 1
    return np.concatenate([[v] * n for v, _, n in blocks])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kaplan_meier_matches_the_product_limit_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    h = np.round(rng.lognormal(1.0, 0.5, 200), 1)
    c = np.round(rng.uniform(1, 6, 200), 1)
    time, observed = np.minimum(h, c), h <= c
    at = np.linspace(0, 7, 50)
    np.testing.assert_allclose(kaplan_meier(time, observed)(at), _km_reference(time, observed, at), atol=1e-12)


def test_kaplan_meier_without_censoring_is_the_ecdf() -> None:
    x = np.random.default_rng(3).exponential(size=100)
    at = np.linspace(0, 5, 40)
    np.testing.assert_allclose(kaplan_meier(x, np.ones(100, bool))(at), ecdf(x)(at))


def test_current_status_is_the_isotonic_fit() -> None:
    rng = np.random.default_rng(4)
    bid = rng.integers(1, 20, 300).astype(float)
    won = rng.random(300) < bid / 25
    cdf = current_status_cdf(bid, won)
    xs = np.unique(bid)
    n = np.array([np.sum(bid == x) for x in xs])
    y = np.array([won[bid == x].mean() for x in xs])
    np.testing.assert_allclose(cdf(xs), _pava_reference(y, n))
    assert np.all(np.diff(cdf(xs)) >= 0)


@pytest.mark.parametrize("mech", [gsp, second_price])
def test_price_of_a_top_slot_win_is_the_price_to_beat(mech) -> None:
    rng = np.random.default_rng(5)
    bids = rng.lognormal(0.5, 0.7, (5, 500)) * (rng.random((5, 500)) < 0.8)  # (n_bidders, n); ours first
    q = np.array([1.0, 1.2, 0.8, 1.0, 0.9])
    reserve = np.full(500, 0.5)
    slots = 3 if mech is gsp else 1
    alloc = mech(bids, np.broadcast_to(q[:, None], bids.shape), slots, reserve)
    top = alloc.winners[:, 0] == 0
    h = price_to_beat(bids, q, reserve)
    assert top.sum() > 50
    np.testing.assert_allclose(alloc.prices[top, 0], h[top])
    entered = (bids[0] > 0) & (bids[0] >= reserve)
    assert np.all(h[entered & ~top] > bids[0, entered & ~top])  # a loss of the top slot: H > our bid


def test_first_price_win_means_h_below_the_bid() -> None:
    rng = np.random.default_rng(6)
    bids = rng.lognormal(0.5, 0.7, (4, 400))
    q = np.ones(4)
    reserve = np.full(400, 0.3)
    alloc = first_price(bids, q, 1, reserve)
    h = price_to_beat(bids, q, reserve)
    won = alloc.winners[:, 0] == 0
    assert np.all(h[won] <= bids[0, won]) and np.all(h[~won] > bids[0, ~won])


def _log(channel, asked, bid, slot, price, reserve) -> AuctionLog:
    a = [np.asarray(v) for v in (channel, asked, bid, slot, price, reserve)]
    return AuctionLog(a[0].astype(np.int64), a[1].astype(float), a[2].astype(float), a[3].astype(np.int64),
                      a[4].astype(float), a[5].astype(float))


def test_platform_rates_on_a_hand_made_log() -> None:
    # channel 0: gsp with 3 slots; channel 1: first price, 1 slot. Reserve 1.
    log = _log(channel=[0, 0, 0, 0, 0, 1, 1],
               asked=[5, 5, 5, 5, 5, 5, 5],
               bid=[5, 5, 5, 5, 0, 5, 5],  # the fifth: our budget had run out
               slot=[0, 0, 1, -1, -1, 0, -1],
               price=[3, 1, 2, 0, 0, 5, 0],
               reserve=[1, 1, 1, 1, 1, 1, 1])
    i = estimate(log, ("gsp", "first_price"), (3, 1))
    assert i.impression_share == pytest.approx(4 / 7)
    assert i.lost_share_budget == pytest.approx(1 / 7)
    assert i.lost_share_rank == pytest.approx(2 / 7)
    assert i.top_of_page_rate == pytest.approx(3 / 4)
    # gsp impressions: #0 (rival below, price 3 > reserve), #1 (no one: price at reserve), #2 (rival above)
    assert i.overlap_rate == pytest.approx(2 / 3)
    assert i.position_above_rate == pytest.approx(1 / 2)
    assert i.outranking_share == pytest.approx(2 / 4)


def test_estimate_rejects_unknown_mechanisms() -> None:
    with pytest.raises(ValueError, match="unknown auction mechanism 'vickrey'; known: first_price, gsp, second_price"):
        estimate(_log([0], [1], [1], [0], [1], [0]), ("vickrey",), (1,))


def test_ks_distance_and_mixture() -> None:
    a = StepCdf(np.array([1.0, 2.0]), np.array([0.5, 1.0]))
    b = StepCdf(np.array([1.5]), np.array([1.0]))
    assert ks_distance(a, a, 0, 3) == 0.0
    assert ks_distance(a, b, 0, 3) == pytest.approx(0.5)
    assert ks_distance(a, b, 1.6, 3) == pytest.approx(0.5)
    assert ks_distance(a, b, 2.0, 3) == 0.0
    m = mixture([a, b], np.array([1.0, 3.0]))
    np.testing.assert_allclose(m(np.array([1.0, 1.5, 2.0])), [0.125, 0.875, 1.0])


def test_recording_bidder_keeps_bids_and_logs_what_it_asked() -> None:
    from gaelp.bidders.intel import RecordingBidder
    from gaelp.bidders.protocol import BaseBidder, BidderOutcome

    class Two(BaseBidder):
        def bid(self, batch):
            return np.full(batch.size, 2.0)

    rec = RecordingBidder(Two("x", 10.0))
    batch = OpportunityBatch(t=3, weekday=0, channel=np.array([0, 1], np.int8), device=np.array([1, 2]),
                             device_type=np.zeros(2, np.int8), intent=np.ones(2, np.int8), reserve=np.ones(2),
                             channel_names=("a", "b"))
    np.testing.assert_array_equal(rec.bid(batch), [2.0, 2.0])
    in_force = np.array([2.0, 0.0])
    rec.observe(BidderOutcome(batch, in_force, np.array([0, -1], np.int8), np.array([1.5, 0]), np.zeros(2, bool),
                              np.zeros(2), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)))
    log = rec.log()
    np.testing.assert_array_equal(log.asked, [2.0, 2.0])
    np.testing.assert_array_equal(log.bid, in_force)
    np.testing.assert_array_equal(log.entered, [True, False])
