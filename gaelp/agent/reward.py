"""The hourly reward of our campaign from the delayed-reward ledger, on our own logs.

Each click we paid for enters `gaelp.attribution.ledger.RewardLedger` as a pending touch, identified
by its device (what our pixel sees). A purchase our pixel reports credits the pending clicks of the
lookback window under the chosen attribution model, so a purchase days after a click still pays. The
purchase credits the device the caller names: its own, or (with identity resolution,
`gaelp.agent.people`) the device of its resolved person's latest click, so a purchase on another
device than the click's still pays the click. `close` advances, at a campaign's end, the expected
value of clicks still pending (the conversion-lag model of the value model).

When the credit is paid (`timing`):

* `"arrival"` (default): the credit when the purchase arrives, the cost when the click is bought.
* `"click"`: each click is *advanced* its expected credit when it is bought, the value model's
  `p_hat x worth`; when the truth arrives (a credited purchase, or the window's close) the reward is
  the correction, truth minus the advance. Each click's rewards still add up to its attributed
  credit (as the ledger's own advances do), and the policy sees a click's worth in the hour that
  bought it rather than days later, past the horizon of its advantage estimates (GAE with lambda
  0.95 looks about 20 hours ahead; the mean click-to-purchase delay is about 3 days). But the
  correction comes days later too, so the policy learns the value model's bias with it: with
  `p_hat` about 1.2-1.9x the true rate on the clicks bought, a 28-minute run learned to overbid
  (CAC 129-186 on validation worlds against a target of 110; docs/agent.md). Not the default.

What a purchase is worth (`reward_value`):

* `"target_cpa"` (default): every attributed purchase is worth the target CPA. Maximising
  `target CPA x purchases - spend` keeps the campaign's CAC under the target, which is what the
  CPA-constrained score asks; a policy rewarded with revenue (about 2x the target) would overspend.
* `"revenue"`: the revenue the pixel reports (profit-seeking).
* `"score"`: the hourly change of the campaign's score computed on the ledger's running totals,
  `Phi = T x A x min(1, (T x A / S)^2)` with `A` the attributed purchases so far, `S` the spend so far
  and `T` the target CPA (x the purchase worth). The rewards of a campaign add up to its score on our
  own logs (times `T`, so that rewards stay in dollars): the objective the evaluation scores, with no
  worth to choose. A purchase worth `T` maximises profit, which prices the *marginal* purchase at the
  target and leaves the average CAC far below it; the score wants the *average* at the target.
* `"lagrangian"`: a purchase is worth `w` and spend costs its dollars, as under `"target_cpa"`, but `w`
  is the campaign's own multiplier of the CAC constraint, moved once a day by dual ascent: `w x (C /
  CAC)^LAGRANGE_STEP`, with `C` the CAC target x `LAGRANGE_AIM` and `CAC` the campaign's attributed CAC
  so far, shrunk to `C` by `LAGRANGE_PRIOR` pseudo-purchases, `w` kept within `LAGRANGE_RANGE` x its
  start. Maximising `purchases - mu x (spend - C x purchases)` is maximising `w x purchases - spend`
  with `w = C + 1/mu`: the worth of the marginal purchase at which the campaign's CAC meets its target,
  which differs from world to world. It starts at the given worth, rises while the campaign buys under
  the target and falls past it. Paid on arrival only (the daily step counts the purchases credited so
  far). Measured (docs/agent.md, "A per-campaign worth"): PPO games it. The worth is a state the policy
  moves, and a campaign kept cheap early raises it for every later purchase, so on 20,000-person
  training worlds the return rose 16-fold while the score fell. Not the default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gaelp.attribution.ledger import RewardEvents, RewardLedger
from gaelp.bidders.protocol import BidderOutcome

REWARD_VALUES = ("target_cpa", "revenue", "score", "lagrangian")
LAGRANGE_STEP = 0.5  # assumption: the worth's daily step, x (target / CAC)^this
LAGRANGE_PRIOR = 5.0  # assumption: pseudo-purchases at the target CAC that shrink a young campaign's CAC
LAGRANGE_RANGE = (0.5, 8.0)  # assumption: the worth stays within these multiples of its start
LAGRANGE_AIM = 0.9  # assumption: the CAC the worth steers to, x the target (the score squares any excess, and a
# 100,000-person campaign's CAC scatters by 5-10% around where its level aims)
REWARD_TIMINGS = ("click", "arrival")


class HourlyReward:
    """Ledger-based reward, hour by hour.

    Args:
        channel_names: the market's channels.
        attribution: attribution model (a name of `gaelp.attribution.registry`).
        window_h: lookback window (hours).
        target_cpa: worth of a purchase under `reward_value="target_cpa"` (and the target of `"score"`).
        reward_value: `"target_cpa"`, `"revenue"`, `"score"` or `"lagrangian"`.
        timing: `"click"` (advance the expected credit when a click is bought) or `"arrival"`.
        cac_target: the target CAC of the `"lagrangian"` worth (None: `target_cpa`); it steers the campaign to
            `LAGRANGE_AIM` x this.
    """

    def __init__(self, channel_names: tuple[str, ...], attribution: str, window_h: int, target_cpa: float,
                 reward_value: str = "target_cpa", timing: str = "arrival", cac_target: float | None = None) -> None:
        if reward_value not in REWARD_VALUES:
            raise ValueError(f"reward_value must be one of {', '.join(REWARD_VALUES)}, got {reward_value!r}")
        if timing not in REWARD_TIMINGS:
            raise ValueError(f"reward timing must be one of {', '.join(REWARD_TIMINGS)}, got {timing!r}")
        if reward_value == "lagrangian" and timing != "arrival":
            raise ValueError("reward_value='lagrangian' pays on arrival only (timing='arrival')")
        self.ledger = RewardLedger(channel_names, attribution, window_h=float(window_h))
        self.target_cpa, self.reward_value, self.timing = float(target_cpa), reward_value, timing
        self.cac_target = LAGRANGE_AIM * float(target_cpa if cac_target is None else cac_target)
        self.credit = self.spend = self.revenue = self.purchases = 0.0
        self.attributed = 0.0  # purchases credited so far, by sampling weight (`"lagrangian"`)
        self.worth_mult = 1.0  # the `"lagrangian"` worth / its start
        self._advance = np.zeros(0)  # (clicks so far,) what each click was advanced, by decision id

    def _worth(self) -> float:
        """A purchase's worth: the target CPA (x the `"lagrangian"` multiplier), or the mean revenue our pixel
        has reported (none seen: 0)."""
        if self.reward_value == "revenue":
            return self.revenue / max(self.purchases, 1)
        return self.target_cpa * self.worth_mult

    def _step_worth(self) -> None:
        """The `"lagrangian"` worth's daily step towards the campaign's CAC at `cac_target`."""
        c = self.cac_target
        cac = (self.spend + LAGRANGE_PRIOR * c) / (self.attributed + LAGRANGE_PRIOR)
        lo, hi = LAGRANGE_RANGE
        self.worth_mult = float(np.clip(self.worth_mult * (c / cac) ** LAGRANGE_STEP, lo, hi))

    def potential(self) -> float:
        """The campaign's score so far on the ledger's totals, x the target (`"score"`; 0 before a purchase):
        the credit is the target x the attributed purchases, so `Phi = credit x min(1, (credit / spend)^2)`."""
        if self.credit <= 0:
            return 0.0
        return self.credit * min(1.0, (self.credit / self.spend) ** 2 if self.spend > 0 else 1.0)

    def _pay(self, credit: float, spend: float) -> float:
        """Add an hour's credit and spend to the totals; the reward: credit minus spend, or under `"score"`
        the change of `potential`."""
        before = self.potential() if self.reward_value == "score" else 0.0
        self.credit += credit
        self.spend += spend
        return self.potential() - before if self.reward_value == "score" else credit - spend

    def _settle(self, events: RewardEvents) -> float:
        """Credit of settled clicks, less what they were advanced (each click settles once)."""
        return events.total - float(self._advance[np.unique(events.decision)].sum())

    def observe(self, outcome: BidderOutcome, p_click: np.ndarray | None = None,
                conv_identity: np.ndarray | None = None, clicked: np.ndarray | None = None) -> float:
        """Record one hour and return its reward: credit that arrived (or was advanced) minus spend.

        Args:
            outcome: our hour.
            p_click: (k,) the value model's P(purchase) of each click of the hour (clicks in batch order);
                needed when `timing="click"`.
            conv_identity: (m,) the device each pixel purchase credits (None: its own device).
            clicked: (k,) `np.flatnonzero(outcome.clicked)`, if the caller has it.
        """
        t = outcome.batch.t
        if clicked is None:
            clicked = np.flatnonzero(outcome.clicked)
        if outcome.conv_t.size:  # purchases count by their sampling weight (1.0 each in a plain world)
            self.purchases += float(outcome.conv_weight.sum())
            self.revenue += float((outcome.conv_value * outcome.conv_weight).sum())
        advanced = 0.0
        if clicked.size:
            first = self._advance.size
            if self.timing == "click":
                if p_click is None or p_click.shape != clicked.shape:
                    raise ValueError("timing='click' needs p_click, one P(purchase) per click of the hour")
                adv = self._worth() * np.asarray(p_click, np.float64)
            else:
                adv = np.zeros(clicked.size)
            self._advance = np.concatenate([self._advance, adv])
            advanced = float(adv.sum())
            self.ledger.touch(first + np.arange(clicked.size, dtype=np.int64), np.full(clicked.size, float(t)),
                              outcome.batch.device[clicked], outcome.batch.channel[clicked].astype(np.int64))
        credit = 0.0
        if outcome.conv_t.size:
            worth = self._worth()
            value = (outcome.conv_value if self.reward_value == "revenue"
                     else np.full(outcome.conv_t.size, worth)) * outcome.conv_weight
            who = outcome.conv_device if conv_identity is None else conv_identity
            credit = self._settle(self.ledger.convert(outcome.conv_t.astype(np.float64), who, value))
            if self.reward_value == "lagrangian":
                self.attributed += credit / worth
        if t % 24 == 23:
            credit += self._settle(self.ledger.expire(float(t)))  # closed windows: zero (less the advance)
        reward = self._pay(credit + advanced, float(outcome.cost.sum()))
        if self.reward_value == "lagrangian" and t % 24 == 23:
            self._step_worth()
        return reward

    def close(self, t_end: int, p: float, mean_delay_h: float) -> float:
        """Advance the expected credit of pending clicks at the end of a campaign (hour `t_end`).

        Args:
            t_end: the hour after the last one played.
            p: P(a click converts within the window), e.g. the value model's mean estimate.
            mean_delay_h: mean click-to-purchase delay of the exponential lag model.
        """
        ev = self.ledger.close_episode(float(t_end), p=float(np.clip(p, 0.0, 1.0)),
                                       survival=lambda h: np.exp(-np.asarray(h) / mean_delay_h), value=self._worth())
        return self._pay(self._settle(ev), 0.0)

    def state_dict(self) -> dict[str, Any]:
        """Not persisted beyond totals: the ledger is rebuilt for each campaign."""
        return {"credit": self.credit, "spend": self.spend, "revenue": self.revenue, "purchases": self.purchases,
                "attributed": self.attributed, "worth_mult": self.worth_mult}
