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
from scipy import stats

from gaelp.config import Config
from gaelp.records import DayLog
from gaelp.simulation import Simulation

# Our campaign's KPIs of one world; the rates are computed from the (weighted) totals.
TOTALS = ("impressions", "clicks", "spend", "conversions", "revenue", "view_through", "organic", "purchases",
          "purchase_revenue")
RATES = {"ctr": ("clicks", "impressions"), "cpc": ("spend", "clicks"), "cac": ("spend", "conversions"),
         "roas": ("revenue", "spend"), "cost_per_purchase": ("spend", "purchases")}


@dataclass(frozen=True, slots=True)
class WorldsJob:
    """What every world of a run shares; picklable, sent once per batch.

    Attributes:
        cfg: the config (its seed is replaced by each world's; `world.importance` asks for importance
            sampling).
        bidder: our bidder's registered name.
    """

    cfg: Config
    bidder: str


def kpi_names(cfg: Config) -> tuple[str, ...]:
    """Every KPI a world reports, in report order: totals, rates, then purchases by segment."""
    return (*TOTALS, *RATES, *(f"purchases_{s.name}" for s in cfg.world.segments))


def world_kpis(job: WorldsJob, seed: int) -> dict[str, float | None]:
    """Run one world and return its KPI row (None for a rate with a zero denominator).

    Every total is a sum over people of our campaign's events, each person counted with the importance
    weight of their segment (1 in a plain world; spend is what the platform charged, which that weight
    already scales). Purchases are all of ours (click-through, view-through and organic);
    `conversions` and `revenue` are the click-through ones, as in the KPI table of `gaelp simulate`.
    """
    cfg = job.cfg.replace(seed=seed)
    sim = Simulation(cfg, job.bidder)
    n_seg = len(cfg.world.segments)
    weight = sim.pop.weight
    acc = dict.fromkeys(TOTALS, 0.0)
    by_segment = np.zeros(n_seg)
    weighted = bool(cfg.world.importance)  # even factors of 1 take this path: a test checks it against the plain

    def on_day(log: DayLog) -> None:
        conv = log.conversions
        ours = np.flatnonzero(conv["advertiser"] == 0)
        seg = sim.pop.segment[conv["person"][ours]]
        w = weight[seg]
        by_segment[:] += np.bincount(seg, weights=w, minlength=n_seg)
        value = conv["value"][ours]
        acc["purchase_revenue"] += float(np.dot(w, value))
        if weighted:  # the plain world reads the same totals from its KPI accounts, without the logs' cost
            click = conv["by_click"][ours]
            credited = conv["credit_channel"][ours] >= 0
            acc["conversions"] += float(w[click].sum())
            acc["revenue"] += float(np.dot(w[click], value[click]))
            acc["view_through"] += float(w[~click & credited].sum())
            acc["organic"] += float(w[~credited].sum())
            imp = log.impressions
            mine = np.flatnonzero(imp["advertiser"] == 0)
            wi = weight[sim.pop.segment[imp["person"][mine]]]
            acc["impressions"] += float(wi.sum())
            acc["clicks"] += float(wi[imp["clicked"][mine]].sum())

    sim.run(on_day=on_day)
    k = sim.kpis
    acc["spend"] = float(k.channel["spend"].sum())
    if not weighted:
        for name in ("impressions", "clicks", "conversions", "revenue"):
            acc[name] = float(k.channel[name].sum())
        acc["view_through"], acc["organic"] = float(k.view_through), float(k.organic)
    acc["purchases"] = float(by_segment.sum())
    row: dict[str, float | None] = dict(acc)
    for name, (num, den) in RATES.items():
        row[name] = acc[num] / acc[den] if acc[den] > 0 else None
    row.update({f"purchases_{s.name}": float(v) for s, v in zip(cfg.world.segments, by_segment, strict=True)})
    return row


def run_batch(job: WorldsJob, seeds: list[int]) -> list[dict[str, float | None]]:
    """One task of a backend: the KPI rows of worlds `seeds`, in order."""
    return [world_kpis(job, s) for s in seeds]


def batches(seeds: list[int], workers: int, per_worker: int = 4) -> list[list[int]]:
    """Consecutive runs of seeds, about `per_worker` per worker so that a slow batch does not leave
    the others idle at the end, and a progress bar moves."""
    n = max(1, min(len(seeds), workers * per_worker))
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
        rows = b.map_batches(job, batches(seeds, b.workers), on_worlds)
    return MonteCarloResult(job, list(seeds), rows, backend, b.workers, time.perf_counter() - start)
