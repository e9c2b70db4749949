"""Checkpoints: the full state of a `Simulation` between two days, as bytes.

`snapshot(sim)` gathers everything that changes while the world runs (journeys, touches, pending
purchases, KPIs, spend, RNG streams, safety) from the simulation's public attributes and state dicts;
`restore(sim, snap)` puts it back into a simulation freshly built from the same config. Bidders are
kept apart (`bidder_states` / `load_bidder_states`): their learned state is a table of its own.

`pack` / `unpack` turn a tree of dicts, lists, scalars and numpy arrays into bytes and back, exactly
(a JSON header, then the arrays' raw bytes; no pickle, so loading runs no code) and deterministically
(equal trees, equal bytes).

Example:
    >>> tree = {"a": np.arange(3), "b": {"c": [1.5, None, "x"]}, "big": 2**100}
    >>> back = unpack(pack(tree))
    >>> bool((back["a"] == tree["a"]).all()) and back["b"] == tree["b"] and back["big"] == 2**100
    True
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # the store sits below the simulation: use it, never import it at run time
    from gaelp.simulation import Simulation

_ARRAY, _TUPLE = "__array__", "__tuple__"
MAGIC = b"GAELPCK1"


def pack(tree: Any) -> bytes:
    """Bytes of a tree of dicts (str keys), lists, tuples, str / int / float / bool / None and arrays.

    The same tree always packs to the same bytes: `MAGIC`, the length of a JSON header, the header
    (the tree with arrays replaced by references, and each array's dtype, shape and offset), then the
    arrays' raw bytes.

    Raises:
        TypeError: naming the path of a value of another type (or an object array).
    """
    arrays: list[np.ndarray] = []
    specs: list[dict[str, Any]] = []
    offset = 0

    def enc(x: Any, path: str) -> Any:
        nonlocal offset
        if isinstance(x, np.ndarray):
            if x.dtype.hasobject:
                raise TypeError(f"cannot checkpoint {path}: object arrays are not supported")
            a = x if x.flags.c_contiguous else x.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
            arrays.append(a)
            specs.append({"dtype": a.dtype.str, "shape": list(a.shape), "offset": offset})
            offset += a.nbytes
            return {_ARRAY: len(arrays) - 1}
        if isinstance(x, np.generic):
            return x.item()
        if isinstance(x, dict):
            bad = [k for k in x if not isinstance(k, str)]
            if bad:
                raise TypeError(f"cannot checkpoint {path}: dict keys must be strings, got {bad[0]!r}")
            return {k: enc(v, f"{path}.{k}") for k, v in x.items()}
        if isinstance(x, tuple):
            return {_TUPLE: [enc(v, f"{path}[{i}]") for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [enc(v, f"{path}[{i}]") for i, v in enumerate(x)]
        if x is None or isinstance(x, str | bool | int | float):
            return x
        raise TypeError(f"cannot checkpoint {path}: unsupported type {type(x).__name__}")

    tree_json = enc(tree, "state")
    header = json.dumps({"tree": tree_json, "arrays": specs}).encode()
    return b"".join([MAGIC, len(header).to_bytes(8, "little"), header, *(a.tobytes() for a in arrays)])


def unpack(data: bytes) -> Any:
    """The tree `pack` was given (arrays come back as writable copies).

    Raises:
        ValueError: if `data` is not a packed tree.
    """
    data = bytes(data)
    if data[:len(MAGIC)] != MAGIC:
        raise ValueError("not a GAELP checkpoint (bad magic bytes)")
    start = len(MAGIC) + 8
    size = int.from_bytes(data[len(MAGIC):start], "little")
    header = json.loads(data[start:start + size])
    base = start + size
    arrays = []
    for spec in header["arrays"]:
        dt, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        if count == 0:
            arrays.append(np.empty(shape, dt))
            continue
        a = np.frombuffer(data, dtype=dt, count=count, offset=base + spec["offset"])
        arrays.append(a.reshape(shape).copy())

    def dec(x: Any) -> Any:
        if isinstance(x, dict):
            if _ARRAY in x and len(x) == 1:
                return arrays[x[_ARRAY]]
            if _TUPLE in x and len(x) == 1:
                return tuple(dec(v) for v in x[_TUPLE])
            return {k: dec(v) for k, v in x.items()}
        if isinstance(x, list):
            return [dec(v) for v in x]
        return x

    return dec(header["tree"])


def snapshot(sim: Simulation) -> dict[str, Any]:
    """The simulation's own `state_dict` (everything but the bidders)."""
    return sim.state_dict()


def restore(sim: Simulation, snap: dict[str, Any]) -> None:
    """Load `snapshot` output into `sim`, a simulation just built from the same config."""
    sim.load_state_dict(snap)


def bidder_states(sim: Simulation) -> list[bytes]:
    """Each advertiser's packed `state_dict()`, ours first."""
    return [pack(b.state_dict()) for b in sim.bidders]


def load_bidder_states(sim: Simulation, states: list[bytes]) -> None:
    """Restore `bidder_states` output (one blob per advertiser, in column order)."""
    if len(states) != len(sim.bidders):
        raise ValueError(f"the store holds the state of {len(states)} advertisers, the simulation has "
                         f"{len(sim.bidders)}")
    for b, s in zip(sim.bidders, states):
        b.load_state_dict(unpack(s))
