"""Monte Carlo over many worlds: the same campaign in worlds of seeds `seed_base .. seed_base + N - 1`.

Worlds are cut into batches of consecutive seeds; a backend (`gaelp.experiments.backends`) runs each
batch as one task on a persistent worker and hands back one KPI row per world. The summary is each
KPI's mean and 95% confidence interval across worlds, and a digest of every world's KPIs in seed
order, which depends on the seeds only: not on the backend, the number of workers or the batching.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gaelp.config import Config
from gaelp.experiments.batched import BatchedWorlds
from gaelp.records import DayLog
from gaelp.simulation import Simulation

# Our campaign's KPIs of one world; the rates are computed from the (weighted) totals.
TOTALS = ("impressions", "clicks", "spend", "conversions", "revenue", "view_through", "organic", "purchases",
          "purchase_revenue")
BATCH_PEOPLE = 1_000_000  # people of a batch at most: ~0.4 GB of state (docs/montecarlo.md, memory per world)
RATES = {"ctr": ("clicks", "impressions"), "cpc": ("spend", "clicks"), "cac": ("spend", "conversions"),
         "roas": ("revenue", "spend"), "cost_per_purchase": ("spend", "purchases")}


@dataclass(frozen=True, slots=True)
class WorldsJob:
    """What every world of a run shares; picklable, sent once per batch.

    Attributes:
        cfg: the config (its seed is replaced by each world's; `world.importance` asks for importance
            sampling).
        bidder: our bidder's registered name.
        batch: worlds a task steps together as one array program (`gaelp.experiments.batched`); 1 runs
            them one by one. The KPI rows are the same either way. 64 worlds of 10,000 people ran 1.1x faster
            than 32 (alternating runs, shared machine): the batch's calls are shared by more worlds.
    """

    cfg: Config
    bidder: str
    batch: int = 64


def kpi_names(cfg: Config) -> tuple[str, ...]:
    """Every KPI a world reports, in report order: totals, rates, then purchases by segment."""
    return (*TOTALS, *RATES, *(f"purchases_{s.name}" for s in cfg.world.segments))


class _WorldKpis:
    """Collects one world's KPI row from its day logs and its KPI accounts.

    Every total is a sum over people of our campaign's events, each person counted with the importance
    weight of their segment (1 in a plain world; spend is what the platform charged, which that weight
    already scales). Purchases are all of ours (click-through, view-through and organic);
    `conversions` and `revenue` are the click-through ones, as in the KPI table of `gaelp simulate`.
    """

    def __init__(self, sim: Simulation) -> None:
        self.sim = sim
        self.segments = sim.cfg.world.segments
        self.weight = sim.pop.weight
        self.acc = dict.fromkeys(TOTALS, 0.0)
        self.by_segment = np.zeros(len(self.segments))
        self.weighted = bool(sim.cfg.world.importance)  # even factors of 1 take this path: a test checks it

    def on_day(self, log: DayLog) -> None:
        """Add a day's purchases (and, importance-sampled, its impressions) to the totals."""
        acc, weight, segment = self.acc, self.weight, self.sim.pop.segment
        conv = log.conversions
        ours = np.flatnonzero(conv["advertiser"] == 0)
        seg = segment[conv["person"][ours]]
        w = weight[seg]
        self.by_segment[:] += np.bincount(seg, weights=w, minlength=len(self.segments))
        value = conv["value"][ours]
        acc["purchase_revenue"] += float(np.dot(w, value))
        if self.weighted:  # the plain world reads the same totals from its KPI accounts, without the logs' cost
            click = conv["by_click"][ours]
            credited = conv["credit_channel"][ours] >= 0
            acc["conversions"] += float(w[click].sum())
            acc["revenue"] += float(np.dot(w[click], value[click]))
            acc["view_through"] += float(w[~click & credited].sum())
            acc["organic"] += float(w[~credited].sum())
            imp = log.impressions
            mine = np.flatnonzero(imp["advertiser"] == 0)
            wi = weight[segment[imp["person"][mine]]]
            acc["impressions"] += float(wi.sum())
            acc["clicks"] += float(wi[imp["clicked"][mine]].sum())

    def row(self) -> dict[str, float | None]:
        """The world's KPI row, once its campaign has run (None for a rate with a zero denominator)."""
        acc, k = dict(self.acc), self.sim.kpis
        acc["spend"] = float(k.channel["spend"].sum())
        if not self.weighted:
            for name in ("impressions", "clicks", "conversions", "revenue"):
                acc[name] = float(k.channel[name].sum())
            acc["view_through"], acc["organic"] = float(k.view_through), float(k.organic)
        acc["purchases"] = float(self.by_segment.sum())
        row: dict[str, float | None] = dict(acc)
        for name, (num, den) in RATES.items():
            row[name] = acc[num] / acc[den] if acc[den] > 0 else None
        row.update({f"purchases_{s.name}": float(v) for s, v in zip(self.segments, self.by_segment, strict=True)})
        return row


def world_kpis(job: WorldsJob, seed: int) -> dict[str, float | None]:
    """Run one world alone and return its KPI row (see `_WorldKpis`)."""
    sim = Simulation(job.cfg.replace(seed=seed), job.bidder)
    kpis = _WorldKpis(sim)
    sim.run(on_day=kpis.on_day)
    return kpis.row()


