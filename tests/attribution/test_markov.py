"""Markov removal effect: a hand-solved chain and a slow dictionary-based reference."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from gaelp.attribution.markov import Markov, removal_effects
from gaelp.attribution.paths import Paths

from .helpers import path_lists


def small_paths() -> Paths:
    # a > a > b converts once (value 10); b > c fails once; c converts twice (value 30).
    return Paths.from_arrays(
        np.array([0, 0, 0, 1, 1, 2]),
        np.array([0, 0, 1, 1, 2, 2]),
        ("a", "b", "c"),
        conversions=np.array([1.0, 0.0, 2.0]),
        value=np.array([10.0, 0.0, 30.0]),
    )


def test_hand_solved_first_order_chain() -> None:
    # Transitions: start -> a 1/4, b 1/4, c 1/2; a -> a 1/2, b 1/2; b -> conv 1/2, c 1/2;
    # c -> conv 2/3, null 1/3. So x_c = 2/3, x_b = 1/2 + 1/2 x_c = 5/6, x_a = x_b = 5/6 and
    # P = 1/4 * 5/6 + 1/4 * 5/6 + 1/2 * 2/3 = 3/4.
    # Without a: 1/4 * 5/6 + 1/2 * 2/3 = 13/24 -> RE 5/18. Without b: 1/2 * 2/3 = 1/3 -> RE 5/9.
    # Without c: x_b = 1/2, x_a = 1/2, P = 1/4 -> RE 2/3.
    re = removal_effects(small_paths(), order=1)
    assert re.p_convert == pytest.approx(3 / 4)
    np.testing.assert_allclose(re.conversions, [5 / 18, 5 / 9, 2 / 3])
    cc = Markov().channel_credit(small_paths())
    np.testing.assert_allclose(cc.conversions, 3 * np.array([5, 10, 12]) / 27)
    # Per touch: path a > a > b splits 5/18 : 5/9 between a and b, a's share over its two touches.
    np.testing.assert_allclose(Markov().credit(small_paths())[:3], [1 / 6, 1 / 6, 2 / 3])


def test_value_weighted_variant_measures_expected_value() -> None:
    # Mean value per conversion leaving b is 10, leaving c is 15: E[value] = 1/4 * x_a + ...
    # with x_c = 2/3 * 15 = 10, x_b = 1/2 * 10 + 1/2 * 10 = 10 = x_a, so E = 2.5 + 2.5 + 5 = 10.
    re = removal_effects(small_paths(), order=1)
    assert re.expected_value == pytest.approx(10.0)
    # Without c: x_b = 5, x_a = 5, E = 2.5 -> RE 0.75.
    assert re.value[2] == pytest.approx(0.75)
    cc = Markov(weight="value").channel_credit(small_paths())
    np.testing.assert_allclose(cc.value.sum(), 40.0)
    np.testing.assert_allclose(cc.value, 40.0 * re.value / re.value.sum())


def reference_removal_effects(
    paths: Paths, order: int
) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Dictionaries and a dense solve, state = tuple of up to `order` last channels."""
    to = defaultdict(lambda: defaultdict(float))
    conv, value, out = defaultdict(float), defaultdict(float), defaultdict(float)
    for i, path in enumerate(path_lists(paths)):
        w = paths.conversions[i] + paths.nulls[i]
        prev: tuple = ("start",)
        for j in range(len(path)):
            state = tuple(path[max(0, j - order + 1) : j + 1])
            to[prev][state] += w
            out[prev] += w
            prev = state
        conv[prev] += paths.conversions[i]
        value[prev] += paths.value[i]
        out[prev] += w
    states = [("start",)] + sorted({s for d in to.values() for s in d})
    index = {s: k for k, s in enumerate(states)}

    def solve(removed: int | None) -> np.ndarray:
        keep = [s for s in states if s == ("start",) or removed not in s]
        n = len(keep)
        a, r = np.eye(n), np.zeros((n, 2))
        for k, s in enumerate(keep):
            if out[s] == 0:
                continue
            r[k] = conv[s] / out[s], value[s] / out[s]
            for s2, w in to[s].items():
                if s2 in keep:
                    a[k, keep.index(s2)] -= w / out[s]
        return np.linalg.solve(a, r)[0]

    assert index[("start",)] == 0
    base = solve(None)
    removed = np.array([solve(c) for c in range(len(paths.channels))])
    effect = np.where(base > 0, 1 - removed / base, 0.0)
    return base[0], base[1], effect[:, 0], effect[:, 1]


@pytest.mark.parametrize("order", [1, 2, 3])
def test_matches_reference_chain(random_paths, order: int) -> None:
    p = random_paths(n_paths=150, n_channels=4, max_len=5)
    re = removal_effects(p, order=order)
    p_conv, ev, effect, value_effect = reference_removal_effects(p, order)
    assert re.p_convert == pytest.approx(p_conv, rel=1e-10)
    assert re.expected_value == pytest.approx(ev, rel=1e-10)
    np.testing.assert_allclose(re.conversions, effect, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(re.value, value_effect, rtol=1e-9, atol=1e-12)


def test_non_converting_journeys_enter_the_chain() -> None:
    # a > b converts once; b alone converts once and fails `nulls` times.
    # Without failures: start -> a 1/2, b 1/2; x_b = 1 so P = 1, RE_a = 1/2, RE_b = 1.
    # With 8: start -> a 1/10, b 9/10; x_b = 2/10 so P = 2/10 (2 conversions in 10 journeys),
    # removing a leaves 9/10 * 2/10 -> RE_a = 1/10, RE_b = 1.
    def paths(nulls: float) -> Paths:
        return Paths.from_arrays(
            np.array([0, 0, 1]),
            np.array([0, 1, 1]),
            ("a", "b"),
            conversions=np.array([1.0, 1.0]),
            nulls=np.array([0.0, nulls]),
        )

    assert removal_effects(paths(8.0)).p_convert == pytest.approx(0.2)
    np.testing.assert_allclose(removal_effects(paths(0.0)).conversions, [0.5, 1.0])
    np.testing.assert_allclose(removal_effects(paths(8.0)).conversions, [0.1, 1.0])
    np.testing.assert_allclose(Markov().channel_credit(paths(8.0)).conversions, [2 / 11, 20 / 11])


def test_channel_seen_only_on_dead_ends_gets_nothing() -> None:
    p = Paths.from_arrays(
        np.array([0, 1]),
        np.array([0, 1]),
        ("a", "b"),
        conversions=np.array([1.0, 0.0]),
        nulls=np.array([1.0, 5.0]),
    )
    assert Markov().channel_credit(p).conversions.tolist() == [1.0, 0.0]


@pytest.mark.parametrize("bad", [{"order": 0}, {"order": 4}, {"weight": "clicks"}])
def test_rejects_bad_parameters(bad: dict) -> None:
    with pytest.raises(ValueError):
        Markov(**bad)


def test_no_conversions_credits_nothing() -> None:
    p = Paths.from_arrays(np.array([0, 1]), np.array([0, 1]), ("a", "b"), conversions=np.zeros(2))
    cc = Markov().channel_credit(p)
    assert cc.conversions.tolist() == [0.0, 0.0] and cc.value.tolist() == [0.0, 0.0]
