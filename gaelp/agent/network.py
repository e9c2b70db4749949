"""The recurrent actor-critic, its checkpoints, and the controller that plays it inside the bidder.

Network: observation -> Linear + tanh -> LSTM -> (Gaussian mean of the action, state value), with a
learned, state-independent log standard deviation per action. The greedy action is the mean; the
environment clips actions to [-1, 1].

A checkpoint (`torch.save` of a dict) holds the network's weights and sizes, the value model's prior
weights (`prior_w`, learned over the training worlds), the reward settings and, for `gaelp train
--resume`, the optimizer and random states.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from torch import nn
from torch.distributions import Normal
from torch.nn import functional as F
from torch.optim.adam import adam

_LOG_SQRT_2PI = math.log(math.sqrt(2 * math.pi))


def _layer(layer: nn.Linear, std: float) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.zeros_(layer.bias)
    return layer


class RecurrentActorCritic(nn.Module):
    """Linear + tanh encoder, one LSTM layer, linear actor and critic heads.

    Args:
        obs_dim: observation length.  act_dim: action length.  hidden: width of the encoder and the LSTM.
        init_log_std: starting log standard deviation of the Gaussian policy.
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden: int = 64, init_log_std: float = -1.0) -> None:
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = obs_dim, act_dim, hidden
        self.encoder = nn.Sequential(_layer(nn.Linear(obs_dim, hidden), np.sqrt(2)), nn.Tanh())
        self.lstm = nn.LSTM(hidden, hidden)
        for name, p in self.lstm.named_parameters():
            if "bias" in name:
                nn.init.zeros_(p)
            else:
                nn.init.orthogonal_(p, 1.0)
        self.actor = _layer(nn.Linear(hidden, act_dim), 0.01)  # starts near the all-zero action: bid the value
        self.critic = _layer(nn.Linear(hidden, 1), 1.0)
        self.log_std = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def initial_state(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Zero LSTM state for `n` sequences: ((1, n, hidden), (1, n, hidden))."""
        return torch.zeros(1, n, self.hidden), torch.zeros(1, n, self.hidden)

    def forward(self, obs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Run `obs` (T, n, obs_dim) from `state`: action means (T, n, act_dim), values (T, n), new state.

        The layers' own functions (what their modules call: `nn.LSTM`'s is `torch.lstm` on its weights, for a
        batched input with a state), without the modules' per-call dispatch and checks: the rollout runs this
        once per simulated hour, the update once per minibatch.
        """
        enc, actor, critic, lstm = cast(nn.Linear, self.encoder[0]), self.actor, self.critic, self.lstm
        if obs.dim() != 3 or state[0].shape != (1, obs.shape[1], self.hidden):
            raise ValueError(f"forward takes (T, n, obs_dim) observations and a ((1, n, {self.hidden}),) x 2 state, "
                             f"got {tuple(obs.shape)} and {tuple(state[0].shape)}")
        h, h_n, c_n = torch.lstm(torch.tanh(F.linear(obs, enc.weight, enc.bias)), state, tuple(lstm.all_weights[0]),
                                 True, 1, 0.0, lstm.training, False, False)
        return F.linear(h, actor.weight, actor.bias), F.linear(h, critic.weight, critic.bias).squeeze(-1), (h_n, c_n)

    def dist(self, mean: torch.Tensor, validate: bool = True) -> Normal:
        """The Gaussian policy around `mean` (torch's argument checks on, unless `validate` is False: the PPO
        update's, whose means come from the network and actions from the rollout)."""
        return Normal(mean, self.log_std.exp().expand_as(mean), validate_args=validate)


def fixed_scale_log_prob(std: torch.Tensor, shape: tuple[int, ...]
                         ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """log_prob(mean, action) of Gaussians of standard deviation `std` (act_dim,) over `shape` (..., act_dim):
    `Normal(mean, std.expand(shape)).log_prob(action)` bit for bit, with the terms of the scale computed once
    and no argument checks. For the rollout's hourly step, which shares one scale over a campaign and whose
    observations the update's checked Gaussian (`RecurrentActorCritic.dist`) sees again."""
    scale = std.expand(shape)
    two_var, log_scale = 2 * scale**2, scale.log()  # Normal.log_prob's terms, in its order

    def log_prob(mean: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return -((action - mean) ** 2) / two_var - log_scale - _LOG_SQRT_2PI

    return log_prob


@torch.no_grad()
def clip_grad_norm(params: list[nn.Parameter], max_norm: float) -> None:
    """`torch.nn.utils.clip_grad_norm_(params, max_norm, foreach=True)` for parameters of one device and dtype,
    bit for bit (the norm of the gradients' norms, then one scale on all), without its per-call grouping and
    checks: the PPO update runs it after every minibatch."""
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        torch._foreach_mul_(grads, _clip_scale(grads, max_norm))


def _clip_scale(grads: list[torch.Tensor], max_norm: float) -> torch.Tensor:
    """The factor `clip_grad_norm` scales `grads` by (a 0-d tensor): at most 1, max_norm / their norm."""
    total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
    return torch.clamp(max_norm / (total + 1e-6), max=1.0)


class FlatAdam:
    """`optimizer.step()` of a foreach `torch.optim.Adam` of one parameter group, as one call of torch's Adam on
    the parameters, gradients and moments laid end to end.

    torch's Adam is elementwise, so each element gets the update the per-tensor call gives it (tested bit for
    bit), in one kernel per operation instead of one per tensor (the PPO update steps after every minibatch).
    The parameters and the optimizer's moments become views of the flat buffers, so the network's weights and
    the optimizer's `state_dict` hold the same numbers as ever; the parameters' step counts, equal in one
    group, become one tensor. The first step, which creates the optimizer's state, is torch's own; a state
    loaded since (`load_state_dict`) is laid end to end again at the next step.

    Args:
        optimizer: a `torch.optim.Adam` with one parameter group, `foreach=True`.
    """

    def __init__(self, optimizer: torch.optim.Adam) -> None:
        (self.group,) = optimizer.param_groups
        if not self.group["foreach"]:
            raise ValueError("FlatAdam steps a foreach Adam")
        self.optimizer = optimizer
        self.params: list[nn.Parameter] = list(self.group["params"])
        self.sizes = [p.numel() for p in self.params]
        self._flat: tuple[torch.Tensor, ...] = ()

    def _lay_flat(self) -> None:
        """The parameters and moments as views of flat buffers, one step count for all."""
        state = [self.optimizer.state[p] for p in self.params]
        step = state[0]["step"]
        if any(not torch.equal(s["step"], step) for s in state):
            raise ValueError("the parameters' step counts differ")
        flat = tuple(torch.cat([t.detach().reshape(-1) for t in ts]) for ts in (
            self.params, [s["exp_avg"] for s in state], [s["exp_avg_sq"] for s in state]))
        with torch.no_grad():
            for p, s, *views in zip(self.params, state, *(f.split(self.sizes) for f in flat), strict=True):
                p.data, s["exp_avg"], s["exp_avg_sq"] = (v.view_as(p) for v in views)
                s["step"] = step
        self._flat = (*flat, step)

    def step(self, max_norm: float | None = None) -> None:
        """One Adam step on the parameters' gradients (`optimizer.step()`'s numbers), after `clip_grad_norm(params,
        max_norm)`'s clip if `max_norm` is given (its scale taken on the flat gradient: the parameters' own
        `grad` are then left unscaled)."""
        state = self.optimizer.state
        grads = [p.grad for p in self.params if p.grad is not None]
        if not state or len(grads) < len(self.params):
            if max_norm is not None:
                clip_grad_norm(self.params, max_norm)
            self.optimizer.step()  # the first step creates the state (and a missing gradient: torch's own path)
            return
        if not self._flat or state[self.params[0]]["exp_avg"].data_ptr() != self._flat[1].data_ptr():
            self._lay_flat()
        params, exp_avgs, exp_avg_sqs, step = self._flat
        g = self.group
        with torch.no_grad():
            flat_grad = torch.cat([d.reshape(-1) for d in grads])
            if max_norm is not None:  # one scale on all, elementwise as `clip_grad_norm`'s per-tensor one
                flat_grad.mul_(_clip_scale(grads, max_norm))
            adam([params], [flat_grad], [exp_avgs], [exp_avg_sqs], [],
                 [step], foreach=True, capturable=g["capturable"], differentiable=g["differentiable"],
                 fused=g["fused"], decoupled_weight_decay=g["decoupled_weight_decay"], amsgrad=g["amsgrad"],
                 beta1=g["betas"][0], beta2=g["betas"][1], lr=g["lr"], weight_decay=g["weight_decay"], eps=g["eps"],
                 maximize=g["maximize"])


def save_checkpoint(path: pathlib.Path, net: RecurrentActorCritic, prior_w: np.ndarray, **extra: Any) -> None:
    """Write a checkpoint of `net` and `prior_w` with the `extra` keys (`write_checkpoint`)."""
    write_checkpoint(path, {"model": net.state_dict(), "obs_dim": net.obs_dim, "act_dim": net.act_dim,
                            "hidden": net.hidden, "prior_w": np.asarray(prior_w, np.float64), **extra})


def write_checkpoint(path: pathlib.Path, ckpt: dict[str, Any]) -> None:
    """Write checkpoint dict `ckpt` to `path` atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)


CHECKPOINT_KEYS = ("model", "obs_dim", "act_dim", "hidden", "prior_w")  # what every `save_checkpoint` file holds


class CheckpointError(ValueError):
    """A file that is not a checkpoint of `save_checkpoint`: unreadable, or without the network's keys."""


def load_checkpoint(path: pathlib.Path) -> dict[str, Any]:
    """Read a checkpoint of `save_checkpoint`.

    Raises:
        FileNotFoundError: no such file (with how to make one).
        CheckpointError: the file is not such a checkpoint (what torch's reader met, or the keys it lacks).
    """
    if not path.is_file():
        raise FileNotFoundError(f"no policy checkpoint at {path}; train one with `gaelp train --out DIR` "
                                "and pass DIR/policy.pt")
    try:
        ckpt = torch.load(path, weights_only=False)
    except Exception as e:  # what the unpickler meets in a foreign file: UnpicklingError, EOFError, RuntimeError...
        raise CheckpointError(f"{path} is not a policy checkpoint written by `gaelp train` "
                              f"({type(e).__name__}: {e})") from e
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise CheckpointError(f"{path} is not a policy checkpoint written by `gaelp train`: it has no "
                              f"{', '.join(missing)}")
    return ckpt


PLAYING_KEYS = (*CHECKPOINT_KEYS, "attribution", "reward_value", "purchase_worth", "reward_timing", "identity",
                "value_l2", "value_window_h", "bid_level", "loglink_w", "guard_ceiling", "loglink_requests", "horizon",
                "horizon_guard_margin")


def export_policy(src: pathlib.Path, dst: pathlib.Path) -> None:
    """Copy of a training checkpoint with only what playing needs (no optimizer, random states, history)."""
    ckpt = load_checkpoint(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: ckpt[k] for k in PLAYING_KEYS if k in ckpt}, dst)


def build_network(ckpt: dict[str, Any]) -> RecurrentActorCritic:
    """The network of a checkpoint, weights loaded."""
    net = RecurrentActorCritic(ckpt["obs_dim"], ckpt["act_dim"], ckpt["hidden"])
    net.load_state_dict(ckpt["model"])
    return net


class PolicyController:
    """Plays a trained policy inside `AgentBidder`: one greedy (or bounded-exploration) action per hour.

    Args:
        ckpt: a loaded checkpoint.
        online: sample the multipliers (each within `explore_limit` of the greedy one, in action units;
            the pacing stays greedy) and
            update the policy from the campaign's own rewards once a day (`gaelp.agent.ppo.OnlineLearner`).
        explore_limit: the largest move from the greedy action while exploring.
        seed: seed of the exploration noise.
    """

    def __init__(self, ckpt: dict[str, Any], online: bool = False, explore_limit: float = 0.15,
                 seed: int = 0) -> None:
        torch.set_num_threads(1)
        self.net = build_network(ckpt)
        self.online, self.explore_limit = online, float(explore_limit)
        self.state = self.net.initial_state(1)
        self.rng = np.random.default_rng(seed)
        self.learner = None
        self.last_greedy: np.ndarray | None = None
        if online:
            from gaelp.agent.ppo import OnlineLearner

            self.learner = OnlineLearner(self.net)

    @torch.no_grad()
    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action for the next hour."""
        x = torch.as_tensor(obs, dtype=torch.float32).view(1, 1, -1)
        before = self.state
        mean, _, self.state = self.net(x, self.state)
        greedy = mean.view(-1).numpy().astype(np.float64)
        if not self.online:
            return greedy
        self.last_greedy = greedy
        noise = self.rng.normal(0.0, 1.0, greedy.size) * self.net.log_std.exp().numpy()
        noise[-1] = 0.0  # the pacing stays greedy: a bid's move is its context multiplier's alone
        action = greedy + np.clip(noise, -self.explore_limit, self.explore_limit)
        if self.learner is not None:
            self.learner.record(obs, action, before)
        return action

    def observe_reward(self, reward: float) -> None:
        """Pass the hour's reward to the online learner (if any)."""
        if self.learner is not None:
            self.learner.reward(reward)

    def state_dict(self) -> dict[str, Any]:
        """LSTM memory, exploration stream and (online) the weights."""
        out: dict[str, Any] = {"h": self.state[0].numpy().copy(), "c": self.state[1].numpy().copy(),
                               "rng": self.rng.bit_generator.state}
        if self.learner is not None:
            out["learner"] = self.learner.state_dict()
        return out

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.state = (torch.as_tensor(np.array(s["h"])), torch.as_tensor(np.array(s["c"])))
        self.rng.bit_generator.state = s["rng"]
        if self.learner is not None and "learner" in s:
            self.learner.load_state_dict(s["learner"])
