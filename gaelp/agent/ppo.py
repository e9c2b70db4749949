"""PPO with an LSTM policy on `gaelp/Campaign-v0`: the whole training loop in one place.

In the manner of CleanRL's single-file PPO-LSTM, written for this environment:

* `PPOConfig`: every hyper-parameter, documented, frozen.
* One iteration plays one whole campaign in each of `worlds` training worlds in lockstep (an hour per
  step), so a rollout is a campaign: the LSTM starts from zero at its first hour and runs over the
  whole sequence in one call, and each iteration ends at a campaign boundary, where a checkpoint
  holds everything needed to go on bit-identically (`--resume`).
* Advantages by GAE over the campaign (its end is terminal: the ledger advanced what was pending),
  with `copies` > 1 taken relative to the mean of the copies of the same world hour by hour (a group
  baseline over common random numbers: copies share a seed, so what the world dealt them cancels and what
  their actions did is left), then `update_epochs` passes of the clipped PPO loss over minibatches of whole worlds.
* The value model's prior (`prior_w`): with `prior_worlds` > 0, fitted offline before training on the
  click logs of that many training worlds (`gaelp.agent.prior_fit`) and kept fixed; otherwise it
  starts flat and follows the weights our value models reach at the end of the training campaigns (a
  moving average). Either way, what an advertiser learns from its past campaigns.
* Training worlds have seeds `TRAIN_SEED_BASE + seed x 1,000,000 + k` (k = 0, 1, ...; with `copies` > 1,
  `copies` worlds in a row share one, so an iteration plays `worlds / copies` distinct worlds); held-out
  evaluation uses seeds 0-899, never seen in training or checkpoint selection.
* Checkpoint selection: every `val_every` iterations (counted, so a resumed run validates the same ones)
  the greedy policy plays
  `val_worlds` validation worlds (seeds `VALIDATION_SEED_BASE + k`, 900-999, the same ones each time,
  `val_users` people, the campaign's days, no market randomisation), with the CAC guard on as the agent
  plays (`gaelp.agent.bidder`); the checkpoint with the best mean
  score is kept as `best.pt` (playing keys only), the shipped candidate. A PPO policy's score wanders
  while its reward return rises; the last checkpoint is not necessarily the best. The policy training
  starts from (iteration 0: the initial weights on the fitted prior) is validated first and is the
  candidate to beat: a later checkpoint replaces it only with a higher score, so `best.pt` is never one
  the validation scores below the start.
* The guard's margin (with a horizon table): at the end of a call, `best.pt` plays `margin_worlds` more
  validation worlds at margins around `horizon_guard_margin`, and the highest-scoring margin that keeps the
  share of campaigns over the target CPA within `margin_risk` is written into it (`gaelp.agent.margin`);
  `gaelp.agent.seeds` does the same once, for the seed it keeps.

Randomness: a `torch.Generator` for the actions, a numpy `Generator` for the minibatches, a scoped
torch seed for the initial weights; torch runs on one thread.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gaelp.agent import CHECKPOINT, DEFAULT_GUARD_CEILING, MARGIN_RISK, MARGIN_WORLDS, TRAIN_WORLDS
from gaelp.agent.bidder import HORIZON_GUARD_MARGIN, check_guard_ceiling, check_guard_margin, horizon_settings
from gaelp.agent.env import VectorCampaignEnv, space_shape
from gaelp.agent.margin import MARGIN_RANGE, MarginChoice, search_margin, write_margin
from gaelp.agent.network import (
    FlatAdam,
    RecurrentActorCritic,
    build_network,
    fixed_scale_log_prob,
    load_checkpoint,
    save_checkpoint,
)
from gaelp.agent.prior_fit import (
    HORIZON_H,
    LABEL_WINDOW_H,
    PRIOR_SEED_BASE,
    PRIOR_USERS,
    build_prior,
    fit_loglink,
    horizon_table,
)
from gaelp.agent.reward import REWARD_VALUES
from gaelp.agent.threads import numerics, one_thread
from gaelp.agent.value import DEFAULT_L2, PRIOR_CVR, flat_prior
from gaelp.config import Config

TRAIN_SEED_BASE = 1000
VALIDATION_SEED_BASE = 900
VALIDATION_WORLDS = 100  # validation seeds 900-999: every world a choice of training may play
BEST = "best.pt"
SCORE_CAMPAIGNS = 8  # the training score is the mean score of at least this many of the last campaigns


@dataclass(frozen=True)
class PPOConfig:
    """Hyper-parameters of `train`.

    Attributes:
        worlds: training worlds played in parallel (one campaign each per iteration).
        users: people per training world.
        days: campaign length in days (None: the config's).
        env_hours: stop after this many simulated hours (over all worlds), at a campaign boundary.
        minutes: or stop after this much wall time (checked after each iteration: a run trains at least one
            campaign and writes its checkpoint); None: no limit.
        seed: training seed (initial weights, actions, minibatches, world seeds).
        randomize: draw each training world's market settings (budgets, start date) from its seed.
        learning_rate: Adam step size.
        gamma: discount per hour (0.999: a horizon of about six weeks, longer than the lookback window).
        gae_lambda: GAE lambda.
        update_epochs: passes over each rollout.
        minibatch_worlds: worlds per minibatch (whole sequences, for the LSTM).
        clip_coef: PPO ratio clip.
        ent_coef: entropy bonus.
        vf_coef: weight of the value loss.
        max_grad_norm: gradient clip.
        target_kl: stop an update's epochs early past this approximate KL (None: never).
        hidden: encoder and LSTM width.
        init_log_std: initial log standard deviation of the Gaussian policy.
        reward_scale: rewards (USD) are multiplied by this for learning.
        prior_momentum: weight of the old value-model prior when a campaign's weights are folded in.
        attribution: attribution model of the reward ledger.
        reward_value: what the reward pays ("target_cpa", "revenue", "score" or "lagrangian": `gaelp.agent.reward`).
        purchase_worth: under "target_cpa", a purchase is worth this x the target CPA. At 1 the reward's
            optimum prices the *marginal* purchase at the target, so the average CAC ends below it;
            the score wants the average at the target (a Lagrangian worth above 1).
        reward_timing: "click" (a click's expected credit advanced when bought, corrected when the truth
            arrives) or "arrival" (credit when the purchase arrives).
        identity: credit purchases by resolved person (identity resolution on our own logs), else by device.
        prior_worlds: fit the value model's prior offline on this many training worlds' click logs before
            training (`gaelp.agent.prior_fit`; 0: start from the flat prior).
        prior_users: people per world of the offline prior.
        value_l2: the online value model's pull towards the prior (with an offline prior, on its bias only:
            a campaign's labels recalibrate the prior's level, `gaelp.agent.value`).
        value_window_h: the value model's label window, hours (None: the lookback window; the offline prior
            is fitted with the same window).
        bid_level: every bid x this: the level the policy's pacing moves around (1: the value model's
            estimate; a checkpoint plays with the level it was trained at).
        guard_ceiling: the CAC guard's largest factor when the checkpoint plays (validations included; the
            guard is off in training's worlds): 1 only ever lowers bids, above 1 it also raises them while the
            CAC runs below its margin (`gaelp.agent.bidder`). Written into the checkpoint.
        horizon_guard_margin: the CAC guard's margin (a multiple of the target CPA) when the checkpoint plays
            with its horizon table (`horizon`: the delays of the prior's click log, `prior_fit.horizon_table`,
            written when the prior's campaigns are longer than `prior_fit.HORIZON_H` hours); validations play so
            too. Written into the checkpoint.
        prior_form: "logistic" (the value model's prior bids) or "loglink": a log-link prior fitted on the same
            pooled click log (`prior_fit.fit_loglink`) gives the P(purchase) the bids read (needs `prior_worlds`).
        loglink_window_h: the log-link prior's label window, hours (None: `value_window_h`, else
            `prior_fit.LABEL_WINDOW_H`); a shorter window counts fewer purchases the click did not cause, and
            its P (of a purchase within the window) is lower, which `bid_level` makes up (docs/agent.md).
        loglink_requests: the log-link prior also reads each device's bid-request history (every opportunity
            offered to us, won or not: `AgentBidder(requests=True)`); needs prior_form "loglink". Written into the
            checkpoint (`loglink_requests`) when on.
        val_every: iterations between validations of the greedy policy (0: never).
        val_worlds: validation worlds (seeds 900, 901, ...).
        val_users: people per validation world.
        margin_worlds: with a horizon table and validations, the checkpoint kept (`best.pt`) then plays this many
            more validation worlds (seeds after the `val_worlds`) at margins around `horizon_guard_margin`, and the
            highest-scoring margin whose share of campaigns over the target CPA is at most `margin_risk` replaces
            it (`gaelp.agent.margin`). 0: `horizon_guard_margin` as given.
        margin_risk: that share's limit (a log-normal fitted to the worlds' CACs).
        copies: worlds of an iteration that share one seed (and so its people, rivals and randomised settings:
            common random numbers); each copy's advantage at an hour is taken relative to the copies' mean
            there, a group baseline that removes what the world dealt them alike. 1: every world its own seed,
            plain GAE advantages. Must divide `worlds`.
    """

    worlds: int = TRAIN_WORLDS
    users: int = 5_000
    days: int | None = None
    env_hours: int = 100_000
    minutes: float | None = None
    seed: int = 0
    randomize: bool = True
    learning_rate: float = 1e-3
    gamma: float = 0.999
    gae_lambda: float = 0.95
    update_epochs: int = 8
    minibatch_worlds: int = 1
    clip_coef: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    target_kl: float | None = 0.05
    hidden: int = 64
    init_log_std: float = -1.0
    reward_scale: float = 0.01
    prior_momentum: float = 0.8
    attribution: str = "last_click"
    reward_value: str = "target_cpa"
    purchase_worth: float = 1.0
    reward_timing: str = "arrival"
    identity: bool = True
    prior_worlds: int = 0
    prior_users: int = PRIOR_USERS
    value_l2: float = DEFAULT_L2
    value_window_h: int | None = None
    bid_level: float = 1.0
    guard_ceiling: float = DEFAULT_GUARD_CEILING
    horizon_guard_margin: float = HORIZON_GUARD_MARGIN
    prior_form: str = "logistic"
    loglink_window_h: int | None = None
    loglink_requests: bool = False
    val_every: int = 5
    val_worlds: int = 3
    val_users: int = 10_000
    margin_worlds: int = MARGIN_WORLDS
    margin_risk: float = MARGIN_RISK
    copies: int = 1


def validation_score(cfg: Config, ckpt: dict[str, Any], hp: PPOConfig) -> float:
    """Mean score of the greedy policy of `ckpt` on the validation worlds (seeds 900 + k)."""
    return float(np.mean([validation_world(cfg, ckpt, hp, k) for k in range(hp.val_worlds)]))


def validation_world(cfg: Config, ckpt: dict[str, Any], hp: PPOConfig, k: int) -> float:
    """Score of the greedy policy of `ckpt` in validation world `k` (seed 900 + k, `hp.val_users` people)."""
    return float(validation_play(cfg, ckpt, hp, k)["score"])


def validation_play(cfg: Config, ckpt: dict[str, Any], hp: PPOConfig, k: int) -> dict[str, float]:
    """The KPIs and score of `ckpt`'s greedy policy in validation world `k` (`validation_world`'s campaign)."""
    from gaelp.agent.bidder import AgentBidder
    from gaelp.agent.env import play
    from gaelp.agent.network import PolicyController

    with torch.random.fork_rng():
        c = cfg.replace(seed=VALIDATION_SEED_BASE + k, users=hp.val_users, days=hp.days)
        bidder = AgentBidder(c, prior_w=ckpt["prior_w"], controller=PolicyController(ckpt),
                             attribution=hp.attribution, reward_value=hp.reward_value,
                             purchase_worth=hp.purchase_worth, reward_timing=hp.reward_timing,
                             identity=hp.identity, cac_guard=True,  # as the checkpoint will play
                             value_l2=hp.value_l2, value_window_h=hp.value_window_h, bid_level=hp.bid_level,
                             loglink_w=ckpt.get("loglink_w"), guard_ceiling=hp.guard_ceiling,
                             requests=bool(ckpt.get("loglink_requests", False)), **horizon_settings(ckpt))
        return play(c, bidder)


def choose_margin(cfg: Config, hp: PPOConfig, path: Path, first: int,
                  play_worlds: Callable[[float, list[int]], list[dict[str, float]]] | None = None,
                  on_world: Callable[[float], None] | None = None) -> MarginChoice:
    """Choose the guard's margin of checkpoint `path` on `hp.margin_worlds` validation worlds from world `first`
    (seeds 900 + first, ...) and write it into the checkpoint (`gaelp.agent.margin`).

    Args:
        play_worlds: (margin, world indices) -> each world's KPIs; default: played here, one after another
            (`gaelp.agent.seeds` plays them on its process pool).
        on_world: called with the margin after each world played here (a progress bar).
    """
    worlds = list(range(first, first + hp.margin_worlds))
    if play_worlds is None:
        ckpt = load_checkpoint(path)

        def play_worlds(m: float, ks: list[int]) -> list[dict[str, float]]:
            rows = []
            for k in ks:
                rows.append(validation_play(cfg, ckpt | {"horizon_guard_margin": m}, hp, k))
                if on_world is not None:
                    on_world(m)
            return rows

    start = hp.horizon_guard_margin
    choice = search_margin(lambda m: play_worlds(m, worlds), cfg.bidders.target_cpa, start=start,
                           bounds=(min(MARGIN_RANGE[0], start), max(MARGIN_RANGE[1], start)), risk=hp.margin_risk,
                           worlds=[VALIDATION_SEED_BASE + k for k in worlds])
    write_margin(path, choice)
    return choice


PRIOR_FORMS = ("logistic", "loglink")


@dataclass
class TrainResult:
    """What `train` returns (and `gaelp train --json` prints); `train_score` is the mean score of the
    campaigns of the last iterations (at least `SCORE_CAMPAIGNS` campaigns, or all there were)."""

    env_hours: int
    wall_s: float
    train_score: float
    checkpoint: str
    history: list[dict[str, float]] = field(default_factory=list)
    guard_margin: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The CLI's JSON shape; with `guard_margin` when the margin was chosen (`margin.MarginChoice.to_json`)."""
        return {"env_hours": self.env_hours, "wall_s": round(self.wall_s, 3),
                "env_hours_per_s": round(self.env_hours / max(self.wall_s, 1e-9), 2),
                "train_score": self.train_score, "checkpoint": self.checkpoint,
                **({} if self.guard_margin is None else {"guard_margin": self.guard_margin})}


