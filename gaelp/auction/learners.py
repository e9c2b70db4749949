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

**Determinism.** Exploration draws are counter-based hashes of (device, channel, hour) under the
bidder's own seed, so a bid is a pure function of (learned state, batch) and a counterfactual
replay draws the same exploration for the same opportunity.

**Freezing.** `frozen = True` keeps the current policy (including its exploration) and stops every
update: the twin that measures what learning after a shock is worth.

**Persistence.** `state_dict()` holds arrays and scalars only; `gaelp.auction.bidder_state` writes
them to one `.npz` checkpoint when no journey store is configured. The value models they learn
with (`ClickValueModel`, `CpaTarget`) are in `gaelp.auction.rival_value`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import ndtri

from gaelp.auction.bidders import (
    N_INTENTS,
    BaseBidder,
    BidderContext,
    BidderOutcome,
    OpportunityBatch,
    register_bidder,
)

# The device table is the advertiser's own log, shared with our baselines.
from gaelp.auction.rival_value import ClickValueModel, CpaTarget
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
        self.model = ClickValueModel(self.n_channels, comp.value, 24 * 7, device_capacity=3 * ctx.config.users)
        self.frozen = False
        self._draws = CounterRng(int(ctx.rng.integers(2**62)))

    def _uniform(self, batch: OpportunityBatch, purpose: int) -> np.ndarray:
        return self._draws.uniform(batch.device * 8 + batch.channel, batch.t, purpose)

    def reward(self, outcome: BidderOutcome) -> np.ndarray:
        """(n,) what each opportunity earned: its click's estimated value minus what was paid."""
        b = outcome.batch
        vpc = self.model.value_per_click()[b.context]
        return np.where(outcome.clicked, vpc, 0.0) - outcome.cost

    def observe(self, outcome: BidderOutcome) -> None:
        """Learn from the hour (nothing when frozen)."""
        if self.frozen:
            return
        self._learn(outcome, outcome.bids > 0, self.reward(outcome))
        self.model.update(outcome)

    def _learn(self, outcome: BidderOutcome, entered: np.ndarray, reward: np.ndarray) -> None:  # pragma: no cover
        raise NotImplementedError


@register_bidder("q_learning")
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

    def __init__(self, ctx: BidderContext, levels: Sequence[float] = tuple(np.geomspace(0.25, 4.0, 9)),
                 alpha: float = 0.01, epsilon0: float = 0.2, epsilon_min: float = 0.05,
                 decay_hours: float = 24 * 10) -> None:
        super().__init__(ctx, "q_learning")
        self.levels = np.asarray(levels, np.float64)
        self.alpha, self.epsilon0, self.epsilon_min, self.decay_hours = alpha, epsilon0, epsilon_min, decay_hours
        n_states = HOUR_BUCKETS * self.n_channels * N_INTENTS
        self.q_ = np.zeros((n_states, self.levels.size))
        self.visits_ = np.zeros((n_states, self.levels.size))
        self.hours_ = 0
        # Breaks exact ties (unvisited actions) toward the reference bid.
        self._tie = -1e-9 * np.abs(np.log(self.levels))
        self._actions_cache: tuple | None = None

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
        cached = self._actions_cache
        if cached is not None and cached[0] is batch and cached[1] == self.hours_:
            return cached[2]
        out = self._actions(batch)
        self._actions_cache = (batch, self.hours_, out)
        return out

    def _actions(self, batch: OpportunityBatch) -> tuple[np.ndarray, np.ndarray]:
        s = self.state(batch)
        greedy = np.argmax(self.q_ + self._tie, axis=1)[s]
        explore = self._uniform(batch, _EXPLORE) < self.epsilon
        random = (self._uniform(batch, _ACTION) * self.levels.size).astype(np.int64)
        return s, np.where(explore, random, greedy)

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """Reference bid of the context times the chosen level."""
        _, a = self.actions(batch)
        return self.reference.ravel()[batch.context] * self.levels[a]

    def _learn(self, outcome: BidderOutcome, entered: np.ndarray, reward: np.ndarray) -> None:
        s, a = self.actions(outcome.batch)
        cell = (s * self.levels.size + a)[entered]
        size = self.q_.size
        n = np.bincount(cell, minlength=size).reshape(self.q_.shape)
        total = np.bincount(cell, weights=reward[entered], minlength=size).reshape(self.q_.shape)
        seen = n > 0
        self.visits_ += n
        # n observations of step max(alpha, 1/visits) toward their mean, in one move.
        step = np.maximum(1.0 - (1.0 - self.alpha) ** n, n / np.maximum(self.visits_, 1.0))
        self.q_[seen] += step[seen] * (total[seen] / n[seen] - self.q_[seen])
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
        self._actions_cache = None
        self.model.load_state_dict(state["model"])


