"""Tests for gaelp.world.journey: exposures (against a slow reference), the daily organic pass and
organic brand choice."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chisquare

from gaelp.config import Config, WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.activity import day_uniforms
from gaelp.world.journey import JourneyModel
from gaelp.world.population import JourneyState, Stage, build_population

SEED = 99
N_STAGES = len(Stage)
N_ADV = 3
CVR_MULT = (1.0, 0.5, 0.1)  # brand memory of a click scales with the channel's cvr_mult
OPEN = (Stage.UNAWARE, Stage.AWARE, Stage.CONSIDERING, Stage.INTENT)

# Journey fields that the tests below rely on, all explicit; `quiet` switches every organic event off.
JOURNEY = {
    "advance": (0.3, 0.2, 0.1), "click_to_intent": 0.4, "lapse_days": 5, "word_of_mouth": 0.1,
    "organic_consider": 0.2, "buy_hazard": (0.0, 0.0, 0.05, 0.15), "drop_out": (0.0, 0.1, 0.1, 0.05),
    "brand_base": 0.5, "brand_impression": 0.03, "brand_click": 0.2, "exposure_decay": 0.8,
}
QUIET = {"word_of_mouth": 0.0, "organic_consider": 0.0, "buy_hazard": (0.0,) * 4, "drop_out": (0.0,) * 4}


def world(crisis: tuple[float, float] = (0.05, 0.0), buy_mult: tuple[float, float] = (1.0, 2.0),
          **journey) -> WorldConfig:
    data = Config().world.model_dump()
    proto = data["channels"][0]
    data["channels"] = [{**proto, "name": n, "cvr_mult": m} for n, m in zip(("search", "social", "display"), CVR_MULT)]
    seg = data["segments"][0]
    data["segments"] = [{**seg, "name": f"s{i}", "share": 0.5, "activity": (1.0,) * 3, "crisis_rate": c, "buy_mult": b}
                        for i, (c, b) in enumerate(zip(crisis, buy_mult))]
    data["journey"].update({**JOURNEY, **journey})
    return WorldConfig.model_validate(data)


def model(cfg: WorldConfig, brand_base=(0.5, 1.0, 0.25), seed: int = SEED) -> JourneyModel:
    return JourneyModel(cfg, np.array(brand_base), CounterRng(seed))


def random_state(n: int, seed: int = SEED) -> JourneyState:
    rng = np.random.default_rng(seed)
    st = JourneyState.fresh(n, N_ADV, rng.integers(0, N_STAGES, n))
    st.seen[:] = rng.random((n, N_ADV)).astype(np.float32)
    st.brand[:] = rng.random((n, N_ADV)).astype(np.float32)
    st.last_activity[:] = rng.integers(-1, 50, n)
    st.journey_start[:] = rng.integers(0, 50, n)
    return st


def random_impressions(n_people: int, k: int, seed: int = SEED):
    rng = np.random.default_rng(seed + 1)
    person = rng.integers(0, n_people, k)  # many people appear more than once
    return (np.arange(k, dtype=np.int64) * 8 + rng.integers(0, 8, k), person, rng.integers(0, N_ADV, k),
            rng.integers(0, 3, k), rng.random(k) < 0.3)


# --------------------------------------------------------------------------------------------------
# expose: a slow reference, one impression at a time


def reference_expose(jm: JourneyModel, cfg: WorldConfig, st: JourneyState, t: int, day: int,
                     key, person, advertiser, channel, clicked) -> None:
    j = cfg.journey
    crng = jm.crng
    before = st.stage.copy()
    for i in range(person.size):
        p, a, c = int(person[i]), int(advertiser[i]), int(channel[i])
        st.seen[p, a] += np.float32(1.0)
        gain = j.brand_click * cfg.channels[c].cvr_mult if clicked[i] else j.brand_impression
        st.brand[p, a] += np.float32(gain)
    touched = np.zeros(before.size, bool)
    touched[person] = True
    cur_all = before.copy()
    cur_all[touched & (before == Stage.LAPSED)] = Stage.AWARE  # a touch re-engages a lapsed journey
    target = cur_all.copy()
    for i in range(person.size):
        p, c = int(person[i]), int(channel[i])
        cur = int(cur_all[p])
        if cur > Stage.INTENT:
            continue
        u_adv = crng.uniform(np.array([key[i]]), day, Purpose.ADVANCE)[0]
        prop = cur + 1 if u_adv < j.advance[c] else cur
        if clicked[i]:
            deep = crng.uniform(np.array([key[i]]), day, Purpose.CLICK_DEPTH)[0] < j.click_to_intent
            prop = max(prop, Stage.INTENT if deep else Stage.CONSIDERING)
        target[p] = max(target[p], min(prop, Stage.INTENT))
    for p in np.unique(person):
        st.stage[p] = target[p]
        st.last_activity[p] = t
        if before[p] in (Stage.UNAWARE, Stage.LAPSED) and target[p] != before[p]:
            st.journey_start[p] = t


@pytest.mark.parametrize("pass_stage", [False, True])
def test_expose_matches_the_slow_reference_over_several_hours(pass_stage):
    cfg = world()
    jm = model(cfg)
    fast, slow = random_state(400), random_state(400)
    for t in (30, 31, 55):
        imp = random_impressions(400, 600, seed=t)
        stage_now = fast.stage[imp[1]].copy() if pass_stage else None
        jm.expose(fast, t, t // 24, *imp, stage_now=stage_now)
        reference_expose(jm, cfg, slow, t, t // 24, *imp)
        for k in fast.arrays:
            assert np.array_equal(getattr(fast, k), getattr(slow, k)), (t, k)


def test_expose_moves_open_stages_up_to_intent_and_never_touches_buyers():
    cfg = world(advance=(1.0, 1.0, 1.0), click_to_intent=1.0)
    jm = model(cfg)
    st = JourneyState.fresh(N_STAGES * 3, N_ADV, np.repeat(np.arange(N_STAGES), 3))
    before = st.stage.copy()
    person = np.arange(st.stage.size)
    for t, clicked in ((1, np.zeros(person.size, bool)), (2, np.ones(person.size, bool))):
        jm.expose(st, t, 0, person * 8 + t, person, np.zeros_like(person), np.zeros_like(person), clicked)
        assert st.stage.max() <= Stage.LOST
        done = np.isin(before, (Stage.CONVERTED, Stage.LOST))
        assert np.array_equal(st.stage[done], before[done]), "CONVERTED / LOST journeys are over"
        assert np.all(st.stage[~done] <= Stage.INTENT)
        assert np.all(st.stage[~done] >= np.where(before[~done] == Stage.LAPSED, Stage.AWARE, before[~done]))
    assert np.all(st.stage[~done] == Stage.INTENT), "a click with click_to_intent = 1 jumps to INTENT"


def test_a_touch_re_engages_a_lapsed_journey_and_starts_it():
    cfg = world(advance=(0.0, 0.0, 0.0))
    jm = model(cfg)
    st = JourneyState.fresh(4, N_ADV, np.array([Stage.LAPSED, Stage.UNAWARE, Stage.AWARE, Stage.LAPSED]))
    st.journey_start[:] = 3
    person = np.array([0, 1, 2])
    jm.expose(st, 40, 1, person * 8, person, np.zeros(3, np.int64), np.zeros(3, np.int64), np.zeros(3, bool))
    assert st.stage.tolist() == [Stage.AWARE, Stage.UNAWARE, Stage.AWARE, Stage.LAPSED]
    assert st.journey_start.tolist() == [40, 3, 3, 3], "only a journey that left UNAWARE / LAPSED starts"
    assert st.last_activity.tolist() == [40, 40, 40, -1]


def test_journey_start_is_set_when_an_unaware_person_advances():
    cfg = world(advance=(1.0, 1.0, 1.0))
    jm = model(cfg)
    st = JourneyState.fresh(3, N_ADV, np.array([Stage.UNAWARE, Stage.AWARE, Stage.UNAWARE]))
    person = np.array([0, 1])
    jm.expose(st, 77, 3, person * 8, person, np.zeros(2, np.int64), np.zeros(2, np.int64), np.zeros(2, bool))
    assert st.stage.tolist() == [Stage.AWARE, Stage.CONSIDERING, Stage.UNAWARE]
    assert st.journey_start.tolist() == [77, 0, 0]


def test_a_person_seen_twice_in_one_call_gets_both_exposures():
    cfg = world(advance=(0.0, 0.0, 0.0), click_to_intent=0.0)
    jm = model(cfg)
    st = JourneyState.fresh(3, N_ADV, np.full(3, Stage.AWARE))
    person = np.array([1, 1, 1, 2])
    adv = np.array([0, 0, 2, 0])
    channel = np.array([0, 1, 1, 2])
    clicked = np.array([True, False, True, False])
    jm.expose(st, 5, 0, np.arange(4) * 8, person, adv, channel, clicked)
    j = cfg.journey
    assert st.seen[1].tolist() == [2.0, 0.0, 1.0] and st.seen[2].tolist() == [1.0, 0.0, 0.0]
    assert st.brand[1, 0] == pytest.approx(j.brand_click * CVR_MULT[0] + j.brand_impression)
    assert st.brand[1, 2] == pytest.approx(j.brand_click * CVR_MULT[1])
    assert st.brand[2, 0] == pytest.approx(j.brand_impression)
    assert not st.seen[0].any() and not st.brand[0].any()


def test_one_impression_advances_a_stage_with_the_channels_advance_probability():
    cfg = world(click_to_intent=0.0)
    jm = model(cfg)
    n = 60_000
    person = np.arange(n)
    channel = person % 3
    st = JourneyState.fresh(n, N_ADV, np.full(n, Stage.AWARE))
    jm.expose(st, 1, 0, person * 8, person, np.zeros(n, np.int64), channel, np.zeros(n, bool))
    assert set(np.unique(st.stage)) <= {Stage.AWARE, Stage.CONSIDERING}
    for c, p in enumerate(cfg.journey.advance):
        share = (st.stage[channel == c] == Stage.CONSIDERING).mean()
        assert abs(share - p) < 5 * np.sqrt(p * (1 - p) / (n / 3))


def test_expose_with_no_impressions_changes_nothing():
    jm = model(world())
    st = random_state(20)
    saved = st.state_dict()
    empty = np.empty(0, np.int64)
    jm.expose(st, 9, 0, empty, empty, empty, empty, np.empty(0, bool))
    assert all(np.array_equal(getattr(st, k), saved[k]) for k in st.arrays)


# --------------------------------------------------------------------------------------------------
# daily


def population(cfg: WorldConfig, n: int):
    return build_population(cfg, n, np.random.default_rng(SEED))


def daily(jm: JourneyModel, st: JourneyState, pop, day: int, day_mult: float) -> np.ndarray:
    """The organic pass with the day's counter-based organic uniforms, as the story draws them."""
    return jm.daily(st, pop, day, day_mult, day_uniforms(jm.crng, np.arange(pop.size, dtype=np.int64), day)[0])


