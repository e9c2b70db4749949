"""Shapley-value attribution: exact over channel coalitions, or Zhao et al.'s simplified form.

**Simplified** (Zhao, Mahboobi and Bagheri, arXiv:1804.05327, 2018): each conversion is split
equally among the distinct channels on its path. It is the exact Shapley value of the game
"conversions of journeys whose channels all lie in S", costs one pass over the touches and works
at any number of channels. It ignores non-converting journeys.

**Exact** (the conversion-probability game behind data-driven attribution, Shao and Li, KDD 2011;
Google's data-driven model): the worth of a coalition S of channels is `v(S)`, the conversion
rate of journeys whose set of channels is exactly S, counting non-converting journeys. Where no
journey touched exactly S, `v(S)` is the pooled rate of journeys whose channels lie inside S (0 if
there are none), and `v(empty) = 0`. A converting path with channel set T is split among the
channels of T by their Shapley values in the game restricted to T's subsets: a channel earns the
average rise in conversion rate it brings when added to the other channels of T in every order.
Negative values (a channel whose presence lowers the rate) are clipped to zero; a path whose
values are all zero falls back to the even split. The Shapley values of every restricted game are
computed at once from the Harsanyi dividends (Mobius transform of v) in O(m 2^m) for m channels,
so the exact method is limited to about 12 to 16 channels.

`method="auto"` takes the exact method up to `max_exact_channels` channels seen in the data and
the simplified form beyond. In both, a channel's share on a path is split evenly among its touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from gaelp.attribution.base import TouchModel, split_channel_weights
from gaelp.attribution.paths import Paths

# 2**16 coalitions x 16 channels x 8 bytes = 8 MB; beyond that the exact tables grow too fast.
EXACT_CHANNELS_LIMIT = 16


@dataclass(frozen=True, slots=True)
class Shapley(TouchModel):
    """Shapley attribution.

    Attributes:
        method: `"auto"`, `"exact"` or `"simplified"` (see module docstring).
        max_exact_channels: `"auto"` uses the exact method up to this many channels.

    """

    method: Literal["auto", "exact", "simplified"] = "auto"
    max_exact_channels: int = 12
    name: ClassVar[str] = "shapley"
    needs_times: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.method not in ("auto", "exact", "simplified"):
            raise ValueError(f"method must be 'auto', 'exact' or 'simplified', got {self.method!r}")
        if not 0 <= self.max_exact_channels <= EXACT_CHANNELS_LIMIT:
            raise ValueError(f"max_exact_channels must be in [0, {EXACT_CHANNELS_LIMIT}]")

    def resolved_method(self, paths: Paths) -> Literal["exact", "simplified"]:
        """The method `credit` will use on `paths`."""
        if self.method != "auto":
            return self.method
        n_seen = int(np.count_nonzero(np.bincount(paths.channel, minlength=len(paths.channels))))
        return "exact" if n_seen <= self.max_exact_channels else "simplified"

    def credit(self, paths: Paths) -> np.ndarray:
        if self.resolved_method(paths) == "simplified":
            same, distinct = paths.channel_multiplicity()
            return 1.0 / (distinct[paths.path_id] * same)
        return exact_credit(paths)


def _zeta(a: np.ndarray, m: int, sign: float = 1.0) -> np.ndarray:
    """Subset-sum transform over the first axis (length 2**m): out[S] = sum of a[T], T in S.

    With `sign=-1` it is the inverse (Mobius) transform.
    """
    out = np.array(a, dtype=np.float64, copy=True)
    for i in range(m):
        v = out.reshape(2 ** (m - i - 1), 2, 2**i, *out.shape[1:])
        v[:, 1] += sign * v[:, 0]
    return out


def coalition_worth(conversions: np.ndarray, journeys: np.ndarray, m: int) -> np.ndarray:
    """Conversion rate of every coalition of m channels.

    Args:
        conversions: (2**m,) conversions of journeys whose channel set is exactly each mask.
        journeys: (2**m,) journeys (converting or not) with exactly that channel set.
        m: Number of channels.

    Returns:
        (2**m,) worth v(S): the rate where journeys saw exactly S, else the pooled rate of
        journeys whose channels lie inside S, else 0; v(0) = 0.

    """
    pooled_conv, pooled_n = _zeta(conversions, m), _zeta(journeys, m)
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.where(journeys > 0, conversions / journeys, np.nan)
        pooled = np.where(pooled_n > 0, pooled_conv / pooled_n, 0.0)
    worth = np.where(np.isnan(exact), pooled, exact)
    worth[0] = 0.0
    return worth


def restricted_shapley(worth: np.ndarray, m: int) -> np.ndarray:
    """Shapley values of every restricted game at once.

    Args:
        worth: (2**m,) v(S) for every coalition mask S.
        m: Number of players.

    Returns:
        (2**m, m) phi[M, c]: Shapley value of player c in the game v restricted to subsets of M
        (0 where c is not in M). Uses phi_c(M) = sum over T in M containing c of d(T) / |T|,
        with d the Harsanyi dividends (Mobius transform of v).

    """
    masks = np.arange(2**m)
    member = ((masks[:, None] >> np.arange(m)) & 1).astype(np.float64)
    size = member.sum(axis=1)
    dividend = _zeta(worth, m, sign=-1.0)
    per_member = np.divide(dividend, size, out=np.zeros_like(dividend), where=size > 0)
    return _zeta(per_member[:, None] * member, m)


def exact_credit(paths: Paths) -> np.ndarray:
    """Per-touch credit under the exact conversion-probability Shapley game.

    Returns:
        (n_touches,) float64 fractions summing to 1 within each path.

    """
    seen = np.flatnonzero(np.bincount(paths.channel, minlength=len(paths.channels)))
    m = len(seen)
    if m > EXACT_CHANNELS_LIMIT:
        raise ValueError(
            f"exact Shapley is limited to {EXACT_CHANNELS_LIMIT} channels, the paths use {m}; "
            "use method='simplified'"
        )
    compact = np.zeros(len(paths.channels), dtype=np.int64)
    compact[seen] = np.arange(m)
    bit = np.left_shift(1, compact[paths.channel])
    mask = np.bitwise_or.reduceat(bit, paths.offsets[:-1]) if paths.n_touches else bit
    journeys = paths.conversions + paths.nulls
    worth = coalition_worth(
        np.bincount(mask, paths.conversions, minlength=2**m),
        np.bincount(mask, journeys, minlength=2**m),
        m,
    )
    phi = np.clip(restricted_shapley(worth, m), 0.0, None)
    channel_weight = phi[mask[paths.path_id], compact[paths.channel]]
    return split_channel_weights(paths, channel_weight)
