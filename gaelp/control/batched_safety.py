"""The safety layers of a batch of worlds: every world's anomaly tests of the hour as one array program.

Each world of a batch (`gaelp.experiments.batched.BatchedWorlds`) keeps its own `SafetyLimits` and
`AnomalyDetector`; the detectors' rings are rows of (W, ...) arrays (`gaelp.stacked.Stacked`) that each
world's detector views, so that the batch tests every world's hour at once and a world alone (its
`state_dict`, a later hour) sees what the batch folded in.

Exactness: a world's outcome is decided by the same operations as alone. The hour's median positive bid
is a segmented median (`segment_medians`: the middle one or two of each world's bids, averaged as
`np.median` does); the sums a world folds into its state (each channel's usual CTR from its ring, the
hour's clicks) are row sums over the last, contiguous axis, which numpy adds pairwise per row as it adds
the world's own 1-D rows (tested). Whether an hour alarms is screened for every world at once with a
margin (`_MARGIN`) toward alarming, and only the worlds the screen cannot clear are judged by their own
detector (`AnomalyDetector.judge`, `check_bids`), which also writes the alarm's message: a screen that
lets through an hour that does not alarm costs one world's test, never a different outcome.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import pdtr

from gaelp.control.anomaly import Anomaly, AnomalyDetector, positive_median
from gaelp.control.safety import HourStats, SafetyLimits
from gaelp.stacked import Stacked

_MARGIN = 1e-6  # relative slack of the batched screens, toward letting an hour through to its world's test


def segment_medians(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(k,) the median of each of k consecutive segments of `values` (counts[i] values each; 0.0 if none).

    Equal to `np.median` of each segment bit for bit: the middle value, or the two middle values added
    and halved. One `np.partition` of a (k, width) grid: each row holds its segment behind enough -inf
    that every row's lower middle falls in the same column.

    Args:
        values: (sum(counts),) finite values, segment after segment.
        counts: (k,) int64 segment lengths.
    """
    k = counts.size
    out = np.zeros(k)
    if k == 0 or not counts.any():
        return out
    lo = (counts - 1) // 2  # rank of each segment's lower middle (-1 for an empty one)
    mid = int(lo.max())
    pad = mid - lo  # -inf ahead of each segment so that its lower middle is column `mid` once partitioned
    width = int((pad + counts).max()) + 1  # at least one +inf after the longest, so column mid + 1 exists
    grid = np.full((k, width), np.inf)
    grid[np.arange(width) < pad[:, None]] = -np.inf
    starts = np.cumsum(counts) - counts
    grid.reshape(-1)[np.arange(values.size) + np.repeat(np.arange(k) * width + pad - starts, counts)] = values
    part = np.partition(grid, (mid, mid + 1), axis=1)
    a, b = part[:, mid], part[:, mid + 1]
    has = counts > 0
    with np.errstate(invalid="ignore"):
        out[has] = np.where(counts[has] % 2 == 1, a[has], (a[has] + b[has]) / 2)
    return out


