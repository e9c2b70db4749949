"""Who the people are (static) and where their journeys stand (state): structures of arrays.

People are laid out contiguously by segment, so "a random person of segment s" is an offset plus an
integer draw. Every person owns 1-3 devices with global ids `device_offset[p] .. + n_devices[p] - 1`;
the advertiser only ever sees device ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from gaelp.config import WorldConfig


class Stage(IntEnum):
    """Journey stages. LAPSED: no journey activity for `lapse_days`; LOST: bought a competitor."""

    UNAWARE = 0
    AWARE = 1
    CONSIDERING = 2
    INTENT = 3
    CONVERTED = 4
    LAPSED = 5
    LOST = 6


_INTENT, _LAPSED = int(Stage.INTENT), int(Stage.LAPSED)


def can_buy(stage: np.ndarray) -> np.ndarray:
    """(n,) bool whether a person at each `stage` still buys (a journey up to INTENT, or lapsed): a purchase
    due finds its buyer open. Plain ints: numpy takes an IntEnum member for an int64 array and would cast the
    stages to int64 first."""
    return (stage <= _INTENT) | (stage == _LAPSED)


class DeviceType(IntEnum):
    """What a device is; advertisers see it (user agent)."""

    MOBILE = 0
    DESKTOP = 1


@dataclass(frozen=True, slots=True)
class Population:
    """Static attributes of `n` people and their devices.

    Attributes:
        segment: (n,) int8 segment index, non-decreasing (contiguous by segment).
        segment_offsets: (n_segments + 1,) int64 start of each segment's block.
        n_devices: (n,) int8 in 1..3.
        device_offset: (n,) int64 first device id of each person.
        device_type: (n_device_ids,) int8 `DeviceType` of every device.
        device_owner: (n_device_ids,) int64 person of every device (ground truth only).
        weight: (n_segments,) float64 importance weight of each segment's people: its share over the
            share it was drawn with (all 1 in a plain world; see `sampling_shares`).
    """

    segment: np.ndarray
    segment_offsets: np.ndarray
    n_devices: np.ndarray
    device_offset: np.ndarray
    device_type: np.ndarray
    device_owner: np.ndarray
    weight: np.ndarray

    @property
    def size(self) -> int:
        """Number of people."""
        return int(self.segment.shape[0])


def people_where(op: np.ufunc, u: np.ndarray, table: np.ndarray, pop: Population, stage: np.ndarray) -> np.ndarray:
    """The people p with `op(u[p], table[segment[p], stage[p]])`, e.g. a uniform below a rate of their
    (segment, stage).

    People are contiguous by segment, so each segment's block looks up one small row of `table`; that
    keeps the temporaries at a block's size, which is faster than one (segment, stage) index per person.

    Args:
        op: a comparison ufunc such as `np.less`.
        u: (n,) one value per person.
        table: (n_segments, n_stages) thresholds.
        pop: the population (segment blocks).
        stage: (n,) every person's stage.

    Returns:
        (k,) int64 ascending person ids.
    """
    table = np.asarray(table)
    off = pop.segment_offsets
    if table.ndim != 2 or table.shape[0] != off.size - 1:
        raise ValueError(f"table must be (n_segments={off.size - 1}, n_stages), got shape {table.shape}")
    hits = [np.empty(0, np.int64)]
    for s in range(table.shape[0]):
        lo, hi = int(off[s]), int(off[s + 1])
        row = np.take(table[s], stage[lo:hi].astype(np.intp))
        hits.append(np.flatnonzero(op(u[lo:hi], row)) + lo)
    return np.concatenate(hits)


def sampling_shares(cfg: WorldConfig) -> tuple[np.ndarray, np.ndarray]:
    """The segment shares people are drawn with, and each segment's importance weight.

    `cfg.importance` multiplies a segment's share by its factor (then all are renormalized), so a rare
    segment gets more people; each of them weighs share / drawn share, so that a sum over people keeps
    the plain world's expected value.

    Returns:
        (n_segments,) drawn shares summing to 1, (n_segments,) weights (exactly 1 without importance).
    """
    shares = np.array([s.share for s in cfg.segments])
    plain = shares / shares.sum()
    if not cfg.importance:
        return plain, np.ones(shares.size)
    drawn = shares * np.array([cfg.importance.get(s.name, 1.0) for s in cfg.segments])
    drawn = drawn / drawn.sum()
    return drawn, plain / drawn


def pick_device(device_offset: np.ndarray, n_devices: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(k,) one of each person's devices from a uniform each: `device_offset`, `n_devices` and `u` per person."""
    return device_offset + (u * n_devices).astype(np.int64)


