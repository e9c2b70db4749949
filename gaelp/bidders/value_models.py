"""What a rival learns a click is worth, and how a target-CPA rival holds its cost per conversion.

`ClickValueModel` credits each pixel conversion to the last click of the same device within the
lookback window and discounts clicks too young for their sales to have arrived (`delay_cdf`);
`CpaTarget` is the multiplier that holds a cost per expected conversion at its target.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.special import ndtr

from gaelp.bidders.devices import DeviceLog
from gaelp.bidders.protocol import N_INTENTS, BidderOutcome
from gaelp.bidders.worlds import WorldOutcomes
from gaelp.stacked import Stacked


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


@lru_cache(maxsize=8)
def _age_weights(window_h: int) -> np.ndarray:
    """(window_h, window_h, 1) read-only: row r weighs the ring's slots when the current hour sits in slot r
    (slot i holds clicks (r - i) % window_h hours old), looked up rather than rebuilt each hour, and built
    once per window for every model (a world's rivals share it, and so do the worlds)."""
    ring = np.arange(window_h)
    weights = delay_cdf(ring + 0.5)[(ring[:, None] - ring) % window_h][:, :, None]
    weights.flags.writeable = False
    return weights


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

    def __init__(self, n_channels: int, value: float, window_h: int, prior_cvr: float, strength: float,
                 incrementality: float, device_capacity: int = 0) -> None:
        self.value, self.window_h, self.incrementality = float(value), int(window_h), float(incrementality)
        self.prior_vpc, self.strength = value * prior_cvr, strength
        n_ctx = n_channels * N_INTENTS
        self.matured_ = np.zeros(n_ctx)  # clicks older than the window
        self.recent_ = np.zeros((self.window_h, n_ctx))  # clicks by hour, a ring over the window
        self.t_ = -1
        self.credit_ = np.zeros(n_ctx)
        self.devices = DeviceLog(device_capacity)
        self._vpc: np.ndarray | None = None
        self._credit_sums: tuple[np.ndarray, np.ndarray] | None = None
        self._age_weight = _age_weights(self.window_h)

    def effective_clicks(self) -> np.ndarray:
        """(n_contexts,) clicks weighted by the share of their sales due by now."""
        # numpy's sum rather than a BLAS product, whose threads would make the last bits machine-dependent
        return self.matured_ + (self._age_weight[self.t_ % self.window_h] * self.recent_).sum(axis=0)

    def value_per_click(self) -> np.ndarray:
        """(n_channels * 3,) value per click by context (channel * 3 + intent); cached until the next update."""
        if self._vpc is None:
            self._vpc = self._value_per_click()
        return self._vpc

    def _value_per_click(self) -> np.ndarray:
        k = self.strength
        clicks = self.effective_clicks().reshape(-1, N_INTENTS)
        credit = self.credit_.reshape(-1, N_INTENTS)
        if self._credit_sums is None:  # credit changes only when a conversion is matched: rarely
            self._credit_sums = (credit.sum() + k * self.prior_vpc, credit.sum(1, keepdims=True))
        pooled_credit, channel_credit = self._credit_sums
        pooled = pooled_credit / (clicks.sum() + k)
        channel = (channel_credit + k * pooled) / (clicks.sum(1, keepdims=True) + k)
        return ((credit + k * channel) / (clicks + k)).ravel()

    def _advance(self, t: int) -> None:
        # Hours leaving the window move their clicks to the matured total.
        if t == self.t_ + 1:  # the usual step: one hour, whose slot's sum is the slot itself
            slot = t % self.window_h
            self.matured_ += self.recent_[slot]
            self.recent_[slot] = 0.0
        else:
            hours = np.arange(max(self.t_ + 1, t - self.window_h + 1), t + 1) % self.window_h
            self.matured_ += self.recent_[hours].sum(axis=0)
            self.recent_[hours] = 0.0
        self.t_ = t

    def update(self, outcome: BidderOutcome, clicks: np.ndarray | None = None) -> None:
        """Fold in the hour's clicks and pixel conversions.

        Args:
            outcome: the hour's outcome.
            clicks: (k,) indices of the clicked opportunities, if the caller already has them.
        """
        self._vpc = None
        b = outcome.batch
        if b.t > self.t_:
            self._advance(b.t)
        if clicks is None:
            clicks = np.flatnonzero(outcome.clicked)
        if clicks.size:
            ctx = b.context[clicks]
            # clicks count by their sampling weight; whole counts in a plain world, whose sums are the same
            # added at once as one click at a time
            self.recent_[b.t % self.window_h] += np.bincount(ctx, outcome.weight[clicks], minlength=self.recent_.shape[1])
            self.devices.record_clicks(b.t, b.device[clicks], ctx)
        if outcome.conv_device.size:
            self._credit(outcome)

    def _credit(self, outcome: BidderOutcome) -> None:
        """Credit the outcome's pixel conversions to the clicks they are matched to."""
        matched = self.devices.record_conversions(outcome.conv_t, outcome.conv_device, self.window_h)
        ok = matched >= 0
        credit = self.incrementality * outcome.conv_value[ok] * outcome.conv_weight[ok]
        np.add.at(self.credit_, matched[ok], credit)
        self._credit_sums = None

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
        self._credit_sums = None


class WorldsClickValue:
    """The `ClickValueModel`s of one advertiser slot in every world of a batch, as one array program.

    Their counts are `Stacked` (W, ...) arrays that the worlds' models view, so each world's model holds
    what the batch learns; every world's value per click and update come out as the model alone gives them.

    Args:
        models: one per world, of one configuration (window, prior, strength, value, device capacity).
    """

    def __init__(self, models: Sequence[ClickValueModel]) -> None:
        first = models[0]
        for m in models:
            same = (m.window_h, m.strength, m.prior_vpc, m.incrementality, m.devices.converted.size)
            if same != (first.window_h, first.strength, first.prior_vpc, first.incrementality,
                        first.devices.converted.size):
                raise ValueError("a batch's click-value models differ in more than their data")
        self.models = list(models)
        self.matured, self.credit = Stacked(models, "matured_"), Stacked(models, "credit_")
        # (window, W, n_ctx): the age-weighted sum over the window then adds long rows (5x faster than over
        # (W, window, n_ctx), whose inner rows are one world's contexts; the same order, slot by slot)
        self.recent = Stacked(models, "recent_", axis=1)
        devices = [m.devices for m in models]
        self.last_click_t, self.last_click_ctx = Stacked(devices, "last_click_t"), Stacked(devices, "last_click_ctx")
        self._vpc: np.ndarray | None = None

    def value_per_click(self) -> np.ndarray:
        """(W, n_channels * 3) every world's `ClickValueModel.value_per_click()`, bit for bit; kept until the
        next `update` (or `forget`)."""
        if self._vpc is None:
            self._vpc = self._value_per_click()
        return self._vpc

    def forget(self) -> None:
        """Drop the kept values per click (a world's model changed outside `update`)."""
        self._vpc = None

    def _value_per_click(self) -> np.ndarray:
        first, w = self.models[0], len(self.models)
        k = first.strength
        slots = {m.t_ % first.window_h for m in self.models}
        # (window, 1, 1) the age weights of the worlds' clock ((window, W, 1) where the clocks differ)
        age = first._age_weight[slots.pop()][:, None] if len(slots) == 1 else \
            first._age_weight[[m.t_ % first.window_h for m in self.models]].transpose(1, 0, 2)
        clicks = self.matured.get() + (age * self.recent.get()).sum(axis=0)  # (W, n_ctx)
        credit = self.credit.get()
        pooled = (credit.sum(axis=1) + k * first.prior_vpc) / (clicks.sum(axis=1) + k)  # (W,)
        clicks, credit = clicks.reshape(w, -1, N_INTENTS), credit.reshape(w, -1, N_INTENTS)
        channel = (credit.sum(2, keepdims=True) + k * pooled[:, None, None]) / (clicks.sum(2, keepdims=True) + k)
        return ((credit + k * channel) / (clicks + k)).reshape(w, -1)

    def update(self, out: WorldOutcomes) -> None:
        """Every world's `ClickValueModel.update` of its own outcome."""
        rows, models = out.rows, self.models
        t = rows.t
        self._vpc = None
        if all(m.t_ == t - 1 for m in models):  # the usual step, one hour on: `_advance`'s, for every world
            recent, slot = self.recent.get(), t % models[0].window_h
            self.matured.get()[:] += recent[slot]
            recent[slot] = 0.0
            for m in models:
                m.t_ = t
        else:
            for m in models:
                if t > m.t_:
                    m._advance(t)
        for m in models:
            m._vpc = None
        clicks = out.clicks
        if clicks.size:
            recent = self.recent.get()
            n_ctx = recent.shape[2]
            ctx, world, device = rows.context[clicks], rows.world[clicks], rows.device[clicks]
            # clicks by (world, context), each cell adding its clicks in the world's own order; + 0 elsewhere
            recent[t % models[0].window_h] += np.bincount(world * n_ctx + ctx, rows.weight[clicks],
                                                          minlength=recent.shape[1] * n_ctx).reshape(-1, n_ctx)
            last_t, last_ctx = self.last_click_t.get(), self.last_click_ctx.get()
            if device.max() >= last_t.shape[1]:
                raise ValueError(f"device id {device.max()} is past the device tables ({last_t.shape[1]} ids): "
                                 "a batch's tables do not grow; run the worlds alone")
            cell = world * last_t.shape[1] + device
            last_t.reshape(-1)[cell] = t
            last_ctx.reshape(-1)[cell] = ctx
        for w in out.converting():
            models[w]._credit(out.outcomes[w])


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

    def __init__(self, fraction: float, step: float, memory_h: float, max_log_shift: float) -> None:
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        self.fraction, self.step, self.memory_h, self.max_log_shift = fraction, step, memory_h, max_log_shift
        self.log_m_ = 0.0
        self.cost_ = 0.0
        self.value_ = 0.0
        self._keep = (memory_h, np.exp(-1.0 / memory_h))  # (memory_h, hourly decay of the sums), computed once

    @property
    def multiplier(self) -> float:
        """Current m."""
        return float(np.exp(self.log_m_))

    def ratio(self) -> float:
        """Recent cost per expected conversion over the target (1.0 before any click)."""
        return self.cost_ / (self.fraction * self.value_) if self.value_ > 0 else 1.0

    def observe(self, cost: float, click_value: float) -> None:
        """Fold in one hour: what was paid and the estimated value of the clicks bought."""
        if self._keep[0] != self.memory_h:
            self._keep = (self.memory_h, np.exp(-1.0 / self.memory_h))
        keep = self._keep[1]
        self.cost_ = keep * self.cost_ + cost
        self.value_ = keep * self.value_ + click_value
        if self.value_ > 0:
            shift = self.log_m_ - self.step * np.log(max(self.ratio(), 1e-6))
            # np.clip's result on a scalar (NaN stays NaN), without its Python overhead
            self.log_m_ = float(min(max(shift, -self.max_log_shift), self.max_log_shift))

    def state_dict(self) -> dict[str, Any]:
        """Multiplier and the weighted sums."""
        return {"log_m": self.log_m_, "cost": self.cost_, "value": self.value_}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.log_m_, self.cost_, self.value_ = float(s["log_m"]), float(s["cost"]), float(s["value"])
