"""`gaelp/Campaign-v0`: one campaign of ours as a Gymnasium environment; one step is one simulated hour.

* Observation: our own report only (`gaelp.agent.stats`): time, budget, our results, the value
  model's summary, per (channel x intent) our opportunities, win rate, prices, clicks, spend and
  mean estimated purchase probability, and the previous action.
* Action: `Box(-1, 1, (n_channels x 3 + 1,))`: log bid multipliers per (channel x intent) and the
  pacing of the next hour (`gaelp.agent.bidder`).
* Reward: the delayed-reward ledger's credit that arrived in the hour minus the hour's spend
  (`gaelp.agent.reward`); at the campaign's end, the expected credit of clicks still pending.
* Episode: the campaign's `days` (truncated, never terminated). `info` at the end holds the
  campaign's KPIs and its score, `conversions x min(1, (target CPA / CAC)^2)`.

Worlds differ by seed (`reset(seed=...)`); with `randomize=True`, also by market settings drawn from
the seed: our budget (x0.5-2), each rival's budget (x0.5-1.5) and the start date (any day of a year),
so a policy does not learn one market by heart.

`VectorCampaignEnv` steps many worlds per call through Gymnasium's vector API, autoresetting each world
when its campaign ends. Worlds at the same hour step as one batch (`gaelp.experiments.batched`: the
market's phase of the hour cleared once for all of them), which gives each world, bit for bit, what it
gets stepped alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gaelp.agent.bidder import AgentBidder, action_size
from gaelp.agent.encoder import JourneyEncoder
from gaelp.agent.stats import obs_size
from gaelp.agent.value import DEFAULT_L2
from gaelp.agent.worlds_bidder import WorldsAgent
from gaelp.agent.worlds_stats import WorldsStats
from gaelp.bidders.protocol import BidderOutcome
from gaelp.config import Config
from gaelp.experiments.batched import BatchedWorlds
from gaelp.kpis import Kpis
from gaelp.simulation import Simulation

OBS_LIMIT = 1e6


def campaign_score(kpis: Kpis, channel_names: tuple[str, ...], target_cpa: float) -> dict[str, float]:
    """Conversions, spend, CAC, ROAS (as in the KPI table) and the CPA-constrained score of our campaign.

    `score = conversions x min(1, (target CPA / CAC)^2)`; a campaign with no conversion scores 0.
    """
    tot = kpis.table(channel_names)["totals"]
    conv, cac = tot["conversions"], tot["cac"]
    score = conv * min(1.0, (target_cpa / cac) ** 2) if cac else float(conv)
    return {"score": float(score), "conversions": float(conv), "spend": float(tot["spend"]),
            "cac": float(cac) if cac is not None else float("nan"),
            "roas": float(tot["roas"]) if tot["roas"] is not None else float("nan")}


def randomized(cfg: Config, rng: np.random.Generator) -> Config:
    """A training world's market: our budget x0.5-2, rivals' budgets x0.5-1.5, a start date in the year."""
    camp = cfg.campaign.model_copy(update={"budget_per_user": cfg.campaign.budget_per_user * rng.uniform(0.5, 2.0)})
    comps = tuple(c.model_copy(update={"budget_per_user": c.budget_per_user * rng.uniform(0.5, 1.5)})
                  for c in cfg.market.competitors)
    start = cfg.start_date + dt.timedelta(days=int(rng.integers(0, 365)))
    return cfg.model_copy(update={"campaign": camp, "market": cfg.market.model_copy(update={"competitors": comps}),
                                  "start_date": start})


class CampaignEnv(gym.Env):
    """One campaign of ours, an hour per step.

    Args:
        cfg: the base config (default: the defaults with `users` and `days` below).
        users: people in the world (overrides `cfg.users`).
        days: campaign length (overrides `cfg.days`).
        randomize: draw the market settings from each reset's seed (training worlds).
        attribution: attribution model of the reward ledger.
        reward_value: what the reward pays (`gaelp.agent.reward.REWARD_VALUES`).
        purchase_worth: under `"target_cpa"`, a purchase is worth this x the target CPA.
        prior_w: the value model's anchor weights (None: a flat prior).
        reward_timing: when the reward pays a click's credit (`"click"`: advanced, or `"arrival"`).
        identity: credit purchases by resolved person (`AgentBidder.attach_world`), else by device.
        value_l2: the online value model's pull towards `prior_w`.
        value_window_h: the value model's label window (None: the lookback window).
        bid_level: every bid of ours x this (the centre of the pacing action's range).
        loglink_w: the log-link prior's weights (`AgentBidder`'s `loglink_w`; None: the value model bids).
        loglink_requests: the log-link prior reads the bid-request history (`AgentBidder(requests=True)`).
    """

    def __init__(self, cfg: Config | None = None, users: int | None = None, days: int | None = None,
                 randomize: bool = False, attribution: str = "last_click", reward_value: str = "target_cpa",
                 prior_w: np.ndarray | None = None, purchase_worth: float = 1.0, reward_timing: str = "arrival",
                 identity: bool = True, value_l2: float = DEFAULT_L2, value_window_h: int | None = None,
                 bid_level: float = 1.0, loglink_w: np.ndarray | None = None, loglink_requests: bool = False) -> None:
        self.metadata = {"render_modes": []}  # gymnasium's Env declares it an instance attribute
        base = cfg if cfg is not None else Config()
        self.base = base.replace(users=users, days=days)
        self.randomize, self.attribution, self.reward_value = randomize, attribution, reward_value
        self.prior_w, self.purchase_worth = prior_w, purchase_worth
        self.reward_timing, self.identity, self.value_l2 = reward_timing, identity, value_l2
        self.value_window_h, self.bid_level, self.loglink_w = value_window_h, bid_level, loglink_w
        self.loglink_requests = loglink_requests
        n_ch = len(self.base.world.channels)
        self.observation_space = spaces.Box(-OBS_LIMIT, OBS_LIMIT, (obs_size(n_ch),), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (action_size(n_ch),), np.float32)
        self.hours = 24 * self.base.days
        self.sim: Simulation | None = None
        self.bidder: AgentBidder | None = None
        self.cfg = self.base
        self.bidder_features = JourneyEncoder(n_ch).n_features

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """A fresh world: seed `seed` (or one drawn from the env's generator)."""
        super().reset(seed=seed)
        world_seed = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31))
        cfg = self.base.replace(seed=world_seed)
        if self.randomize:
            cfg = randomized(cfg, np.random.default_rng(np.random.SeedSequence([world_seed, 0x5EED])))
        self.cfg = cfg
        self.bidder = AgentBidder(cfg, prior_w=self.prior_w, attribution=self.attribution,
                                  reward_value=self.reward_value, purchase_worth=self.purchase_worth,
                                  reward_timing=self.reward_timing, identity=self.identity,
                                  value_l2=self.value_l2, value_window_h=self.value_window_h,
                                  bid_level=self.bid_level, loglink_w=self.loglink_w,
                                  requests=self.loglink_requests)
        self.sim = Simulation(cfg, bidder=self.bidder)
        self.bidder.attach_world(self.sim)
        return self.bidder.observation(), {"seed": world_seed}

    @property
    def agent(self) -> AgentBidder:
        """The bidder of the current campaign."""
        if self.bidder is None:
            raise RuntimeError("call reset() before reading the campaign's bidder")
        return self.bidder

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Play one hour with `action`'s multipliers and pacing."""
        self.act(action).step_hour()
        return self.outcome()

    def act(self, action: np.ndarray) -> Simulation:
        """The first part of `step`: set the hour's action; returns the world, for its hour to be played."""
        if self.sim is None or self.bidder is None:
            raise RuntimeError("call reset() before step()")
        self.bidder.set_action(action)
        return self.sim

    def outcome(self) -> tuple[np.ndarray, float, bool, bool, dict]:
        """The last part of `step`, once the world's hour is played: observation, reward, flags, info."""
        reward, truncated, info = self.settle()
        return np.clip(self.agent.observation(), -OBS_LIMIT, OBS_LIMIT), reward, False, truncated, info

    def settle(self) -> tuple[float, bool, dict]:
        """`outcome()` but the observation: the hour's reward, whether the campaign ended, and at its end the
        campaign's KPIs and score (else an empty dict)."""
        if self.sim is None or self.bidder is None:
            raise RuntimeError("call reset() before step()")
        reward = self.bidder.last_reward
        truncated = self.sim.t >= self.hours
        info: dict[str, Any] = {}
        if truncated:
            v = self.bidder.value
            reward += self.bidder.reward.close(self.sim.t, float(v.summary()[3]), v.mean_delay_h)
            info = campaign_score(self.sim.kpis, self.cfg.channel_names, self.cfg.bidders.target_cpa)
        return float(reward), bool(truncated), info


