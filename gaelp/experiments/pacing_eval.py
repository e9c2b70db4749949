"""How well our pacing keeps the platform's promise, measured on a simulated campaign.

Figures: the largest day's spend over the daily budget (promise: at most 2), the largest 30-day
period's spend over the budget (promise: at most 30.4), and per day the hour by which half of the day's
spend was gone against the hour by which half of the day's traffic has come (the world's own
hourly profile): a pacer that follows traffic spends its first half as late as the traffic does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaelp.bidders.protocol import OURS
from gaelp.config import Config
from gaelp.control.pacing import PERIOD_DAYS
from gaelp.experiments.campaign import run_campaign


def half_hour(hourly: np.ndarray) -> np.ndarray:
    """(n_days,) the hour of day by whose end half of each day's total is reached (-1 for an empty day).

    Args:
        hourly: (n_days, 24) amounts per hour.
    """
    total = hourly.sum(axis=1, keepdims=True)
    reached = np.cumsum(hourly, axis=1) >= 0.5 * total
    return np.where(total[:, 0] > 0, np.argmax(reached, axis=1), -1)


def pacing_figures(cfg: Config, bidder: str | None = None) -> dict[str, Any]:
    """Run `cfg` and measure its pacing (see the module docstring)."""
    spend = np.zeros((cfg.days, 24))

    def collect(log) -> None:
        imp = log.impressions
        ours = imp["advertiser"] == OURS
        spend[log.day] = np.bincount(imp["t"][ours] % 24, weights=imp["cost"][ours], minlength=24)

    res = run_campaign(cfg, bidder, on_day=collect)
    sim = res.sim
    budget = float(sim.budget[OURS])
    day_spend = spend.sum(axis=1)
    periods = [day_spend[i:i + PERIOD_DAYS].sum() for i in range(0, cfg.days, PERIOD_DAYS)]
    traffic_half = int(np.argmax(sim.calendar.hour_cdf >= 0.5))
    halves = half_hour(spend)
    return {"bidder": res.bidder, "pacing": cfg.campaign.pacing, "budget": round(budget, 4),
            "max_day_over_budget": round(float(day_spend.max() / budget), 4),
            "max_period_over_budget": round(float(max(periods) / budget), 4),
            "period_days": PERIOD_DAYS, "traffic_half_hour": traffic_half,
            "spend_half_hour": {"median": float(np.median(halves[halves >= 0])) if (halves >= 0).any() else None,
                                "min": int(halves[halves >= 0].min()) if (halves >= 0).any() else None},
            "days_exhausted_by_noon": int(np.sum((day_spend > 0) & (spend[:, 12:].sum(axis=1) < 1e-9))),
            "daily": res.daily(), "events": res.safety_events()}
