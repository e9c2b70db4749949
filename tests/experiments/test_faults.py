"""Tests for gaelp.experiments.faults: parsing, injection and that safety catches each fault in time."""

from __future__ import annotations

import pytest

from gaelp.config import load_config
from gaelp.experiments.faults import Fault, FaultRun, fault_report, parse_fault, run_with_fault

CFG = load_config(None, users=40_000, days=4, bidder="fixed")


@pytest.mark.parametrize(("text", "fault"), [
    ("bid_x1000@day5", Fault("bid", 1000.0, 120)),
    ("cost_spike@day2h10", Fault("cost_spike", 5.0, 58)),
    ("ctr_collapse_x0.2@day0h3", Fault("ctr_collapse", 0.2, 3)),
])
def test_faults_parse(text, fault):
    assert parse_fault(text) == fault


@pytest.mark.parametrize("text", ["bid@day5", "bid_x1000", "melt@day1", "cost_spike@day1h24", "bid_x0@day1"])
def test_bad_faults_are_refused_with_the_grammar(text):
    with pytest.raises(ValueError, match="--fault"):
        parse_fault(text)


@pytest.fixture(scope="module")
def base() -> FaultRun:
    run = run_with_fault(CFG, None)
    assert run.sim.safety.events == [], "no fault, no event"
    return run


@pytest.mark.parametrize(("fault", "kind", "max_delay"), [
    ("bid_x1000@day3h10", "bid_spike", 0),
    ("cost_spike@day3h10", "cpc_spike", 1),
    ("ctr_collapse@day3h10", "ctr_collapse", 1),
])
def test_safety_catches_each_fault_within_an_hour(fault, kind, max_delay, base):
    r = fault_report(CFG, parse_fault(fault), base=base)
    assert r["kind"] == kind and 0 <= r["delay_h"] <= max_delay, r
    if kind != "cpc_spike":  # a billing fault is paid for in the hour it is seen (see docs/control.md)
        assert r["loss"] < r["hour_budget"], r
