"""Paths: builders, invariants, reordering and per-path counts."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.attribution import paths as paths_module
from gaelp.attribution.paths import Paths

from .helpers import path_lists


def test_from_arrays_sorts_by_path_then_time_and_maps_back() -> None:
    pid = np.array([1, 0, 1, 0, 1])
    ch = np.array([2, 0, 1, 1, 0])
    t = np.array([30, 5, 10, 1, 20])
    p = Paths.from_arrays(pid, ch, ("a", "b", "c"), conversions=np.array([1.0, 0.0]), t=t)
    assert p.path_id.tolist() == [0, 0, 1, 1, 1]
    assert p.t_hours.tolist() == [1, 5, 10, 20, 30]
    assert p.channel.tolist() == [1, 0, 1, 0, 2]
    # touch_index points at the caller's arrays, so credit can be mapped back to its touches.
    np.testing.assert_array_equal(ch[p.touch_index], p.channel)
    np.testing.assert_array_equal(t[p.touch_index], p.t_hours)
    # Defaults: one non-converting journey per path without a conversion; conversion at last touch.
    assert p.nulls.tolist() == [0.0, 1.0]
    assert p.conversion_t_hours.tolist() == [5.0, 30.0]
    assert p.offsets.tolist() == [0, 2, 5]
    assert p.position().tolist() == [0, 1, 0, 1, 2]


def test_from_arrays_keeps_input_order_for_touches_in_the_same_hour() -> None:
    p = Paths.from_arrays(
        np.zeros(3, int),
        np.array([2, 0, 1]),
        ("a", "b", "c"),
        conversions=np.array([1.0]),
        t=np.array([4, 4, 4]),
    )
    assert p.channel.tolist() == [2, 0, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path_id": [0, 2], "conversions": [1.0, 1.0, 0.0]}, "path 1 has no touch"),
        ({"path_id": [0, 3], "conversions": [1.0, 1.0]}, "path_id must lie in"),
        ({"channel": [0, 5]}, "channel codes must lie in"),
        ({"conversions": [-1.0, 0.0]}, "conversions must be finite and >= 0"),
        ({"value": [np.nan, 0.0]}, "value must be finite and >= 0"),
        ({"t": [10, 0], "conversion_t": [5.0, np.nan]}, "after its path's conversion"),
        ({"value": [1.0]}, "value must have shape"),
    ],
)
def test_from_arrays_rejects_inconsistent_input(kwargs: dict, message: str) -> None:
    args = {"path_id": [0, 1], "channel": [0, 1], "conversions": [1.0, 0.0]}
    args.update({k: np.asarray(v) for k, v in kwargs.items()})
    with pytest.raises(ValueError, match=message):
        Paths.from_arrays(args.pop("path_id"), args.pop("channel"), ("a", "b"), **args)


def test_take_reorders_whole_paths(random_paths) -> None:
    p = random_paths(n_paths=50)
    order = np.random.default_rng(3).permutation(p.n_paths)
    q = p.take(order)
    assert path_lists(q) == [path_lists(p)[i] for i in order]
    np.testing.assert_array_equal(q.conversions, p.conversions[order])
    np.testing.assert_array_equal(q.conversion_t_hours, p.conversion_t_hours[order])
    # The same touches, each still pointing at its original input position.
    assert sorted(q.touch_index.tolist()) == sorted(p.touch_index.tolist())


@pytest.mark.parametrize("dense", [True, False])
def test_channel_multiplicity_matches_a_loop(random_paths, monkeypatch, dense: bool) -> None:
    if not dense:
        monkeypatch.setattr(paths_module, "_DENSE_CELLS_MAX", 0)
    p = random_paths(n_paths=80)
    same, distinct = p.channel_multiplicity()
    lists = path_lists(p)
    expected_same = [path.count(c) for path in lists for c in path]
    assert same.tolist() == expected_same
    assert distinct.tolist() == [len(set(path)) for path in lists]
