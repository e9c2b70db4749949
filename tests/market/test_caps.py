"""Tests for gaelp.market.caps: daily frequency caps, repeats within an hour, checkpoints."""

from __future__ import annotations

import numpy as np

from gaelp.market.caps import FrequencyCaps


def test_repeats_within_an_hour_are_open_only_below_the_cap():
    caps = FrequencyCaps(n_people=20, caps=np.array([2, 1, 1]), n_advertisers=3)
    p, q = 17, 18
    caps.record(np.array([p]), np.array([0]), np.array([1]))  # advertiser 1 has shown p one search ad today
    person = np.array([p, q, p, p, q])
    channel = np.array([0, 0, 0, 0, 1])  # q's second opportunity is on another channel (cap 1)
    blocked = caps.blocked(person, channel)
    assert blocked[0].tolist() == [False, False, False, True, False]  # third search repeat of p: 0 + 2 >= 2
    assert blocked[1].tolist() == [False, False, True, True, False]  # 1 shown + first repeat >= 2
    # the scratch table is clean: the same question gets the same answer in the next hour
    assert np.array_equal(caps.blocked(person, channel), blocked)


def test_a_new_day_clears_every_counter():
    caps = FrequencyCaps(n_people=5, caps=np.array([1]), n_advertisers=2)
    caps.record(np.array([0, 3]), np.array([0, 0]), np.array([0, 1]))
    assert caps.blocked(np.array([0, 3]), np.array([0, 0])).tolist() == [[True, False], [False, True]]
    caps.new_day()
    assert not caps.blocked(np.array([0, 3]), np.array([0, 0])).any()


def test_state_dict_restores_the_counters_into_a_fresh_table():
    a = FrequencyCaps(n_people=50, caps=np.array([3, 2]), n_advertisers=9)  # two 8-byte words per row
    rng = np.random.default_rng(0)
    a.record(rng.integers(0, 50, 200), rng.integers(0, 2, 200), rng.integers(0, 9, 200))
    b = FrequencyCaps(n_people=50, caps=np.array([3, 2]), n_advertisers=9)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.counts, b.counts)
    person, channel = np.arange(50).repeat(2), np.tile([0, 1], 50)
    assert np.array_equal(a.blocked(person, channel), b.blocked(person, channel))
