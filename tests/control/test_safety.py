"""Tests for gaelp.control.safety: bid cap, sanitising of broken bids and the kill switch."""

from __future__ import annotations

import numpy as np

from gaelp.config import SafetyConfig
from gaelp.control.safety import SafetyLimits

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
    assert any("anomalous spend" in e for e in s.report.events)
    s.resume()
    assert s.apply(np.array([1.0, 5.0])).tolist() == [1.0, 5.0]
    assert s.report.killed_hours == 3