def reference_daily(cfg: WorldConfig, st: JourneyState, pop, day: int, day_mult: float, u: np.ndarray) -> list[int]:
    """Slow reference of the organic pass, one person at a time, straight from the config."""
    j, t0 = cfg.journey, 24 * day
    move = {Stage.UNAWARE: j.word_of_mouth, Stage.AWARE: j.organic_consider, Stage.LAPSED: j.word_of_mouth}
    buyers = []
    for p in range(st.stage.size):
        s = int(st.stage[p])
        if Stage.AWARE <= s <= Stage.INTENT and st.last_activity[p] < t0 - 24 * j.lapse_days:
            s = Stage.LAPSED
        seg = cfg.segments[pop.segment[p]]
        reopens = s < Stage.INTENT or s == Stage.LAPSED
        widths = [move.get(s, 0.0), seg.crisis_rate if reopens else 0.0,
                  j.buy_hazard[s] * seg.buy_mult * day_mult if s <= Stage.INTENT else 0.0,
                  j.drop_out[s] if s <= Stage.INTENT else 0.0]
        ends = np.cumsum(widths)
        event = int(np.sum(u[p] >= ends))  # 4: nothing
        if event in (0, 1):
            if s in (Stage.UNAWARE, Stage.LAPSED):
                st.journey_start[p] = t0
            st.last_activity[p] = t0
            s = (Stage.AWARE if s == Stage.LAPSED else s + 1) if event == 0 else Stage.INTENT
        elif event == 2:
            buyers.append(p)
        elif event == 3:
            s = Stage.LAPSED
        st.stage[p] = s
    st.seen *= np.float32(j.exposure_decay)
    st.brand *= np.float32(j.exposure_decay)
    return buyers


