"""Our clicks and purchases resolved into people, from the identity signals our own logs carry.

A purchase on one device often follows a click on another of the same person (a phone's click, the
laptop's subscription). Credited per device, such a purchase pays no click and labels none. This
module keeps what an advertiser sees of its own site visits -- each click's and purchase's public
network address and the account logged in after it, if any (`gaelp.world.identity.IdentitySignals`:
a purchase always logs in, a click sometimes) -- and links their devices into resolved people with
`gaelp.control.identity.resolve`. Never a person id: the signals are drawn for our own events only,
and the resolver sees only them.

* `devices_of`: every device of each purchaser's resolved person (the value model's labels, and the
  devices we stop bidding on).
* `credited_device`: the device of the person's most recent click within the window before each
  purchase (the purchase's own device when there is none): the reward ledger credits that device's
  clicks, so a last-click reward pays the person's last click, whichever device bought.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from gaelp.control.identity import Resolution, resolve

_KEY_STRIDE = 1 << 32  # login draw keys of clicks: hour x stride + row in the hour's batch


class IdentitySource(Protocol):
    """The identity signals of our own events (`gaelp.world.identity.IdentitySignals`)."""

    def address(self, device: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(n,) public network address of each event."""
        ...

    def login(self, device: np.ndarray, key: np.ndarray, purchase: np.ndarray) -> np.ndarray:
        """(n,) account logged in after each event, or -1."""
        ...


class ResolvedPeople:
    """Identity signals of our clicks and purchases, and their devices resolved into people.

    Args:
        signals: where the signals of our events come from.
        window_h: lookback window (hours) of the credit.
    """

    def __init__(self, signals: IdentitySource, window_h: int) -> None:
        self.signals, self.window_h = signals, int(window_h)
        self._device: list[np.ndarray] = []
        self._t: list[np.ndarray] = []
        self._address: list[np.ndarray] = []
        self._account: list[np.ndarray] = []
        self._click_t: list[np.ndarray] = []
        self._click_device: list[np.ndarray] = []
        self._purchases = 0
        self._resolution: Resolution | None = None

    def _log(self, device: np.ndarray, t: np.ndarray, account: np.ndarray) -> None:
        self._device.append(device)
        self._t.append(t)
        self._address.append(np.asarray(self.signals.address(device, t), np.int64))
        self._account.append(np.asarray(account, np.int64))
        self._resolution = None

    def record_clicks(self, t: int, device: np.ndarray, row: np.ndarray) -> None:
        """This hour's clicks: (k,) devices and (k,) rows in the hour's batch (the login draw's key)."""
        if device.size == 0:
            return
        device = np.asarray(device, np.int64)
        tt = np.full(device.size, t, np.int64)
        key = t * _KEY_STRIDE + np.asarray(row, np.int64)
        self._log(device, tt, self.signals.login(device, key, np.zeros(device.size, bool)))
        self._click_t.append(tt)
        self._click_device.append(device)

    def record_purchases(self, t: np.ndarray, device: np.ndarray) -> None:
        """Purchases our pixel reported: (m,) hours and devices (a purchase always logs in)."""
        if device.size == 0:
            return
        device = np.asarray(device, np.int64)
        key = -1 - self._purchases - np.arange(device.size, dtype=np.int64)
        self._purchases += device.size
        self._log(device, np.asarray(t, np.int64), self.signals.login(device, key, np.ones(device.size, bool)))

    @property
    def resolution(self) -> Resolution:
        """The devices seen so far, resolved into people (recomputed after new events)."""
        if self._resolution is None:
            if not self._device:
                return Resolution(np.zeros(0, np.int64), np.zeros(0, np.int64))
            self._resolution = resolve(np.concatenate(self._device), np.concatenate(self._address),
                                       np.concatenate(self._account))
        return self._resolution

    def devices_of(self, device: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every device of the resolved person of each of `device` (m,) (recorded before).

        Returns:
            (j,) index into `device` of each pair and (j,) the linked device (each device itself included).
        """
        res = self.resolution
        order = np.argsort(res.person, kind="stable")
        start = np.searchsorted(res.person[order], np.arange(int(res.person.max(initial=-1)) + 2))
        person = res.of(np.asarray(device, np.int64))
        count = start[person + 1] - start[person]
        idx = np.repeat(np.arange(device.size), count)
        offset = np.arange(idx.size) - np.repeat(np.cumsum(count) - count, count)
        return idx, res.device[order[start[person][idx] + offset]]

    def credited_device(self, t: np.ndarray, device: np.ndarray) -> np.ndarray:
        """(m,) the device whose clicks a purchase at hours `t` on `device` credits: the person's device
        with the latest click in `[t - window_h, t]`, else the purchase's own device."""
        device = np.asarray(device, np.int64)
        if not self._click_t or device.size == 0:
            return device
        res = self.resolution
        ct, cd = np.concatenate(self._click_t), np.concatenate(self._click_device)
        stride = int(ct.max(initial=0)) + int(np.max(t, initial=0)) + 1
        ckey = res.of(cd) * stride + ct
        order = np.argsort(ckey, kind="stable")
        pkey = res.of(device) * stride + np.asarray(t, np.int64)
        pos = np.searchsorted(ckey[order], pkey, side="right") - 1
        hit = order[np.maximum(pos, 0)]
        same = (pos >= 0) & (ckey[hit] // stride == pkey // stride) & (t - ct[hit] <= self.window_h)
        return np.where(same, cd[hit], device)

    def state_dict(self) -> dict[str, Any]:
        """The event log (the signals' source is attached again, not saved)."""
        def cat(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)

        return {"device": cat(self._device), "t": cat(self._t), "address": cat(self._address),
                "account": cat(self._account), "click_t": cat(self._click_t), "click_device": cat(self._click_device),
                "purchases": self._purchases}

    def load_state_dict(self, s: dict[str, Any]) -> None:
        """Restore `state_dict` output."""
        for name in ("device", "t", "address", "account", "click_t", "click_device"):
            setattr(self, f"_{name}", [np.array(s[name], np.int64)])
        self._purchases = int(s["purchases"])
        self._resolution = None
