"""Anomaly detection on our own hourly stats: what an advertiser's dashboard would alarm on.

The detector keeps running sums of its recent normal hours (bids placed, impressions won, clicks,
spend) and tests each new hour against them:

* bid spike (before the auction): the hour's median positive bid is `bid_mult` times the usual one;
* spend spike: the hour spent `spend_mult` times the usual hourly spend and more than
  `min_spend_share` of the daily budget;
* CPC spike: the hour's cost per click is `cpc_mult` times the usual one (at least `min_clicks` clicks);
* CTR collapse: the CTR of the last 1, 2, ... `pool_hours` hours is below `ctr_drop` times the usual
  one and improbably low for their impressions (Poisson tail below `p_value`): a large campaign is
  caught in its first hour, a small one once a few hours suffice; the mix of what we win moves CTR
  by half between hours, a broken creative by ten;
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
from scipy.stats import poisson

FIELDS = ("bids", "wins", "clicks", "spend", "hours")


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
        params: thresholds.
    """

    def __init__(self, daily_budget: float, params: AnomalyParams | None = None) -> None:
        self.daily_budget = float(daily_budget)
        self.p = params or AnomalyParams()
        # ring of the last `window_hours` normal hours, one row per FIELD
        self.ring = np.zeros((len(FIELDS), self.p.window_hours))
        self.median_bids = np.zeros(self.p.window_hours)
        self.n = 0  # normal hours folded in so far
        self.recent = np.zeros((2, self.p.pool_hours))  # wins and clicks of the last hours, for pooled CTR

    def _usual(self) -> dict[str, float]:
        tot = dict(zip(FIELDS, self.ring.sum(axis=1), strict=True))
        return tot

    def ready(self) -> bool:
        """Enough normal hours seen to judge a new one."""
        return self.n >= self.p.warmup_hours

    def check_bids(self, bids: np.ndarray) -> Anomaly | None:
        """Before the auction: is the hour's median positive bid far above the usual median?"""
        pos = bids[bids > 0]
        if not self.ready() or pos.size == 0:
            return None
        k = min(self.n, self.p.window_hours)
        usual = float(np.median(self.median_bids[:k][self.median_bids[:k] > 0])) if (self.median_bids[:k] > 0).any() \
            else 0.0
        med = float(np.median(pos))
        if usual > 0 and med > self.p.bid_mult * usual:
            return Anomaly("bid_spike", f"median bid ${med:.2f} vs usual ${usual:.2f}")
        return None

    def check_hour(self, bids: int, wins: int, clicks: int, spend: float) -> Anomaly | None:
        """After the auction: test the hour's own stats; fold it into the baseline if normal.

        Args:
            bids: opportunities we bid on.  wins: impressions we won.  clicks: our clicks.
            spend: what we paid.
        """
        found = self._test(bids, wins, clicks, spend) if self.ready() else None
        self.recent = np.roll(self.recent, 1, axis=1)
        self.recent[:, 0] = (wins, clicks)
        if found is None:
            i = self.n % self.p.window_hours
            self.ring[:, i] = (bids, wins, clicks, spend, 1.0)
            self.n += 1
        else:
            self.recent[:] = 0.0  # pool afresh after an alarm
        return found

    def note_bids(self, bids: np.ndarray) -> None:
        """Remember the hour's median positive bid (after a normal pre-auction check)."""
        pos = bids[bids > 0]
        self.median_bids[self.n % self.p.window_hours] = float(np.median(pos)) if pos.size else 0.0

    def _test(self, bids: int, wins: int, clicks: int, spend: float) -> Anomaly | None:
        u = self._usual()
        p = self.p
        hourly = u["spend"] / max(u["hours"], 1.0)
        if spend > p.spend_mult * hourly and spend > p.min_spend_share * self.daily_budget:
            return Anomaly("spend_spike", f"spent ${spend:.2f} in an hour vs usual ${hourly:.2f}")
        if clicks >= p.min_clicks and u["clicks"] > 0:
            cpc, usual_cpc = spend / clicks, u["spend"] / u["clicks"]
            if cpc > p.cpc_mult * usual_cpc:
                return Anomaly("cpc_spike", f"CPC ${cpc:.2f} vs usual ${usual_cpc:.2f}")
        if u["wins"] > 0 and u["clicks"] > 0:
            ctr = u["clicks"] / u["wins"]
            # the last 1, 2, ... pool_hours hours: a fault is caught as soon as its own hours suffice
            wins_k = wins + np.concatenate(([0.0], np.cumsum(self.recent[0])))[:p.pool_hours]
            clicks_k = clicks + np.concatenate(([0.0], np.cumsum(self.recent[1])))[:p.pool_hours]
            low = (clicks_k < p.ctr_drop * ctr * wins_k) & (poisson.cdf(clicks_k, wins_k * ctr) < p.p_value)
            if low.any():
                k = int(np.argmax(low))
                return Anomaly("ctr_collapse", f"{int(clicks_k[k])} clicks from {int(wins_k[k])} impressions in "
                                               f"{k + 1} h vs usual CTR {ctr:.2%}")
        if bids > 0 and u["bids"] > 0:
            rate, usual_rate = wins / bids, u["wins"] / u["bids"]
            se = np.sqrt(max(usual_rate * (1 - usual_rate), 1e-6) / bids)
            costly = spend > p.win_spend_mult * hourly
            if costly and rate >= p.win_rate_min and rate - usual_rate > max(p.win_jump, p.z * se):
                return Anomaly("win_rate_jump", f"won {rate:.0%} of bids vs usual {usual_rate:.0%}")
        return None

    def state_dict(self) -> dict[str, Any]:
        """Baseline and recent hours, for checkpoints."""
        return {"ring": self.ring.copy(), "median_bids": self.median_bids.copy(), "n": self.n,
                "recent": self.recent.copy()}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.ring = np.array(s["ring"], dtype=np.float64)
        self.median_bids = np.array(s["median_bids"], dtype=np.float64)
        self.n = int(s["n"])
        self.recent = np.array(s["recent"], dtype=np.float64)
