"""The campaign score: conversions x min(1, (target CPA / CAC)^2)."""

from __future__ import annotations

import pytest

from gaelp.config import load_config
from gaelp.experiments.campaign import run_campaign
from gaelp.experiments.score import campaign_score, totals_score


@pytest.mark.parametrize(("conversions", "cac", "target", "expected"), [
    (100, 50.0, 100.0, 100.0),     # under target: every conversion counts
    (100, 100.0, 100.0, 100.0),    # at target
    (100, 200.0, 100.0, 25.0),     # twice the target: a quarter
    (90, 150.0, 100.0, 40.0),      # 90 x (2/3)^2
    (7, 0.0, 100.0, 7.0),          # free clicks
    (0, None, 100.0, 0.0),         # nothing bought: no CAC, no score
])
def test_score_keeps_conversions_within_target_and_loses_them_with_the_square_of_the_overshoot(
        conversions, cac, target, expected):
    assert campaign_score(conversions, cac, target) == pytest.approx(expected)


def test_score_falls_as_cac_rises_above_target_and_never_exceeds_conversions():
    scores = [campaign_score(50, cac, 110.0) for cac in (20.0, 110.0, 120.0, 200.0, 500.0)]
    assert scores[0] == scores[1] == 50.0
    assert scores[1] > scores[2] > scores[3] > scores[4] > 0


@pytest.mark.parametrize(("conversions", "cac", "target", "message"), [
    (-1, 10.0, 100.0, "conversions"),
    (3, 10.0, 0.0, "target_cpa"),
    (3, None, 100.0, "cac is None"),
])
def test_score_rejects_impossible_inputs_by_name(conversions, cac, target, message):
    with pytest.raises(ValueError, match=message):
        campaign_score(conversions, cac, target)


def test_score_of_a_kpi_table_uses_its_totals():
    cfg = load_config(None, users=3_000, days=5, seed=4)
    totals = run_campaign(cfg, "fixed").table()["totals"]
    assert totals["conversions"] > 0  # this world's fixed bidder buys something, so the check is not 0 == 0
    expected = totals["conversions"] * min(1.0, (cfg.bidders.target_cpa / totals["cac"]) ** 2)
    assert totals_score(totals, cfg.bidders.target_cpa) == pytest.approx(expected)
