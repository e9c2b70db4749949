"""Rule-based models: the published conventions, and a slow per-path reference."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.attribution.paths import Paths
from gaelp.attribution.rules import FirstClick, LastClick, Linear, PositionBased, TimeDecay

from .helpers import path_lists


def one_path(
    channels: list[int],
    n_channels: int = 3,
    t: list[float] | None = None,
    conversion_t: float | None = None,
) -> Paths:
    return Paths.from_arrays(
        np.zeros(len(channels), dtype=int),
        np.array(channels),
        tuple("abc"[:n_channels]),
        conversions=np.array([1.0]),
        value=np.array([90.0]),
        t=None if t is None else np.array(t, dtype=float),
        conversion_t=None if conversion_t is None else np.array([conversion_t]),
    )


def test_linear_is_per_touch_so_a_repeated_channel_earns_more() -> None:
    cc = Linear().channel_credit(one_path([0, 0, 1]))
    np.testing.assert_allclose(cc.conversions, [2 / 3, 1 / 3, 0])
    np.testing.assert_allclose(cc.value, [60.0, 30.0, 0])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ([0], [1.0]),
        ([0, 1], [0.5, 0.5]),
        ([0, 1, 2], [0.4, 0.2, 0.4]),
        ([0, 1, 1, 2], [0.4, 0.1, 0.1, 0.4]),
    ],
)
def test_position_based_40_20_40(path: list[int], expected: list[float]) -> None:
    np.testing.assert_allclose(PositionBased().credit(one_path(path)), expected)


def test_position_based_custom_split_keeps_two_touch_ratio() -> None:
    np.testing.assert_allclose(
        PositionBased(first=0.3, last=0.6).credit(one_path([0, 1])), [1 / 3, 2 / 3]
    )


def test_first_and_last_click() -> None:
    p = one_path([2, 0, 1])
    assert FirstClick().credit(p).tolist() == [1.0, 0.0, 0.0]
    assert LastClick().credit(p).tolist() == [0.0, 0.0, 1.0]


def test_time_decay_halves_per_half_life() -> None:
    # Touches 14, 7 and 0 days before the conversion weigh 1/4, 1/2 and 1.
    p = one_path([0, 1, 2], t=[0.0, 7 * 24.0, 14 * 24.0], conversion_t=14 * 24.0)
    np.testing.assert_allclose(TimeDecay().credit(p), np.array([0.25, 0.5, 1.0]) / 1.75)
    np.testing.assert_allclose(
        TimeDecay(half_life_days=14).credit(p), np.array([0.5, 2**-0.5, 1.0]) / (1.5 + 2**-0.5)
    )


def test_time_decay_survives_very_old_paths() -> None:
    years = 30 * 365 * 24.0  # 2**-(10950/7) underflows to 0 without the shift
    p = one_path([0, 1], t=[0.0, 24.0], conversion_t=years)
    np.testing.assert_allclose(
        TimeDecay().credit(p), np.array([2 ** (-1 / 7), 1]) / (1 + 2 ** (-1 / 7))
    )


def test_time_decay_needs_times() -> None:
    with pytest.raises(ValueError, match="needs touch times"):
        TimeDecay().credit(one_path([0, 1]))


@pytest.mark.parametrize(
    "bad", [{"first": 0.7, "last": 0.7}, {"first": -0.1}, {"first": 0, "last": 0}]
)
def test_position_based_rejects_bad_shares(bad: dict) -> None:
    with pytest.raises(ValueError):
        PositionBased(**bad)


def reference_credit(name: str, paths: Paths) -> np.ndarray:
    """Obvious per-path loop, written from the conventions, not from the fast code."""
    out = []
    for i, path in enumerate(path_lists(paths)):
        n = len(path)
        if name == "last_click":
            w = [0.0] * (n - 1) + [1.0]
        elif name == "first_click":
            w = [1.0] + [0.0] * (n - 1)
        elif name == "linear":
            w = [1.0 / n] * n
        elif name == "position":
            w = (
                [1.0]
                if n == 1
                else [0.5, 0.5]
                if n == 2
                else [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
            )
        else:
            a, b = paths.offsets[i], paths.offsets[i + 1]
            days = (paths.conversion_t_hours[i] - paths.t_hours[a:b]) / 24.0
            raw = [2.0 ** (-d / 7.0) for d in days]
            w = [x / sum(raw) for x in raw]
        out.extend(w)
    return np.array(out)


@pytest.mark.parametrize(
    "model",
    [LastClick(), FirstClick(), Linear(), PositionBased(), TimeDecay()],
    ids=lambda m: m.name,
)
def test_fast_credit_matches_reference_loop(random_paths, model) -> None:
    p = random_paths(n_paths=400, max_len=9)
    np.testing.assert_allclose(model.credit(p), reference_credit(model.name, p), rtol=1e-12)
