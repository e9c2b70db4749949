"""What a backend of the Monte Carlo runner costs: start-up, per task, and a small run end to end.

    python -m benchmarks.bench_backends --tasks 200 --worlds 16 --users 2000 --days 3 --repeats 3

Start-up is entering the backend (a pool's fork server and workers, or `ray.init` of a private Ray)
up to the first empty task's answer; per task is the round trip of an empty batch once warm (the
transport, no world); end to end is `run_worlds` over the same worlds on each backend. The backends
alternate, and each figure is the median of `repeats` (the machine may be shared).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from gaelp.config import load_config
from gaelp.experiments.backends import make_backend
from gaelp.experiments.montecarlo import WorldsJob, run_worlds


def backend_costs(name: str, job: WorldsJob, tasks: int, workers: int) -> dict[str, float]:
    """Seconds to start `name` and get a first answer, and seconds per empty task once warm."""
    start = time.perf_counter()
    with make_backend(name, workers) as b:
        b.map_batches(job, [[] for _ in range(workers)])
        started = time.perf_counter() - start
        start = time.perf_counter()
        b.map_batches(job, [[] for _ in range(tasks)])
        per_task = (time.perf_counter() - start) / tasks
    return {"startup_s": started, "per_task_s": per_task}


def main(argv: list[str] | None = None) -> None:
    """Print one JSON object: each backend's median costs and end-to-end wall time."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--tasks", type=int, default=200)
    p.add_argument("--worlds", type=int, default=16)
    p.add_argument("--users", type=int, default=2000)
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    job = WorldsJob(load_config(None, users=a.users, days=a.days), "fixed")
    seeds = list(range(a.worlds))
    runs: dict[str, dict[str, list[float]]] = {b: {"startup_s": [], "per_task_s": [], "run_s": []}
                                               for b in ("local", "ray")}
    digests = set()
    for _ in range(a.repeats):
        for b, r in runs.items():
            for k, v in backend_costs(b, job, a.tasks, a.workers).items():
                r[k].append(v)
            res = run_worlds(job, seeds, b, a.workers)
            r["run_s"].append(res.wall_s)
            digests.add(res.to_json()["digest"])
    out = {b: {k: round(statistics.median(v), 5) for k, v in r.items()} for b, r in runs.items()}
    out.update(worlds=a.worlds, users=a.users, days=a.days, workers=a.workers, tasks=a.tasks,
               same_digest=len(digests) == 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
