"""How journeys move: ad exposures, organic drift, crises, lapses and purchases.

Stage moves caused by ads use counter-based uniforms keyed to the impression; the daily organic
pass uses one counter-based uniform per person and day, split into disjoint intervals (at most one
organic event per person per day), so a counterfactual run changes only what ads changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from gaelp.config import WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.population import JourneyState, Population, Stage, can_buy, people_where

ACTIVE = (Stage.AWARE, Stage.CONSIDERING, Stage.INTENT)
# Plain ints for array code: reading an enum member is a Python-level call in Python 3.11, and numpy takes an
# IntEnum for an int64 array, so `int8_stages >= Stage.AWARE` casts every stage to int64 first (10x the time)
_UNAWARE, _AWARE, _CONSIDERING, _INTENT, _LAPSED = (int(s) for s in (Stage.UNAWARE, Stage.AWARE, Stage.CONSIDERING,
                                                                     Stage.INTENT, Stage.LAPSED))
_ADVANCE, _CLICK_DEPTH = int(Purpose.ADVANCE), int(Purpose.CLICK_DEPTH)
_ONE32 = np.float32(1.0)


Draw = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
"""draw(rows, keys, purpose): counter uniforms of the hour's impressions `rows`, keyed by `keys`."""


class Exposures(NamedTuple):
    """An hour's impressions that move journeys (`JourneyModel.expose`'s arguments after the day), (k,) each."""

    key: np.ndarray
    person: np.ndarray
    advertiser: np.ndarray
    channel: np.ndarray
    clicked: np.ndarray
    stage_now: np.ndarray
    creative: np.ndarray