def batch_kpis(job: WorldsJob, seeds: list[int]) -> list[dict[str, float | None]]:
    """Run the worlds `seeds` as one batch (`BatchedWorlds`) and return their KPI rows, in order; each
    row is the one `world_kpis` gives that world alone, bit for bit."""
    sims = [Simulation(job.cfg.replace(seed=s), job.bidder) for s in seeds]
    kpis = [_WorldKpis(sim) for sim in sims]
    BatchedWorlds(sims).run(job.cfg.days, on_day=lambda w, log: kpis[w].on_day(log))
    return [k.row() for k in kpis]


def run_batch(job: WorldsJob, seeds: list[int]) -> list[dict[str, float | None]]:
    """One task of a backend: the KPI rows of worlds `seeds`, in order, stepped together in batches of
    up to `job.batch` worlds and `BATCH_PEOPLE` people (one array program each; 1 runs them one by one)."""
    size = batch_size(job)
    if size == 1:
        return [world_kpis(job, s) for s in seeds]
    return [row for i in range(0, len(seeds), size) for row in batch_kpis(job, seeds[i:i + size])]


def batch_size(job: WorldsJob) -> int:
    """Worlds stepped together at most: `job.batch`, within `BATCH_PEOPLE` people."""
    return max(1, min(job.batch, BATCH_PEOPLE // max(job.cfg.users, 1)))


def batches(seeds: list[int], workers: int, size: int = 32) -> list[list[int]]:
    """Consecutive runs of seeds, one task each: the fewest, in a multiple of `workers`, that hold at most `size`
    worlds each (a batch's world-hour costs less the more worlds share its calls: 32 worlds of 10,000 people ran
    1.1-1.2x faster than 16, so 128 worlds on 2 workers are 2 tasks of 64, not 8 of 16), and at least one per
    worker."""
    tasks = max(workers, -(-len(seeds) // max(size, 1)))
    n = max(1, min(len(seeds), -(-tasks // workers) * workers))
    cuts = np.linspace(0, len(seeds), n + 1).round().astype(int)
    return [seeds[a:b] for a, b in itertools.pairwise(cuts.tolist()) if b > a]


def digest(rows: list[dict[str, float | None]]) -> str:
    """A hash of every world's KPIs in seed order (floats by their exact shortest repr)."""
    text = json.dumps(rows, sort_keys=True, allow_nan=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def summarize(values: list[float | None]) -> dict[str, Any]:
    """Mean and 95% confidence interval (Student t) across worlds of one KPI.

    Worlds where the KPI is undefined (None) are left out; `ci95` is None with fewer than two worlds
    and [mean, mean] when every world agrees.
    """
    x = np.array([v for v in values if v is not None], dtype=np.float64)
    if x.size == 0:
        return {"mean": None, "ci95": None, "per_world": values}
    mean = float(x.mean())
    ci = None
    if x.size > 1:
        from scipy import stats  # here, not at the top: the pool's workers import this module and never summarize

        half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
        ci = [mean - half, mean + half]
    return {"mean": mean, "ci95": ci, "per_world": values}


@dataclass(frozen=True, slots=True)
class MonteCarloResult:
    """A finished run of many worlds.

    Attributes:
        job: what the worlds shared.
        seeds: the worlds' seeds, in order.
        rows: one KPI row per world, in seed order.
        backend: "local" or "ray".
        workers: processes (or Ray CPUs) that ran the batches.
        wall_s: wall seconds, start-up of the backend included.
    """

    job: WorldsJob
    seeds: list[int]
    rows: list[dict[str, float | None]]
    backend: str
    workers: int
    wall_s: float

    def to_json(self) -> dict[str, Any]:
        """The documented `gaelp montecarlo --json` object."""
        cfg = self.job.cfg
        return {"worlds": len(self.seeds), "users": cfg.users, "days": cfg.days, "backend": self.backend,
                "wall_s": round(self.wall_s, 4), "worlds_per_s": round(len(self.seeds) / self.wall_s, 4),
                "kpis": {k: summarize([r[k] for r in self.rows]) for k in kpi_names(cfg)},
                "digest": digest(self.rows), "workers": self.workers, "bidder": self.job.bidder,
                "seed_base": self.seeds[0], "importance": dict(cfg.world.importance)}


def run_worlds(job: WorldsJob, seeds: list[int], backend: str = "local", workers: int = 2,
               address: str | None = None, on_worlds: Callable[[int], None] | None = None) -> MonteCarloResult:
    """Run the worlds `seeds` of `job` on a backend.

    Args:
        job: the campaign every world runs.
        seeds: world seeds (one world each), reported in this order.
        backend: "local" (a process pool; one worker runs in this process) or "ray".
        workers: processes of the pool, or CPUs of the local Ray started for the run.
        address: a Ray cluster to join instead of starting one ("ray" only).
        on_worlds: called with the number of worlds each finished batch held (a progress bar).
    """
    from gaelp.experiments.backends import make_backend

    if not seeds:
        raise ValueError("worlds must be at least 1")
    start = time.perf_counter()
    with make_backend(backend, workers, address) as b:
        rows = b.map_batches(job, batches(seeds, b.workers, batch_size(job)), on_worlds)
    return MonteCarloResult(job, list(seeds), rows, backend, b.workers, time.perf_counter() - start)
