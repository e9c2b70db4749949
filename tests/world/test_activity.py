"""Tests for gaelp.world.activity: Poisson draws, the day's schedule against a slow reference,
counterfactual independence, calendar effects and query intent."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest
from scipy.stats import poisson

from gaelp.config import Config, WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.activity import MAX_PER_DAY, Activity, day_uniforms, poisson_cdf, poisson_from_uniform
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
    bad = mismatch[:3]
    assert mismatch.size == 0, f"u={u[bad]}, lam={lam[bad]}: {got[bad]} vs {expected[bad]}"
    # the callers' common case: only uniforms known to give at least one opportunity
    some = u > np.exp(-lam)
    assert np.array_equal(poisson_from_uniform(u[some], lam[some], cap), expected[some])


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


def test_poisson_cdf_is_the_poisson_cdf_and_never_decreases():
    lam = np.array([0.0, 0.01, 0.7, 3.0, 12.0, 800.0])
    cdf = poisson_cdf(lam, 8)
    assert cdf.shape == (8, lam.size)
    assert np.allclose(cdf, poisson.cdf(np.arange(8)[:, None], lam[None]), rtol=1e-12, atol=1e-300)
    assert np.all(np.diff(cdf, axis=0) >= 0)
    assert poisson_cdf(lam, 0).shape == (0, lam.size)


# --------------------------------------------------------------------------------------------------
# Activity.schedule


def day_u(act: Activity, day: int) -> np.ndarray:
    return day_uniforms(act.crng, np.arange(act.pop.size, dtype=np.int64), day)[1]


def total_rate(cfg: WorldConfig, seg: int, stage: int) -> np.ndarray:
    """(n_channels,) opportunities per average day of a person, straight from the config."""
    return np.array([ch.rate * cfg.segments[seg].activity[c] * ch.stage_activity[stage]
                     for c, ch in enumerate(cfg.channels)])


def reference_counts_and_channels(cfg, act: Activity, day: int, stage: np.ndarray, u: np.ndarray):
    """Slow reference: one person and opportunity at a time. Returns {key: (person, channel)}."""
    mult = act.calendar.day_multiplier(day)
    out = {}
    for p in range(act.pop.size):
        rates = total_rate(cfg, int(act.pop.segment[p]), int(stage[p])) * mult
        n = min(int(poisson.ppf(u[p], rates.sum())), MAX_PER_DAY) if u[p] > 0 else 0
        cdf = np.cumsum(rates / rates.sum()) if rates.sum() > 0 else None
        for k in range(n):
            key = p * MAX_PER_DAY + k
            uc = act.crng.uniform(np.array([key]), day, Purpose.OPP_CHANNEL)[0]
            out[key] = (p, int(np.sum(uc >= cdf[:-1])))
    return out


@pytest.fixture(scope="module")
def small():
    cfg = world()
    act, pop, cal = build(cfg, 1_500)
    stage = random_stages(pop.size)
    return cfg, act, pop, cal, stage


@pytest.mark.parametrize("day", [0, 5])
def test_schedule_counts_and_channels_match_the_slow_reference(small, day):
    cfg, act, _pop, _cal, stage = small
    u = day_u(act, day)
    s = act.schedule(day, stage, u)
    ref = reference_counts_and_channels(cfg, act, day, stage, u)
    assert s.day == day and s.key.size == len(ref) > 1000
    order = np.argsort(s.key)
    assert np.array_equal(s.key[order], sorted(ref))
    assert np.array_equal(s.person[order], [ref[k][0] for k in sorted(ref)])
    assert np.array_equal(s.channel[order], [ref[k][1] for k in sorted(ref)])


def test_schedule_rows_are_consistent(small):
    cfg, act, pop, cal, stage = small
    s = act.schedule(3, stage, day_u(act, 3))
    m = s.key.size
    b = s.hour_bounds
    assert b.shape == (25,) and b[0] == 0 and b[-1] == m and np.all(np.diff(b) >= 0)
    assert sum(s.hour(h).stop - s.hour(h).start for h in range(24)) == m
    assert np.unique(s.key).size == m, "every opportunity key must be unique"
    assert np.array_equal(s.key // MAX_PER_DAY, s.person)
    assert np.all((s.channel >= 0) & (s.channel < len(cfg.channels)))
    assert np.array_equal(pop.device_owner[s.device], s.person), "a device must belong to its person"
    counts = np.bincount(s.person, minlength=pop.size)
    assert counts.max() <= MAX_PER_DAY
    # a person's opportunities are numbered 0..count-1
    assert np.all(s.key % MAX_PER_DAY < counts[s.person])
    # each row sits in the hour its own time draw gives, up to the resolution of the hour table
    ut = act.crng.uniform(s.key, 3, Purpose.OPP_TIME)
    hour = np.minimum(np.searchsorted(cal.hour_cdf, ut, side="right"), 23)
    row_hour = np.repeat(np.arange(24), np.diff(b))
    off = hour != row_hour
    near = np.abs(ut[:, None] - cal.hour_cdf[None, :-1]).min(axis=1) < 2.0**-15
    assert np.all(near[off]) and off.sum() <= max(3, m // 500)


def test_schedule_hours_channels_and_devices_follow_their_distributions():
    cfg = world()
    act, pop, cal = build(cfg, 20_000)
    stage = np.full(pop.size, Stage.CONSIDERING, np.int8)
    s = act.schedule(1, stage, day_u(act, 1))
    m = s.key.size
    per_hour = np.diff(s.hour_bounds) / m
    assert np.abs(per_hour - cal.hour_probs).max() < 5 * np.sqrt(cal.hour_probs.max() / m)
    for seg in range(len(cfg.segments)):
        rows = pop.segment[s.person] == seg
        rates = total_rate(cfg, seg, Stage.CONSIDERING)
        freq = np.bincount(s.channel[rows], minlength=len(cfg.channels)) / rows.sum()
        assert np.abs(freq - rates / rates.sum()).max() < 5 * np.sqrt(0.25 / rows.sum())
    # the device is uniform over the person's devices
    slot = s.device - pop.device_offset[s.person]
    three = pop.n_devices[s.person] == 3
    assert np.abs(np.bincount(slot[three], minlength=3) / three.sum() - 1 / 3).max() < 5 * np.sqrt(0.25 / three.sum())


def test_changing_one_persons_stage_changes_only_that_persons_opportunities():
    cfg = world()
    act, pop, _cal = build(cfg, 3_000)
    stage = np.full(pop.size, Stage.UNAWARE, np.int8)
    u = day_u(act, 2)
    base = act.schedule(2, stage, u)
    changed_any = False
    for who in (17, 1_234, 2_999):
        alt_stage = stage.copy()
        alt_stage[who] = Stage.INTENT
        alt = act.schedule(2, alt_stage, u)
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
    cfg_quiet, cfg_busy = world(weekday=flat_w, month=flat_m), world(weekday=busy[0], month=busy[1])
    quiet_act, pop, quiet_cal = build(cfg_quiet, 20_000)
    busy_act, _, busy_cal = build(cfg_busy, 20_000)
    assert busy_cal.day_multiplier(0) / quiet_cal.day_multiplier(0) > 1.5
    stage = random_stages(pop.size)
    u = day_u(quiet_act, 0)
    q, b = quiet_act.schedule(0, stage, u), busy_act.schedule(0, stage, u)
    cq, cb = np.bincount(q.person, minlength=pop.size), np.bincount(b.person, minlength=pop.size)
    assert np.all(cb >= cq), "a higher rate on the same uniforms never draws fewer opportunities"
    # totals match the capped Poisson mean E[min(N, cap)] = sum_{k<cap} P(N > k) at the scaled rates
    for sched, cal, cfg in ((q, quiet_cal, cfg_quiet), (b, busy_cal, cfg_busy)):
        lam = np.array([total_rate(cfg, s, st).sum() for s, st in zip(pop.segment, stage)]) * cal.day_multiplier(0)
        expected = poisson.sf(np.arange(MAX_PER_DAY)[:, None], lam[None]).sum()
        assert abs(sched.key.size - expected) < 5 * np.sqrt(expected), (sched.key.size, expected)


def test_schedule_times_and_devices_follow_the_float_reading_of_the_time_uniform(small):
    # slow reference: u * 2**16 -> the hour table's cell; the rest, times 60, is the minute (integer part)
    # and the device (fractional part times the person's number of devices, rounded down)
    _, act, pop, cal, stage = small
    for day in (2, 6):
        s = act.schedule(day, stage, day_u(act, day))
        ut = act.crng.uniform(s.key, day, Purpose.OPP_TIME) * 2.0**16
        cell = np.floor(ut)
        rest = (ut - cell) * 60
        hour = np.minimum(np.searchsorted(cal.hour_cdf, (cell + 0.5) / 2.0**16, side="right"), 23)
        minute = hour * 60 + np.floor(rest)
        assert np.array_equal(s.device, pop.device_offset[s.person] + np.floor(rest % 1.0 * pop.n_devices[s.person]))
        assert np.array_equal(np.repeat(np.arange(24), np.diff(s.hour_bounds)), hour)
        # sorted by minute; within a minute by key (the order before the stable sort)
        assert np.all(np.diff(minute) >= 0)
        same = np.diff(minute) == 0
        assert np.all(np.diff(s.key)[same] > 0)


def test_activity_day_uniforms_equal_day_uniforms_for_everyone(small):
    act, pop = small[1], small[2]
    everyone = np.arange(pop.size, dtype=np.int64)
    for day in (0, 1, 29, 400):
        fast, slow = act.day_uniforms(day), day_uniforms(act.crng, everyone, day)
        assert all(np.array_equal(f, w) and f.dtype == np.float64 for f, w in zip(fast, slow))
    # repeated calls reuse the prepared keys: they must not change
    assert np.array_equal(act.day_uniforms(1)[1], day_uniforms(act.crng, everyone, 1)[1])


def test_day_uniforms_are_two_independent_uniform_streams():
    crng = CounterRng(SEED)
    people = np.arange(100_000, dtype=np.int64)
    organic, sched = day_uniforms(crng, people, 4)
    for u in (organic, sched):
        assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    assert abs(np.corrcoef(organic, sched)[0, 1]) < 0.01
    again = day_uniforms(crng, people[500:600], 4)
    assert np.array_equal(again[0], organic[500:600]) and np.array_equal(again[1], sched[500:600])
    assert not np.array_equal(day_uniforms(crng, people, 5)[1], sched)


# --------------------------------------------------------------------------------------------------
# query intent


def test_query_intent_varies_only_on_search_and_is_neutral_elsewhere(small):
    cfg, act, _pop, _cal, stage = small
    s = act.schedule(4, stage, day_u(act, 4))
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
    assert all(a < b for a, b in itertools.pairwise(funnel)), f"purchase intent by stage: {funnel}"
