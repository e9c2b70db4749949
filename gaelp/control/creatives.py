"""Creative selection for our ads: which message each opportunity gets.

Three modes (`campaign.creatives`):

* `thompson`: Thompson sampling on our own clicks. Per context (channel x query intent x device type:
  what an advertiser sees) and creative, a Beta posterior of the click rate whose prior is the
  creative's rate over all contexts (`pool` impressions' worth: contexts with little data borrow from
  the rest). Once an hour, `samples` rates are drawn per context and creative (the posterior only
  changes between hours, when the hour's outcomes arrive); each opportunity takes one of its
  context's samples (by a hash of its device and the hour) and the creative whose sampled rate,
  discounted by how often this device saw it lately (our own log of what we showed: fatigue), is
  highest. Purchases our pixel matches to a device's last click add `purchase_weight` clicks to that
  click's creative.
* `rotate`: a uniform rotation by a hash of the device and the hour (the baseline).
* `ab`: an A/B test: each device is assigned to one of `ab_pair` by a hash of its id, for good.

The settings are `campaign.selector` (`SelectorConfig`; defaults and their reasons in
`gaelp.calibration.SELECTOR`). Everything here is the advertiser's side: it sees device ids, contexts
and its own outcomes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gaelp.config import SelectorConfig
from gaelp.stacked import Stacked

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_ONE32 = np.float32(1.0)
_SAMPLE_SALT = 1 << 40  # device_hash salt of the sample an opportunity takes (+ the hour): apart from rotation's


def device_hash(device: np.ndarray, salt: int) -> np.ndarray:
    """(n,) uniform in [0, 1) from a device id and a salt (stable across runs: an A/B split)."""
    x = (np.asarray(device, np.int64).astype(np.uint64) + np.uint64(salt)) * _GOLDEN
    x ^= x >> np.uint64(31)
    x *= _MIX
    x ^= x >> np.uint64(29)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


def ab_arm(device: np.ndarray, pair: tuple[int, int], salt: int = 7) -> np.ndarray:
    """(n,) creative of each device in an A/B test of `pair` (half the devices each, fixed by device)."""
    return np.where(device_hash(device, salt) < 0.5, pair[0], pair[1]).astype(np.int8)


def beta_parameters(clicks: np.ndarray, imps: np.ndarray, p: SelectorConfig,
                    samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(..., n_contexts * samples, k) each context's Beta parameters, its row repeated for its `samples` draws:
    its clicks over the overall rate's prior (what `CreativeSelector` draws from).

    Args:
        clicks, imps: (..., n_contexts, k) counts (a batch of worlds' stacked: every world's at once; the
            overall rate adds a world's contexts in order, as its own sum over them does).
    """
    overall = (clicks.sum(axis=-2) + p.prior_clicks) / (imps.sum(axis=-2) + p.prior_impressions)
    overall = np.minimum(overall, 0.99)[..., None, :]
    a = clicks + p.pool * overall
    b = np.maximum(imps - clicks, 0.0) + p.pool * (1.0 - overall)
    return (a, b) if samples == 1 else (np.repeat(a, samples, axis=-2), np.repeat(b, samples, axis=-2))


def _thompson(theta: np.ndarray, shown: np.ndarray, fatigue: np.float32, m: int, t: int, device: np.ndarray,
              context: np.ndarray, offset: np.ndarray | int = 0, device_offset: np.ndarray | int = 0) -> np.ndarray:
    """(n,) int8 the creative whose sampled rate over fatigue is highest, for each opportunity of hour `t`.

    `theta` rows are `offset + context * m + j` and `shown` rows `device_offset + device` (a batch of
    worlds passes its stacked tables and each row's world's offsets; elementwise, so the same numbers).
    """
    row = context if m == 1 else context * m + (device_hash(device, _SAMPLE_SALT + t) * m).astype(np.int64)
    # np.take and float32 in place: half the time of fancy indexing and mixed-type temporaries here
    score = theta.take(row + offset, axis=0)  # (n, k)
    tired = shown.take(device + device_offset, axis=0)
    tired *= fatigue
    tired += _ONE32
    score /= tired
    return score.argmax(axis=1).astype(np.int8)


