"""The delayed-reward ledger: credit arrives when conversions do, keyed to the decisions that paid.

Every paid touchpoint of ours (an impression or click we bought) enters the ledger as *pending*,
with the id of the decision that bought it: any int64 the caller likes, shared by several touches
if one decision bought them. In the simulator, `opportunity key * 8 + slot` names an impression
within its day only (keys restart each day), so add `day * key space` or use the impression's row
in the campaign log when ids must be unique over a campaign. Then:

* **A conversion** at hour `T` of identity `u` (a person, or a resolved identity on real logs)
  credits `u`'s pending touches with `T - window_h <= t <= T` under the chosen attribution model
  (a registry name): the touches form one path, the model splits the conversion's value among
  them, and each touch's share is paid to its decision as a reward event. Those touches are then
  settled: a later conversion never credits them again, and touches after `T` wait for the next
  conversion. A touch in the same hour as the conversion counts as before it (as on real logs);
  callers whose touches follow a conversion within the hour give them a later time.
* **A window that closes** without a conversion (`t + window_h` has passed) resolves the touch to
  zero. A zero-amount event marks it, so a learner knows the decision is finished.
* **At an episode's end** (`close_episode`), still-pending touches are *advanced* the value the
  conversion-lag model expects: the probability that their path converts within the window of
  its most recent touch, given that it has not yet (`prob_converts_later` of a `LagFit`, or a
  `p` and survival function given), times the expected conversion value, times the touch's share
  were the path to convert now. When the truth arrives (a conversion or the window's close), the
  ledger pays the *correction*, truth minus what was advanced; a later `close_episode` re-advances
  the change in expectation.

So each decision's rewards always add up to its final credit, and the ledger's running total is
`attributed_value + outstanding` (the advances not yet settled): once nothing is pending, the
rewards paid equal the value attributed to touches exactly.

Time runs forward: touches and conversions must not predate the ledger's clock (the latest
conversion or closing time it has processed), since a conversion processed earlier could not have
seen them. Within a call they may come in any order.

Data-driven models (`markov`, `shapley`) are fitted on each call's batch: its converting paths and
the paths that expired in it (as non-converting journeys). Rule-based models are path-local, so
their credit does not depend on how the log is cut into calls.

Everything is whole-array work (one sort per call, then cumulative operations); the only loop is
over model calls, one per call.

Example:
    >>> import numpy as np
    >>> led = RewardLedger(("search", "social"), "linear", window_h=720.0)
    >>> led.touch(decision=np.array([10, 11, 12]), t=np.array([1.0, 5.0, 9.0]),
    ...           identity=np.array([7, 7, 8]), channel=np.array([0, 1, 0]))
    >>> ev = led.convert(t=np.array([6.0]), identity=np.array([7]), value=np.array([220.0]))
    >>> ev.decision.tolist(), ev.amount.tolist()
    ([10, 11], [110.0, 110.0])

"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from gaelp.attribution.base import AttributionModel
from gaelp.attribution.lag import LagFit, prob_converts_later
from gaelp.attribution.paths import Paths
from gaelp.attribution.registry import get_model

CREDIT, ZERO, ADVANCE, CORRECTION = 0, 1, 2, 3
"""Reward event kinds: a conversion's credit; a window closed with nothing (amount 0); an
expected value advanced at an episode's end; the settlement of an advanced touch (truth minus
advance)."""
EVENT_KINDS: tuple[str, ...] = ("credit", "zero", "advance", "correction")
DEFAULT_WINDOW_H = 30 * 24.0
_LAG_OR_P = "give either lag (a LagFit) or both p and survival"


@dataclass(frozen=True, slots=True, eq=False)
class RewardEvents:
    """Rewards paid, one row per (touch, event), in time order.

    Attributes:
        decision: (k,) int64 id of the decision that bought the touch.
        t: (k,) float64 hour the reward is due: the conversion, the window's close or the
            episode's end.
        amount: (k,) float64 reward (conversion value, or conversions if no value was given).
        kind: (k,) int8 `CREDIT`, `ZERO`, `ADVANCE` or `CORRECTION`.

    """

    decision: np.ndarray
    t: np.ndarray
    amount: np.ndarray
    kind: np.ndarray

    @classmethod
    def empty(cls) -> RewardEvents:
        """No events."""
        return cls(np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int8))

    @classmethod
    def concat(cls, parts: Sequence[RewardEvents]) -> RewardEvents:
        """All events of `parts`, re-sorted by time (stable)."""
        if not parts:
            return cls.empty()
        t = np.concatenate([p.t for p in parts])
        order = np.argsort(t, kind="stable")
        return cls(
            np.concatenate([p.decision for p in parts])[order],
            t[order],
            np.concatenate([p.amount for p in parts])[order],
            np.concatenate([p.kind for p in parts])[order],
        )

    def __len__(self) -> int:
        return int(self.t.size)

    @property
    def total(self) -> float:
        """Sum of all amounts."""
        return float(self.amount.sum())

    def by_decision(self) -> tuple[np.ndarray, np.ndarray]:
        """(unique decision ids, summed amount of each), sorted by id."""
        ids, inverse = np.unique(self.decision, return_inverse=True)
        return ids, np.bincount(inverse, self.amount, minlength=ids.size)


@dataclass(frozen=True, slots=True, eq=False)
class PendingTouches:
    """A copy of the touches still pending, in the ledger's order (the order `close_episode`'s
    per-touch `p`, `value` and `x` arrays follow).

    Attributes:
        decision: (n,) int64.  t: (n,) float64 hour.  identity: (n,) int64.
        channel: (n,) int64 code.  advanced: (n,) float64 value advanced so far (0 if none).

    """

    decision: np.ndarray
    t: np.ndarray
    identity: np.ndarray
    channel: np.ndarray
    advanced: np.ndarray


def _as_1d(name: str, arr: np.ndarray | float, dtype: type, n: int | None = None) -> np.ndarray:
    out = np.asarray(arr)
    if out.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {out.shape}")
    if n is not None and out.size != n:
        raise ValueError(f"{name} must have {n} entries (like the other arrays), got {out.size}")
    if dtype is np.int64 and out.size and not np.issubdtype(out.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {out.dtype}")
    out = out.astype(dtype)
    if dtype is np.float64 and not np.all(np.isfinite(out)):
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ValueError(f"{name}[{bad}] = {out[bad]} is not finite")
    return out


class RewardLedger:
    """Pending touchpoints and the rewards they earn (see the module docstring).

    Args:
        channels: Channel names; touches carry codes into this tuple.
        model: Attribution model: a registry name (`linear`, `last_click`, ...) or a model.
        window_h: Lookback window in hours (default 30 days).
        **model_params: Parameters of the named model (e.g. `half_life_days`).

    """

    def __init__(
        self,
        channels: Sequence[str],
        model: str | AttributionModel = "linear",
        *,
        window_h: float = DEFAULT_WINDOW_H,
        **model_params: object,
    ) -> None:
        if not window_h > 0 or not np.isfinite(window_h):
            raise ValueError(f"window_h must be a finite number of hours > 0, got {window_h}")
        self.channels = tuple(channels)
        if not self.channels:
            raise ValueError("channels must name at least one channel")
        self.model = get_model(model, **model_params) if isinstance(model, str) else model
        if not isinstance(self.model, AttributionModel):
            raise TypeError(f"model must be a registry name or an AttributionModel, got {model!r}")
        self.window_h = float(window_h)
        self.clock = -np.inf
        self._decision = np.zeros(0, np.int64)
        self._t = np.zeros(0)
        self._identity = np.zeros(0, np.int64)
        self._channel = np.zeros(0, np.int64)
        self._advanced = np.zeros(0)
        self._was_advanced = np.zeros(0, bool)
        self.paid = 0.0
        self.attributed_value = 0.0
        self.attributed_conversions = 0
        self.direct_conversions = 0
        self.direct_value = 0.0

    # --- state ----------------------------------------------------------------------------------
    @property
    def n_pending(self) -> int:
        """Touches not yet settled."""
        return int(self._t.size)

    @property
    def outstanding(self) -> float:
        """Value advanced to pending touches and not yet settled: `paid - attributed_value`."""
        return float(self._advanced.sum())

    def pending(self) -> PendingTouches:
        """A copy of the pending touches."""
        return PendingTouches(
            self._decision.copy(), self._t.copy(), self._identity.copy(), self._channel.copy(),
            self._advanced.copy(),
        )

    def _check_clock(self, name: str, t: np.ndarray) -> None:
        if t.size and t.min() < self.clock:
            bad = int(np.argmin(t))
            raise ValueError(
                f"{name}[{bad}] = {t[bad]} predates the ledger's clock {self.clock} (the latest "
                "conversion or closing time processed); feed events in time order"
            )

    def _keep(self, keep: np.ndarray) -> None:
        for name in ("_decision", "_t", "_identity", "_channel", "_advanced", "_was_advanced"):
            setattr(self, name, getattr(self, name)[keep])

    def _emit(self, decision, t, amount, kind) -> RewardEvents:
        order = np.argsort(t, kind="stable")
        self.paid += float(amount.sum())
        return RewardEvents(
            decision[order].astype(np.int64), t[order].astype(np.float64),
            amount[order].astype(np.float64), kind[order].astype(np.int8),
        )

    # --- input ----------------------------------------------------------------------------------
    def touch(
        self, decision: np.ndarray, t: np.ndarray, identity: np.ndarray, channel: np.ndarray
    ) -> None:
        """Record paid touchpoints as pending.

        Args:
            decision: (n,) int id of the decision that bought each touch.
            t: (n,) hour of each touch, not before the ledger's clock.
            identity: (n,) int person or resolved identity.
            channel: (n,) int channel code into `channels`.

        """
        t = _as_1d("t", t, np.float64)
        n = t.size
        decision = _as_1d("decision", decision, np.int64, n)
        identity = _as_1d("identity", identity, np.int64, n)
        channel = _as_1d("channel", channel, np.int64, n)
        if n and (channel.min() < 0 or channel.max() >= len(self.channels)):
            bad = int(np.flatnonzero((channel < 0) | (channel >= len(self.channels)))[0])
            raise ValueError(
                f"channel[{bad}] = {channel[bad]} is not a code in [0, {len(self.channels)})"
            )
        self._check_clock("t", t)
        self._decision = np.concatenate([self._decision, decision])
        self._t = np.concatenate([self._t, t])
        self._identity = np.concatenate([self._identity, identity])
        self._channel = np.concatenate([self._channel, channel])
        self._advanced = np.concatenate([self._advanced, np.zeros(n)])
        self._was_advanced = np.concatenate([self._was_advanced, np.zeros(n, bool)])

    def convert(
        self, t: np.ndarray, identity: np.ndarray, value: np.ndarray | None = None
    ) -> RewardEvents:
        """Credit conversions to the pending touches in their windows; settle closed windows.

        Args:
            t: (m,) hour of each conversion, not before the ledger's clock.
            identity: (m,) int person or resolved identity of each conversion.
            value: (m,) value of each conversion (>= 0); None pays 1 per conversion.

        Returns:
            Credit (or correction) events for the credited touches, and zero (or correction)
            events for touches whose window closed by the latest conversion time.

        """
        t = _as_1d("t", t, np.float64)
        m = t.size
        identity = _as_1d("identity", identity, np.int64, m)
        value = np.ones(m) if value is None else _as_1d("value", value, np.float64, m)
        if np.any(value < 0):
            bad = int(np.flatnonzero(value < 0)[0])
            raise ValueError(f"value[{bad}] = {value[bad]} is negative")
        self._check_clock("t", t)
        if m == 0:
            return RewardEvents.empty()

        n_p = self.n_pending
        n = n_p + m
        all_t = np.concatenate([self._t, t])
        all_u = np.concatenate([self._identity, identity])
        is_conv = np.r_[np.zeros(n_p, bool), np.ones(m, bool)]
        # By identity, then time, touches before conversions of the same instant, then input.
        order = np.lexsort((np.arange(n), is_conv, all_t, all_u))
        # Sorted position of the next conversion at or after each position: a reversed running min.
        candidate = np.where(is_conv[order], np.arange(n), n)
        next_pos = np.minimum.accumulate(candidate[::-1])[::-1]
        touch_pos = np.flatnonzero(~is_conv[order])
        touch = order[touch_pos]  # pending indices, by identity and time
        nxt = next_pos[touch_pos]
        conv_row = order[np.minimum(nxt, n - 1)] - n_p  # conversion index, valid where has_next
        has_next = nxt < n
        conv_row = np.where(has_next, conv_row, 0)
        same = has_next & (identity[conv_row] == self._identity[touch])
        credited = same & (t[conv_row] - self._t[touch] <= self.window_h)

        clock = max(self.clock, float(t.max()))
        expired = ~credited & (self._t[touch] + self.window_h < clock)
        frac = self._fractions(touch, credited, expired, conv_row, t, value)

        c_idx, e_idx = touch[credited], touch[expired]
        conv_of = conv_row[credited]
        truth = frac[credited] * value[conv_of]
        hit = np.zeros(m, bool)
        hit[conv_of] = True
        self.attributed_conversions += int(hit.sum())
        self.attributed_value += float(value[hit].sum())
        self.direct_conversions += int((~hit).sum())
        self.direct_value += float(value[~hit].sum())

        settled = np.concatenate([c_idx, e_idx])
        amount = np.concatenate([truth, np.zeros(e_idx.size)]) - self._advanced[settled]
        kind = np.where(
            self._was_advanced[settled],
            CORRECTION,
            np.r_[np.full(c_idx.size, CREDIT), np.full(e_idx.size, ZERO)],
        )
        when = np.concatenate([t[conv_of], self._t[e_idx] + self.window_h])
        events = self._emit(self._decision[settled], when, amount, kind)
        keep = np.ones(n_p, bool)
        keep[settled] = False
        self._keep(keep)
        self.clock = clock
        return events

    def _fractions(
        self,
        touch: np.ndarray,
        credited: np.ndarray,
        expired: np.ndarray,
        conv_row: np.ndarray,
        conv_t: np.ndarray,
        conv_value: np.ndarray,
    ) -> np.ndarray:
        """Model credit fraction of each credited touch (0 elsewhere), from one model call.

        Args:
            touch: (k,) pending indices.  credited, expired: (k,) bool.
            conv_row: (k,) conversion crediting each touch (where `credited`).
            conv_t, conv_value: (m,) the batch's conversions.

        The batch's converting paths (one per conversion) and its expired touches (one
        non-converting path per identity, for data-driven models) go to the model together.
        """
        frac = np.zeros(touch.size)
        if not credited.any():
            return frac
        conv_ids, conv_path = np.unique(conv_row[credited], return_inverse=True)
        _, null_path = np.unique(self._identity[touch[expired]], return_inverse=True)
        n_conv = conv_ids.size
        n_null = int(null_path.max()) + 1 if null_path.size else 0
        members = np.concatenate([np.flatnonzero(credited), np.flatnonzero(expired)])
        paths = Paths.from_arrays(
            np.concatenate([conv_path, n_conv + null_path]),
            self._channel[touch[members]],
            self.channels,
            conversions=np.r_[np.ones(n_conv), np.zeros(n_null)],
            value=np.r_[conv_value[conv_ids], np.zeros(n_null)],
            t=self._t[touch[members]],
            conversion_t=np.r_[conv_t[conv_ids], np.full(n_null, np.nan)],
        )
        frac[members[paths.touch_rows]] = self.model.credit(paths)
        frac[expired] = 0.0
        return frac

    def expire(self, t_now: float) -> RewardEvents:
        """Advance the clock to `t_now`; touches whose window has closed resolve to zero.

        A touch's window closes when `t + window_h < t_now`: no later conversion can credit it.
        `expire(np.inf)` settles everything (and no event can be added after it).

        Returns:
            Zero events (or corrections of what was advanced), dated at each window's close.

        """
        if np.isnan(t_now):
            raise ValueError("t_now must be a number, got NaN")
        self.clock = max(self.clock, float(t_now))
        gone = self._t + self.window_h < self.clock
        if not gone.any():
            return RewardEvents.empty()
        amount = -self._advanced[gone]
        kind = np.where(self._was_advanced[gone], CORRECTION, ZERO)
        events = self._emit(self._decision[gone], self._t[gone] + self.window_h, amount, kind)
        self._keep(~gone)
        return events

    def close_episode(
        self,
        t_now: float,
        lag: LagFit | None = None,
        *,
        p: np.ndarray | float | None = None,
        survival: Callable[[np.ndarray], np.ndarray] | None = None,
        value: np.ndarray | float = 1.0,
        x: np.ndarray | None = None,
    ) -> RewardEvents:
        """End an episode at `t_now`: settle closed windows, advance expected value to the rest.

        The touches pending for one identity form a path. Its chance of converting within the
        window of its most recent touch, `e` hours after it with nothing seen yet, is
        `prob_converts_later(p, S(e)) * (S(e) - S(window_h)) / S(e)`. Each touch is advanced
        `value * that chance * its share` (the model's split of the path, were it to convert now),
        minus what it was already advanced.

        Args:
            t_now: End of the episode (hours); no pending touch may come after it.
            lag: A fitted lag model (its `p_convert` and `survival`); or give `p` and `survival`.
            p: P(convert) of a touch: a float, or (n_pending,) in `pending()` order (the path
                takes its most recent touch's).
            survival: `S(hours)`, P(delay > hours) of converting touches, vectorised.
            value: Expected conversion value: a float, or (n_pending,) like `p`.
            x: (n_pending, d) covariates for a `lag` fitted with them.

        Returns:
            Settlement events of closed windows, then `ADVANCE` events dated `t_now`.

        """
        if (lag is not None and (p is not None or survival is not None)) or (
            lag is None and (p is None or survival is None)
        ):
            raise ValueError(_LAG_OR_P)
        settled = self.expire(t_now)
        n = self.n_pending
        if n == 0:
            return settled
        if self._t.max() > t_now:
            bad = int(np.argmax(self._t))
            raise ValueError(f"pending touch {bad} at t = {self._t[bad]} comes after t_now = {t_now}")

        ids, path_of = np.unique(self._identity, return_inverse=True)
        paths = Paths.from_arrays(
            path_of, self._channel, self.channels, conversions=np.ones(ids.size),
            t=self._t, conversion_t=np.full(ids.size, float(t_now)),
        )
        share = np.empty(n)
        share[paths.touch_rows] = self.model.credit(paths)
        last = paths.touch_rows[paths.offsets[1:] - 1]  # pending index of each path's newest touch
        elapsed = t_now - self._t[last]
        if lag is not None:
            xl = None if x is None else np.atleast_2d(np.asarray(x, np.float64))[last]
            p_path = np.broadcast_to(lag.p_convert(xl), ids.shape)
            s_now, s_end = lag.survival(elapsed, xl), lag.survival(self.window_h, xl)
        else:
            if p is None or survival is None:  # ruled out above; this narrows their types
                raise ValueError(_LAG_OR_P)
            p_path = np.broadcast_to(np.asarray(p, np.float64), (n,))[last]
            s_now = np.asarray(survival(elapsed), np.float64)
            s_end = np.asarray(survival(np.full(ids.size, self.window_h)), np.float64)
        for name, arr in (("p", p_path), ("survival", s_now), ("survival", s_end)):
            if not np.all((arr >= 0) & (arr <= 1)):
                raise ValueError(f"{name} must lie in [0, 1]")
        in_window = np.divide(
            s_now - s_end, s_now, out=np.zeros(ids.size), where=s_now > 0
        ).clip(0.0, 1.0)
        chance = prob_converts_later(p_path, s_now) * in_window
        v = np.broadcast_to(np.asarray(value, np.float64), (n,))
        if np.any(v < 0) or not np.all(np.isfinite(v)):
            raise ValueError("value must be finite and >= 0")
        target = (v[last] * chance)[path_of] * share
        amount = target - self._advanced
        self._advanced = target
        self._was_advanced[:] = True
        advanced = self._emit(self._decision, np.full(n, float(t_now)), amount,
                              np.full(n, ADVANCE))
        return RewardEvents.concat([settled, advanced])
