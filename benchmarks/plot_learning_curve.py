"""Learning curves of `gaelp train` runs, from their resumable checkpoints' history, in one PNG.

Per iteration of each run: the mean score of its training campaigns (thin; a rolling mean of 5 iterations
bold), the median CAC of those campaigns against the target CPA, and the greedy policy's validation score
(every `val_every` iterations, on validation worlds 900-902). A run is named by its directory.

    python -m benchmarks.plot_learning_curve runs/a/policy.pt runs/b/policy.pt --out curve.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from gaelp.agent.network import load_checkpoint
from gaelp.config import Config

ROLL = 5


def rolling_mean(x: np.ndarray, n: int = ROLL) -> np.ndarray:
    """(len(x),) the mean of each value and up to `n - 1` before it."""
    c = np.cumsum(np.insert(x, 0, 0.0))
    i = np.arange(1, x.size + 1)
    lo = np.maximum(i - n, 0)
    return (c[i] - c[lo]) / (i - lo)


def history_of(path: Path) -> list[dict[str, float]]:
    """The per-iteration rows of a resumable checkpoint (`DIR/policy.pt`)."""
    ck = load_checkpoint(path)
    if "history" not in ck:
        raise SystemExit(f"{path}: no training history (an exported playing checkpoint? give DIR/policy.pt)")
    return list(ck["history"])


def plot(runs: dict[str, list[dict[str, float]]], target_cpa: float) -> Figure:
    """Three panels (training score, training CAC, validation score) over iterations, one line per run."""
    fig = Figure(figsize=(13, 3.8), layout="tight")
    ax_s, ax_c, ax_v = fig.subplots(1, 3)
    for i, (name, rows) in enumerate(runs.items()):
        color = f"C{i}"
        it = np.array([r["iteration"] for r in rows]) + 1
        score = np.array([r["score"] for r in rows])
        ax_s.plot(it, score, color=color, alpha=0.3, lw=0.8)
        ax_s.plot(it, rolling_mean(score), color=color, lw=2, label=name)
        ax_c.plot(it, rolling_mean(np.array([r["cac"] for r in rows])), color=color, lw=2, label=name)
        val = [(r["iteration"] + 1, r["val_score"]) for r in rows if "val_score" in r]
        if val:
            ax_v.plot(*zip(*val, strict=True), "o-", color=color, label=name)
    ax_c.axhline(target_cpa, color="k", ls="--", lw=1, label="target CPA")
    ax_s.set(xlabel="iteration", ylabel="score per campaign", title=f"training score (rolling mean of {ROLL})")
    ax_c.set(xlabel="iteration", ylabel="USD", title=f"training CAC, median (rolling mean of {ROLL})")
    ax_v.set(xlabel="iteration", ylabel="score per campaign", title="validation score (worlds 900-902)")
    for ax in (ax_s, ax_c, ax_v):
        ax.legend(fontsize=8)
    return fig


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path, help="runs' DIR/policy.pt")
    ap.add_argument("--out", type=Path, required=True, help="PNG to write")
    a = ap.parse_args(argv)
    runs = {p.parent.name or str(p): history_of(p) for p in a.checkpoints}
    plot(runs, Config().bidders.target_cpa).savefig(a.out, dpi=96)
    print(a.out)


if __name__ == "__main__":
    main()
