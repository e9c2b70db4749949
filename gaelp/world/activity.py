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

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from gaelp.config import WorldConfig
from gaelp.rng import CounterRng, Purpose
from gaelp.world.population import Population, people_where
from gaelp.world.temporal import Calendar

_KEY_SHIFT = 3
MAX_PER_DAY = 1 << _KEY_SHIFT  # opportunities per person and day are capped here (P(more) is negligible)
_LUT = 1 << 16  # resolution of the hour-of-day inverse CDF table
_LOW37 = np.uint64((1 << 37) - 1)
_INTENT = int(Purpose.INTENT)  # reading an enum member is a Python-level call in Python 3.11: once, here


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


def poisson_cdf(lam: np.ndarray, cap: int) -> np.ndarray:
    """The Poisson CDF at 0 .. cap-1, summed term by term (the sums that `poisson_from_uniform` compares).

    Args:
        lam: (n,) float64 rates.
        cap: number of points.

    Returns:
        (cap, n) float64: row k is P(N <= k) as the float sum exp(-lam) * (1 + lam + ... + lam^k / k!),
        non-decreasing down the rows.
    """
    lam = np.asarray(lam, dtype=np.float64)
    cdf = np.empty((cap, lam.size))
    if cap:
        term = np.exp(-lam)
        cdf[0] = term
        for k in range(1, cap):
            term = term * lam / k
            cdf[k] = cdf[k - 1] + term
    return cdf


