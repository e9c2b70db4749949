"""Tests for gaelp.world.batched_journeys: a batch's people moved at once, each world as alone."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.rng import CounterRng, WorldsRng
from gaelp.world.batched_journeys import WorldsJourneys
from gaelp.world.journey import Exposures, JourneyModel
from gaelp.world.population import JourneyState
from tests.world.test_journey import N_ADV, random_impressions, random_state, world

N_PEOPLE, SEEDS, N_CREATIVES = 300, (7, 8, 9), 2


def _states(seed: int) -> list[JourneyState]:
    out = []
    for w in range(len(SEEDS)):
        st = random_state(N_PEOPLE, seed=seed + w)
        st.seen_creative = np.random.default_rng(w).random((N_PEOPLE, N_ADV * N_CREATIVES)).astype(np.float32)
        out.append(st)
    return out


def _exposures(t: int, w: int) -> Exposures:
    """World w's impressions of hour t: people seen more than once, clicks, none in some hours."""
    k = 0 if (t + w) % 5 == 0 else 200 + 40 * w
    key, person, adv, channel, clicked = random_impressions(N_PEOPLE, k, seed=t * 10 + w)
    creative = np.random.default_rng(t + w).integers(0, N_CREATIVES, k)
    return Exposures(key, person, adv, channel, clicked, np.zeros(k, np.int8), creative)


@pytest.mark.parametrize("seed", [1, 2])
def test_worlds_journeys_move_each_world_as_alone(seed):
    cfg = world()
    alone, batched = _states(seed), _states(seed)
    models = [JourneyModel(cfg, np.array([0.5, 1.0, 0.25]), CounterRng(s)) for s in SEEDS]
    people = WorldsJourneys(batched, models[0], WorldsRng(SEEDS))
    for t in range(30, 42):
        hour = []
        for w, (m, st) in enumerate(zip(models, alone, strict=True)):
            e = _exposures(t, w)
            e = e._replace(stage_now=st.stage[e.person].copy())
            m.expose(st, t, t // 24, *e)
            hour.append(e._replace(stage_now=batched[w].stage[e.person].copy()))
        if t == 35:  # a world restored from a checkpoint (new arrays) is followed
            batched[1].load_state_dict(batched[1].state_dict())
        people.expose(t, np.repeat(np.arange(len(SEEDS)), [e.person.size for e in hour]),
                      Exposures(*(np.concatenate(f) for f in zip(*hour, strict=True))))
        for w, (a, b) in enumerate(zip(alone, batched, strict=True)):
            for name in a.arrays:
                assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), (t, w, name)
    assert people.array("stage").base is not None  # the batch's view of the worlds' own arrays
    assert len({a.stage.tobytes() for a in alone}) == len(SEEDS)  # the worlds differ


def test_worlds_journeys_refuse_worlds_of_different_sizes():
    states = [JourneyState.fresh(10, N_ADV), JourneyState.fresh(11, N_ADV)]
    with pytest.raises(ValueError, match="same number of people"):
        WorldsJourneys(states, JourneyModel(world(), np.ones(N_ADV), CounterRng(0)), WorldsRng([0, 1]))
