"""Tests for gaelp.world.activity: Poisson draws, the day's schedule against a slow reference,
counterfactual independence, calendar effects and query intent."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy.stats import poisson

from gaelp.config import Config, WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.activity import MAX_PER_DAY, Activity, poisson_from_uniform
from gaelp.world.population import Stage, build_population
from gaelp.world.temporal import Calendar

SEED = 424242
START = dt.date(2026, 3, 2)  # a Monday
N_STAGES = len(Stage)
# per channel: rate and stage multipliers; chosen so some people reach the daily cap
CHANNELS = {
    "search": (1.5, (0.1, 0.5, 1.0, 2.0, 0.1, 0.1, 0.1)),
    "social": (0.8, (0.5, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5)),
    "display": (3.0, (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)),
}
SEGMENT_ACTIVITY = ((1.0, 1.0, 1.0), (2.5, 0.5, 1.5))
INTENT_BY_STAGE = ((0.8, 0.2, 0.0), (0.6, 0.3, 0.1), (0.3, 0.5, 0.2), (0.1, 0.4, 0.5),
                   (0.5, 0.3, 0.2), (0.5, 0.3, 0.2), (0.5, 0.3, 0.2))


def world(channels=CHANNELS, intent_by_stage=INTENT_BY_STAGE, weekday=None, month=None) -> WorldConfig:
    data = Config().world.model_dump()
    ch_proto = data["channels"][0]
    data["channels"] = [{**ch_proto, "name": n, "rate": r, "stage_activity": sa} for n, (r, sa) in channels.items()]
    seg_proto = data["segments"][0]
    n_ch = len(channels)
    data["segments"] = [{**seg_proto, "name": f"s{i}", "share": 0.5, "activity": act[:n_ch]}
                        for i, act in enumerate(SEGMENT_ACTIVITY)]
    data["journey"].update(advance=(0.1,) * n_ch, intent_by_stage=intent_by_stage)
    data["temporal"].update({k: v for k, v in (("weekday", weekday), ("month", month)) if v is not None})
    return WorldConfig.model_validate(data)


def build(cfg: WorldConfig, n: int, seed: int = SEED):
    pop = build_population(cfg, n, np.random.default_rng(seed))
    cal = Calendar(cfg.temporal, START)
    return Activity(cfg, pop, cal, CounterRng(seed)), pop, cal


def random_stages(n: int, seed: int = SEED) -> np.ndarray:
    return np.random.default_rng(seed + 1).integers(0, N_STAGES, n).astype(np.int8)


# --------------------------------------------------------------------------------------------------
# poisson_from_uniform


def test_poisson_from_uniform_matches_the_scipy_inverse_cdf():
    rng = np.random.default_rng(SEED)
    u = rng.random(50_000)
    lam = np.concatenate([rng.uniform(0.0, 12.0, 40_000), rng.uniform(0.0, 0.05, 10_000)])
    cap = 8
    got = poisson_from_uniform(u, lam, cap)
    expected = np.minimum(poisson.ppf(u, lam), cap)
    assert got.dtype == np.int64
    mismatch = np.flatnonzero(got != expected)
    assert mismatch.size == 0, f"u={u[mismatch[:3]]}, lam={lam[mismatch[:3]]}: {got[mismatch[:3]]} vs {expected[mismatch[:3]]}"


@pytest.mark.parametrize("cap", [0, 1, 3, 8])
def test_poisson_from_uniform_respects_the_cap_even_for_huge_rates(cap):
    u = np.linspace(0.0, 1.0, 101, endpoint=False)
    for lam in (5.0, 50.0, 800.0):  # exp(-800) underflows to 0
        got = poisson_from_uniform(u, np.full(u.size, lam), cap)
        assert got.max() <= cap
        assert np.all(np.diff(got) >= 0), "an inverse CDF is non-decreasing in u"
    assert np.all(poisson_from_uniform(u[1:], np.full(100, 800.0), cap) == cap)


def test_poisson_from_uniform_gives_zero_for_zero_rate_or_zero_uniform():
    assert np.all(poisson_from_uniform(np.array([0.0, 0.3, 0.999999]), np.zeros(3), 8) == 0)
    assert np.all(poisson_from_uniform(np.zeros(3), np.array([0.5, 3.0, 10.0]), 8) == 0)
    assert poisson_from_uniform(np.empty(0), np.empty(0), 8).shape == (0,)


# --------------------------------------------------------------------------------------------------
# Activity.schedule against a slow, obvious reference


def _slow_poisson(u: float, lam: float, cap: int) -> int:
    k, term = 0, math.exp(-lam)
    cdf = term
    while u > cdf and k < cap:
        k += 1
        term *= lam / k
        cdf += term
    return k


def reference_schedule(cfg: WorldConfig, pop, cal: Calendar, crng: CounterRng, day: int, stage: np.ndarray):
    """One person, channel and opportunity at a time; rows sorted by (minute, channel, person, k)."""
    n_ch = len(cfg.channels)
    mult = cal.day_multiplier(day)
    rows = []
    for p in range(pop.size):
        bits = int(crng.bits(np.array([p]), day, Purpose.SCHEDULE)[0])
        seg = cfg.segments[pop.segment[p]]
        for c, ch in enumerate(cfg.channels):
            u = ((bits >> (21 * c)) & ((1 << 21) - 1)) / 2.0**21
            lam = ch.rate * seg.activity[c] * ch.stage_activity[stage[p]] * mult
            for k in range(_slow_poisson(u, lam, MAX_PER_DAY)):
                key = (p * n_ch + c) * MAX_PER_DAY + k
                uh = crng.uniform(np.array([key]), day, Purpose.OPP_HOUR)[0]
                hour = min(int(np.searchsorted(cal.hour_cdf, uh, side="right")), 23)
                ud = crng.uniform(np.array([key]), day, Purpose.OPP_DEVICE)[0]
                minute = hour * 60 + int(ud * 60)
                frac = ud * 60 - math.floor(ud * 60)
                device = int(pop.device_offset[p]) + int(frac * int(pop.n_devices[p]))
                rows.append((minute, c, p, k, key, device))
    rows.sort()
    return rows


@pytest.fixture(scope="module")
def small():
    cfg = world()
    act, pop, cal = build(cfg, 1_500)
    stage = random_stages(pop.size)
    return cfg, act, pop, cal, stage


@pytest.mark.parametrize("day", [0, 5])
def test_schedule_matches_the_slow_reference(small, day):
    cfg, act, pop, cal, stage = small
    s = act.schedule(day, stage)
    ref = reference_schedule(cfg, pop, cal, act.crng, day, stage)
    assert s.day == day
    assert s.key.size == len(ref) > 1000
    assert np.array_equal(s.key, [r[4] for r in ref])
    assert np.array_equal(s.person, [r[2] for r in ref])
    assert np.array_equal(s.channel, [r[1] for r in ref])
    assert np.array_equal(s.device, [r[5] for r in ref])
    minute = np.array([r[0] for r in ref])
    assert np.array_equal(s.hour_bounds, np.searchsorted(minute, np.arange(0, 24 * 60 + 1, 60)))


def test_schedule_rows_are_consistent(small):
    cfg, act, pop, cal, stage = small
    s = act.schedule(3, stage)
    m = s.key.size
    b = s.hour_bounds
    assert b.shape == (25,) and b[0] == 0 and b[-1] == m and np.all(np.diff(b) >= 0)
    assert sum(s.hour(h).stop - s.hour(h).start for h in range(24)) == m
    assert np.unique(s.key).size == m, "every opportunity key must be unique"
    n_ch = len(cfg.channels)
    assert np.array_equal(s.key // MAX_PER_DAY // n_ch, s.person)
    assert np.array_equal(s.key // MAX_PER_DAY % n_ch, s.channel)
    assert np.array_equal(pop.device_owner[s.device], s.person), "a device must belong to its person"
    counts = np.bincount(s.person * n_ch + s.channel, minlength=pop.size * n_ch)
    assert counts.max() <= MAX_PER_DAY
    # the k-th opportunity of a (person, channel) has k < its count
    assert np.all(s.key % MAX_PER_DAY < counts[s.person * n_ch + s.channel])


def test_schedule_hours_follow_the_hour_profile():
    cfg = world()
    act, pop, cal = build(cfg, 20_000)
    s = act.schedule(1, random_stages(pop.size))
    per_hour = np.diff(s.hour_bounds) / s.key.size
    assert np.abs(per_hour - cal.hour_probs).max() < 5 * np.sqrt(cal.hour_probs.max() / s.key.size)


def test_changing_one_persons_stage_changes_only_that_persons_opportunities():
    cfg = world()
    act, pop, cal = build(cfg, 3_000)
    stage = np.full(pop.size, Stage.UNAWARE, np.int8)
    base = act.schedule(2, stage)
    changed_any = False
    for who in (17, 1_234, 2_999):
        alt_stage = stage.copy()
        alt_stage[who] = Stage.INTENT
        alt = act.schedule(2, alt_stage)
        keep_a, keep_b = base.person != who, alt.person != who
        for name in ("key", "person", "device", "channel"):
            assert np.array_equal(getattr(base, name)[keep_a], getattr(alt, name)[keep_b]), name
        # the hour bounds move only by that person's own rows
        mine_a = np.bincount(np.searchsorted(base.hour_bounds, np.flatnonzero(~keep_a), side="right") - 1,
                             minlength=24)
        mine_b = np.bincount(np.searchsorted(alt.hour_bounds, np.flatnonzero(~keep_b), side="right") - 1,
                             minlength=24)
        assert np.array_equal(np.diff(alt.hour_bounds) - mine_b[:24], np.diff(base.hour_bounds) - mine_a[:24])
        changed_any |= not np.array_equal(base.key[~keep_a], alt.key[~keep_b])
    assert changed_any, "moving a person from UNAWARE to INTENT should change their own opportunities"


@pytest.mark.parametrize("which", ["weekday", "month"])
def test_a_busier_day_never_has_fewer_opportunities(which):
    # same day and seed, two calendars: day 0 (Monday 2 March) is twice as busy in the second
    flat_w, flat_m = (1.0,) * 7, (1.0,) * 12
    busy = {"weekday": ((2.0,) + (1.0,) * 6, flat_m), "month": (flat_w, (1.0, 1.0, 2.0) + (1.0,) * 9)}[which]
    quiet_act, pop, quiet_cal = build(world(weekday=flat_w, month=flat_m), 20_000)
    busy_act, _, busy_cal = build(world(weekday=busy[0], month=busy[1]), 20_000)
    ratio = busy_cal.day_multiplier(0) / quiet_cal.day_multiplier(0)
    assert ratio > 1.5
    stage = random_stages(pop.size)
    q, b = quiet_act.schedule(0, stage), busy_act.schedule(0, stage)
    n_ch = len(CHANNELS)
    cq = np.bincount(q.person * n_ch + q.channel, minlength=pop.size * n_ch)
    cb = np.bincount(b.person * n_ch + b.channel, minlength=pop.size * n_ch)
    assert np.all(cb >= cq), "a higher rate on the same uniforms never draws fewer opportunities"
    # totals match the capped Poisson mean E[min(N, cap)] = sum_{k<cap} P(N > k) at the scaled rates
    for sched, cal in ((q, quiet_cal), (b, busy_cal)):
        lam = np.stack([quiet_act.rate_table[c][pop.segment, stage] for c in range(n_ch)], axis=1)
        lam = lam * cal.day_multiplier(0)
        expected = poisson.sf(np.arange(MAX_PER_DAY)[:, None, None], lam[None]).sum()
        assert abs(sched.key.size - expected) < 5 * np.sqrt(expected), (sched.key.size, expected)


def test_more_channels_than_the_key_bits_allow_is_rejected():
    channels = {**CHANNELS, "video": CHANNELS["display"]}
    data = world().model_dump()
    proto = data["channels"][0]
    data["channels"] = [{**proto, "name": n, "rate": r, "stage_activity": sa} for n, (r, sa) in channels.items()]
    data["segments"] = [{**s, "activity": (1.0,) * 4} for s in data["segments"]]
    data["journey"]["advance"] = (0.1,) * 4
    cfg = WorldConfig.model_validate(data)
    pop = build_population(cfg, 10, np.random.default_rng(0))
    with pytest.raises(ValueError, match="at most 3 channels"):
        Activity(cfg, pop, Calendar(cfg.temporal, START), CounterRng(0))


# --------------------------------------------------------------------------------------------------
# query intent


def test_query_intent_varies_only_on_search_and_is_neutral_elsewhere(small):
    cfg, act, pop, cal, stage = small
    s = act.schedule(4, stage)
    intent = act.query_intent(s.key, 4, s.channel, stage[s.person])
    assert intent.dtype == np.int8 and intent.shape == s.key.shape
    search = s.channel == [c.name for c in cfg.channels].index("search")
    assert np.all(intent[~search] == 1)
    assert set(np.unique(intent[search])) == {0, 1, 2}
    # a pure function of the opportunity: a subset of rows gets the same intents
    part = slice(100, 400)
    again = act.query_intent(s.key[part], 4, s.channel[part], stage[s.person[part]])
    assert np.array_equal(again, intent[part])


def test_query_intent_follows_intent_by_stage_and_rises_with_the_stage():
    # rows need not sum to 1: each is normalised
    weights = tuple(tuple(3 * w for w in row) for row in INTENT_BY_STAGE)
    act, _, _ = build(world(intent_by_stage=weights), 10)
    n = 40_000
    purchase_share = []
    for st in range(N_STAGES):
        key = np.arange(n, dtype=np.int64) + st * n
        intent = act.query_intent(key, 7, np.zeros(n, np.int8), np.full(n, st, np.int8))
        freq = np.bincount(intent, minlength=3) / n
        expected = np.array(INTENT_BY_STAGE[st]) / np.sum(INTENT_BY_STAGE[st])
        assert np.abs(freq - expected).max() < 5 * np.sqrt(0.25 / n), (Stage(st).name, freq, expected)
        purchase_share.append(freq[2])
    funnel = purchase_share[Stage.UNAWARE:Stage.INTENT + 1]
    assert all(a < b for a, b in zip(funnel, funnel[1:])), f"purchase intent by stage: {funnel}"
