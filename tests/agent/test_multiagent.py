"""The multi-agent market passes PettingZoo's parallel API test and behaves as documented."""

from __future__ import annotations

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test

from gaelp.agent.multiagent import OUR_AGENT, MarketParallelEnv
from gaelp.config import build_config

MARKET = [{"name": "qustodio", "kind": "q_learning"}, {"name": "bark", "kind": "policy_gradient"},
          {"name": "circle", "kind": "rule"}, {"name": "aura", "kind": "rival_tcpa"}, {"name": "others"}]


def _env(hours: int = 30) -> MarketParallelEnv:
    return MarketParallelEnv(build_config({"users": 800, "market": {"competitors": MARKET}}), hours=hours)


def test_parallel_api() -> None:
    parallel_api_test(_env(), num_cycles=100)


def test_every_advertiser_is_an_agent_and_episodes_truncate() -> None:
    env = _env(hours=5)
    obs, _ = env.reset(seed=2)
    assert env.possible_agents == [OUR_AGENT, "qustodio", "bark", "circle", "aura", "others"]
    for a in env.agents:
        assert env.observation_space(a).contains(obs[a])
    for h in range(5):
        obs, _rew, term, trunc, _ = env.step({a: np.zeros(3, np.float32) for a in env.agents})
        assert all(trunc.values()) == (h == 4) and not any(term.values())
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def test_same_seed_same_episode_and_actions_matter() -> None:
    def play(seed: int, ours: float) -> list[float]:
        env = _env(hours=24)
        env.reset(seed=seed)
        total = []
        for _ in range(24):
            acts = {a: np.zeros(3, np.float32) for a in env.agents}
            acts[OUR_AGENT] = np.full(3, ours, np.float32)
            obs, _rew, *_ = env.step(acts)
            total.append(obs[OUR_AGENT].sum())
        return total

    assert play(3, 0.0) == play(3, 0.0)
    assert play(3, 0.0) != play(3, -2.0)  # bidding e^-2 as much changes what we win


def test_bad_actions_fail_clearly() -> None:
    env = _env()
    env.reset(seed=0)
    with pytest.raises(ValueError, match="unknown agent 'nobody'"):
        env.step({"nobody": np.zeros(3)})
    with pytest.raises(ValueError, match="3 finite log multipliers"):
        env.step({OUR_AGENT: np.zeros(2)})