@register_bidder("policy_gradient")
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

    def __init__(self, ctx: BidderContext, sigma0: float = 0.4, sigma_min: float = 0.1, decay_hours: float = 24 * 10,
                 lr: float = 0.01, baseline_lr: float = 0.1, max_log_shift: float = 2.0) -> None:
        super().__init__(ctx, "policy_gradient")
        self.sigma0, self.sigma_min, self.decay_hours = sigma0, sigma_min, decay_hours
        self.lr, self.baseline_lr, self.max_log_shift = lr, baseline_lr, max_log_shift
        self.n_features = self.n_channels + N_INTENTS + HOUR_BUCKETS + 1
        self._log_reference = np.log(self.reference)
        self._z_cache: tuple | None = None
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
        """(n, n_features) context features (a dense view of what `_dot` and `_grad` compute sparsely)."""
        n, c = batch.size, self.n_channels
        phi = np.zeros((n, self.n_features))
        rows = np.arange(n)
        phi[rows, batch.channel] = 1.0
        phi[rows, c + batch.intent] = 1.0
        phi[:, c + N_INTENTS + hour_bucket(batch.t)] = 1.0
        phi[:, -1] = batch.device_type
        return phi

    def _dot(self, batch: OpportunityBatch, w: np.ndarray, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """features(batch)[rows] @ w, from the one-hot structure (no feature matrix)."""
        c = self.n_channels
        return (w[batch.channel[rows]] + w[c + batch.intent[rows]] + w[c + N_INTENTS + hour_bucket(batch.t)]
                + w[-1] * batch.device_type[rows])

    def _grad(self, batch: OpportunityBatch, rows: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """weight @ features(batch)[rows], from the one-hot structure."""
        c = self.n_channels
        g = np.zeros(self.n_features)
        g[:c] = np.bincount(batch.channel[rows], weights=weight, minlength=c)
        g[c:c + N_INTENTS] = np.bincount(batch.intent[rows], weights=weight, minlength=N_INTENTS)
        g[c + N_INTENTS + hour_bucket(batch.t)] = weight.sum()
        g[-1] = weight @ batch.device_type[rows]
        return g

    def _z(self, batch: OpportunityBatch) -> np.ndarray:
        cached = self._z_cache
        if cached is not None and cached[0] is batch:
            return cached[1]
        z = ndtri(np.clip(self._uniform(batch, _NOISE), 1e-12, 1 - 1e-12))
        self._z_cache = (batch, z)
        return z

    def mean_log_bid(self, batch: OpportunityBatch) -> np.ndarray:
        """(n,) mean of the log bid."""
        return self._log_reference.ravel()[batch.context] + self._dot(batch, self.theta_)

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """A draw of the Gaussian log-bid policy."""
        return np.exp(self.mean_log_bid(batch) + self.sigma * self._z(batch))

    def _learn(self, outcome: BidderOutcome, entered: np.ndarray, reward: np.ndarray) -> None:
        rows = np.flatnonzero(entered)
        if rows.size == 0:
            return
        batch = outcome.batch
        z = self._z(batch)[rows]
        adv = reward[rows] - self._dot(batch, self.baseline_, rows)
        self.adv_ms_ = 0.99 * self.adv_ms_ + 0.01 * float(np.mean(adv**2)) if self.hours_ else float(np.mean(adv**2))
        scale = np.sqrt(self.adv_ms_) + 1e-12
        grad = self._grad(batch, rows, (adv / scale) * z / self.sigma) / adv.size
        self.theta_ = np.clip(self.theta_ + self.lr * grad, -self.max_log_shift, self.max_log_shift)
        # Normalised LMS keeps the baseline step stable whatever the feature counts: each row has three
        # one-hot features and the desktop flag, so sum(phi**2) = 3 rows + desktops.
        phi_sq = 3.0 * rows.size + float(batch.device_type[rows].sum())
        self.baseline_ += self.baseline_lr * self._grad(batch, rows, adv) / max(phi_sq, 1.0)
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


@register_bidder("rival_tcpa")
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

    def __init__(self, ctx: BidderContext, fraction: float = 1.0) -> None:
        super().__init__(ctx, "rival_tcpa")
        self.target = CpaTarget(fraction)
        self.pacer = DualPacer(ctx.daily_budget)

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """m x target CPA x CVR estimate of the (channel, intent), times the pacing multiplier."""
        vpc = self.model.value_per_click()[batch.context]
        return self.target.multiplier * self.target.fraction * vpc * self.pacer.multiplier()

    def _learn(self, outcome: BidderOutcome, entered: np.ndarray, reward: np.ndarray) -> None:
        b = outcome.batch
        cost = float(outcome.cost.sum())
        self.pacer.observe(b.t, b.size, cost)
        vpc = self.model.value_per_click()[b.context]
        self.target.observe(cost, float(vpc[outcome.clicked].sum()))

    def state_dict(self) -> dict[str, Any]:
        """Pacer, target and value model."""
        return {"pacer": self.pacer.state_dict(), "target": self.target.state_dict(), "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.pacer.load_state_dict(state["pacer"])
        self.target.load_state_dict(state["target"])
        self.model.load_state_dict(state["model"])
