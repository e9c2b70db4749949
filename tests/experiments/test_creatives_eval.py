"""Tests for gaelp.experiments.creatives_eval: the selector beats a uniform rotation in the same world."""

from __future__ import annotations

import pytest

from gaelp.config import load_config
from gaelp.experiments.creatives_eval import creatives_eval


def test_thompson_shows_best_creatives_more_often_than_a_rotation_and_clicks_more():
    r = creatives_eval(load_config(None, users=6000, days=10), tail_days=4)
    ts, rot = r["thompson"], r["rotate"]
    assert rot["best_share_all"] == pytest.approx(0.25, abs=0.03), "a rotation hits the best one in four"
    assert ts["best_share_all"] > rot["best_share_all"] + 0.02
    assert r["ctr_gain"] > 0
    for mix in ts["mix"].values():
        assert sum(mix.values()) == pytest.approx(1.0, abs=2e-3)  # four shares, each rounded to 0.001
