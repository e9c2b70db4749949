"""Safety limits between every bidder of ours and the market: no code path bids around them.

The platform itself stops serving an advertiser whose daily budget is spent (the story enforces that
for everyone); these limits are ours on top: a bid cap, sanitising of broken bids and a kill switch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from gaelp.config import SafetyConfig


@dataclass(slots=True)
class SafetyReport:
    """What the limits did so far."""

    capped: int = 0
    invalid: int = 0
    killed_hours: int = 0
    events: list[str] = field(default_factory=list)


class SafetyLimits:
    """Clamp our bids to [0, max_bid], zero NaN / negative bids, and honour a kill switch."""

    def __init__(self, cfg: SafetyConfig) -> None:
        self.max_bid = cfg.max_bid
        self.killed = False
        self.report = SafetyReport()

    def state_dict(self) -> dict:
        """The switch and the report, for checkpoints."""
        return {"killed": self.killed, "report": asdict(self.report)}

    def load_state_dict(self, s: dict) -> None:
        """Restore `state_dict` output."""
        self.killed = bool(s["killed"])
        r = s["report"]
        self.report = SafetyReport(int(r["capped"]), int(r["invalid"]), int(r["killed_hours"]), list(r["events"]))

    def kill(self, reason: str) -> None:
        """Stop all bidding of ours until `resume()`."""
        self.killed = True
        self.report.events.append(f"kill switch: {reason}")

    def resume(self) -> None:
        """Lift the kill switch."""
        self.killed = False

    def apply(self, bids: np.ndarray) -> np.ndarray:
        """Safe bids: finite, within [0, max_bid], all zero while killed."""
        if self.killed:
            self.report.killed_hours += 1
            return np.zeros_like(bids, dtype=np.float64)
        bids = np.asarray(bids, dtype=np.float64)
        # the usual hour: two reductions show every bid is in range (a NaN fails both comparisons)
        if bids.size == 0 or (bids.min() >= 0 and bids.max() <= self.max_bid):
            return bids
        bad = ~np.isfinite(bids) | (bids < 0)
        over = ~bad & (bids > self.max_bid)
        if bad.any() or over.any():
            self.report.invalid += int(bad.sum())
            self.report.capped += int(over.sum())
            bids = np.where(bad, 0.0, np.minimum(bids, self.max_bid))
        return bids
