"""Device identifiers -> the int64 device ids a bidder sees.

An identifier (advertising id, user id) is reduced to a 64-bit key by BLAKE2b, which is stable
across processes and machines (Python's `hash` of a string is salted per process), and the key to a
dense index: the bidders keep per-device tables as arrays indexed by device id
(`gaelp.bidders.devices.DeviceLog`), as in the simulator, where device ids are dense too.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

ANONYMOUS = 0
"""The device id of a request without any identifier: it never matches an event."""


def stable_key(identifier: str) -> int:
    """64-bit key of an identifier, the same in every process (BLAKE2b, 8 bytes, signed)."""
    return int.from_bytes(hashlib.blake2b(identifier.encode(), digest_size=8).digest(), "little", signed=True)


class DeviceIndex:
    """Dense device ids, 1, 2, ... in order of first sight; 0 for no identifier."""

    def __init__(self) -> None:
        self._ids: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def id_of(self, identifier: str) -> int:
        """The device id of `identifier` ('' -> `ANONYMOUS`), assigned on first sight."""
        if not identifier:
            return ANONYMOUS
        key = stable_key(identifier)
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = len(self._ids) + 1
        return found

    def ids_of(self, identifiers: list[str]) -> np.ndarray:
        """(n,) int64 device ids of many identifiers."""
        return np.fromiter((self.id_of(i) for i in identifiers), np.int64, len(identifiers))

    def state_dict(self) -> dict[str, Any]:
        """Keys in id order (id i + 1 is key i)."""
        return {"keys": np.fromiter(self._ids, np.int64, len(self._ids))}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self._ids = {int(k): i + 1 for i, k in enumerate(np.asarray(s["keys"], np.int64))}
