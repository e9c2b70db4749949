"""Tests for gaelp.market.caps: daily frequency caps, repeats within an hour, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.market.caps import FrequencyCaps, WorldsCaps


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


def test_the_caps_of_a_batch_of_worlds_block_as_each_world_alone():
    rng = np.random.default_rng(0)
    limits = np.array([1, 2, 3])

    def worlds():
        return [FrequencyCaps(n_people=30, caps=limits, n_advertisers=5) for _ in range(3)]

    alone, together = worlds(), worlds()
    batch = WorldsCaps(together)
    for hour in range(6):
        if hour == 4:
            for c in alone + together:
                c.new_day()
        sizes = rng.integers(0, 60, 3)  # 30 people: many repeats of a (person, channel) within an hour
        person, channel = [rng.integers(0, 30, n) for n in sizes], [rng.integers(0, 3, n) for n in sizes]
        expect = [c.blocked(p, ch) for c, p, ch in zip(alone, person, channel, strict=True)]
        world = np.repeat(np.arange(3), sizes)
        got = batch.blocked(world, np.concatenate(person), np.concatenate(channel))
        assert np.array_equal(got, np.concatenate(expect, axis=1))
        won = [rng.random(p.size) < 0.7 for p in person]
        adv = [rng.integers(0, 5, p.size) for p in person]
        for a, p, ch, wn, ad in zip(alone, person, channel, won, adv, strict=True):
            a.record(p[wn], ch[wn], ad[wn])
        if hour % 2:  # each world's own record, or all worlds' at once
            for b, p, ch, wn, ad in zip(together, person, channel, won, adv, strict=True):
                b.record(p[wn], ch[wn], ad[wn])
        else:
            won_all = np.concatenate(won)
            batch.record(world[won_all], *(np.concatenate(x)[won_all] for x in (person, channel, adv)))
        assert all(np.array_equal(a.counts, b.counts) for a, b in zip(alone, together, strict=True))
    assert got.any() and not got.all()
    together[1].load_state_dict({"caps_cell": np.array([0]), "caps_count": np.array([9], np.uint8)})
    assert batch.blocked(np.array([1]), np.array([0]), np.array([0]))[0, 0]  # the restored count is the table's


def test_a_batch_refuses_caps_of_different_sizes():
    with pytest.raises(ValueError, match="different"):
        WorldsCaps([FrequencyCaps(3, np.array([1]), 2), FrequencyCaps(4, np.array([1]), 2)])
