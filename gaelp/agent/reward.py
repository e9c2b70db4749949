"""The hourly reward of our campaign from the delayed-reward ledger, on our own logs.

Each click we paid for enters `gaelp.attribution.ledger.RewardLedger` as a pending touch, identified
by its device (what our pixel sees) and bought by the decision of its hour. A purchase our pixel
reports credits the device's pending clicks of the lookback window under the chosen attribution
model, so a purchase days after a click still pays then. The reward of an hour is the credit that
arrived in it minus what the hour cost; `close` advances, at a campaign's end, the expected value of
clicks still pending (the conversion-lag model of the value model) so the last days are not only cost.

What a purchase is worth (`reward_value`):

* `"target_cpa"` (default): every attributed purchase is worth the target CPA. Maximising
  `target CPA x purchases - spend` keeps the campaign's CAC under the target, which is what the
  CPA-constrained score asks; a policy rewarded with revenue (about 2x the target) would overspend.
* `"revenue"`: the revenue the pixel reports (profit-seeking).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaelp.attribution.ledger import RewardLedger
from gaelp.bidders.protocol import BidderOutcome

REWARD_VALUES = ("target_cpa", "revenue")


class HourlyReward:
    """Ledger-based reward, hour by hour.

    Args:
        channel_names: the market's channels.
        attribution: attribution model (a name of `gaelp.attribution.registry`).
        window_h: lookback window (hours).
        target_cpa: worth of a purchase under `reward_value="target_cpa"`.
        reward_value: `"target_cpa"` or `"revenue"`.
    """

    def __init__(self, channel_names: tuple[str, ...], attribution: str, window_h: int, target_cpa: float,
                 reward_value: str = "target_cpa") -> None:
        if reward_value not in REWARD_VALUES:
            raise ValueError(f"reward_value must be one of {', '.join(REWARD_VALUES)}, got {reward_value!r}")
        self.ledger = RewardLedger(channel_names, attribution, window_h=float(window_h))
        self.target_cpa, self.reward_value = float(target_cpa), reward_value
        self.credit = self.spend = self.revenue = self.purchases = 0.0

    def observe(self, outcome: BidderOutcome) -> float:
        """Record one hour and return its reward: credit that arrived minus spend."""
        t = outcome.batch.t
        clicked = np.flatnonzero(outcome.clicked)
        if clicked.size:
            self.ledger.touch(np.full(clicked.size, t, np.int64), np.full(clicked.size, float(t)),
                              outcome.batch.device[clicked], outcome.batch.channel[clicked].astype(np.int64))
        credit = 0.0
        # purchases count by their sampling weight (1.0 each in a plain world)
        self.purchases += float(outcome.conv_weight.sum())
        self.revenue += float((outcome.conv_value * outcome.conv_weight).sum())
        if outcome.conv_t.size:
            value = (np.full(outcome.conv_t.size, self.target_cpa) if self.reward_value == "target_cpa"
                     else outcome.conv_value) * outcome.conv_weight
            credit = self.ledger.convert(outcome.conv_t.astype(np.float64), outcome.conv_device, value).total
        if t % 24 == 23:
            self.ledger.expire(float(t))  # closed windows leave the pending table (zero rewards)
        spend = float(outcome.cost.sum())
        self.credit += credit
        self.spend += spend
        return credit - spend

    def close(self, t_end: int, p: float, mean_delay_h: float) -> float:
        """Advance the expected credit of pending clicks at the end of a campaign (hour `t_end`).

        Args:
            t_end: the hour after the last one played.
            p: P(a click converts within the window), e.g. the value model's mean estimate.
            mean_delay_h: mean click-to-purchase delay of the exponential lag model.
        """
        # a purchase's worth: the target CPA, or the mean revenue our pixel has reported (none seen: 0)
        worth = self.target_cpa if self.reward_value == "target_cpa" else self.revenue / max(self.purchases, 1)
        ev = self.ledger.close_episode(float(t_end), p=float(np.clip(p, 0.0, 1.0)),
                                       survival=lambda h: np.exp(-np.asarray(h) / mean_delay_h), value=worth)
        return ev.total

    def state_dict(self) -> dict[str, Any]:
        """Not persisted beyond totals: the ledger is rebuilt for each campaign."""
        return {"credit": self.credit, "spend": self.spend, "revenue": self.revenue, "purchases": self.purchases}
