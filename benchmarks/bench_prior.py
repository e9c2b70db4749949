"""How well the agent's value models rank the truth on the clicks it buys: its online model as it played,
and the checkpoint's prior alone (evaluation only: the truth is read by a recorder, never by the agent).

For each validation world the policy's agent plays one campaign behind `gaelp.agent.diagnose`'s truth
recorder, which keeps, for every click bought, the encoder's row, the value model's `p_hat` at the time
and the true P(purchase of ours | click). The prior (`prior_w` of the checkpoint: the offline fit of
`gaelp.agent.prior_fit`, or a flat one) is then applied to the same rows. Prints per world the
correlation with the truth, the mean over the truth, and the true P by quintile of each model.

    nice -n 10 env OMP_NUM_THREADS=1 python -m benchmarks.bench_prior --seeds 900,901 --users 100000

`--json` prints `{"users", "days", "policy", "wall_s", "per_world": [{"seed", "clicks", "online": RANK,
"prior": RANK}]}` with RANK `{"corr", "ratio", "bins": [{"pred", "p_true", "n"}]}`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from gaelp.agent.bidder import default_policy_path, make_agent_bidder
from gaelp.agent.ceiling_fit import ranking
from gaelp.agent.diagnose import clicks_with_truth
from gaelp.config import Config


def _rank(pred: np.ndarray, p_true: np.ndarray) -> dict[str, Any]:
    r = ranking(pred, p_true)
    return {"corr": r["corr"], "ratio": r["mean_pred"] / r["mean_true"], "bins": r["bins"]}


def world(cfg: Config, policy: Path) -> dict[str, Any]:
    """One validation world's clicks: the online model's and the prior's ranking of their truth."""
    clicks = clicks_with_truth(cfg, make_agent_bidder(cfg, policy))
    p_true = clicks["p_true"]
    prior = make_agent_bidder(cfg, policy).value  # a fresh agent's model: the checkpoint's prior, not refitted
    return {"seed": cfg.seed, "clicks": int(p_true.size), "online": _rank(clicks["p_hat"], p_true),
            "prior": _rank(prior.predict(clicks["x"]), p_true)}


def validation_seeds(text: str, flag: str = "--seeds") -> list[int]:
    """The comma-separated world seeds of `flag`, all validation worlds (900-999), else exit with a message."""
    seeds = [int(s) for s in text.split(",")]
    if any(not 900 <= s <= 999 for s in seeds):
        raise SystemExit(f"{flag}: validation worlds only (900-999), got {seeds}")
    return seeds


def validation_parser(description: str, seeds: str) -> argparse.ArgumentParser:
    """A parser with the flags of a checkpoint's run on validation worlds: --policy, --seeds (default
    `seeds`), --users, --days, --json."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--policy", type=Path, default=default_policy_path())
    ap.add_argument("--seeds", default=seeds, help="validation worlds (900-999)")
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    return ap


def main() -> None:
    a = validation_parser(__doc__.splitlines()[0], "900,901").parse_args()
    seeds = validation_seeds(a.seeds)
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = [world(Config().replace(seed=s, users=a.users, days=a.days), a.policy) for s in seeds]
    out = {"users": a.users, "days": a.days, "policy": str(a.policy), "wall_s": round(time.perf_counter() - start, 1),
           "per_world": rows}
    if a.json:
        print(json.dumps(out))
        return
    table = Table("seed", "clicks", "model", "corr", "mean / true", "true P by quintile of the model")
    for r in rows:
        for name in ("online", "prior"):
            m = r[name]
            table.add_row(str(r["seed"]), f"{r['clicks']:,}", name, f"{m['corr']:.3f}", f"{m['ratio']:.2f}",
                          ", ".join(f"{b['p_true']:.4f}" for b in m["bins"]))
    Console().print(table)


if __name__ == "__main__":
    main()
