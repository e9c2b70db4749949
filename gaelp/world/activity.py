"""When people are reachable: each day's ad opportunities per person and channel.

At the start of a day every person's number of opportunities is a Poisson draw whose rate is the
sum over channels of rates set by segment, journey stage (as it stands after the night's organic
pass), channel, weekday and season; each opportunity then falls on a channel in proportion to the
channel rates (Poisson splitting: the same law as independent draws per channel) and on an hour by
the hour-of-day profile. Every draw is counter-based on (person, k-th opportunity, day), so a
person's opportunities depend on nothing but that person's own journey: a counterfactual run
changes only the people an ad touched. Most people have no opportunity on a given day, and that
is settled with one comparison per person.

Each opportunity has a key, `person * MAX_PER_DAY + k`, that names it in all later draws (clicks,
purchases), again independent of everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gaelp.config import WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.population import Population
from gaelp.world.temporal import Calendar

MAX_PER_DAY = 8  # opportunities per person and day are capped here (P(more) is negligible)
_LUT = 1 << 16  # resolution of the hour-of-day inverse CDF table


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
    above = u > p
    if above.all():  # the caller kept only those with at least one: skip the copies
        idx, cdf, term, uu, lm = np.arange(u.size), p, p, u, lam
    else:
        idx = np.flatnonzero(above)
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


def day_uniforms(crng: CounterRng, people: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent counter-based uniforms per person for `day` from one hash (32 bits each):
    one for the night's organic events, one for the day's opportunities."""
    bits = crng.bits(people, day, Purpose.SCHEDULE)
    organic = (bits >> np.uint64(32)).astype(np.float64) * 2.0**-32
    sched = (bits & np.uint64(0xFFFFFFFF)).astype(np.float64) * 2.0**-32
    return organic, sched


class Activity:
    """Draws each day's opportunities from the people's segments and stages."""

    def __init__(self, cfg: WorldConfig, pop: Population, calendar: Calendar, crng: CounterRng) -> None:
        self.pop = pop
        self.calendar = calendar
        self.crng = crng
        self.n_channels = len(cfg.channels)
        act = np.array([s.activity for s in cfg.segments], dtype=np.float64)  # (S, C)
        stage_act = np.array([c.stage_activity for c in cfg.channels], dtype=np.float64)  # (C, stages)
        rate = np.array([c.rate for c in cfg.channels])
        # rate_table[s * n_stages + stage, c]: opportunities per day on an average day
        self.rate_table = (rate[None, None, :] * act[:, None, :] * stage_act.T[None, :, :]).reshape(-1, self.n_channels)
        total = self.rate_table.sum(axis=1, keepdims=True)
        self.channel_cdf = np.cumsum(self.rate_table / np.where(total > 0, total, 1.0), axis=1)
        self._channel_cut = np.ascontiguousarray(self.channel_cdf.T)  # one 1-D table per channel cut
        intent = np.array(cfg.journey.intent_by_stage, dtype=np.float64)
        self.intent_cdf = np.cumsum(intent / intent.sum(axis=1, keepdims=True), axis=1)
        self.search = [i for i, c in enumerate(cfg.channels) if c.name == "search"]
        self._people = np.arange(pop.size, dtype=np.int64)
        self._seg_code = pop.segment.astype(np.int32) * stage_act.shape[1]
        # inverse CDF of the hour of day as a lookup table: hour = lut[floor(u * _LUT)]
        self._hour_lut = np.minimum(np.searchsorted(calendar.hour_cdf, (np.arange(_LUT) + 0.5) / _LUT,
                                                    side="right"), 23).astype(np.int16)

    def schedule(self, day: int, stage: np.ndarray, u: np.ndarray) -> DaySchedule:
        """Draw the opportunities of `day` for people at `stage` (their stage at the day's start).

        Args:
            day: the simulated day.
            stage: (n,) every person's stage.
            u: (n,) every person's counter-based uniform for this draw (see `day_uniforms`).
        """
        pop = self.pop
        code = self._seg_code + stage  # (segment, stage) of every person: one small-table index
        lam = self.rate_table.sum(axis=1) * self.calendar.day_multiplier(day)
        busy = np.flatnonzero(u >= np.exp(-lam)[code])  # the people with any opportunity today
        count = poisson_from_uniform(u[busy], lam[code[busy]], MAX_PER_DAY)
        person = np.repeat(busy, count)
        # k-th opportunity of a person: position within its run of repeats
        pos = np.arange(person.size)
        ends = np.cumsum(count[count > 0])
        k = pos - np.repeat(ends - count[count > 0], count[count > 0])
        key = person * MAX_PER_DAY + k
        pc = code[person]
        uc = self.crng.uniform(key, day, Purpose.OPP_CHANNEL)
        channel = np.zeros(uc.size, np.int8)
        for c in range(self.n_channels - 1):
            channel += uc >= self._channel_cut[c][pc]
        # one uniform gives the hour (16 bits), the minute and the device (the bits left over)
        ut = self.crng.uniform(key, day, Purpose.OPP_TIME) * _LUT
        cell = ut.astype(np.int64)
        hour = self._hour_lut[cell]
        rest = (ut - cell) * 60
        minute = hour * 60 + rest.astype(np.int16)
        device = pop.device_offset[person] + ((rest % 1.0) * pop.n_devices[person]).astype(np.int64)
        order = np.argsort(minute, kind="stable")
        bounds = np.searchsorted(minute[order], np.arange(0, 24 * 60 + 1, 60, dtype=np.int16))
        return DaySchedule(day, key[order], person[order], device[order], channel[order], bounds)

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
