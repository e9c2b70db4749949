"""`gaelp/Campaign-v0`: Gymnasium's checker, determinism, the score, the vector form, and an external learner."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import gaelp  # noqa: F401  (registers the environment)
from gaelp.agent.env import CampaignEnv, VectorCampaignEnv, randomized
from gaelp.agent.value import PRIOR_CVR, flat_prior, n_terms
from gaelp.config import Config


def test_check_env_through_gym_make() -> None:
    env = gym.make("gaelp/Campaign-v0")
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.hours == 48


def _rollout(seed: int, action: float) -> tuple[list[float], dict]:
    env = CampaignEnv(users=1000, days=1)
    obs, _ = env.reset(seed=seed)
    assert env.observation_space.contains(obs)
    rewards, info = [], {}
    for _ in range(24):
        obs, r, term, trunc, info = env.step(np.full(env.action_space.shape, action, np.float32))
        rewards.append(r)
        assert not term
    assert trunc
    return rewards, info


def test_same_seed_same_rewards_and_the_score_follows_its_formula() -> None:
    a, info = _rollout(3, 0.2)
    b, _ = _rollout(3, 0.2)
    assert a == b
    assert set(info) >= {"score", "conversions", "cac", "roas", "spend"}
    if info["conversions"]:
        assert np.isclose(info["score"], info["conversions"] * min(1.0, (110.0 / info["cac"]) ** 2))
    low, _ = _rollout(3, -1.0)
    assert -sum(low[:-1]) < -sum(a[:-1])  # lower bids, less spend (the last hour also holds the advance)


def test_vector_env_steps_worlds_and_autoresets() -> None:
    envs = VectorCampaignEnv(2, users=600, days=1)
    obs, _ = envs.reset(seed=10)
    assert obs.shape == (2, envs.single_observation_space.shape[0])
    assert [e.cfg.seed for e in envs.envs] == [10, 11]
    for _ in range(24):
        obs, _, term, trunc, infos = envs.step(np.zeros(envs.action_space.shape, np.float32))
    assert trunc.all() and not term.any()
    assert all("score" in f for f in infos["final_info"])
    assert [e.cfg.seed for e in envs.envs] == [12, 13]  # the next campaigns: new worlds


@pytest.mark.parametrize("kind", ["flat", "wide", "loglink"])
def test_batched_vector_env_gives_each_world_what_it_gets_alone(monkeypatch, kind: str) -> None:
    from gaelp.agent.bidder import AgentBidder
    from gaelp.agent.encoder import WorldsEncoder
    from gaelp.agent.worlds_bidder import WorldsAgent
    from gaelp.agent.worlds_stats import WorldsStats
    from gaelp.market.clearing import Market

    kw = {"users": 800, "days": 1, "randomize": True}
    rng = np.random.default_rng(5)
    if kind == "wide":  # the value model on interaction terms (an offline prior's), refitted on its bias alone
        kw["prior_w"] = flat_prior(n_terms(len(Config().world.channels)), PRIOR_CVR) + rng.normal(0, 0.3, n_terms(
            len(Config().world.channels)))
    if kind == "loglink":  # the bids read a log-link prior (each world's estimate on its own rows)
        from gaelp.agent.ceiling_fit import Layout, design
        from gaelp.agent.encoder import JourneyEncoder

        layout = Layout(len(Config().world.channels))
        size = design(layout, np.zeros((1, JourneyEncoder(layout.n_channels).n_features + 1))).shape[1]
        kw["loglink_w"] = np.r_[np.log(PRIOR_CVR), rng.normal(0, 0.2, size - 1)]
    envs = VectorCampaignEnv(3, **kw)
    actions = rng.uniform(-1, 1, (48, 3, envs.single_action_space.shape[0])).astype(np.float32)
    calls, touches, bids = [], [], []
    clear_worlds, touch, bid = Market.clear_worlds, WorldsEncoder.touch, WorldsAgent.bid
    monkeypatch.setattr(Market, "clear_worlds", lambda self, *a, **k: calls.append(1) or clear_worlds(self, *a, **k))
    # our worlds' bidders bid and learn as one (never one by one)
    monkeypatch.setattr(WorldsEncoder, "touch", lambda self, *a: touches.append(1) or touch(self, *a))
    rows_reported, observe_rows = [], WorldsStats.observe_rows  # every world's report from the batch's columns
    monkeypatch.setattr(WorldsStats, "observe_rows", lambda self, *a: rows_reported.append(1) or observe_rows(self, *a))
    monkeypatch.setattr(WorldsAgent, "bid", lambda self, rows: bids.append(bid(self, rows)) or bids[-1])
    monkeypatch.setattr(AgentBidder, "bid", lambda self, batch: pytest.fail("a world's bidder bid alone"))
    obs, _ = envs.reset(seed=40)
    steps = [(obs, None, None)]
    for t in range(48):  # two campaigns: the second starts on autoreset
        obs, rew, _, _, infos = envs.step(actions[t])
        steps.append((obs, rew, infos["final_info"]))
    assert len(calls) == 48  # every hour cleared as one batch
    assert len(touches) > 40 and len(rows_reported) == 48  # our impressions and reports of every world at once
    monkeypatch.undo()
    agent_bid, alone_bids = AgentBidder.bid, []
    monkeypatch.setattr(AgentBidder, "bid", lambda self, batch: alone_bids.append(agent_bid(self, batch)) or
                        alone_bids[-1])

    alone = [CampaignEnv(**kw) for _ in range(3)]
    for i, env in enumerate(alone):
        alone_bids.clear()
        o, _ = env.reset(seed=40 + i)
        assert np.array_equal(o, steps[0][0][i])
        for t in range(48):
            if t == 24:
                o, _ = env.reset(seed=43 + i)
                assert np.array_equal(o, steps[24][0][i])  # the vector env's autoreset
            o, r, _, _, info = env.step(actions[t, i])
            if t % 24 != 23:  # at a campaign's end the vector env returns the next campaign's first observation
                assert np.array_equal(o, steps[t + 1][0][i])
            assert r == steps[t + 1][1][i]
            final = steps[t + 1][2][i]
            assert info.keys() == final.keys()
            assert np.array_equal(list(info.values()), list(final.values()), equal_nan=True)  # a CAC may be nan
        mine = [hour[i] for hour in bids if hour[i].size]  # a world without opportunities is not asked alone
        assert len(mine) == len(alone_bids) > 40
        assert all(np.array_equal(a, b) for a, b in zip(mine, alone_bids, strict=True))  # every bid, bit for bit
    assert any(r != 0 for _, rs, _ in steps[1:] for r in rs)


def test_randomized_markets_differ_by_seed_only() -> None:
    cfg = Config()
    a = randomized(cfg, np.random.default_rng(1))
    assert a == randomized(cfg, np.random.default_rng(1))
    b = randomized(cfg, np.random.default_rng(2))
    assert a.campaign.budget_per_user != b.campaign.budget_per_user and a.start_date != b.start_date
    assert 0.5 <= a.campaign.budget_per_user / cfg.campaign.budget_per_user <= 2.0


def test_recurrent_ppo_trains_on_the_env() -> None:
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.logger import Logger

    env = gym.make("gaelp/Campaign-v0", users=300, days=1)
    model = RecurrentPPO("MlpLstmPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu",
                         policy_kwargs={"lstm_hidden_size": 16, "net_arch": [16]})
    model.set_logger(Logger(None, []))  # sb3's default makes a log folder under /tmp on every learn()
    model.learn(total_timesteps=2_048)
    assert model.num_timesteps >= 2_048


def test_a_world_reset_on_its_own_reports_its_new_campaign() -> None:
    envs = VectorCampaignEnv(2, users=600, days=1)
    envs.reset(seed=20)
    zeros = np.zeros(envs.action_space.shape, np.float32)
    envs.step(zeros)
    envs.envs[1].reset(seed=99)  # a new campaign in world 1 alone, mid-way through world 0's
    alone = CampaignEnv(users=600, days=1)
    alone.reset(seed=99)
    for _ in range(3):
        obs, rew, _, _, _ = envs.step(zeros)
        o, r, _, _, _ = alone.step(zeros[1])
        assert np.array_equal(obs[1], o) and rew[1] == r
    assert envs.envs[1].agent.stats.t_next == 3


def test_vector_env_takes_a_seed_per_world_and_copies_of_one_world_start_alike() -> None:
    envs = VectorCampaignEnv(3, users=600, days=1)
    obs, _ = envs.reset(seed=[7, 7, 9])
    assert [e.cfg.seed for e in envs.envs] == [7, 7, 9]
    assert np.array_equal(obs[0], obs[1])
    action = np.zeros(envs.action_space.shape, np.float32)
    for _ in range(6):  # the same actions in copies of one world: the same hours (common random numbers)
        obs, reward, *_ = envs.step(action)
        assert np.array_equal(obs[0], obs[1]) and reward[0] == reward[1]
    with pytest.raises(ValueError, match="3 worlds need 3 seeds, got 2"):
        envs.reset(seed=[1, 2])


def test_a_vector_env_whose_prior_reads_the_request_history_gives_each_world_what_it_gets_alone() -> None:
    from gaelp.agent.bidder import loglink_size
    from gaelp.agent.ceiling_fit import Layout

    rng = np.random.default_rng(6)
    size = loglink_size(Layout(len(Config().world.channels), requests=True))
    kw = {"users": 800, "days": 1, "randomize": True, "loglink_requests": True,
          "loglink_w": np.r_[np.log(PRIOR_CVR), rng.normal(0, 0.2, size - 1)]}
    envs = VectorCampaignEnv(2, **kw)  # its bidders bid and learn world by world (their request logs are their own)
    actions = rng.uniform(-1, 1, (24, 2, envs.single_action_space.shape[0])).astype(np.float32)
    obs, _ = envs.reset(seed=70)
    steps = [(obs, None)]
    for t in range(24):
        obs, rew, *_ = envs.step(actions[t])
        steps.append((obs, rew))
    assert all(b.requests is not None for b in (e.bidder for e in envs.envs))
    for i in range(2):
        env = CampaignEnv(**kw)
        o, _ = env.reset(seed=70 + i)
        assert np.array_equal(o, steps[0][0][i])
        for t in range(24):
            o, r, *_ = env.step(actions[t, i])
            if t < 23:
                assert np.array_equal(o, steps[t + 1][0][i])
            assert r == steps[t + 1][1][i]
    assert any(r != 0 for _, rs in steps[1:] for r in rs)
