"""The speed of this working tree against another revision, by alternating runs on one machine.

A shared machine's speed drifts by a third within minutes, so two timings taken minutes apart do not
compare; alternating runs of the two versions, and their ratio, do. Each run is a fresh process that
imports the package from its own tree and simulates one campaign (the figure `gaelp bench` reports).

    python -m benchmarks.bench_compare --base HEAD~3 --users 1000000 --pairs 3
    python -m benchmarks.bench_compare --base main --users 10000 --worlds 128 --workers 2 --pairs 3

prints each pair and the medians, then the ratio of the medians (this tree over the base). With
`--worlds N` each run is the Monte Carlo runner's N worlds (`gaelp bench --worlds N`'s figure: seeds
`seed ..`, a pool of `--workers` processes; 1 runs them in the measuring process).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_RUN = """
import json, sys
sys.path.insert(0, {tree!r})
from gaelp.config import build_config
from gaelp.experiments.bench import measure, measure_worlds
cfg = build_config({{"users": {users}, "days": {days}, "seed": {seed}}})
print(json.dumps(measure(cfg) if {worlds} == 1 else measure_worlds(cfg, {worlds}, {workers})))
"""


def run_once(tree: Path, users: int, days: int, seed: int, worlds: int = 1, workers: int = 2) -> dict:
    """One campaign (or `worlds` of them, on `workers` processes) with the package of `tree`, in a fresh
    process; the `measure` (`measure_worlds`) row."""
    code = _RUN.format(tree=str(tree), users=users, days=days, seed=seed, worlds=worlds, workers=workers)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tree, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the run in {tree} failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(base: str, users: int, days: int = 30, pairs: int = 3, seed: int = 0, worlds: int = 1,
            workers: int = 2) -> dict:
    """Alternate `pairs` runs of revision `base` and of this working tree (each `worlds` worlds on `workers`
    processes).

    Returns:
        {"base", "users", "worlds", "base_wall_s": [...], "tree_wall_s": [...], "ratio"}: ratio is the median
        wall time of this tree over the base's.
    """
    if pairs < 1:
        raise ValueError(f"pairs must be >= 1, got {pairs}")
    if worlds < 1 or workers < 1:
        raise ValueError(f"worlds and workers must be >= 1, got {worlds} and {workers}")
    with tempfile.TemporaryDirectory(prefix="gaelp-base-") as tmp:
        base_tree = Path(tmp) / "tree"
        made = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_tree), base],
                              capture_output=True, text=True, check=False)
        if made.returncode != 0:
            raise RuntimeError(f"cannot check out {base!r}: {made.stderr.strip()}")
        try:
            base_wall, tree_wall = [], []
            for i in range(pairs):
                base_wall.append(run_once(base_tree, users, days, seed, worlds, workers)["wall_s"])
                tree_wall.append(run_once(ROOT, users, days, seed, worlds, workers)["wall_s"])
                print(f"pair {i + 1}: base {base_wall[-1]:.2f} s, this tree {tree_wall[-1]:.2f} s", file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)],
                           capture_output=True, check=False)
    ratio = statistics.median(tree_wall) / statistics.median(base_wall)
    return {"base": base, "users": users, "worlds": worlds, "base_wall_s": base_wall, "tree_wall_s": tree_wall,
            "ratio": round(ratio, 3)}


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="git revision to compare against, e.g. HEAD~3 or a tag")
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worlds", type=int, default=1, help="worlds per run (the Monte Carlo runner's, when above 1)")
    p.add_argument("--workers", type=int, default=2, help="processes of the runner's pool (with --worlds)")
    a = p.parse_args(argv)
    r = compare(a.base, a.users, a.days, a.pairs, a.seed, a.worlds, a.workers)
    print(f"median: base {statistics.median(r['base_wall_s']):.2f} s, this tree "
          f"{statistics.median(r['tree_wall_s']):.2f} s; ratio {r['ratio']:.3f}")


if __name__ == "__main__":
    main()
