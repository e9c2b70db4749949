"""Benchmarks: people carried through a campaign per wall second, auctions per second, memory; the
cost of persisting a campaign to the journey store; each auction mechanism alone.

Each population size runs in a fresh child process (`python -m gaelp.experiments.bench`), so peak
memory is that run's own and one size's garbage does not slow the next. The wall time covers building
the world and simulating it; interpreter start-up and imports are left out.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from gaelp.config import Config, load_config
from gaelp.experiments.campaign import run_campaign
from gaelp.experiments.stored import run_campaign as run_stored_campaign
from gaelp.journeys.engines import StoreError, default_store_url, parse_url
from gaelp.market.mechanisms import get_mechanism
from gaelp.simulation import Simulation


def measure(cfg: Config, bidder: str = "fixed") -> dict[str, Any]:
    """Run one campaign in this process and report the documented benchmark row."""
    start = time.perf_counter()
    res = run_campaign(cfg, bidder)
    wall = time.perf_counter() - start
    auctions = res.auctions
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"users": cfg.users, "days": cfg.days, "wall_s": round(wall, 4),
            "users_per_s": round(cfg.users / wall, 1), "auctions": auctions,
            "auctions_per_s": round(auctions / wall, 1), "peak_rss_mb": round(peak_kb / 1024, 1),
            "worlds": 1, "worlds_per_s": round(1 / wall, 4)}


def measure_worlds(cfg: Config, worlds: int, workers: int, bidder: str = "fixed") -> dict[str, Any]:
    """Run `worlds` worlds of `cfg` (seeds cfg.seed ..) with the Monte Carlo runner's local backend.

    The row has the single-world row's keys but the auction counts (the runner reports KPIs only);
    `peak_rss_mb` is the largest process (this one or a worker), `workers` the pool's size.
    """
    from gaelp.experiments.montecarlo import WorldsJob, run_worlds

    res = run_worlds(WorldsJob(cfg, bidder), list(range(cfg.seed, cfg.seed + worlds)), "local", workers)
    peak_kb = max(resource.getrusage(r).ru_maxrss for r in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return {"users": cfg.users, "days": cfg.days, "wall_s": round(res.wall_s, 4),
            "users_per_s": round(cfg.users * worlds / res.wall_s, 1), "peak_rss_mb": round(peak_kb / 1024, 1),
            "worlds": worlds, "worlds_per_s": round(worlds / res.wall_s, 4), "workers": res.workers}


def bench_sizes(users: list[int], days: int, config_path: str | None = None, seed: int = 0,
                bidder: str = "fixed", store: str | None = None, repeats: int = 1,
                on_run: Callable[[], None] | None = None, worlds: int | None = None,
                workers: int = 2) -> list[dict[str, Any]]:
    """Measure every population size, each run in its own child process.

    Args:
        worlds: also run this many worlds of each size with the Monte Carlo runner (a process pool
            of `workers`), in the same loop as the single world: each size then has two rows, the
            single world's (`worlds` 1) and the runner's.
        store: also time the campaign persisted to this store URL ("default": the default store);
            the row then holds `store_wall_s` and `store_overhead` (store time over in-memory time,
            minus one).
        repeats: runs per size, the sizes taken in turn so that a slow spell of a shared machine
            touches them alike. A row then reports the median run (`wall_s` and the rates), plus
            `wall_s_min`, `wall_s_max` and `repeats`; `peak_rss_mb` is the largest.
        on_run: called after each run (a progress bar).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if worlds is not None and worlds < 1:
        raise ValueError(f"worlds must be >= 1, got {worlds}")
    kinds = [1] if worlds is None else [1, worlds]
    runs: dict[tuple[int, int], list[dict[str, Any]]] = {(n, w): [] for n in users for w in kinds}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for _ in range(repeats):
        for (n, w), done in runs.items():
            cmd = [sys.executable, "-m", "gaelp.experiments.bench", "--users", str(n), "--days", str(days),
                   "--seed", str(seed), "--bidder", bidder]
            if config_path:
                cmd += ["--config", config_path]
            if store and w == 1:
                cmd += ["--store", store]
            if w > 1:
                cmd += ["--worlds", str(w), "--workers", str(workers)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if out.returncode != 0:
                raise RuntimeError(f"benchmark run with {n} users x {w} worlds failed:\n{out.stderr.strip()}")
            done.append(json.loads(out.stdout.strip().splitlines()[-1]))
            if on_run is not None:
                on_run()
    return [median_run(r) for r in runs.values()]


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run of median wall time (the upper median of an even count), with the spread of all."""
    if len(runs) == 1:
        return runs[0]
    walls = [r["wall_s"] for r in runs]
    row = dict(sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2])
    row.update(wall_s_min=min(walls), wall_s_max=max(walls), repeats=len(runs),
               peak_rss_mb=max(r["peak_rss_mb"] for r in runs))
    return row


@contextmanager
def fresh_store(store_url: str | None) -> Iterator[str]:
    """A URL of a new, empty store like `store_url` (None: the default engine in a temp folder)."""
    if store_url is None:
        folder = tempfile.mkdtemp(prefix="gaelp-bench-")
        try:
            yield default_store_url(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    u = parse_url(store_url)
    if u.get_backend_name() != "postgresql":
        if not u.database:
            raise StoreError(f"the benchmark writes a store file: {store_url} names none")
        path = Path(u.database)
        if path.exists():
            raise StoreError(f"the benchmark writes a new store, and {path} exists: pass a path that does not")
        try:
            yield store_url
        finally:  # the benchmark's own files: each repeat starts from nothing
            for suffix in ("", ".wal", "-wal", "-shm", "-journal", ".lock"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    schema = f"gaelp_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(u)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield u.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def store_overhead(users: int, days: int, store_url: str | None, seed: int = 0, repeats: int = 1) -> dict:
    """Time a campaign in memory and with every day committed to a store.

    Args:
        users: people in the world.
        days: campaign length.
        store_url: the store's engine and place (None: the default store, a DuckDB file).
        seed: world seed.
        repeats: runs of each kind; the fastest of each is reported (the machine is shared).

    Returns:
        {"users", "days", "engine", "wall_s" (in memory), "store_wall_s", "store_overhead"}.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    cfg = load_config(users=users, days=days, seed=seed)
    with fresh_store(store_url) as url:  # untimed: loads the engine's driver and warms its caches
        run_stored_campaign(load_config(users=20, seed=seed), 1, url)
    mem, stored = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        Simulation(cfg).run(days)
        mem.append(time.perf_counter() - start)
        with fresh_store(store_url) as url:
            start = time.perf_counter()
            run_stored_campaign(cfg, days, url)
            stored.append(time.perf_counter() - start)
    wall, store_wall = min(mem), min(stored)
    engine = parse_url(store_url).get_backend_name() if store_url else "duckdb (default)"
    return {"users": users, "days": days, "engine": engine, "wall_s": round(wall, 3),
            "store_wall_s": round(store_wall, 3), "store_overhead": round(store_wall / wall - 1, 3)}


def make_market(
    n_auctions: int, n_bidders: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A synthetic batch that looks like a search hour: log-normal bids, CTR-like quality.

    About 10% of bids are 0 (the bidder skips the auction) and reserves vary per auction, so the
    benchmark pays for eligibility and empty slots as real traffic does.

    Args:
        n_auctions: number of auctions.
        n_bidders: number of bidders.
        rng: the random stream.

    Returns:
        ``(bids, quality, reserve)`` of shapes ``(n_bidders, n_auctions)`` twice (bidder-major, as
        the mechanisms take them) and ``(n_auctions,)``.
    """
    bids = rng.lognormal(mean=0.5, sigma=0.6, size=(n_bidders, n_auctions))
    bids[rng.random((n_bidders, n_auctions)) < 0.1] = 0.0
    quality = rng.uniform(0.01, 0.08, size=(n_bidders, n_auctions))
    reserve = rng.uniform(0.05, 0.5, size=n_auctions)
    return bids, quality, reserve


def bench_mechanism(
    name: str,
    n_auctions: int = 500_000,
    n_bidders: int = 8,
    n_slots: int = 1,
    repeats: int = 5,
    seed: int = 0,
) -> dict:
    """Time one mechanism on one synthetic batch.

    Args:
        name: a key of ``gaelp.market.mechanisms.MECHANISMS``.
        n_auctions: auctions per batch.
        n_bidders: bidders per auction.
        n_slots: slots per auction (at most the mechanism's ``max_slots``).
        repeats: timed runs; the median is reported (one untimed warm-up run comes first).
        seed: seed of the synthetic batch.

    Returns:
        ``{"mechanism", "n_auctions", "n_bidders", "n_slots", "median_s", "auctions_per_s"}``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    clear = get_mechanism(name).clear
    bids, quality, reserve = make_market(n_auctions, n_bidders, np.random.default_rng(seed))
    clear(bids, quality, n_slots, reserve)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        clear(bids, quality, n_slots, reserve)
        times.append(time.perf_counter() - start)
    median = float(np.median(times))
    return {
        "mechanism": name,
        "n_auctions": n_auctions,
        "n_bidders": n_bidders,
        "n_slots": n_slots,
        "median_s": median,
        "auctions_per_s": n_auctions / median if median > 0 else float("inf"),
    }


def main(argv: list[str] | None = None) -> None:
    """Child entry point: one size, one JSON line on stdout."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bidder", default="fixed")
    p.add_argument("--config", default=None)
    p.add_argument("--store", default=None, help='also time a persisted run ("default": the default store)')
    p.add_argument("--worlds", type=int, default=1, help="worlds run by the Monte Carlo runner (1: one world here)")
    p.add_argument("--workers", type=int, default=2, help="processes of the runner's pool")
    a = p.parse_args(argv)
    cfg = load_config(a.config, users=a.users, days=a.days, seed=a.seed)
    if a.worlds > 1:
        print(json.dumps(measure_worlds(cfg, a.worlds, a.workers, a.bidder)))
        return
    row = measure(cfg, a.bidder)
    if a.store:
        s = store_overhead(a.users, a.days, None if a.store == "default" else a.store, a.seed)
        row.update(store_wall_s=s["store_wall_s"], store_overhead=s["store_overhead"], store_engine=s["engine"])
    print(json.dumps(row))


if __name__ == "__main__":
    main()
