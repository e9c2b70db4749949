"""What an advertiser knows about devices from its own logs: clicks and conversions by device id."""

from __future__ import annotations

from typing import Any

import numpy as np

_NEVER = -(10**9)  # the click hour of a device never clicked
# Hours fit int32 and contexts int16: at 3 devices per person a table costs 7 bytes per device rather
# than 17, which a million-person audience notices (three rivals keep one each).
_T, _CTX = np.int32, np.int16


class DeviceLog:
    """An advertiser's own device table: the last click (time, context) and known conversions.

    Device ids are what an advertiser's pixel sees; the table grows as new ids appear. Conversions
    are matched to the last click of the same device inside the lookback window, as an ad
    platform's click-through attribution does (a purchase on another device goes unmatched).
    """

    def __init__(self, capacity: int = 0) -> None:
        """`capacity`: device ids expected (the audience's size); the table grows past it if needed."""
        self.last_click_t = np.full(capacity, _NEVER, _T)
        self.last_click_ctx = np.zeros(capacity, _CTX)
        self.converted = np.zeros(capacity, bool)

    def _grow(self, max_id: int) -> None:
        n = self.converted.size
        if max_id < n:
            return
        m = max(max_id + 1, 2 * n, 1024)
        self.last_click_t = np.concatenate([self.last_click_t, np.full(m - n, _NEVER, _T)])
        self.last_click_ctx = np.concatenate([self.last_click_ctx, np.zeros(m - n, _CTX)])
        self.converted = np.concatenate([self.converted, np.zeros(m - n, bool)])

    def is_converted(self, device: np.ndarray) -> np.ndarray:
        """(n,) bool: the device has converted before."""
        known = device < self.converted.size
        out = np.zeros(device.shape, bool)
        out[known] = self.converted[device[known]]
        return out

    def record_clicks(self, t: int, device: np.ndarray, ctx: np.ndarray) -> None:
        """Remember the hour and context of each device's latest click."""
        if device.size:
            self._grow(int(device.max()))
            self.last_click_t[device] = t
            self.last_click_ctx[device] = ctx

    def record_conversions(self, t: np.ndarray, device: np.ndarray, window_h: int) -> np.ndarray:
        """Contexts of the clicks these conversions are matched to (-1: no click in the window)."""
        if device.size == 0:
            return np.empty(0, np.int64)
        self._grow(int(device.max()))
        self.converted[device] = True
        matched = t - self.last_click_t[device].astype(np.int64) <= window_h
        return np.where(matched, self.last_click_ctx[device].astype(np.int64), -1)

    def state_dict(self) -> dict[str, Any]:
        """Copies of the table."""
        return {"last_click_t": self.last_click_t.copy(), "last_click_ctx": self.last_click_ctx.copy(),
                "converted": self.converted.copy()}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        self.last_click_t = np.array(s["last_click_t"], _T)
        self.last_click_ctx = np.array(s["last_click_ctx"], _CTX)
        self.converted = np.asarray(s["converted"], bool).copy()
