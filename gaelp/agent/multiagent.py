"""The market as a PettingZoo `ParallelEnv`: every advertiser is an agent.

Each step is one simulated hour. Every agent (our campaign and each rival) sets a log bid multiplier
per channel, applied on top of its own bidder (ours: `cfg.bidder`; a rival: its registered kind, which
keeps learning underneath unless it is a rule). An agent observes only its own stats of the hour just
played, as an advertiser would see them in its own reports:

    [sin hour, cos hour, share of today's budget spent,
     per channel: opportunities / 100, win rate, mean price paid, clicks, spend / hourly budget]

and is rewarded with the revenue its pixel reported this hour minus its spend. An episode lasts
`hours` hours, then every agent is truncated.

Example:
    >>> from gaelp.config import build_config
    >>> env = MarketParallelEnv(build_config({"users": 500}), hours=3)
    >>> obs, infos = env.reset(seed=1)
    >>> sorted(obs) == sorted(env.possible_agents)
    True
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from gaelp.bidders.protocol import BaseBidder, Bidder, BidderOutcome, OpportunityBatch
from gaelp.config import Config
from gaelp.rng import Streams
from gaelp.simulation import Simulation, build_bidder, build_competitors

OUR_AGENT = "ours"
MAX_LOG_MULT = 2.0  # multipliers in [e^-2, e^2]


class _Controlled(BaseBidder):
    """An advertiser's bidder with a per-channel multiplier set by the agent, and its own hour stats."""

    def __init__(self, inner: Bidder, n_channels: int) -> None:
        super().__init__(inner.name, inner.daily_budget)
        self.inner, self.sees_truth = inner, inner.sees_truth
        self.n_channels = n_channels
        self.mult = np.ones(n_channels)
        self.stats = np.zeros(5 * n_channels)
        self.reward = 0.0
        self.spent_today = 0.0

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        return np.asarray(self.inner.bid(batch), np.float64) * self.mult[batch.channel]

    def observe(self, outcome: BidderOutcome) -> None:
        b, c = outcome.batch, self.n_channels
        ch = b.channel.astype(np.int64)
        opp = np.bincount(ch, minlength=c).astype(np.float64)
        won = np.bincount(ch, weights=outcome.won, minlength=c)
        clicks = np.bincount(ch, weights=outcome.clicked, minlength=c)
        spend = np.bincount(ch, weights=outcome.cost, minlength=c)
        paid = np.divide(spend, clicks, out=np.zeros(c), where=clicks > 0)
        hourly = max(self.daily_budget / 24, 1e-9)
        self.stats = np.concatenate([opp / 100, np.divide(won, opp, out=np.zeros(c), where=opp > 0), paid,
                                     clicks, spend / hourly])
        if b.hour == 0:
            self.spent_today = 0.0
        self.spent_today += float(outcome.cost.sum())
        self.reward = float(outcome.conv_value.sum() - outcome.cost.sum())
        self.inner.observe(outcome)

    def state_dict(self) -> dict[str, Any]:
        return self.inner.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state)


class MarketParallelEnv(ParallelEnv):
    """Every advertiser of the market as a PettingZoo agent (parallel API).

    Args:
        cfg: the world, market and our campaign.
        hours: episode length in simulated hours (default: the campaign, `cfg.days * 24`).
    """

    metadata: ClassVar[dict[str, Any]] = {"name": "gaelp_market_v0", "render_modes": []}

    def __init__(self, cfg: Config, hours: int | None = None) -> None:
        self.cfg = cfg
        self.hours = cfg.days * 24 if hours is None else int(hours)
        if self.hours < 1:
            raise ValueError(f"hours must be >= 1, got {self.hours}")
        self.n_channels = len(cfg.world.channels)
        self.possible_agents = [OUR_AGENT, *(c.name for c in cfg.market.competitors)]
        if len(set(self.possible_agents)) != len(self.possible_agents):
            raise ValueError(f"agent names must be unique, got {self.possible_agents}")
        self.agents: list[str] = []
        self.render_mode = None
        self._sim: Simulation | None = None
        self._ctl: dict[str, _Controlled] = {}

    @functools.cache  # noqa: B019 - the API wants the same space object each call
    def observation_space(self, agent: str) -> spaces.Box:
        """Own stats: 3 + 5 per channel."""
        n = 3 + 5 * self.n_channels
        low = np.zeros(n, np.float32)
        low[:2] = -1.0
        return spaces.Box(low=low, high=np.full(n, np.inf, np.float32), dtype=np.float32)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Box:
        """Log bid multiplier per channel."""
        return spaces.Box(-MAX_LOG_MULT, MAX_LOG_MULT, shape=(self.n_channels,), dtype=np.float32)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """A fresh world (seeded by `seed` when given, else by the config)."""
        cfg = self.cfg if seed is None else self.cfg.replace(seed=int(seed))
        streams = Streams(cfg.seed)
        inner = [build_bidder(cfg, cfg.bidder, streams), *build_competitors(cfg, streams)]
        ctl = [_Controlled(b, self.n_channels) for b in inner]
        self._sim = Simulation(cfg, ctl[0], ctl[1:])
        self._ctl = dict(zip(self.possible_agents, ctl))
        self.agents = list(self.possible_agents)
        return {a: self._observe(a) for a in self.agents}, {a: {} for a in self.agents}

    def _observe(self, agent: str) -> np.ndarray:
        assert self._sim is not None, "reset() builds the world"
        c = self._ctl[agent]
        hour = self._sim.t % 24
        budget = max(c.daily_budget, 1e-9)
        head = [np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24), min(c.spent_today / budget, 1e6)]
        return np.concatenate([head, c.stats]).astype(np.float32)

    def step(self, actions: dict[str, np.ndarray]) -> tuple[dict, dict, dict, dict, dict]:
        """Play one hour with the agents' multipliers (agents without an action keep theirs)."""
        if self._sim is None or not self.agents:
            raise RuntimeError("call reset() before step() (and again after the episode ends)")
        for agent, a in actions.items():
            if agent not in self._ctl:
                raise ValueError(f"unknown agent {agent!r}; agents: {self.possible_agents}")
            a = np.asarray(a, np.float64).reshape(-1)
            if a.shape != (self.n_channels,) or not np.isfinite(a).all():
                raise ValueError(f"action of {agent!r} must be {self.n_channels} finite log multipliers, got {a}")
            self._ctl[agent].mult = np.exp(np.clip(a, -MAX_LOG_MULT, MAX_LOG_MULT))
        self._sim.step_hour()
        done = self._sim.t >= self.hours
        agents = self.agents
        obs = {a: self._observe(a) for a in agents}
        rewards = {a: self._ctl[a].reward for a in agents}
        terms = {a: False for a in agents}
        truncs = {a: done for a in agents}
        infos: dict[str, dict[str, Any]] = {a: {} for a in agents}
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos
