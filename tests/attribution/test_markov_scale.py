"""Markov removal effects over many channels: one inverse for all channels, equal to one solve each."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.attribution import markov
from gaelp.attribution.paths import Paths


def many_channels(n_ch: int, n_paths: int, seed: int) -> Paths:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 6, n_paths)
    conv = (rng.random(n_paths) < 0.2).astype(float)
    return Paths(channels=tuple(f"c{i}" for i in range(n_ch)), path_id=np.repeat(np.arange(n_paths), lengths),
                 channel=rng.integers(0, n_ch, lengths.sum()), conversions=conv,
                 value=conv * rng.choice([50.0, 120.0], n_paths), nulls=1 - conv)


@pytest.mark.parametrize(("n_ch", "order", "seed"), [(8, 1, 0), (12, 2, 1), (6, 3, 2), (30, 1, 3)])
def test_the_complement_formula_equals_a_solve_per_channel(monkeypatch, n_ch: int, order: int, seed: int) -> None:
    paths = many_channels(n_ch, 400, seed)
    monkeypatch.setattr(markov, "_DIRECT_CHANNELS_MAX", 10**6)
    direct = markov.removal_effects(paths, order)
    monkeypatch.setattr(markov, "_DIRECT_CHANNELS_MAX", 0)
    complement = markov.removal_effects(paths, order)
    np.testing.assert_allclose(complement.conversions, direct.conversions, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(complement.value, direct.value, rtol=1e-9, atol=1e-12)


def test_a_thousand_channels_get_credit_and_a_chain_too_large_is_refused() -> None:
    paths = many_channels(1000, 5000, 4)
    credit = markov.Markov().channel_credit(paths)
    assert np.isfinite(credit.conversions).all()
    assert credit.conversions.sum() == pytest.approx(paths.conversions.sum())
    with pytest.raises(ValueError, match=r"states over 200 channels; removal effects are computed up to 4,000"):
        markov.removal_effects(many_channels(200, 20000, 5), order=2)
