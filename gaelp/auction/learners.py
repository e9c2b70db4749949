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

**Persistence.** `state_dict()` holds arrays and scalars only; `save_bidder_states` /
`load_bidder_states` write them to one `.npz` checkpoint when no journey store is configured.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from gaelp.auction.bidders import BaseBidder, Bidder, BidderContext, BidderOutcome, OpportunityBatch, register_bidder

# The device table is the advertiser's own log, shared with our baselines.
from gaelp.auction.devices import DeviceLog
from gaelp.config import CompetitorConfig
from gaelp.control.pacing import DualPacer
from gaelp.rng import CounterRng

N_INTENTS = 3
HOUR_BUCKETS = 4  # 0-5, 6-11, 12-17, 18-23
_EXPLORE, _ACTION, _NOISE = 1, 2, 3  # counter-draw purposes


def _competitor(ctx: BidderContext, kind: str) -> CompetitorConfig:
    if ctx.competitor is None:
        raise ValueError(f"the {kind!r} bidder is a competitor: its context needs a CompetitorConfig")
    return ctx.competitor


def hour_bucket(t: int) -> int:
    """Hour-of-day bucket of hour `t` (0..HOUR_BUCKETS-1)."""
    return (t % 24) * HOUR_BUCKETS // 24


def delay_cdf(hours: np.ndarray) -> np.ndarray:
    """Assumed share of a click's eventual sales that have arrived `hours` after it.

    A fast mode (35%, exponential with a 1-hour mean) plus a log-normal (median 72 h, sigma 1.5):
    about 22% within an hour and 50% within a day, with a tail to 30 days, as in Criteo's delays
    (Chapelle, KDD 2014). Rivals use it to count the clicks whose sales are still to come.
    """
    h = np.maximum(np.asarray(hours, np.float64), 0.0)
    with np.errstate(divide="ignore"):
        slow = ndtr((np.log(h) - np.log(72.0)) / 1.5)
    return 0.35 * (1.0 - np.exp(-h)) + 0.65 * slow


class ClickValueModel:
    """A rival's own estimate of the value of a click per (channel, intent).

    A smoothed rate: a context shrinks toward its channel's rate with weight `strength`, a channel
    toward the advertiser's pooled rate, and that toward the prior. Sales are rare (a few a week at
    test scale), so values move slowly. A sale is credited to the last click
    of the converting device within `window_h` hours (last click, by device). Sales arrive days
    after their click, so a young click counts in the denominator only by the share of its sales
    due by now (`delay_cdf`); otherwise the rate would be biased low while clicks are recent.

    Args:
        n_channels: channels in the world.
        value: revenue of one sale.
        window_h: lookback window in hours.
        prior_cvr: assumption, sales per click before any data (GA4: paid search 1.7-3.1% for a
            leader; a rival's product converts a little lower).
        strength: prior weight, in clicks.
        incrementality: assumption, the share of last-click credited sales that the click caused.
            Last-click credit also collects the sales that would have come anyway (the brand's
            organic buyers who happened to click); incrementality studies find roughly a third to
            two thirds of it incremental, so rivals count 45%.
    """

    def __init__(self, n_channels: int, value: float, window_h: int, prior_cvr: float = 0.0125,
                 strength: float = 300.0, incrementality: float = 0.45, device_capacity: int = 0) -> None:
        self.value, self.window_h, self.incrementality = float(value), int(window_h), float(incrementality)
        self.prior_vpc, self.strength = value * prior_cvr, strength
        n_ctx = n_channels * N_INTENTS
        self.matured_ = np.zeros(n_ctx)  # clicks older than the window
        self.recent_ = np.zeros((self.window_h, n_ctx))  # clicks by hour, a ring over the window
        self.t_ = -1
        self.credit_ = np.zeros(n_ctx)
        self.devices = DeviceLog(device_capacity)
        self._vpc: np.ndarray | None = None
        self._cdf = delay_cdf(np.arange(self.window_h) + 0.5)

    def effective_clicks(self) -> np.ndarray:
        """(n_contexts,) clicks weighted by the share of their sales due by now."""
        age = (self.t_ - np.arange(self.window_h)) % self.window_h
        return self.matured_ + self._cdf[age] @ self.recent_

    def value_per_click(self) -> np.ndarray:
        """(n_channels * 3,) value per click by context (channel * 3 + intent); cached until the next update."""
        if self._vpc is None:
            self._vpc = self._value_per_click()
        return self._vpc

    def _value_per_click(self) -> np.ndarray:
        k = self.strength
        clicks = self.effective_clicks().reshape(-1, N_INTENTS)
        credit = self.credit_.reshape(-1, N_INTENTS)
        pooled = (credit.sum() + k * self.prior_vpc) / (clicks.sum() + k)
        channel = (credit.sum(1, keepdims=True) + k * pooled) / (clicks.sum(1, keepdims=True) + k)
        return ((credit + k * channel) / (clicks + k)).ravel()

    def _advance(self, t: int) -> None:
        # Hours leaving the window move their clicks to the matured total.
        hours = np.arange(max(self.t_ + 1, t - self.window_h + 1), t + 1) % self.window_h
        self.matured_ += self.recent_[hours].sum(axis=0)
        self.recent_[hours] = 0.0
        self.t_ = t

    def update(self, outcome: BidderOutcome) -> None:
        """Fold in the hour's clicks and pixel conversions."""
        self._vpc = None
        b = outcome.batch
        if b.t > self.t_:
            self._advance(b.t)
        clicked = outcome.clicked
        ctx = b.channel.astype(np.int64) * N_INTENTS + b.intent
        np.add.at(self.recent_[b.t % self.window_h], ctx[clicked], 1.0)
        self.devices.record_clicks(b.t, b.device[clicked], ctx[clicked])
        matched = self.devices.record_conversions(outcome.conv_t, outcome.conv_device, self.window_h)
        ok = matched >= 0
        np.add.at(self.credit_, matched[ok], self.incrementality * outcome.conv_value[ok])

    def state_dict(self) -> dict[str, Any]:
        """Counts, the click ring and the device table."""
        return {"matured": self.matured_.copy(), "recent": self.recent_.copy(), "t": self.t_,
                "credit": self.credit_.copy(), "devices": self.devices.state_dict()}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.matured_ = np.array(s["matured"], np.float64)
        self.recent_ = np.array(s["recent"], np.float64)
        self.t_ = int(s["t"])
        self.credit_ = np.array(s["credit"], np.float64)
        self.devices.load_state_dict(s["devices"])
        self._vpc = None


