"""Tests for gaelp.control.safety: bid cap, broken bids, kill switch, circuit breaker and anomaly pauses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from gaelp.config import Config, SafetyConfig
from gaelp.control.safety import SafetyLimits
from gaelp.market.clearing import Market

MAX_BID = 12.5


def limits() -> SafetyLimits:
    return SafetyLimits(SafetyConfig(max_bid=MAX_BID))


def test_valid_bids_pass_through_unchanged():
    s = limits()
    bids = np.array([0.0, 0.01, 3.0, MAX_BID])
    out = s.apply(bids)
    assert out.dtype == np.float64 and np.array_equal(out, bids)
    assert s.report.capped == 0 and s.report.invalid == 0


def test_bids_above_the_cap_are_clamped_and_counted():
    s = limits()
    out = s.apply(np.array([1.0, MAX_BID * 2, MAX_BID + 1e-9, 1e12]))
    assert out.tolist() == [1.0, MAX_BID, MAX_BID, MAX_BID]
    assert s.report.capped == 3 and s.report.invalid == 0
    s.apply(np.array([MAX_BID * 3]))
    assert s.report.capped == 4, "counts accumulate over calls"


def test_nan_negative_and_infinite_bids_are_zeroed_and_counted():
    s = limits()
    bids = np.array([np.nan, -1.0, -np.inf, np.inf, 2.0, -0.0])
    out = s.apply(bids)
    assert out.tolist() == [0.0, 0.0, 0.0, 0.0, 2.0, 0.0]
    assert np.isfinite(out).all() and (out >= 0).all() and out.max() <= MAX_BID
    assert s.report.invalid == 4


def test_an_infinite_bid_is_invalid_not_capped():
    s = limits()
    s.apply(np.array([np.inf, MAX_BID + 1.0]))
    assert s.report.invalid == 1
    assert s.report.capped == 1, f"only one bid was clamped to max_bid, report says {s.report.capped}"


def test_apply_does_not_modify_the_callers_array_and_accepts_lists():
    s = limits()
    bids = np.array([np.nan, 100.0, 1.0])
    s.apply(bids)
    assert np.isnan(bids[0]) and bids[1] == 100.0
    assert s.apply([1, 200, -3]).tolist() == [1.0, MAX_BID, 0.0]


def test_kill_switch_zeroes_every_bid_until_resumed():
    s = limits()
    s.kill("anomalous spend")
    for _ in range(3):
        out = s.apply(np.array([1.0, 5.0, np.nan]))
        assert out.dtype == np.float64 and np.all(out == 0.0)
    assert s.report.killed_hours == 3
    assert any(e.kind == "kill_switch" and "anomalous spend" in e.action for e in s.report.events)
    s.resume()
    assert s.apply(np.array([1.0, 5.0])).tolist() == [1.0, 5.0]
    assert s.report.killed_hours == 3


# --- circuit breaker, anomalies, pauses --------------------------------------------------------------

BUDGET = 240.0


def guarded() -> SafetyLimits:
    return SafetyLimits(SafetyConfig(max_bid=MAX_BID, max_hour_share=0.25, pause_hours=5), BUDGET)


def warm(s: SafetyLimits, hours: int = 30) -> None:
    """Normal hours: 100 bids of $2, 50 wins, 2 clicks, $4 spent."""
    for t in range(hours):
        s.apply(np.full(100, 2.0), t)
        s.observe(t, np.full(100, 2.0), 50, 2, 4.0)


def test_the_breaker_lets_an_hour_spend_at_most_its_share_of_the_allowance():
    s = guarded()
    assert s.remaining(0, BUDGET, 0.0) == pytest.approx(BUDGET / 4)
    assert s.remaining(0, BUDGET, BUDGET - 10.0) == pytest.approx(10.0), "the day's rest is smaller"
    assert s.remaining(0, BUDGET, BUDGET + 5.0) == 0.0
    s.remaining(0, BUDGET, 0.0)
    s.observe(0, np.ones(3), 3, 3, BUDGET / 4)
    assert [e.kind for e in s.report.events] == ["hour_ceiling"]


def test_a_bid_spike_pauses_before_the_auction_and_says_why():
    s = guarded()
    warm(s)
    out = s.apply(np.full(100, 2000.0), 30)
    assert np.all(out == 0.0)
    (e,) = s.report.events
    assert (e.t, e.kind) == (30, "bid_spike") and "$2000.00" in e.action and "$2.00" in e.action
    assert np.all(s.apply(np.full(100, 2.0), 34) == 0.0), "paused for pause_hours"
    assert s.apply(np.full(100, 2.0), 35).tolist() == [2.0] * 100, "and bids again after"


@pytest.mark.parametrize(("wins", "clicks", "spend", "kind"), [
    (50, 2, 20.0, "cpc_spike"),       # the same clicks cost five times as much
    (50, 30, 240.0, "spend_spike"),   # a day in one hour
    (2000, 0, 0.0, "ctr_collapse"),   # no click from 2,000 impressions at a 4% CTR
    (100, 4, 14.0, "win_rate_jump"),  # every bid won, at a cost
])
def test_each_anomaly_of_the_hour_pauses_bidding_from_the_next_hour(wins, clicks, spend, kind):
    s = guarded()
    warm(s)
    s.apply(np.full(100, 2.0), 30)
    s.observe(30, np.full(100, 2.0), wins, clicks, spend)
    assert [e.kind for e in s.report.events] == [kind]
    assert np.all(s.apply(np.full(100, 2.0), 31) == 0.0)


def test_normal_hours_raise_nothing_and_checkpoints_keep_the_baseline():
    s = guarded()
    warm(s, 50)
    assert s.report.events == []
    s2 = guarded()
    s2.load_state_dict(s.state_dict())
    s.observe(50, np.full(100, 2.0), 50, 2, 20.0)
    s2.observe(50, np.full(100, 2.0), 50, 2, 20.0)
    assert s.events == s2.events and s.events[0]["kind"] == "cpc_spike"


def test_an_impression_priced_above_its_bid_withdraws_our_bids_within_the_hour_and_pauses():
    s = SafetyLimits(SafetyConfig(max_bid=MAX_BID, pause_hours=5, react_minutes=6.0), BUDGET)
    bids = np.full(100, 2.0)
    row = np.array([3, 10, 40])
    assert s.charge_stop(bids, row, np.array([2.0, 1.5, 0.3])) == 100, "a price up to the bid is normal"
    # the first price above the bid is at row 10; 6 minutes of a 100-opportunity hour are 10 rows
    assert s.charge_stop(bids, row, np.array([1.0, 2.5, 9.0])) == 20
    s.observe(7, bids, 3, 1, 5.0)
    (e,) = s.report.events
    assert (e.t, e.kind) == (7, "overcharge") and "$2.50" in e.action and "opportunity 20 of 100" in e.action
    assert np.all(s.apply(bids, 8) == 0.0) and np.all(s.apply(bids, 12) == 0.0), "paused from the next hour"
    assert s.apply(bids, 13).tolist() == bids.tolist()
    s.observe(13, bids, 3, 1, 5.0)
    assert len(s.report.events) == 1, "the hour's finding is reported once"


@pytest.mark.parametrize(("cfg", "stop"), [
    (SafetyConfig(react_minutes=0.0), 11),  # at once: from the next opportunity
    (SafetyConfig(watch_charges=False), 100),
])
def test_the_charge_watch_reacts_at_once_or_not_at_all(cfg, stop):
    s = SafetyLimits(cfg, BUDGET)
    assert s.charge_stop(np.full(100, 2.0), np.array([10]), np.array([10.0])) == stop


@settings(max_examples=60, deadline=None)
@given(bids=arrays(np.float64, st.integers(1, 40), elements=st.floats(allow_nan=True, allow_infinity=True,
                                                                      width=64)),
       rivals=arrays(np.float64, (40, 2), elements=st.floats(0, 100)),
       spent=st.floats(0, 2 * BUDGET), clicks=st.integers(0, 2**32 - 1),
       price_mult=st.sampled_from([1.0, 1.5, 5.0, 1000.0]))
def test_no_input_makes_a_bid_leave_the_cap_or_the_day_pass_the_allowance(bids, rivals, spent, clicks, price_mult):
    s = guarded()
    safe = s.apply(bids, 0)
    assert safe.shape == bids.shape and np.isfinite(safe).all() and (safe >= 0).all() and safe.max() <= MAX_BID
    n = bids.size
    matrix = np.vstack([safe, rivals[:n].T])  # bidder-major (n_bidders, n)
    bits = np.random.default_rng(clicks)
    market = Market(Config().world.channels[:1], np.ones(3))
    market.price_mult = np.array([price_mult, 1.0, 1.0])  # a billing fault on our account

    def watch(r, a, price, clicked):
        stop = np.full(3, n, np.int64)
        stop[0] = s.charge_stop(safe, r[a == 0], price[a == 0])
        return stop

    cleared = market.clear_within_budgets(np.zeros(n, np.int8), matrix,
                                          np.array([s.remaining(0, BUDGET, spent), 1e9, 1e9]),
                                          lambda r, sl, a: (bits.random(r.size) < 0.7, np.full(r.size, 0.7)),
                                          watch=watch)
    mine = cleared.advertiser == 0
    ours = float(cleared.cost[mine].sum())
    assert spent + ours <= max(BUDGET, spent) + 1e-6
    assert ours <= BUDGET / 4 + 1e-6
    row = cleared.row[mine]
    overpriced = row[cleared.price[mine] > safe[row] * (1 + 1e-9)]
    if overpriced.size:  # no impression of ours after the watch's reaction to the first overpriced one
        assert row.max() < overpriced.min() + max(1, int(np.ceil(n * s.react_minutes / 60)))
