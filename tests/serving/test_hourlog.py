"""An hour of serving as a `BidderOutcome`: touches matched to opportunities, against a slow reference."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.serving.hourlog import HourLog, weekday

CHANNELS = ("search", "social", "display")


def _reference(opp_dev, opp_ch, t_dev, t_ch, t_click, t_cost):
    """Row of each touch by a Python loop: the last opportunity of its device and channel, else a new row."""
    rows, extra = [], []
    n = len(opp_dev)
    for d, c in zip(t_dev, t_ch, strict=True):
        found = [i for i in range(n) if opp_dev[i] == d and opp_ch[i] == c]
        if found:
            rows.append(found[-1])
        else:
            rows.append(n + len(extra))
            extra.append((d, c))
    size = n + len(extra)
    won, clicked, cost = np.zeros(size, bool), np.zeros(size, bool), np.zeros(size)
    for r, k, x in zip(rows, t_click, t_cost, strict=True):
        won[r] = True
        clicked[r] |= k
        cost[r] += x
    return extra, won, clicked, cost


@pytest.mark.parametrize("seed", range(5))
def test_outcome_matches_the_reference(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(0, 40)), int(rng.integers(0, 30))
    opp_dev, opp_ch = rng.integers(1, 8, n), rng.integers(0, 3, n).astype(np.int8)
    t_dev, t_ch = rng.integers(1, 10, k), rng.integers(0, 3, k).astype(np.int8)
    t_click, t_cost = rng.random(k) < 0.4, rng.random(k).round(2)
    log = HourLog(500_000)
    half = n // 2  # two requests' worth, so the columns grow across appends
    for sl in (slice(0, half), slice(half, n)):
        m = sl.stop - sl.start
        log.add_opportunities(opp_dev[sl], opp_ch[sl], np.zeros(m, np.int8), np.full(m, 2, np.int8),
                              np.full(m, 0.2), np.full(m, 1.5))
    log.add_touches(t_dev, t_ch, t_click, t_cost)
    log.add_conversions(np.array([499_990]), np.array([3]), np.array([80.0]))
    out = log.outcome(CHANNELS)
    extra, won, clicked, cost = _reference(opp_dev, opp_ch, t_dev, t_ch, t_click, t_cost)
    assert out.batch.size == n + len(extra)
    np.testing.assert_array_equal(out.batch.device[n:], [d for d, _ in extra])
    np.testing.assert_array_equal(out.batch.channel[n:], [c for _, c in extra])
    np.testing.assert_array_equal(out.won, won)
    np.testing.assert_array_equal(out.clicked, clicked)
    np.testing.assert_allclose(out.cost, cost)
    np.testing.assert_array_equal(out.bids, np.r_[np.full(n, 1.5), np.zeros(len(extra))])
    np.testing.assert_array_equal(out.batch.intent, np.r_[np.full(n, 2), np.ones(len(extra))])
    assert list(out.conv_device) == [3] and list(out.conv_value) == [80.0]
    assert out.batch.t == 500_000 and out.batch.weekday == weekday(500_000)


def test_an_empty_hour_is_empty():
    log = HourLog(0)
    assert log.empty
    log.add_conversions(np.array([0]), np.array([1]), np.array([10.0]))
    assert not log.empty and log.outcome(CHANNELS).batch.size == 0


def test_weekday_of_the_epoch_is_thursday():
    assert weekday(0) == 3 and weekday(24 * 4) == 0  # 1970-01-05 was a Monday
