"""The rivals of a batch of worlds, one advertiser slot at a time, as one array program.

`batch_rivals` pairs each rival slot whose kind has a batched form (`rule`, `q_learning`,
`policy_gradient`, `rival_tcpa`) with one object that bids on every world's opportunities of the hour
(`WorldRows`) and learns from every world's outcome (`WorldOutcomes`) in one call each: the worlds'
tables are `Stacked` (W, ...) arrays that each world's own rival views, the exploration draws come from a
`WorldsRng` over the worlds' own draw seeds, the updates are bincounts over `world * cells + cell`. Each
world's rows get, bit for bit, what its own rival would give them alone (tests/bidders/test_worlds.py);
the per-world scalars (exploration rate, hours learned, pacer, CPA multiplier) stay the world's own
objects', read and written each hour. The batched forms read their rivals' configuration and draw seeds
(attributes private to this package) rather than keep copies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import numpy as np
from scipy.special import ndtri

from gaelp.bidders.learners import (
    _ACTION,
    _EXPLORE,
    _NOISE,
    PolicyGradientBidder,
    QLearningBidder,
    RivalTargetCpaBidder,
    _LearningRival,
    hour_bucket,
)
from gaelp.bidders.protocol import N_INTENTS, Bidder
from gaelp.bidders.rules import RuleBidder
from gaelp.bidders.value_models import WorldsClickValue
from gaelp.bidders.worlds import WorldOutcomes, WorldRows
from gaelp.rng import WorldsRng
from gaelp.stacked import Stacked, segment_sums


def _normal(u: np.ndarray) -> np.ndarray:
    """Standard normals of uniforms, in place, as the rivals alone draw them (np.clip's result by two ufuncs)."""
    return ndtri(np.minimum(np.maximum(u, 1e-12, out=u), 1 - 1e-12, out=u), out=u)


def _same(rivals: Sequence[Any], *names: str) -> bool:
    """Whether every world's rival has the same values of these attributes (their configuration)."""
    first = rivals[0]
    return all(np.array_equal(getattr(r, n), getattr(first, n)) for r in rivals for n in names)


class BatchedRule:
    """Every world's `RuleBidder` of one slot (stateless: a table and a counter-drawn spread)."""

    learns = False

    def __init__(self, rivals: Sequence[RuleBidder]) -> None:
        self.rivals, self.first = list(rivals), rivals[0]
        self.rng = WorldsRng([r._noise.seed for r in rivals])

    def bid(self, rows: WorldRows) -> np.ndarray:
        """(N,) every world's `RuleBidder.bid` of its rows."""
        sigma = self.first.sigma
        b = self.first._table.ravel()[rows.context]
        if sigma > 0 and b.size:
            spread = _normal(self.rng.uniform(rows.world, rows.device * 8 + rows.channel, rows.t, 1))
            spread *= sigma
            spread -= 0.5 * sigma**2
            b *= np.exp(spread, out=spread)
        return b

    def observe(self, out: WorldOutcomes) -> None:
        """Rules do not learn."""


R = TypeVar("R", bound=_LearningRival)


class _BatchedLearner(Generic[R]):
    """Shared parts: the worlds' rivals, their draws, their click-value models, the frozen fallback."""

    learns = True

    def __init__(self, rivals: Sequence[R]) -> None:
        self.rivals: list[R] = list(rivals)
        self.first: R = rivals[0]
        self.rng = WorldsRng([r._draws.seed for r in rivals])
        self.models = WorldsClickValue([r.model for r in rivals])

    def _uniform(self, rows: WorldRows, purpose: int, sel: np.ndarray | None = None) -> np.ndarray:
        """(N,) each row's draw for `purpose` as its world's rival draws it (or (k,) of the rows `sel`)."""
        key = rows.device * 8 + rows.channel
        if sel is None:
            return self.rng.uniform(rows.world, key, rows.t, purpose)
        return self.rng.uniform(rows.world[sel], key[sel], rows.t, purpose)

    def reward(self, out: WorldOutcomes, vpc: np.ndarray) -> np.ndarray:
        """(N,) `_LearningRival.reward` of every world's rows, given the worlds' (W, n_ctx) values per click."""
        rows, c = out.rows, out.clicks
        r = np.subtract(0.0, out.cost)
        if c.size:
            r[c] = rows.weight[c] * vpc[rows.world[c], rows.context[c]] - out.cost[c]
        return r

    def observe(self, out: WorldOutcomes) -> None:
        """Every world's rival learns from its own outcome (a batch with a frozen rival: each alone)."""
        if any(r.frozen for r in self.rivals):
            for r, o in zip(self.rivals, out.outcomes, strict=True):
                r.observe(o)
            self.models.forget()
            return
        self._learn(out)
        self.models.update(out)

    def _learn(self, out: WorldOutcomes) -> None:  # pragma: no cover
        raise NotImplementedError


class BatchedQLearning(_BatchedLearner[QLearningBidder]):
    """Every world's `QLearningBidder` of one slot: Q tables and visits as (W, states, levels) arrays."""

    def __init__(self, rivals: Sequence[QLearningBidder]) -> None:
        super().__init__(rivals)
        self.q, self.visits = Stacked(rivals, "q_"), Stacked(rivals, "visits_")
        self._cells: tuple[WorldRows, np.ndarray] | None = None

    def bid(self, rows: WorldRows) -> np.ndarray:
        """(N,) every world's `QLearningBidder.bid` of its rows."""
        return self.first._cell_bid[self.cells(rows)]

    def cells(self, rows: WorldRows) -> np.ndarray:
        """(N,) each row's chosen cell of its world's Q table (`QLearningBidder._cells`), kept for the outcome."""
        if self._cells is not None and self._cells[0] is rows:
            return self._cells[1]
        first = self.first
        n_levels, n_ctx = first.levels.size, first.n_channels * N_INTENTS
        start = hour_bucket(rows.t) * n_ctx
        greedy = np.argmax(self.q.get()[:, start:start + n_ctx] + first._tie, axis=2)  # (W, n_ctx)
        ctx = rows.context
        cell = (start + ctx) * n_levels + greedy[rows.world, ctx]
        epsilon = np.array([r.epsilon for r in self.rivals])
        explore = np.flatnonzero(self._uniform(rows, _EXPLORE) < epsilon[rows.world])
        if explore.size:
            random = (self._uniform(rows, _ACTION, explore) * n_levels).astype(np.int64)
            cell[explore] = (start + ctx[explore]) * n_levels + random
        self._cells = (rows, cell)
        return cell

    def _learn(self, out: WorldOutcomes) -> None:
        rows, first = out.rows, self.first
        entered = out.bids > 0
        q, visits_all = self.q.get(), self.visits.get()
        size = q[0].size
        cell = rows.world[entered] * size + self.cells(rows)[entered]
        n = np.bincount(cell, weights=rows.weight[entered], minlength=q.size)
        reward = self.reward(out, self.models.value_per_click()) if out.clicks.size else np.subtract(0.0, out.cost)
        total = np.bincount(cell, weights=reward[entered], minlength=q.size)
        seen = np.flatnonzero(n)
        n = n[seen]
        visits = visits_all.reshape(-1)[seen] + n
        visits_all.reshape(-1)[seen] = visits
        step = np.maximum(1.0 - (1.0 - first.alpha) ** n, n / np.maximum(visits, 1.0))
        flat = q.reshape(-1)
        flat[seen] += step * (total[seen] / n - flat[seen])
        for r in self.rivals:
            r.hours_ += 1
        self._cells = None


class BatchedPolicyGradient(_BatchedLearner[PolicyGradientBidder]):
    """Every world's `PolicyGradientBidder` of one slot: policies and baselines as (W, features) arrays."""

    def __init__(self, rivals: Sequence[PolicyGradientBidder]) -> None:
        super().__init__(rivals)
        self.theta, self.baseline = Stacked(rivals, "theta_"), Stacked(rivals, "baseline_")
        self._noise: tuple[WorldRows, np.ndarray, np.ndarray] | None = None

    def _dot_table(self, w: np.ndarray, t: int) -> np.ndarray:
        """(W, n_contexts * 2) `PolicyGradientBidder._dot_table` of each world's row of `w` (W, features)."""
        c = self.first.n_channels
        by_context = (w[:, :c, None] + w[:, None, c:c + N_INTENTS]) + w[:, c + N_INTENTS + hour_bucket(t), None, None]
        return (by_context[:, :, :, None] + w[:, -1, None, None, None] * np.array([0.0, 1.0])).reshape(len(w), -1)

    def noise(self, rows: WorldRows) -> tuple[np.ndarray, np.ndarray]:
        """(N,) normal draws and (N,) table rows (context * 2 + device type), kept for the outcome."""
        if self._noise is not None and self._noise[0] is rows:
            return self._noise[1], self._noise[2]
        z = _normal(self._uniform(rows, _NOISE))
        row = rows.context * 2
        row += rows.device_type
        self._noise = (rows, z, row)
        return z, row

    def bid(self, rows: WorldRows) -> np.ndarray:
        """(N,) every world's `PolicyGradientBidder.bid` of its rows."""
        z, row = self.noise(rows)
        w = rows.world
        log_bid = np.array([r.sigma for r in self.rivals])[w] * z
        table = self._dot_table(self.theta.get(), rows.t).reshape(len(self.rivals), -1, 2)
        log_bid += (self.first._log_reference.reshape(1, -1, 1) + table).reshape(len(self.rivals), -1)[w, row]
        return np.exp(log_bid, out=log_bid)

    def _learn(self, out: WorldOutcomes) -> None:
        rows, first, n_worlds = out.rows, self.first, len(self.rivals)
        t = rows.t
        sel = np.flatnonzero(out.bids > 0)
        world = rows.world[sel]
        bounds = np.searchsorted(world, np.arange(n_worlds + 1))
        active = np.flatnonzero(np.diff(bounds))  # a world with no bid this hour does not learn
        if active.size == 0:
            self._noise = None
            return
        z, row = self.noise(rows)
        z, row = z[sel], row[sel]
        channel, intent = rows.channel[sel].astype(np.intp), rows.intent[sel].astype(np.intp)
        desktop = rows.device_type[sel].astype(np.float64)
        w = rows.weight[sel]
        reward = self.reward(out, self.models.value_per_click()) if out.clicks.size else np.subtract(0.0, out.cost)
        adv = reward[sel]
        adv -= w * self._dot_table(self.baseline.get(), t)[world, row]
        n, sq = segment_sums(np.stack([w, adv**2 / w]), bounds)
        sigma = np.ones(n_worlds)
        scale = np.ones(n_worlds)
        for i in active.tolist():
            r = self.rivals[i]
            mean_sq = float(sq[i] / float(n[i]))
            r.adv_ms_ = 0.99 * r.adv_ms_ + 0.01 * mean_sq if r.hours_ else mean_sq
            scale[i] = math.sqrt(r.adv_ms_) + 1e-12
            sigma[i] = r.sigma
        n[n == 0] = 1.0  # worlds that do not learn this hour: any divisor
        weight = adv / scale[world]
        weight *= z
        weight /= sigma[world]
        sums = segment_sums(np.stack([weight, weight * desktop, adv, adv * desktop, w * desktop]), bounds)
        grad = self._grad(world, channel, intent, t, weight, sums[0], sums[1]) / n[:, None]
        baseline_grad = self._grad(world, channel, intent, t, adv, sums[2], sums[3])
        m = first.max_log_shift
        theta, baseline = self.theta.get(), self.baseline.get()
        theta[active] = np.minimum(np.maximum(theta + first.lr * grad, -m), m)[active]
        phi_sq = 3.0 * n + sums[4]
        baseline[active] += (first.baseline_lr * baseline_grad / np.maximum(phi_sq, 1.0)[:, None])[active]
        for i in active.tolist():
            self.rivals[i].hours_ += 1
        self._noise = None

    def _grad(self, world: np.ndarray, channel: np.ndarray, intent: np.ndarray, t: int, weight: np.ndarray,
              total: np.ndarray, desktop_total: np.ndarray) -> np.ndarray:
        """(W, features) `PolicyGradientBidder._grad` of each world's rows, given each world's (W,) sums of
        `weight` and of `weight * desktop` over its rows (`segment_sums`)."""
        n_worlds, c = len(self.rivals), self.first.n_channels
        g = np.zeros((n_worlds, self.first.n_features))
        g[:, :c] = np.bincount(world * c + channel, weights=weight, minlength=n_worlds * c).reshape(n_worlds, c)
        g[:, c:c + N_INTENTS] = np.bincount(world * N_INTENTS + intent, weights=weight,
                                            minlength=n_worlds * N_INTENTS).reshape(n_worlds, N_INTENTS)
        g[:, c + N_INTENTS + hour_bucket(t)] = total
        g[:, -1] = desktop_total
        return g


class BatchedTargetCpa(_BatchedLearner[RivalTargetCpaBidder]):
    """Every world's `RivalTargetCpaBidder` of one slot (its pacer and CPA target stay the world's own)."""

    def bid(self, rows: WorldRows) -> np.ndarray:
        """(N,) every world's `RivalTargetCpaBidder.bid` of its rows."""
        m = np.array([r.target.multiplier * r.target.fraction for r in self.rivals])
        pace = np.array([r.pacer.multiplier() for r in self.rivals])
        return ((m[:, None] * self.models.value_per_click()) * pace[:, None])[rows.world, rows.context]

    def _learn(self, out: WorldOutcomes) -> None:
        rows, c, n_worlds = out.rows, out.clicks, len(self.rivals)
        cost, volume = segment_sums(np.stack([out.cost, rows.weight]), rows.bounds)
        value = rows.weight[c] * self.models.value_per_click()[rows.world[c], rows.context[c]]
        (value,) = segment_sums(value[None], np.searchsorted(rows.world[c], np.arange(n_worlds + 1)))
        for r, spent, traffic, worth in zip(self.rivals, cost.tolist(), volume.tolist(), value.tolist(), strict=True):
            r.pacer.observe(rows.t, traffic, spent)
            r.target.observe(spent, worth)


_BATCHED: dict[type, tuple[type, tuple[str, ...]]] = {
    # kind -> its batched form, and the attributes (configuration) every world's rival must share
    RuleBidder: (BatchedRule, ("sigma", "_table")),
    QLearningBidder: (BatchedQLearning, ("n_channels", "levels", "alpha", "_tie", "_cell_bid")),
    PolicyGradientBidder: (BatchedPolicyGradient, ("n_channels", "lr", "baseline_lr", "max_log_shift",
                                                   "_log_reference")),
    RivalTargetCpaBidder: (BatchedTargetCpa, ("n_channels",)),
}

BatchedRival = BatchedRule | BatchedQLearning | BatchedPolicyGradient | BatchedTargetCpa


def batch_rivals(bidders: Sequence[Sequence[Bidder]], ours: int) -> dict[int, BatchedRival]:
    """The batched form of each advertiser slot (but `ours`) whose rivals in every world are of one kind that
    has one and share its configuration; other slots bid and learn world by world.

    Args:
        bidders: each world's advertisers, in slot order (the same number in every world).
        ours: our slot, never batched.
    """
    out: dict[int, BatchedRival] = {}
    for j in range(len(bidders[0])):
        slot = [b[j] for b in bidders]
        kind = type(slot[0])
        if j == ours or kind not in _BATCHED or any(type(b) is not kind for b in slot):
            continue
        form, config = _BATCHED[kind]
        if _same(slot, *config):
            out[j] = form(slot)
    return out
