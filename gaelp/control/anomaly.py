"""Anomaly detection on our own hourly stats: what an advertiser's dashboard would alarm on.

The detector keeps running sums of its recent normal hours (bids placed, impressions won, clicks,
spend) and tests each new hour against them:

* bid spike (before the auction): the hour's median positive bid is `bid_mult` times the usual one;
* spend spike: the hour spent `spend_mult` times the usual hourly spend (or the budget's hourly share,
  if more) and more than `min_spend_share` of the daily budget;
* CPC spike: the hour's cost per click is `cpc_mult` times the usual one (at least `min_clicks` clicks);
* CTR collapse: the clicks of the last 1, 2, ... `pool_hours` hours are below `ctr_drop` times what
  each channel's usual CTR gives for their impressions, and improbably few (Poisson tail below
  `p_value`): a large campaign is caught in its first hour, a small one once a few hours suffice
  (the channel mix alone moves an hour's CTR several-fold, a broken creative by ten);
* win-rate jump: we won nearly every bid (`win_rate_min`), more than `win_jump` and `z` standard errors
  above the usual share, and spent `win_spend_mult` times the usual hour (a paced bidder whose
  multiplier relaxes at night wins nearly all its few bids cheaply: not an anomaly).

Anomalous hours do not enter the baseline, so a fault that persists keeps being seen as one. Nothing
here knows the truth: the inputs are the advertiser's own logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import pdtr

FIELDS = ("bids", "spend", "hours")


def positive_median(bids: np.ndarray) -> float:
    """The median of the positive entries of `bids` (0.0 when there are none)."""
    pos = bids[bids > 0]
    return float(np.median(pos)) if pos.size else 0.0


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One alarm: its kind and a sentence saying why (observed against usual)."""

    kind: str
    why: str


@dataclass(frozen=True, slots=True)
class AnomalyParams:
    """Thresholds (assumptions, tuned so that no default world trips them; see the tests)."""

    warmup_hours: int = 24
    window_hours: int = 168
    bid_mult: float = 10.0
    spend_mult: float = 12.0
    min_spend_share: float = 0.15
    cpc_mult: float = 3.0
    min_clicks: int = 2
    p_value: float = 1e-4
    ctr_drop: float = 0.3
    pool_hours: int = 6
    win_jump: float = 0.4
    win_rate_min: float = 0.95
    win_spend_mult: float = 3.0
    z: float = 5.0


