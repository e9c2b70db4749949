"""Smoke tests of the control commands: `simulate --fault`, `safety faults`, `pacing eval`."""

from __future__ import annotations

import json

from tests.cli.test_core import gaelp


def test_simulate_with_a_fault_lists_the_safety_event_and_the_days():
    out = gaelp("simulate", "--users", "3000", "--days", "3", "--fault", "bid_x1000@day2h10", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert [(e["t"], e["kind"]) for e in data["safety_events"]] == [(58, "bid_spike")]
    assert "paused bidding" in data["safety_events"][0]["action"]
    assert [d["day"] for d in data["daily"]] == [0, 1, 2]
    assert set(data["daily"][0]) == {"day", "spend", "budget", "conversions"}
    assert data["daily"][2]["spend"] < data["daily"][1]["spend"], "paused from 10:00 on day 2"


def test_a_bad_fault_is_refused_with_the_grammar():
    out = gaelp("simulate", "--days", "2", "--fault", "melt@day1")
    assert out.returncode == 2 and "bid_xK" in out.stderr


def test_pacing_eval_and_safety_faults_print_json():
    out = gaelp("pacing", "eval", "--users", "2000", "--days", "2", "--json")
    assert out.returncode == 0, out.stderr
    f = json.loads(out.stdout)
    assert f["max_day_over_budget"] <= 1.0 + 1e-9 and len(f["daily"]) == 2
    out = gaelp("safety", "faults", "--users", "2000", "--days", "2", "--fault", "bid_x1000@day1h10", "--json")
    assert out.returncode == 0, out.stderr
    (row,) = json.loads(out.stdout)["faults"]
    assert row["kind"] == "bid_spike" and row["delay_h"] == 0


def test_identity_eval_prints_the_documented_json():
    out = gaelp("identity", "eval", "--users", "1500", "--days", "3", "--no-attribution", "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert {"precision", "recall", "pairs"} <= set(r) and "attribution" not in r