def build_population(cfg: WorldConfig, n_people: int, rng: np.random.Generator) -> Population:
    """Draw a population: segment sizes, devices and device types.

    Args:
        cfg: the world config (segment shares, importance sampling, device mix).
        n_people: number of people.
        rng: the population stream.
    """
    shares, weight = sampling_shares(cfg)
    counts = rng.multinomial(n_people, shares)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    segment = np.repeat(np.arange(len(counts), dtype=np.int8), counts)
    probs = np.array(cfg.devices.count_probs)
    n_devices = (np.searchsorted(np.cumsum(probs / probs.sum()), rng.random(n_people), side="right") + 1)
    n_devices = np.minimum(n_devices, 3).astype(np.int8)
    device_offset = np.concatenate([[0], np.cumsum(n_devices[:-1], dtype=np.int64)])
    n_ids = int(n_devices.sum(dtype=np.int64))
    device_type = (rng.random(n_ids) < cfg.devices.desktop_share).astype(np.int8)
    device_owner = np.repeat(np.arange(n_people, dtype=np.int64), n_devices)
    return Population(segment, offsets, n_devices, device_offset, device_type, device_owner, weight)


def initial_stages(cfg: WorldConfig, n_people: int, rng: np.random.Generator) -> np.ndarray:
    """Day-0 journey stages drawn from `journey.initial_stage`: the world has been running."""
    shares = np.asarray(cfg.journey.initial_stage, dtype=np.float64)
    cdf = np.cumsum(shares / shares.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n_people), side="right"), len(cdf) - 1).astype(np.int8)


@dataclass(slots=True)
class JourneyState:
    """Mutable per-person state of the world, advanced by the story hour by hour.

    Attributes:
        stage: (n,) int8 `Stage`.
        last_activity: (n,) int32 hour of the last touch or stage move (-1: never); drives LAPSED.
        seen: (n, n_advertisers) float32 decayed count of each advertiser's impressions (fatigue).
        seen_creative: (n, n_advertisers * n_creatives) float32 the same per advertiser and creative.
        brand: (n, n_advertisers) float32 decayed brand memory from impressions and clicks.
        converted_at: (n,) int32 hour of the purchase (ours or a rival's), -1 if none.
        journey_start: (n,) int32 hour the current journey left UNAWARE / LAPSED (0 for day-0 journeys).
    """

    stage: np.ndarray
    last_activity: np.ndarray
    seen: np.ndarray
    seen_creative: np.ndarray
    brand: np.ndarray
    converted_at: np.ndarray
    journey_start: np.ndarray
    arrays: tuple[str, ...] = field(default=("stage", "last_activity", "seen", "seen_creative", "brand", "converted_at",
                                             "journey_start"))

    @classmethod
    def fresh(cls, n_people: int, n_advertisers: int, stage: np.ndarray | None = None,
              n_creatives: int = 1) -> JourneyState:
        """Nothing seen yet; everyone UNAWARE unless initial stages are given."""
        return cls(
            stage=np.zeros(n_people, np.int8) if stage is None else stage.astype(np.int8),
            last_activity=np.full(n_people, -1, np.int32),
            seen=np.zeros((n_people, n_advertisers), np.float32),
            seen_creative=np.zeros((n_people, n_advertisers * n_creatives), np.float32),
            brand=np.zeros((n_people, n_advertisers), np.float32),
            converted_at=np.full(n_people, -1, np.int32),
            journey_start=np.zeros(n_people, np.int32),
        )

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of all arrays, for checkpoints and the journey store."""
        return {k: getattr(self, k).copy() for k in self.arrays}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore arrays saved by `state_dict`."""
        for k in self.arrays:
            setattr(self, k, np.array(state[k], dtype=getattr(self, k).dtype))
