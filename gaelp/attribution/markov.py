"""Markov-chain attribution by removal effect.

After Anderl, Becker, von Wangenheim and Schumann, "Mapping the customer journey", IJRM 2016,
as the ChannelAttribution package computes it.

Every journey is a walk `start -> s_1 -> ... -> s_m -> (conversion | null)` where, for order k,
a state is the last k channels seen (padded at the start of the path). Transition probabilities
are counted over all journeys, converting and non-converting (`nulls`), so a channel that shows up
mostly on failing paths is not rewarded. The probability of reaching `conversion` from `start` is
the absorption probability of the chain, found exactly by solving the linear system
`(I - Q) x = r` (Q: transient-to-transient probabilities, r: probability of converting next),
never by simulation.

The removal effect of channel c is `1 - P(convert | c removed) / P(convert)`, where removing c
sends every transition into a state containing c to `null`. Following Anderl et al., channel c
is credited `total conversions * RE_c / sum(RE)`. The value-weighted variant (`weight="value"`)
puts the mean conversion value on each transition into `conversion`, so `x` is the expected value
of a journey and the removal effects (hence the value credit) are measured in value.

Per-touch credit (what the ledger pays each touch) splits each path's conversion among its
distinct channels in proportion to their removal effects; summed by channel it is close to, but
not the same as, the global allocation of `channel_credit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from gaelp.attribution.base import ChannelCredit, global_channel_credit, split_channel_weights
from gaelp.attribution.paths import Paths

# Above these sizes the dense lookup tables would waste memory; fall back to sorting.
_DENSE_STATE_CODES_MAX = 4_000_000
_DENSE_TRANSITIONS_MAX = 20_000_000
# Up to this many channels each removal is solved directly (the numbers of earlier releases); above
# it, from one factorization of the whole chain (`_removed_by_complement`, equal to round-off).
_DIRECT_CHANNELS_MAX = 20
# States of a chain over more than `_DIRECT_CHANNELS_MAX` channels: (I - Q)^-1 is one dense array
# (128 MB at 4,000 states); beyond, `removal_effects` refuses rather than run for hours.
MAX_STATES = 4_001


@dataclass(frozen=True, slots=True, eq=False)
class RemovalEffects:
    """What the fitted chain says about each channel.

    Attributes:
        p_convert: Probability that a journey converts, from `start`.
        expected_value: Expected conversion value of a journey.
        conversions: (n_channels,) removal effect on the conversion probability, in [0, 1].
        value: (n_channels,) removal effect on the expected value, in [0, 1].
        n_states: Transient channel states of the chain (excluding `start`).

    """

    p_convert: float
    expected_value: float
    conversions: np.ndarray
    value: np.ndarray
    n_states: int


@dataclass(frozen=True, slots=True)
class Markov:
    """Markov removal-effect attribution.

    Attributes:
        order: Memory of the chain, 1 to 3 (states are the last `order` channels).
        weight: `"conversions"` allocates value like conversions; `"value"` measures removal
            effects on expected value and allocates value by those.

    """

    order: int = 1
    weight: Literal["conversions", "value"] = "conversions"
    name: ClassVar[str] = "markov"
    needs_times: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.order not in (1, 2, 3):
            raise ValueError(f"order must be 1, 2 or 3, got {self.order}")
        if self.weight not in ("conversions", "value"):
            raise ValueError(f"weight must be 'conversions' or 'value', got {self.weight!r}")

    def removal_effects(self, paths: Paths) -> RemovalEffects:
        """Fit the chain on `paths` and measure each channel's removal effect."""
        return removal_effects(paths, self.order)

    def credit(self, paths: Paths) -> np.ndarray:
        re = self.removal_effects(paths)
        effect = re.value if self.weight == "value" else re.conversions
        return split_channel_weights(paths, effect[paths.channel])

    def channel_credit(self, paths: Paths) -> ChannelCredit:
        re = self.removal_effects(paths)
        value_effect = re.value if self.weight == "value" else re.conversions
        return global_channel_credit(paths, re.conversions, value_effect)


