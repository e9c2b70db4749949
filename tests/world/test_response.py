"""Tests for gaelp.world.response: click and purchase probabilities and the post-click lag."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.config import Config, WorldConfig
from gaelp.world.population import Stage
from gaelp.world.response import ResponseModel

SEED = 77
N_STAGES = len(Stage)
POSITION_CTR = (1.0, 0.6, 0.3)
FATIGUE = 0.5


def world(fast_share: float | None = None, fatigue: float = FATIGUE) -> WorldConfig:
    """Default world with an explicit 3-slot search channel, a 1-slot social channel and fatigue."""
    data = Config().world.model_dump()
    proto = data["channels"][0]
    data["channels"] = [
        {**proto, "name": "search", "slots": 3, "position_ctr": POSITION_CTR, "ctr": 0.05, "cvr_mult": 1.0},
        {**proto, "name": "social", "slots": 1, "position_ctr": (1.0,), "ctr": 0.01, "cvr_mult": 0.5},
    ]
    data["segments"] = [{**s, "activity": (1.0, 1.0)} for s in data["segments"]]
    data["journey"].update(advance=(0.1, 0.1), fatigue=fatigue)
    if fast_share is not None:
        data["journey"]["fast_share"] = fast_share
    return WorldConfig.model_validate(data)


def ones(k: int, value: int = 0) -> np.ndarray:
    return np.full(k, value, np.int64)


def ctr_of(model: ResponseModel, k: int, **kw) -> np.ndarray:
    args = {"channel": ones(k), "slot": ones(k), "segment": ones(k), "stage": ones(k, Stage.INTENT),
            "intent": ones(k, 1), "quality": np.ones(k), "seen": np.zeros(k)}
    args.update(kw)
    return model.ctr(**args)


def cvr_of(model: ResponseModel, k: int, **kw) -> np.ndarray:
    args = {"channel": ones(k), "segment": ones(k), "stage": ones(k, Stage.INTENT), "intent": ones(k, 1),
            "device_type": ones(k), "hour_cvr": 1.0, "appeal": 1.0}
    args.update(kw)
    return model.cvr(**args)


# --------------------------------------------------------------------------------------------------
# CTR


def test_ctr_falls_with_creative_fatigue_as_one_over_one_plus_fatigue_times_seen():
    model = ResponseModel(world())
    seen = np.arange(0, 12, dtype=np.float64)
    p = ctr_of(model, seen.size, seen=seen)
    assert np.all(np.diff(p) < 0)
    assert p / p[0] == pytest.approx(1.0 / (1.0 + FATIGUE * seen))
    no_fatigue = ctr_of(ResponseModel(world(fatigue=0.0)), seen.size, seen=seen)
    assert np.all(no_fatigue == no_fatigue[0])


def test_ctr_falls_with_the_slot_position():
    model = ResponseModel(world())
    p = ctr_of(model, 3, slot=np.arange(3))
    assert np.all(np.diff(p) < 0)
    assert p / p[0] == pytest.approx(np.array(POSITION_CTR) / POSITION_CTR[0])
    # the single-slot channel has no second slot: nobody clicks an ad that is not there
    assert ctr_of(model, 1, channel=ones(1, 1), slot=ones(1, 1))[0] == 0.0


def test_ctr_is_capped_at_095():
    model = ResponseModel(world())
    p = ctr_of(model, 4, quality=np.array([1.0, 1e3, 1e6, 1e9]))
    assert p.max() == 0.95 and p[0] < 0.95


def test_ctr_scales_with_creative_quality_until_the_cap():
    model = ResponseModel(world())
    p = ctr_of(model, 3, quality=np.array([0.5, 1.0, 2.0]))
    assert p == pytest.approx(p[1] * np.array([0.5, 1.0, 2.0]))


def test_ctr_matches_a_per_impression_reference_and_the_hourly_split():
    cfg = world()
    model = ResponseModel(cfg)
    rng = np.random.default_rng(SEED)
    k = 500
    channel = rng.integers(0, 2, k)
    slot = np.where(channel == 0, rng.integers(0, 3, k), 0)
    seg, stage, intent = rng.integers(0, len(cfg.segments), k), rng.integers(0, N_STAGES, k), rng.integers(0, 3, k)
    quality, seen = rng.uniform(0.5, 30.0, k), rng.uniform(0.0, 5.0, k)
    j = cfg.journey
    expected = [min(0.95, cfg.channels[c].ctr * cfg.channels[c].position_ctr[sl] * j.ctr_stage[st]
                    * cfg.segments[g].ctr_mult * j.intent_ctr[i] * q / (1 + j.fatigue * n))
                for c, sl, g, st, i, q, n in zip(channel, slot, seg, stage, intent, quality, seen)]
    got = model.ctr(channel, slot, seg, stage, intent, quality, seen)
    assert got == pytest.approx(expected, rel=1e-12)
    assert (got == 0.95).any() and (got < 0.95).any()
    # the story computes the person part once an hour, then the per-impression part
    max_slots = max(c.slots for c in cfg.channels)
    split = model.ctr_of(model.person_ctr(seg, stage, intent), channel * max_slots + slot, quality, seen)
    assert np.array_equal(split, got)


# --------------------------------------------------------------------------------------------------
# CVR


def test_cvr_is_zero_exactly_for_stages_whose_cvr_stage_is_zero():
    cfg = Config().world
    model = ResponseModel(cfg)
    stage = np.arange(N_STAGES)
    p = cvr_of(model, N_STAGES, stage=stage)
    zero = np.asarray(cfg.journey.cvr_stage) == 0
    assert np.all(p[zero] == 0.0)
    assert np.all(p[~zero] > 0.0)
    # in particular a buyer of ours or of a rival does not buy again from a click, if the config says so
    for st in (Stage.CONVERTED, Stage.LOST):
        assert (p[st] == 0.0) == (cfg.journey.cvr_stage[st] == 0)


def test_cvr_scales_with_device_appeal_and_hour():
    cfg = world()
    model = ResponseModel(cfg)
    by_device = cvr_of(model, 2, device_type=np.array([0, 1]))
    assert by_device[1] / by_device[0] == pytest.approx(cfg.devices.cvr_desktop / cfg.devices.cvr_mobile)
    base = cvr_of(model, 1)[0]
    assert cvr_of(model, 1, appeal=0.5)[0] == pytest.approx(0.5 * base)
    assert cvr_of(model, 1, appeal=np.array([0.0]))[0] == 0.0
    assert cvr_of(model, 1, hour_cvr=1.3)[0] == pytest.approx(1.3 * base)


def test_cvr_is_capped_at_095():
    model = ResponseModel(world())
    assert cvr_of(model, 1, appeal=1e9)[0] == 0.95


# --------------------------------------------------------------------------------------------------
# conversion lag

HOURS = (0.25, 1.0, 3.0, 12.0, 24.0, 72.0, 168.0, 336.0, 720.0)


@pytest.mark.parametrize("fast_share", [None, 0.0, 0.3])
def test_lag_hours_from_uniforms_follow_lag_survival(fast_share):
    cfg = world(fast_share=fast_share)
    model = ResponseModel(cfg)
    rng = np.random.default_rng(SEED)
    n = 200_000
    for s in range(len(cfg.segments)):
        seg = np.full(n, s, np.int64)
        lag = model.lag_hours(seg, rng.random(n))
        assert lag.shape == (n,) and np.all(lag >= 0) and np.all(np.isfinite(lag))
        for h in HOURS:
            emp = float((lag > h).mean())
            exp = float(model.lag_survival(np.array([s]), h)[0])
            assert abs(emp - exp) < 5 * np.sqrt(max(exp * (1 - exp), 1e-6) / n), (cfg.segments[s].name, h, emp, exp)


def test_lag_without_fast_mode_has_the_segment_median():
    cfg = world(fast_share=0.0)
    model = ResponseModel(cfg)
    u = np.random.default_rng(SEED).random(100_001)
    for s, seg in enumerate(cfg.segments):
        med = np.median(model.lag_hours(np.full(u.size, s, np.int64), u))
        assert med == pytest.approx(seg.lag_median_h, rel=0.02)


def test_lag_survival_is_a_survival_function_with_a_tail_past_30_days():
    cfg = Config().world
    model = ResponseModel(cfg)
    segs = np.arange(len(cfg.segments))
    hours = np.array(HOURS)
    surv = np.stack([model.lag_survival(segs, h) for h in hours], axis=1)  # (segments, hours)
    assert np.all(np.diff(surv, axis=1) <= 0)
    assert np.all(model.lag_survival(segs, 0.0) == pytest.approx(1.0))
    assert np.all(model.lag_survival(segs, 30 * 24.0) > 0), "purchases must have a long tail past 30 days"
    # and draws reach it: the segment with the heaviest tail produces lags beyond 30 days
    heavy = int(np.argmax(model.lag_survival(segs, 30 * 24.0)))
    lag = model.lag_hours(np.full(200_000, heavy, np.int64), np.random.default_rng(SEED).random(200_000))
    assert (lag > 30 * 24).sum() > 0
