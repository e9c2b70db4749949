"""Shapley: the fast transforms against brute-force permutations, and Zhao's identity."""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from gaelp.attribution.paths import Paths
from gaelp.attribution.shapley import (
    Shapley,
    _zeta,
    coalition_worth,
    exact_credit,
    restricted_shapley,
)

from .helpers import path_lists


def brute_force_shapley(worth: np.ndarray, players: list[int]) -> dict[int, float]:
    """Average marginal contribution over every order of `players` (the definition)."""
    total = {c: 0.0 for c in players}
    orders = list(permutations(players))
    for order in orders:
        mask = 0
        for c in order:
            total[c] += worth[mask | (1 << c)] - worth[mask]
            mask |= 1 << c
    return {c: v / len(orders) for c, v in total.items()}


def test_restricted_shapley_matches_permutations(rng) -> None:
    m = 4
    worth = rng.uniform(0, 1, 2**m)
    worth[0] = 0.0
    phi = restricted_shapley(worth, m)
    for mask in range(1, 2**m):
        players = [c for c in range(m) if mask >> c & 1]
        expected = brute_force_shapley(worth, players)
        for c in range(m):
            assert phi[mask, c] == pytest.approx(expected.get(c, 0.0), abs=1e-12)


def test_coalition_worth_uses_exact_rate_then_pooled_subsets() -> None:
    m = 3
    conv, n = np.zeros(8), np.zeros(8)
    conv[0b001], n[0b001] = 1, 4  # {a}: 1 of 4
    conv[0b010], n[0b010] = 3, 6  # {b}: 3 of 6
    conv[0b111], n[0b111] = 2, 2  # {a, b, c}: 2 of 2
    worth = coalition_worth(conv, n, m)
    assert worth[0b001] == 0.25 and worth[0b010] == 0.5 and worth[0b111] == 1.0
    assert worth[0b011] == pytest.approx(4 / 10)  # nobody saw exactly {a, b}: pool {a}, {b}
    assert worth[0b100] == 0.0  # nothing inside {c}
    assert worth[0b101] == 0.25 and worth[0] == 0.0


def test_exact_splits_by_marginal_conversion_rate() -> None:
    # {a}: 5 of 10 convert, {b}: 1 of 10, {a, b}: 6 of 10. On the path a > b,
    # phi_a = (0.5 + (0.6 - 0.1)) / 2 = 0.5 and phi_b = (0.1 + (0.6 - 0.5)) / 2 = 0.1.
    p = Paths.from_arrays(
        np.array([0, 1, 2, 2]),
        np.array([0, 1, 0, 1]),
        ("a", "b"),
        conversions=np.array([5.0, 1.0, 6.0]),
        nulls=np.array([5.0, 9.0, 4.0]),
    )
    np.testing.assert_allclose(exact_credit(p)[2:], [5 / 6, 1 / 6])
    np.testing.assert_allclose(
        Shapley(method="exact").channel_credit(p).conversions, [5 + 6 * 5 / 6, 1 + 6 / 6]
    )


def reference_exact(paths: Paths) -> np.ndarray:
    """Per path: brute-force Shapley on observed rates, clipped, split over repeated touches."""
    lists = path_lists(paths)
    m = len(paths.channels)
    conv, n = np.zeros(2**m), np.zeros(2**m)
    for i, path in enumerate(lists):
        mask = sum(1 << c for c in set(path))
        conv[mask] += paths.conversions[i]
        n[mask] += paths.conversions[i] + paths.nulls[i]
    worth = coalition_worth(conv, n, m)
    out = []
    for path in lists:
        phi = brute_force_shapley(worth, sorted(set(path)))
        clipped = {c: max(v, 0.0) for c, v in phi.items()}
        total = sum(clipped.values())
        share = (
            {c: v / total for c, v in clipped.items()}
            if total > 0
            else {c: 1 / len(phi) for c in phi}
        )
        out.extend(share[c] / path.count(c) for c in path)
    return np.array(out)


def test_exact_credit_matches_reference(random_paths) -> None:
    p = random_paths(n_paths=200, n_channels=4, max_len=5)
    np.testing.assert_allclose(exact_credit(p), reference_exact(p), rtol=1e-10)


def test_simplified_splits_evenly_among_distinct_channels() -> None:
    p = Paths.from_arrays(np.zeros(3, int), np.array([0, 0, 1]), ("a", "b"), conversions=np.ones(1))
    np.testing.assert_allclose(Shapley(method="simplified").credit(p), [0.25, 0.25, 0.5])


def test_simplified_equals_exact_shapley_of_the_subset_conversions_game(random_paths) -> None:
    # Zhao et al.: with v(S) = conversions of journeys whose channels lie in S, the Shapley value
    # of each channel is the simplified form.
    p = random_paths(n_paths=200, n_channels=5)
    m = len(p.channels)
    mask = np.zeros(p.n_paths, dtype=np.int64)
    np.bitwise_or.at(mask, p.path_id, 1 << p.channel)
    worth = _zeta(np.bincount(mask, p.conversions, minlength=2**m), m)
    phi = restricted_shapley(worth, m)[2**m - 1]
    simplified = Shapley(method="simplified").channel_credit(p).conversions
    np.testing.assert_allclose(phi, simplified, rtol=1e-10)


def test_auto_picks_exact_up_to_the_limit(random_paths) -> None:
    small = random_paths(n_paths=100, n_channels=4)
    big = random_paths(n_paths=400, n_channels=14, max_len=8)
    assert Shapley().resolved_method(small) == "exact"
    assert Shapley().resolved_method(big) == "simplified"
    assert Shapley(max_exact_channels=3).resolved_method(small) == "simplified"
    np.testing.assert_allclose(Shapley().credit(big), Shapley(method="simplified").credit(big))


def test_exact_refuses_too_many_channels(random_paths) -> None:
    p = random_paths(n_paths=2000, n_channels=17, max_len=8)
    with pytest.raises(ValueError, match="limited to 16 channels"):
        Shapley(method="exact").credit(p)
    with pytest.raises(ValueError):
        Shapley(method="greedy")
