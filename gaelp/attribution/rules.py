"""Rule-based attribution: last click, first click, linear, time decay and position-based.

These are the models Google Analytics and Google Ads offered before 2023 (Google Ads kept last
click), with the same conventions:

* last / first click: all credit to the last / first touch of the path;
* linear: equal credit per touch (`a > a > b` gives `a` two thirds);
* time decay: weight `2 ** (-days_before_conversion / half_life_days)`, half-life 7 days;
* position-based ("U-shaped"): 40% first, 40% last, 20% spread over the middle touches; a
  two-touch path splits 50/50 and a one-touch path gives its touch everything.

Every model is a few whole-array operations over the flat touch arrays (no loop over paths).

Example:
    >>> import numpy as np
    >>> from gaelp.attribution.paths import Paths
    >>> p = Paths.from_arrays(np.array([0, 0, 0]), np.array([0, 0, 1]), ("a", "b"),
    ...                       conversions=np.array([1.0]))
    >>> Linear().channel_credit(p).conversions.round(3).tolist()
    [0.667, 0.333]

"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gaelp.attribution.base import TouchModel, normalize_within_paths
from gaelp.attribution.paths import Paths


@dataclass(frozen=True, slots=True)
class LastClick(TouchModel):
    """All credit to the last touch before the conversion."""

    name: ClassVar[str] = "last_click"
    needs_times: ClassVar[bool] = False

    def credit(self, paths: Paths) -> np.ndarray:
        out = np.zeros(paths.n_touches)
        out[paths.offsets[1:] - 1] = 1.0
        return out


@dataclass(frozen=True, slots=True)
class FirstClick(TouchModel):
    """All credit to the first touch of the path."""

    name: ClassVar[str] = "first_click"
    needs_times: ClassVar[bool] = False

    def credit(self, paths: Paths) -> np.ndarray:
        out = np.zeros(paths.n_touches)
        out[paths.offsets[:-1]] = 1.0
        return out


@dataclass(frozen=True, slots=True)
class Linear(TouchModel):
    """Equal credit to every touch of the path."""

    name: ClassVar[str] = "linear"
    needs_times: ClassVar[bool] = False

    def credit(self, paths: Paths) -> np.ndarray:
        return 1.0 / paths.lengths[paths.path_id]


@dataclass(frozen=True, slots=True)
class TimeDecay(TouchModel):
    """Credit halves for every `half_life_days` a touch precedes the conversion.

    A non-converting path decays from its last touch. Needs `Paths.t_hours`.

    Attributes:
        half_life_days: Half-life of the weight in days (Google's default: 7).

    """

    half_life_days: float = 7.0
    name: ClassVar[str] = "time_decay"
    needs_times: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not self.half_life_days > 0:
            raise ValueError(f"half_life_days must be > 0, got {self.half_life_days}")

    def credit(self, paths: Paths) -> np.ndarray:
        if paths.t_hours is None or paths.conversion_t_hours is None:
            raise ValueError("time_decay needs touch times (Paths.t_hours); this input has none")
        age_h = paths.conversion_t_hours[paths.path_id] - paths.t_hours
        # Measure age from the path's most recent touch: the weights' ratios are unchanged and the
        # largest weight is exactly 1, so very old paths cannot underflow to 0 / 0.
        newest = np.minimum.reduceat(age_h, paths.offsets[:-1]) if paths.n_touches else age_h
        rel_days = (age_h - newest[paths.path_id]) / 24.0
        return normalize_within_paths(paths, np.exp2(-rel_days / self.half_life_days))


@dataclass(frozen=True, slots=True)
class PositionBased(TouchModel):
    """U-shaped credit: `first` to the first touch, `last` to the last, the rest to the middle.

    Attributes:
        first: Share of the first touch on paths of three or more touches (default 0.4).
        last: Share of the last touch on such paths (default 0.4). Two-touch paths split in the
            ratio first:last (50/50 by default); one-touch paths give everything to the touch.

    """

    first: float = 0.4
    last: float = 0.4
    name: ClassVar[str] = "position"
    needs_times: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.first < 0 or self.last < 0 or self.first + self.last > 1:
            raise ValueError(
                f"need first, last >= 0 and first + last <= 1, got {self.first}, {self.last}"
            )
        if self.first + self.last == 0:
            raise ValueError("first + last must be > 0")

    def credit(self, paths: Paths) -> np.ndarray:
        n = paths.lengths[paths.path_id]
        pos = paths.position()
        is_first, is_last = pos == 0, pos == n - 1
        middle = (1.0 - self.first - self.last) / np.maximum(n - 2, 1)
        out = np.where(is_first, self.first, np.where(is_last, self.last, middle))
        two = n == 2
        out = np.where(
            two, np.where(is_first, self.first, self.last) / (self.first + self.last), out
        )
        return np.where(n == 1, 1.0, out)
