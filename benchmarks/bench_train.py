"""Training throughput: env-hours per second of our PPO-LSTM and of sb3-contrib's RecurrentPPO on the same env.

Both learn on `gaelp/Campaign-v0` worlds of the same size for the same number of simulated hours, one
after the other and alternating over `--repeats` rounds (the machine may be shared, so the medians and
their ratio are what to quote). Ours plays `--worlds` worlds per call; RecurrentPPO steps one
environment, with its defaults but for a rollout of `--n-steps`. Torch runs on one thread.

Both sides measure training only: ours runs with `val_every=0` (no validation of the greedy policy on
held-out worlds, whose simulated hours are not training hours; `gaelp train` still validates by
default) and RecurrentPPO evaluates nothing either. Each trainer first runs once briefly, untimed (one
campaign of ours, one rollout of RecurrentPPO), so that one-time costs (imports, torch's first calls)
fall in neither figure.

`--worlds` defaults to `gaelp train`'s (`PPOConfig.worlds`), so the figure is the one a default training
run gets. `--rppo-envs N` gives RecurrentPPO N copies of the env (sb3's `DummyVecEnv`, `--n-steps` each)
instead of one: its policy then acts on N observations per call, as ours does on its worlds, while each
copy still steps its own world.

Beside the wall-clock figures, each run's env-hours per CPU-second of its process (`time.process_time`,
torch on one thread) and their ratio: on a shared machine a run waits for a core now and then, which
stretches its wall time but not its CPU time, so the CPU figures move less from run to run.

Run as ``python -m benchmarks.bench_train``; `bench_train` returns the figures as a dict. Speed is
measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gaelp.agent.ppo import PPOConfig, train
from gaelp.config import Config


def ours(users: int, days: int, worlds: int, hours: int) -> tuple[float, float]:
    """Env-hours per second and per CPU-second of `gaelp.agent.ppo.train`, without validation (see the
    module's docstring)."""
    hp = PPOConfig(worlds=worlds, users=users, days=days, env_hours=hours, val_every=0)
    cpu = time.process_time()
    with tempfile.TemporaryDirectory() as out:
        res = train(Config(), hp, Path(out))
    return res.env_hours / res.wall_s, res.env_hours / (time.process_time() - cpu)


def recurrent_ppo(users: int, days: int, hours: int, n_steps: int, envs: int = 1) -> tuple[float, float]:
    """Env-hours per second and per CPU-second of sb3-contrib's RecurrentPPO on `gym.make("gaelp/Campaign-v0")`
    (`envs` > 1: that many copies in sb3's `DummyVecEnv`, seeds 0..envs-1)."""
    import gymnasium as gym
    from sb3_contrib import RecurrentPPO
    from stable_baselines3.common.logger import Logger
    from stable_baselines3.common.vec_env import DummyVecEnv

    import gaelp  # noqa: F401  (registers the environment)

    def make() -> gym.Env:
        return gym.make("gaelp/Campaign-v0", users=users, days=days)

    env: gym.Env | DummyVecEnv
    if envs == 1:
        env = make()
    else:
        env = DummyVecEnv([make] * envs)
        env.seed(0)  # copy i resets on seed i
    start, cpu = time.perf_counter(), time.process_time()
    model = RecurrentPPO("MlpLstmPolicy", env, n_steps=n_steps, seed=0, device="cpu")
    model.set_logger(Logger(None, []))  # writes nothing (sb3's default makes a log folder under /tmp each time)
    model.learn(total_timesteps=hours)
    return model.num_timesteps / (time.perf_counter() - start), model.num_timesteps / (time.process_time() - cpu)


def bench_train(users: int = 2_000, days: int = 2, worlds: int = PPOConfig.worlds, hours: int = 1_536,
                n_steps: int = 128, repeats: int = 3, rppo_envs: int = 1) -> dict:
    """Median env-hours/s of both trainers over alternating runs and their ratio (ours / RecurrentPPO), by
    wall clock and by CPU time."""
    torch.set_num_threads(1)
    ours(users, days, worlds, worlds * 24 * days)  # warm-ups, untimed
    recurrent_ppo(users, days, n_steps * rppo_envs, n_steps, rppo_envs)
    a, b = [], []
    for _ in range(repeats):
        a.append(ours(users, days, worlds, hours))
        b.append(recurrent_ppo(users, days, hours, n_steps, rppo_envs))
    (ma, ca), (mb, cb) = ([statistics.median(col) for col in zip(*runs, strict=True)] for runs in (a, b))
    return {"users": users, "days": days, "env_hours": hours, "worlds": worlds, "rppo_envs": rppo_envs,
            "ours_env_hours_per_s": round(ma, 1), "recurrent_ppo_env_hours_per_s": round(mb, 1),
            "ratio": round(ma / mb, 2),
            "ours_env_hours_per_cpu_s": round(ca, 1), "recurrent_ppo_env_hours_per_cpu_s": round(cb, 1),
            "cpu_ratio": round(ca / cb, 2),
            "runs": {"ours": [round(x, 1) for x, _ in a], "recurrent_ppo": [round(x, 1) for x, _ in b],
                     "ours_cpu": [round(x, 1) for _, x in a], "recurrent_ppo_cpu": [round(x, 1) for _, x in b]}}


def main(argv: list[str] | None = None) -> None:
    """Print the figures as JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=2_000)
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--worlds", type=int, default=PPOConfig.worlds,
                   help="our worlds per call (default: gaelp train's)")
    p.add_argument("--env-hours", type=int, default=1_536)
    p.add_argument("--n-steps", type=int, default=128, help="RecurrentPPO's rollout length")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rppo-envs", type=int, default=1, help="RecurrentPPO's copies of the env (DummyVecEnv)")
    a = p.parse_args(argv)
    if a.rppo_envs < 1 or a.worlds < 1:
        p.error(f"--worlds and --rppo-envs must be at least 1, got {a.worlds} and {a.rppo_envs}")
    print(json.dumps(bench_train(a.users, a.days, a.worlds, a.env_hours, a.n_steps, a.repeats, a.rppo_envs)))


if __name__ == "__main__":
    main()
