"""Our baseline bidders: `fixed`, `target_cpa`, and the upper references `oracle` and `oracle_lp`.

* `fixed`: one bid per click everywhere, no targeting, no pacing (the platform still stops it when the
  budget is spent).
* `target_cpa`: bids `target_cpa x estimated CVR` per (channel, query intent, device type), the CVR
  learned from its own logs (its clicks and the conversions its pixel matched to a clicked device
  within the lookback window), shaded by a dual-gradient pacer; it excludes devices it knows converted.
* `oracle`: sees each person's true post-click purchase probability and bids a fraction of the true
  value of a click, paced the same way. An upper bound for experiments, never a product.
* `oracle_lp`: sees the true post-click purchase probability and bids `k x P(purchase | click) x
  target CPA`, unpaced (the platform stops it when the day's budget is spent). With `k` chosen per
  world in hindsight (`gaelp.experiments.hindsight`) it is the LP-dual bid with known values of Chen
  et al. (2011), the upper reference the agent is scored against; never a product.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaelp.bidders.devices import DeviceLog
from gaelp.bidders.protocol import (
    N_INTENTS,
    BaseBidder,
    BidderContext,
    BidderOutcome,
    OpportunityBatch,
)
from gaelp.control.pacing import DualPacer, PromisePacer

N_DEVICE_TYPES = 2


class FixedBidder(BaseBidder):
    """The same bid per click on every opportunity."""

    def __init__(self, ctx: BidderContext) -> None:
        super().__init__("fixed", ctx.daily_budget)
        self.bid_value = ctx.config.bidders.fixed_bid

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """`fixed_bid` everywhere."""
        return np.full(batch.size, self.bid_value)


class _PacedBidder(BaseBidder):
    """A value-based bidder shaded by a dual-gradient pacer; subclasses give `value_per_click`."""

    def __init__(self, name: str, ctx: BidderContext) -> None:
        super().__init__(name, ctx.daily_budget)
        promise = ctx.config.campaign.pacing == "promise"
        self.pacer = (PromisePacer if promise else DualPacer)(ctx.daily_budget)

    def value_per_click(self, batch: OpportunityBatch) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """Value per click times the pacing multiplier."""
        return self.value_per_click(batch) * self.pacer.multiplier()

    def observe(self, outcome: BidderOutcome) -> None:
        """Update the pacer with this hour's traffic (by sampling weight) and spend."""
        self.pacer.observe(outcome.batch.t, outcome.batch.volume, float(outcome.cost.sum()))

    def state_dict(self) -> dict[str, Any]:
        """Pacer state."""
        return {"pacer": self.pacer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore pacer state."""
        self.pacer.load_state_dict(state["pacer"])


class TargetCpaBidder(_PacedBidder):
    """Bids `target_cpa x CVR estimate`, learned from its own clicks and matched conversions.

    The estimate per context (channel x intent x device type) is a Beta-smoothed rate: conversions
    plus `prior_strength x prior_cvr`, over clicks plus `prior_strength`.
    """

    learns = True

    def __init__(self, ctx: BidderContext) -> None:
        super().__init__("target_cpa", ctx)
        cfg = ctx.config
        self.target_cpa = cfg.bidders.target_cpa
        self.window_h = 24 * cfg.campaign.lookback_days
        n_ctx = len(cfg.world.channels) * N_INTENTS * N_DEVICE_TYPES
        self.prior_cvr, self.prior_strength = cfg.bidders.prior_cvr, cfg.bidders.prior_strength
        self.clicks = np.zeros(n_ctx)
        self.conversions = np.zeros(n_ctx)
        self.devices = DeviceLog(3 * cfg.users)  # device ids: up to three per person of the audience

    @staticmethod
    def context(batch: OpportunityBatch) -> np.ndarray:
        """(n,) context index: channel x intent x device type."""
        return batch.context * N_DEVICE_TYPES + batch.device_type

    def cvr_estimate(self) -> np.ndarray:
        """(n_contexts,) smoothed conversion rate per click."""
        return (self.conversions + self.prior_strength * self.prior_cvr) / (self.clicks + self.prior_strength)

    def value_per_click(self, batch: OpportunityBatch) -> np.ndarray:
        """Target CPA times the CVR estimate; 0 for devices known to have converted."""
        v = self.target_cpa * self.cvr_estimate()[self.context(batch)]
        return np.where(self.devices.is_converted(batch.device), 0.0, v)

    def observe(self, outcome: BidderOutcome) -> None:
        """Count clicks and matched conversions per context (by sampling weight); pace."""
        super().observe(outcome)
        ctx = self.context(outcome.batch)
        clicked = outcome.clicked
        np.add.at(self.clicks, ctx[clicked], outcome.weight[clicked])
        self.devices.record_clicks(outcome.batch.t, outcome.batch.device[clicked], ctx[clicked])
        matched = self.devices.record_conversions(outcome.conv_t, outcome.conv_device, self.window_h)
        ok = matched >= 0
        np.add.at(self.conversions, matched[ok], outcome.conv_weight[ok])

    def state_dict(self) -> dict[str, Any]:
        """Pacer, per-context counts and the device table."""
        return {**super().state_dict(), "clicks": self.clicks.copy(), "conversions": self.conversions.copy(),
                "devices": self.devices.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        super().load_state_dict(state)
        self.clicks = np.asarray(state["clicks"], np.float64).copy()
        self.conversions = np.asarray(state["conversions"], np.float64).copy()
        self.devices.load_state_dict(state["devices"])


class OracleBidder(_PacedBidder):
    """Bids `fraction x true value of a click`: an upper bound that sees the ground truth."""

    sees_truth = True

    def __init__(self, ctx: BidderContext) -> None:
        super().__init__("oracle", ctx)
        self.fraction = ctx.config.bidders.oracle_fraction

    def value_per_click(self, batch: OpportunityBatch) -> np.ndarray:
        """Fraction of value x true purchase probability of a click."""
        if batch.truth is None:
            raise ValueError("the oracle bidder needs batch.truth (it bids on ground truth)")
        return self.fraction * batch.truth.value * batch.truth.p_convert


class OracleLpBidder(BaseBidder):
    """Bids `k x true P(purchase | click) x target CPA`: the LP-dual bid of a CPA-constrained campaign.

    Maximizing conversions under a budget and a CPA bound is a linear program whose dual gives every
    click the bid `k x P(purchase | click) x target CPA`, one `k` for the whole campaign. The right `k`
    depends on the world (competition, budget), so experiments choose it in hindsight by replaying
    the world over a grid of `k`. `k` comes from `ctx.extra["k"]`, else `config.bidders.oracle_lp_k`.
    """

    sees_truth = True

    def __init__(self, ctx: BidderContext) -> None:
        super().__init__("oracle_lp", ctx.daily_budget)
        self.k = float(ctx.extra.get("k", ctx.config.bidders.oracle_lp_k))
        if not self.k > 0:
            raise ValueError(f"oracle_lp: k must be > 0, got {self.k!r}")
        self.target_cpa = ctx.config.bidders.target_cpa

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """`k x target CPA x` the true purchase probability of a click."""
        if batch.truth is None:
            raise ValueError("the oracle_lp bidder needs batch.truth (it bids on ground truth)")
        return (self.k * self.target_cpa) * batch.truth.p_convert