def _gae(rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """(T, n) advantages of one campaign per column, its end terminal."""
    adv = np.zeros_like(rewards)
    last = np.zeros(rewards.shape[1])
    for t in range(rewards.shape[0] - 1, -1, -1):
        next_v = values[t + 1] if t + 1 < rewards.shape[0] else 0.0
        delta = rewards[t] + gamma * next_v - values[t]
        last = delta + gamma * lam * last
        adv[t] = last
    return adv


def group_relative(adv: np.ndarray, copies: int) -> np.ndarray:
    """(T, n) advantages `adv` less, at each hour, the mean of their group's (`copies` columns in a row)."""
    t, n = adv.shape
    grouped = adv.reshape(t, n // copies, copies)
    return (grouped - grouped.mean(axis=2, keepdims=True)).reshape(t, n)


def check_settings(cfg: Config, hp: PPOConfig) -> None:
    """Raise ValueError, naming the setting, if `train` cannot run `hp` on `cfg` (checked before any work)."""
    if hp.copies < 1 or hp.worlds % hp.copies:
        raise ValueError(f"copies must be at least 1 and divide worlds ({hp.worlds}), got {hp.copies}")
    if not hp.learning_rate > 0:
        raise ValueError(f"learning_rate must be above 0, got {hp.learning_rate}")
    if hp.minutes is not None and not hp.minutes > 0:
        raise ValueError(f"minutes must be above 0, got {hp.minutes}")
    check_guard_ceiling(hp.guard_ceiling)
    check_guard_margin(hp.horizon_guard_margin)
    if hp.margin_worlds < 0 or hp.val_worlds + hp.margin_worlds > VALIDATION_WORLDS or not 0 <= hp.margin_risk < 1:
        raise ValueError(f"margin_worlds must be at least 0 with val_worlds + margin_worlds at most "
                         f"{VALIDATION_WORLDS} (validation seeds 900-999), and margin_risk in [0, 1); got "
                         f"{hp.margin_worlds}, {hp.val_worlds} and {hp.margin_risk}")
    if hp.reward_value not in REWARD_VALUES:
        raise ValueError(f"reward_value must be one of {', '.join(REWARD_VALUES)}, got {hp.reward_value!r}")
    if hp.prior_form not in PRIOR_FORMS or (hp.prior_form == "loglink" and hp.prior_worlds < 1):
        raise ValueError(f"prior_form must be one of {', '.join(PRIOR_FORMS)} (loglink with prior_worlds >= 1), "
                         f"got {hp.prior_form!r} with prior_worlds {hp.prior_worlds}")
    lookback_h = 24 * cfg.campaign.lookback_days  # the collected logs see purchases this long after a click
    if hp.loglink_window_h is not None and (hp.prior_form != "loglink" or not 1 <= hp.loglink_window_h <= lookback_h):
        raise ValueError(f"loglink_window_h {hp.loglink_window_h} needs prior_form 'loglink' (got {hp.prior_form!r}) "
                         f"and 1-{lookback_h} hours (the lookback window)")
    if hp.loglink_requests and hp.prior_form != "loglink":
        raise ValueError(f"loglink_requests needs prior_form 'loglink', got {hp.prior_form!r}")


def train(cfg: Config, hp: PPOConfig, out: Path, resume: bool = False,
          on_iteration: Callable[[dict[str, float]], None] | None = None,
          on_margin: Callable[[float], None] | None = None) -> TrainResult:
    """Train the agent; write `out/policy.pt` after every iteration and TensorBoard logs under `out/tb`.

    Args:
        cfg: the base config of the training worlds (`hp.users` and `hp.days` override it).
        hp: hyper-parameters.
        out: output directory.
        resume: continue from `out/policy.pt` (bit-identical to a run that was never stopped).
        on_iteration: called with each iteration's metrics (the CLI's progress bar).
        on_margin: called with the margin after each world of the guard margin's choice (`PPOConfig.margin_worlds`).
    """
    check_settings(cfg, hp)  # before the prior's minutes of work
    with one_thread():  # the same bits on any number of cores (`gaelp.agent.threads`)
        return _train(cfg, hp, out, resume, on_iteration, on_margin)


def _train(cfg: Config, hp: PPOConfig, out: Path, resume: bool,
           on_iteration: Callable[[dict[str, float]], None] | None,
           on_margin: Callable[[float], None] | None) -> TrainResult:
    """`train`'s loop, on one thread."""
    from torch.utils.tensorboard import SummaryWriter

    envs = VectorCampaignEnv(hp.worlds, cfg=cfg, users=hp.users, days=hp.days, randomize=hp.randomize,
                             attribution=hp.attribution, reward_value=hp.reward_value,
                             purchase_worth=hp.purchase_worth, reward_timing=hp.reward_timing,
                             identity=hp.identity, value_l2=hp.value_l2, value_window_h=hp.value_window_h,
                             bid_level=hp.bid_level, autoreset=False)
    n, T = hp.worlds, envs.envs[0].hours
    obs_dim, act_dim = space_shape(envs.single_observation_space)[0], space_shape(envs.single_action_space)[0]
    with torch.random.fork_rng():
        torch.manual_seed(hp.seed)
        net = RecurrentActorCritic(obs_dim, act_dim, hp.hidden, hp.init_log_std)
    params = list(net.parameters())
    # foreach: the same numbers as the per-tensor loop (checked bit for bit), in fewer calls
    optimizer = torch.optim.Adam(params, lr=hp.learning_rate, eps=1e-5, foreach=True)
    gen = torch.Generator().manual_seed(hp.seed)
    rng = np.random.default_rng(np.random.SeedSequence([hp.seed, 0x999]))
    prior = flat_prior(envs.envs[0].bidder_features, PRIOR_CVR)
    loglink = horizon = None
    if hp.prior_worlds > 0 and not resume:
        prior, log = build_prior(cfg, hp.prior_worlds, hp.prior_users, hp.days,
                                 seed_base=PRIOR_SEED_BASE + hp.seed * 1_000_000,
                                 window_h=hp.value_window_h or 24 * cfg.campaign.lookback_days,
                                 requests=hp.loglink_requests)
        if hp.prior_form == "loglink":
            loglink = fit_loglink(log, len(cfg.world.channels),
                                  hp.loglink_window_h or hp.value_window_h or LABEL_WINDOW_H, hp.loglink_requests)
        if 24 * (hp.days or cfg.days) > HORIZON_H:  # shorter campaigns cannot show the delays it reaches
            try:
                horizon = horizon_table(log, HORIZON_H)
            except ValueError as e:
                warnings.warn(f"no horizon table: {e}; the checkpoint plays without one", stacklevel=2)
    iteration, env_hours, history = 0, 0, []
    best: dict[str, float] = {"score": -np.inf, "iteration": -1}
    here = numerics()  # the process's kernels: read once, written with every checkpoint
    path = out / CHECKPOINT
    if resume:
        ck = load_checkpoint(path)
        saved = ck.get("hp")  # settings added since a checkpoint was written take their defaults
        if saved is None or asdict(PPOConfig()) | saved != asdict(hp) | {"env_hours": saved["env_hours"],
                                                                           "minutes": saved["minutes"]}:
            raise ValueError(f"{path} was trained with other settings; resume with the same flags")
        net.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        gen.set_state(ck["torch_rng"])
        rng.bit_generator.state = ck["np_rng"]
        prior, iteration, env_hours, history = ck["prior_w"], ck["iteration"], ck["env_hours"], ck["history"]
        loglink, horizon = ck.get("loglink_w"), ck.get("horizon")
        best = ck["best"]
        then = ck.get("numerics")
        if then is not None and then != here:  # the run goes on, in other low bits than it would have there
            changed = ", ".join(f"{k} {then.get(k)!r} -> {here[k]!r}" for k in here if then.get(k) != here[k])
            warnings.warn(f"{path} was written under other numerics ({changed}): the run continues, but not "
                          "bit for bit as it would have there (docs/agent.md, 'Same seed, other machine')",
                          stacklevel=2)
    adam_step = FlatAdam(optimizer).step  # the same numbers, one kernel per operation for all parameters
    writer = SummaryWriter(str(out / "tb"))
    start = time.perf_counter()
    world_base = TRAIN_SEED_BASE + hp.seed * 1_000_000
    first = iteration  # a time limit stops the run only after a campaign of this call: a checkpoint is written

    def out_of_time() -> bool:
        return env_hours >= hp.env_hours or (hp.minutes is not None and iteration > first
                                             and time.perf_counter() - start >= 60 * hp.minutes)

    settings = {"attribution": hp.attribution, "reward_value": hp.reward_value, "purchase_worth": hp.purchase_worth,
                "reward_timing": hp.reward_timing, "identity": hp.identity, "value_l2": hp.value_l2,
                "value_window_h": hp.value_window_h, "bid_level": hp.bid_level, "loglink_w": loglink,
                "guard_ceiling": hp.guard_ceiling, **({"loglink_requests": True} if hp.loglink_requests else {}),
                **({} if horizon is None else {"horizon": horizon, "horizon_guard_margin": hp.horizon_guard_margin})}

    def playing() -> dict[str, Any]:  # the current policy as a checkpoint plays it (for the validation)
        return {"model": net.state_dict(), "obs_dim": obs_dim, "act_dim": act_dim, "hidden": hp.hidden,
                "prior_w": prior, **settings}

    if hp.val_every > 0 and not resume:  # the start is the first candidate: an update must beat it
        best = {"score": validation_score(cfg, playing(), hp), "iteration": 0}
        writer.add_scalar("validation/score", best["score"], 0)
        save_checkpoint(out / BEST, net, prior, **settings, val_score=best["score"], iteration=0)
    while not out_of_time():
        envs.set_prior(prior, loglink, hp.loglink_requests)
        # world k of the iteration: seed `world_base + iteration * n + k // copies` (copies of one world in a row)
        obs, _ = envs.reset(seed=(world_base + iteration * n + np.arange(n) // hp.copies).tolist())
        buf_obs = np.zeros((T, n, obs_dim), np.float32)
        buf_act = np.zeros((T, n, act_dim), np.float32)
        buf_logp, buf_val, buf_rew = np.zeros((T, n)), np.zeros((T, n)), np.zeros((T, n))
        state = net.initial_state(n)
        finals: list[dict] = []
        with torch.inference_mode():  # the rollout: the policy's Gaussian is fixed for the campaign
            std = net.log_std.exp()
            means = []
            for t in range(T):  # one campaign per world
                mean, value, state = net(torch.as_tensor(obs).unsqueeze(0), state)
                means.append(mean[0])
                act = (mean[0] + std * torch.randn(mean.shape[1:], generator=gen)).numpy()
                buf_obs[t], buf_act[t], buf_val[t] = obs, act, value[0].numpy()
                obs, buf_rew[t], _, _, infos = envs.step(act)
                finals = [f for f in infos["final_info"] if f] or finals
            # the actions' log-probabilities, elementwise as each hour's are, once for the campaign
            buf_logp[:] = fixed_scale_log_prob(std, (T, n, act_dim))(torch.stack(means), torch.as_tensor(buf_act)).sum(-1)
        env_hours += n * T
        if hp.prior_worlds == 0:  # an offline prior stays as fitted; the flat one learns from the campaigns
            weights = np.stack([e.agent.value.w for e in envs.envs])
            prior = hp.prior_momentum * prior + (1 - hp.prior_momentum) * weights.mean(axis=0)

        rew = buf_rew * hp.reward_scale
        adv = _gae(rew, buf_val, hp.gamma, hp.gae_lambda)
        ret = adv + buf_val  # the value's targets: each world's own
        if hp.copies > 1:
            adv = group_relative(adv, hp.copies)
        t_obs, t_act = torch.as_tensor(buf_obs), torch.as_tensor(buf_act)
        t_logp, t_adv, t_ret = (torch.as_tensor(a, dtype=torch.float32) for a in (buf_logp, adv, ret))
        data: dict[tuple[int, ...], tuple[torch.Tensor, ...]] = {}  # a minibatch's rollout data, as every epoch reads it
        stats: dict[str, float] = {}
        for _ in range(hp.update_epochs):
            order = rng.permutation(n)
            for s in range(0, n, hp.minibatch_worlds):
                key = tuple(order[s:s + hp.minibatch_worlds].tolist())
                if key not in data:  # the rollout's columns of the minibatch's worlds and their advantages, normalised
                    mb = torch.as_tensor(order[s:s + hp.minibatch_worlds])
                    a = t_adv[:, mb]
                    a = (a - a.mean()) / (a.std() + 1e-8)
                    data[key] = (t_obs[:, mb], t_act[:, mb], t_logp[:, mb], -a, t_ret[:, mb])
                mb_obs, mb_act, mb_logp, neg_adv, mb_ret = data[key]
                mean, value, _ = net(mb_obs, net.initial_state(len(key)))
                dist = net.dist(mean, validate=False)  # the rollout's actions and the network's own means
                logp = dist.log_prob(mb_act).sum(-1)
                ratio = (logp - mb_logp).exp()
                pg_loss = torch.max(neg_adv * ratio, neg_adv * ratio.clamp(1 - hp.clip_coef, 1 + hp.clip_coef)).mean()
                v_loss = 0.5 * ((value - mb_ret) ** 2).mean()
                if hp.ent_coef:
                    loss = pg_loss - hp.ent_coef * dist.entropy().sum(-1).mean() + hp.vf_coef * v_loss
                else:  # 0 x the entropy's gradient adds nothing to any gradient: not built
                    loss = pg_loss + hp.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                adam_step(hp.max_grad_norm)  # `clip_grad_norm(params, hp.max_grad_norm)`, then Adam's step
            # the epoch's last minibatch: what the early stop and the log read (the step changed no tensor here:
            # the Gaussian's scale is the exponential taken before it)
            with torch.no_grad():
                approx_kl = float(((ratio - 1) - (logp - mb_logp)).mean())
                entropy = dist.entropy().sum(-1).mean()
            stats = {"policy_loss": float(pg_loss.detach()), "value_loss": float(v_loss.detach()),
                     "entropy": float(entropy), "approx_kl": approx_kl}
            if hp.target_kl is not None and stats["approx_kl"] > hp.target_kl:
                break
        var = np.var(ret)
        squares = sum(((p.detach() ** 2).sum() for p in net.parameters()), torch.zeros(()))
        scores = [f["score"] for f in finals]
        cac = np.array([f["cac"] for f in finals])
        row = {"iteration": iteration, "env_hours": env_hours, "return": float(buf_rew.sum(axis=0).mean()),
               "score": float(np.mean(scores)), "conversions": float(np.mean([f["conversions"] for f in finals])),
               "cac": float(np.nanmedian(cac)) if np.isfinite(cac).any() else float("nan"),
               "explained_variance": float(1 - np.var(ret - buf_val) / var) if var > 0 else float("nan"),
               "weight_norm": float(torch.sqrt(squares)),
               "log_std": float(net.log_std.detach().mean()), **stats}
        iteration += 1
        if hp.val_every > 0 and iteration % hp.val_every == 0:
            row["val_score"] = validation_score(cfg, playing(), hp)
            writer.add_scalar("validation/score", row["val_score"], env_hours)
            if row["val_score"] > best["score"]:
                best = {"score": row["val_score"], "iteration": iteration}
                save_checkpoint(out / BEST, net, prior, **settings, val_score=row["val_score"], iteration=iteration)
        history.append(row)
        for k, v in row.items():
            if k not in ("iteration", "env_hours", "val_score"):
                writer.add_scalar(f"train/{k}", v, env_hours)
        save_checkpoint(path, net, prior, hp=asdict(hp), optimizer=optimizer.state_dict(), torch_rng=gen.get_state(),
                        np_rng=rng.bit_generator.state, iteration=iteration, env_hours=env_hours, history=history,
                        best=best, numerics=here, **settings)
        if on_iteration is not None:
            on_iteration(row)
    writer.close()
    margin = None
    if horizon is not None and hp.val_every > 0 and hp.margin_worlds > 0:  # best.pt: the start at least
        margin = choose_margin(cfg, hp, out / BEST, hp.val_worlds, on_world=on_margin).to_json()
    recent = [r["score"] for r in history[-max(1, -(-SCORE_CAMPAIGNS // n)):]]
    return TrainResult(env_hours, time.perf_counter() - start, float(np.mean(recent)) if recent else float("nan"),
                       str(path), history, margin)


class OnlineLearner:
    """Policy updates while bidding (`make_agent_bidder(online=True)`), from the campaign's own rewards.

    Once a day, the day's 24 hours are replayed through the network from the LSTM state the day began
    with; the log-probability of the actions taken is pushed along the reward-to-go's advantage over
    the critic (one clipped policy-gradient step, Adam at `lr`), and the critic towards the
    reward-to-go. Actions were drawn within the exploration limit of the greedy action, so the
    log-probabilities are those of the unclipped Gaussian (an approximation for the rare clipped draw).
    """

    def __init__(self, net: RecurrentActorCritic, lr: float = 1e-4, gamma: float = 0.999,
                 reward_scale: float = 0.01) -> None:
        self.net, self.gamma, self.reward_scale = net, gamma, reward_scale
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr, eps=1e-5)
        self.obs: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []
        self.rewards: list[float] = []
        self.start_state: tuple[torch.Tensor, torch.Tensor] | None = None
        self.updates = 0

    def record(self, obs: np.ndarray, action: np.ndarray, state: tuple[torch.Tensor, torch.Tensor]) -> None:
        """An hour's observation, action and the LSTM state before it."""
        if not self.obs:
            self.start_state = (state[0].clone(), state[1].clone())
        self.obs.append(np.asarray(obs, np.float32))
        self.actions.append(np.asarray(action, np.float32))

    def reward(self, r: float) -> None:
        """The hour's reward (an hour without opportunities adds to the last one); after 24 hours, one update."""
        if len(self.rewards) < len(self.obs):
            self.rewards.append(float(r) * self.reward_scale)
        elif self.rewards:
            self.rewards[-1] += float(r) * self.reward_scale
        if len(self.rewards) >= 24 and len(self.obs) == len(self.rewards):
            self._update()

    def _update(self) -> None:
        obs = torch.as_tensor(np.stack(self.obs)).unsqueeze(1)
        act = torch.as_tensor(np.stack(self.actions)).unsqueeze(1)
        rew = np.asarray(self.rewards)
        ret = np.zeros_like(rew)
        acc = 0.0
        for t in range(rew.size - 1, -1, -1):
            acc = rew[t] + self.gamma * acc
            ret[t] = acc
        mean, value, _ = self.net(obs, self.start_state)
        t_ret = torch.as_tensor(ret, dtype=torch.float32).unsqueeze(1)
        adv = (t_ret - value).detach()
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        logp = self.net.dist(mean).log_prob(act).sum(-1)
        loss = -(logp * adv).mean() + 0.5 * ((value - t_ret) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(self.net.parameters(), 0.5)
        self.optimizer.step()
        self.obs, self.actions, self.rewards = [], [], []
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        """Weights and optimizer (the day's pending hours restart after a restore)."""
        return {"model": {k: v.clone() for k, v in self.net.state_dict().items()},
                "optimizer": self.optimizer.state_dict(), "updates": self.updates}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.net.load_state_dict(s["model"])
        self.optimizer.load_state_dict(s["optimizer"])
        self.updates = int(s["updates"])
        self.obs, self.actions, self.rewards = [], [], []


def load_policy(path: Path) -> RecurrentActorCritic:
    """The network of a training checkpoint."""
    return build_network(load_checkpoint(path))
