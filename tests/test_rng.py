"""Seeded streams and counter-based draws."""

import numpy as np
import pytest

from gaelp.rng import STREAM_NAMES, CounterRng, Purpose, Streams, WorldsRng


def test_counter_uniform_is_a_pure_function_of_its_keys():
    a = CounterRng(11).uniform(np.arange(1000), 7, Purpose.CLICK)
    b = CounterRng(11).uniform(np.arange(1000), 7, Purpose.CLICK)
    assert np.array_equal(a, b)
    # a subset of keys gets the same values as in the full call: no hidden sequence state
    sub = CounterRng(11).uniform(np.arange(500, 600), 7, Purpose.CLICK)
    assert np.array_equal(sub, a[500:600])


@pytest.mark.parametrize("change", ["seed", "b", "purpose"])
def test_counter_uniform_changes_with_every_key(change):
    base = CounterRng(1).uniform(np.arange(2000), 3, Purpose.CLICK)
    other = {
        "seed": CounterRng(2).uniform(np.arange(2000), 3, Purpose.CLICK),
        "b": CounterRng(1).uniform(np.arange(2000), 4, Purpose.CLICK),
        "purpose": CounterRng(1).uniform(np.arange(2000), 3, Purpose.CONVERT),
    }[change]
    assert not np.array_equal(base, other)
    assert abs(np.corrcoef(base, other)[0, 1]) < 0.1


def test_counter_uniform_is_uniform_and_in_range():
    u = CounterRng(5).uniform(np.arange(200_000), 0, Purpose.SCHEDULE)
    assert u.min() >= 0.0 and u.max() < 1.0
    counts, _ = np.histogram(u, bins=20, range=(0, 1))
    assert np.all(np.abs(counts / u.size - 0.05) < 0.003)
    # consecutive keys are not correlated
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_streams_are_independent_per_component_and_reproducible():
    a, b = Streams(3), Streams(3)
    for name in STREAM_NAMES:
        assert np.array_equal(a.get(name).random(5), b.get(name).random(5))
    s = Streams(3)
    x = s.get("population").random(3)
    s.get("competitors").random(100)  # another component drawing more does not shift this one
    t = Streams(3)
    t.get("population").random(3)
    assert np.array_equal(s.get("population").random(3), t.get("population").random(3))
    assert not np.array_equal(x, Streams(4).get("population").random(3))


def test_child_streams_stable_when_members_are_added():
    s = Streams(9)
    first = s.child("competitors", 0).random(4)
    assert np.array_equal(first, Streams(9).child("competitors", 0).random(4))
    assert not np.array_equal(first, s.child("competitors", 1).random(4))


def test_stream_state_round_trip():
    s = Streams(2)
    s.get("bidders").random(10)
    state = s.state()
    expected = s.get("bidders").random(5)
    t = Streams(2)
    t.set_state(state)
    assert np.array_equal(t.get("bidders").random(5), expected)


def test_unknown_stream_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown RNG stream 'nope'"):
        Streams(0).get("nope")


@pytest.mark.parametrize("b", [0, 17, "array"])
def test_prepared_keys_give_the_same_bits_and_stay_unchanged(b):
    crng = CounterRng(21)
    a = np.arange(-5, 3000, 7)
    b = np.arange(a.size) % 13 if b == "array" else b
    prepared = crng.prepare(a, Purpose.SCHEDULE)
    kept = prepared.copy()
    assert prepared.dtype == np.uint64
    assert np.array_equal(crng.bits_prepared(prepared, b), crng.bits(a, b, Purpose.SCHEDULE))
    assert np.array_equal(prepared, kept), "a prepared key array is reused day after day: never modify it"
    # the prepared half depends on the purpose and the seed
    assert not np.array_equal(crng.prepare(a, Purpose.CLICK), prepared)
    assert not np.array_equal(CounterRng(22).prepare(a, Purpose.SCHEDULE), prepared)


