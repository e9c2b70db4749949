"""Seeded randomness: one stream per component, plus counter-based per-person draws.

Two kinds of randomness live in the simulation (DESIGN.md section 3):

* **Component streams** (`Streams`): one `np.random.Generator` per component, all spawned from the
  world seed with `SeedSequence.spawn`. They draw things no action can change (who is online when,
  a competitor's exploration noise), so adding a competitor never shifts the people's draws.
* **Counter-based draws** (`CounterRng`): a uniform for (world seed, key a, key b, purpose) is a pure
  hash of those integers. Whatever depends on what an ad did (a click, a purchase, a stage move) uses
  them, so two runs that differ in one ad differ only downstream of the person who saw it. That is
  what makes exact counterfactual replay possible.

Example:
    >>> crng = CounterRng(seed=7)
    >>> u = crng.uniform(np.arange(3), 10, Purpose.CLICK)
    >>> bool(((0 <= u) & (u < 1)).all())
    True
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = 2.0**-53
_MASK64 = 0xFFFFFFFFFFFFFFFF
_M2_INT = int(_M2)
# Array arithmetic on uint64 wraps modulo 2**64 without a warning, which is what the hash needs.


class Purpose(IntEnum):
    """What a counter-based draw is for; each purpose is an independent stream of uniforms.

    The keys of per-impression draws already name the slot (opportunity key x 8 + slot), so one
    purpose serves every slot. The numbers are part of every world: changing one changes the draws.
    """

    INTENT = 2
    CLICK = 3
    ADVANCE = 12
    CONVERT = 21
    LAG = 30
    CONV_DEVICE = 39  # is the purchase on the click's device?
    CONV_OTHER_DEVICE = 40  # which other device, if not
    BRAND = 53
    BUY_HOUR = 54
    CLICK_DEPTH = 55
    SCHEDULE = 60
    OPP_CHANNEL = 61
    OPP_TIME = 62


# Names of the component streams, in spawn order. Append only: reordering changes every stream.
# "schedule" and "experiments" draw nothing today (opportunities are counter-based draws); they keep
# their places so that the streams after them keep their seeds.
STREAM_NAMES = ("population", "schedule", "competitors", "bidders", "experiments")


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective avalanche of uint64 values (in place on a fresh array)."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def _fold(x: np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """The second stage of `CounterRng.bits`: fold key b into prepared keys x (in place) and mix."""
    if isinstance(b, (int, np.integer)):  # one key for the whole array: its product once, in Python
        x ^= np.uint64((int(b) * _M2_INT) & _MASK64)
    else:
        x ^= np.multiply(b, _M2, out=np.empty(np.shape(b), np.uint64), dtype=np.uint64, casting="unsafe")
    return _mix(x)


class CounterRng:
    """Counter-based uniforms: `uniform(a, b, purpose)` is a pure function of its integer keys.

    Args:
        seed: the world seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        key = np.array([self.seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
        self._key = _mix(key * _GOLDEN + _GOLDEN)[0]
        self._salts: dict[int, np.uint64] = {}  # purpose -> its key word, so a draw does no scalar arithmetic

    def bits(self, a: np.ndarray, b: int | np.ndarray, purpose: int) -> np.ndarray:
        """64 random bits per element, a pure function of (seed, a, b, purpose); see `uniform`."""
        return _fold(self.prepare(a, purpose), b)

    def prepare(self, a: np.ndarray, purpose: int) -> np.ndarray:
        """The part of `bits(a, b, purpose)` that does not depend on `b`, for keys drawn again and again.

        `bits_prepared(prepare(a, purpose), b)` equals `bits(a, b, purpose)` bit for bit, so a caller
        that draws for the same keys every day (e.g. every person) hashes them once.

        Returns:
            (n,) uint64, a fresh array.
        """
        salt = self._salts.get(purpose)
        if salt is None:
            salt = self._salts[purpose] = np.uint64(int(self._key) ^ ((int(purpose) * 0x632BE59BD9B4E019) & _MASK64))
        if type(a) is np.ndarray and a.ndim and a.dtype.kind in "iu" and a.dtype.itemsize == 8:
            # 64-bit integer keys: reading them as uint64 is the unsafe cast, and the product is a fresh array
            x = a.view(np.uint64) * _GOLDEN
        else:
            # uint64(a) * golden in one pass; `out` keeps a 0-d input an array (numpy scalars would warn on wrap)
            x = np.multiply(a, _GOLDEN, out=np.empty(np.shape(a), np.uint64), dtype=np.uint64,
                            casting="unsafe")
        x ^= salt
        return _mix(x)

    @staticmethod
    def bits_prepared(prepared: np.ndarray, b: int | np.ndarray) -> np.ndarray:
        """`bits(a, b, purpose)` from `prepared = prepare(a, purpose)` (left unchanged)."""
        return _fold(prepared.copy(), b)

    def uniform(self, a: np.ndarray, b: int | np.ndarray, purpose: int) -> np.ndarray:
        """Uniforms in [0, 1), one per element of `a` (broadcast with `b`).

        Args:
            a: (n,) integer keys, e.g. person ids or schedule serials.
            b: scalar or (n,) integer key, e.g. the hour or the day.
            purpose: a `Purpose` value (plus an offset where documented).

        Returns:
            (n,) float64, uniform and independent across distinct (a, b, purpose).
        """
        bits = self.bits(a, b, purpose)
        bits >>= _S11
        u = bits.astype(np.float64)
        u *= _TO_UNIT
        return u


class Streams:
    """One independent `np.random.Generator` per component, spawned from the world seed.

    Example:
        >>> s = Streams(3)
        >>> s.get("schedule") is s.get("schedule")
        True
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        children = np.random.SeedSequence(self.seed).spawn(len(STREAM_NAMES))
        self._gens = {n: np.random.Generator(np.random.PCG64(c)) for n, c in zip(STREAM_NAMES, children)}

    def get(self, name: str) -> np.random.Generator:
        """The generator of component `name` (one of `STREAM_NAMES`)."""
        try:
            return self._gens[name]
        except KeyError:
            raise ValueError(f"unknown RNG stream {name!r}; known: {', '.join(STREAM_NAMES)}") from None

    def child(self, name: str, index: int) -> np.random.Generator:
        """A generator for the `index`-th member of a component (e.g. one competitor), stable under
        adding members after it."""
        seq = np.random.SeedSequence(self.seed, spawn_key=(STREAM_NAMES.index(name), 1000 + index))
        return np.random.Generator(np.random.PCG64(seq))

    def state(self) -> dict[str, dict]:
        """The bit-generator states, for checkpoints."""
        return {n: g.bit_generator.state for n, g in self._gens.items()}

    def set_state(self, state: dict[str, dict]) -> None:
        """Restore states saved by `state()`."""
        for n, s in state.items():
            self.get(n).bit_generator.state = s