class AnomalyDetector:
    """Tests each hour of our own stats against the recent normal hours.

    Args:
        daily_budget: USD per day (scales the spend test).
        n_channels: channels our impressions and clicks are counted by (CTR differs tenfold between
            them, so the expected clicks of an hour follow its channel mix).
        params: thresholds.
    """

    def __init__(self, daily_budget: float, n_channels: int = 1, params: AnomalyParams | None = None) -> None:
        self.daily_budget = float(daily_budget)
        self.p = params or AnomalyParams()
        w = self.p.window_hours
        # rings of the last `window_hours` normal hours: bids, spend, 1 (an hour); wins and clicks by channel
        self.ring = np.zeros((len(FIELDS), w))
        self.wins = np.zeros((n_channels, w))
        self.clicks = np.zeros((n_channels, w))
        self.median_bids = np.zeros(w)
        self.n = 0  # normal hours folded in so far
        self.recent = np.zeros((2, self.p.pool_hours))  # expected and actual clicks of the last hours
        self._checked: tuple[np.ndarray, float] | None = None  # the bids `check_bids` saw and their median

    def ready(self) -> bool:
        """Enough normal hours seen to judge a new one."""
        return self.n >= self.p.warmup_hours

    def check_bids(self, bids: np.ndarray) -> Anomaly | None:
        """Before the auction: is the hour's median positive bid far above the usual median?"""
        med = positive_median(bids)
        self._checked = (bids, med)
        if not self.ready() or med == 0.0:
            return None
        past = self.median_bids[:min(self.n, self.p.window_hours)]
        past = past[past > 0]
        # the usual median is at least the smallest usual one: when even that cannot alarm, skip the median
        if past.size == 0 or med <= self.p.bid_mult * past.min():
            return None
        usual = float(np.median(past))
        if med > self.p.bid_mult * usual:
            return Anomaly("bid_spike", f"median bid ${med:.2f} vs usual ${usual:.2f}")
        return None

    def check_hour(self, bids: float, wins: np.ndarray, clicks: np.ndarray, spend: float) -> Anomaly | None:
        """After the auction: test the hour's own stats; fold it into the baseline if normal.

        Args:
            bids: opportunities we bid on (a sum of sampling weights in an importance-sampled world, as
                are wins; clicks and spend are the platform's charges there).  wins: (n_channels,) impressions
                we won.
            clicks: (n_channels,) our clicks.  spend: what we paid.
        """
        wins, clicks = np.atleast_1d(np.asarray(wins, np.float64)), np.atleast_1d(np.asarray(clicks, np.float64))
        expected = float(wins @ self._usual_ctr())
        found = self.judge(bids, wins.sum(), clicks.sum(), expected, spend) if self.ready() else None
        self.recent[:, 1:] = self.recent[:, :-1].copy()
        self.recent[:, 0] = (expected, clicks.sum())
        if found is None:
            i = self.n % self.p.window_hours
            self.ring[:, i] = (bids, spend, 1.0)
            self.wins[:, i], self.clicks[:, i] = wins, clicks
            self.n += 1
        else:
            self.recent[:] = 0.0  # pool afresh after an alarm
        return found

    def _usual_ctr(self) -> np.ndarray:
        """(n_channels,) usual CTR per channel, shrunk toward the overall CTR where a channel has few impressions."""
        w, c = self.wins.sum(axis=1), self.clicks.sum(axis=1)
        overall = c.sum() / max(w.sum(), 1.0)
        return (c + 50.0 * overall) / (w + 50.0)

    def note_bids(self, bids: np.ndarray) -> None:
        """Remember the hour's median positive bid (after a normal pre-auction check of the same array,
        whose median is reused)."""
        checked, self._checked = self._checked, None
        self.note_median(checked[1] if checked is not None and checked[0] is bids else positive_median(bids))

    def note_median(self, med: float) -> None:
        """Remember `med` as the hour's median positive bid (`note_bids` with the median known)."""
        self.median_bids[self.n % self.p.window_hours] = med

    def judge(self, bids: float, wins: float, clicks: float, expected: float, spend: float) -> Anomaly | None:
        """The tests of `check_hour` on the hour's totals (`expected`: the clicks the usual CTRs give its
        impressions), against the baseline as it stands; folds nothing in."""
        p = self.p
        hours = max(self.ring[2].sum(), 1.0)
        hourly = self.ring[1].sum() / hours
        # against the usual hour, or the budget's hour if we usually spend less (a campaign still learning)
        usual_spend = max(hourly, self.daily_budget / 24)
        if spend > p.spend_mult * usual_spend and spend > p.min_spend_share * self.daily_budget:
            return Anomaly("spend_spike", f"spent ${spend:.2f} in an hour vs usual ${hourly:.2f} "
                                          f"(budget per hour ${self.daily_budget / 24:.2f})")
        usual_clicks = self.clicks.sum()
        if clicks >= p.min_clicks and usual_clicks > 0:
            cpc, usual_cpc = spend / clicks, self.ring[1].sum() / usual_clicks
            if cpc > p.cpc_mult * usual_cpc:
                return Anomaly("cpc_spike", f"CPC ${cpc:.2f} vs usual ${usual_cpc:.2f}")
        if usual_clicks > 0:
            # the last 1, 2, ... pool_hours hours: a fault is caught as soon as its own hours suffice
            exp_k = expected + np.concatenate(([0.0], np.cumsum(self.recent[0])))[:p.pool_hours]
            clicks_k = clicks + np.concatenate(([0.0], np.cumsum(self.recent[1])))[:p.pool_hours]
            low = clicks_k < p.ctr_drop * exp_k
            if low.any():  # the Poisson tail (counts are whole numbers) only where the drop is there
                low &= pdtr(np.floor(clicks_k), exp_k) < p.p_value
            if low.any():
                k = int(np.argmax(low))
                return Anomaly("ctr_collapse", f"{int(clicks_k[k])} clicks in {k + 1} h where the usual CTR of "
                                               f"each channel gives {exp_k[k]:.1f}")
        usual_bids = self.ring[0].sum()
        if bids > 0 and usual_bids > 0:
            rate, usual_rate = wins / bids, self.wins.sum() / usual_bids
            se = np.sqrt(max(usual_rate * (1 - usual_rate), 1e-6) / bids)
            costly = spend > p.win_spend_mult * hourly
            if costly and rate >= p.win_rate_min and rate - usual_rate > max(p.win_jump, p.z * se):
                return Anomaly("win_rate_jump", f"won {rate:.0%} of bids vs usual {usual_rate:.0%}")
        return None

    def state_dict(self) -> dict[str, Any]:
        """Baseline and recent hours, for checkpoints."""
        return {"ring": self.ring.copy(), "wins": self.wins.copy(), "clicks": self.clicks.copy(),
                "median_bids": self.median_bids.copy(), "n": self.n, "recent": self.recent.copy()}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.ring = np.array(s["ring"], dtype=np.float64)
        self.wins = np.array(s["wins"], dtype=np.float64)
        self.clicks = np.array(s["clicks"], dtype=np.float64)
        self.median_bids = np.array(s["median_bids"], dtype=np.float64)
        self.n = int(s["n"])
        self.recent = np.array(s["recent"], dtype=np.float64)
