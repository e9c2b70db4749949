"""Speed and memory of the attribution models on a million journeys.

A seeded synthetic path table of `n_paths` rows (one journey each, 6 channels, 1-8 touches, touch
times over up to 30 days, ~15% converting) goes through every rule-based model, Markov order 1
(targets: all rule-based models together <= 1 s, Markov order 1 <= 2 s, peak memory < 1 GB) and,
for reference, Markov order 2, both Shapley methods and parsing the table from its text form.

Times are wall-clock medians of `repeats` runs after one warm-up. Memory is the tracemalloc peak
of one extra run (numpy reports its buffers to tracemalloc) and the process's maximum resident set
size (`ru_maxrss`, which includes the input and Python itself).

Run as ``python -m benchmarks.bench_attribution [--n-paths N] [--seed S]``. Speed is measured
here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gaelp.attribution import RULE_BASED, Paths, get_model

CHANNELS = ("search", "social", "display", "email", "video", "affiliate")


def synthetic_paths(n_paths: int, rng: np.random.Generator) -> Paths:
    """One journey per path: 1-8 touches on 6 channels, times in hours, ~15% converting.

    Args:
        n_paths: Journeys.
        rng: Random stream.
    """
    lengths = rng.integers(1, 9, n_paths)
    path_id = np.repeat(np.arange(n_paths, dtype=np.int64), lengths)
    channel = rng.choice(len(CHANNELS), size=len(path_id), p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05])
    # Gaps between touches (hours), accumulated within each path; the first touch sits at 0.
    gaps = rng.exponential(24.0, len(path_id))
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gaps[starts] = 0.0
    cum = np.cumsum(gaps)
    t = cum - cum[starts][path_id]
    converted = rng.random(n_paths) < 0.05 + 0.03 * lengths  # longer journeys convert more
    last = t[np.cumsum(lengths) - 1]
    return Paths(
        channels=CHANNELS,
        path_id=path_id,
        channel=channel.astype(np.int64),
        conversions=converted.astype(np.float64),
        value=np.where(converted, rng.choice([120.0, 220.0, 288.0], n_paths), 0.0),
        nulls=(~converted).astype(np.float64),
        t_hours=t,
        conversion_t_hours=last + np.where(converted, rng.exponential(12.0, n_paths), 0.0),
    )


def path_table(paths: Paths) -> pd.DataFrame:
    """The same journeys as a path table (`path` strings joined with " > ")."""
    names = pa.array(np.asarray(paths.channels, dtype=object)[paths.channel], type=pa.string())
    lists = pa.ListArray.from_arrays(pa.array(paths.offsets, type=pa.int32()), names)
    return pd.DataFrame(
        {
            "path": pc.binary_join(lists, " > ").to_numpy(zero_copy_only=False),
            "total_conversions": paths.conversions,
            "total_conversion_value": paths.value,
            "total_null": paths.nulls,
        }
    )


def _measure(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median seconds, tracemalloc peak MB) of `fn`."""
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def run(n_paths: int = 1_000_000, seed: int = 0, repeats: int = 3) -> list[dict]:
    """Time every case on one synthetic path table.

    Args:
        n_paths: Journeys (rows of the path table).
        seed: Seed of the synthetic journeys.
        repeats: Timed runs per case (the median is reported).

    Returns:
        One dict per case: `{"case", "n_paths", "n_touches", "seconds", "peak_mb", "target",
        "target_unit"}`: each model, a `rule-based total` row (sum of the rule-based medians),
        the process's maximum RSS after the models (in `peak_mb`), parsing the path table from
        text, and the maximum RSS after parsing.
    """
    paths = synthetic_paths(n_paths, np.random.default_rng(seed))
    rule_models = {name: get_model(name) for name in RULE_BASED}
    cases: list[tuple[str, Callable[[], object], float | None]] = [
        (name, lambda m=model: m.channel_credit(paths), None) for name, model in rule_models.items()
    ]
    cases += [
        ("markov order 1", lambda: get_model("markov").channel_credit(paths), 2.0),
        ("markov order 2", lambda: get_model("markov", order=2).channel_credit(paths), None),
        (
            "shapley simplified",
            lambda: get_model("shapley", method="simplified").channel_credit(paths),
            None,
        ),
        ("shapley exact", lambda: get_model("shapley", method="exact").channel_credit(paths), None),
    ]
    rows = [_row(case, paths, *_measure(fn, repeats), target) for case, fn, target in cases]
    rule = [r for r in rows if r["case"] in RULE_BASED]
    total = sum(r["seconds"] for r in rule)
    rows.insert(
        len(rule), _row("rule-based total", paths, total, max(r["peak_mb"] for r in rule), 1.0)
    )
    rows.append(_row("max RSS, models", paths, float("nan"), _max_rss_mb(), 1.0 * 1024, unit="MB"))
    # Text parsing holds a million Python strings, so it is measured after the models' RSS.
    table = path_table(paths)
    rows.append(
        _row("parse path table", paths, *_measure(lambda: Paths.from_path_table(table), repeats))
    )
    rows.append(_row("max RSS, with parsing", paths, float("nan"), _max_rss_mb()))
    return rows


def _row(
    case: str,
    paths: Paths,
    seconds: float,
    peak_mb: float,
    target: float | None = None,
    unit: str = "s",
) -> dict:
    return {
        "case": case,
        "n_paths": paths.n_paths,
        "n_touches": paths.n_touches,
        "seconds": seconds,
        "peak_mb": peak_mb,
        "target": target,
        "target_unit": unit,
    }


def _max_rss_mb() -> float:
    # ru_maxrss is a high-water mark in kilobytes on Linux (bytes on macOS).
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-paths", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = run(args.n_paths, args.seed, args.repeats)
    print(f"{rows[0]['n_paths']:,} paths, {rows[0]['n_touches']:,} touches")
    print(f"{'case':<24}{'seconds':>9}{'peak MB':>9}   target")
    for r in rows:
        target = "" if r["target"] is None else f"<= {r['target']:g} {r['target_unit']}"
        secs = "" if np.isnan(r["seconds"]) else f"{r['seconds']:.3f}"
        print(f"{r['case']:<24}{secs:>9}{r['peak_mb']:>9.0f}   {target}")


if __name__ == "__main__":
    main()
