"""Which bidder is served: the baseline by default, the agent from --policy, clear errors otherwise."""

from __future__ import annotations

import sys
import types

import pytest

from gaelp.bidders.baselines import FixedBidder
from gaelp.bidders.protocol import BidderContext
from gaelp.config import build_config
from gaelp.serving import policy
from gaelp.serving.policy import ServeError, build_bidder, store_sink


def test_default_is_the_target_cpa_baseline_with_the_campaign_budget():
    cfg = build_config({"users": 2000})
    bidder = build_bidder(cfg)
    assert bidder.name == "target_cpa"
    assert bidder.daily_budget == cfg.campaign.budget_per_user * 2000


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(ServeError, match="no such file"):
        build_bidder(build_config({}), tmp_path / "nope.pt")


def test_without_the_agent_module_the_error_says_what_to_do(tmp_path, monkeypatch):
    ckpt = tmp_path / "agent.pt"
    ckpt.write_bytes(b"x")
    monkeypatch.setattr(policy, "AGENT_MODULE", "gaelp.agent.not_built_here")
    with pytest.raises(ServeError, match="needs the learning agent.*leaving out --policy"):
        build_bidder(build_config({}), ckpt)


def test_the_agent_factory_gets_the_config_the_checkpoint_and_online(tmp_path, monkeypatch):
    ckpt = tmp_path / "agent.pt"
    ckpt.write_bytes(b"x")
    calls = []

    def make_agent_bidder(cfg, policy=None, online=False):
        calls.append((policy, online))
        return FixedBidder(BidderContext(cfg, 10.0, None))

    module = types.ModuleType("gaelp.agent.bidder")
    module.make_agent_bidder = make_agent_bidder
    monkeypatch.setitem(sys.modules, "gaelp.agent.bidder", module)
    bidder = build_bidder(build_config({}), ckpt)
    assert bidder.name == "fixed" and calls == [(ckpt, True)]


def test_a_store_without_event_ingestion_is_refused_clearly():
    import gaelp.journeys

    if hasattr(gaelp.journeys, "ingest_events"):
        pytest.skip("this journey store takes events")
    with pytest.raises(ServeError, match="--store.*serve without --store"):
        store_sink("duckdb:///unused.duckdb")