@pytest.mark.parametrize("day", [3, 11])
def test_daily_matches_the_slow_reference(day):
    cfg = world(crisis=(0.05, 0.2), buy_mult=(1.0, 3.0), lapse_days=1)
    jm = model(cfg)
    n = 6_000
    pop = population(cfg, n)
    got, ref = random_state(n), random_state(n)
    got.last_activity[:] = ref.last_activity[:] = np.random.default_rng(SEED + 3).integers(-1, 24 * day, n)
    u = day_uniforms(jm.crng, np.arange(n, dtype=np.int64), day)[0]
    buyers = jm.daily(got, pop, day, 1.7, u)
    expected = reference_daily(cfg, ref, pop, day, 1.7, u)
    assert buyers.dtype == np.int64 and np.array_equal(buyers, expected) and len(expected) > 20
    for k in got.arrays:
        assert np.array_equal(getattr(got, k), getattr(ref, k)), k
    assert (got.stage != random_state(n).stage).sum() > n // 10, "the reference must exercise lapses and events"


def test_idle_journeys_lapse_after_lapse_days():
    cfg = world(crisis=(0.0, 0.0), **QUIET)
    jm = model(cfg)
    day = 10
    t0 = 24 * day
    lapse_h = 24 * cfg.journey.lapse_days
    stages = np.array([Stage.AWARE, Stage.CONSIDERING, Stage.INTENT, Stage.INTENT, Stage.UNAWARE,
                       Stage.CONVERTED, Stage.LOST, Stage.AWARE])
    st = JourneyState.fresh(stages.size, N_ADV, stages)
    st.last_activity[:] = [t0 - lapse_h - 1, t0 - lapse_h - 1, t0 - lapse_h, t0 - lapse_h - 1, -1, -1, -1, -1]
    buyers = daily(jm, st, population(cfg, stages.size), day, 1.0)
    assert buyers.size == 0
    assert st.stage.tolist() == [Stage.LAPSED, Stage.LAPSED, Stage.INTENT, Stage.LAPSED, Stage.UNAWARE,
                                 Stage.CONVERTED, Stage.LOST, Stage.LAPSED]


