"""The attribution-model interface and the helpers every model shares.

A model answers two questions about a `Paths` value:

* `credit(paths)`: per touch, the fraction of its path's conversions (and value) the touch earns;
  fractions sum to one within each path. The delayed-reward ledger uses this to pay each touch.
* `channel_credit(paths)`: conversions and value credited to each channel over all paths. For most
  models this is the per-touch credit summed by channel (`credit_by_channel`); a model whose
  published definition allocates globally (Markov removal effect) overrides it.

Conventions follow the common tools (Google Analytics' former rule-based models, the
ChannelAttribution package): a channel's credit is the sum over its touches, so linear credit on
`a > a > b` gives `a` two thirds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

from gaelp.attribution.paths import Paths


@dataclass(frozen=True, slots=True, eq=False)
class ChannelCredit:
    """Credit by channel.

    Attributes:
        channels: Channel names, as in the `Paths` it came from.
        conversions: (n_channels,) credited conversions; sums to the paths' total conversions.
        value: (n_channels,) credited value; sums to the paths' total value.

    """

    channels: tuple[str, ...]
    conversions: np.ndarray
    value: np.ndarray

    def as_dicts(self) -> tuple[dict[str, float], dict[str, float]]:
        """(conversions by channel name, value by channel name) as plain floats."""
        conv = {c: float(x) for c, x in zip(self.channels, self.conversions, strict=True)}
        val = {c: float(x) for c, x in zip(self.channels, self.value, strict=True)}
        return conv, val


@runtime_checkable
class AttributionModel(Protocol):
    """What every attribution model provides (see `gaelp.attribution.registry.MODELS`).

    Attributes:
        name: Registry name, e.g. `"linear"`.
        needs_times: True if the model reads `Paths.t_hours` (time decay).

    """

    name: ClassVar[str]
    needs_times: ClassVar[bool]

    def credit(self, paths: Paths) -> np.ndarray:
        """(n_touches,) float64 credit fractions >= 0, summing to 1 within each path."""
        ...

    def channel_credit(self, paths: Paths) -> ChannelCredit:
        """Conversions and value credited to each channel."""
        ...


class TouchModel:
    """Mixin for models whose channel credit is their per-touch credit summed by channel."""

    __slots__ = ()

    def credit(self, paths: Paths) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def channel_credit(self, paths: Paths) -> ChannelCredit:
        return credit_by_channel(paths, self.credit(paths))


def credit_by_channel(paths: Paths, credit: np.ndarray) -> ChannelCredit:
    """Sum per-touch credit fractions into channel totals.

    Args:
        paths: The journeys.
        credit: (n_touches,) fractions summing to 1 within each path.

    Returns:
        Conversions `sum(credit * conversions[path])` and value `sum(credit * value[path])`
        grouped by channel.

    """
    n_ch = len(paths.channels)
    conv = np.bincount(paths.channel, credit * paths.conversions[paths.path_id], minlength=n_ch)
    val = np.bincount(paths.channel, credit * paths.value[paths.path_id], minlength=n_ch)
    return ChannelCredit(paths.channels, conv, val)


def normalize_within_paths(paths: Paths, weight: np.ndarray) -> np.ndarray:
    """Turn non-negative per-touch weights into fractions summing to 1 within each path.

    Args:
        paths: The journeys.
        weight: (n_touches,) weights >= 0. A path whose weights are all zero is split evenly
            among its touches.

    Returns:
        (n_touches,) float64 fractions.

    """
    total = np.bincount(paths.path_id, weight, minlength=paths.n_paths)
    empty = total <= 0
    if np.any(empty):
        weight = np.where(empty[paths.path_id], 1.0, weight)
        total = np.where(empty, paths.lengths, total)
    return weight / total[paths.path_id]


def split_channel_weights(paths: Paths, channel_weight: np.ndarray) -> np.ndarray:
    """Per-touch credit from a weight per (path, channel).

    A path's conversion is split among its distinct channels in proportion to their weights,
    then evenly among the touches of each channel, so a channel's share does not grow with how
    often it repeats on the path. Paths whose channels all weigh zero split evenly among their
    distinct channels (Zhao et al.'s simplified Shapley split).

    Args:
        paths: The journeys.
        channel_weight: (n_touches,) weight >= 0 of each touch's channel on its path (equal for
            all touches of one channel in one path).

    Returns:
        (n_touches,) float64 fractions summing to 1 within each path.

    """
    same, distinct = paths.channel_multiplicity()
    per_touch = channel_weight / same
    total = np.bincount(paths.path_id, per_touch, minlength=paths.n_paths)
    even = 1.0 / (distinct[paths.path_id] * same)
    safe_total = np.where(total > 0, total, 1.0)[paths.path_id]
    return np.where(total[paths.path_id] > 0, per_touch / safe_total, even)


def global_channel_credit(
    paths: Paths, share: np.ndarray, value_share: np.ndarray
) -> ChannelCredit:
    """Allocate all conversions and value by global channel shares.

    Args:
        paths: The journeys.
        share: (n_channels,) weights >= 0 for conversions (normalized here).
        value_share: (n_channels,) weights >= 0 for value (normalized here).

    """

    def alloc(total: float, w: np.ndarray) -> np.ndarray:
        s = w.sum()
        return np.zeros_like(w, dtype=np.float64) if s <= 0 else total * w / s

    return ChannelCredit(
        paths.channels,
        alloc(float(paths.conversions.sum()), np.asarray(share, dtype=np.float64)),
        alloc(float(paths.value.sum()), np.asarray(value_share, dtype=np.float64)),
    )
