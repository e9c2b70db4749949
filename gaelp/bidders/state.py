"""Learned state of bidders in a checkpoint file: save, load, freeze."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gaelp.bidders.protocol import Bidder


def freeze(bidders: Sequence[Bidder], frozen: bool = True) -> None:
    """Set `frozen` on every bidder that learns (others are left alone)."""
    for b in bidders:
        if getattr(b, "learns", False):
            b.frozen = frozen  # type: ignore[attr-defined]


# --- checkpoints ------------------------------------------------------------------------------------
def flatten_state(state: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """A nested state dict as flat `a/b/c` -> array entries (for `.npz` files or a table)."""
    out: dict[str, np.ndarray] = {}
    for k, v in state.items():
        if "/" in k:
            raise ValueError(f"state key {k!r} may not contain '/'")
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_state(v, key + "/"))
        else:
            arr = np.asarray(v)
            if arr.dtype == object:
                raise ValueError(f"state entry {key!r} is not numeric (got {type(v).__name__})")
            out[key] = arr
    return out


def unflatten_state(flat: dict[str, np.ndarray]) -> dict[str, Any]:
    """Inverse of `flatten_state`; 0-d arrays come back as Python scalars."""
    out: dict[str, Any] = {}
    for key, arr in flat.items():
        *path, leaf = key.split("/")
        node = out
        for p in path:
            node = node.setdefault(p, {})
        node[leaf] = arr.item() if arr.ndim == 0 else arr
    return out


def save_bidder_states(bidders: Sequence[Bidder], path: str | Path) -> None:
    """Write every bidder's `state_dict` to one `.npz` checkpoint, keyed by bidder name.

    The file is written beside the target and renamed into place, so a crash never leaves half a
    checkpoint.
    """
    names = [b.name for b in bidders]
    if len(set(names)) != len(names):
        raise ValueError(f"bidder names must be unique to checkpoint them, got {names}")
    flat: dict[str, np.ndarray] = {}
    for b in bidders:
        flat.update(flatten_state(b.state_dict(), f"{b.name}/"))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, allow_pickle=False, **flat)
    os.replace(tmp, path)


def load_bidder_states(bidders: Sequence[Bidder], path: str | Path) -> list[str]:
    """Restore the bidders found in the checkpoint at `path`; returns the names restored.

    Bidders without an entry keep their state (a new competitor starts fresh).
    """
    with np.load(Path(path), allow_pickle=False) as z:
        nested = unflatten_state({k: z[k] for k in z.files})
    restored = []
    for b in bidders:
        if b.name in nested:
            b.load_state_dict(nested[b.name])
            restored.append(b.name)
    return restored