class WorldsDetector:
    """The anomaly detectors of several worlds (same thresholds and channels), tested as one.

    Args:
        detectors: one per world, in world order; their rings become rows of stacked arrays they view.
    """

    def __init__(self, detectors: Sequence[AnomalyDetector]) -> None:
        self.detectors = list(detectors)
        self.p = self.detectors[0].p
        if any(d.p != self.p for d in self.detectors):
            raise ValueError("a batch's anomaly detectors must share their thresholds")
        self.ring, self.wins, self.clicks, self.median_bids, self.recent = (
            Stacked(self.detectors, name) for name in ("ring", "wins", "clicks", "median_bids", "recent"))
        self.budget = np.array([d.daily_budget for d in self.detectors])

    def check_bids(self, sel: Sequence[int], intents: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The pre-auction screen of detectors `sel` (their `check_bids` of `intents`, one per detector).

        Returns:
            (k,) bool: whose hour may be a bid spike (`check_bids` decides; all others are normal), and
            (k,) the hour's median positive bid of each (what `note_bids` of the intent notes).
        """
        p, idx = self.p, np.asarray(sel, np.int64)
        values = np.concatenate(intents) if len(intents) > 1 else np.asarray(intents[0])
        world = np.repeat(np.arange(idx.size), [b.shape[0] for b in intents])
        pos = values > 0
        counts = np.bincount(world[pos], minlength=idx.size)
        med = segment_medians(values[pos], counts)
        n = np.array([self.detectors[i].n for i in sel], np.int64)
        past = self.median_bids.get()[idx]
        valid = (np.arange(p.window_hours) < np.minimum(n, p.window_hours)[:, None]) & (past > 0)
        smallest = np.where(valid, past, np.inf).min(axis=1)
        # alone: no test before the warm-up, without a positive bid or a usual median, or when even the
        # smallest usual median cannot alarm
        maybe = (n >= p.warmup_hours) & (counts > 0) & valid.any(axis=1) & (med > p.bid_mult * smallest)
        return maybe, med

    def check_hour(self, sel: Sequence[int], stats: Sequence[HourStats]) -> list[Anomaly | None]:
        """Each detector of `sel`'s `check_hour` of its hour's `stats`, as one: the anomaly each finds, and
        every normal hour folded into its detector's baseline."""
        p, idx, k = self.p, np.asarray(sel, np.int64), len(sel)
        every = k == len(self.detectors)  # every detector, in order (the usual hour): no gathers
        dets = [self.detectors[i] for i in sel]
        bids = np.array([s.bids for s in stats], np.float64)
        spend = np.array([s.spend for s in stats], np.float64)
        wins = np.stack([np.atleast_1d(np.asarray(s.wins, np.float64)) for s in stats])
        clicks = np.stack([np.atleast_1d(np.asarray(s.clicks, np.float64)) for s in stats])
        ring, win_ring, click_ring = (a.get() if every else a.get()[idx] for a in (self.ring, self.wins, self.clicks))
        # each channel's usual CTR and the clicks it gives the hour's impressions (`_usual_ctr`), per row
        w, c = win_ring.sum(axis=2), click_ring.sum(axis=2)
        ctr = (c + 50.0 * (c.sum(axis=1) / np.maximum(w.sum(axis=1), 1.0))[:, None]) / (w + 50.0)
        expected = np.array([float(a @ b) for a, b in zip(wins, ctr, strict=True)])  # each world's own dot
        hour_clicks = clicks.sum(axis=1)
        n = np.array([d.n for d in dets], np.int64)
        maybe = (n >= p.warmup_hours) & self._screen(idx, ring, win_ring, click_ring, bids, wins.sum(axis=1),
                                                     hour_clicks, expected, spend)
        found: list[Anomaly | None] = [None] * k
        for i in np.flatnonzero(maybe).tolist():
            found[i] = dets[i].judge(stats[i].bids, wins[i].sum(), clicks[i].sum(), float(expected[i]), stats[i].spend)
        alarm = np.array([f is not None for f in found])
        # the recent hours move on (and start afresh after an alarm); normal hours join the baseline
        recent = self.recent.get()
        moved = np.empty((k, *recent.shape[1:]))
        moved[:, :, 1:] = recent[idx, :, :-1]
        moved[:, 0, 0], moved[:, 1, 0] = expected, hour_clicks
        moved[alarm] = 0.0
        recent[idx] = moved
        normal = ~alarm
        at, col = idx[normal], n[normal] % p.window_hours
        self.ring.get()[at, :, col] = np.stack([bids[normal], spend[normal], np.ones(at.size)], axis=1)
        self.wins.get()[at, :, col] = wins[normal]
        self.clicks.get()[at, :, col] = clicks[normal]
        for i in np.flatnonzero(normal).tolist():
            dets[i].n += 1
        return found

    def _screen(self, idx: np.ndarray, ring: np.ndarray, win_ring: np.ndarray, click_ring: np.ndarray,
                bids: np.ndarray, wins: np.ndarray, clicks: np.ndarray, expected: np.ndarray,
                spend: np.ndarray) -> np.ndarray:
        """(k,) bool: which hours may alarm in `judge` (a superset: each comparison leans by `_MARGIN`)."""
        p, k = self.p, idx.size
        lean_up, lean_down = 1 + _MARGIN, 1 - _MARGIN
        budget = self.budget[idx]
        hours = np.maximum(ring[:, 2].sum(axis=1), 1.0)
        spent = ring[:, 1].sum(axis=1)
        hourly = spent / hours
        spike = (spend > p.spend_mult * np.maximum(hourly, budget / 24) * lean_down) & \
                (spend > p.min_spend_share * budget * lean_down)
        usual_clicks = click_ring.reshape(k, -1).sum(axis=1)
        usual_bids = ring[:, 0].sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cpc = (clicks >= p.min_clicks * lean_down) & (usual_clicks > 0) & \
                  (spend * usual_clicks > p.cpc_mult * spent * clicks * lean_down)
            recent = self.recent.get()[idx]
            exp_k = expected[:, None] + np.concatenate((np.zeros((k, 1)), np.cumsum(recent[:, 0], axis=1)),
                                                       axis=1)[:, :p.pool_hours]
            clicks_k = clicks[:, None] + np.concatenate((np.zeros((k, 1)), np.cumsum(recent[:, 1], axis=1)),
                                                        axis=1)[:, :p.pool_hours]
            low = clicks_k < p.ctr_drop * exp_k * lean_up
            at = np.flatnonzero(low)  # the Poisson tail only where the drop is there (few hours)
            if at.size:
                low.reshape(-1)[at] = pdtr(np.floor(clicks_k.reshape(-1)[at] * lean_down),
                                           exp_k.reshape(-1)[at] * lean_up) < p.p_value * 2
            collapse = (usual_clicks > 0) & low.any(axis=1)
            rate, usual_rate = wins / bids, win_ring.reshape(k, -1).sum(axis=1) / usual_bids
            se = np.sqrt(np.maximum(usual_rate * (1 - usual_rate), 1e-6) / bids)
            jump = (bids > 0) & (usual_bids > 0) & (spend > p.win_spend_mult * hourly * lean_down) & \
                   (rate >= p.win_rate_min * lean_down) & \
                   (rate - usual_rate > np.maximum(p.win_jump, p.z * se) - _MARGIN)
        return spike | cpc | collapse | jump


class WorldsSafety:
    """The safety limits of a batch's worlds, their anomaly detectors tested as one (`WorldsDetector`).

    `apply` and `test` are each world's `SafetyLimits.apply` and the detector's part of its `observe`.

    Args:
        safeties: one per world, in world order (their detectors, where on, must share thresholds).
    """

    def __init__(self, safeties: Sequence[SafetyLimits]) -> None:
        self.safeties = list(safeties)
        detectors = {w: s.detector for w, s in enumerate(self.safeties) if s.detector is not None}
        self.slot = {w: i for i, w in enumerate(detectors)}  # world -> its row of the stacked detectors
        self.detector = WorldsDetector(list(detectors.values())) if detectors else None
        self._detectors = detectors

    def apply(self, bids: Sequence[np.ndarray], t: int) -> list[np.ndarray]:
        """Each world's `SafetyLimits.apply(bids[w], t)`."""
        screened = [s.screen(b, t) for s, b in zip(self.safeties, bids, strict=True)]
        intents = {w: intent for w, (_, intent) in enumerate(screened) if intent is not None}
        found: list[Anomaly | None] = [None] * len(self.safeties)
        if intents and self.detector is not None:
            check = list(intents)
            maybe, med = self.detector.check_bids([self.slot[w] for w in check], list(intents.values()))
            for w, m, md in zip(check, maybe.tolist(), med.tolist(), strict=True):
                safe, intent = screened[w][0], intents[w]
                detector = self._detectors[w]
                if m:  # as alone
                    found[w] = detector.check_bids(intent)
                    if found[w] is None:
                        detector.note_bids(safe)
                else:
                    detector.note_median(md if safe is intent else positive_median(safe))
        return [s.admit(t, safe, f) for s, (safe, _), f in zip(self.safeties, screened, found, strict=True)]

    def test(self, stats: Sequence[HourStats | None]) -> None:
        """The detectors' test of each world's hour (`SafetyLimits.watch`'s stats; None: no test), then
        each world's `SafetyLimits.conclude`."""
        tested = {w: s for w, s in enumerate(stats) if s is not None}
        if not tested or self.detector is None:
            return
        found = self.detector.check_hour([self.slot[w] for w in tested], list(tested.values()))
        for (w, s), f in zip(tested.items(), found, strict=True):
            self.safeties[w].conclude(s, f)
