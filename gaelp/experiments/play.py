"""One bidder plays one world: the unit of work of evaluations and hindsight searches.

A `Play` names the world (its seed) and our bidder; `play` runs the campaign and returns its
`WorldResult`. Both are plain picklable values and a top-level function, so a process pool can run
many plays at once. Our bidder is a registered name, `oracle_lp` with its `k`, or the agent: the
caller passes the agent's factory (`make_agent_bidder`), so this module never imports the agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gaelp.bidders.protocol import Bidder
from gaelp.config import Config
from gaelp.experiments.score import totals_score
from gaelp.simulation import Simulation

AGENT = "agent"
AGENT_ONLINE = "agent_online"
AgentFactory = Callable[[Config, str | Path | None, bool], Bidder]
"""Builds the agent's bidder: `(config, policy checkpoint or None for the shipped one, online) -> Bidder`."""


@dataclass(frozen=True, slots=True)
class Play:
    """One campaign to play.

    Attributes:
        seed: the world seed.
        bidder: our bidder: a registered name, `agent` or `agent_online`.
        k: `oracle_lp`'s multiplier (None: the config's `bidders.oracle_lp_k`).
    """

    seed: int
    bidder: str
    k: float | None = None


@dataclass(frozen=True, slots=True)
class WorldResult:
    """How one bidder did in one world (the KPI table's totals, scored).

    Attributes:
        seed: the world seed.
        bidder: our bidder's name.
        score: the campaign's score (`gaelp.experiments.score`).
        conversions: click-through conversions.
        cac: spend per conversion (None without conversions).
        roas: revenue per dollar spent (None without spend).
        spend: ad spend, USD.
        budget_use: spend over the campaign's budget (daily budget x days).
        k: `oracle_lp`'s multiplier, None for other bidders.
    """

    seed: int
    bidder: str
    score: float
    conversions: int
    cac: float | None
    roas: float | None
    spend: float
    budget_use: float
    k: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented `per_world` entry (plus `k` for `oracle_lp`)."""
        out = {"seed": self.seed, "score": self.score, "conversions": self.conversions, "cac": self.cac,
               "roas": self.roas, "spend": self.spend, "budget_use": self.budget_use}
        if self.k is not None:
            out["k"] = self.k
        return out


def with_oracle_lp_k(cfg: Config, k: float) -> Config:
    """A copy of `cfg` whose `oracle_lp` bids with multiplier `k` (validated)."""
    return cfg.model_validate({**cfg.model_dump(), "bidders": {**cfg.bidders.model_dump(), "oracle_lp_k": k}})


def play(cfg: Config, job: Play, agent_factory: AgentFactory | None = None,
         policy: str | Path | None = None) -> WorldResult:
    """Play `job` in the world `cfg` with `job.seed`, for `cfg.days` days.

    Args:
        cfg: the evaluation's config (its seed is replaced by the job's).
        job: the world and our bidder.
        agent_factory: builds the agent (needed for `agent` and `agent_online` only).
        policy: the agent's checkpoint (None: the one shipped in the package).

    Raises:
        ValueError: the agent asked for without a factory, or an unknown bidder name.
    """
    cfg = cfg.replace(seed=job.seed)
    if job.k is not None:
        cfg = with_oracle_lp_k(cfg, job.k)
    bidder: Bidder | str = job.bidder
    if job.bidder in (AGENT, AGENT_ONLINE):
        if agent_factory is None:
            raise ValueError(f"bidder {job.bidder!r} needs the agent's factory (make_agent_bidder)")
        bidder = agent_factory(cfg, policy, job.bidder == AGENT_ONLINE)
    sim = Simulation(cfg, bidder)
    attach = getattr(bidder, "attach_world", None)
    if attach is not None:
        attach(sim)  # the agent reads the identity signals of its own clicks and purchases
    sim.run(cfg.days)
    return world_result(sim, job.seed, job.bidder, cfg.bidders.oracle_lp_k if job.bidder == "oracle_lp" else None)


def world_result(sim: Simulation, seed: int, bidder: str, k: float | None = None) -> WorldResult:
    """The `WorldResult` of a campaign `sim` has played (its config's days), for our bidder named `bidder`."""
    cfg = sim.cfg
    t = sim.kpis.table(cfg.channel_names)["totals"]
    spend = float(sim.kpis.channel["spend"].sum())
    budget = sim.ours.daily_budget * cfg.days
    return WorldResult(
        seed=seed, bidder=bidder, score=totals_score(t, cfg.bidders.target_cpa),
        conversions=t["conversions"], cac=t["cac"], roas=t["roas"], spend=spend,
        budget_use=spend / budget if budget > 0 else 0.0, k=k,
    )
