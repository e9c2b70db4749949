"""Journeys as flat, columnar arrays: the one input every attribution model reads.

A `Paths` value holds many journeys ("paths") at once. Touches are flat arrays sorted by path and,
within a path, by time; per-path arrays carry the outcome of each path. A row of the classic path
table (`"search > social > email", 3 conversions, 120.0 value, 17 nulls`) is one path whose
outcome counts several journeys that took the same route, so the same type serves aggregated
tables, raw event logs and the simulator's own touch arrays.

Example:
    >>> import numpy as np
    >>> p = Paths.from_arrays(
    ...     path_id=np.array([0, 0, 1]), channel=np.array([0, 1, 1]), channels=("search", "social"),
    ...     conversions=np.array([1.0, 0.0]), value=np.array([220.0, 0.0]))
    >>> p.n_paths, p.n_touches, p.nulls.tolist()
    (2, 3, [0.0, 1.0])

"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# A dense (n_paths, n_channels) count matrix is faster than sorting; above this many cells it
# would cost too much memory, so `channel_multiplicity` falls back to np.unique.
_DENSE_CELLS_MAX = 50_000_000


@dataclass(frozen=True, slots=True, eq=False)
class Paths:
    """Many journeys in columnar form.

    Equality is identity (the fields are arrays).

    Attributes:
        channels: Channel names; `channel` holds codes into this tuple.
        path_id: (n_touches,) int64, the path of each touch, non-decreasing, in [0, n_paths).
            Every path has at least one touch.
        channel: (n_touches,) int64 channel code of each touch.
        conversions: (n_paths,) float64 conversions that followed the path (>= 0).
        value: (n_paths,) float64 total value of those conversions (>= 0).
        nulls: (n_paths,) float64 journeys that took the path and did not convert (>= 0).
        t_hours: (n_touches,) float64 time of each touch in hours, non-decreasing within a path,
            or None when the input has no times (a path table).
        conversion_t_hours: (n_paths,) float64 time of the conversion, or of the path's last touch
            for a non-converting path; None exactly when `t_hours` is None.
        touch_index: (n_touches,) int64 position of each touch in the caller's input (the event
            row, or the simulator's touch array), so per-touch credit can be mapped back.
        offsets: (n_paths + 1,) int64, derived: touches of path i are `offsets[i]:offsets[i+1]`.

    """

    channels: tuple[str, ...]
    path_id: np.ndarray
    channel: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    t_hours: np.ndarray | None = None
    conversion_t_hours: np.ndarray | None = None
    touch_index: np.ndarray | None = None
    offsets: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        n_paths, n_touches = len(self.conversions), len(self.path_id)
        for name in ("value", "nulls", "conversion_t_hours"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n_paths,):
                raise ValueError(f"{name} must have shape ({n_paths},), got {arr.shape}")
        for name in ("channel", "t_hours", "touch_index"):
            arr = getattr(self, name)
            if arr is not None and arr.shape != (n_touches,):
                raise ValueError(f"{name} must have shape ({n_touches},), got {arr.shape}")
        if (self.t_hours is None) != (self.conversion_t_hours is None):
            raise ValueError("t_hours and conversion_t_hours must be given together")
        if n_touches and (self.path_id[0] < 0 or self.path_id[-1] >= n_paths):
            raise ValueError(f"path_id must lie in [0, {n_paths})")
        if np.any(np.diff(self.path_id) < 0):
            raise ValueError("path_id must be sorted (use Paths.from_arrays to sort)")
        counts = np.bincount(self.path_id, minlength=n_paths)
        if np.any(counts == 0):
            raise ValueError(f"path {int(np.argmin(counts))} has no touch; every path needs one")
        if n_touches and (self.channel.min() < 0 or self.channel.max() >= len(self.channels)):
            raise ValueError(f"channel codes must lie in [0, {len(self.channels)})")
        for name in ("conversions", "value", "nulls"):
            arr = getattr(self, name)
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"{name} must be finite and >= 0")
        offsets = np.zeros(n_paths + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        object.__setattr__(self, "offsets", offsets)
        if self.touch_index is None:
            object.__setattr__(self, "touch_index", np.arange(n_touches, dtype=np.int64))
        if self.t_hours is not None:
            self._check_times()

    def _check_times(self) -> None:
        t, conv_t = self.t_hours, self.conversion_t_hours
        if t is None or conv_t is None:
            raise ValueError("t_hours and conversion_t_hours must be given together")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(conv_t))):
            raise ValueError("t_hours and conversion_t_hours must be finite")
        back = np.flatnonzero(np.diff(t) < 0)
        if np.any(self.path_id[back] == self.path_id[back + 1]):
            raise ValueError("t_hours must be non-decreasing within each path")
        if np.any(t > conv_t[self.path_id]):
            raise ValueError("a touch comes after its path's conversion_t_hours")

    @property
    def n_paths(self) -> int:
        return len(self.conversions)

    @property
    def n_touches(self) -> int:
        return len(self.path_id)

    @property
    def has_times(self) -> bool:
        return self.t_hours is not None

    @property
    def touch_rows(self) -> np.ndarray:
        """(n_touches,) int64 `touch_index`, which construction always sets."""
        if self.touch_index is None:
            raise ValueError("Paths.touch_index is unset; build Paths through its constructor")
        return self.touch_index

    @property
    def lengths(self) -> np.ndarray:
        """(n_paths,) int64 number of touches of each path."""
        return np.diff(self.offsets)

    def position(self) -> np.ndarray:
        """(n_touches,) int64 index of each touch within its path (0 = first touch)."""
        return np.arange(self.n_touches, dtype=np.int64) - self.offsets[self.path_id]

    def channel_multiplicity(self) -> tuple[np.ndarray, np.ndarray]:
        """Count repeated channels inside each path.

        Returns:
            same: (n_touches,) int64, touches of the same channel in the same path (>= 1).
            distinct: (n_paths,) int64, distinct channels on each path.

        """
        n_ch = max(len(self.channels), 1)
        key = self.path_id * n_ch + self.channel
        if self.n_paths * n_ch <= _DENSE_CELLS_MAX:
            counts = np.bincount(key, minlength=self.n_paths * n_ch)
            distinct = np.count_nonzero(counts.reshape(self.n_paths, n_ch), axis=1)
            return counts[key], distinct.astype(np.int64)
        uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        distinct = np.bincount(uniq // n_ch, minlength=self.n_paths)
        return counts[inverse], distinct

    def take(self, paths_idx: np.ndarray) -> Paths:
        """A new `Paths` holding the selected paths, renumbered in the order given.

        Args:
            paths_idx: (k,) int indices of paths to keep (a permutation reorders them).

        """
        paths_idx = np.asarray(paths_idx, dtype=np.int64)
        lengths = self.lengths[paths_idx]
        new_offsets = np.concatenate([[0], np.cumsum(lengths)])
        # Touch j of new path i comes from old touch offsets[paths_idx[i]] + (j - new_offsets[i]).
        new_pid = np.repeat(np.arange(len(paths_idx), dtype=np.int64), lengths)
        src = (
            np.arange(len(new_pid), dtype=np.int64)
            - new_offsets[new_pid]
            + self.offsets[paths_idx][new_pid]
        )
        return Paths(
            channels=self.channels,
            path_id=new_pid,
            channel=self.channel[src],
            conversions=self.conversions[paths_idx],
            value=self.value[paths_idx],
            nulls=self.nulls[paths_idx],
            t_hours=None if self.t_hours is None else self.t_hours[src],
            conversion_t_hours=None
            if self.conversion_t_hours is None
            else self.conversion_t_hours[paths_idx],
            touch_index=self.touch_rows[src],
        )

    @classmethod
    def from_arrays(
        cls,
        path_id: np.ndarray,
        channel: np.ndarray,
        channels: tuple[str, ...] | list[str],
        *,
        conversions: np.ndarray,
        value: np.ndarray | None = None,
        nulls: np.ndarray | None = None,
        t: np.ndarray | None = None,
        conversion_t: np.ndarray | None = None,
    ) -> Paths:
        """Build from touch arrays in any order (the simulator's entry point).

        Args:
            path_id: (n_touches,) int, the journey of each touch, in [0, n_paths); every path in
                that range needs at least one touch.
            channel: (n_touches,) int channel codes into `channels`.
            channels: Channel names.
            conversions: (n_paths,) conversions that followed each path (0 or 1 for one journey).
            value: (n_paths,) value of those conversions; default 0.
            nulls: (n_paths,) non-converting journeys that took the path; default 1 where
                `conversions == 0` and 0 elsewhere (each path is one journey).
            t: (n_touches,) time of each touch in hours (the simulator's integer hour `t` is
                fine), or None.
            conversion_t: (n_paths,) hour of each path's conversion (NaN for a non-converting
                path, which then uses its last touch); default: the path's last touch.

        Returns:
            Paths sorted by path and, within a path, by time (stable, so touches in the same
            hour keep their input order); `touch_index` maps back to the input positions.

        """
        path_id = np.asarray(path_id, dtype=np.int64)
        channel = np.asarray(channel, dtype=np.int64)
        conversions = np.asarray(conversions, dtype=np.float64)
        n_paths = len(conversions)
        value = np.zeros(n_paths) if value is None else np.asarray(value, dtype=np.float64)
        if nulls is None:
            nulls = (conversions == 0).astype(np.float64)
        if len(path_id) and (path_id.min() < 0 or path_id.max() >= n_paths):
            raise ValueError(
                f"path_id must lie in [0, {n_paths}) (one entry of conversions per path)"
            )
        counts = np.bincount(path_id, minlength=n_paths)
        if np.any(counts == 0):
            raise ValueError(f"path {int(np.argmin(counts))} has no touch; every path needs one")
        order = np.lexsort((path_id,) if t is None else (np.asarray(t), path_id))
        t_sorted = conv_t = None
        if t is not None:
            t_sorted = np.asarray(t, dtype=np.float64)[order]
            last_t = t_sorted[np.cumsum(counts) - 1]
            conv_t = last_t if conversion_t is None else np.asarray(conversion_t, dtype=np.float64)
            conv_t = np.where(np.isnan(conv_t), last_t, conv_t)
        return cls(
            channels=tuple(channels),
            path_id=path_id[order],
            channel=channel[order],
            conversions=conversions,
            value=value,
            nulls=np.asarray(nulls, dtype=np.float64),
            t_hours=t_sorted,
            conversion_t_hours=conv_t,
            touch_index=order.astype(np.int64),
        )

    @classmethod
    def from_path_table(cls, df: pd.DataFrame) -> Paths:
        """Build from a path table; bad rows raise `BadRowsError` naming them.

        Columns `path`, `total_conversions`, `total_conversion_value`, `total_null`; see
        `gaelp.attribution.tables.parse_path_table`.
        """
        from gaelp.attribution.tables import parse_path_table

        return parse_path_table(df, skip_bad=False).paths

    @classmethod
    def from_events(cls, df: pd.DataFrame, window_days: float = 30.0) -> Paths:
        """Build from an event log; bad rows raise `BadRowsError` naming them.

        Columns `event_id`, `timestamp`, `user_id`, `channel`, `event_type`, `cost`, `value`; see
        `gaelp.attribution.event_log.parse_events` and `gaelp.attribution.events.events_to_paths`
        (which also reports the conversions left without a touch).

        Args:
            df: The events, in any row order.
            window_days: Lookback window of a conversion, in days.
        """
        from gaelp.attribution.event_log import parse_events
        from gaelp.attribution.events import events_to_paths

        return events_to_paths(parse_events(df, skip_bad=False).events, window_days).paths