class CreativeSelector:
    """Picks our creative per opportunity and learns from our own outcomes.

    Args:
        n_creatives: creatives to choose from.
        n_contexts: contexts an advertiser tells apart (the story uses channel x intent x device type).
        n_devices: device ids that may appear (an upper bound; our own table of what each saw).
        mode: `thompson`, `rotate` or `ab`.
        rng: a seeded stream (Thompson draws).
        ab_pair: the two creatives of an A/B test.
        params: priors, draws, fatigue and purchase credit (`campaign.selector`).
    """

    def __init__(self, n_creatives: int, n_contexts: int, n_devices: int, mode: str, rng: np.random.Generator,
                 ab_pair: tuple[int, int] = (0, 1), params: SelectorConfig | None = None) -> None:
        if mode not in ("thompson", "rotate", "ab"):
            raise ValueError(f"creative mode must be thompson, rotate or ab, got {mode!r}")
        if not all(0 <= c < n_creatives for c in ab_pair):
            raise ValueError(f"ab_pair {ab_pair} names a creative outside 0..{n_creatives - 1}")
        self.k, self.mode, self.rng = n_creatives, mode, rng
        self.ab_pair = (int(ab_pair[0]), int(ab_pair[1]))
        self.params = p = SelectorConfig() if params is None else params
        self.clicks = np.zeros((n_contexts, n_creatives))  # clicks (and purchase credit) per context, creative
        self.imps = np.zeros((n_contexts, n_creatives))
        self.shown = np.zeros((n_devices, n_creatives), np.float32)
        self.last_click = np.full(n_devices, -1, np.int32)  # context * k + creative of each device's last click
        self.purchase_weight = p.purchase_weight
        self._fatigue = np.float32(p.fatigue)
        self._day = 0
        self._hour = -1  # the hour `_theta` was drawn for
        self._theta = np.zeros((n_contexts * p.samples, n_creatives))

    def choose(self, t: int, device: np.ndarray, context: np.ndarray) -> np.ndarray:
        """(n,) int8 creative for each opportunity of hour `t` (its device and context).

        In `thompson` mode a pure function of (device, context) within an hour: the hour's samples
        are drawn at its first call, and the fatigue table changes only in `observe`.
        """
        self._start(t // 24)
        if device.size == 0:
            return np.zeros(0, np.int8)
        if self.mode == "ab":
            return ab_arm(device, self.ab_pair)
        if self.mode == "rotate":
            return (device_hash(device, t) * self.k).astype(np.int8)
        return _thompson(self._draw(t), self.shown, self._fatigue, self.params.samples, t, device, context)

    def _draw(self, t: int, beta: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """(n_contexts * samples, k) the samples of hour `t`, drawn at its first call (row context * m + j is
        the context's j-th sample) from `beta_parameters` (`beta`: the selector's, if already taken)."""
        if t != self._hour:
            self._theta = self.rng.beta(*(beta_parameters(self.clicks, self.imps, self.params, self.params.samples)
                                          if beta is None else beta))
            self._hour = t
        return self._theta

    def observe(self, device: np.ndarray, context: np.ndarray, creative: np.ndarray, clicked: np.ndarray,
                conv_device: np.ndarray, weight: np.ndarray | None = None,
                conv_weight: np.ndarray | None = None) -> None:
        """Learn from the hour's impressions of ours, their clicks and the purchases our pixel reported.

        Args:
            device, context, creative: (w,) of each impression we won.  clicked: (w,) bool.
            conv_device: (m,) devices of our purchases this hour.
            weight, conv_weight: (w,) and (m,) sampling weights of the impressions and purchases
                (`OpportunityBatch.weight`): the rates count them as the plain population would. None: 1.0.
        """
        if device.size:
            k, c = self.k, creative.astype(np.int64)
            # flat indices and bincount: a tuple-indexed ufunc.at was 30x slower at 10,000 impressions
            np.add.at(self.shown.reshape(-1), device * k + c, _ONE32)  # what one device saw: its own, unweighted
            cell = context * k + c
            shape = self.clicks.shape
            hits = clicked if weight is None else clicked * weight
            self.clicks += np.bincount(cell, weights=hits, minlength=self.clicks.size).reshape(shape)
            self.imps += np.bincount(cell, weights=weight, minlength=self.imps.size).reshape(shape)
            self.last_click[device[clicked]] = cell[clicked].astype(np.int32)
        if conv_device.size:
            cell = self.last_click[conv_device]
            hit = cell >= 0
            credit = self.purchase_weight if conv_weight is None else self.purchase_weight * conv_weight[hit]
            np.add.at(self.clicks.reshape(-1), cell[hit], credit)

    def _start(self, day: int) -> None:
        if day != self._day:
            self.shown *= np.float32(self.params.decay ** (day - self._day))
            self._day = day

    def state_dict(self) -> dict[str, Any]:
        """Posteriors, the device table and the day (the hour's samples are drawn anew after a restore)."""
        return {"clicks": self.clicks.copy(), "imps": self.imps.copy(), "shown": self.shown.copy(),
                "last_click": self.last_click.copy(), "day": self._day}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.clicks, self.imps = np.array(s["clicks"]), np.array(s["imps"])
        self.shown, self.last_click = np.array(s["shown"], np.float32), np.array(s["last_click"], np.int32)
        self._day = int(s["day"])
        self._hour = -1


class WorldsCreatives:
    """Our creative selectors of a batch of worlds (Thompson mode), choosing for all worlds at once.

    Each world draws its hour's samples from its own stream as alone (a draw per world: the streams are
    sequential); the scoring of every opportunity (a hash, two gathers, the fatigue, an argmax) is one
    array program over the worlds' samples and `shown` tables end to end (the worlds' selectors view
    their rows), so each world's creatives are those its selector chooses alone.

    Args:
        selectors: each world's selector, of one configuration.
    """

    def __init__(self, selectors: Sequence[CreativeSelector]) -> None:
        first = selectors[0]
        for c in selectors:
            if (c.mode, c.k, c.params, c._theta.shape) != (first.mode, first.k, first.params, first._theta.shape):
                raise ValueError("a batch's creative selectors differ in more than their data")
        self.selectors = list(selectors)
        # (W + 1,) the worlds' device tables end to end (worlds have different numbers of devices)
        self.offsets = np.zeros(len(selectors) + 1, np.int64)
        np.cumsum([c.shown.shape[0] for c in selectors], out=self.offsets[1:])
        self._stack()

    def _stack(self) -> None:
        """One table of every world's `shown` and `last_click` rows (devices) and one (W, contexts, k) array
        of their clicks and impressions, which the worlds' selectors view."""
        self.shown = np.concatenate([c.shown for c in self.selectors])
        self.last_click = np.concatenate([c.last_click for c in self.selectors])
        for c, lo, hi in zip(self.selectors, self.offsets[:-1], self.offsets[1:], strict=True):
            c.shown, c.last_click = self.shown[lo:hi], self.last_click[lo:hi]
        self._views = [(c.shown, c.last_click) for c in self.selectors]
        self.clicks, self.imps = Stacked(self.selectors, "clicks"), Stacked(self.selectors, "imps")

    def _restack(self) -> None:
        """Stack again if a selector took new tables (a restored checkpoint)."""
        if any(c.shown is not s or c.last_click is not lc for c, (s, lc) in zip(self.selectors, self._views,
                                                                                 strict=True)):
            self._stack()

    def choose(self, t: int, world: np.ndarray, device: np.ndarray, context: np.ndarray,
               sizes: Sequence[int]) -> np.ndarray:
        """(N,) every world's `CreativeSelector.choose(t, device, context)` of its rows (world-major; `sizes`
        rows each), side by side."""
        first = self.selectors[0]
        for c in self.selectors:
            c._start(t // 24)
        if first.mode != "thompson":  # hashes of device and hour only: the same function of the rows
            return first.choose(t, device, context)
        # a world with no opportunity draws nothing this hour, as alone; the Beta parameters of every world at
        # once, each world's draw from its own stream
        a, b = beta_parameters(self.clicks.get(), self.imps.get(), first.params, first.params.samples)
        theta = [c._draw(t, (a[w], b[w])) if n else np.zeros_like(first._theta)
                 for w, (c, n) in enumerate(zip(self.selectors, sizes, strict=True))]
        if not len(device):
            return np.zeros(0, np.int8)
        self._restack()
        return _thompson(np.concatenate(theta), self.shown, first._fatigue, first.params.samples, t, device, context,
                         world * first._theta.shape[0], self.offsets[world])

    def observe(self, world: np.ndarray, device: np.ndarray, context: np.ndarray, creative: np.ndarray,
                clicked: np.ndarray, weight: np.ndarray, conv_world: np.ndarray, conv_device: np.ndarray,
                conv_weight: np.ndarray | None = None) -> None:
        """Every world's `CreativeSelector.observe` of its hour at once: the worlds' impressions of ours
        end to end (world-major, `world` of each) and their purchases (`conv_world` of each).

        Each world's counts add its own rows in its own order (`np.bincount` over `world * cells + cell`
        and `np.add.at` go row by row), impressions before purchases as alone, so each world learns what
        its selector learns alone.
        """
        self._restack()
        first = self.selectors[0]
        k, clicks, imps = first.k, self.clicks.get(), self.imps.get()
        cells = clicks[0].size
        if device.size:
            c = creative.astype(np.int64)
            at = self.offsets[world] + device  # rows of the stacked device tables
            np.add.at(self.shown.reshape(-1), at * k + c, _ONE32)
            cell = context * k + c
            flat = world * cells + cell
            clicks += np.bincount(flat, weights=clicked * weight, minlength=clicks.size).reshape(clicks.shape)
            imps += np.bincount(flat, weights=weight, minlength=imps.size).reshape(imps.shape)
            self.last_click[at[clicked]] = cell[clicked].astype(np.int32)
        if conv_device.size:
            cell = self.last_click[self.offsets[conv_world] + conv_device]
            hit = cell >= 0
            credit = first.purchase_weight if conv_weight is None else first.purchase_weight * conv_weight[hit]
            np.add.at(clicks.reshape(-1), conv_world[hit] * cells + cell[hit], credit)
