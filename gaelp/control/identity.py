"""Identity resolution: link device ids into resolved people from what an advertiser sees.

Signals (the advertiser's own logs): the public network address of each event, and logins to an
account on our site (after some clicks, on every purchase). The resolver builds a graph whose nodes
are devices, accounts and home-like addresses, and takes its connected components:

* a device is linked to every account it logged in to (an account is one person);
* a device is linked to an address it was seen at (on at least `min_days` different days) when at
  most `max_devices` devices were ever seen there: a home, not a carrier's shared address (which
  carries dozens of people);
* a component that holds two or more accounts is two or more people sharing a home: its devices are
  then linked by their accounts only (a device without a login there stays alone; precision first).

`pair_scores` measures the links against the truth as precision and recall over device pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True, slots=True)
class Resolution:
    """Devices and the resolved person of each.

    Attributes:
        device: (k,) distinct device ids seen, sorted.
        person: (k,) resolved person label of each (0 .. n_people - 1).
    """

    device: np.ndarray
    person: np.ndarray

    def of(self, device: np.ndarray) -> np.ndarray:
        """(n,) resolved person of `device` ids (all must have been seen)."""
        i = np.searchsorted(self.device, device)
        if not np.array_equal(self.device[np.minimum(i, self.device.size - 1)], device):
            raise ValueError("of(): a device id that the resolution never saw")
        return self.person[i]


def _components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    g = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n_nodes, n_nodes))
    return connected_components(g, directed=False)[1]


def resolve(device: np.ndarray, t: np.ndarray, address: np.ndarray, account: np.ndarray,
            max_devices: int = 3, min_days: int = 1) -> Resolution:
    """Resolve the devices of an event log into people.

    Args:
        device: (n,) device id of each event.
        t: (n,) hour of each event.
        address: (n,) public network address of each event.
        account: (n,) account logged in after the event, or -1.
        max_devices: most devices a home-like address links.
        min_days: days a device must be seen at an address for it to count as one of its homes.
    """
    devs, d = np.unique(np.asarray(device, np.int64), return_inverse=True)
    n_dev = devs.size
    has = account >= 0
    accts, a = np.unique(account[has], return_inverse=True)
    acct_a, acct_b = d[has], n_dev + a  # device -- account edges
    # (device, address) seen on >= min_days days: distinct (device, address, day), then count per pair
    day = np.asarray(t, np.int64) // 24
    dad = np.unique(np.stack([d, np.asarray(address, np.int64), day]), axis=1)
    pairs, days_seen = np.unique(dad[:2], axis=1, return_counts=True)
    # an address is home-like when few devices were ever seen there (a carrier's carries dozens)
    addrs, ad = np.unique(pairs[1], return_inverse=True)
    homelike = np.bincount(ad, minlength=addrs.size) <= max_devices
    keep = homelike[ad] & (days_seen >= min_days)
    home_a, home_b = pairs[0][keep], n_dev + accts.size + ad[keep]
    n_nodes = n_dev + accts.size + addrs.size
    comp = _components(n_nodes, np.r_[acct_a, home_a], np.r_[acct_b, home_b])
    # components with two or more accounts: people sharing a home; link by accounts alone there
    n_accts = np.bincount(comp[n_dev:n_dev + accts.size], minlength=n_nodes)
    shared = n_accts[comp[:n_dev]] >= 2
    if shared.any():
        by_account = _components(n_dev + accts.size, acct_a, acct_b)[:n_dev]
        label = np.where(shared, n_nodes + by_account, comp[:n_dev])
    else:
        label = comp[:n_dev]
    return Resolution(devs, np.unique(label, return_inverse=True)[1])


def _pairs(*labels: np.ndarray) -> float:
    _, counts = np.unique(np.stack(labels), axis=1, return_counts=True)
    return float((counts * (counts - 1) // 2).sum())


def pair_scores(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Precision and recall of the device pairs linked by `predicted` against `truth` (same order).

    Returns:
        `{"precision", "recall", "pairs"}`: pairs is the number of linked pairs; a score with no
        pairs to judge is NaN.
    """
    linked, true, both = _pairs(predicted), _pairs(truth), _pairs(predicted, truth)
    return {"precision": both / linked if linked else float("nan"),
            "recall": both / true if true else float("nan"), "pairs": int(linked)}
