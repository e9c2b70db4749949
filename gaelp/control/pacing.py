"""Budget pacing: spend the daily budget along the day's traffic, not in the first hours.

`DualPacer` is the dual-gradient pacer of Balseiro and Gur (2019): bids are shaded as
`value / (1 + mu)` and the multiplier `mu >= 0` follows the gap between actual and planned spend.
The plan allocates the daily budget over hours by a traffic forecast that the advertiser learns from
the opportunities it sees (its own logs), not from the simulator.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class DualPacer:
    """Dual-gradient budget pacing with a learned hourly traffic forecast.

    Args:
        daily_budget: USD per day.
        step: gradient step on mu, per unit of (spend - plan) / hourly budget.
        forecast_decay: weight of the old forecast when a day's traffic is folded in.
    """

    def __init__(self, daily_budget: float, step: float = 0.3, forecast_decay: float = 0.7) -> None:
        self.daily_budget = float(daily_budget)
        self.step = step
        self.forecast_decay = forecast_decay
        self.mu = 0.0
        self.forecast = np.full(24, 1 / 24)
        self._today = np.zeros(24)
        self._day = -1
        self.spent_today = 0.0

    def multiplier(self) -> float:
        """Current bid multiplier 1 / (1 + mu)."""
        return 1.0 / (1.0 + self.mu)

    def observe(self, t: int, n_opportunities: int, spend: float) -> None:
        """Fold in one hour: its traffic and what was spent."""
        day, hour = divmod(t, 24)
        if day != self._day:
            if self._day >= 0 and self._today.sum() > 0:
                self.forecast = (self.forecast_decay * self.forecast
                                 + (1 - self.forecast_decay) * self._today / self._today.sum())
            self._today = np.zeros(24)
            self._day = day
            self.spent_today = 0.0
        self._today[hour] += n_opportunities
        self.spent_today += spend
        plan = self.daily_budget * self.forecast[: hour + 1].sum()
        hourly = max(self.daily_budget / 24, 1e-9)
        self.mu = max(0.0, self.mu + self.step * (self.spent_today - plan) / hourly / 24)

    def state_dict(self) -> dict[str, Any]:
        """Running state."""
        return {"mu": self.mu, "forecast": self.forecast.tolist(), "today": self._today.tolist(),
                "day": self._day, "spent_today": self.spent_today}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.mu = float(s["mu"])
        self.forecast = np.asarray(s["forecast"], dtype=np.float64)
        self._today = np.asarray(s["today"], dtype=np.float64)
        self._day = int(s["day"])
        self.spent_today = float(s["spent_today"])
