"""PPO-LSTM training: resuming is bit-identical, and a short run on a fixed seed beats the untrained policy."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from gaelp.agent import ppo
from gaelp.agent.bidder import make_agent_bidder
from gaelp.agent.env import play
from gaelp.agent.network import (
    FlatAdam,
    RecurrentActorCritic,
    clip_grad_norm,
    fixed_scale_log_prob,
    load_checkpoint,
    save_checkpoint,
)
from gaelp.agent.ppo import BEST, CHECKPOINT, PPOConfig, group_relative, train
from gaelp.agent.stats import obs_size
from gaelp.agent.threads import numerics
from gaelp.agent.value import flat_prior, n_terms
from gaelp.config import Config, build_config


def test_resume_is_bit_identical(tmp_path: Path) -> None:
    hp = PPOConfig(worlds=2, users=800, days=1, env_hours=3 * 48, hidden=8, val_every=2, val_worlds=1, val_users=800)
    whole = train(Config(), hp, tmp_path / "whole")
    train(Config(), PPOConfig(**{**hp.__dict__, "env_hours": 2 * 48}), tmp_path / "split")
    resumed = train(Config(), hp, tmp_path / "split", resume=True)
    assert whole.env_hours == resumed.env_hours == 144
    a, b = load_checkpoint(tmp_path / "whole" / CHECKPOINT), load_checkpoint(tmp_path / "split" / CHECKPOINT)
    for k, v in a["model"].items():
        assert torch.equal(v, b["model"][k]), k
    assert np.array_equal(a["prior_w"], b["prior_w"])
    assert repr(a["history"]) == repr(b["history"])  # NaN-aware: a CAC without purchases is NaN
    assert any(row["return"] != 0 for row in a["history"])
    assert (tmp_path / "whole" / "tb").is_dir()
    assert a["best"] == b["best"] and a["best"]["iteration"] in (0, 2)  # the start, or iteration 2 if it beat it
    assert load_checkpoint(tmp_path / "split" / BEST)["iteration"] == a["best"]["iteration"]


def test_a_resume_under_other_numerics_warns_and_goes_on(tmp_path: Path) -> None:
    hp = PPOConfig(worlds=1, users=600, days=1, env_hours=48, hidden=8, val_every=0)
    train(Config(), PPOConfig(**{**hp.__dict__, "env_hours": 24}), tmp_path)
    ck = load_checkpoint(tmp_path / CHECKPOINT)
    assert ck["numerics"] == numerics() and {"cpu", "torch", "blas", "torch_capability", "mkl_cbwr"} <= set(ck["numerics"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same machine: no warning
        train(Config(), PPOConfig(**{**hp.__dict__, "env_hours": 36}), tmp_path, resume=True)
    ck = load_checkpoint(tmp_path / CHECKPOINT)
    ck["numerics"] = {**ck["numerics"], "cpu": "another CPU"}  # as if written on another machine
    torch.save(ck, tmp_path / CHECKPOINT)
    with pytest.warns(UserWarning, match="cpu 'another CPU' -> "):
        assert train(Config(), hp, tmp_path, resume=True).env_hours == 48


def test_the_start_is_validated_first_and_stays_best_until_beaten(tmp_path: Path) -> None:
    hp = PPOConfig(worlds=1, users=800, days=1, env_hours=2 * 24, hidden=8, val_every=5, val_worlds=1, val_users=800)
    train(Config(), hp, tmp_path)  # two updates, no periodic validation yet
    ck, best = load_checkpoint(tmp_path / CHECKPOINT), load_checkpoint(tmp_path / BEST)
    with torch.random.fork_rng():
        torch.manual_seed(hp.seed)  # the run's initial weights
        start = RecurrentActorCritic(obs_size(3), 10, hp.hidden, hp.init_log_std).state_dict()
    assert best["iteration"] == ck["best"]["iteration"] == 0 and best["val_score"] == ck["best"]["score"]
    assert all(torch.equal(v, start[k]) for k, v in best["model"].items())
    assert not all(torch.equal(v, start[k]) for k, v in ck["model"].items())  # the updates moved the policy


# A world where clicks are worth far more than the untrained agent's flat prior believes, and purchases
# come within hours, so a two-day campaign of 3,000 people shows what bidding more is worth. The budget
# is four times the default so that it does not bind: with the default one the untrained policy
# already spends it all, and both policies buy what it buys (4.0 against 4.0 on seeds 0-3).
FAST = {"users": 3000, "days": 2, "campaign": {"budget_per_user": 0.06}, "world": {"segments": [
    {"name": "crisis", "cvr": 0.4, "lag_median_h": 2}, {"name": "researcher", "cvr": 0.2, "lag_median_h": 2},
    {"name": "price_conscious", "cvr": 0.2, "lag_median_h": 2}, {"name": "concerned", "cvr": 0.2, "lag_median_h": 2},
    {"name": "free_tools", "cvr": 0.1, "lag_median_h": 2}]}}


def test_training_raises_the_score_above_the_untrained_policy(tmp_path: Path) -> None:
    cfg = build_config(FAST)
    hp = PPOConfig(worlds=2, users=cfg.users, days=cfg.days, env_hours=10 * 2 * 48, randomize=False,
                   val_every=0)
    train(cfg, hp, tmp_path)
    with torch.random.fork_rng():
        torch.manual_seed(hp.seed)  # the same initial weights as the run's
        untrained = RecurrentActorCritic(obs_size(3), 10, hp.hidden, hp.init_log_std)
    save_checkpoint(tmp_path / "untrained.pt", untrained, flat_prior(22, 0.03))

    def score(policy: str) -> float:  # held-out worlds (training used seeds from 1000)
        return float(np.mean([play(cfg.replace(seed=s), make_agent_bidder(cfg.replace(seed=s), tmp_path / policy))
                              ["score"] for s in range(4)]))

    assert score(CHECKPOINT) > score("untrained.pt")


def test_fixed_scale_log_prob_equals_the_gaussians() -> None:
    gen = torch.Generator().manual_seed(3)
    std = torch.randn(10, generator=gen).exp()
    mean, action = torch.randn(2, 5, 10, generator=gen).unbind(0)
    expected = torch.distributions.Normal(mean, std.expand(5, 10)).log_prob(action)
    assert torch.equal(fixed_scale_log_prob(std, (5, 10))(mean, action), expected)


def test_clip_grad_norm_equals_torchs() -> None:
    gen = torch.Generator().manual_seed(4)
    for scale in (0.01, 1.0, 30.0):  # below the limit (no clip) and above it
        nets = [RecurrentActorCritic(7, 3, 8) for _ in range(2)]
        nets[1].load_state_dict(nets[0].state_dict())
        for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
            p.grad = torch.randn(p.shape, generator=gen) * scale
            q.grad = p.grad.clone()
        torch.nn.utils.clip_grad_norm_(list(nets[0].parameters()), 0.5, foreach=True)
        clip_grad_norm(list(nets[1].parameters()), 0.5)
        for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
            assert torch.equal(p.grad, q.grad)


def test_flat_adam_clips_and_steps_as_torchs_through_a_saved_state() -> None:
    gen = torch.Generator().manual_seed(6)
    nets = [RecurrentActorCritic(7, 3, 8) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    opts = [torch.optim.Adam(net.parameters(), lr=1e-2, eps=1e-5, foreach=True) for net in nets]
    flat = FlatAdam(opts[1])
    for k in range(40):
        scale = 10.0 ** float(torch.randint(-6, 2, (), generator=gen))  # gradients of every size, zeros too
        for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
            p.grad = torch.randn(p.shape, generator=gen) * scale * (k % 7 != 3)
            q.grad = p.grad.clone()
        torch.nn.utils.clip_grad_norm_(list(nets[0].parameters()), 0.5, foreach=True)  # clipped from 1e-2 up
        opts[0].step()
        flat.step(0.5)
        if k == 20:  # a checkpoint's round trip: the loaded state is laid end to end again
            opts[1].load_state_dict(pickle.loads(pickle.dumps(opts[1].state_dict())))
        for p, q in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
            assert torch.equal(p, q)  # every weight, bit for bit
    a, b = (o.state_dict()["state"] for o in opts)
    assert all(torch.equal(a[i][key], b[i][key]) for i in a for key in a[i])
    assert float(b[0]["step"]) == 40


def test_forward_equals_the_modules_outputs_and_gradients() -> None:
    # the forward calls the LSTM's function directly; the modules' own calls are the reference
    torch.manual_seed(5)
    net = RecurrentActorCritic(7, 3, 8)
    obs = torch.randn(6, 2, 7)
    state = (torch.randn(1, 2, 8), torch.randn(1, 2, 8))
    mean, value, (h, c) = net(obs, state)
    out, (h_ref, c_ref) = net.lstm(net.encoder(obs), state)
    ref = (net.actor(out), net.critic(out).squeeze(-1), h_ref, c_ref)
    assert all(torch.equal(a, b) for a, b in zip((mean, value, h, c), ref, strict=True))
    params = [p for name, p in net.named_parameters() if name != "log_std"]
    grads = torch.autograd.grad((mean.sum() + value.sum() + c.sum()), params)
    ref_grads = torch.autograd.grad((ref[0].sum() + ref[1].sum() + ref[3].sum()), params)
    assert all(torch.equal(a, b) for a, b in zip(grads, ref_grads, strict=True))
    with torch.inference_mode():  # the rollout's mode
        assert torch.equal(net(obs[:1], state)[0], net.actor(net.lstm(net.encoder(obs[:1]), state)[0]))


def test_an_offline_prior_is_built_first_and_stays_fixed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ppo, "HORIZON_H", 20)  # a reach these two-day campaigns pass
    logs = []  # their few purchases may not show a delay: a stand-in table (prior_fit's own is tested there)
    monkeypatch.setattr(ppo, "horizon_table", lambda log, hours: logs.append(log) or np.linspace(0.0, 1.0, hours + 1))
    cfg = build_config(FAST)
    hp = PPOConfig(worlds=1, users=600, days=2, env_hours=2 * 48, hidden=8, randomize=False, val_every=1,
                   val_worlds=1, val_users=600, prior_worlds=2, prior_users=1000, value_window_h=24, value_l2=7.0,
                   margin_worlds=2, margin_risk=0.5)
    res = train(cfg, hp, tmp_path)
    ck, best = load_checkpoint(tmp_path / CHECKPOINT), load_checkpoint(tmp_path / BEST)
    assert ck["prior_w"].shape == (n_terms(3),) and np.ptp(ck["prior_w"][1:]) > 0  # fitted, with interactions
    assert np.array_equal(best["prior_w"], ck["prior_w"])  # saved after the campaigns, which did not move it
    assert (ck["value_l2"], ck["value_window_h"]) == (best["value_l2"], best["value_window_h"]) == (7.0, 24)
    agent = make_agent_bidder(cfg, tmp_path / BEST)
    assert agent.value.bias_only and agent.value.window_h == 24 and agent.value.l2 == 7.0
    # the horizon table of the prior's own clicks, with its margin, and the agent plays with both
    assert len(logs) == 1 and logs[0].x.shape[0] > 0
    assert ck["horizon"].shape == (21,) and ck["horizon"][-1] == 1.0 and np.array_equal(best["horizon"], ck["horizon"])
    assert agent.horizon is not None and np.array_equal(agent.horizon, ck["horizon"])
    # the guard's margin: best.pt's chosen on validation worlds 901-902 (after the one its iteration was chosen on),
    # starting from the setting, which the training checkpoint keeps
    choice = best["margin_choice"]
    assert res.to_json()["guard_margin"] == choice and choice["worlds"] == [901, 902]
    assert ck["horizon_guard_margin"] == hp.horizon_guard_margin == choice["trials"][0]["margin"]
    assert best["horizon_guard_margin"] == choice["chosen"] == agent.guard_margin
    assert choice["chosen"] in [t["margin"] for t in choice["trials"]] and len(choice["trials"]) >= 2
    # a trial's scores are best.pt's policy at that margin: world 901 (one purchase) played again
    last = choice["trials"][-1]
    again = ppo.validation_play(cfg, best | {"horizon_guard_margin": last["margin"]}, hp, 1)
    assert again["score"] > 0 and (again["score"], again["cac"]) == (last["scores"][0], last["cacs"][0])


def test_a_prior_with_no_delay_to_time_writes_no_horizon_and_says_so(tmp_path: Path, monkeypatch) -> None:
    def no_delay(log, hours):  # prior_fit.horizon_table on a log without a purchase within the reach
        raise ValueError(f"horizon_table: no click with {hours} hours left in its campaign was followed by a purchase")

    monkeypatch.setattr(ppo, "HORIZON_H", 20)  # a reach these two-day campaigns pass
    monkeypatch.setattr(ppo, "horizon_table", no_delay)
    hp = PPOConfig(worlds=1, users=600, days=2, env_hours=48, hidden=8, randomize=False, val_every=0,
                   prior_worlds=1, prior_users=600, value_window_h=24)
    with pytest.warns(UserWarning, match="no horizon table: horizon_table: no click with 20 hours left"):
        train(build_config(FAST), hp, tmp_path)
    ck = load_checkpoint(tmp_path / CHECKPOINT)
    assert "horizon" not in ck and make_agent_bidder(build_config(FAST), tmp_path / CHECKPOINT).horizon is None


def test_group_relative_advantages_are_taken_against_their_copies_mean() -> None:
    adv = np.arange(12.0).reshape(2, 6) ** 2  # 2 hours, 3 groups of 2 copies
    rel = group_relative(adv, 2)
    assert rel.shape == adv.shape
    assert np.allclose(rel[:, 0::2] + rel[:, 1::2], 0.0)  # a pair's advantages cancel
    assert np.allclose(rel[:, 1::2] - rel[:, 0::2], adv[:, 1::2] - adv[:, 0::2])  # their difference stays
    assert not group_relative(adv, 1).any()  # a group of one is its own mean


def test_copies_share_a_world_seed_and_their_advantages_are_group_relative(tmp_path: Path, monkeypatch) -> None:
    from gaelp.agent import ppo

    seeds: list[list[int]] = []
    reset = ppo.VectorCampaignEnv.reset

    def recording_reset(self, *, seed=None, options=None):
        out = reset(self, seed=seed, options=options)
        seeds.append([e.cfg.seed for e in self.envs])
        return out

    grouped: list[np.ndarray] = []

    def recording_group_relative(adv: np.ndarray, copies: int) -> np.ndarray:
        grouped.append(group_relative(adv, copies))
        return grouped[-1]

    monkeypatch.setattr(ppo.VectorCampaignEnv, "reset", recording_reset)
    monkeypatch.setattr(ppo, "group_relative", recording_group_relative)
    hp = PPOConfig(worlds=4, copies=2, users=600, days=1, env_hours=2 * 4 * 24, hidden=8, val_every=0)
    train(Config(), hp, tmp_path)
    base = ppo.TRAIN_SEED_BASE
    assert seeds == [[base, base, base + 1, base + 1], [base + 4, base + 4, base + 5, base + 5]]
    assert len(grouped) == 2 and all(np.allclose(g.reshape(24, 2, 2).sum(axis=2), 0.0) for g in grouped)
    assert any(np.abs(g).max() > 0 for g in grouped)  # the copies' exploration differed, and so did their hours


@pytest.mark.parametrize("copies", [0, 3])
def test_copies_must_divide_the_worlds(tmp_path: Path, copies: int) -> None:
    with pytest.raises(ValueError, match=f"copies must be at least 1 and divide worlds \\(4\\), got {copies}"):
        train(Config(), PPOConfig(worlds=4, copies=copies, users=600, days=1, env_hours=96, val_every=0), tmp_path)


def test_a_time_limit_still_trains_one_campaign_and_writes_its_checkpoint(tmp_path: Path) -> None:
    # a limit shorter than any campaign: the first one runs, its checkpoint is the one reported
    hp = PPOConfig(worlds=2, users=600, days=1, env_hours=10**12, minutes=1e-9, hidden=8, val_every=0)
    result = train(Config(), hp, tmp_path)
    assert result.env_hours == 48 and np.isfinite(result.train_score)
    assert load_checkpoint(Path(result.checkpoint))["env_hours"] == 48


@pytest.mark.parametrize("minutes", [0.0, -1.0])
def test_a_time_limit_of_nothing_is_refused(tmp_path: Path, minutes: float) -> None:
    with pytest.raises(ValueError, match=f"minutes must be above 0, got {minutes}"):
        train(Config(), PPOConfig(worlds=2, users=600, days=1, minutes=minutes, val_every=0), tmp_path)
    assert not (tmp_path / CHECKPOINT).exists()