class JourneyModel:
    """Stage dynamics of the world config; `brand_base` holds each advertiser's unaided weight."""

    def __init__(self, cfg: WorldConfig, brand_base: np.ndarray, crng: CounterRng) -> None:
        j = cfg.journey
        self.crng = crng
        self.advance = np.asarray(j.advance)
        self.click_to_intent = j.click_to_intent
        self.brand_impression = np.float32(j.brand_impression)
        # a click's brand memory scales with how purposeful clicks on that channel are (cvr_mult):
        # a search click is a visit, a display click is often an accident
        self.brand_click = (j.brand_click * np.array([c.cvr_mult for c in cfg.channels])).astype(np.float32)
        self.decay = np.float32(j.exposure_decay)
        self.lapse_h = 24 * j.lapse_days
        self.brand_base = np.asarray(brand_base, dtype=np.float64)
        self.buy_hazard = np.zeros(len(Stage))
        self.buy_hazard[:4] = j.buy_hazard
        self.drop_out = np.zeros(len(Stage))
        self.drop_out[:4] = j.drop_out
        self.crisis = np.array([s.crisis_rate for s in cfg.segments])
        self.buy_mult = np.array([s.buy_mult for s in cfg.segments])
        self.same_device = j.same_device_conversion
        # organic stage move probability by stage
        self.move = np.zeros(len(Stage))
        self.move[Stage.UNAWARE] = j.word_of_mouth
        self.move[Stage.AWARE] = j.organic_consider
        self.move[Stage.LAPSED] = j.word_of_mouth
        # the widths of `_event_cuts`' intervals that do not change by day, (segments, stages) each: move,
        # crisis, drop out (built once, not in a dozen small numpy calls every day)
        stage = np.arange(len(Stage))
        shape = (self.crisis.size, len(Stage))
        self._widths = (np.broadcast_to(self.move[None, :], shape),
                        np.where((can_buy(stage) & (stage != _INTENT))[None, :], self.crisis[:, None], 0.0),
                        np.broadcast_to(self.drop_out[None, :], shape))
        self._code_pop: Population | None = None
        self._code_cache = np.empty(0, np.int32)

    def expose(self, state: JourneyState, t: int, day: int, key: np.ndarray, person: np.ndarray,
               advertiser: np.ndarray, channel: np.ndarray, clicked: np.ndarray,
               stage_now: np.ndarray | None = None, creative: np.ndarray | None = None,
               draw: Draw | None = None) -> None:
        """Apply impressions (one row each) to the people who saw them.

        Args:
            key: (k,) counter keys of the impressions (schedule serial x 8 + slot).
            person, advertiser, channel: (k,) integer arrays.
            clicked: (k,) bool.
            stage_now: (k,) int8 `state.stage[person]`, if the caller already has it.
            creative: (k,) the creative shown (creative fatigue), if the world has creatives.
            draw: draw(rows, keys, purpose), the uniforms of impressions `rows` (whose keys are `keys`) on
                `day`; default this world's `crng.uniform(keys, day, purpose)` (a batch of worlds draws each
                row as its world's, `gaelp.world.batched_journeys`).
        """
        if person.size == 0:
            return
        flat = person * state.seen.shape[1] + advertiser
        np.add.at(state.seen.reshape(-1), flat, _ONE32)
        if creative is not None:
            per_adv = state.seen_creative.shape[1] // state.seen.shape[1]
            np.add.at(state.seen_creative.reshape(-1), flat * per_adv + creative, _ONE32)
        np.add.at(state.brand.reshape(-1), flat, np.where(clicked, self.brand_click[channel], self.brand_impression))
        stage = state.stage
        before = stage[person] if stage_now is None else stage_now
        # Every step below is skipped when it has no rows: an hour of a small world has few impressions,
        # so the fixed cost of each numpy call is most of the time.
        lapsed = np.flatnonzero(before == _LAPSED)
        cur = before
        if lapsed.size:  # a touch re-engages a lapsed journey, which starts now
            re_engaged = person[lapsed]
            stage[re_engaged] = _AWARE
            state.journey_start[re_engaged] = t
            cur = before.copy()
            cur[lapsed] = _AWARE
        # an impression may move a journey below INTENT one stage on (draws for those rows only)
        prop = cur.copy()
        can = np.flatnonzero(cur < _INTENT)
        if can.size:
            prop[can] += (self.crng.uniform(key[can], day, _ADVANCE) if draw is None else
                          draw(can, key[can], _ADVANCE)) < self.advance[channel[can]]
        # a click takes the person at least to CONSIDERING, and deeper with some probability
        click = np.flatnonzero(clicked)
        if click.size:  # most hours of a small world have none
            deep = (self.crng.uniform(key[click], day, _CLICK_DEPTH) if draw is None else
                    draw(click, key[click], _CLICK_DEPTH)) < self.click_to_intent
            prop[click] = np.maximum(prop[click], np.where(deep, _INTENT, _CONSIDERING))
        # rows that raise a stage: prop exceeds INTENT only where cur does (CONVERTED, LOST), never above cur
        up = np.flatnonzero(prop > cur)
        if up.size:
            np.maximum.at(stage, person[up], prop[up])
            # journeys that start now: unaware people who moved (re-engaged lapsed ones are set above)
            state.journey_start[person[up[before[up] == _UNAWARE]]] = t
        state.last_activity[person] = t

    def daily(self, state: JourneyState, pop: Population, day: int, day_mult: float, u: np.ndarray) -> np.ndarray:
        """The organic pass at the start of `day`: lapses, drift, crises, drop-outs, memory decay.

        One counter-based uniform per person picks at most one event from disjoint intervals
        `move | crisis | buy | drop out | nothing`, whose widths depend on (segment, stage) only, so
        they come from a small table.

        Args:
            u: (n,) every person's counter-based uniform for today's organic event.

        Returns:
            (b,) int64 people who decide today to buy (brand chosen by `choose_brand`).
        """
        t0 = day * 24
        stage = state.stage
        # ACTIVE is the run of stages AWARE .. INTENT: two comparisons rather than a lookup per person.
        # Selections use flatnonzero / np.compress: much faster than boolean indexing at these densities
        idle = (state.last_activity < t0 - self.lapse_h) & (stage >= _AWARE) & (stage <= _INTENT)
        stage[np.flatnonzero(idle)] = _LAPSED
        state.seen *= self.decay
        state.seen_creative *= self.decay
        state.brand *= self.decay
        cuts = self._event_cuts(day_mult)  # (4, segments, stages) cumulative interval ends
        who = people_where(np.less, u, cuts[3], pop, stage)  # the few with an event today
        c, uw = self._seg_code(pop)[who] + stage[who], u[who]
        flat = cuts.reshape(4, -1)
        event = (uw >= flat[0][c]).astype(np.int8) + (uw >= flat[1][c]) + (uw >= flat[2][c])
        move, crisis, buy, drop = (np.compress(event == e, who) for e in range(4))
        started = np.concatenate([move, crisis])
        was = stage[started]
        state.journey_start[np.compress((was == _UNAWARE) | (was == _LAPSED), started)] = t0
        was = was[:move.size]
        stage[move] = np.where(was == _LAPSED, _AWARE, was + 1)
        stage[crisis] = _INTENT
        stage[drop] = _LAPSED
        state.last_activity[started] = t0
        return buy

    def _event_cuts(self, day_mult: float) -> np.ndarray:
        """(4, segments, stages) ends of the event intervals move | crisis | buy | drop out, from 0."""
        p_move, p_crisis, p_drop = self._widths
        p_buy = self.buy_hazard[None, :] * self.buy_mult[:, None] * day_mult
        return np.cumsum(np.stack([p_move, p_crisis, p_buy, p_drop]), axis=0)

    def _seg_code(self, pop: Population) -> np.ndarray:
        """(n,) intp segment * n_stages of every person (add the stage for a (segment, stage) code)."""
        if self._code_pop is not pop:
            self._code_pop, self._code_cache = pop, np.asarray(pop.segment.astype(np.intp) * len(Stage))
        return self._code_cache

    def choose_brand(self, state: JourneyState, person: np.ndarray, day: int) -> np.ndarray:
        """Which advertiser each organic buyer picks: unaided brand weight plus ad memory."""
        w = self.brand_base[None, :] + state.brand[person]
        cdf = np.cumsum(w, axis=1)
        u = self.crng.uniform(person, day, Purpose.BRAND) * cdf[:, -1]
        return (u[:, None] >= cdf[:, :-1]).sum(axis=1).astype(np.int16)
