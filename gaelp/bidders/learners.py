"""Rivals that learn from their own outcomes: `q_learning`, `policy_gradient` and `rival_tcpa`.

Each is an independent advertiser built from its `CompetitorConfig` (value of a sale, budget,
reference CPC x channel x query-intent multipliers) and its own RNG stream. It sees only its own
`BidderOutcome`: wins, slots, prices, clicks, costs and the conversions its own pixel reports (by
device id). It never sees another advertiser's bid.

**Reward.** The Q-learner and the policy gradient maximise their own profit: the value of the
conversions their clicks bring minus what they pay. Conversions arrive days after the click and are
rare, so a click is valued by the bidder's own estimate, and the reward of one opportunity is

    reward = clicked x value_per_click_hat(channel, intent) - cost

`ClickValueModel` learns `value_per_click_hat` by crediting each pixel conversion to the last click
of the same device within the lookback window (a device table, `DeviceLog`). Clicks and costs are the
outcome itself, not a model of it: with a fitted CTR per slot in their place, the learners climbed a
profit that was not there (measured: their own profit estimate rose 20% after a shock while their
true ad profit fell 30%), because the CTR an advertiser really gets falls as the same people see its
ad again (fatigue), which a per-slot average does not see. Losing costs nothing and earns nothing
(reward 0). The target-CPA rival (`rival_tcpa`) is the industry's
other objective: volume at a cost per conversion (`CpaTarget`).

**Sampling weights.** In an importance-sampled world every opportunity and pixel conversion carries
its person's weight (`OpportunityBatch.weight`, `BidderOutcome.conv_weight`; 1.0 in a plain world).
The learners fold each observation in with it: Q values and the policy gradient are weighted means,
visit counts, click counts and credit weighted sums, so that what they learn is what the plain
population would have taught them (a Monte-Carlo device: a real advertiser has no such weights).

**Determinism.** Exploration draws are counter-based hashes of (device, channel, hour) under the
bidder's own seed, so a bid is a pure function of (learned state, batch) and a counterfactual
replay draws the same exploration for the same opportunity.

**Freezing.** `frozen = True` keeps the current policy (including its exploration) and stops every
update: the twin that measures what learning after a shock is worth.

**Persistence.** `state_dict()` holds arrays and scalars only; `gaelp.bidders.state` writes
them to one `.npz` checkpoint when no journey store is configured. The value models they learn
with (`ClickValueModel`, `CpaTarget`) are in `gaelp.bidders.value_models`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.special import ndtri

from gaelp.bidders.protocol import (
    N_INTENTS,
    BaseBidder,
    BidderContext,
    BidderOutcome,
    OpportunityBatch,
)

# The device table is the advertiser's own log, shared with our baselines.
from gaelp.bidders.value_models import ClickValueModel, CpaTarget
from gaelp.config import CompetitorConfig
from gaelp.control.pacing import DualPacer
from gaelp.rng import CounterRng

HOUR_BUCKETS = 4  # 0-5, 6-11, 12-17, 18-23
_EXPLORE, _ACTION, _NOISE = 1, 2, 3  # counter-draw purposes


def _competitor(ctx: BidderContext, kind: str) -> CompetitorConfig:
    if ctx.competitor is None:
        raise ValueError(f"the {kind!r} bidder is a competitor: its context needs a CompetitorConfig")
    return ctx.competitor


def hour_bucket(t: int) -> int:
    """Hour-of-day bucket of hour `t` (0..HOUR_BUCKETS-1)."""
    return (t % 24) * HOUR_BUCKETS // 24


class _LearningRival(BaseBidder):
    """Shared parts: reference bids, own value model, exploration draws, the frozen flag."""

    learns = True

    def __init__(self, ctx: BidderContext, kind: str) -> None:
        comp = _competitor(ctx, kind)
        super().__init__(comp.name, ctx.daily_budget)
        cfg = ctx.config
        self.n_channels = len(cfg.world.channels)
        self.reference = comp.base_cpc * np.outer(np.asarray(comp.channel_mult), np.asarray(comp.intent_mult))
        # device ids seen by a pixel: up to three per person of the audience
        v = cfg.market.learners.value
        self.model = ClickValueModel(self.n_channels, comp.value, v.window_h, v.prior_cvr, v.strength, v.incrementality,
                                     device_capacity=3 * cfg.users)
        self.frozen = False
        self._draws = CounterRng(int(ctx.rng.integers(2**62)))

    def _uniform(self, batch: OpportunityBatch, purpose: int, rows: np.ndarray | None = None) -> np.ndarray:
        """(n,) counter-based uniforms of the opportunities for `purpose` (or (k,) of `rows` only, the same values)."""
        key = batch.device * 8 + batch.channel
        return self._draws.uniform(key if rows is None else key[rows], batch.t, purpose)

    def reward(self, outcome: BidderOutcome, clicks: np.ndarray | None = None) -> np.ndarray:
        """(n,) what each opportunity earned, times its sampling weight: its click's estimated value minus
        what was paid (the platform's charge already carries the weight; in a plain world, weight 1).

        Args:
            outcome: the hour's outcome.
            clicks: (k,) indices of the clicked opportunities, if the caller already has them.
        """
        if clicks is None:
            clicks = np.flatnonzero(outcome.clicked)
        r = np.subtract(0.0, outcome.cost)
        if clicks.size:  # most hours of a small audience have none, and then no value estimate is needed
            value = self.model.value_per_click()[outcome.batch.context[clicks]]
            r[clicks] = outcome.weight[clicks] * value - outcome.cost[clicks]
        return r

    def observe(self, outcome: BidderOutcome) -> None:
        """Learn from the hour (nothing when frozen)."""
        if self.frozen:
            return
        clicks = np.flatnonzero(outcome.clicked)
        self._learn(outcome, clicks)
        self.model.update(outcome, clicks)

    def _learn(self, outcome: BidderOutcome, clicks: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError


class QLearningBidder(_LearningRival):
    """Tabular Q-learning over (hour bucket, channel, intent) states and discrete bid levels.

    Action `a` bids `levels[a] x` the reference bid of the (channel, intent). The context state does
    not depend on the bid (the next query comes whatever we bid), so the discount is 0 and Q(s, a)
    is the running mean reward of bidding level a in state s: a sample mean at first, then an
    exponential average with step `alpha` so that it tracks a market that moves. Epsilon-greedy with
    epsilon decaying from `epsilon0` to `epsilon_min` over `decay_hours` hours of learning.

    Args:
        ctx: its context (competitor config, rng).
        levels: bid multipliers of the actions.
        alpha: floor of the step size per observation.
    """

    def __init__(self, ctx: BidderContext) -> None:
        super().__init__(ctx, "q_learning")
        q = ctx.config.market.learners.q_learning
        self.levels = np.asarray(tuple(np.geomspace(q.level_min, q.level_max, q.levels)), np.float64)
        self.alpha, self.epsilon0, self.epsilon_min, self.decay_hours = q.alpha, q.epsilon0, q.epsilon_min, q.decay_hours
        n_states = HOUR_BUCKETS * self.n_channels * N_INTENTS
        self.q_ = np.zeros((n_states, self.levels.size))
        self.visits_ = np.zeros((n_states, self.levels.size))
        self.hours_ = 0
        # Breaks exact ties (unvisited actions) toward the reference bid.
        self._tie = -1e-9 * np.abs(np.log(self.levels))
        # the bid of every cell (state, action): reference bid of the state's context x level
        self._cell_bid = (np.tile(self.reference.ravel(), HOUR_BUCKETS)[:, None] * self.levels).ravel()
        self._cells_cache: tuple | None = None

    @property
    def epsilon(self) -> float:
        """Current exploration rate."""
        decay = np.exp(-self.hours_ / self.decay_hours)
        return float(self.epsilon_min + (self.epsilon0 - self.epsilon_min) * decay)

    def state(self, batch: OpportunityBatch) -> np.ndarray:
        """(n,) state index: (hour bucket * n_channels + channel) * 3 + intent."""
        return hour_bucket(batch.t) * self.n_channels * N_INTENTS + batch.context

    def actions(self, batch: OpportunityBatch) -> tuple[np.ndarray, np.ndarray]:
        """(n,) states and (n,) epsilon-greedy actions (the same for the batch it bid on and its outcome:
        the table changes only after the outcome, so the choice is kept rather than drawn again)."""
        return np.divmod(self._cells(batch), self.levels.size)

    def _cells(self, batch: OpportunityBatch) -> np.ndarray:
        """(n,) chosen cells of the Q table, state * n_levels + action (cached for the batch's outcome)."""
        cached = self._cells_cache
        if cached is not None and cached[0] is batch and cached[1] == self.hours_:
            return cached[2]
        n_levels, n_ctx = self.levels.size, self.n_channels * N_INTENTS
        # Every state of the batch is in one hour bucket: the greedy cell of each of its contexts.
        first = hour_bucket(batch.t) * n_ctx
        greedy = np.argmax(self.q_[first:first + n_ctx] + self._tie, axis=1)
        cell = ((first + np.arange(n_ctx)) * n_levels + greedy)[batch.context]
        explore = np.flatnonzero(self._uniform(batch, _EXPLORE) < self.epsilon)
        if explore.size:  # the action draw matters only where exploration fires
            random = (self._uniform(batch, _ACTION, explore) * n_levels).astype(np.int64)
            cell[explore] = (first + batch.context[explore]) * n_levels + random
        self._cells_cache = (batch, self.hours_, cell)
        return cell

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """Reference bid of the context times the chosen level."""
        return self._cell_bid[self._cells(batch)]

    def _learn(self, outcome: BidderOutcome, clicks: np.ndarray) -> None:
        entered = outcome.bids > 0
        cell = self._cells(outcome.batch)[entered]
        size = self.q_.size
        # observations count by their sampling weight (whole counts in a plain world: the same sums)
        n = np.bincount(cell, weights=outcome.weight[entered], minlength=size)
        total = np.bincount(cell, weights=self.reward(outcome, clicks)[entered], minlength=size)
        # Only the cells played this hour change: the same elementwise arithmetic, on them alone.
        seen = np.flatnonzero(n)
        n = n[seen]
        visits = self.visits_.reshape(-1)[seen] + n
        self.visits_.reshape(-1)[seen] = visits
        # n observations of step max(alpha, 1/visits) toward their mean, in one move.
        step = np.maximum(1.0 - (1.0 - self.alpha) ** n, n / np.maximum(visits, 1.0))
        q = self.q_.reshape(-1)
        q[seen] += step * (total[seen] / n - q[seen])
        self.hours_ += 1

    def state_dict(self) -> dict[str, Any]:
        """Q table, visit counts, hours of learning and the value model."""
        return {"q": self.q_.copy(), "visits": self.visits_.copy(), "hours": self.hours_,
                "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.q_ = np.array(state["q"], np.float64)
        self.visits_ = np.array(state["visits"], np.float64)
        self.hours_ = int(state["hours"])
        self._cells_cache = None
        self.model.load_state_dict(state["model"])


class PolicyGradientBidder(_LearningRival):
    """A Gaussian policy on the log bid, trained by REINFORCE with a learned linear baseline.

    log bid = log(reference(channel, intent)) + theta . phi(x) + sigma z, z ~ N(0, 1), with features
    phi = [channel one-hot, intent one-hot, hour-bucket one-hot, desktop]. Each hour,
    theta += lr * mean((r - b(x)) z / sigma phi) / rms(r - b), the advantage normalised by its running
    RMS so that the step does not depend on the scale of money; the baseline b(x) = w . phi follows
    the rewards by least mean squares. theta is clipped to +-`max_log_shift`.

    Args:
        ctx: its context.
        sigma0, sigma_min, decay_hours: the spread of the log bid narrows from sigma0 to sigma_min
            over about `decay_hours` hours of learning.
        lr: policy step per hour.
    """

    def __init__(self, ctx: BidderContext) -> None:
        super().__init__(ctx, "policy_gradient")
        g = ctx.config.market.learners.policy_gradient
        self.sigma0, self.sigma_min, self.decay_hours = g.sigma0, g.sigma_min, g.decay_hours
        self.lr, self.baseline_lr, self.max_log_shift = g.lr, g.baseline_lr, g.max_log_shift
        self.n_features = self.n_channels + N_INTENTS + HOUR_BUCKETS + 1
        self._log_reference = np.log(self.reference)
        self._noise_cache: tuple | None = None
        self.theta_ = np.zeros(self.n_features)
        self.baseline_ = np.zeros(self.n_features)
        self.adv_ms_ = 0.0
        self.hours_ = 0

    @property
    def sigma(self) -> float:
        """Current spread of the log bid: it narrows as the policy matures, like epsilon."""
        decay = np.exp(-self.hours_ / self.decay_hours)
        return float(self.sigma_min + (self.sigma0 - self.sigma_min) * decay)

    def features(self, batch: OpportunityBatch) -> np.ndarray:
        """(n, n_features) context features (a dense view of what `_dot_table` and `_grad` compute sparsely)."""
        n, c = batch.size, self.n_channels
        phi = np.zeros((n, self.n_features))
        rows = np.arange(n)
        phi[rows, batch.channel] = 1.0
        phi[rows, c + batch.intent] = 1.0
        phi[:, c + N_INTENTS + hour_bucket(batch.t)] = 1.0
        phi[:, -1] = batch.device_type
        return phi

    def _dot_table(self, w: np.ndarray, t: int) -> np.ndarray:
        """(n_contexts * 2,) features @ w of every (context, device type) at hour `t`.

        A row's features are one-hot but for the desktop flag, so `features @ w` takes one of
        n_contexts x 2 values; each is summed in the order the row-by-row sum would use, so looking
        it up gives the same number to the last bit.
        """
        c = self.n_channels
        by_context = (w[:c, None] + w[c:c + N_INTENTS]) + w[c + N_INTENTS + hour_bucket(t)]
        return (by_context[:, :, None] + w[-1] * np.array([0.0, 1.0])).ravel()

    def _grad(self, channel: np.ndarray, intent: np.ndarray, desktop: np.ndarray, t: int,
              weight: np.ndarray) -> np.ndarray:
        """weight @ features of the rows with these (k,) channels, intents and desktop flags (float) at hour `t`."""
        c = self.n_channels
        g = np.zeros(self.n_features)
        g[:c] = np.bincount(channel, weights=weight, minlength=c)
        g[c:c + N_INTENTS] = np.bincount(intent, weights=weight, minlength=N_INTENTS)
        g[c + N_INTENTS + hour_bucket(t)] = weight.sum()
        # a numpy sum, not `weight @ desktop`: a BLAS dot splits long sums across threads, so its last bits
        # would depend on the machine's core count (and its idle threads spin on the simulation's cores)
        g[-1] = (weight * desktop).sum()
        return g

    def _noise(self, batch: OpportunityBatch) -> tuple[np.ndarray, np.ndarray]:
        """(n,) standard normal draws z and (n,) `_dot_table` rows (context * 2 + device type) of the batch.

        Both are kept for the batch's outcome, which learns from the same z.
        """
        cached = self._noise_cache
        if cached is not None and cached[0] is batch:
            return cached[1], cached[2]
        z = self._uniform(batch, _NOISE)
        # np.clip's result (the uniforms have no NaN) by two ufuncs, without its Python overhead
        ndtri(np.minimum(np.maximum(z, 1e-12, out=z), 1 - 1e-12, out=z), out=z)
        row = batch.context * 2
        row += batch.device_type
        self._noise_cache = (batch, z, row)
        return z, row

    def mean_log_bid(self, batch: OpportunityBatch) -> np.ndarray:
        """(n,) mean of the log bid."""
        return self._mean_table(batch.t)[self._noise(batch)[1]]

    def _mean_table(self, t: int) -> np.ndarray:
        """(n_contexts * 2,) mean log bid of every (context, device type) at hour `t`."""
        table = self._dot_table(self.theta_, t).reshape(-1, 2)
        return (self._log_reference.reshape(-1, 1) + table).ravel()

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """A draw of the Gaussian log-bid policy."""
        z, row = self._noise(batch)
        log_bid = self.sigma * z
        log_bid += self._mean_table(batch.t)[row]
        return np.exp(log_bid, out=log_bid)

    def _learn(self, outcome: BidderOutcome, clicks: np.ndarray) -> None:
        rows = np.flatnonzero(outcome.bids > 0)
        if rows.size == 0:
            return
        batch = outcome.batch
        z, row = self._noise(batch)
        z, row = z[rows], row[rows]
        channel, intent = batch.channel[rows].astype(np.intp), batch.intent[rows].astype(np.intp)
        desktop = batch.device_type[rows].astype(np.float64)
        # weighted advantages w (r - b): sums of them are the weighted sums of the plain advantages
        w = outcome.weight[rows]
        n = float(np.add.reduce(w))  # the rows' count in a plain world
        adv = self.reward(outcome, clicks)[rows]
        adv -= w * self._dot_table(self.baseline_, batch.t)[row]
        mean_sq = float(np.add.reduce(adv**2 / w) / n)  # the weighted mean of (r - b)^2
        self.adv_ms_ = 0.99 * self.adv_ms_ + 0.01 * mean_sq if self.hours_ else mean_sq
        weight = adv / (math.sqrt(self.adv_ms_) + 1e-12)  # a correctly rounded root, as np.sqrt's
        weight *= z
        weight /= self.sigma
        grad = self._grad(channel, intent, desktop, batch.t, weight) / n
        # np.clip's result by two ufuncs, without its Python overhead
        self.theta_ = np.minimum(np.maximum(self.theta_ + self.lr * grad, -self.max_log_shift), self.max_log_shift)
        # Normalised LMS keeps the baseline step stable whatever the feature counts: each row has three
        # one-hot features and the desktop flag, so sum(phi**2) = 3 rows + desktops.
        phi_sq = 3.0 * n + float((w * desktop).sum())
        self.baseline_ += self.baseline_lr * self._grad(channel, intent, desktop, batch.t, adv) / max(phi_sq, 1.0)
        self.hours_ += 1

    def state_dict(self) -> dict[str, Any]:
        """Policy, baseline, advantage scale, hours and the value model."""
        return {"theta": self.theta_.copy(), "baseline": self.baseline_.copy(), "adv_ms": self.adv_ms_,
                "hours": self.hours_, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.theta_ = np.array(state["theta"], np.float64)
        self.baseline_ = np.array(state["baseline"], np.float64)
        self.adv_ms_ = float(state["adv_ms"])
        self.hours_ = int(state["hours"])
        self.model.load_state_dict(state["model"])


class RivalTargetCpaBidder(_LearningRival):
    """Target-CPA bidding with budget pacing: bid = m x target CPA x CVR estimate, paced.

    The multiplier m holds its cost per expected conversion at the target (see `CpaTarget`); a
    dual-gradient pacer on its own budget (the same `DualPacer` as our target-CPA baseline) shades
    on top. It learns its CVRs, m and the pacing; frozen, it keeps all three as they are.

    Args:
        ctx: its context.
        fraction: its target CPA over its value of a sale. The default, 1.0 (break even on its own
            value estimate), is an assumption: its value estimate counts only 45% of the sales its
            clicks are credited with (`ClickValueModel.incrementality`), so a CPA at that estimate
            still leaves it a margin on the sales the clicks bring.
    """

    def __init__(self, ctx: BidderContext) -> None:
        super().__init__(ctx, "rival_tcpa")
        r = ctx.config.market.learners.rival_tcpa
        self.target = CpaTarget(r.fraction, r.step, r.memory_h, r.max_log_shift)
        self.pacer = DualPacer(ctx.daily_budget)

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """m x target CPA x CVR estimate of the (channel, intent), times the pacing multiplier."""
        vpc = self.model.value_per_click()
        return (self.target.multiplier * self.target.fraction * vpc * self.pacer.multiplier())[batch.context]

    def _learn(self, outcome: BidderOutcome, clicks: np.ndarray) -> None:
        b = outcome.batch
        cost = float(outcome.cost.sum())  # charged by weight already
        self.pacer.observe(b.t, b.volume, cost)
        value = outcome.weight[clicks] * self.model.value_per_click()[b.context[clicks]]
        self.target.observe(cost, float(value.sum()))

    def state_dict(self) -> dict[str, Any]:
        """Pacer, target and value model."""
        return {"pacer": self.pacer.state_dict(), "target": self.target.state_dict(), "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.pacer.load_state_dict(state["pacer"])
        self.target.load_state_dict(state["target"])
        self.model.load_state_dict(state["model"])
