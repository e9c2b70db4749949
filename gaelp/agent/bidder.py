"""Our learning bidder: value model x policy multipliers x pacing.

Per opportunity, `bid = target CPA x P(purchase | click) x exp(log multiplier[channel x intent] + log
pacing)`, and 0 on devices our pixel has seen buy. `target CPA x P(purchase | click)` is the click's
estimated value under the CPA-constrained objective (a purchase is worth the target CPA); the
probability comes from the journey encoder and the online value model (`encoder.py`, `value.py`).
The multipliers and the pacing are set once an hour, by the environment's action while training, or
by the trained policy (a `Controller`) when the bidder plays on its own. The simulation passes every
bid of ours through the safety limits.

Action: `n_channels x 3 + 1` numbers in [-1, 1]; a multiplier is `exp(a x MAX_LOG_MULT)`, the last
number the pacing `exp(a x MAX_LOG_PACING)`. All zeros bids the estimated value x `bid_level` (1 unless
the checkpoint says otherwise): the level the policy's pacing moves around.

Identity: once the simulation is built, `attach_world(sim)` hands the bidder the identity signals of
its own clicks and purchases (network addresses, logins: what an advertiser's site sees), and the
bidder credits purchases by resolved person (`gaelp.agent.people`): a purchase on a linked device
labels the person's clicks for the value model, pays the person's last click in the reward, and stops
our bids on the person's other devices. Without it (e.g. when serving), everything is per device.

CAC guard (`cac_guard=True`, on when the agent plays: `make_agent_bidder`): the score squares any excess of
CAC over the target, and a policy trained on small worlds does not hold large ones to it exactly. From
hour `CAC_GUARD_START_H` on, every bid is scaled by `(CAC_GUARD_MARGIN x target CPA / CAC)^2`, clipped
to [`CAC_GUARD_FLOOR`, `guard_ceiling`], where CAC is the campaign's spend so far over the purchases so far
that our pixel saw within the lookback window after a click of ours (on the purchase's device or, with
identity, another device of its resolved person; whatever the value model's label window): what the
advertiser's own logs say, and the KPI table's click-through CAC when identity is resolved well. With a
ceiling of 1 it only ever lowers bids; above 1 it also raises them while the CAC runs below the margin, as
a two-sided target-CPA controller does (the checkpoint's `guard_ceiling`: 1.3 in checkpoints trained now,
`gaelp.agent.DEFAULT_GUARD_CEILING`, reached at a CAC of 85% of the target). The policy is trained without
it (the environment's bidder leaves it off).

The guard's aim (`guard_aim`, one of `GUARD_AIMS`): `spent` (the default, as above) holds the CAC so far at the
margin; `rest` aims at what the rest of the campaign may cost for the whole campaign to end at the margin:
`allowed = aim + (aim - CAC) x hours gone / hours left` (aim: `CAC_GUARD_MARGIN` x target CPA), within
[aim / 2, 1.5 x aim], and scales bids by `(allowed / CAC)^2` within the same [`CAC_GUARD_FLOOR`,
`guard_ceiling`]. A campaign over the margin late in its days is held harder (it has less time to make up),
one under it may spend the difference; past the campaign's days (a server that keeps bidding) it holds the
CAC so far, as `spent`. On the ninety held-out worlds 0-89 it kept every campaign under the target (8 of 90
over with `spent`) for 6.9% less spend, 2.6% fewer purchases and 2.4% less score (docs/agent.md, "The
guard's aim as a setting").

The campaign's horizon (`horizon`, a table of `prior_fit.horizon_table`; on when the agent plays a checkpoint
that has one: `make_agent_bidder(horizon=True)`): the score counts the purchases that land before the
campaign's end, and in our own log about 30% of the purchases a click brings come within a day of it, 54%
within three and the rest up to weeks later. A click h hours before the end is worth the table's share of an
early one: every bid is scaled by the entry of the hours left (the shipped table: 1 twenty days before the
end, 0.82 with ten days left, 0.54 with three, 0.30 with one). Holding the same CAC then needs the guard aimed
higher, since the cut spend of the last days no longer weighs on the purchases its clicks bring later:
`guard_margin`, the checkpoint's `horizon_guard_margin` (`HORIZON_GUARD_MARGIN`), in place of
`CAC_GUARD_MARGIN`. Past the campaign's days (a server that keeps bidding) the factor is 1. On the ninety
held-out worlds 0-89 the shipped policy scored 3.1% more with it (p = 4e-4), a median 0.810 of `oracle_lp`
(0.793 without), 87 of 90 campaigns under the target (82 without): docs/agent.md, "The campaign's horizon ships".

Online exploration (`online=True`): the multipliers per (channel x intent) are sampled around the
policy's mean action (the pacing stays greedy), each clipped so that every bid stays within
`EXPLORE_LIMIT` in log space of the greedy bid: at most x1.22 or /1.22.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from gaelp.agent.ceiling_fit import Layout, LinearModel, design
from gaelp.agent.encoder import JourneyEncoder, RequestLog
from gaelp.agent.people import IdentitySource, ResolvedPeople
from gaelp.agent.reward import HourlyReward
from gaelp.agent.stats import CampaignStats, obs_size
from gaelp.agent.value import DEFAULT_L2, ValueModel, n_terms
from gaelp.bidders.protocol import N_INTENTS, BaseBidder, BidderOutcome, OpportunityBatch
from gaelp.config import Config

MAX_LOG_MULT = float(np.log(4.0))  # multipliers per (channel x intent) within [1/4, 4]
MAX_LOG_PACING = float(np.log(4.0))  # the hourly pacing factor within [1/4, 4]
EXPLORE_LIMIT = 0.2  # online exploration: |log bid - log greedy bid| <= 0.2
CAC_GUARD_START_H = 72  # the guard reads the CAC from the fourth day on (too few purchases before)
CAC_GUARD_MARGIN = 0.97  # it holds the campaign's CAC at 97% of the target CPA
CAC_GUARD_FLOOR = 0.25  # and never scales a bid below a quarter
HORIZON_GUARD_MARGIN = 1.2  # with the horizon's late cut, the margin that ends campaigns at the CAC they had
# without it (about $105 of a $110 target on validation worlds 912-927; docs/agent.md, "The campaign's horizon ships")
# aimed at the rest of the campaign, the CAC the remaining hours may run at stays within these multiples of the aim
# (the range played on validation worlds 912-999 and held-out 0-89: docs/agent.md, "The guard's aim as a setting")
REST_AIM_RANGE = (0.5, 1.5)
GUARD_AIMS = ("spent", "rest")  # the guard holds the CAC so far at the margin, or aims the rest of the campaign at it
DEVICES_PER_PERSON = 3  # device ids to expect per person of the audience (the table grows past it)
_NO_HOURS = np.zeros(0, np.int64)  # the log-link prior reads the hour from its row


def check_guard_ceiling(ceiling: float) -> None:
    """Raise ValueError, naming the setting, unless the CAC guard's ceiling is at least 1."""
    if not ceiling >= 1.0:
        raise ValueError(f"guard_ceiling must be at least 1 (1: the CAC guard never raises a bid), got {ceiling}")


