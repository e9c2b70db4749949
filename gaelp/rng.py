"""Seeded randomness: one stream per component, plus counter-based per-person draws.

Two kinds of randomness live in the simulation (docs/design.md section 3):

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

from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import numpy as np

_MASK64 = 0xFFFFFFFFFFFFFFFF
_GOLDEN_INT, _M2_INT = 0x9E3779B97F4A7C15, 0x94D049BB133111EB


def _word(v: int) -> np.ndarray:
    """A 0-d uint64 array: as a ufunc operand it costs about half of what a numpy scalar does, and
    array arithmetic on uint64 wraps modulo 2**64 without a warning, which is what the hash needs."""
    return np.array(v & _MASK64, dtype=np.uint64)


_GOLDEN, _M1, _M2 = _word(_GOLDEN_INT), _word(0xBF58476D1CE4E5B9), _word(_M2_INT)
_S11, _S27, _S30, _S31 = _word(11), _word(27), _word(30), _word(31)
_TO_UNIT = np.array(2.0**-53)
_rshift, _xor, _mul = np.right_shift, np.bitwise_xor, np.multiply


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
    HOUSEHOLD = 70  # identity signals (world/identity.py): nothing in the story draws them
    AT_HOME = 71
    CARRIER = 72
    LOGIN = 73
    CREATIVE = 74  # which creative a rival shows (a uniform rotation)
    BUDGET_END = 75  # importance sampling: does an impression charge its price? (market/clearing.py)


# Names of the component streams, in spawn order. Append only: reordering changes every stream.
# "schedule" and "experiments" draw nothing today (opportunities are counter-based draws); they keep
# their places so that the streams after them keep their seeds.
STREAM_NAMES = ("population", "schedule", "competitors", "bidders", "experiments", "creatives")


def _mix(x: np.ndarray, t: Any = ..., out: Any = ...) -> np.ndarray:
    """SplitMix64 finaliser: a bijective avalanche of the uint64 values `x`, written to `out`.

    `x` and `t` (an array of x's shape) are clobbered as scratch. `...`, the default for `t` and `out`,
    means a fresh array (an array even for a 0-d `x`). At the small sizes of an hour's draws a ufunc
    call's fixed cost is most of the time, so there are no other temporaries, and no step writes into
    one of its own inputs (numpy takes twice as long for that on a 1-element array).
    """
    t = _rshift(x, _S30, out=t)
    out = _xor(x, t, out=out)
    _mul(out, _M1, out=x)
    _rshift(x, _S27, out=t)
    _xor(x, t, out=out)
    _mul(out, _M2, out=x)
    _rshift(x, _S31, out=t)
    return _xor(x, t, out=out)


def _fold(prepared: np.ndarray, b: int | np.ndarray, out: np.ndarray) -> np.ndarray:
    """Fold key b into prepared keys, into `out` (of prepared's shape), before the second mix of `bits`."""
    if isinstance(b, (int, np.integer)):  # one key for the whole array: its product once, in Python
        return _xor(prepared, _word(int(b) * _M2_INT), out=out)
    return _xor(prepared, _mul(b, _M2, out=np.empty(np.shape(b), np.uint64), dtype=np.uint64, casting="unsafe"),
                out=out)


def _no_keys(a: np.ndarray, b: int | np.ndarray) -> bool:
    """Whether a draw has no keys to hash: a 1-D empty key array and one key b (a cheap early return)."""
    return type(a) is np.ndarray and a.shape == (0,) and isinstance(b, (int, np.integer))


class CounterRng:
    """Counter-based uniforms: `uniform(a, b, purpose)` is a pure function of its integer keys.

    Args:
        seed: the world seed.
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self.key = int(_mix(_word(self.seed * _GOLDEN_INT + _GOLDEN_INT)))  # mixed into every draw
        self._salts: dict[int, np.ndarray] = {}  # purpose -> its 0-d key word, so a draw does no scalar arithmetic

    def bits(self, a: np.ndarray, b: int | np.ndarray, purpose: int) -> np.ndarray:
        """64 random bits per element, a pure function of (seed, a, b, purpose); see `uniform`."""
        if _no_keys(a, b):
            return np.empty(0, np.uint64)
        return self._bits(a, b, purpose)[0]

    def prepare(self, a: np.ndarray, purpose: int) -> np.ndarray:
        """The part of `bits(a, b, purpose)` that does not depend on `b`, for keys drawn again and again.

        `bits_prepared(prepare(a, purpose), b)` equals `bits(a, b, purpose)` bit for bit, so a caller
        that draws for the same keys every day (e.g. every person) hashes them once.

        Returns:
            (n,) uint64, a fresh array.
        """
        return self._prepare(a, purpose)[0]

    @staticmethod
    def bits_prepared(prepared: np.ndarray, b: int | np.ndarray) -> np.ndarray:
        """`bits(a, b, purpose)` from `prepared = prepare(a, purpose)` (left unchanged)."""
        return _mix(_fold(prepared, b, np.empty_like(prepared)))

    def uniform(self, a: np.ndarray, b: int | np.ndarray, purpose: int) -> np.ndarray:
        """Uniforms in [0, 1), one per element of `a` (broadcast with `b`).

        Args:
            a: (n,) integer keys, e.g. person ids or schedule serials.
            b: scalar or (n,) integer key, e.g. the hour or the day.
            purpose: a `Purpose` value (plus an offset where documented).

        Returns:
            (n,) float64, uniform and independent across distinct (a, b, purpose).
        """
        if _no_keys(a, b):
            return np.empty(0)
        bits, spare = self._bits(a, b, purpose)
        # the top 53 bits times 2**-53: the product converts them to float64 exactly, then scales exactly
        return _mul(_rshift(bits, _S11, out=spare), _TO_UNIT)

    def _prepare(self, a: np.ndarray, purpose: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`prepare(a, purpose)`, and two scratch arrays of its shape that the caller may reuse."""
        salt = self._salts.get(purpose)
        if salt is None:
            salt = self._salts[purpose] = _word(self.key ^ (int(purpose) * 0x632BE59BD9B4E019))
        if type(a) is np.ndarray and a.ndim and a.dtype.kind in "iu" and a.dtype.itemsize == 8:
            # 64-bit integer keys: reading them as uint64 is the unsafe cast, and the product is a fresh array
            g = _mul(a.view(np.uint64), _GOLDEN)
        else:
            # uint64(a) * golden in one pass; `out` keeps a 0-d input an array (numpy scalars would warn on wrap)
            g = _mul(a, _GOLDEN, out=np.empty(np.shape(a), np.uint64), dtype=np.uint64, casting="unsafe")
        x = _xor(g, salt, out=...)
        return _mix(x, g), x, g

    def _bits(self, a: np.ndarray, b: int | np.ndarray, purpose: int) -> tuple[np.ndarray, np.ndarray]:
        """`bits(a, b, purpose)`, and a scratch array of its shape that the caller may reuse."""
        prepared, x, t = self._prepare(a, purpose)
        return _mix(_fold(prepared, b, x), t, prepared), t


class WorldsRng:
    """Counter-based draws of a batch of worlds: element i is drawn as world `world[i]` alone draws it.

    `uniform(world, a, b, purpose)[i]` equals `CounterRng(seeds[world[i]]).uniform(a, b, purpose)[i]`
    bit for bit, so worlds stepped together as one array program keep the numbers they have alone;
    the cost is one gather of the worlds' key words beside the hash.

    Args:
        seeds: the batch's world seeds, world index w has seed `seeds[w]`.

    Example:
        >>> rng = WorldsRng([5, 9])
        >>> u = rng.uniform(np.array([0, 1]), np.array([3, 3]), 10, Purpose.CLICK)
        >>> bool(u[1] == CounterRng(9).uniform(np.array([3]), 10, Purpose.CLICK)[0])
        True
    """

    def __init__(self, seeds: Sequence[int]) -> None:
        self.seeds = tuple(int(s) for s in seeds)
        self._keys = np.array([CounterRng(s).key for s in self.seeds], dtype=np.uint64)
        self._salts: dict[int, np.ndarray] = {}  # purpose -> (n_worlds,) key words

    def bits(self, world: np.ndarray, a: np.ndarray, b: int | np.ndarray, purpose: int) -> np.ndarray:
        """64 random bits per element (see `uniform`)."""
        salts = self._salts.get(purpose)
        if salts is None:
            salts = self._salts[purpose] = self._keys ^ _word(int(purpose) * 0x632BE59BD9B4E019)
        g = _mul(np.asarray(a).astype(np.uint64), _GOLDEN)  # int64 -> uint64 wraps, as CounterRng's view does
        x = _xor(g, salts.take(world), out=...)
        prepared = _mix(x, g)
        return _mix(_fold(prepared, b, x), g)

    def uniform(self, world: np.ndarray, a: np.ndarray, b: int | np.ndarray, purpose: int) -> np.ndarray:
        """Uniforms in [0, 1), each as its world's `CounterRng.uniform` draws it.

        Args:
            world: (n,) int world index per element (into `seeds`).
            a: (n,) integer keys, local to the world (e.g. the person's id within its world).
            b: scalar or (n,) integer key.
            purpose: a `Purpose` value.

        Returns:
            (n,) float64.
        """
        return _mul(_rshift(self.bits(world, a, b, purpose), _S11), _TO_UNIT)


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

    def state(self) -> dict[str, dict[str, Any]]:
        """The bit-generator states, for checkpoints."""
        return {n: dict(g.bit_generator.state) for n, g in self._gens.items()}

    def set_state(self, state: dict[str, dict[str, Any]]) -> None:
        """Restore states saved by `state()`."""
        for n, s in state.items():
            self.get(n).bit_generator.state = s
