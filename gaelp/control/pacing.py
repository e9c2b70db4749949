"""Budget pacing: spend the daily budget along the day's traffic, not in the first hours.

Two pacers and the platform's promise:

* `DualPacer` plans the daily budget every day;
* `PromisePacer` plans more on a day of unusual traffic and less on a quiet one, within the promise;
* `BudgetPromise` is the promise itself (Google Ads): a day may cost up to 2x the daily budget, a
  billing period of 30 days at most 30.4x (what the safety layer lets the platform spend).

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

    def observe(self, t: int, n_opportunities: float, spend: float) -> None:
        """Fold in one hour: its traffic (opportunities, or their sum of sampling weights) and what was spent."""
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
        plan = self.day_target(hour) * self.forecast[: hour + 1].sum()
        hourly = max(self.daily_budget / 24, 1e-9)
        self.mu = max(0.0, self.mu + self.step * (self.spent_today - plan) / hourly / 24)

    def day_target(self, hour: int) -> float:
        """What today should cost in all, as judged at `hour`: the daily budget."""
        return self.daily_budget

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


MAX_DAY = 2.0  # Google Ads: a day may cost up to twice the average daily budget
PERIOD_MULT = 30.4  # ... and a month at most 30.4 times it
PERIOD_DAYS = 30  # our billing period: blocks of 30 simulated days from the start


class BudgetPromise:
    """The platform's promise on a daily budget: what one day may cost given the period so far.

    Args:
        daily_budget: the average daily budget, USD.
    """

    def __init__(self, daily_budget: float) -> None:
        self.daily_budget = float(daily_budget)
        self.period = -1
        self.period_spent = 0.0  # spent in the current period before today

    def allowance(self, day: int) -> float:
        """The most day `day` may cost: 2x the budget, and never past 30.4x over the period."""
        period = day // PERIOD_DAYS
        if period != self.period:
            self.period, self.period_spent = period, 0.0
        return max(0.0, min(MAX_DAY * self.daily_budget, PERIOD_MULT * self.daily_budget - self.period_spent))

    def close_day(self, spend: float) -> None:
        """Book a finished day's spend against the period."""
        self.period_spent += spend

    def state_dict(self) -> dict[str, Any]:
        """Period and its spend."""
        return {"period": self.period, "period_spent": self.period_spent}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.period, self.period_spent = int(s["period"]), float(s["period_spent"])


class PromisePacer(DualPacer):
    """A dual pacer whose day target follows the day's traffic, within the platform's promise.

    The target of a day is the daily budget times the ratio of the traffic seen so far to the traffic
    forecast for these hours (shrunk toward 1 early in the day by `prior` opportunities), at most 2x
    the budget and at most what leaves half a budget for each later day of the 30-day period.

    Args:
        daily_budget: USD per day.
        prior: opportunities of pseudo-traffic at the forecast rate that steady the early ratio.
    """

    def __init__(self, daily_budget: float, step: float = 0.3, forecast_decay: float = 0.7,
                 prior: float = 200.0) -> None:
        super().__init__(daily_budget, step, forecast_decay)
        self.prior = prior
        self.day_traffic = 0.0  # forecast opportunities of a whole day (0: none seen yet)
        self.period_spent = 0.0  # spent in this period before today

    def observe(self, t: int, n_opportunities: float, spend: float) -> None:
        """Fold in one hour; on a new day, book yesterday against the day forecast and the period."""
        day = t // 24
        if day != self._day and self._day >= 0:
            seen = float(self._today.sum())
            self.day_traffic = seen if self.day_traffic == 0 else (
                self.forecast_decay * self.day_traffic + (1 - self.forecast_decay) * seen)
            self.period_spent = 0.0 if day % PERIOD_DAYS == 0 else self.period_spent + self.spent_today
        super().observe(t, n_opportunities, spend)

    def day_target(self, hour: int) -> float:
        """Budget x today's traffic ratio, within 2x and the period's rest."""
        b = self.daily_budget
        if self.day_traffic <= 0:
            return b
        expected = self.day_traffic * float(self.forecast[: hour + 1].sum())
        ratio = (float(self._today.sum()) + self.prior) / (expected + self.prior)
        days_left = PERIOD_DAYS - 1 - self._day % PERIOD_DAYS
        rest = PERIOD_MULT * b - self.period_spent - 0.5 * b * days_left
        return max(0.0, min(MAX_DAY * b, b * ratio, rest))

    def state_dict(self) -> dict[str, Any]:
        """Running state."""
        return {**super().state_dict(), "day_traffic": self.day_traffic, "period_spent": self.period_spent}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        super().load_state_dict(s)
        self.day_traffic = float(s["day_traffic"])
        self.period_spent = float(s["period_spent"])