def check_guard_margin(margin: float) -> None:
    """Refuse a CAC guard margin that is not a positive number."""
    if not margin > 0:
        raise ValueError(f"guard_margin must be positive (the CAC the guard holds, as a multiple of the target CPA), "
                         f"got {margin}")


def check_horizon(table: np.ndarray) -> np.ndarray:
    """`table` as float64 if it is a horizon table (`prior_fit.horizon_table`: rising from 0 to 1), else a
    ValueError saying what is wrong."""
    t = np.asarray(table, np.float64)
    if t.ndim != 1 or t.size < 2 or not np.all(np.isfinite(t)) or t[-1] != 1.0 or t[0] < 0 or np.any(np.diff(t) < 0):
        raise ValueError("a horizon table must be a 1-d array rising from 0 or more to 1 (prior_fit.horizon_table), "
                         f"got shape {t.shape}" + (f", from {t[0]} to {t[-1]}" if t.ndim == 1 and t.size else ""))
    return t


def horizon_share(table: np.ndarray | None, left: int) -> float:
    """The factor on a bid with `left` hours of the campaign left: the horizon table's entry (the share of a
    click's purchases that land in time); 1.0 without a table, at or beyond the table's reach, and past the
    campaign's end (a server that keeps bidding)."""
    if table is None or not 0 < left < len(table):
        return 1.0
    return float(table[left])


