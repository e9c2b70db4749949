"""Plot the agent's CAC and its purchases against its spend, world by world, from `gaelp evaluate --json` outputs.

Usage: python scripts/cac_plot.py OUT.png RUN.json[+RUN.json ...][=LABEL] [...]

Each argument is one variant: one or more `gaelp evaluate --json` outputs with the agent's rows (joined with `+`,
e.g. three sets of held-out worlds). Left: each variant's CAC per world (a dot per world, the pooled CAC as a black
bar and in the label) against the target CPA of the runs. Right: purchases against spend, a dot per world, with
the target CPA as a line (below it a campaign's CAC is over the target).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def agent_rows(paths: list[Path]) -> tuple[list[dict[str, Any]], float]:
    """The agent's per-world rows of the runs at `paths`, and their target CPA.

    Raises:
        ValueError: a run has no agent rows, or the runs' target CPAs differ.
    """
    rows: list[dict[str, Any]] = []
    targets = set()
    for p in paths:
        run = json.loads(p.read_text())
        if "agent" not in run["bidders"]:
            raise ValueError(f"{p}: no agent rows (play it with --bidders agent,...)")
        rows += run["bidders"]["agent"]["per_world"]
        targets.add(float(run["target_cpa"]))
    if len(targets) != 1:
        raise ValueError(f"the runs of a variant have different target CPAs: {sorted(targets)}")
    return rows, targets.pop()


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # dollar signs are dollars
    import matplotlib.pyplot as plt
    import numpy as np

    out, variants = Path(argv[0]), []
    for arg in argv[1:]:
        files, _, label = arg.partition("=")
        paths = [Path(f) for f in files.split("+")]
        variants.append((label or paths[0].stem, *agent_rows(paths)))
    targets = {t for _, _, t in variants}
    if len(targets) != 1:
        raise SystemExit(f"the variants have different target CPAs: {sorted(targets)}")
    target = targets.pop()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 1.6 + 0.9 * len(variants)), width_ratios=(1.2, 1))
    jitter = np.random.default_rng(0)
    for i, (label, rows, _) in enumerate(variants):
        cac = np.array([r["cac"] for r in rows if r["cac"] is not None])
        spend, conv = sum(r["spend"] for r in rows), sum(r["conversions"] for r in rows)
        over = int(np.sum(cac > target))
        y = i + jitter.uniform(-0.2, 0.2, cac.size)
        left.scatter(cac, y, s=12, alpha=0.7, color=f"C{i}")
        left.plot([spend / conv] * 2, [i - 0.3, i + 0.3], color="black", lw=2)
        right.scatter([r["spend"] for r in rows], [r["conversions"] for r in rows], s=12, alpha=0.7, color=f"C{i}",
                      label=f"{label}: CAC ${spend / conv:,.1f} pooled, {over} of {cac.size} over ${target:,.0f}")
    left.axvline(target, color="crimson", ls="--", lw=1)
    left.set_yticks(range(len(variants)), [v[0] for v in variants])
    left.set_ylim(-0.6, len(variants) - 0.4)
    left.set_xlabel(f"CAC per world (target CPA ${target:,.0f}, dashed)")
    lo, hi = right.get_xlim()
    right.plot([lo, hi], [lo / target, hi / target], color="crimson", ls="--", lw=1)
    right.set_xlim(lo, hi)
    right.set_xlabel("spend per world ($)")
    right.set_ylabel("purchases (click-through)")
    right.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1:])
