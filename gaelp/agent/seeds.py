"""Training over several seeds, the best on validation kept (`gaelp train --seeds 0,1,2`).

A run's outcome depends on its seed (its prior's worlds, its training worlds, its initial weights: docs/agent.md,
"Across training seeds"), so the shipped policy is the best of several seeds on validation worlds. This does that
in one call:

1. Each seed trains in a process of its own (`gaelp.agent.ppo.train` with that seed, on one thread, into
   `OUT/seed-S`), `workers` at a time. Each seed's checkpoints are those of the same run alone, bit for bit.
2. Each seed's `best.pt` plays `select_worlds` validation worlds (seeds 900 + k, `hp.val_users` people, the CAC
   guard on, as in training's checkpoint selection), every (seed, world) a task of the same pool.
3. The seed with the highest mean score wins (the first given, on a tie); its `best.pt` is copied to `OUT/best.pt`,
   and `OUT/seeds.json` holds every seed's training figures and validation scores.
4. With a horizon table in it and `hp.margin_worlds` > 0, `OUT/best.pt`'s guard margin is chosen on the next
   `margin_worlds` validation worlds (`gaelp.agent.margin`, every world of a margin a task of the same pool); the
   seeds' own runs skip that step.

Held-out worlds (seeds 0-899) are never played here.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from gaelp.agent import SEED_WORKERS, SELECT_WORLDS
from gaelp.agent.network import load_checkpoint
from gaelp.agent.ppo import (
    BEST,
    VALIDATION_WORLDS,
    PPOConfig,
    TrainResult,
    check_settings,
    choose_margin,
    train,
    validation_play,
)
from gaelp.agent.threads import one_thread
from gaelp.config import Config

SEEDS_FILE = "seeds.json"


def seed_dir(out: Path, seed: int) -> Path:
    """Where seed `seed` of a several-seed run trains."""
    return out / f"seed-{seed}"


@dataclass
class SeedsResult:
    """What `train_seeds` returns (and `gaelp train --seeds ... --json` prints).

    Attributes:
        runs: each seed's `TrainResult`, in the order of `seeds`.
        seeds: the seeds.
        scores: each seed's validation score per world (seeds 900, 901, ...), in the order of `seeds`.
        chosen: the seed whose `best.pt` was kept.
        guard_margin: the choice of its guard margin (`margin.MarginChoice.to_json`), if one was made.
        wall_s: wall seconds of the whole call (training and selection).
        checkpoint: the kept policy (`OUT/best.pt`).
    """

    runs: list[TrainResult]
    seeds: list[int]
    scores: list[list[float]]
    chosen: int
    wall_s: float
    checkpoint: str
    guard_margin: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """`gaelp train --json`'s keys (simulated hours summed over the seeds; the chosen seed's training score),
        then `chosen` and per seed its training figures and validation scores."""
        hours = sum(r.env_hours for r in self.runs)
        return {"env_hours": hours, "wall_s": round(self.wall_s, 3),
                "env_hours_per_s": round(hours / max(self.wall_s, 1e-9), 2),
                "train_score": self.runs[self.seeds.index(self.chosen)].train_score, "checkpoint": self.checkpoint,
                "chosen": self.chosen, **({} if self.guard_margin is None else {"guard_margin": self.guard_margin}),
                "seeds": [{"seed": s, "env_hours": r.env_hours, "wall_s": round(r.wall_s, 3),
                           "train_score": r.train_score, "validation": {"mean": float(np.mean(v)), "per_world": v}}
                          for s, r, v in zip(self.seeds, self.runs, self.scores, strict=True)]}


def _train_one(cfg: Config, hp: PPOConfig, out: Path, events: Any = None) -> TrainResult:
    """`train` of one seed in a worker; its iterations' simulated hours put on `events` (a queue) if given."""
    report = None if events is None else (lambda row: events.put((hp.seed, int(row["env_hours"]))))
    result = train(cfg, hp, out, on_iteration=report)
    result.history = []  # the checkpoint keeps it; not sent back between processes
    return result


def _play_one(cfg: Config, hp: PPOConfig, path: Path, k: int, margin: float | None = None) -> dict[str, float]:
    """Validation world `k`'s KPIs of checkpoint `path` in a worker (at guard margin `margin` if given)."""
    with one_thread():  # as training validates: the same bits on any number of cores
        ckpt = load_checkpoint(path)
        return validation_play(cfg, ckpt if margin is None else ckpt | {"horizon_guard_margin": margin}, hp, k)


