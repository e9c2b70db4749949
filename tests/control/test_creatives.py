"""Tests for gaelp.control.creatives: Thompson sampling, rotation, A/B by device hash, fatigue."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.config import SelectorConfig
from gaelp.control.creatives import CreativeSelector, WorldsCreatives, ab_arm, device_hash

K = 4


def selector(mode: str = "thompson", seed: int = 0, ab_pair: tuple[int, int] = (0, 1), **params) -> CreativeSelector:
    """A selector over two contexts; `params` are `SelectorConfig` fields."""
    return CreativeSelector(K, n_contexts=2, n_devices=5000, mode=mode, rng=np.random.default_rng(seed),
                            ab_pair=ab_pair, params=SelectorConfig(**params))


def test_thompson_sampling_learns_each_contexts_best_creative():
    true_ctr = np.array([[0.02, 0.05, 0.03, 0.02], [0.06, 0.02, 0.02, 0.03]])  # (context, creative)
    s, world = selector(fatigue=0.0), np.random.default_rng(1)
    picks = []
    for t in range(24 * 20):
        device = world.integers(0, 5000, 200)
        ctx = world.integers(0, 2, 200)
        c = s.choose(t, device, ctx)
        clicked = world.random(200) < true_ctr[ctx, c]
        s.observe(device, ctx, c, clicked, np.empty(0, np.int64))
        picks.append((ctx, c))
    ctx, c = (np.concatenate(x[-24 * 3:]) for x in zip(*picks, strict=True))
    assert (c[ctx == 0] == 1).mean() > 0.8 and (c[ctx == 1] == 0).mean() > 0.8


def test_an_hours_draw_is_shared_by_its_contexts_opportunities_and_drawn_anew_each_hour():
    s, dev = selector(fatigue=0.0, samples=1), np.arange(400)
    ctx = dev % 2
    c = s.choose(0, dev, ctx)  # no data yet: every creative's posterior is the same
    assert all(np.unique(c[ctx == x]).size == 1 for x in (0, 1)), "one sample per context and hour"
    assert np.array_equal(s.choose(0, dev[::-1], ctx[::-1]), c[::-1]), "a pure function within the hour"
    assert len({int(s.choose(t, dev[:1], ctx[:1])[0]) for t in range(1, 60)}) > 1, "fresh draws each hour"
    spread = selector(fatigue=0.0, samples=8).choose(0, dev, ctx)
    assert np.unique(spread[ctx == 0]).size > 1, "several samples per hour spread a context's opportunities"


def test_fatigue_moves_a_device_off_what_it_just_saw():
    s = selector(fatigue=5.0)
    s.clicks[:] = 100.0  # every creative equally good and well known
    s.imps[:] = 2000.0
    dev, ctx = np.zeros(400, np.int64), np.zeros(400, np.int64)
    s.observe(dev[:1], ctx[:1], np.array([2]), np.array([False]), np.empty(0, np.int64))
    assert (s.choose(0, dev, ctx) != 2).all()


def test_a_purchase_credits_the_creative_of_its_devices_last_click():
    s = selector()
    s.observe(np.array([7, 8]), np.array([1, 0]), np.array([3, 2]), np.array([True, False]), np.empty(0, np.int64))
    before = s.clicks.copy()
    s.observe(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, bool),
              np.array([7, 8]))
    diff = s.clicks - before
    assert diff[1, 3] == s.purchase_weight and diff.sum() == s.purchase_weight, "device 8 never clicked"


def test_rotation_is_uniform_and_ab_splits_devices_in_half_for_good():
    dev = np.arange(40_000)
    rot = selector("rotate").choose(5, dev, np.zeros(dev.size, np.int64))
    assert np.bincount(rot, minlength=K) / dev.size == pytest.approx(np.full(K, 0.25), abs=0.01)
    arm = ab_arm(dev, (1, 3))
    assert set(np.unique(arm)) == {1, 3} and (arm == 1).mean() == pytest.approx(0.5, abs=0.01)
    ab = selector("ab", ab_pair=(1, 3))
    assert np.array_equal(ab.choose(0, dev, dev % 2), arm) and np.array_equal(ab.choose(99, dev, dev % 2), arm)
    assert not np.array_equal(device_hash(dev, 1), device_hash(dev, 2)), "the salt matters"


def test_bad_modes_and_pairs_are_refused_and_state_round_trips():
    with pytest.raises(ValueError, match="mode"):
        selector("greedy")
    with pytest.raises(ValueError, match="ab_pair"):
        selector("ab", ab_pair=(0, 9))
    s = selector()
    s.observe(np.array([3]), np.array([1]), np.array([2]), np.array([True]), np.empty(0, np.int64))
    s2 = selector(seed=9)
    s2.load_state_dict(s.state_dict())
    assert np.array_equal(s2.clicks, s.clicks) and np.array_equal(s2.shown, s.shown)


def test_sampling_weights_count_impressions_clicks_and_purchases_as_copies():
    # importance sampling: an impression or purchase of weight 2 teaches the rates what two plain ones teach
    rng = np.random.default_rng(3)
    weighted, copied = selector(), selector()
    for _ in range(5):
        device, ctx = rng.integers(0, 5000, 300), rng.integers(0, 2, 300)
        c, clicked = rng.integers(0, K, 300), rng.random(300) < 0.2
        w = np.where(rng.random(300) < 0.4, 2.0, 1.0)
        rows = np.repeat(np.arange(300), w.astype(np.int64))
        conv = device[clicked][:2]  # purchases on clicked devices, of weight 2 and 1
        weighted.observe(device, ctx, c, clicked, conv, w, np.array([2.0, 1.0]))
        copied.observe(device[rows], ctx[rows], c[rows], clicked[rows], conv[[0, 0, 1]])
    np.testing.assert_allclose(weighted.imps, copied.imps)
    np.testing.assert_allclose(weighted.clicks, copied.clicks)
    assert weighted.imps.sum() > 1500 * 1.3


@pytest.mark.parametrize("mode", ["thompson", "rotate"])
def test_the_selectors_of_a_batch_of_worlds_choose_and_learn_as_each_alone(mode):
    def worlds():  # worlds of different numbers of devices, each its own stream
        return [CreativeSelector(4, 6, n, mode, np.random.default_rng(s)) for s, n in ((0, 300), (1, 500), (2, 400))]

    alone, together = worlds(), worlds()
    batch = WorldsCreatives(together)
    rng = np.random.default_rng(9)
    for t in range(0, 80, 3):  # days pass (the fatigue table decays)
        sizes = [int(rng.integers(0, 200)) if (t + w) % 4 else 0 for w in range(3)]  # worlds with no opportunity
        device = [rng.integers(0, c.shown.shape[0], n) for c, n in zip(alone, sizes, strict=True)]
        context = [rng.integers(0, 6, n) for n in sizes]
        expect = [c.choose(t, d, x) for c, d, x in zip(alone, device, context, strict=True)]
        got = batch.choose(t, np.repeat(np.arange(3), sizes), np.concatenate(device), np.concatenate(context), sizes)
        assert np.array_equal(got, np.concatenate(expect))
        # each world's hour of samples, bit for bit (the batch takes every world's Beta parameters at once)
        assert all(a._theta.tobytes() == b._theta.tobytes() for a, b in zip(alone, together, strict=True))
        for a, b, d, x, cr in zip(alone, together, device, context, expect, strict=True):
            clicked = rng.random(d.size) < 0.3
            weight = rng.uniform(0.5, 2.0, d.size)  # counts that are not whole: their order of addition shows
            for c in (a, b):
                c.observe(d, x, cr, clicked, d[:2], weight)
    for a, b in zip(alone, together, strict=True):
        assert all(np.array_equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert len({c.clicks.sum() for c in together}) == 3  # the worlds learned apart


@pytest.mark.parametrize("weighted", [False, True])
def test_worlds_creatives_learn_each_worlds_hour_as_alone(weighted):
    """Our impressions, clicks and pixel purchases of 3 worlds (different device counts, hours where a world
    won nothing or only bought, importance weights) learned at once equal each selector's own `observe`."""

    def worlds():
        return [CreativeSelector(4, 6, n, "thompson", np.random.default_rng(s)) for s, n in ((0, 300), (1, 500), (2, 40))]

    alone, together = worlds(), worlds()
    batch = WorldsCreatives(together)
    rng = np.random.default_rng(4)
    for t in range(60):
        if t == 30:  # a world restored from a checkpoint (new tables) is followed
            together[1].load_state_dict(together[1].state_dict())
        sizes = [int(rng.integers(0, 120)) if (t + w) % 5 else 0 for w in range(3)]
        device = [rng.integers(0, c.shown.shape[0], n) for c, n in zip(alone, sizes, strict=True)]
        context = [rng.integers(0, 6, n) for n in sizes]
        creative = [rng.integers(0, 4, n).astype(np.int8) for n in sizes]
        clicked = [rng.random(n) < 0.3 for n in sizes]
        weight = [rng.choice([0.28, 1.12], n) if weighted else np.ones(n) for n in sizes]
        bought = [rng.integers(0, c.shown.shape[0], int(rng.integers(0, 4))) for c in alone]
        conv_weight = [rng.choice([0.28, 1.12], b.size) for b in bought] if weighted else None
        for w, c in enumerate(alone):
            c.observe(device[w], context[w], creative[w], clicked[w], bought[w], weight[w],
                      None if conv_weight is None else conv_weight[w])
        batch.observe(np.repeat(np.arange(3), sizes), *(np.concatenate(x) for x in (device, context, creative,
                                                                                    clicked, weight)),
                      np.repeat(np.arange(3), [b.size for b in bought]), np.concatenate(bought),
                      None if conv_weight is None else np.concatenate(conv_weight))
        for a, b in zip(alone, together, strict=True):
            assert all(np.asarray(v).tobytes() == np.asarray(b.state_dict()[k]).tobytes()
                       for k, v in a.state_dict().items()), t
    assert len({c.clicks.sum() for c in together}) == 3  # the worlds learned apart
    assert any((c.last_click >= 0).any() and c.clicks.sum() > c.imps.sum() * 0.3 for c in alone)  # purchase credit