def horizon_settings(ckpt: dict[str, Any], on: bool = True) -> dict[str, Any]:
    """`AgentBidder`'s `horizon` and `guard_margin` as checkpoint `ckpt` plays (`on`): its horizon table and its
    `horizon_guard_margin`; without a table, or not `on`, none and `CAC_GUARD_MARGIN`."""
    table = ckpt.get("horizon") if on else None
    margin = CAC_GUARD_MARGIN if table is None else ckpt.get("horizon_guard_margin", HORIZON_GUARD_MARGIN)
    return {"horizon": table, "guard_margin": margin}


def check_guard_aim(aim: str) -> None:
    """Raise ValueError, naming the setting, unless the CAC guard's aim is one of `GUARD_AIMS`."""
    if aim not in GUARD_AIMS:
        raise ValueError(f"guard_aim must be one of {', '.join(GUARD_AIMS)}, got {aim!r}")


def rest_allowed(aim: float, cac: float, t: int, campaign_hours: int) -> float:
    """The CAC the rest of a campaign may cost for the whole to end at `aim`, within `REST_AIM_RANGE` x aim
    ([aim / 2, 1.5 x aim]; `aim` itself once no hour is left: past its days a campaign holds its CAC so far).

    Args:
        aim: the CAC the campaign should end at.  cac: its CAC so far.
        t: hours gone (the hour being bid).  campaign_hours: its length.

    Example:
        >>> rest_allowed(97.0, 107.0, 360, 720)  # halfway and 10 over: the second half may cost 87
        87.0
    """
    left = campaign_hours - t
    if left <= 0:
        return aim
    lo, hi = REST_AIM_RANGE
    return float(np.clip(aim + (aim - cac) * t / left, lo * aim, hi * aim))


def loglink_size(layout: Layout) -> int:
    """Weights of a log-link prior over `layout`'s rows (`ceiling_fit.design`'s columns)."""
    return int(design(layout, np.zeros((0, layout.n_features), np.float32)).shape[1])


def bid_multipliers(action: np.ndarray, bid_level: float | np.ndarray) -> np.ndarray:
    """Bid multipliers of `action` (..., n_channels x 3 + 1): each context's multiplier x the pacing x `bid_level`
    (a scalar, or one per leading row); (..., n_channels x 3)."""
    return np.exp(action[..., :-1] * MAX_LOG_MULT + action[..., -1:] * MAX_LOG_PACING) * bid_level


def action_size(n_channels: int) -> int:
    """Length of the action vector."""
    return n_channels * N_INTENTS + 1


def pacing_action(n_channels: int, scale: float) -> np.ndarray:
    """(action_size,) the action that bids `scale` x the estimated value everywhere (x the bidder's
    `bid_level`): every multiplier 1, the pacing `scale`.

    Raises:
        ValueError: `scale` lies outside the pacing's range [1/4, 4].
    """
    log_scale = np.log(scale) / MAX_LOG_PACING if scale > 0 else np.inf
    if abs(log_scale) > 1 + 1e-9:
        raise ValueError(f"a bid scale must lie within the pacing's range [1/4, 4], got {scale}")
    action = np.zeros(action_size(n_channels))
    action[-1] = min(max(log_scale, -1.0), 1.0)
    return action


class Controller(Protocol):
    """Sets the multipliers once an hour from the observation (the trained policy)."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """(action_size,) action in [-1, 1] for the next hour."""
        ...

    def observe_reward(self, reward: float) -> None:
        """The reward of the hour just played (online learners use it)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Running state (recurrent memory, online updates)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        ...