class CpaTarget:
    """Holds an advertiser's cost per expected conversion at a target with a bid multiplier.

    The industry's automated bidding ("target CPA") maximises conversions while the average cost per
    conversion stays at a target: in Lagrangian form, a click is worth `m x target CPA x CVR` and
    the multiplier `m` follows the constraint, rising while the cost per conversion is under the
    target and falling when it is over. Sales are rare and late, so conversions are counted as
    expected ones: each click's value estimate over the value of a sale. Costs and conversions are
    exponentially weighted over `memory_h` hours; each hour log m moves by `-step x log(CPA / target)`.

    When a competitor that ranks just below it raises its bids, the price it pays rises and m falls;
    when the competitor outbids it, it pays less for the lower slots it keeps and m rises.

    Args:
        fraction: target CPA over the value of a sale, in (0, 1].
        step: change of log m per hour per unit of log(CPA / target).
        memory_h: memory of the cost and conversion sums, hours.
        max_log_shift: bound on |log m|.
    """

    def __init__(self, fraction: float = 1.0, step: float = 0.02, memory_h: float = 48.0,
                 max_log_shift: float = 1.5) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.fraction, self.step, self.memory_h, self.max_log_shift = fraction, step, memory_h, max_log_shift
        self.log_m_ = 0.0
        self.cost_ = 0.0
        self.value_ = 0.0

    @property
    def multiplier(self) -> float:
        """Current m."""
        return float(np.exp(self.log_m_))

    def ratio(self) -> float:
        """Recent cost per expected conversion over the target (1.0 before any click)."""
        return self.cost_ / (self.fraction * self.value_) if self.value_ > 0 else 1.0

    def observe(self, cost: float, click_value: float) -> None:
        """Fold in one hour: what was paid and the estimated value of the clicks bought."""
        keep = np.exp(-1.0 / self.memory_h)
        self.cost_ = keep * self.cost_ + cost
        self.value_ = keep * self.value_ + click_value
        if self.value_ > 0:
            shift = self.log_m_ - self.step * np.log(max(self.ratio(), 1e-6))
            self.log_m_ = float(np.clip(shift, -self.max_log_shift, self.max_log_shift))

    def state_dict(self) -> dict[str, Any]:
        """Multiplier and the weighted sums."""
        return {"log_m": self.log_m_, "cost": self.cost_, "value": self.value_}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.log_m_, self.cost_, self.value_ = float(s["log_m"]), float(s["cost"]), float(s["value"])


