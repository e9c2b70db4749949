"""Run a campaign and collect what analyses need: the KPI table, our logs, timing.

This is the one place that turns a config and a bidder name into a finished campaign; the CLI's
`simulate`, `run`, `calibrate` and `bench` all call `run_campaign`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gaelp.config import Config
from gaelp.experiments.journey_stats import JourneyStats, journey_stats
from gaelp.records import DayLog
from gaelp.simulation import Simulation

OUR_IMPRESSION_FIELDS = ("t", "person", "channel", "slot", "clicked", "cost")
OUR_CONVERSION_FIELDS = ("t", "person", "value", "kind", "credit_channel", "by_click", "journey_start")


@dataclass(slots=True)
class CampaignResult:
    """A finished campaign.

    Attributes:
        config: the config it ran with.
        bidder: our bidder's name.
        sim: the simulation, at its end (KPIs, state, bidders).
        elapsed_s: wall seconds of the simulation itself (set-up included).
        ours_impressions: OUR_IMPRESSION_FIELDS -> arrays, all our impressions (kept when asked).
        ours_conversions: OUR_CONVERSION_FIELDS -> arrays, all our purchases (kept when asked).
    """

    config: Config
    bidder: str
    sim: Simulation
    elapsed_s: float
    ours_impressions: dict[str, np.ndarray] = field(default_factory=dict)
    ours_conversions: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def auctions(self) -> int:
        """Opportunities auctioned during the campaign."""
        return int(self.sim.kpis.channel["opportunities"].sum())

    def table(self) -> dict[str, Any]:
        """The KPI table (`totals`, `by_channel`)."""
        return self.sim.kpis.table(self.config.channel_names)

    def to_json(self) -> dict[str, Any]:
        """The documented `gaelp simulate --json` object."""
        tab = self.table()
        return {"users": self.config.users, "days": self.sim.day, "seed": self.config.seed,
                "bidder": self.bidder, "totals": tab["totals"], "by_channel": tab["by_channel"],
                "elapsed_s": round(self.elapsed_s, 4)}

    def journeys(self) -> JourneyStats:
        """Statistics of our click-through converting journeys (needs `keep_logs=True`)."""
        imp, conv = self.ours_impressions, self.ours_conversions
        if not imp:
            raise ValueError("journey statistics need the campaign run with keep_logs=True")
        c = conv["by_click"].astype(bool)
        return journey_stats(imp["t"], imp["person"], imp["clicked"], conv["t"][c], conv["person"][c],
                             conv["journey_start"][c], 24 * self.config.campaign.lookback_days)


def our_rows(log: DayLog, imp_fields: tuple[str, ...],
             conv_fields: tuple[str, ...]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Our own impressions and purchases of a day (advertiser 0), with the fields asked for."""
    o = log.impressions["advertiser"] == 0
    c = log.conversions["advertiser"] == 0
    return ({f: log.impressions[f][o] for f in imp_fields}, {f: log.conversions[f][c] for f in conv_fields})


def run_campaign(cfg: Config, bidder: str | None = None, *, keep_logs: bool = False,
                 on_day: Callable[[DayLog], None] | None = None) -> CampaignResult:
    """Simulate `cfg.days` days with our bidder `bidder` (default `cfg.bidder`).

    Args:
        cfg: the run's config.
        bidder: a registered bidder name.
        keep_logs: keep our impressions and purchases (for journey statistics and attribution).
        on_day: called with each day's log (progress bars, stores).
    """
    name = bidder or cfg.bidder
    imps: list[dict[str, np.ndarray]] = []
    convs: list[dict[str, np.ndarray]] = []

    def collect(log: DayLog) -> None:
        if keep_logs:
            imp, conv = our_rows(log, OUR_IMPRESSION_FIELDS, OUR_CONVERSION_FIELDS)
            imps.append(imp)
            convs.append(conv)
        if on_day is not None:
            on_day(log)

    start = time.perf_counter()
    sim = Simulation(cfg, name)
    sim.run(cfg.days, on_day=collect)
    elapsed = time.perf_counter() - start
    result = CampaignResult(cfg, name, sim, elapsed)
    if keep_logs:
        result.ours_impressions = {f: np.concatenate([d[f] for d in imps]) for f in OUR_IMPRESSION_FIELDS}
        result.ours_conversions = {f: np.concatenate([d[f] for d in convs]) for f in OUR_CONVERSION_FIELDS}
    return result
