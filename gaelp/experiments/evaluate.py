"""Evaluation: every bidder plays the same held-out worlds; scores with CIs and paired tests.

Worlds are paired: each bidder plays the world seeds `seed_base .. seed_base + worlds - 1`, so two
bidders are compared world by world. Per bidder and metric we report the mean over worlds and its 95%
percentile-bootstrap CI; the reference bidder (the agent, else the first one named) is compared with
each other bidder by the median of the per-world score ratios and a paired Wilcoxon signed-rank test,
the p-values Holm-adjusted over the family of comparisons.

**Held-out worlds.** Training uses world seeds >= `TRAINING_SEEDS_FROM` (1000); evaluation uses
seeds below it, by default 0 .. worlds - 1.

**Undefined metrics.** A world without conversions has no CAC, one without spend no ROAS: they are
None in `per_world` (null in JSON), left out of that metric's mean and CI (`n` says how many worlds
count), and the score of such a world is 0.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from gaelp.bidders.registry import BIDDERS
from gaelp.config import Config
from gaelp.experiments.hindsight import DEFAULT_GRID, ORACLE_LP, KGrid, search_worlds
from gaelp.experiments.play import AGENT, AGENT_ONLINE, AgentFactory, Play, WorldResult, play
from gaelp.experiments.stats import bootstrap_ci, holm, wilcoxon_p

TRAINING_SEEDS_FROM = 1000
"""World seeds >= this are for training; evaluation's held-out worlds lie below."""
DEFAULT_BIDDERS = (AGENT, "target_cpa", "fixed", "oracle", ORACLE_LP)
METRICS = ("score", "conversions", "cac", "roas", "spend", "budget_use")
BOOTSTRAP_SEED = 2011
"""Seed of every bootstrap resampling (one fresh stream per bidder and metric): same worlds, same CIs."""

Progress = Callable[[int, int], None]
"""Called as plays finish with (done, expected total)."""


def bidder_list(names: Sequence[str], online: bool = False) -> list[str]:
    """The bidders to play, checked; with `online`, `agent_online` follows `agent`.

    Raises:
        ValueError: an unknown or repeated name, or `online` without the agent.
    """
    names = list(names)
    known = [AGENT, *BIDDERS]
    for n in names:
        if n not in known:
            raise ValueError(f"unknown bidder {n!r} in --bidders; known: {', '.join(known)}")
    if len(set(names)) != len(names):
        raise ValueError(f"--bidders names a bidder twice: {','.join(names)}")
    if not names:
        raise ValueError("--bidders is empty: name at least one bidder")
    if online:
        if AGENT not in names:
            raise ValueError("--online needs the agent among --bidders (it reports the agent learning online)")
        names.insert(names.index(AGENT) + 1, AGENT_ONLINE)
    return names