def test_daily_decays_exposure_memory():
    cfg = world()
    jm = model(cfg)
    st = random_state(50)
    seen, brand = st.seen.copy(), st.brand.copy()
    daily(jm, st, population(cfg, 50), 3, 1.0)
    decay = cfg.journey.exposure_decay
    assert st.seen == pytest.approx(seen * decay) and st.brand == pytest.approx(brand * decay)


def test_daily_organic_events_follow_their_rates_one_per_person():
    cfg = world()
    jm = model(cfg)
    n_per = 30_000
    stages = np.repeat(np.arange(N_STAGES), n_per).astype(np.int8)
    pop = population(cfg, stages.size)
    st = JourneyState.fresh(stages.size, N_ADV, stages)
    day, day_mult = 2, 1.3
    st.last_activity[:] = 24 * day - 1  # nobody is idle
    buyers = daily(jm, st, pop, day, day_mult)
    j = cfg.journey
    seg = pop.segment
    crisis = np.array([s.crisis_rate for s in cfg.segments])[seg]
    buy_mult = np.array([s.buy_mult for s in cfg.segments])[seg]
    bought = np.zeros(stages.size, bool)
    bought[buyers] = True
    after = st.stage

    def close(mask, observed, expected):
        n = mask.sum()
        e = expected[mask].mean()
        assert abs(observed[mask].mean() - e) < 5 * np.sqrt(e * (1 - e) / n) + 1e-12, (observed[mask].mean(), e)

    # buyers only where the stage has a buy hazard; they keep their stage (one event per person)
    hazard = np.zeros(N_STAGES)
    hazard[:4] = j.buy_hazard
    assert set(np.unique(stages[buyers])) == {s for s in range(N_STAGES) if hazard[s] > 0}
    assert np.array_equal(after[buyers], stages[buyers])
    for s in (Stage.CONSIDERING, Stage.INTENT):
        close(stages == s, bought, hazard[s] * buy_mult * day_mult)
    # word of mouth: UNAWARE and LAPSED -> AWARE; crises jump to INTENT
    for s in (Stage.UNAWARE, Stage.LAPSED):
        m = stages == s
        close(m, after == Stage.AWARE, np.full(stages.size, j.word_of_mouth))
        close(m, after == Stage.INTENT, crisis)
        assert np.all(st.journey_start[m & (after != s)] == 24 * day)
        assert np.all(st.journey_start[m & (after == s)] == 0)
    close(stages == Stage.AWARE, after == Stage.CONSIDERING, np.full(stages.size, j.organic_consider))
    # drop-outs lapse
    for s in (Stage.AWARE, Stage.CONSIDERING, Stage.INTENT):
        close(stages == s, after == Stage.LAPSED, np.full(stages.size, j.drop_out[s]))
    done = np.isin(stages, (Stage.CONVERTED, Stage.LOST))
    assert np.array_equal(after[done], stages[done]) and not bought[done].any()