class VectorCampaignEnv(gym.vector.VectorEnv):
    """Many campaign worlds stepped per call (each world autoresets when it ends).

    World `i`'s k-th campaign has seed `seed + i + k x num_envs`, so worlds never repeat a seed (given a seed
    per world, `seed[i] + k x num_envs`).
    The final step's `info` of a world is under `infos["final_info"][i]` (a dict, empty if not final).
    Worlds at the same hour (all of them, as the vector env resets them together and their campaigns
    are equally long) step as one `BatchedWorlds`; otherwise one by one. The worlds' bidders hand their
    hours' reports to one `WorldsStats`, which folds them in and builds the observations at once. Either way
    every world's observations, rewards and infos are those it gets alone (tested).

    Args:
        num_envs: worlds.
        autoreset: start a world's next campaign when one ends (False: the caller resets).
        batched: step worlds at the same hour as one batch (False: one by one).
        **kwargs: `CampaignEnv` arguments.
    """

    def __init__(self, num_envs: int, autoreset: bool = True, batched: bool = True, **kwargs: Any) -> None:
        self.envs = [CampaignEnv(**kwargs) for _ in range(num_envs)]
        self.autoreset, self.batched = autoreset, batched
        self._batch: BatchedWorlds | None = None
        self.num_envs = num_envs
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        self.metadata = {"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        self._next_seed = np.zeros(num_envs, np.int64)
        self._reports: WorldsStats | None = None
        self._hours: list[tuple[int, BidderOutcome, np.ndarray]] = []  # the worlds' hours, for `_reports`

    def reset(self, *, seed: int | Sequence[int] | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        """Reset every world; world i gets seed `seed + i`, or `seed[i]` given one seed per world (worlds may
        share one: the same world, played apart)."""
        if seed is None or isinstance(seed, (int, np.integer)):
            seeds = (0 if seed is None else int(seed)) + np.arange(self.num_envs)
        else:
            seeds = np.asarray(seed, np.int64)
            if seeds.shape != (self.num_envs,):
                raise ValueError(f"reset: {self.num_envs} worlds need {self.num_envs} seeds, got {len(seed)}")
        self._next_seed = seeds + self.num_envs
        obs = [env.reset(seed=int(s))[0] for s, env in zip(seeds, self.envs, strict=True)]
        self._batch = self._batched()
        self._defer_reports()
        return np.stack(obs), {}

    def _defer_reports(self) -> None:
        """The worlds' bidders hand their hours to one `WorldsStats` (built anew for new campaigns' bidders)."""
        self._reports = WorldsStats([env.agent.stats for env in self.envs])
        self._hours = []
        for i, env in enumerate(self.envs):
            env.agent.defer_report(partial(self._keep_hour, i))

    def _keep_hour(self, world: int, outcome: BidderOutcome, p: np.ndarray) -> None:
        """World `world`'s bidder's hour, for its report (`AgentBidder.defer_report`)."""
        self._hours.append((world, outcome, p))

    def _batched(self) -> BatchedWorlds | None:
        """One batch of the worlds' simulations if they are all at the same hour (and batching is on)."""
        sims = [env.sim for env in self.envs if env.sim is not None]
        if not self.batched or len(sims) < self.num_envs or len({s.t for s in sims}) > 1:
            return None
        return BatchedWorlds(sims, ours=WorldsAgent([env.agent for env in self.envs], report=self._report_rows))

    def _report_rows(self, *hour: Any) -> None:
        """Every world's hour into the reports at once (`WorldsStats.observe_rows`, from `WorldsAgent`)."""
        if self._reports is None:
            raise RuntimeError("call reset() before step()")
        self._reports.observe_rows(*hour)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        """One hour in every world."""
        if self._reports is None:
            raise RuntimeError("call reset() before step()")
        if any(r is not env.agent.stats for r, env in zip(self._reports.stats, self.envs, strict=True)):
            self._defer_reports()  # a world was reset on its own: its new bidder hands its hours over too
        rew = np.zeros(self.num_envs)
        trunc = np.zeros(self.num_envs, bool)
        final: list[dict] = [{} for _ in range(self.num_envs)]
        sims = [env.act(a) for env, a in zip(self.envs, actions, strict=True)]
        if self._batch is not None and self._batch.sims == sims:
            self._batch.step_hour()
        else:  # a world was reset on its own since the batch was built
            for sim in sims:
                sim.step_hour()
        self._reports.observe(self._hours)  # every world's report of its hour at once
        self._hours = []
        for i, env in enumerate(self.envs):
            rew[i], trunc[i], final[i] = env.settle()
        # each world's `outcome()` observation, built and clipped at once
        obs = self._reports.vectors(np.stack([env.agent.value.summary()[2:] for env in self.envs]),
                                    np.stack([env.agent.action for env in self.envs]))
        np.clip(obs, -OBS_LIMIT, OBS_LIMIT, out=obs)
        for i in np.flatnonzero(trunc & self.autoreset).tolist():
            obs[i], _ = self.envs[i].reset(seed=int(self._next_seed[i]))
            self._next_seed[i] += self.num_envs
        if trunc.any() and self.autoreset:
            self._batch = self._batched()
            self._defer_reports()
        return obs, rew, np.zeros(self.num_envs, bool), trunc, {"final_info": final}

    def set_prior(self, prior_w: np.ndarray, loglink_w: np.ndarray | None = None, loglink_requests: bool = False) -> None:
        """The value model's anchor weights (and the log-link prior's, if any, and whether it reads the bid-request
        history) for the worlds' next campaigns."""
        for env in self.envs:
            env.prior_w = np.asarray(prior_w, np.float64).copy()
            env.loglink_w = None if loglink_w is None else np.asarray(loglink_w, np.float64).copy()
            env.loglink_requests = loglink_requests


def space_shape(space: gym.Space) -> tuple[int, ...]:
    """The shape of a space that has one (a Box, or a batch of Boxes)."""
    if space.shape is None:
        raise ValueError(f"the space {space} has no shape")
    return space.shape


def play(cfg: Config, bidder: Any) -> dict[str, float]:
    """Play one campaign of `cfg` with our `bidder`; its KPIs and score (see `campaign_score`)."""
    sim = Simulation(cfg, bidder=bidder)
    attach = getattr(bidder, "attach_world", None)
    if attach is not None:
        attach(sim)  # our agent credits by resolved person
    sim.run()
    return campaign_score(sim.kpis, cfg.channel_names, cfg.bidders.target_cpa)