def state_codes(paths: Paths, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Order-k state of every touch, as a compact index.

    Returns:
        state: (n_touches,) int64 in [1, n_states]; 0 is reserved for `start`.
        digits: (n_states, order) int64 channel codes of each state, most recent first,
            -1 where the state reaches back before the path's first touch.

    """
    base = len(paths.channels) + 1
    pos = paths.position()
    code = np.zeros(paths.n_touches, dtype=np.int64)
    for j in range(order):  # j touches back; order <= 3
        shifted = np.zeros(paths.n_touches, dtype=np.int64)
        shifted[j:] = paths.channel[: paths.n_touches - j] + 1
        code += np.where(pos >= j, shifted, 0) * base**j
    if base**order <= _DENSE_STATE_CODES_MAX:
        seen = np.zeros(base**order, dtype=bool)
        seen[code] = True
        uniq = np.flatnonzero(seen)
        lookup = np.cumsum(seen) - 1
        state = lookup[code]
    else:
        uniq, state = np.unique(code, return_inverse=True)
    digits = np.stack([(uniq // base**j) % base - 1 for j in range(order)], axis=1)
    return state.astype(np.int64) + 1, digits


def _aggregate_transitions(
    src: np.ndarray, dst: np.ndarray, w: np.ndarray, n: int
) -> sp.csr_matrix:
    if n * n <= _DENSE_TRANSITIONS_MAX:
        counts = np.bincount(src * n + dst, w, minlength=n * n)
        nz = np.flatnonzero(counts)
        return sp.csr_matrix((counts[nz], (nz // n, nz % n)), shape=(n, n))
    pair, inv = np.unique(src * n + dst, return_inverse=True)
    counts = np.bincount(inv, w)
    return sp.csr_matrix((counts, (pair // n, pair % n)), shape=(n, n))


def _removed_by_complement(system: sp.csr_matrix, r: np.ndarray, contains: np.ndarray,
                           channels: np.ndarray) -> np.ndarray:
    """P(convert) and expected value from `start` with each channel's states removed, from one
    factorization of the whole chain instead of one per channel.

    With G = (I - Q)^-1 and S the states of channel c, the chain without S converts from `start` with
    `base[0] - G[0, S] @ solve(G[S, S], base[S])` (the Schur complement of G's S block; base = G r).
    So one inverse of I - Q serves every channel, rather than a factorization per channel (48 s ->
    about a second at 1,000 channels).

    Args:
        system: (n, n) I - Q over the transient states (`start` = 0).
        r: (n, 2) probability and value of converting next, per state.
        contains: (n, n_channels) bool, state holds the channel.
        channels: Channels to remove, each present in some state.

    Returns:
        (len(channels), 2) the start state's conversion probability and value without each channel.
    """
    n = system.shape[0]
    if n > MAX_STATES:
        raise ValueError(f"the Markov chain has {n - 1:,} states over {contains.shape[1]:,} channels; removal "
                         f"effects are computed up to {MAX_STATES - 1:,} states (time and memory grow with the "
                         "square): use a lower order, or merge rare channels")
    # One dense inverse (LAPACK): 1,000 states in about 0.1 s, where a sparse LU fills in anyway.
    whole = np.linalg.inv(system.toarray())
    base = whole @ r
    out = np.empty((len(channels), 2))
    for k, c in enumerate(channels):
        states = np.flatnonzero(contains[:, c])
        g_ss = whole[np.ix_(states, states)]
        out[k] = base[0] - whole[0, states] @ np.linalg.solve(g_ss, base[states])
    return out


def removal_effects(paths: Paths, order: int = 1) -> RemovalEffects:
    """Removal effect of every channel under an order-k Markov chain over `paths`.

    Args:
        paths: The journeys; `conversions + nulls` counts the journeys along each path.
        order: 1, 2 or 3.

    Returns:
        The chain's conversion probability, expected value and per-channel removal effects.

    """
    n_ch = len(paths.channels)
    state, digits = state_codes(paths, order)
    n = len(digits) + 1  # transient states: start (0) and the channel states
    journeys = paths.conversions + paths.nulls
    w = journeys[paths.path_id]
    first = paths.position() == 0
    prev = np.empty_like(state)
    prev[0:1] = 0
    prev[1:] = state[:-1]
    prev = np.where(first, 0, prev)
    counts = _aggregate_transitions(prev, state, w, n)
    last_state = state[paths.offsets[1:] - 1] if paths.n_paths else state[:0]
    out_weight = np.asarray(counts.sum(axis=1)).ravel() + np.bincount(
        last_state, journeys, minlength=n
    )
    inv_out = np.divide(1.0, out_weight, out=np.zeros(n), where=out_weight > 0)
    q = sp.diags(inv_out) @ counts
    r = np.column_stack(
        [
            np.bincount(last_state, paths.conversions, minlength=n) * inv_out,
            np.bincount(last_state, paths.value, minlength=n) * inv_out,
        ]
    )
    system = (sp.identity(n, format="csr") - q).tocsr()
    base = splu(system.tocsc()).solve(r)[0]

    contains = np.zeros((n, n_ch), dtype=bool)
    for j in range(order):
        rows = np.flatnonzero(digits[:, j] >= 0)
        contains[rows + 1, digits[rows, j]] = True
    removed = np.tile(base, (n_ch, 1))
    present = np.flatnonzero(contains.any(axis=0))
    if present.size <= _DIRECT_CHANNELS_MAX:
        for c in present:  # one small solve per channel
            keep = ~contains[:, c]
            sub = system[keep][:, keep]
            removed[c] = splu(sub.tocsc()).solve(r[keep])[0]
    else:
        removed[present] = _removed_by_complement(system, r, contains, present)

    with np.errstate(divide="ignore", invalid="ignore"):
        effect = np.where(base > 0, 1.0 - removed / base, 0.0)
    # Removing states can only lower absorption into `conversion`; clip solver round-off.
    effect = np.clip(effect, 0.0, 1.0)
    return RemovalEffects(
        p_convert=float(base[0]),
        expected_value=float(base[1]),
        conversions=effect[:, 0],
        value=effect[:, 1],
        n_states=n - 1,
    )