def test_daily_for_one_person_depends_only_on_that_person():
    cfg = world()
    jm = model(cfg)
    n = 5_000
    pop = population(cfg, n)
    a, b = random_state(n), random_state(n)
    b.stage[123] = Stage.INTENT if a.stage[123] != Stage.INTENT else Stage.AWARE
    b.last_activity[123] = 200
    buyers_a = daily(jm, a, pop, 9, 1.0)
    buyers_b = daily(jm, b, pop, 9, 1.0)
    others = np.arange(n) != 123
    for k in a.arrays:
        assert np.array_equal(getattr(a, k)[others], getattr(b, k)[others]), k
    assert np.array_equal(buyers_a[buyers_a != 123], buyers_b[buyers_b != 123])


def test_daily_uses_the_population_it_is_given():
    # segments differ sharply (crises in one only), so using another population's segments shows
    cfg = world(crisis=(0.5, 0.0), buy_mult=(1.0, 1.0))
    n = 4_000
    pop_a = build_population(cfg, n, np.random.default_rng(1))
    pop_b = build_population(cfg, n, np.random.default_rng(2))
    assert not np.array_equal(pop_a.segment, pop_b.segment)
    used = model(cfg)
    daily(used, JourneyState.fresh(n, N_ADV), pop_a, 0, 1.0)  # the model has served another world before
    a, b = JourneyState.fresh(n, N_ADV), JourneyState.fresh(n, N_ADV)
    buyers_used = daily(used, a, pop_b, 1, 1.0)
    buyers_fresh = daily(model(cfg), b, pop_b, 1, 1.0)
    assert np.array_equal(buyers_used, buyers_fresh)
    for k in a.arrays:
        assert np.array_equal(getattr(a, k), getattr(b, k)), k


# --------------------------------------------------------------------------------------------------
# choose_brand


def test_choose_brand_follows_brand_base_plus_memory():
    cfg = world()
    base = np.array([0.5, 1.0, 0.25])
    jm = model(cfg, base)
    n = 90_000
    st = JourneyState.fresh(n, N_ADV)
    half = np.arange(n) >= n // 2
    st.brand[half] = np.array([1.5, 0.0, 0.0], np.float32)  # the second half remembers our ads
    person = np.arange(n)
    choice = jm.choose_brand(st, person, 4)
    assert choice.shape == (n,) and choice.min() >= 0 and choice.max() < N_ADV
    for mask, w in ((~half, base), (half, base + st.brand[n - 1])):
        counts = np.bincount(choice[mask], minlength=N_ADV)
        expected = w / w.sum() * mask.sum()
        assert chisquare(counts, expected).pvalue > 1e-3, (counts, expected)


def test_choose_brand_never_picks_a_zero_weight_advertiser():
    jm = model(world(), brand_base=(0.0, 1.0, 0.0))
    st = JourneyState.fresh(5_000, N_ADV)
    st.brand[:10, 2] = 1.0
    choice = jm.choose_brand(st, np.arange(5_000), 0)
    assert np.all(choice[10:] == 1)
    assert set(np.unique(choice[:10])) <= {1, 2}