class AgentBidder(BaseBidder):
    """The agent: journey encoder, online value model, and policy-set multipliers.

    Args:
        cfg: the run's config (channels, budget, target CPA, lookback window, audience size).
        prior_w: the value model's anchor weights (from training worlds); None: a flat prior CVR.
        controller: sets the action each hour; None: the action is set from outside (`set_action`).
        attribution: attribution model of the reward ledger.
        reward_value: what an attributed purchase is worth in the reward (`reward.REWARD_VALUES`).
        purchase_worth: under `reward_value="target_cpa"`, a purchase is worth this x the target CPA (under
            `"lagrangian"`, its worth at the campaign's start).
        reward_timing: when the reward pays a click's credit (`reward.REWARD_TIMINGS`).
        identity: credit purchases by resolved person once `attach_world` is called (False: by device).
        cac_guard: scale bids by the campaign's CAC against the target (see the module's doc).
        guard_ceiling: the guard's largest factor (1: it never raises a bid); at least 1.
        guard_aim: what the guard holds at its margin (`GUARD_AIMS`): the CAC so far (`spent`) or the whole
            campaign's, through what the rest of it may cost (`rest`); see the module's doc.
        campaign_start: the campaign's first hour: 0 in a simulation; when serving, the server's first hour
            (its hours count from the Unix epoch). The guard's start, its hours left and the report's progress
            count from it.
        value_l2: the online value model's pull towards `prior_w` (`gaelp.agent.value`).
        value_window_h: the value model's label window: a click is labelled by a purchase within this many
            hours (None: the lookback window).
        bid_level: every bid x this (the centre of the pacing's range).
        loglink_w: weights of the log-link prior (`prior_fit.fit_loglink`); given, the bids, the reports and the
            reward read its P(purchase) instead of the value model's (which still learns online); None: the
            value model's.
        requests: keep the devices' bid-request history (`RequestLog`: every opportunity offered to us, won or
            not), log its row of each click (`request_rows`, beside the value model's log) and, with a log-link
            prior, read the prior on the rows with it (`Layout(requests=True)`: its weights must be of that
            layout).
    """

    learns = True

    def __init__(self, cfg: Config, prior_w: np.ndarray | None = None, controller: Controller | None = None,
                 attribution: str = "last_click", reward_value: str = "target_cpa",
                 purchase_worth: float = 1.0, reward_timing: str = "arrival", identity: bool = True,
                 cac_guard: bool = False, value_l2: float = DEFAULT_L2, value_window_h: int | None = None,
                 bid_level: float = 1.0, loglink_w: np.ndarray | None = None, guard_ceiling: float = 1.0,
                 guard_aim: str = "spent", campaign_start: int = 0, requests: bool = False,
                 guard_margin: float = CAC_GUARD_MARGIN, horizon: np.ndarray | None = None) -> None:
        if not bid_level > 0:
            raise ValueError(f"bid_level must be positive, got {bid_level}")
        check_guard_ceiling(guard_ceiling)
        check_guard_margin(guard_margin)
        self.horizon = None if horizon is None else check_horizon(horizon)
        check_guard_aim(guard_aim)
        super().__init__("agent", cfg.campaign.budget_per_user * cfg.users)
        n_ch = len(cfg.world.channels)
        window_h = 24 * cfg.campaign.lookback_days
        self.target_cpa = cfg.bidders.target_cpa
        self.encoder = JourneyEncoder(n_ch, DEVICES_PER_PERSON * cfg.users)
        # a prior as wide as the interaction terms (`prior_fit`) runs the model on them
        wide = prior_w is not None and np.size(prior_w) == n_terms(n_ch)
        self.value = ValueModel(self.encoder.n_features, value_window_h or window_h, prior_w, l2=value_l2,
                                n_channels=n_ch if wide else None)
        self.stats = CampaignStats(n_ch, self.daily_budget, self.target_cpa, cfg.days, campaign_start)
        self.reward = HourlyReward(cfg.channel_names, attribution, window_h, self.target_cpa * purchase_worth,
                                   reward_value, reward_timing, cac_target=self.target_cpa)
        self.window_h = window_h
        self.devices_cfg, self.identity = cfg.world.devices, identity
        self.people: ResolvedPeople | None = None
        self.controller = controller
        self.action = np.zeros(action_size(n_ch))
        self.last_reward = 0.0
        self.cac_guard, self.bid_level, self.guard_ceiling = cac_guard, float(bid_level), float(guard_ceiling)
        self.guard_aim, self.campaign_start, self.campaign_hours = guard_aim, int(campaign_start), 24 * cfg.days
        self.guard_margin = float(guard_margin)
        self.requests = RequestLog(n_ch, DEVICES_PER_PERSON * cfg.users) if requests else None
        self._request_rows: list[np.ndarray] = []  # each hour's request rows of its clicks (`request_rows`)
        self.loglink = None if loglink_w is None else LinearModel(Layout(n_ch, requests),
                                                                  np.asarray(loglink_w, np.float64), log_link=True)
        if self.loglink is not None and self.loglink.w.size != (size := loglink_size(self.loglink.layout)):
            raise ValueError(f"loglink_w has {self.loglink.w.size} weights; a log-link prior "
                             f"{'with' if requests else 'without'} the bid-request history has {size} (requests="
                             f"{requests}: fit it with prior_fit.fit_loglink(..., requests={requests}))")
        self.click_purchases = 0.0  # purchases our pixel saw after a click of ours (by sampling weight)
        self._acted_t = -1
        # (t, features, p, request rows or None) of the last batch
        self._cache: tuple[int, np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._report: Callable[[BidderOutcome, np.ndarray], None] = self.stats.observe  # the hour into `stats`

    def defer_report(self, sink: Callable[[BidderOutcome, np.ndarray], None]) -> None:
        """Hand each hour's outcome and (n,) estimates to `sink` instead of folding them into `stats`: the vector
        env folds its worlds' hours in at once (`gaelp.agent.worlds_stats`) before anything reads them."""
        self._report = sink

    def attach_identity(self, signals: IdentitySource) -> None:
        """Credit purchases by resolved person, from the identity signals of our own events."""
        self.people = ResolvedPeople(signals, self.window_h)

    def attach_world(self, sim: Any) -> None:
        """`attach_identity` with the signals of `sim`'s world (`gaelp.world.identity.IdentitySignals`),
        which the bidder reads only on its own clicks and purchases. Nothing if `identity` is off."""
        from gaelp.world.identity import IdentitySignals

        if not self.identity:
            return
        self.attach_identity(IdentitySignals(self.devices_cfg, sim.pop, sim.crng))

    # --- the policy's side ------------------------------------------------------------------------
    def set_action(self, action: np.ndarray) -> None:
        """Multipliers and pacing for the next hour: (action_size,) in [-1, 1] (clipped)."""
        a = np.clip(np.asarray(action, np.float64).reshape(-1), -1.0, 1.0)
        if a.shape != self.action.shape:
            raise ValueError(f"action must have {self.action.size} numbers (channel x intent, then pacing), "
                             f"got {a.size}")
        self.action = a

    def observation(self) -> np.ndarray:
        """(obs_size,) what we know before the next hour (see `stats.py`)."""
        return self.stats.vector(self.value.summary()[2:], self.action)

    @property
    def obs_size(self) -> int:
        """Length of the observation."""
        return obs_size(self.encoder.n_channels)

    def multipliers(self, action: np.ndarray | None = None) -> np.ndarray:
        """(n_channels x 3,) bid multipliers of the hour (or of `action`), pacing and bid level included."""
        a = self.action if action is None else np.clip(np.asarray(action, np.float64), -1.0, 1.0)
        return bid_multipliers(a, self.bid_level)

    # --- the Bidder protocol ----------------------------------------------------------------------
    def value_per_click(self, batch: OpportunityBatch) -> tuple[np.ndarray, np.ndarray]:
        """(n,) estimated value of a click (target CPA x P(purchase)) and (n,) P(purchase); 0 on converted
        devices. Reads only the advertiser's view of the batch (never `batch.truth`)."""
        _, p = self._features(batch)
        return self.target_cpa * p, p

    def features(self, batch: OpportunityBatch) -> tuple[np.ndarray, np.ndarray]:
        """(n, n_features) the encoder's rows of the batch and (n,) P(purchase) (0 on converted devices)."""
        return self._features(batch)

    def _features(self, batch: OpportunityBatch) -> tuple[np.ndarray, np.ndarray]:
        """(n, d) features of the batch and (n,) P(purchase), cached for the hour's batch."""
        if self._cache is not None and self._cache[0] == batch.t and self._cache[1].shape[0] == batch.size:
            return self._cache[1], self._cache[2]
        x, converted = self.encoder.features_and_converted(batch)
        r = None if self.requests is None else self.requests.features(batch)
        p = self.estimate(x, converted, r)
        self.keep_features(batch.t, x, p, r)
        return x, p

    def estimate(self, x: np.ndarray, converted: np.ndarray, requests: np.ndarray | None = None) -> np.ndarray:
        """(n,) P(purchase) of feature rows `x` (n, d) of devices `converted` (n,) (0 on those): the log-link
        prior's if given (on `requests` (n, k), the rows' request history, too if its layout reads it), else
        the value model's."""
        if self.loglink is None:
            return np.where(converted, 0.0, self.value.predict(x))
        parts = [x, converted[:, None].astype(x.dtype)]  # then `converted`; the row has the hour
        if self.loglink.layout.requests:
            if requests is None:
                raise ValueError("this log-link prior reads the bid-request history: build the bidder with "
                                 "requests=True")
            parts.append(requests.astype(x.dtype))
        return np.where(converted, 0.0, self.loglink.predict(np.concatenate(parts, axis=1), _NO_HOURS))

    def keep_features(self, t: int, x: np.ndarray, p: np.ndarray, requests: np.ndarray | None = None) -> None:
        """Hold hour `t`'s features `x` (n, d), estimates `p` (n,) and request rows of its batch until the hour
        is observed (as `features` computes them; a batch of worlds computes every world's at once)."""
        self._cache = (t, x, p, requests)

    @property
    def request_rows(self) -> np.ndarray:
        """(clicks, k) the bid-request history of each click in the value model's log, in its order (with
        `requests`; (clicks, 0) without)."""
        if self.requests is None:
            return np.zeros((self.value.x.shape[0], 0), np.float32)
        return np.concatenate([np.zeros((0, self.requests.n_features), np.float32), *self._request_rows])

    def choose_action(self, t: int) -> None:
        """The controller's action for hour `t`, set at the hour's first bid (nothing without a controller)."""
        if self.controller is not None and t != self._acted_t:
            self.set_action(self.controller.act(self.observation()))
            self._acted_t = t

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        """Estimated value x multiplier[channel x intent] x pacing."""
        self.choose_action(batch.t)
        value, _ = self.value_per_click(batch)
        return value * (self.multipliers()[batch.context] * self.hour_factor(batch.t))

    def hour_factor(self, t: int) -> float:
        """The factor on every bid of hour `t` besides its value and multiplier: the CAC guard's times the
        horizon's."""
        return self.guard(t) * self.horizon_factor(t)

    def horizon_factor(self, t: int) -> float:
        """1.0 without a horizon table, and while the campaign has at least the table's reach left or is over (a
        server that keeps bidding); else the table's entry of the hours left: the share of a click's purchases
        that land before the campaign's end."""
        return horizon_share(self.horizon, self.campaign_start + self.campaign_hours - t)

    def guard(self, t: int) -> float:
        """The CAC guard's factor on every bid of hour `t`: 1.0 when off or in the campaign's first
        `CAC_GUARD_START_H` hours, else `(allowed / CAC)^2` within [`CAC_GUARD_FLOOR`, `guard_ceiling`], where
        `allowed` is the margin (`CAC_GUARD_MARGIN` x target CPA) or, aiming at the rest of the campaign,
        `rest_allowed`'s."""
        gone = t - self.campaign_start
        if not self.cac_guard or gone < CAC_GUARD_START_H:
            return 1.0
        cac = max(self.stats.totals[2] / max(self.click_purchases, 1.0), 1e-9)
        aim = self.guard_margin * self.target_cpa
        if self.guard_aim == "rest":
            aim = rest_allowed(aim, cac, gone, self.campaign_hours)
        return float(np.clip((aim / cac) ** 2, CAC_GUARD_FLOOR, self.guard_ceiling))

    def observe(self, outcome: BidderOutcome) -> None:
        """Learn from our own results: clicks and pixel purchases for the value model, the journey table,
        the report the policy reads, and the ledger's reward."""
        b = outcome.batch
        x, p = self._features(b)
        clicked = outcome.clicked.nonzero()[0]
        self.record_clicks(b, x, clicked)
        self.encoder.observe(outcome)
        self.close_hour(outcome, p, clicked)

    def record_clicks(self, batch: OpportunityBatch, x: np.ndarray, clicked: np.ndarray) -> None:
        """The first part of `observe`: the hour's clicks (`clicked`, indices into `batch`) into the value model's
        log (their feature rows of `x`) and the identity log; before the journey table moves on."""
        if clicked.size:  # most hours bring no click
            device = batch.device[clicked]
            self.value.record_clicks(batch.t, x[clicked], device, batch.weight[clicked])
            if self.people is not None:
                self.people.record_clicks(batch.t, device, clicked)
        if self.requests is not None:  # the clicks' request rows (before this hour), then the hour's requests
            if clicked.size:
                assert self._cache is not None and self._cache[3] is not None, "record_clicks follows the hour's bids"
                self._request_rows.append(self._cache[3][clicked])
            self.requests.observe(batch)

    def close_hour(self, outcome: BidderOutcome, p: np.ndarray, clicked: np.ndarray, report: bool = True) -> None:
        """The last part of `observe`, once the journey table holds the hour: the pixel's purchases, the report,
        the reward and the value model's refit (`p`: the hour's (n,) estimates; `clicked`: the clicks' indices;
        `report` False: the caller reports the hour, as `defer_report` lets it)."""
        credited = None
        if outcome.conv_device.size:  # most hours bring no purchase
            credited = self._observe_purchases(outcome)
        self._cache = None  # the journey table moved on
        if report:
            self._report(outcome, p)
        self.last_reward = self.reward.observe(outcome, p[clicked], credited, clicked)
        if self.controller is not None:
            self.controller.observe_reward(self.last_reward)
        self.value.maybe_refit(outcome.batch.t + 1)

    def _observe_purchases(self, outcome: BidderOutcome) -> np.ndarray | None:
        """The hour's pixel purchases: the value model's labels, the converted devices, the purchases after a
        click of ours (the CAC guard's); returns the device each purchase credits (None: its own)."""
        if self.people is None:
            self.value.record_conversions(outcome.conv_t, outcome.conv_device)
            after_click = self.encoder.clicked_within(outcome.conv_device, outcome.conv_t, self.window_h)
            credited = None
        else:
            self.people.record_purchases(outcome.conv_t, outcome.conv_device)
            row, linked = self.people.devices_of(outcome.conv_device)
            self.value.record_conversions(outcome.conv_t[row], linked)
            after_click = np.zeros(outcome.conv_device.size, bool)  # within the lookback window of a click of ours
            after_click[row[self.encoder.clicked_within(linked, outcome.conv_t[row], self.window_h)]] = True
            self.encoder.mark_converted(linked)
            credited = self.people.credited_device(outcome.conv_t, outcome.conv_device)
        self.click_purchases += float(outcome.conv_weight[after_click].sum())
        return credited

    def state_dict(self) -> dict[str, Any]:
        """Journey table, value model, report, action, the controller's memory and the identity log."""
        state = {"encoder": self.encoder.state_dict(), "value": self.value.state_dict(),
                 "stats": self.stats.state_dict(), "action": self.action.copy(), "acted_t": self._acted_t,
                 "click_purchases": self.click_purchases,
                 "controller": self.controller.state_dict() if self.controller is not None else {},
                 "people": self.people.state_dict() if self.people is not None else {}}
        if self.requests is not None:
            state["requests"] = {**self.requests.state_dict(), "rows": self.request_rows}
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.encoder.load_state_dict(state["encoder"])
        self.value.load_state_dict(state["value"])
        self.stats.load_state_dict(state["stats"])
        self.action = np.array(state["action"], np.float64)
        self._acted_t = int(state["acted_t"])
        self.click_purchases = float(state.get("click_purchases", 0.0))  # states from before the guard: none
        self._cache = None
        if self.controller is not None:
            self.controller.load_state_dict(state["controller"])
        if self.people is not None and state.get("people"):
            self.people.load_state_dict(state["people"])
        if self.requests is not None:
            if "requests" not in state:
                raise ValueError("the state has no bid-request history: it was saved by a bidder without requests")
            self.requests.load_state_dict(state["requests"])
            self._request_rows = [np.array(state["requests"]["rows"], np.float32)]


def default_policy_path() -> pathlib.Path:
    """The checkpoint shipped in the package."""
    return pathlib.Path(__file__).parent / "policy" / "default.pt"


def make_agent_bidder(cfg: Config, policy: str | pathlib.Path | None = None, online: bool = False,
                      cac_guard: bool = True, guard_ceiling: float | None = None,
                      guard_aim: str = "spent", campaign_start: int = 0, horizon: bool = True) -> AgentBidder:
    """Our agent bidder for `Simulation(cfg, bidder=...)`, playing a trained policy.

    Args:
        cfg: the run's config; the daily budget is `cfg.campaign.budget_per_user x cfg.users`.
        policy: a checkpoint written by `gaelp train`; None: the one shipped in the package.
        online: keep learning while bidding: sampled actions within `EXPLORE_LIMIT` of the greedy bid,
            and policy updates from the campaign's own ledger rewards (the value model always learns
            from our pixel).
        cac_guard: steer the campaign's CAC to just under the target (see the module's doc).
        guard_ceiling: the guard's largest factor; None: the checkpoint's (1 for checkpoints written before
            the setting: a guard that never raises a bid).
        guard_aim: what the guard holds at its margin (`GUARD_AIMS`; see the module's doc).
        campaign_start: the campaign's first hour (`AgentBidder`'s; a server passes its first hour).
        horizon: bid for the purchases that land before the campaign's end, if the checkpoint has a horizon
            table (`horizon`; written by `gaelp train` since the setting): the table scales the bids of the
            campaign's last days, and the guard holds its CAC at the checkpoint's `horizon_guard_margin`. False:
            every click as worth its purchases whenever they come, the guard at `CAC_GUARD_MARGIN` (as before).

    Raises:
        FileNotFoundError: the checkpoint does not exist (the message says how to make one).
        CheckpointError: the file is not a checkpoint written by `gaelp train`.
    """
    from gaelp.agent.network import PolicyController, load_checkpoint

    path = pathlib.Path(policy) if policy is not None else default_policy_path()
    ckpt = load_checkpoint(path)
    controller = PolicyController(ckpt, online=online, explore_limit=EXPLORE_LIMIT / MAX_LOG_MULT)
    return AgentBidder(cfg, prior_w=ckpt["prior_w"], controller=controller,
                       attribution=ckpt.get("attribution", "last_click"),
                       reward_value=ckpt.get("reward_value", "target_cpa"),
                       purchase_worth=ckpt.get("purchase_worth", 1.0),
                       # checkpoints from before identity crediting were trained per device, and play so
                       reward_timing=ckpt.get("reward_timing", "arrival"), identity=ckpt.get("identity", False),
                       cac_guard=cac_guard, value_l2=ckpt.get("value_l2", DEFAULT_L2),
                       value_window_h=ckpt.get("value_window_h"), bid_level=ckpt.get("bid_level", 1.0),
                       loglink_w=ckpt.get("loglink_w"),
                       guard_ceiling=ckpt.get("guard_ceiling", 1.0) if guard_ceiling is None else guard_ceiling,
                       guard_aim=guard_aim, campaign_start=campaign_start,
                       requests=bool(ckpt.get("loglink_requests", False)), **horizon_settings(ckpt, horizon))
