"""Tests for gaelp.world.population: segment blocks, devices, day-0 stages and the journey state."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.config import Config, WorldConfig
from gaelp.world.population import JourneyState, Stage, build_population, initial_stages, people_where

SEED = 20260105
N_BIG = 100_000
SHARES = (0.5, 0.3, 0.15, 0.05)
COUNT_PROBS = (0.2, 0.5, 0.3)
DESKTOP = 0.4
STAGE_SHARES = (0.4, 0.3, 0.2, 0.1, 0.0, 0.0, 0.0)


def world(shares=SHARES, count_probs=COUNT_PROBS, desktop=DESKTOP, stage_shares=STAGE_SHARES) -> WorldConfig:
    """The default world with explicit segment shares, device mix and day-0 stages."""
    data = Config().world.model_dump()
    proto = data["segments"][0]
    data["segments"] = [{**proto, "name": f"s{i}", "share": s} for i, s in enumerate(shares)]
    data["devices"].update(count_probs=count_probs, desktop_share=desktop)
    data["journey"]["initial_stage"] = stage_shares
    return WorldConfig.model_validate(data)


def tolerance(p: float, n: int) -> float:
    """Five binomial standard errors: a seeded draw outside it means a wrong distribution."""
    return 5 * np.sqrt(p * (1 - p) / n) + 1e-12


@pytest.fixture(scope="module")
def big():
    return build_population(world(), N_BIG, np.random.default_rng(SEED))


def test_segments_are_contiguous_blocks_sized_by_shares(big):
    pop = big
    assert pop.size == N_BIG
    assert pop.segment.dtype == np.int8
    assert np.all(np.diff(pop.segment) >= 0), "people must be laid out contiguously by segment"
    off = pop.segment_offsets
    assert off.shape == (len(SHARES) + 1,) and off[0] == 0 and off[-1] == N_BIG
    for s, share in enumerate(SHARES):
        block = pop.segment[off[s]:off[s + 1]]
        assert np.all(block == s)
        assert abs(block.size / N_BIG - share) < tolerance(share, N_BIG)


def test_every_person_owns_one_to_three_devices_in_configured_proportions(big):
    pop = big
    assert pop.n_devices.min() >= 1 and pop.n_devices.max() <= 3
    freq = np.bincount(pop.n_devices, minlength=4)[1:] / N_BIG
    for k, p in enumerate(COUNT_PROBS):
        assert abs(freq[k] - p) < tolerance(p, N_BIG), f"{k + 1} devices: {freq[k]:.4f} vs {p}"


def test_device_ids_are_contiguous_and_owned_by_exactly_one_person(big):
    pop = big
    n_ids = int(pop.n_devices.sum())
    assert pop.device_owner.shape == (n_ids,) and pop.device_type.shape == (n_ids,)
    # slow reference: walk the people and hand out ids in order
    expected_offset = np.zeros(pop.size, np.int64)
    expected_owner = np.empty(n_ids, np.int64)
    nxt = 0
    for p in range(pop.size):
        expected_offset[p] = nxt
        k = int(pop.n_devices[p])
        expected_owner[nxt:nxt + k] = p
        nxt += k
    assert np.array_equal(pop.device_offset, expected_offset)
    assert np.array_equal(pop.device_owner, expected_owner)
    assert np.array_equal(np.bincount(pop.device_owner, minlength=pop.size), pop.n_devices)


def test_device_types_follow_the_desktop_share(big):
    types = big.device_type
    assert set(np.unique(types)) <= {0, 1}
    assert abs(types.mean() - DESKTOP) < tolerance(DESKTOP, types.size)


@pytest.mark.parametrize("count_probs, expected", [((1.0, 0.0, 0.0), 1), ((0.0, 1.0, 0.0), 2), ((0.0, 0.0, 1.0), 3)])
def test_a_degenerate_device_mix_gives_everyone_the_same_count(count_probs, expected):
    pop = build_population(world(count_probs=count_probs), 5_000, np.random.default_rng(SEED))
    assert np.all(pop.n_devices == expected)


def test_population_is_reproducible_from_the_seed():
    a = build_population(world(), 2_000, np.random.default_rng(1))
    b = build_population(world(), 2_000, np.random.default_rng(1))
    c = build_population(world(), 2_000, np.random.default_rng(2))
    for name in ("segment", "n_devices", "device_type", "device_owner"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.device_type, c.device_type)


def test_initial_stages_follow_the_configured_shares():
    stages = initial_stages(world(), N_BIG, np.random.default_rng(SEED))
    assert stages.dtype == np.int8 and stages.shape == (N_BIG,)
    freq = np.bincount(stages, minlength=len(Stage)) / N_BIG
    for s, share in enumerate(STAGE_SHARES):
        if share == 0:
            assert freq[s] == 0, f"stage {Stage(s).name} has no share but got people"
        else:
            assert abs(freq[s] - share) < tolerance(share, N_BIG)


class _FixedUniforms:
    """A stand-in generator whose `random` returns given uniforms (to probe the edge of [0, 1))."""

    def __init__(self, u: np.ndarray) -> None:
        self.u = np.asarray(u, dtype=np.float64)

    def random(self, n: int) -> np.ndarray:
        return np.resize(self.u, n)


def test_initial_stages_never_draw_a_stage_with_zero_share_even_when_shares_sum_slightly_below_one():
    third = 0.3333333  # three thirds as a user would type them: sum 0.9999999, inside the validator's 1e-6
    cfg = world(stage_shares=(third, third, third, 0.0, 0.0, 0.0, 0.0))
    stages = initial_stages(cfg, 3, _FixedUniforms([0.0, 0.5, 1.0 - 2.0**-53]))
    assert stages.max() <= Stage.CONSIDERING, f"got {[Stage(s).name for s in stages]}"


def test_fresh_journey_state_starts_with_nothing_seen():
    stage = np.array([0, 2, 3], np.int64)
    st = JourneyState.fresh(3, 4, stage)
    assert st.stage.dtype == np.int8 and np.array_equal(st.stage, stage)
    assert st.seen.shape == (3, 4) and st.brand.shape == (3, 4)
    assert not st.seen.any() and not st.brand.any()
    assert np.all(st.last_activity == -1) and np.all(st.converted_at == -1)
    assert np.array_equal(JourneyState.fresh(2, 1).stage, [Stage.UNAWARE] * 2)


def test_journey_state_dict_round_trip_is_a_copy_and_restores_dtypes():
    st = JourneyState.fresh(4, 2, np.array([0, 1, 2, 3]))
    st.seen[1, 1] = 2.5
    st.last_activity[2] = 17
    saved = st.state_dict()
    saved_copy = {k: v.copy() for k, v in saved.items()}
    st.seen[:] = 9.0  # mutating the live state must not touch the saved copy
    st.stage[:] = Stage.LOST
    assert all(np.array_equal(saved[k], saved_copy[k]) for k in saved)
    other = JourneyState.fresh(4, 2)
    other.load_state_dict({k: v.astype(np.float64) for k, v in saved.items()})  # e.g. read back from a store
    for k in st.arrays:
        restored = getattr(other, k)
        assert restored.dtype == getattr(st, k).dtype, k
        assert np.array_equal(restored, saved_copy[k]), k


@pytest.mark.parametrize("op", [np.less, np.greater])
def test_people_where_matches_a_per_person_lookup(op):
    pop = build_population(world(), 20_000, np.random.default_rng(SEED))
    rng = np.random.default_rng(SEED + 1)
    stage = rng.integers(0, len(Stage), pop.size).astype(np.int8)
    u = rng.random(pop.size)
    u[::97] = 0.25  # ties with a threshold: strict comparisons must stay strict
    table = rng.random((len(SHARES), len(Stage)))
    table[1, 2] = 0.25
    expected = [p for p in range(pop.size) if op(u[p], table[pop.segment[p], stage[p]])]
    got = people_where(op, u, table, pop, stage)
    assert got.dtype == np.int64 and np.array_equal(got, expected)


def test_people_where_needs_one_table_row_per_segment():
    pop = build_population(world(), 100, np.random.default_rng(SEED))
    with pytest.raises(ValueError, match=r"n_segments=4"):
        people_where(np.less, np.zeros(100), np.zeros((3, len(Stage))), pop, np.zeros(100, np.int8))
