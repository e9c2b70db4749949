"""Tests for gaelp.experiments.pacing_eval: the promise holds on a simulated campaign with a busy day."""

from __future__ import annotations

import numpy as np

from gaelp.config import load_config
from gaelp.experiments.pacing_eval import half_hour, pacing_figures


def test_half_hour_matches_a_slow_reference():
    rng = np.random.default_rng(3)
    hourly = rng.exponential(size=(20, 24)) * (rng.random((20, 24)) < 0.5)
    hourly[4] = 0.0
    ref = []
    for row in hourly:
        total, acc = row.sum(), 0.0
        h = -1
        for i, x in enumerate(row):
            acc += x
            if total > 0 and acc >= total / 2:
                h = i
                break
        ref.append(h)
    assert half_hour(hourly).tolist() == ref


def test_promise_pacing_spends_more_on_the_surge_day_within_the_promise():
    cfg = load_config(None, users=6000, days=10, bidder="target_cpa",
                      campaign={"pacing": "promise", "budget_per_user": 0.004},
                      world={"temporal": {"surge": [[7, 2.5]]}})
    f = pacing_figures(cfg)
    spend = [d["spend"] for d in f["daily"]]
    assert f["max_day_over_budget"] <= 2.0 + 1e-9 and f["max_period_over_budget"] <= 30.4
    assert int(np.argmax(spend)) == 7 and spend[7] > 1.2 * f["budget"], spend
    assert f["days_exhausted_by_noon"] == 0
