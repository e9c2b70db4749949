"""Evaluation-only diagnostics of the agent against the world's truth (never used while bidding).

`calibration` plays one campaign with our agent wrapped in a bidder that is handed the truth, strips
it before the agent sees the batch, and records, for every click we bought, the value model's
estimate `p_hat` beside the true `P(purchase of ours | click)`, and the multiplier x pacing it bid
with: `bid = target CPA x p_hat x multiplier x pacing`, so a biased `p_hat` moves the bid by its bias
unless the policy's multiplier makes up for it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from gaelp.agent.bidder import AgentBidder
from gaelp.bidders.protocol import BidderOutcome, BidderWrapper, OpportunityBatch
from gaelp.config import Config
from gaelp.simulation import Simulation


class _TruthRecorder(BidderWrapper):
    """Sees the truth, hands the agent the batch without it, and pairs p_hat with the truth per click."""

    def __init__(self, inner: AgentBidder) -> None:
        super().__init__(inner)
        self.sees_truth = True
        self.agent = inner
        self._hour: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.rows: list[np.ndarray] = []
        self.p_hat: list[np.ndarray] = []
        self.p_true: list[np.ndarray] = []
        self.multiplier: list[np.ndarray] = []

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        truth = batch.truth
        if truth is None:
            raise ValueError("the diagnostic needs the truth (the simulation hands it to sees_truth bidders)")
        blind = replace(batch, truth=None)
        bids = self.agent.bid(blind)
        x, p = self.agent.features(blind)
        self._hour = (p, truth.p_convert.copy(), self.agent.multipliers()[batch.context], x)
        return bids

    def observe(self, outcome: BidderOutcome) -> None:
        if self._hour is not None:
            c = outcome.clicked
            self.p_hat.append(self._hour[0][c])
            self.p_true.append(self._hour[1][c])
            self.multiplier.append(self._hour[2][c])
            self.rows.append(self._hour[3][c])
        self.agent.observe(replace(outcome, batch=replace(outcome.batch, truth=None)))


def clicks_with_truth(cfg: Config, agent: AgentBidder) -> dict[str, np.ndarray]:
    """Play `cfg`'s campaign with `agent`; for every click it bought, what it knew and the truth.

    Returns:
        `{"x" (k, n_features) the encoder's row, "p_hat" (k,), "p_true" (k,), "multiplier" (k,)}`.
    """
    rec = _TruthRecorder(agent)
    sim = Simulation(cfg, bidder=rec)
    attach = getattr(agent, "attach_world", None)
    if attach is not None:
        attach(sim)
    sim.run(cfg.days)
    rows = np.concatenate(rec.rows) if rec.rows else np.zeros((0, agent.encoder.n_features), np.float32)
    return {"x": rows, "p_hat": np.concatenate(rec.p_hat), "p_true": np.concatenate(rec.p_true),
            "multiplier": np.concatenate(rec.multiplier)}


def calibration(cfg: Config, agent: AgentBidder, bins: int = 5) -> dict[str, Any]:
    """Play `cfg`'s campaign with `agent`; calibration of its value model on the clicks it bought.

    Returns:
        `{"clicks", "mean_p_hat", "mean_p_true", "ratio" (mean p_hat / mean p_true), "mean_multiplier"
        (the bid's multiplier x pacing, averaged over clicks), "bins": [{"p_hat", "p_true", "clicks"}]}`,
        the bins by quantiles of p_hat.
    """
    clicks = clicks_with_truth(cfg, agent)
    p_hat, p_true, mult = clicks["p_hat"], clicks["p_true"], clicks["multiplier"]
    edges = np.quantile(p_hat, np.linspace(0, 1, bins + 1)) if p_hat.size else np.zeros(bins + 1)
    which = np.clip(np.searchsorted(edges, p_hat, side="right") - 1, 0, bins - 1)
    table = [{"p_hat": float(p_hat[which == b].mean()), "p_true": float(p_true[which == b].mean()),
              "clicks": int((which == b).sum())} for b in range(bins) if (which == b).any()]
    return {"clicks": int(p_hat.size), "mean_p_hat": float(p_hat.mean()), "mean_p_true": float(p_true.mean()),
            "ratio": float(p_hat.mean() / p_true.mean()), "mean_multiplier": float(mult.mean()), "bins": table}
