"""Tests for gaelp.control.batched_safety: a batch's safety layers and anomaly tests as each world's alone."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gaelp.config import SafetyConfig
from gaelp.control.batched_safety import WorldsSafety, segment_medians
from gaelp.control.safety import SafetyLimits

N_CH = 3
BUDGETS = (500.0, 1200.0, 0.0, 80.0)  # a budget of 0 turns that world's detector off
KINDS = {"bid_spike", "spend_spike", "cpc_spike", "ctr_collapse", "win_rate_jump"}


def test_segment_medians_equal_np_median_of_each_segment():
    rng = np.random.default_rng(5)
    for _ in range(50):
        counts = rng.integers(0, 9, rng.integers(1, 7))
        values = rng.choice([0.5, 1.0, 1.5, 2.0], counts.sum()) if rng.random() < 0.3 else rng.lognormal(0, 2, counts.sum())
        got = segment_medians(values, counts)
        cut = np.concatenate(([0], np.cumsum(counts)))
        want = [np.median(values[a:b]) if b > a else 0.0 for a, b in itertools.pairwise(cut)]
        assert got.tobytes() == np.array(want).tobytes(), (counts, got, want)


def _bids(rng: np.random.Generator, world: int, t: int) -> np.ndarray:
    """One hour of our bids: usual, none, a spike, or broken ones."""
    n = int(rng.poisson(600 if world != 3 else 6))
    bids = rng.uniform(0.5, 2.0, n) * (rng.random(n) < 0.9)
    u = rng.random()
    if t > 30 and u < 0.04:
        bids *= 40.0
    elif u < 0.08 and n:
        bids[rng.integers(0, n, 3)] = [np.nan, -1.0, 1e9]
    elif u < 0.1:
        bids = bids[:0]
    return bids


def _stats(rng: np.random.Generator, bids: np.ndarray, budget: float, t: int) -> tuple:
    """The hour's wins and clicks by channel (weighted, so sums depend on their order) and spend."""
    placed = int(np.count_nonzero(bids))
    share, ctr, spend_mult = 0.25, 0.1, 1.0
    u = rng.random() if t > 30 else 1.0
    if u < 0.03:
        spend_mult = 40.0  # spend spike
    elif u < 0.06:
        spend_mult = 5.0  # CPC spike
    elif u < 0.09:
        ctr = 0.0  # CTR collapse
    elif u < 0.12:
        share, spend_mult = 1.0, 5.0  # won everything, at a cost
    won = rng.multinomial(int(placed * share), np.ones(N_CH) / N_CH) if placed else np.zeros(N_CH, np.int64)
    weight = rng.choice([0.97, 1.03, 1.0], N_CH)
    wins = won * weight
    clicks = rng.binomial(won, ctr) * weight
    spend = float(max(budget, 100.0) / 24 * rng.uniform(0.3, 0.9) * spend_mult) if clicks.any() else 0.0
    return wins, clicks, spend


@pytest.mark.parametrize("seed", [0, 1])
def test_worlds_safety_equals_each_world_alone(seed):
    """Random hours (spikes, broken bids, collapses, kills, worlds without a detector): the batch's bids,
    events and every detector's state equal the worlds' alone after every hour."""
    cfg = SafetyConfig(max_bid=20.0)
    alone = [SafetyLimits(cfg, b, n_channels=N_CH) for b in BUDGETS]
    batch = [SafetyLimits(cfg, b, n_channels=N_CH) for b in BUDGETS]
    worlds = WorldsSafety(batch)
    rng = np.random.default_rng(seed)
    for t in range(500):
        if t == 200:
            alone[1].kill("test", t)
            batch[1].kill("test", t)
        if t == 230:
            alone[1].resume()
            batch[1].resume()
        raw = [_bids(rng, w, t) for w in range(len(BUDGETS))]
        want = [s.apply(b, t) for s, b in zip(alone, raw, strict=True)]
        got = worlds.apply(raw, t)
        for w, (a, b) in enumerate(zip(want, got, strict=True)):
            assert a.tobytes() == b.tobytes(), f"hour {t}, world {w}: bids differ"
        stats = [_stats(rng, b, budget, t) for b, budget in zip(want, BUDGETS, strict=True)]
        for s, b, st in zip(alone, want, stats, strict=True):
            s.observe(t, b, *st)
        worlds.test([s.watch(t, b, *st) for s, b, st in zip(batch, got, stats, strict=True)])
        for w, (a, b) in enumerate(zip(alone, batch, strict=True)):
            sa, sb = a.state_dict(), b.state_dict()
            assert sa["report"] == sb["report"], f"hour {t}, world {w}: events differ"
            assert sa["paused_until"] == sb["paused_until"]
            if sa["detector"] is not None:
                for key, value in sa["detector"].items():
                    assert np.asarray(value).tobytes() == np.asarray(sb["detector"][key]).tobytes(), (t, w, key)
    kinds = {e.kind for s in alone for e in s.report.events}
    assert KINDS <= kinds, f"every alarm branch should fire at least once, saw {kinds}"
    assert alone[2].detector is None and batch[1].report.killed_hours == 30


def test_a_detector_reloaded_mid_batch_is_followed():
    """A world's detector restored from a checkpoint (new arrays) is what the batch tests next."""
    cfg = SafetyConfig(max_bid=20.0)
    alone = [SafetyLimits(cfg, b, n_channels=N_CH) for b in BUDGETS]
    batch = [SafetyLimits(cfg, b, n_channels=N_CH) for b in BUDGETS]
    worlds = WorldsSafety(batch)
    rng = np.random.default_rng(3)
    for t in range(120):
        if t == 60:
            state = alone[0].state_dict()
            alone[0].load_state_dict(state)
            batch[0].load_state_dict(state)
        raw = [_bids(rng, w, t) for w in range(len(BUDGETS))]
        want = [s.apply(b, t) for s, b in zip(alone, raw, strict=True)]
        got = worlds.apply(raw, t)
        stats = [_stats(rng, b, budget, t) for b, budget in zip(want, BUDGETS, strict=True)]
        for s, b, st in zip(alone, want, stats, strict=True):
            s.observe(t, b, *st)
        worlds.test([s.watch(t, b, *st) for s, b, st in zip(batch, got, stats, strict=True)])
    for a, b in zip(alone, batch, strict=True):
        assert repr(a.state_dict()) == repr(b.state_dict())