def train_seeds(cfg: Config, hp: PPOConfig, seeds: list[int], out: Path, workers: int = SEED_WORKERS,
                select_worlds: int = SELECT_WORLDS,
                on_trained: Callable[[int, int], None] | None = None,
                on_validated: Callable[[int], None] | None = None,
                on_margin: Callable[[float], None] | None = None) -> SeedsResult:
    """Train `hp` at each of `seeds` and keep the best on validation (see the module's docstring).

    Args:
        cfg: the base config (as `train`'s).  hp: the hyper-parameters; its `seed` is replaced by each seed's.
        seeds: distinct training seeds, at least two.  out: the output directory.
        workers: processes at once.  select_worlds: validation worlds of the choice (seeds 900 + k).
        on_trained: called with (seed, simulated hours so far) after each iteration of each seed's training.
        on_validated: called with the seed after each of its validation worlds.
        on_margin: called with the margin after each world of the guard margin's choice.

    Raises:
        ValueError: fewer than two seeds, a seed repeated or negative, `workers` or `select_worlds` below 1, more
            than 100 validation worlds in all, or settings `train` refuses (`check_settings`), before any work.
    """
    if len(seeds) < 2 or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"seeds must be two or more distinct seeds >= 0, got {seeds}")
    if workers < 1 or select_worlds < 1:
        raise ValueError(f"workers and select_worlds must be at least 1, got {workers} and {select_worlds}")
    first_margin = max(select_worlds, hp.val_worlds)  # the guard margin's worlds come after every world chosen on
    if first_margin + hp.margin_worlds > VALIDATION_WORLDS:
        raise ValueError(f"select_worlds ({select_worlds}) and margin_worlds ({hp.margin_worlds}) take more than the "
                         f"{VALIDATION_WORLDS} validation worlds (seeds 900-999)")
    check_settings(cfg, hp)
    start = time.perf_counter()
    ctx = mp.get_context("spawn")
    with ExitStack() as stack:
        pool = stack.enter_context(ProcessPoolExecutor(min(workers, len(seeds)), mp_context=ctx))
        # the workers' progress comes back through a manager's queue (a plain one cannot be sent to a pool)
        events = stack.enter_context(ctx.Manager()).Queue() if on_trained is not None else None

        def drain() -> None:  # the workers' progress, in the order it came
            while events is not None and on_trained is not None and not events.empty():
                on_trained(*events.get())

        futures = [pool.submit(_train_one, cfg, replace(hp, seed=s, margin_worlds=0), seed_dir(out, s), events)
                   for s in seeds]
        pending: set[Future[TrainResult]] = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            drain()
        runs = [f.result() for f in futures]
        drain()
        pick = replace(hp, val_worlds=select_worlds)
        plays = {pool.submit(_play_one, cfg, pick, seed_dir(out, s) / BEST, k): (i, k)
                 for i, s in enumerate(seeds) for k in range(select_worlds)}
        scores = [[0.0] * select_worlds for _ in seeds]
        for f in as_completed(plays):
            i, k = plays[f]
            scores[i][k] = float(f.result()["score"])
            if on_validated is not None:
                on_validated(seeds[i])
        means = [float(np.mean(v)) for v in scores]
        chosen = seeds[int(np.argmax(means))]  # the first of equal means
        kept = out / BEST
        shutil.copyfile(seed_dir(out, chosen) / BEST, kept)
        margin = None
        if hp.margin_worlds > 0 and load_checkpoint(kept).get("horizon") is not None:

            def play_worlds(m: float, ks: list[int]) -> list[dict[str, float]]:
                tasks = [pool.submit(_play_one, cfg, hp, kept, k, m) for k in ks]
                for f in as_completed(tasks):
                    if on_margin is not None:
                        on_margin(m)
                return [f.result() for f in tasks]

            margin = choose_margin(cfg, hp, kept, first_margin, play_worlds).to_json()
    result = SeedsResult(runs, list(seeds), scores, chosen, time.perf_counter() - start, str(kept), margin)
    (out / SEEDS_FILE).write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return result
