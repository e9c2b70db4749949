"""How journeys move: ad exposures, organic drift, crises, lapses and purchases.

Stage moves caused by ads use counter-based uniforms keyed to the impression; the daily organic
pass uses one counter-based uniform per person and day, split into disjoint intervals (at most one
organic event per person per day), so a counterfactual run changes only what ads changed.
"""

from __future__ import annotations

import numpy as np

from gaelp.config import WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.population import JourneyState, Population, Stage

ACTIVE = (Stage.AWARE, Stage.CONSIDERING, Stage.INTENT)


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
        self._active = np.isin(np.arange(len(Stage)), ACTIVE)
        self._code_pop: Population | None = None
        self._code_cache = np.empty(0, np.int32)

    def expose(self, state: JourneyState, t: int, day: int, key: np.ndarray, person: np.ndarray,
               advertiser: np.ndarray, channel: np.ndarray, clicked: np.ndarray) -> None:
        """Apply impressions (one row each) to the people who saw them.

        Args:
            key: (k,) counter keys of the impressions (schedule serial x 8 + slot).
            person, advertiser, channel: (k,) integer arrays.
            clicked: (k,) bool.
        """
        if person.size == 0:
            return
        n_adv = state.seen.shape[1]
        flat = person * n_adv + advertiser
        np.add.at(state.seen.reshape(-1), flat, np.float32(1.0))
        np.add.at(state.brand.reshape(-1), flat, np.where(clicked, self.brand_click[channel], self.brand_impression))
        stage = state.stage
        before = stage[person]
        was_lapsed = before == Stage.LAPSED
        stage[person[was_lapsed]] = Stage.AWARE  # a touch re-engages a lapsed journey
        cur = np.where(was_lapsed, np.int8(Stage.AWARE), before)
        open_ = cur <= Stage.INTENT
        u = self.crng.uniform(key, day, Purpose.ADVANCE)
        prop = np.where(u < self.advance[channel], cur + 1, cur)
        # a click takes the person at least to CONSIDERING, and deeper with some probability
        click = np.flatnonzero(clicked)
        deep = self.crng.uniform(key[click], day, Purpose.CLICK_DEPTH) < self.click_to_intent
        prop[click] = np.maximum(prop[click], np.where(deep, Stage.INTENT, Stage.CONSIDERING))
        prop = np.minimum(prop, Stage.INTENT).astype(np.int8)
        np.maximum.at(stage, person[open_], prop[open_])
        state.last_activity[person] = t
        dormant = (before == Stage.UNAWARE) | (before == Stage.LAPSED)
        started = person[dormant & (stage[person] != before)]
        state.journey_start[started] = t

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
        idle = (state.last_activity < t0 - self.lapse_h) & self._active[stage]
        stage[idle] = Stage.LAPSED
        state.seen *= self.decay
        state.brand *= self.decay
        code = self._seg_code(pop) + stage
        cuts = self._event_cuts(day_mult)  # (4, segments * stages) cumulative interval ends
        who = np.flatnonzero(u < cuts[3][code])  # the few with an event today
        c, uw = code[who], u[who]
        event = (uw >= cuts[0][c]).astype(np.int8) + (uw >= cuts[1][c]) + (uw >= cuts[2][c])
        move, crisis, buy, drop = (who[event == e] for e in range(4))
        started = np.concatenate([move, crisis])
        dormant = started[(stage[started] == Stage.UNAWARE) | (stage[started] == Stage.LAPSED)]
        state.journey_start[dormant] = t0
        stage[move] = np.where(stage[move] == Stage.LAPSED, Stage.AWARE, stage[move] + 1)
        stage[crisis] = Stage.INTENT
        stage[drop] = Stage.LAPSED
        state.last_activity[started] = t0
        return buy

    def _event_cuts(self, day_mult: float) -> np.ndarray:
        stage = np.arange(len(Stage))
        open_ = (stage <= Stage.INTENT) | (stage == Stage.LAPSED)
        p_move = np.broadcast_to(self.move[None, :], (self.crisis.size, len(Stage)))
        p_crisis = np.where((open_ & (stage != Stage.INTENT))[None, :], self.crisis[:, None], 0.0)
        p_buy = self.buy_hazard[None, :] * self.buy_mult[:, None] * day_mult
        p_drop = np.broadcast_to(self.drop_out[None, :], p_move.shape)
        return np.cumsum(np.stack([p_move, p_crisis, p_buy, p_drop]), axis=0).reshape(4, -1)

    def _seg_code(self, pop: Population) -> np.ndarray:
        if self._code_pop is not pop:
            self._code_pop, self._code_cache = pop, pop.segment.astype(np.int32) * len(Stage)
        return self._code_cache

    def choose_brand(self, state: JourneyState, person: np.ndarray, day: int) -> np.ndarray:
        """Which advertiser each organic buyer picks: unaided brand weight plus ad memory."""
        w = self.brand_base[None, :] + state.brand[person]
        cdf = np.cumsum(w, axis=1)
        u = self.crng.uniform(person, day, Purpose.BRAND) * cdf[:, -1]
        return (u[:, None] >= cdf[:, :-1]).sum(axis=1).astype(np.int16)