class _Inline(Executor):
    """Runs each submitted call at once in this process (one worker: no pool to start)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """Call `fn` now; its result (or exception) is in the returned future."""
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future, as a pool does
            f.set_exception(e)
        return f


def _executor(workers: int) -> Executor:
    if workers <= 1:
        return _Inline()
    # spawn: workers start clean (no copy of the parent's threads or torch state)
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def play_worlds(cfg: Config, seeds: Sequence[int], bidders: Sequence[str], *,
                agent_factory: AgentFactory | None = None, policy: str | Path | None = None, workers: int = 2,
                grid: KGrid = DEFAULT_GRID, progress: Progress | None = None) -> dict[str, list[WorldResult]]:
    """Every bidder plays every world (`cfg` with each seed); `oracle_lp` with its hindsight `k`.

    Args:
        cfg: the evaluation's config (users, days, market); its seed is replaced by each world's.
        seeds: the world seeds.
        bidders: names from `bidder_list`.
        agent_factory: builds the agent (`make_agent_bidder`); needed when `agent` is among `bidders`.
        policy: the agent's checkpoint (None: the shipped one).
        workers: processes (1: play in this process).
        grid: `oracle_lp`'s hindsight grid.
        progress: told of finished plays.

    Returns:
        bidder -> its results in the order of `seeds`.
    """
    if any(b in (AGENT, AGENT_ONLINE) for b in bidders) and agent_factory is None:
        raise ValueError("the agent is among the bidders but no agent factory was given")
    plain = [b for b in bidders if b != ORACLE_LP]
    expected = len(seeds) * (len(plain) + (grid.typical_replays if ORACLE_LP in bidders else 0))
    lock, count = threading.Lock(), {"done": 0, "submitted": 0}

    def tick(_f: Future) -> None:
        with lock:
            count["done"] += 1
            done, total = count["done"], max(expected, count["submitted"])
        if progress is not None:
            progress(done, total)

    with _executor(workers) as ex:
        def run(job: Play) -> Future[WorldResult]:
            with lock:
                count["submitted"] += 1
            f = ex.submit(play, cfg, job, agent_factory, policy)
            f.add_done_callback(tick)
            return f

        try:
            futures = {b: [run(Play(s, b)) for s in seeds] for b in plain}
            best = search_worlds(seeds, run, grid) if ORACLE_LP in bidders else {}
            out = {b: [f.result() for f in futures[b]] for b in plain}
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)  # a failed play (or Ctrl-C) stops the queued ones
            raise
    if best:
        out[ORACLE_LP] = [best[s] for s in seeds]
    return {b: out[b] for b in bidders}


def play_worlds_within(cfg: Config, seed_base: int, bidders: Sequence[str], budget_s: float, *,
                       max_worlds: int | None = None, workers: int = 2, progress: Progress | None = None,
                       **kwargs: Any) -> dict[str, list[WorldResult]]:
    """As many held-out worlds as fit in about `budget_s` seconds: batches of `workers` worlds from `seed_base`.

    A next batch is played while the time so far plus the slowest batch so far stays within
    `budget_s`; the first batch is always played. Seeds stay below `TRAINING_SEEDS_FROM` (and within
    `max_worlds` worlds). `progress` is told of finished plays counted over every batch so far (the total:
    the earlier batches' plays and the current one's). `kwargs` go to `play_worlds`.

    Raises:
        ValueError: `seed_base` is not a held-out seed.
    """
    if not 0 <= seed_base < TRAINING_SEEDS_FROM:
        raise ValueError(f"seed_base {seed_base} is not a held-out world seed (0 .. {TRAINING_SEEDS_FROM - 1})")
    end = min(TRAINING_SEEDS_FROM, seed_base + (max_worlds if max_worlds is not None else TRAINING_SEEDS_FROM))
    out: dict[str, list[WorldResult]] = {b: [] for b in bidders}
    start, slowest, seed = time.perf_counter(), 0.0, seed_base
    plays = {"before": 0, "now": 0}  # finished plays of the earlier batches, of the current one

    def tell(done: int, total: int) -> None:  # called from the plays' callbacks, which may report out of order
        plays["now"] = max(plays["now"], done)
        if progress is not None:
            progress(plays["before"] + done, plays["before"] + total)

    while seed < end:
        elapsed = time.perf_counter() - start
        if seed > seed_base and elapsed + slowest > budget_s:
            break
        batch = list(range(seed, min(seed + max(workers, 1), end)))
        t0 = time.perf_counter()
        for b, rows in play_worlds(cfg, batch, bidders, workers=workers, progress=tell, **kwargs).items():
            out[b].extend(rows)
        plays["before"], plays["now"] = plays["before"] + plays["now"], 0
        slowest = max(slowest, time.perf_counter() - t0)
        seed = batch[-1] + 1
    return out


def _metric(values: list[float | None]) -> dict[str, Any]:
    x = np.array([v for v in values if v is not None], np.float64)
    if x.size == 0:
        return {"mean": None, "ci95": None, "n": 0}
    lo, hi = bootstrap_ci(x, np.random.default_rng(BOOTSTRAP_SEED))
    return {"mean": float(x.mean()), "ci95": [lo, hi], "n": int(x.size)}


def compare(a: Sequence[WorldResult], b: Sequence[WorldResult]) -> dict[str, Any]:
    """Bidder a against bidder b over the same worlds (before Holm's adjustment).

    `ratio` is the median over worlds of a's score over b's (worlds where b scores 0 are left out;
    None if b scores 0 everywhere) and `ratio_ci95` its 95% percentile-bootstrap interval over those
    worlds (how far thirty worlds can move a median ratio); `ratio_of_means` the ratio of the mean
    scores; `p_value` the two-sided paired Wilcoxon signed-rank test of the scores.
    """
    if [r.seed for r in a] != [r.seed for r in b]:
        raise ValueError(f"{a[0].bidder} and {b[0].bidder} did not play the same worlds")
    sa, sb = np.array([r.score for r in a]), np.array([r.score for r in b])
    pos = sb > 0
    ratios = sa[pos] / sb[pos]
    ratio, ci = ((float(np.median(ratios)),
                  list(bootstrap_ci(ratios, np.random.default_rng(BOOTSTRAP_SEED), statistic="median")))
                 if ratios.size else (None, None))
    return {"a": a[0].bidder, "b": b[0].bidder, "ratio": ratio, "ratio_ci95": ci,
            "ratio_of_means": float(sa.mean() / sb.mean()) if sb.mean() > 0 else None,
            "p_value": wilcoxon_p(sa, sb)}


def summarize(cfg: Config, results: dict[str, list[WorldResult]]) -> dict[str, Any]:
    """The documented `gaelp evaluate --json` object from every bidder's per-world results.

    The reference of the comparisons is the agent if it played, else the first bidder.
    """
    names = list(results)
    seeds = [r.seed for r in results[names[0]]]
    bidders = {}
    for name, rows in results.items():
        entry: dict[str, Any] = {m: _metric([getattr(r, m) for r in rows]) for m in METRICS}
        entry["per_world"] = [r.to_json() for r in rows]
        bidders[name] = entry
    ref = AGENT if AGENT in results else names[0]
    comparisons = [compare(results[ref], results[b]) for b in names if b != ref]
    for c, p in zip(comparisons, holm([c["p_value"] for c in comparisons]), strict=True):
        c["p_holm"] = p
    return {"worlds": seeds, "users": cfg.users, "days": cfg.days, "target_cpa": cfg.bidders.target_cpa,
            "reference": ref, "bidders": bidders, "comparisons": comparisons}