class _LearningRival(BaseBidder):
    """Shared parts: reference bids, own value model, exploration draws, the frozen flag."""

    learns = True

    def __init__(self, ctx: BidderContext, kind: str) -> None:
        comp = _competitor(ctx, kind)
        super().__init__(comp.name, ctx.daily_budget)
        cfg = ctx.config
        self.value = comp.value
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
        vpc = self.model.value_per_click()[b.channel.astype(np.int64) * N_INTENTS + b.intent]
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
        return (hour_bucket(batch.t) * self.n_channels + batch.channel.astype(np.int64)) * N_INTENTS + batch.intent

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
        return self.reference[batch.channel, batch.intent] * self.levels[a]

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
        return self._log_reference[batch.channel, batch.intent] + self._dot(batch, self.theta_)

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
        vpc = self.model.value_per_click()[batch.channel.astype(np.int64) * N_INTENTS + batch.intent]
        return self.target.multiplier * self.target.fraction * vpc * self.pacer.multiplier()

    def _learn(self, outcome: BidderOutcome, entered: np.ndarray, reward: np.ndarray) -> None:
        b = outcome.batch
        cost = float(outcome.cost.sum())
        self.pacer.observe(b.t, b.size, cost)
        vpc = self.model.value_per_click()[b.channel.astype(np.int64) * N_INTENTS + b.intent]
        self.target.observe(cost, float(vpc[outcome.clicked].sum()))

    def state_dict(self) -> dict[str, Any]:
        """Pacer, target and value model."""
        return {"pacer": self.pacer.state_dict(), "target": self.target.state_dict(), "model": self.model.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.pacer.load_state_dict(state["pacer"])
        self.target.load_state_dict(state["target"])
        self.model.load_state_dict(state["model"])


def freeze(bidders: Sequence[Bidder], frozen: bool = True) -> None:
    """Set `frozen` on every bidder that learns (others are left alone)."""
    for b in bidders:
        if getattr(b, "learns", False):
            b.frozen = frozen  # type: ignore[attr-defined]


# --- checkpoints ------------------------------------------------------------------------------------
def flatten_state(state: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """A nested state dict as flat `a/b/c` -> array entries (for `.npz` files or a table)."""
    out: dict[str, np.ndarray] = {}
    for k, v in state.items():
        if "/" in k:
            raise ValueError(f"state key {k!r} may not contain '/'")
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_state(v, key + "/"))
        else:
            arr = np.asarray(v)
            if arr.dtype == object:
                raise ValueError(f"state entry {key!r} is not numeric (got {type(v).__name__})")
            out[key] = arr
    return out


def unflatten_state(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    """Inverse of `flatten_state`; 0-d arrays come back as Python scalars."""
    out: dict[str, Any] = {}
    for key, arr in flat.items():
        *path, leaf = key.split("/")
        node = out
        for p in path:
            node = node.setdefault(p, {})
        node[leaf] = arr.item() if arr.ndim == 0 else arr
    return out


def save_bidder_states(bidders: Sequence[Bidder], path: str | Path) -> None:
    """Write every bidder's `state_dict` to one `.npz` checkpoint, keyed by bidder name.

    The file is written beside the target and renamed into place, so a crash never leaves half a
    checkpoint.
    """
    names = [b.name for b in bidders]
    if len(set(names)) != len(names):
        raise ValueError(f"bidder names must be unique to checkpoint them, got {names}")
    flat: dict[str, np.ndarray] = {}
    for b in bidders:
        flat.update(flatten_state(b.state_dict(), f"{b.name}/"))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **flat)
    os.replace(tmp, path)


def load_bidder_states(bidders: Sequence[Bidder], path: str | Path) -> list[str]:
    """Restore the bidders found in the checkpoint at `path`; returns the names restored.

    Bidders without an entry keep their state (a new competitor starts fresh).
    """
    with np.load(Path(path), allow_pickle=False) as z:
        nested = unflatten_state({k: z[k] for k in z.files})
    restored = []
    for b in bidders:
        if b.name in nested:
            b.load_state_dict(nested[b.name])
            restored.append(b.name)
    return restored
