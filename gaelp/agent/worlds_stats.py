"""The reports of a batch's campaigns (`CampaignStats`, one per world), folded in and read as one.

The vector env steps its worlds' hours together; each world's bidder then hands its hour's outcome to
`WorldsStats.observe` (`AgentBidder.defer_report`), which folds every world's hour in with one array
program, and `WorldsStats.vectors` builds every world's observation at once. An hour is a few dozen
opportunities per world, so the numpy calls' fixed cost is most of a report's time; done once for the
worlds instead of once per world, every number is the one `CampaignStats.observe` and `vector` give
each world alone (each bin of the sums adds its own world's opportunities in batch order; tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gaelp.agent.stats import (
    DAY_OF_WEEK,
    DENOMINATORS,
    EMA,
    EMA_ROWS,
    HOUR_OF_DAY,
    N_GLOBAL,
    NUMERATORS,
    PER_CONTEXT,
    CampaignStats,
)
from gaelp.bidders.protocol import BidderOutcome
from gaelp.bidders.worlds import WorldRows

# (sin, cos) of each hour of the day (24, 2) and day of the week (7, 2): the numbers `CampaignStats.vector` reads
_HOUR_OF_DAY: np.ndarray = np.array(HOUR_OF_DAY)
_DAY_OF_WEEK: np.ndarray = np.array(DAY_OF_WEEK)
_VALUE_SCALE = np.array([1.0, 10.0])


class WorldsStats:
    """Every world's `CampaignStats.observe` and `vector` at once.

    The worlds' running state (last hour, moving averages, totals) lives here, stacked; each world's
    `CampaignStats` views its row (and reads and saves it as ever).

    Args:
        stats: each world's report, all of one market (the same contexts).
    """

    def __init__(self, stats: Sequence[CampaignStats]) -> None:
        self.stats = list(stats)
        self.n_ctx = self.stats[0].n_ctx
        if any(s.n_ctx != self.n_ctx for s in self.stats):
            raise ValueError("a batch's campaign reports must share their contexts")
        self.target_cpa = np.array([s.target_cpa for s in self.stats])
        self.daily_budget = np.array([s.daily_budget for s in self.stats])
        self.hourly_budget = np.maximum(self.daily_budget / 24, 1e-9)
        self.days = np.array([s.days for s in self.stats])
        self.start = np.array([s.start for s in self.stats], np.int64)
        self.budget = np.maximum(self.daily_budget * self.days, 1e-9)
        self._blocks = np.arange(6)[:, None] * self.n_ctx  # first bin of each of a world's six sums
        self._views: list[tuple[np.ndarray, ...]] = []
        self._stack()

    def _stack(self) -> None:
        """Stack the worlds' state; each world's report views its row."""
        self.hour = np.stack([s.hour for s in self.stats])
        self.ema = np.stack([s.ema for s in self.stats])
        self.totals = np.stack([s.totals for s in self.stats])
        self.t_next = np.array([s.t_next for s in self.stats], np.int64)
        self._bind()

    def _bind(self) -> None:
        for i, s in enumerate(self.stats):
            s.hour, s.ema, s.totals = self.hour[i], self.ema[i], self.totals[i]
        self._views = [(s.hour, s.ema, s.totals) for s in self.stats]

    def _restack(self) -> None:
        """Stack again if a world's report took new arrays (a restored state) or was observed alone."""
        if any(s.hour is not h or s.ema is not e or s.totals is not tot or s.t_next != t
               for s, (h, e, tot), t in zip(self.stats, self._views, self.t_next.tolist(), strict=True)):
            self._stack()

    def observe(self, hours: Sequence[tuple[int, BidderOutcome, np.ndarray]]) -> None:
        """Fold in the hours `(world, outcome, p)` (at most one per world): each world's
        `CampaignStats.observe(outcome, p)`."""
        if not hours:
            return
        k = np.array([w for w, _, _ in hours], np.int64)
        # each world's columns as its report lays them out (opportunities, wins, prices, clicks, estimates, spend),
        # the worlds side by side; bins world-major, so that each bin adds its world's opportunities in order
        values = np.concatenate([np.array([o.batch.weight, o.won, o.price, o.clicked, p, o.cost], np.float64)
                                 for _, o, p in hours], axis=1)
        self._fold(k, np.array([o.batch.t for _, o, _ in hours], np.int64), values,
                   np.repeat(np.arange(k.size), [o.batch.size for _, o, _ in hours]),
                   np.concatenate([o.batch.context for _, o, _ in hours]),
                   [float(o.conv_weight.sum()) if o.conv_weight.size else 0.0 for _, o, _ in hours])

    def observe_rows(self, rows: WorldRows, columns: Sequence[np.ndarray], p: np.ndarray,
                     conv_weight: Sequence[np.ndarray]) -> None:
        """`observe` of every world's hour, from the batch's columns: `rows` the hour's opportunities of every
        world, `columns` our (bids, slot won, price, clicked, cost) over them, `p` (N,) our estimates, and each
        world's pixel purchases' weights (the same numbers as `observe` of the worlds' outcomes, in world order)."""
        _, slot, price, clicked, cost = columns
        values = np.array([rows.weight, slot >= 0, price, clicked, p, cost], np.float64)
        self._fold(np.arange(rows.n_worlds), np.full(rows.n_worlds, rows.t, np.int64), values, rows.world,
                   rows.context, [float(w.sum()) if w.size else 0.0 for w in conv_weight])

    def _fold(self, k: np.ndarray, t: np.ndarray, values: np.ndarray, world: np.ndarray, ctx: np.ndarray,
              purchases: list[float]) -> None:
        """Fold in the hours of worlds `k` (at hours `t`): `values` (6, N) their columns side by side, `world` (N,)
        each column's position in `k`, `ctx` (N,) its context, and each world's purchases."""
        self._restack()
        n = self.n_ctx
        values[1:5] *= values[0]
        first = world * (6 * n)  # each row's world's bins
        sums = np.bincount((ctx + first + self._blocks).reshape(-1), weights=values.reshape(-1),
                           minlength=k.size * 6 * n).reshape(k.size, 6, n)
        opps, clicks, spend = sums[:, 0], sums[:, 3], sums[:, 5]
        den = sums[:, DENOMINATORS]
        rates = np.divide(sums[:, NUMERATORS], den, out=np.zeros((k.size, 4, n)), where=den > 0)
        hour = np.empty((k.size, PER_CONTEXT - 2, n))
        np.divide(opps, np.maximum(opps.sum(axis=1), 1.0)[:, None], out=hour[:, 0])
        hour[:, 1:4] = rates[:, :3]
        np.divide(rates[:, 1], self.target_cpa[k, None], out=hour[:, 2])  # the mean price won / target CPA x 10
        np.multiply(hour[:, 2], 10, out=hour[:, 2])
        np.divide(spend, self.hourly_budget[k, None], out=hour[:, 4])
        np.multiply(rates[:, 3], 10, out=hour[:, 5])
        every = k.size == len(self.stats) and bool((k == np.arange(k.size)).all())  # the usual hour: no gathers
        ema = (1 - EMA) * (self.ema if every else self.ema[k]) + EMA * hour[:, EMA_ROWS]
        totals = self.totals if every else self.totals[k]
        totals[t % 24 == 0, 3] = 0.0  # a new day's spend
        spent = spend.sum(axis=1)
        totals += np.stack([clicks.sum(axis=1), purchases, spent, spent], axis=1)
        if every:
            self.hour, self.ema = hour, ema
        else:
            self.hour[k], self.ema[k], self.totals[k] = hour, ema, totals
        self.t_next[k] = t + 1
        for i, tn in zip(k.tolist(), self.t_next[k].tolist(), strict=True):
            self.stats[i].t_next = tn
        self._bind()

    def vectors(self, value_summaries: np.ndarray, last_actions: np.ndarray) -> np.ndarray:
        """(worlds, obs_size) float32 every world's `CampaignStats.vector(value_summaries[w], last_actions[w])`."""
        self._restack()
        n, w, t = self.n_ctx, len(self.stats), self.t_next
        clicks, conv, spend, today = self.totals.T
        cac = np.minimum(spend / np.maximum(conv, 1.0) / self.target_cpa, 4.0)
        g, ema, act = N_GLOBAL - 2, N_GLOBAL + (PER_CONTEXT - 2) * n, N_GLOBAL + PER_CONTEXT * n  # offsets
        out = np.empty((w, act + last_actions.shape[1]), np.float32)
        out[:, 0:2] = _HOUR_OF_DAY[t % 24]
        out[:, 2:4] = _DAY_OF_WEEK[(t // 24) % 7]
        out[:, 4] = np.minimum((t - self.start) / (24 * self.days), 1.0)
        out[:, 5] = today / np.maximum(self.daily_budget, 1e-9)
        out[:, 6] = spend / self.budget
        out[:, 7] = clicks * self.target_cpa / self.budget / 10
        out[:, 8] = conv * self.target_cpa / self.budget
        out[:, 9] = cac
        out[:, g:N_GLOBAL] = value_summaries * _VALUE_SCALE
        out[:, N_GLOBAL:ema].reshape(w, n, -1)[:] = self.hour.transpose(0, 2, 1)
        out[:, ema:act].reshape(w, n, -1)[:] = self.ema.transpose(0, 2, 1)
        out[:, act:] = last_actions
        return out
