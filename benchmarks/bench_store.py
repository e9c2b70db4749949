"""What persisting a campaign to the journey store costs, per engine.

`store_overhead` runs the same campaign twice, in memory and committing every day to a store, and
reports `store_overhead = store_wall_s / wall_s - 1`. Run as

    python -m benchmarks.bench_store --users 100000 --days 30 [--store URL] [--repeats 3]

Each run writes a new store and removes it afterwards: the default is a DuckDB file in a temporary
folder; a file URL must name a file that does not exist yet; a PostgreSQL URL gets a temporary schema.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from gaelp.config import load_config
from gaelp.journeys.campaign import run_campaign
from gaelp.journeys.engines import StoreError, default_store_url, parse_url, shown
from gaelp.simulation import Simulation


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
        run_campaign(load_config(users=20, seed=seed), 1, url)
    mem, stored = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        Simulation(cfg).run(days)
        mem.append(time.perf_counter() - start)
        with fresh_store(store_url) as url:
            start = time.perf_counter()
            run_campaign(cfg, days, url)
            stored.append(time.perf_counter() - start)
    wall, store_wall = min(mem), min(stored)
    engine = parse_url(store_url).get_backend_name() if store_url else "duckdb (default)"
    return {"users": users, "days": days, "engine": engine, "wall_s": round(wall, 3),
            "store_wall_s": round(store_wall, 3), "store_overhead": round(store_wall / wall - 1, 3)}


def main() -> None:
    """Print one JSON line per store URL."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--store", action="append", default=None,
                    help="store URL (repeatable); default: the default store")
    args = ap.parse_args()
    for url in args.store or [None]:
        row = store_overhead(args.users, args.days, url, args.seed, args.repeats)
        row["store"] = shown(parse_url(url)) if url else "default"
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
