"""Checkpoints: exact, deterministic packing, and a restored simulation that goes on identically."""

from __future__ import annotations

import re

import numpy as np
import pytest

from gaelp.config import load_config
from gaelp.journeys.checkpoint import (
    bidder_states,
    load_bidder_states,
    pack,
    restore,
    snapshot,
    unpack,
)
from gaelp.simulation import Simulation

SEED = 5


def random_tree(rng: np.random.Generator, depth: int = 0):
    """A seeded tree of the kinds a state dict holds."""
    kinds = ["array", "int", "float", "str", "none", "bool", "list", "dict", "tuple", "bigint"]
    kind = kinds[rng.integers(len(kinds) if depth < 3 else 6)]
    if kind == "array":
        dtype = rng.choice(["<f8", "<f4", "<i8", "<i2", "|i1", "|b1", "<U3", ">i4"])
        shape = tuple(int(s) for s in rng.integers(0, 4, size=rng.integers(0, 3)))
        return np.asarray(rng.random(shape) * 100).astype(dtype)
    if kind == "int":
        return int(rng.integers(-10**9, 10**9))
    if kind == "float":
        return float(rng.choice([rng.normal(), np.nan, np.inf, -0.0]))
    if kind == "str":
        return "".join(rng.choice(list("abcé✓"), size=rng.integers(0, 5)))
    if kind == "none":
        return None
    if kind == "bool":
        return bool(rng.integers(2))
    if kind == "bigint":
        return int(rng.integers(1, 2**62)) ** 2  # PCG64 states are 128-bit integers
    items = [random_tree(rng, depth + 1) for _ in range(rng.integers(0, 4))]
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    return {f"k{i}": v for i, v in enumerate(items)}


def same(a, b) -> bool:
    """Exact equality of trees (NaN equals NaN; dtypes and shapes must match)."""
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and a.tobytes() == b.tobytes())
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and np.isnan(a):
        return isinstance(b, float) and np.isnan(b)
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("seed", range(40))
def test_pack_round_trips_exactly_and_deterministically(seed: int) -> None:
    tree = {"root": random_tree(np.random.default_rng(seed))}
    data = pack(tree)
    back = unpack(data)
    assert same(tree, back)
    assert pack(back) == data


def test_unpacked_arrays_are_writable_copies() -> None:
    a = np.arange(5)
    back = unpack(pack({"a": a}))["a"]
    back[0] = 99
    assert a[0] == 0


@pytest.mark.parametrize("bad, where", [
    ({"x": np.array([object()], dtype=object)}, "state.x"),
    ({"x": {1: 2}}, "state.x"),
    ({"x": [1, {2, 3}]}, "state.x[1]"),
])
def test_pack_names_what_it_cannot_store(bad, where: str) -> None:
    with pytest.raises(TypeError, match="cannot checkpoint " + re.escape(where)):
        pack(bad)


def test_unpack_rejects_foreign_bytes() -> None:
    with pytest.raises(ValueError, match="not a GAELP checkpoint"):
        unpack(b"PK\x03\x04 a zip file")


def _logs_equal(a, b) -> bool:
    return all(np.array_equal(a.impressions[f], b.impressions[f]) for f in a.impressions) and \
        all(np.array_equal(a.conversions[f], b.conversions[f]) for f in a.conversions)


@pytest.mark.parametrize("bidder", ["fixed", "target_cpa"])
def test_restored_simulation_continues_identically(bidder: str) -> None:
    cfg = load_config(users=300, days=8, seed=SEED, bidder=bidder)
    original = Simulation(cfg)
    original.run(3)
    snap = unpack(pack(snapshot(original)))
    bidders = bidder_states(original)

    resumed = Simulation(cfg)
    restore(resumed, snap)
    load_bidder_states(resumed, bidders)
    assert resumed.day == 3
    for _ in range(4):
        assert _logs_equal(original.run_day(), resumed.run_day())
    assert original.kpis.table(cfg.channel_names) == resumed.kpis.table(cfg.channel_names)
    assert np.array_equal(original.kpis.daily["spend"], resumed.kpis.daily["spend"])


def test_snapshot_only_between_days() -> None:
    sim = Simulation(load_config(users=50, days=2, seed=SEED))
    sim.step_hour()
    with pytest.raises(ValueError, match="between days"):
        snapshot(sim)


def test_bidder_states_must_match_the_advertisers() -> None:
    sim = Simulation(load_config(users=50, days=2, seed=SEED))
    with pytest.raises(ValueError, match="state of 2 advertisers"):
        load_bidder_states(sim, bidder_states(sim)[:2])
