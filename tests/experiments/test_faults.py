"""Tests for gaelp.experiments.faults: parsing, injection and that safety catches each fault in time."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.config import load_config
from gaelp.experiments.faults import Fault, FaultRun, fault_report, overcharge, parse_fault, run_with_fault

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


@pytest.mark.parametrize(("fault", "kind"), [
    ("bid_x1000@day3h10", "bid_spike"),      # before the auction
    ("cost_spike@day3h10", "overcharge"),    # within the hour: an impression priced above our bid
    ("ctr_collapse@day3h10", "ctr_collapse"),
])
def test_safety_catches_each_fault_within_an_hour_for_less_than_an_hours_budget(fault, kind, base):
    r = fault_report(CFG, parse_fault(fault), base=base)
    assert r["kind"] == kind and 0 <= r["delay_h"] <= 1, r
    assert r["loss"] < r["hour_budget"] and r["overcharge"] < r["hour_budget"], r


def test_the_overcharge_is_the_cost_spikes_share_of_the_spend_from_its_start_to_the_days_end():
    spend = np.arange(72, dtype=np.float64)
    assert overcharge(spend, parse_fault("cost_spike@day1h20")) == pytest.approx(0.8 * (44 + 45 + 46 + 47))
    assert overcharge(spend, parse_fault("cost_spike_x2@day2h23")) == pytest.approx(0.5 * 71)
    assert overcharge(spend, parse_fault("bid_x1000@day1h20")) == 0.0


def test_a_base_run_of_another_world_is_refused():
    cfg = load_config(None, users=3_000, days=2, bidder="fixed")
    other = run_with_fault(load_config(None, users=3_000, days=2, bidder="fixed", seed=1), None)
    with pytest.raises(ValueError, match="differs before the fault"):
        fault_report(cfg, parse_fault("cost_spike@day1h10"), base=other)
