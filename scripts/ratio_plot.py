"""Plot the agent's score over `oracle_lp`'s, world by world, from `gaelp evaluate --json` outputs.

Usage: python scripts/ratio_plot.py OUT.png RUN.json[=LABEL] [RUN.json[=LABEL] ...] [--oracle FILE.json ...]

Each RUN is a `gaelp evaluate --json` output with the agent's rows; `oracle_lp`'s rows of the same worlds come
from the run itself or, for a run of the agent alone (`--bidders agent`), from the `--oracle` files (each
flag one file, their worlds together). One row of
dots per run (a dot per world), its median as a black bar and in the row's label, and the issue's 80% line.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gaelp.experiments.score import RATIO_TARGET  # the agent's target: 80% of oracle_lp's score


def per_world(summary: dict[str, Any], bidder: str) -> dict[int, float]:
    """{seed: score} of `bidder` in a `gaelp evaluate --json` object (empty if it did not play)."""
    b = summary["bidders"].get(bidder)
    return {} if b is None else {int(r["seed"]): float(r["score"]) for r in b["per_world"]}


def ratios(run: dict[str, Any], oracle: dict[int, float]) -> dict[int, float]:
    """{seed: agent's score / oracle_lp's} over the worlds both played where oracle_lp scores above 0.

    Raises:
        ValueError: the run has no agent rows, or no world in common with `oracle`.
    """
    agent = per_world(run, "agent")
    if not agent:
        raise ValueError("the run has no agent rows: play it with --bidders agent,...")
    both = sorted(s for s in agent if oracle.get(s, 0.0) > 0)
    if not both:
        raise ValueError("no world of the run has an oracle_lp score: give --oracle with the same worlds")
    return {s: agent[s] / oracle[s] for s in both}


def main(argv: list[str]) -> None:
    extra: dict[int, float] = {}
    while "--oracle" in argv:
        i = argv.index("--oracle")
        extra |= per_world(json.loads(Path(argv[i + 1]).read_text()), "oracle_lp")
        argv = argv[:i] + argv[i + 2:]
    if len(argv) < 2:
        sys.exit(__doc__)
    out, runs = argv[0], argv[1:]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 1.0 + 0.7 * len(runs)))
    labels = []
    for row, spec in enumerate(runs):
        path, _, label = spec.partition("=")
        run = json.loads(Path(path).read_text())
        r = ratios(run, per_world(run, "oracle_lp") or extra)
        x = np.array(list(r.values()))
        ax.scatter(x, np.full(x.size, row) + np.linspace(-0.15, 0.15, x.size), s=14, alpha=0.7)
        med = float(np.median(x))
        ax.plot([med, med], [row - 0.3, row + 0.3], color="black", lw=2)
        labels.append(f"{label or Path(path).stem}\nmedian {med:.3f}, {x.size} worlds")
    ax.axvline(RATIO_TARGET, color="tab:red", ls="--", lw=1)
    ax.set_yticks(range(len(runs)), labels)
    ax.set_ylim(-0.6, len(runs) - 0.4)
    ax.invert_yaxis()
    ax.set_xlabel("agent's score / oracle_lp's, per world (the dashed line: the 80% target)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
