"""Check that the default market reproduces the published ranges (`calibration.TARGETS`).

Three campaigns on the same world seed: the naive `fixed` bidder (its KPIs are the market's), the
`oracle` (the informed upper bound) and `fixed` with ten times the budget (to show the default budget
binds). Market-wide figures (top-slot CTR) count every advertiser's impressions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gaelp.calibration import TARGETS
from gaelp.config import Config
from gaelp.experiments.campaign import CampaignResult, run_campaign


@dataclass(frozen=True, slots=True)
class Check:
    """One KPI against its target range."""

    name: str
    value: float | None
    low: float
    high: float

    @property
    def ok(self) -> bool:
        """Inside [low, high]."""
        return self.value is not None and self.low <= self.value <= self.high

    def to_json(self) -> dict:
        """JSON-friendly form."""
        high = None if self.high == float("inf") else self.high
        return {"name": self.name, "value": self.value, "low": self.low, "high": high, "ok": self.ok}


def _channel(res: CampaignResult, name: str, key: str) -> float | None:
    return res.table()["by_channel"].get(name, {}).get(key)


def calibration_checks(cfg: Config, progress: Callable[[str], None] | None = None) -> list[Check]:
    """Run the three campaigns and compare every target.

    Args:
        cfg: the market to check (the default config, perhaps with more users for precision).
        progress: called with the name of each campaign as it starts.
    """
    say = progress or (lambda _: None)
    say("fixed")
    fixed = run_campaign(cfg, "fixed", keep_logs=True)
    say("oracle")
    oracle = run_campaign(cfg, "oracle")
    say("fixed, 10x budget")
    rich = run_campaign(cfg.replace(campaign={**cfg.campaign.model_dump(),
                                              "budget_per_user": 10 * cfg.campaign.budget_per_user}), "fixed")
    names = cfg.channel_names
    market = fixed.sim.kpis.market
    search = names.index("search") if "search" in names else 0
    imp, clk = market["impressions"][search, 0], market["clicks"][search, 0]
    fixed_cac = fixed.table()["totals"]["cac"]
    oracle_cac = oracle.table()["totals"]["cac"]
    journeys = fixed.journeys().summary()
    spend = fixed.table()["totals"]["spend"]
    rich_spend = rich.table()["totals"]["spend"]
    values = {
        "search_top_ctr": float(clk / imp) if imp else None,
        "search_cpc": _channel(fixed, "search", "cpc"),
        "search_cvr": _channel(fixed, "search", "cvr"),
        "social_ctr": _channel(fixed, "social", "ctr"),
        "social_cvr": _channel(fixed, "social", "cvr"),
        "display_ctr": _channel(fixed, "display", "ctr"),
        "display_cvr": _channel(fixed, "display", "cvr"),
        "fixed_cac": fixed_cac,
        "oracle_cac": oracle_cac,
        **journeys,
        "cac_headroom": fixed_cac / oracle_cac if fixed_cac and oracle_cac else None,
        "budget_binding": spend / rich_spend if rich_spend else None,
    }
    return [Check(k, None if values.get(k) is None else float(values[k]), *TARGETS[k]) for k in TARGETS]
