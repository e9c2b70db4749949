"""Arrays of a batch of worlds: one state array of every world's object as one (W, ...) array, and sums
taken per world as each world alone takes them.

Worlds stepped together (`gaelp.experiments.batched.BatchedWorlds`) keep each stage's per-world state in
one array with a leading world axis, which the worlds' own objects view (`Stacked`), so that one array
program updates every world and each world's object still holds its own numbers. numpy adds a 1-D sum
pairwise, so a sum that must equal a world alone's `ndarray.sum` is taken on the world's own slice
(`segment_sums`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat
from operator import attrgetter, getitem, is_
from typing import Any

import numpy as np


def segment_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """(k, W) each of k rows of `values` (k, N) summed over each world's slice `bounds[w]:bounds[w + 1]`.

    Each is numpy's pairwise sum of the slice, so it equals the world alone's `ndarray.sum` of its rows
    bit for bit (one sum per world, not `np.add.reduceat`, which adds in plain order).
    """
    cut = bounds.tolist()
    out = np.empty((len(cut) - 1, values.shape[0]))
    add = np.add.reduce  # what ndarray.sum calls, without its Python wrapper (one call per world)
    for w in range(len(cut) - 1):
        add(values[:, cut[w]:cut[w + 1]], axis=1, out=out[w])
    return out.T


class Stacked:
    """Attribute `name` of every world's object as the rows of one (W, ...) array; the objects hold views.

    An object that rebinds its attribute (`load_state_dict`, an update that builds a new array) is seen at
    the next `get`, which stacks the worlds' arrays again.

    Args:
        objects: one per world, in world order.
        name: the attribute, an array of the same shape in every object.
        key: if given, the attribute is a dict and the array is its entry `key`.
        axis: the world axis of the stacked array (1: (n, W, ...), the objects' views strided), for an array
            reduced over its first axis (which numpy then does over long rows).
    """

    def __init__(self, objects: Sequence[Any], name: str, key: str | None = None, axis: int = 0) -> None:
        self.objects, self.name, self.key, self.axis = list(objects), name, key, axis
        # each object's current array
        self._of: Callable[[Any], np.ndarray] = attrgetter(name) if key is None else lambda o: getattr(o, name)[key]
        self._attr = attrgetter(name)
        self._stack()

    def _stack(self) -> None:
        self.array = np.stack([self._of(o) for o in self.objects], axis=self.axis)
        for o, row in zip(self.objects, np.moveaxis(self.array, self.axis, 0), strict=True):
            if self.key is None:
                setattr(o, self.name, row)
            else:
                getattr(o, self.name)[self.key] = row
        self._views = [self._of(o) for o in self.objects]

    def get(self) -> np.ndarray:
        """(W, ...) the worlds' current arrays, the world axis at `axis` (writes into it are the objects' own)."""
        # every object's array looked up in C (operator functions, no Python frame per world)
        arrays = map(self._attr, self.objects) if self.key is None else \
            map(getitem, map(self._attr, self.objects), repeat(self.key))
        if not all(map(is_, arrays, self._views)):
            self._stack()
        return self.array