def _counts(u: np.ndarray, code: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws `#{k : u > cdf[k, code]}` (at most cdf.shape[0]), for uniforms `u` that all
    exceed `cdf[0, code]`: each level looks only at the draws that passed the one before."""
    count = np.ones(u.size, np.int64)
    idx = np.flatnonzero(u > cdf[1][code]) if cdf.shape[0] > 1 else np.empty(0, np.int64)
    for k in range(2, cdf.shape[0] + 1):
        if not idx.size:
            break
        count[idx] = k
        if k < cdf.shape[0]:
            idx = np.compress(u[idx] > cdf[k][code[idx]], idx)
    return count


def poisson_from_uniform(u: np.ndarray, lam: np.ndarray, cap: int) -> np.ndarray:
    """Inverse-CDF Poisson draws, capped at `cap`: the number of k < cap with u > P(N <= k).

    Args:
        u: (n,) uniforms in [0, 1).
        lam: (n,) rates.
        cap: the largest count.

    Returns:
        (n,) int64.
    """
    count = np.zeros(u.shape, np.int64)
    if cap == 0:
        return count
    cdf = poisson_cdf(lam, cap)
    some = np.flatnonzero(u > cdf[0])
    count[some] = _counts(u[some], some, cdf)
    return count


def _split_uniforms(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(high 32 bits, low 32 bits) of each uint64 as uniforms k * 2**-32: exact, read as uint32 halves."""
    halves = bits.view(np.uint32).reshape(-1, 2)
    high = 1 if sys.byteorder == "little" else 0
    organic = halves[:, high].astype(np.float64)
    organic *= 2.0**-32
    sched = halves[:, 1 - high].astype(np.float64)
    sched *= 2.0**-32
    return organic, sched


def day_uniforms(crng: CounterRng, people: np.ndarray, day: int) -> tuple[np.ndarray, np.ndarray]:
    """Two independent counter-based uniforms per person for `day` from one hash (32 bits each):
    one for the night's organic events, one for the day's opportunities.

    `Activity.day_uniforms` gives the same for everyone, faster.

    Returns:
        (organic, schedule), each (n,) float64 in [0, 1).
    """
    return _split_uniforms(crng.bits(people, day, Purpose.SCHEDULE))


@lru_cache(maxsize=8)
def _hour_lut(hour_cdf: tuple[float, ...]) -> np.ndarray:
    """(_LUT,) int16 read-only: the inverse CDF of the hour of day as a lookup table, hour = lut[floor(u * _LUT)];
    built once per profile (every world of a config shares it)."""
    lut = np.minimum(np.searchsorted(np.array(hour_cdf), (np.arange(_LUT) + 0.5) / _LUT, side="right"),
                     23).astype(np.int16)
    lut.flags.writeable = False
    return lut


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
        # the channel is the number of cuts at or below its uniform uc = (bits >> 11) * 2**-53, and
        # uc >= cut <=> (bits >> 11) >= ceil(cut * 2**53): integer tables, so no float uniform is needed
        self._channel_cut = np.ceil(np.minimum(self.channel_cdf.T, 2.0) * 2.0**53).astype(np.uint64)
        intent = np.array(cfg.journey.intent_by_stage, dtype=np.float64)
        self.intent_cdf = np.cumsum(intent / intent.sum(axis=1, keepdims=True), axis=1)
        # one 1-D table per level boundary, each indexed by stage (a tuple: no view to make per hour)
        self._intent_cut = tuple(np.ascontiguousarray(self.intent_cdf[:, :-1].T))
        self.search = [i for i, c in enumerate(cfg.channels) if c.name == "search"]
        self._people = np.arange(pop.size, dtype=np.int64)
        self._n_devices = pop.n_devices.astype(np.uint64)  # the device slot is integer arithmetic on hash bits
        self._n_stages = stage_act.shape[1]
        self._seg_code = pop.segment.astype(np.intp) * self._n_stages
        self._day_key = crng.prepare(self._people, Purpose.SCHEDULE)  # the day-independent half of the hash
        self._hour_lut = _hour_lut(tuple(calendar.hour_cdf.tolist()))

    def day_uniforms(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """`day_uniforms(crng, every person, day)`, from the hash keys prepared once."""
        return _split_uniforms(self.crng.bits_prepared(self._day_key, day))

    def schedule(self, day: int, stage: np.ndarray, u: np.ndarray) -> DaySchedule:
        """Draw the opportunities of `day` for people at `stage` (their stage at the day's start).

        Args:
            day: the simulated day.
            stage: (n,) every person's stage.
            u: (n,) every person's counter-based uniform for this draw (see `day_uniforms`).
        """
        pop = self.pop
        # P(count <= k) by (segment, stage) code; the people with any opportunity today have u > P(0)
        cdf = poisson_cdf(self.rate_table.sum(axis=1) * self.calendar.day_multiplier(day), MAX_PER_DAY)
        busy = people_where(np.greater, u, cdf[0].reshape(-1, self._n_stages), pop, stage)
        busy_code = self._seg_code[busy] + stage[busy]
        count = _counts(u[busy], busy_code, cdf)
        # opportunity keys person * MAX_PER_DAY + k, k = 0 .. count - 1: they step by one within a person's
        # run and jump between runs, so they are the cumulative sum of those steps
        step = np.ones(int(count.sum()), np.int64)
        if busy.size:
            step[0] = busy[0] * MAX_PER_DAY
            step[(np.cumsum(count) - count)[1:]] = np.diff(busy) * MAX_PER_DAY - count[:-1] + 1
        key = np.cumsum(step)
        person = key >> _KEY_SHIFT  # = key // MAX_PER_DAY
        pc = np.repeat(busy_code, count)
        bits = self.crng.bits(key, day, Purpose.OPP_CHANNEL) >> np.uint64(11)
        channel = np.zeros(key.size, np.int8)
        for c in range(self.n_channels - 1):
            channel += bits >= self._channel_cut[c][pc]
        # one uniform gives the hour (16 bits), the minute and the device (the bits left over). With
        # u = (bits >> 11) * 2**-53, u * _LUT = cell + x * 2**-37 exactly (x: the 37 bits below the cell),
        # and x * 60 < 2**43, so the minute and the fraction of a minute are exact integer shifts and masks
        bits = self.crng.bits(key, day, Purpose.OPP_TIME)
        hour = self._hour_lut[(bits >> np.uint64(48)).view(np.int64)]
        x60 = ((bits >> np.uint64(11)) & _LOW37) * np.uint64(60)
        minute = hour * np.int16(60) + (x60 >> np.uint64(37)).astype(np.int16)
        # device slot floor(frac * n_devices), frac = (x60 & _LOW37) * 2**-37
        slot = ((x60 & _LOW37) * self._n_devices[person]) >> np.uint64(37)
        device = pop.device_offset[person] + slot.view(np.int64)
        order = np.argsort(minute, kind="stable")
        bounds = np.searchsorted(minute[order], np.arange(0, 24 * 60 + 1, 60, dtype=np.int16))
        key = key[order]
        return DaySchedule(day, key, key >> _KEY_SHIFT, device[order], channel[order], bounds)

    def query_intent(self, key: np.ndarray, day: int, channel: np.ndarray, stage: np.ndarray,
                     draw: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        """Query intent level per opportunity: 0 informational, 1 category, 2 purchase.

        Only search has a query; other channels get the neutral level 1.

        Args:
            draw: draw(rows, keys) -> the uniforms of opportunities `rows` (keys `key[rows]`) for their intent
                on `day`; None: this world's own counter draws (a batch of worlds draws each row as its world).
        """
        intent = np.ones(key.shape[0], dtype=np.int8)
        for c in self.search:
            rows = np.flatnonzero(channel == c)
            if rows.size:
                u = self.crng.uniform(key[rows], day, _INTENT) if draw is None else draw(rows, key[rows])
                st = stage[rows]
                cut0, *cuts = self._intent_cut
                level = (u >= cut0[st]).astype(np.int8)
                for cut in cuts:
                    level += u >= cut[st]
                intent[rows] = level
        return intent
