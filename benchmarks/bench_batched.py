"""Worlds stepped one by one against worlds stepped together as one array program (`BatchedWorlds`).

    python -m benchmarks.bench_batched --worlds 16 --users 10000 --days 7 --batch 16 --repeats 3

Both run the same seeds through the Monte Carlo runner's local backend (`--workers` processes; 1: in
this process), alternating so that a slow spell of a shared machine touches both alike; each figure is
the median of `repeats`, and the digests must agree (the batch keeps every world's KPIs bit for bit).

    python -m benchmarks.bench_batched --stage --worlds 16 --users 10000 --days 2

`--stage` times the batched stage alone: every hour of a batch, each world's market cleared on its own
(`Market.clear_within_budgets`) and all of them at once (`BatchedWorlds.clear`), on the same inputs,
alternating which goes first; it checks that both give the same impressions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time

import numpy as np

from gaelp.config import Config, load_config
from gaelp.experiments.batched import BatchedWorlds
from gaelp.experiments.montecarlo import WorldsJob, run_worlds
from gaelp.simulation import Simulation


def clearing_stage(cfg: Config, worlds: int) -> dict[str, float]:
    """Seconds of the market's phase over `cfg.days` days of `worlds` worlds: one by one and batched."""
    batch = BatchedWorlds([Simulation(cfg.replace(seed=s)) for s in range(worlds)])
    spent = {"one_by_one_s": 0.0, "batched_s": 0.0}
    for t in range(24 * cfg.days):
        hours = [s.open_hour() for s in batch.sims]
        inputs = [s.clearing(h) for s, h in zip(batch.sims, hours, strict=True)]
        for turn in ((0, 1) if t % 2 else (1, 0)):
            start = time.perf_counter()
            if turn == 0:
                alone = [s.market.clear_within_budgets(*c.market_args) for s, c in zip(batch.sims, inputs, strict=True)]
            else:
                together = batch.clear(inputs)
            spent["one_by_one_s" if turn == 0 else "batched_s"] += time.perf_counter() - start
        assert all(np.array_equal(a.row, b.row) and np.array_equal(a.cost, b.cost) for a, b in zip(alone, together))
        for s, h, cl in zip(batch.sims, hours, together, strict=True):
            s.close_hour(h, cl)
    return spent


def main(argv: list[str] | None = None) -> None:
    """Print one JSON object: median wall seconds one by one and batched, their ratio, the load."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--worlds", type=int, default=16)
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--stage", action="store_true", help="time the batched stage (the market) alone")
    a = p.parse_args(argv)
    if a.stage:
        spent = clearing_stage(load_config(None, users=a.users, days=a.days), a.worlds)
        print(json.dumps({"worlds": a.worlds, "users": a.users, "days": a.days,
                          **{k: round(v, 3) for k, v in spent.items()},
                          "speedup": round(spent["one_by_one_s"] / spent["batched_s"], 3), "load_avg": os.getloadavg()}))
        return
    job = WorldsJob(load_config(None, users=a.users, days=a.days), "fixed")
    seeds = list(range(a.worlds))
    walls: dict[int, list[float]] = {1: [], a.batch: []}
    digests = set()
    for _ in range(a.repeats):
        for batch, w in walls.items():
            res = run_worlds(dataclasses.replace(job, batch=batch), seeds, "local", a.workers)
            w.append(res.wall_s)
            digests.add(res.to_json()["digest"])
    alone, batched = (statistics.median(w) for w in walls.values())
    print(json.dumps({"worlds": a.worlds, "users": a.users, "days": a.days, "batch": a.batch, "workers": a.workers,
                      "one_by_one_s": round(alone, 3), "batched_s": round(batched, 3),
                      "speedup": round(alone / batched, 3), "runs": {str(k): v for k, v in walls.items()},
                      "same_digest": len(digests) == 1, "load_avg": os.getloadavg()}))


if __name__ == "__main__":
    main()
