"""Which bidder is served: the baseline by default, the agent from --policy, clear errors otherwise."""

from __future__ import annotations

import sys
import time
import types

import pytest

from gaelp.bidders.baselines import FixedBidder
from gaelp.bidders.protocol import BidderContext
from gaelp.config import build_config
from gaelp.serving.policy import ServeError, build_bidder, store_sink
from tests.serving.conftest import T0, event, serve


def test_default_is_the_target_cpa_baseline_with_the_campaign_budget():
    cfg = build_config({"users": 2000})
    bidder = build_bidder(cfg)
    assert bidder.name == "target_cpa"
    assert bidder.daily_budget == cfg.campaign.budget_per_user * 2000


def test_a_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(ServeError, match="no such file"):
        build_bidder(build_config({}), tmp_path / "nope.pt")


@pytest.mark.parametrize(("content", "message"), [
    (b"not a checkpoint", r"is not a policy checkpoint written by `gaelp train` \(UnpicklingError"),
    (None, "is not a policy checkpoint written by `gaelp train`: it has no model, obs_dim, act_dim, hidden, prior_w"),
])
def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path, content, message):
    import torch

    path = tmp_path / "agent.pt"
    if content is None:
        torch.save({"weights": [1.0]}, path)  # a torch file, but not one `gaelp train` wrote
    else:
        path.write_bytes(content)
    with pytest.raises(ServeError, match=f"--policy {path} {message}"):
        build_bidder(build_config({}), path)


def test_the_agent_factory_gets_the_config_the_checkpoint_online_the_guard_aim_and_the_horizon(tmp_path, monkeypatch):
    from gaelp.agent.bidder import check_guard_aim

    ckpt = tmp_path / "agent.pt"
    ckpt.write_bytes(b"x")
    calls = []

    def make_agent_bidder(cfg, policy=None, online=False, guard_aim="spent", campaign_start=0, horizon=True):
        calls.append((policy, online, guard_aim, campaign_start, horizon))
        return FixedBidder(BidderContext(cfg, 10.0, None))

    module = types.ModuleType("gaelp.agent.bidder")
    module.make_agent_bidder, module.check_guard_aim = make_agent_bidder, check_guard_aim
    monkeypatch.setitem(sys.modules, "gaelp.agent.bidder", module)
    before = int(time.time() // 3600)
    bidder = build_bidder(build_config({}), ckpt)
    assert bidder.name == "fixed" and len(calls) == 1 and calls[0][:3] == (ckpt, True, "spent")
    assert calls[0][4] is False  # a server's campaign runs as long as the server: no horizon unless asked
    assert before <= calls[0][3] <= int(time.time() // 3600)  # the campaign starts with the server
    build_bidder(build_config({}), ckpt, "rest", start_hour=490_000)
    assert calls[-1] == (ckpt, True, "rest", 490_000, False)
    build_bidder(build_config({}), ckpt, start_hour=490_000, horizon=True)
    assert calls[-1] == (ckpt, True, "spent", 490_000, True)
    with pytest.raises(ServeError, match="--guard-aim: guard_aim must be one of spent, rest, got 'whole'"):
        build_bidder(build_config({}), ckpt, "whole")
    with pytest.raises(ServeError, match="--guard-aim sets the agent's CAC guard: pass --policy"):
        build_bidder(build_config({}), None, "rest")
    with pytest.raises(ServeError, match="--horizon sets the agent's campaign horizon: pass --policy"):
        build_bidder(build_config({}), None, horizon=True)


def test_accepted_events_go_to_the_store_once_each(tmp_path, monkeypatch):
    """Against a stand-in for the journey store's `ingest` (the real one: the test below)."""
    calls = []
    module = types.ModuleType("gaelp.journeys.ingest")
    module.ingest = lambda store, table: calls.append((store.write, table.to_pydict()))
    monkeypatch.setitem(sys.modules, "gaelp.journeys.ingest", module)
    served = serve({}, sink=store_sink(f"duckdb:///{tmp_path / 'j.duckdb'}"))
    rows = [event("e1", "click", cost=1.5), event("e2", "conversion", channel=None, value=90.0)]
    served.events(rows)
    served.events(rows)
    assert len(calls) == 1  # the repeat holds nothing new
    opened_for_writing, table = calls[0]
    assert opened_for_writing
    assert table["event_id"] == ["e1", "e2"] and table["user_id"] == ["d:device-1", "d:device-1"]
    assert table["event_type"] == ["click", "conversion"] and table["channel"] == ["search", ""]
    assert table["t_seconds"] == [T0 + 60] * 2 and table["cost"] == [1.5, 0.0] and table["value"] == [0.0, 90.0]


def test_events_reach_the_real_journey_store(tmp_path):
    import sqlalchemy as sa

    from gaelp.journeys import JourneyStore, ingest

    url = f"sqlite:///{tmp_path / 'j.sqlite'}"
    served = serve({}, sink=store_sink(url))
    rows = [event("e1", "click", cost=1.5), event("e2", "conversion", channel=None, value=90.0)]
    served.events(rows)
    served.events(rows)
    served.engine.sink = None
    del served
    with JourneyStore(url) as store, store.engine.connect() as conn:
        stored = conn.execute(sa.select(ingest.ingested_events.c.event_id)).scalars().all()
    assert sorted(stored) == ["e1", "e2"]
