"""Plot a `gaelp train` run's learning curve from its checkpoint's history.

Usage: python scripts/agent_curve.py RUN_DIR/policy.pt OUT.png [--print]
Panels: the ledger return per campaign, the training score and the validation score (seeds 900+),
and the median training CAC beside the target CPA.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np


def main(ckpt_path: str, out: str, show: bool = False) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gaelp.agent.network import load_checkpoint
    from gaelp.config import Config

    ck = load_checkpoint(Path(ckpt_path))
    h = ck["history"]
    hours = np.array([r["env_hours"] for r in h]) / 1000
    val = [(r["env_hours"] / 1000, r["val_score"]) for r in h if "val_score" in r]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    ax[0].plot(hours, [r["return"] for r in h], lw=0.8)
    ax[0].set(title="ledger return per campaign (USD)", xlabel="env-hours (thousands)")
    ax[1].plot(hours, [r["score"] for r in h], lw=0.8, label="training worlds (5,000 people, randomised)")
    if val:
        ax[1].plot(*zip(*val, strict=True), "o-", label="validation worlds 900-902 (10,000 people)")
    ax[1].set(title="score per campaign", xlabel="env-hours (thousands)")
    ax[1].legend(fontsize=7)
    ax[2].plot(hours, [r["cac"] for r in h], lw=0.8, label="median training CAC")
    ax[2].axhline(Config().bidders.target_cpa, color="k", ls="--", lw=0.8, label="target CPA")
    ax[2].set(title="CAC (USD)", xlabel="env-hours (thousands)")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    if show:
        for r in h:
            print({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], "--print" in sys.argv)
