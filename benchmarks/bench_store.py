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

from gaelp.experiments.bench import fresh_store, store_overhead  # noqa: F401  (re-exported for scripts)
from gaelp.journeys.engines import parse_url, shown


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
