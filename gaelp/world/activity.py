"""When people are reachable: each day's candidate ad opportunities, thinned hour by hour.

A day's candidates are drawn once, at the highest rate a person of that segment could have on that
channel (any stage), from the `schedule` stream: nothing an ad does can change them. Each hour, a
candidate becomes a real opportunity with probability rate(current stage) / max rate, decided by a
counter-based uniform. That is exact thinning of a non-homogeneous Poisson process, and it keeps the
draws of every candidate fixed across counterfactual runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaelp.config import WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.population import Population
from gaelp.world.temporal import Calendar

MINUTES = 24 * 60


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """A day's candidate opportunities, sorted by minute of day.

    Attributes:
        day: the simulated day.
        person: (m,) int64.
        device: (m,) int64 device id used.
        channel: (m,) int8 channel index.
        hour_bounds: (25,) int64: candidates of hour h are rows hour_bounds[h]:hour_bounds[h+1].
    """

    day: int
    person: np.ndarray
    device: np.ndarray
    channel: np.ndarray
    hour_bounds: np.ndarray


class Activity:
    """Draws candidate opportunities and thins them by journey stage."""

    def __init__(self, cfg: WorldConfig, pop: Population, calendar: Calendar, crng: CounterRng) -> None:
        self.pop = pop
        self.calendar = calendar
        self.crng = crng
        stage_act = np.array([c.stage_activity for c in cfg.channels], dtype=np.float64)
        self.max_stage = stage_act.max(axis=1)
        # accept[c, stage]: chance a candidate on channel c is real for a person at `stage`.
        self.accept = stage_act / self.max_stage[:, None]
        act = np.array([s.activity for s in cfg.segments], dtype=np.float64)  # (S, C)
        rate = np.array([c.rate for c in cfg.channels])
        self.max_rate = act * rate[None, :] * self.max_stage[None, :]  # (S, C) per person per day
        self.n_channels = len(cfg.channels)
        intent = np.array(cfg.journey.intent_by_stage, dtype=np.float64)
        self.intent_cdf = np.cumsum(intent / intent.sum(axis=1, keepdims=True), axis=1)
        self.search = [i for i, c in enumerate(cfg.channels) if c.name == "search"]

    def schedule(self, day: int, rng: np.random.Generator) -> DaySchedule:
        """Draw the candidates of `day` (independent of everything ads do)."""
        pop = self.pop
        sizes = np.diff(pop.segment_offsets)
        lam = sizes[:, None] * self.max_rate * self.calendar.day_multiplier(day)  # (S, C)
        counts = rng.poisson(lam)
        seg_of = np.repeat(np.arange(lam.size), counts.ravel())
        s_idx, c_idx = np.divmod(seg_of, self.n_channels)
        m = seg_of.size
        person = pop.segment_offsets[s_idx] + (rng.random(m) * sizes[s_idx]).astype(np.int64)
        hour = np.searchsorted(self.calendar.hour_cdf, rng.random(m), side="right")
        minute = (hour * 60 + (rng.random(m) * 60).astype(np.int64)).astype(np.int16)
        device = pop.device_offset[person] + (rng.random(m) * pop.n_devices[person]).astype(np.int64)
        order = np.argsort(minute, kind="stable")
        bounds = np.searchsorted(minute[order], np.arange(0, MINUTES + 1, 60, dtype=np.int16))
        return DaySchedule(day, person[order], device[order], c_idx[order].astype(np.int8), bounds)

    def thin(self, sched: DaySchedule, hour: int, stage: np.ndarray) -> np.ndarray:
        """Rows of `sched` in `hour` that become real opportunities given the current stages.

        Returns:
            (k,) int64 row indices into the schedule (their serials).
        """
        lo, hi = int(sched.hour_bounds[hour]), int(sched.hour_bounds[hour + 1])
        rows = np.arange(lo, hi, dtype=np.int64)
        p = self.accept[sched.channel[lo:hi], stage[sched.person[lo:hi]]]
        u = self.crng.uniform(rows, sched.day, Purpose.ACCEPT)
        return rows[u < p]

    def query_intent(self, serial: np.ndarray, day: int, channel: np.ndarray, stage: np.ndarray) -> np.ndarray:
        """Query intent level per opportunity: 0 informational, 1 category, 2 purchase.

        Only search has a query; other channels get the neutral level 1.
        """
        intent = np.ones(serial.shape[0], dtype=np.int8)
        for c in self.search:
            m = channel == c
            if m.any():
                u = self.crng.uniform(serial[m], day, Purpose.INTENT)
                cdf = self.intent_cdf[stage[m]]
                intent[m] = (u[:, None] >= cdf[:, :-1]).sum(axis=1)
        return intent
