"""Tests for gaelp.experiments.identity_eval: resolution beats the naive links and attribution is scored."""

from __future__ import annotations

import numpy as np

from gaelp.config import load_config
from gaelp.control.identity import pair_scores
from gaelp.experiments.identity_eval import identity_eval, our_identity_log


def test_resolution_is_more_precise_than_linking_every_shared_home_and_finds_most_pairs():
    cfg = load_config(None, users=4000, days=8)
    _, _, r, owner = our_identity_log(cfg)
    s = pair_scores(r.person, owner)
    assert s["precision"] > 0.7 and s["recall"] > 0.4, s
    assert abs(r.expected_precision - s["precision"]) < 0.05, (r.expected_precision, s)
    singletons = pair_scores(np.arange(owner.size), owner)
    assert singletons["pairs"] == 0 and np.isnan(singletons["precision"])


def test_identity_eval_reports_attribution_error_three_ways():
    cfg = load_config(None, users=2000, days=4)
    r = identity_eval(cfg)
    assert {"precision", "recall", "pairs"} <= set(r)
    for errors in r["attribution"].values():
        assert set(errors) == {"device", "resolved", "person"}
        assert all(e is None or 0.0 <= e <= 1.0 for e in errors.values())
