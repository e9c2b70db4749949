"""`gaelp attribute` on a large event log, end to end: wall time and peak memory.

Writes (once, cached in `--dir`) a seeded Parquet event log of `--rows` events over about 34% as many
users on 6 channels (impressions, clicks, ~6% conversions, timestamps over 90 days as UTC
timestamps, text ids), then runs `gaelp attribute LOG --model all --json` in a fresh process and
reports its wall time and peak resident memory (`ru_maxrss` of the child). Target of issue 14:
10,000,000 rows through every model in at most 30 s and under 4 GB.

Run as ``python -m benchmarks.bench_event_log [--rows 10000000] [--dir /tmp/gaelp-bench]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

CHANNELS = ("search", "social", "display", "email", "video", "affiliate")


def synthetic_log(n_rows: int, seed: int = 0) -> pa.Table:
    """A seeded event log of `n_rows` events (text ids, UTC timestamps, 6 channels)."""
    rng = np.random.default_rng(seed)
    n_users = max(1, int(n_rows * 0.34))
    user = rng.integers(0, n_users, n_rows)
    kind = rng.choice(3, size=n_rows, p=[0.62, 0.32, 0.06])  # impression, click, conversion
    conv = kind == 2
    channel = rng.choice(len(CHANNELS), size=n_rows, p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    secs = 1_704_067_200 + rng.integers(0, 90 * 86400, n_rows)
    kinds = pa.array(np.array(["impression", "click", "conversion"], dtype=object)[kind], pa.string())
    names = np.array(CHANNELS, dtype=object)[channel]
    names[conv] = ""
    return pa.table({
        "event_id": pc.binary_join_element_wise("e", pc.cast(pa.array(np.arange(n_rows)), pa.string()), ""),
        "timestamp": pa.array(secs * 1_000_000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "user_id": pc.binary_join_element_wise("u", pc.cast(pa.array(user), pa.string()), ""),
        "channel": pa.array(names, pa.string()),
        "event_type": kinds,
        "cost": np.where(conv, 0.0, rng.uniform(0.05, 3.0, n_rows).round(2)),
        "value": np.where(conv, rng.choice([120.0, 220.0, 288.0], n_rows), 0.0),
    })


def main(argv: list[str] | None = None) -> int:
    """Generate (or reuse) the log, time `gaelp attribute` on it, print one JSON line."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_event_log", description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/gaelp-bench"))
    ap.add_argument("--model", default="all")
    args = ap.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    log = args.dir / f"events-{args.rows}-{args.seed}.parquet"
    if not log.exists():
        pq.write_table(synthetic_log(args.rows, args.seed), log)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "from gaelp.cli import main; main()", "attribute", str(log),
                           "--model", args.model, "--json"], capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        return done.returncode
    credits = json.loads(done.stdout)
    print(json.dumps({"rows": args.rows, "models": sorted(credits["models"]), "wall_s": round(wall, 2),
                      "peak_rss_mb": round(peak_mb), "summary": done.stderr.strip().splitlines()[:1]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
