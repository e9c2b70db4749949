"""Tests for the creative part of gaelp.world.response: appeal, creative fatigue and the best creative."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.config import Config
from gaelp.world.response import ResponseModel


@pytest.fixture(scope="module")
def model() -> ResponseModel:
    return ResponseModel(Config().world)


def test_a_uniform_rotation_fatigues_as_the_calibrated_brand_fatigue(model):
    k = model.n_creatives
    seen = np.arange(0.0, 12.0)
    ones = np.ones(seen.size, np.int64)
    # the same person, one creative each time, seen spread evenly over the k creatives
    per_creative = [model.creative_ctr(np.full(seen.size, 0.02), ones * 0, ones, np.full(seen.size, c), ones * 3,
                                       ones * 2, seen, seen / k) for c in range(k)]
    appeal = model.appeal_segment[:, 3] * model.appeal_stage[:, 2]
    unfatigued = np.array(per_creative) / appeal[:, None]
    expected = model._pos_ctr_flat[0] * 0.02 / (1.0 + model.fatigue * seen)
    assert np.allclose(unfatigued, expected)


def test_seeing_the_same_creative_again_tires_more_than_seeing_another(model):
    one = np.ones(1, np.int64)
    same = model.creative_ctr(np.array([0.02]), one * 0, one, one * 0, one * 1, one * 2, np.array([4.0]),
                              np.array([4.0]))
    other = model.creative_ctr(np.array([0.02]), one * 0, one, one * 0, one * 1, one * 2, np.array([4.0]),
                               np.array([0.0]))
    assert other > same


def test_best_creative_follows_the_appeal_tables(model):
    names = Config().world.creatives.names
    seg = {s.name: i for i, s in enumerate(Config().world.segments)}
    best = model.best_creative(np.array([seg["crisis"], seg["price_conscious"], seg["researcher"]]),
                               np.array([2, 3, 2]))
    assert [names[b] for b in best] == ["crisis", "price", "safety_features"]
