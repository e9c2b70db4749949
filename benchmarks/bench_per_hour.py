"""Where a small world's time goes: seconds per simulated hour against the number of people.

    python -m benchmarks.bench_per_hour --repeats 3

Sizes alternate (a shared machine drifts); a straight line through the medians splits an hour's cost
into a part fixed per hour (Python and numpy call overhead, which batching worlds would share) and a
part per person-hour (array work).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from gaelp.config import load_config
from gaelp.simulation import Simulation

SIZES = {1_000: 7, 10_000: 7, 100_000: 2}  # people -> days simulated


def main(argv: list[str] | None = None) -> None:
    """Print {"s_per_hour": {people: s}, "fixed_s_per_hour", "s_per_person_hour", "fixed_share_at_10k"}."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args(argv)
    Simulation(load_config(None, users=100, days=1)).run()  # warm imports and caches
    runs: dict[int, list[float]] = {n: [] for n in SIZES}
    for _ in range(a.repeats):
        for n, days in SIZES.items():
            sim = Simulation(load_config(None, users=n, days=days))
            start = time.perf_counter()
            sim.run()
            runs[n].append((time.perf_counter() - start) / (24 * days))
    med = {n: statistics.median(v) for n, v in runs.items()}
    per_person, fixed = np.polyfit(list(med), list(med.values()), 1)
    print(json.dumps({"s_per_hour": med, "fixed_s_per_hour": fixed, "s_per_person_hour": per_person,
                      "fixed_share_at_10k": fixed / med[10_000]}))


if __name__ == "__main__":
    main()