def _reference_bits(seed: int, a, b: int, purpose: int) -> np.ndarray:
    """The hash written out with Python integers: SplitMix64 of the key words, the obvious way."""
    mask = (1 << 64) - 1

    def mix(x: int) -> int:
        x ^= x >> 30
        x = (x * 0xBF58476D1CE4E5B9) & mask
        x ^= x >> 27
        x = (x * 0x94D049BB133111EB) & mask
        return x ^ (x >> 31)

    golden = 0x9E3779B97F4A7C15
    key = mix(((seed & mask) * golden + golden) & mask)
    out = []
    for k in np.asarray(a).reshape(-1).tolist():
        x = ((int(k) & mask) * golden) & mask
        x ^= key ^ ((purpose * 0x632BE59BD9B4E019) & mask)
        x = mix(x)
        x ^= (b * 0x94D049BB133111EB) & mask
        out.append(mix(x))
    return np.array(out, dtype=np.uint64).reshape(np.shape(a))


@pytest.mark.parametrize("keys", [
    np.array([0, 1, 7, -3, 2**62, -(2**63)], np.int64),
    np.array([0, 1, 7, 2**63, 2**64 - 1], np.uint64),
    np.array([0, 5, -9], np.int32),
    np.array([3, 4], np.int8)[::-1],
    [11, 12],
    np.array(42, np.int64),
])
def test_bits_match_the_reference_hash_for_every_key_dtype(keys):
    crng = CounterRng(5)
    for purpose in (Purpose.CLICK, Purpose.SCHEDULE, Purpose.CLICK):  # the second CLICK reuses its cached salt
        assert np.array_equal(crng.bits(keys, 9, purpose), _reference_bits(5, keys, 9, int(purpose)))


@pytest.mark.parametrize("keys", [np.array([0, 1, 7, -3, 2**62], np.int64), np.array([9], np.int64), np.array(4)])
def test_uniform_is_the_top_53_bits_of_the_reference_hash(keys):
    ref = _reference_bits(8, keys, 3, int(Purpose.LAG))
    expected = np.array([(int(x) >> 11) * 2.0**-53 for x in ref.reshape(-1)]).reshape(np.shape(keys))
    got = CounterRng(8).uniform(keys, 3, Purpose.LAG)
    assert got.dtype == np.float64 and np.array_equal(got, expected)


def test_no_keys_give_empty_draws_of_the_right_dtype():
    crng = CounterRng(3)
    assert crng.uniform(np.empty(0, np.int64), 5, Purpose.CLICK).dtype == np.float64
    assert crng.bits(np.empty(0, np.int32), 5, Purpose.CLICK).dtype == np.uint64
    assert crng.uniform(np.empty(0, np.int64), np.empty(0, np.int64), Purpose.CLICK).shape == (0,)


@pytest.mark.parametrize("b_is_array", [False, True])
def test_worlds_rng_draws_each_element_as_its_world_alone(b_is_array: bool) -> None:
    seeds = [0, 7, 2**40 + 3, 123456789]
    gen = np.random.default_rng(11)
    world = np.sort(gen.integers(0, len(seeds), 500))
    a = gen.integers(0, 2**62, 500)
    b = gen.integers(0, 10_000, 500) if b_is_array else 17
    batched = WorldsRng(seeds)
    for purpose in (Purpose.CLICK, Purpose.CREATIVE):
        u, bits = batched.uniform(world, a, b, purpose), batched.bits(world, a, b, purpose)
        for w, seed in enumerate(seeds):
            mine = world == w
            alone = CounterRng(seed)
            bw = b[mine] if b_is_array else b
            assert np.array_equal(u[mine], alone.uniform(a[mine], bw, purpose))
            assert np.array_equal(bits[mine], alone.bits(a[mine], bw, purpose))
    assert not np.array_equal(u[world == 0][:5], u[world == 1][:5])  # the worlds' draws differ
