"""Throughput benchmark: people carried through a campaign per wall second, auctions per second, memory.

Each population size runs in a fresh child process (`python -m gaelp.experiments.bench`), so peak
memory is that run's own and one size's garbage does not slow the next. The wall time covers building
the world and simulating it; interpreter start-up and imports are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

from gaelp.auction.mechanisms import gsp
from gaelp.config import Config, load_config
from gaelp.experiments.campaign import run_campaign


def measure(cfg: Config, bidder: str = "fixed") -> dict[str, Any]:
    """Run one campaign in this process and report the documented benchmark row."""
    start = time.perf_counter()
    res = run_campaign(cfg, bidder)
    wall = time.perf_counter() - start
    auctions = res.auctions
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"users": cfg.users, "days": cfg.days, "wall_s": round(wall, 4),
            "users_per_s": round(cfg.users / wall, 1), "auctions": auctions,
            "auctions_per_s": round(auctions / wall, 1), "peak_rss_mb": round(peak_kb / 1024, 1)}


def bench_sizes(users: list[int], days: int, config_path: str | None = None, seed: int = 0,
                bidder: str = "fixed") -> list[dict[str, Any]]:
    """Measure every population size, each in its own child process."""
    rows = []
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for n in users:
        cmd = [sys.executable, "-m", "gaelp.experiments.bench", "--users", str(n), "--days", str(days),
               "--seed", str(seed), "--bidder", bidder]
        if config_path:
            cmd += ["--config", config_path]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"benchmark run with {n} users failed:\n{out.stderr.strip()}")
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def gsp_throughput(n_auctions: int = 500_000, n_bidders: int = 8, n_slots: int = 4, repeats: int = 5,
                   seed: int = 0) -> dict[str, Any]:
    """Median auctions/s of the GSP mechanism alone on random bids (lognormal) and qualities."""
    rng = np.random.default_rng(seed)
    bids = rng.lognormal(0.5, 0.8, (n_auctions, n_bidders))
    quality = rng.uniform(0.5, 1.5, (n_auctions, n_bidders))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        gsp(bids, quality, n_slots, 0.5)
        times.append(time.perf_counter() - t)
    med = statistics.median(times)
    return {"mechanism": "gsp", "n_auctions": n_auctions, "n_bidders": n_bidders, "n_slots": n_slots,
            "median_s": round(med, 5), "auctions_per_s": round(n_auctions / med, 1)}


def main(argv: list[str] | None = None) -> None:
    """Child entry point: one size, one JSON line on stdout."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bidder", default="fixed")
    p.add_argument("--config", default=None)
    a = p.parse_args(argv)
    cfg = load_config(a.config, users=a.users, days=a.days, seed=a.seed)
    print(json.dumps(measure(cfg, a.bidder)))


if __name__ == "__main__":
    main()
