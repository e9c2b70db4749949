"""When people are reachable: each day's ad opportunities per person and channel.

At the start of a day every person's number of opportunities on each channel is a Poisson draw with
a rate set by segment, journey stage (as it stands after the night's organic pass), channel, weekday
and season; the hour follows the hour-of-day profile. Every draw is counter-based on (person,
channel, k-th opportunity, day), so a person's opportunities depend on nothing but that person's own
journey: a counterfactual run changes only the people an ad touched.

Each opportunity has a key, `(person * n_channels + channel) * MAX_PER_DAY + k`, that names it in all
later draws (clicks, purchases), again independent of everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaelp.config import WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.population import Population
from gaelp.world.temporal import Calendar

MAX_PER_DAY = 8  # opportunities per person, channel and day are capped here (P(more) is negligible)
_BITS = 21
_MASK = np.uint64((1 << _BITS) - 1)


@dataclass(frozen=True, slots=True)
class DaySchedule:
    """A day's opportunities, sorted by minute of day.

    Attributes:
        day: the simulated day.
        key: (m,) int64 opportunity key (see module doc).
        person: (m,) int64.
        device: (m,) int64 device id used.
        channel: (m,) int8 channel index.
        hour_bounds: (25,) int64: opportunities of hour h are rows hour_bounds[h]:hour_bounds[h+1].
    """

    day: int
    key: np.ndarray
    person: np.ndarray
    device: np.ndarray
    channel: np.ndarray
    hour_bounds: np.ndarray

    def hour(self, h: int) -> slice:
        """Rows of hour `h`."""
        return slice(int(self.hour_bounds[h]), int(self.hour_bounds[h + 1]))


def poisson_from_uniform(u: np.ndarray, lam: np.ndarray, cap: int) -> np.ndarray:
    """Inverse-CDF Poisson draws, capped at `cap`, from uniforms (vectorised over the nonzero ones)."""
    p = np.exp(-lam)
    count = np.zeros(u.shape, np.int64)
    idx = np.flatnonzero(u > p)
    cdf, term, uu, lm = p[idx], p[idx], u[idx], lam[idx]
    k = 0
    while idx.size and k < cap:
        k += 1
        count[idx] = k
        term = term * lm / k
        cdf = cdf + term
        more = uu > cdf
        idx, cdf, term, uu, lm = idx[more], cdf[more], term[more], uu[more], lm[more]
    return count


class Activity:
    """Draws each day's opportunities from the people's segments and stages."""

    def __init__(self, cfg: WorldConfig, pop: Population, calendar: Calendar, crng: CounterRng) -> None:
        self.pop = pop
        self.calendar = calendar
        self.crng = crng
        self.n_channels = len(cfg.channels)
        if self.n_channels * _BITS > 64:
            raise ValueError(f"at most {64 // _BITS} channels are supported, got {self.n_channels}")
        act = np.array([s.activity for s in cfg.segments], dtype=np.float64)  # (S, C)
        stage_act = np.array([c.stage_activity for c in cfg.channels], dtype=np.float64)  # (C, stages)
        rate = np.array([c.rate for c in cfg.channels])
        # rate_table[c, s, stage]: opportunities per day on an average day
        self.rate_table = rate[:, None, None] * act.T[:, :, None] * stage_act[:, None, :]
        intent = np.array(cfg.journey.intent_by_stage, dtype=np.float64)
        self.intent_cdf = np.cumsum(intent / intent.sum(axis=1, keepdims=True), axis=1)
        self.search = [i for i, c in enumerate(cfg.channels) if c.name == "search"]

    def schedule(self, day: int, stage: np.ndarray) -> DaySchedule:
        """Draw the opportunities of `day` for people at `stage` (their stage at the day's start)."""
        pop = self.pop
        n = pop.size
        people = np.arange(n, dtype=np.int64)
        bits = self.crng.bits(people, day, Purpose.SCHEDULE)
        mult = self.calendar.day_multiplier(day)
        persons, chans = [], []
        for c in range(self.n_channels):
            u = ((bits >> np.uint64(_BITS * c)) & _MASK).astype(np.float64) * 2.0**-_BITS
            lam = self.rate_table[c][pop.segment, stage] * mult
            count = poisson_from_uniform(u, lam, MAX_PER_DAY)
            nz = np.flatnonzero(count)
            persons.append(np.repeat(nz, count[nz]))
            chans.append(np.full(persons[-1].size, c, np.int64))
        person = np.concatenate(persons)
        channel = np.concatenate(chans)
        # k-th opportunity of a (person, channel): position within its run of repeats
        base = (person * self.n_channels + channel)
        first = np.r_[True, base[1:] != base[:-1]] if base.size else np.zeros(0, bool)
        start = np.maximum.accumulate(np.where(first, np.arange(base.size), 0)) if base.size else base
        key = base * MAX_PER_DAY + (np.arange(base.size) - start)
        hour = np.searchsorted(self.calendar.hour_cdf, self.crng.uniform(key, day, Purpose.OPP_HOUR), side="right")
        hour = np.minimum(hour, 23)
        ud = self.crng.uniform(key, day, Purpose.OPP_DEVICE)
        minute = (hour * 60 + (ud * 60).astype(np.int64)).astype(np.int16)
        # the device draw reuses the fraction left over from the minute draw
        frac = ud * 60 - np.floor(ud * 60)
        device = pop.device_offset[person] + (frac * pop.n_devices[person]).astype(np.int64)
        order = np.argsort(minute, kind="stable")
        bounds = np.searchsorted(minute[order], np.arange(0, 24 * 60 + 1, 60, dtype=np.int16))
        return DaySchedule(day, key[order], person[order], device[order], channel[order].astype(np.int8), bounds)

    def query_intent(self, key: np.ndarray, day: int, channel: np.ndarray, stage: np.ndarray) -> np.ndarray:
        """Query intent level per opportunity: 0 informational, 1 category, 2 purchase.

        Only search has a query; other channels get the neutral level 1.
        """
        intent = np.ones(key.shape[0], dtype=np.int8)
        for c in self.search:
            m = channel == c
            if m.any():
                u = self.crng.uniform(key[m], day, Purpose.INTENT)
                cdf = self.intent_cdf[stage[m]]
                intent[m] = (u[:, None] >= cdf[:, :-1]).sum(axis=1)
        return intent
