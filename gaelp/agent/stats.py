"""The policy's observation: our own hourly report, as an advertiser reads it in its ad account.

Only our own `BidderOutcome`s, our budget and the value model's summaries enter; all scaled to O(1)
and free of the audience's size (the budget grows with it), so a policy trained on small worlds reads
a large one alike. The vector (`obs_size(n_channels)` floats, float32):

    time:     sin, cos hour of the next hour; sin, cos weekday; share of the campaign played
    budget:   share of today's budget spent; share of the campaign's budget spent
    results:  so far: clicks and pixel purchases x target CPA / the campaign's budget (clicks / 10),
              pixel CAC / target CPA (capped at 4)
    value:    the value model's mean delay / window and mean estimated p x 10
    per (channel x intent), 8 each:
              last hour: share of the hour's opportunities, win rate, mean price won / target CPA x 10,
              clicks per impression won, spend / hourly budget, mean estimated p x 10;
              day-long moving averages of win rate and of spend / hourly budget
    action:   the previous action (log multipliers and pacing, in [-1, 1])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaelp.bidders.protocol import N_INTENTS, BidderOutcome

PER_CONTEXT = 8
N_GLOBAL = 5 + 2 + 3 + 2
EMA = 1.0 / 24.0  # weight of the newest hour in the day-long moving averages
# rows of the hour's sums (opportunities, wins, prices, clicks, estimates, spend): won/opps, price/won, ...
NUMERATORS, DENOMINATORS = np.array([1, 2, 3, 4]), np.array([0, 1, 1, 0])
EMA_ROWS = slice(1, 5, 3)  # the hour's rows the moving averages follow (1, 4): win rate, spend / hourly budget
# (sin, cos) of each hour of the day and each day of the week, as the observation computes them
HOUR_OF_DAY = [(np.sin(a), np.cos(a)) for a in (2 * np.pi * k / 24 for k in range(24))]
DAY_OF_WEEK = [(np.sin(a), np.cos(a)) for a in (2 * np.pi * k / 7 for k in range(7))]


def obs_size(n_channels: int) -> int:
    """Length of the observation vector."""
    n_ctx = n_channels * N_INTENTS
    return N_GLOBAL + PER_CONTEXT * n_ctx + n_ctx + 1


class CampaignStats:
    """Running report of our campaign, turned into the observation vector.

    Args:
        n_channels: channels of the market.
        daily_budget: our budget per day (USD).
        target_cpa: the campaign's target cost per acquisition (USD).
        days: campaign length.
        start: the campaign's first hour (0 in a simulation; a server's first hour when serving, whose hours
            count from the Unix epoch): the report's progress through the campaign counts from it.
    """

    def __init__(self, n_channels: int, daily_budget: float, target_cpa: float, days: int, start: int = 0) -> None:
        self.n_ctx = n_channels * N_INTENTS
        self.daily_budget, self.target_cpa, self.days = float(daily_budget), float(target_cpa), int(days)
        self.start = int(start)
        self.hour = np.zeros((PER_CONTEXT - 2, self.n_ctx))
        self.ema = np.zeros((2, self.n_ctx))
        self.totals = np.zeros(4)  # clicks, purchases, spend, spend today
        self.t_next = 0
        self._blocks = np.arange(0, 6 * self.n_ctx, self.n_ctx)[:, None]  # first bin of each of the six sums

    def observe(self, outcome: BidderOutcome, p: np.ndarray) -> None:
        """Fold in one hour: `outcome` and the value model's (n,) estimates for its opportunities.

        Opportunities, wins, clicks and purchases count by their sampling weight (`OpportunityBatch.weight`,
        1.0 in a plain world, where the sums are the plain counts); spend is charged by weight already.
        """
        b = outcome.batch
        if b.t % 24 == 0:
            self.totals[3] = 0.0
        n, w = self.n_ctx, b.weight
        # the six sums per context in one bincount (block k of the bins is sum k; each bin adds its
        # opportunities in batch order, as six bincounts would): the hour's fixed cost is most of it.
        # Opportunities, wins, prices, clicks and estimates by weight, then spend (charged by weight already)
        values = np.array([w, outcome.won, outcome.price, outcome.clicked, p, outcome.cost], np.float64)
        values[1:5] *= w
        sums = np.bincount((b.context + self._blocks).reshape(-1), weights=values.reshape(-1),
                           minlength=6 * n).reshape(6, n)
        opps, clicks, spend = sums[0], sums[3], sums[5]
        # win rate, mean price won, clicks per win, mean p: one division (0 where there is nothing to divide)
        den = sums[DENOMINATORS]
        rates = np.divide(sums[NUMERATORS], den, out=np.zeros((4, n)), where=den > 0)
        hour = np.empty((PER_CONTEXT - 2, n))
        np.divide(opps, max(opps.sum(), 1.0), out=hour[0])
        hour[1:4] = rates[:3]
        np.divide(rates[1], self.target_cpa, out=hour[2])  # the mean price won / target CPA x 10
        np.multiply(hour[2], 10, out=hour[2])
        np.divide(spend, max(self.daily_budget / 24, 1e-9), out=hour[4])
        np.multiply(rates[3], 10, out=hour[5])
        self.hour = hour
        self.ema = (1 - EMA) * self.ema + EMA * hour[EMA_ROWS]
        total_spend = float(spend.sum())
        self.totals += (float(clicks.sum()), float(outcome.conv_weight.sum()), total_spend, total_spend)
        self.t_next = b.t + 1

    def vector(self, value_summary: np.ndarray, last_action: np.ndarray) -> np.ndarray:
        """(obs_size,) float32 observation before hour `t_next` is played; `value_summary` is the value
        model's (mean delay / window, mean p)."""
        t = self.t_next
        clicks, conv, spend, today = self.totals.tolist()
        cac = min(spend / max(conv, 1.0) / self.target_cpa, 4.0)
        budget = max(self.daily_budget * self.days, 1e-9)
        g, ema, act = N_GLOBAL - 2, N_GLOBAL + self.hour.size, N_GLOBAL + PER_CONTEXT * self.n_ctx  # offsets
        out = np.empty(act + last_action.size, np.float32)
        out[:g] = (*HOUR_OF_DAY[t % 24], *DAY_OF_WEEK[(t // 24) % 7], min((t - self.start) / (24 * self.days), 1.0),
                   today / max(self.daily_budget, 1e-9), spend / budget,
                   clicks * self.target_cpa / budget / 10, conv * self.target_cpa / budget, cac)
        out[g:N_GLOBAL] = value_summary * (1.0, 10.0)
        out[N_GLOBAL:ema].reshape(self.n_ctx, -1)[:] = self.hour.T  # per context: its hour, then its averages
        out[ema:act].reshape(self.n_ctx, -1)[:] = self.ema.T
        out[act:] = last_action
        return out

    def state_dict(self) -> dict[str, Any]:
        """Running state."""
        return {"hour": self.hour.copy(), "ema": self.ema.copy(), "totals": self.totals.copy(),
                "t_next": self.t_next}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.hour, self.ema = np.array(s["hour"], np.float64), np.array(s["ema"], np.float64)
        self.totals, self.t_next = np.array(s["totals"], np.float64), int(s["t_next"])
