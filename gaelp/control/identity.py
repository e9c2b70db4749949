"""Identity resolution: link device ids into resolved people from what an advertiser sees.

Signals (the advertiser's own logs): the public network address of each event, and logins to an
account on our site (after some clicks, on every purchase). Devices are linked by evidence, each
link with a probability that the resolver estimates from the logs themselves:

* **Accounts** (certain): a device is linked to every account it logged in to (an account is one
  person); two devices that logged in to different accounts are never one person.
* **Home addresses** (probable): devices seen at one address are probably one person when few
  devices were ever seen there (a carrier's shared address carries dozens of people). How probable
  depends on how many: a home holds one or two in-market people, each with 1..`max_person_devices`
  devices seen there, so an address with k devices is a mixture of one person with k devices and
  two people with j and k - j. `address_model` fits that mixture (EM) to the histogram of devices
  per address -- no truth needed -- and gives P(a pair of devices at an address of k is one person).
  The devices at an address are linked when that probability is at least `min_prob`.
* **Guards against chaining**: an address where two accounts logged in holds two people, and a
  component that would hold two accounts or more than `max_person_devices` devices is one person
  too many: its devices are then linked by their accounts only (a device without one stays alone).

Measured against the truth (`gaelp identity eval`), the mixture's P(one person | k) is within a
few points of the true share at 10k-100k people, so `Resolution.expected_precision` tells an
advertiser the precision of its links without any truth. Device type and session timing carry no
usable evidence in the simulated world (each device's type is drawn alone; a person's sessions
fall on a device drawn per session), so they are not scored.

`pair_scores` measures the links against the truth as precision and recall over device pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MIN_PROB = 0.6  # link a home's devices when at least 60% of its pairs are expected to be one person


@dataclass(frozen=True, slots=True)
class Resolution:
    """Devices and the resolved person of each.

    Attributes:
        device: (k,) distinct device ids seen, sorted.
        person: (k,) resolved person label of each (0 .. n_people - 1).
        expected_precision: the share of linked device pairs that the address model expects to be
            one person (accounts count as certain); NaN when nothing is linked.
    """

    device: np.ndarray
    person: np.ndarray
    expected_precision: float = float("nan")

    def of(self, device: np.ndarray) -> np.ndarray:
        """(n,) resolved person of `device` ids (all must have been seen)."""
        i = np.searchsorted(self.device, device)
        if not np.array_equal(self.device[np.minimum(i, self.device.size - 1)], device):
            raise ValueError("of(): a device id that the resolution never saw")
        return self.person[i]


@dataclass(frozen=True, slots=True)
class AddressModel:
    """Who is behind a home-like address, fitted to the number of devices seen at each.

    Attributes:
        two_people: share of addresses with two people (each with at least one device seen there).
        devices: (max_person_devices,) share of people with 1, 2, ... devices seen at their home.
        p_same: (2 * max_person_devices + 1,) P(two devices at an address with k devices are one
            person), by k (0 for k < 2).
    """

    two_people: float
    devices: np.ndarray
    p_same: np.ndarray


def address_model(n_addresses: np.ndarray, max_person_devices: int = 3, iters: int = 200) -> AddressModel:
    """Fit the one-or-two-people mixture to the histogram of devices per address (EM).

    A pure function of the histogram, kept for the histograms seen last (a campaign resolves its log
    again after each new purchase, mostly on a histogram it has fitted before); the model's arrays are
    read-only.

    Args:
        n_addresses: (2 * max_person_devices + 1,) number of addresses with k devices seen, by k
            (entries 0 and above the last are ignored).
        max_person_devices: most devices one person is seen with at home.
        iters: EM iterations (the fit has 1 + max_person_devices parameters; 200 is converged).
    """
    big = 2 * max_person_devices
    return _address_model(tuple(np.asarray(n_addresses, float)[1:big + 1].tolist()), max_person_devices, iters)


@lru_cache(maxsize=1024)
def _address_model(counts: tuple[float, ...], max_person_devices: int, iters: int) -> AddressModel:
    """`address_model` of the histogram's entries 1 .. 2 x max_person_devices."""
    big = 2 * max_person_devices
    n_k = np.zeros(big + 1)
    n_k[1:] = counts
    # every configuration: one person with j devices, or two people with (j1, j2)
    homes: list[tuple[int, ...]] = [(j,) for j in range(1, max_person_devices + 1)]
    homes += list(product(range(1, max_person_devices + 1), repeat=2))
    k = np.array([sum(h) for h in homes])
    two = np.array([len(h) == 2 for h in homes])
    with_j = np.array([[h.count(j) for j in range(1, max_person_devices + 1)] for h in homes])  # people with j
    same = np.array([sum(j * (j - 1) // 2 for j in h) for h in homes], float)
    two_people, devices = 0.2, np.full(max_person_devices, 1.0 / max_person_devices)

    def weight() -> np.ndarray:
        return np.where(two, two_people, 1 - two_people) * np.prod(devices ** with_j, axis=1)

    for _ in range(iters):
        w = weight()
        resp = w / np.maximum(np.bincount(k, weights=w, minlength=big + 1)[k], 1e-300) * n_k[k]
        if resp.sum() == 0:
            break
        two_people = resp[two].sum() / resp.sum()
        devices = (resp[:, None] * with_j).sum(axis=0)
        devices = devices / devices.sum()
    w = weight()
    linked = np.bincount(k, weights=w * k * (k - 1) / 2, minlength=big + 1)
    p_same = np.bincount(k, weights=w * same, minlength=big + 1) / np.maximum(linked, 1e-300)
    devices.flags.writeable = p_same.flags.writeable = False  # shared by every call on the same histogram
    return AddressModel(float(two_people), devices, p_same)


def _components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    g = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n_nodes, n_nodes))
    return connected_components(g, directed=False)[1]


def _count_pairs(label: np.ndarray) -> np.ndarray:
    """(n_labels,) pairs within each label's group of rows."""
    c = np.bincount(label).astype(float)
    return c * (c - 1) / 2


def resolve(device: np.ndarray, address: np.ndarray, account: np.ndarray, min_prob: float = MIN_PROB,
            max_person_devices: int = 3) -> Resolution:
    """Resolve the devices of an event log into people.

    Args:
        device: (n,) device id of each event.
        address: (n,) public network address of each event.
        account: (n,) account logged in after the event, or -1.
        min_prob: least P(one person) at which the devices of an address are linked.
        max_person_devices: most devices of one person (at home, and in a resolved person unless
            one account ties them).
    """
    devs, d = np.unique(np.asarray(device, np.int64), return_inverse=True)
    n_dev = devs.size
    account = np.asarray(account, np.int64)
    has = account >= 0
    accts, a = np.unique(account[has], return_inverse=True)
    acct_a, acct_b = d[has], n_dev + a  # device -- account edges
    # devices per address; the mixture is fitted on every address small enough to be a home
    pairs = np.unique(np.stack([np.asarray(address, np.int64), d]), axis=1)
    addrs, ad, k = np.unique(pairs[0], return_inverse=True, return_counts=True)
    big = 2 * max_person_devices
    model = address_model(np.bincount(k[k <= big], minlength=big + 1), max_person_devices)
    # an address where two accounts logged in holds two people: no link by address there
    n_acct_at = _accounts_at(pairs, ad, np.unique(np.stack([acct_a, a]), axis=1), addrs.size)
    p = np.where(k <= big, model.p_same[np.minimum(k, big)], 0.0)
    linked = (p >= min_prob) & (k >= 2) & (n_acct_at < 2)
    keep = linked[ad]
    home_a, home_b = pairs[1][keep], n_dev + accts.size + ad[keep]
    n_nodes = n_dev + accts.size + addrs.size
    comp = _components(n_nodes, np.r_[acct_a, home_a], np.r_[acct_b, home_b])
    # guard: two accounts, or more devices than one person has, is two people chained together
    n_accts = np.bincount(comp[n_dev:n_dev + accts.size], minlength=n_nodes)
    n_devs = np.bincount(comp[:n_dev], minlength=n_nodes)
    split = (n_accts[comp[:n_dev]] >= 2) | (n_devs[comp[:n_dev]] > max_person_devices)
    by_account = _components(n_dev + accts.size, acct_a, acct_b)[:n_dev]
    label = np.where(split, n_nodes + by_account, comp[:n_dev])
    person = np.unique(label, return_inverse=True)[1]
    return Resolution(devs, person, _expected_precision(person, ad[keep], pairs[1][keep], p))


def _accounts_at(pairs: np.ndarray, ad: np.ndarray, dev_acct: np.ndarray, n_addr: int) -> np.ndarray:
    """(n_addr,) distinct accounts logged in from devices seen at each address."""
    if dev_acct.size == 0:
        return np.zeros(n_addr, np.int64)
    # join (address, device) with (device, account) on device; np.unique left dev_acct sorted by device
    dev_of, acct_of = dev_acct
    lo, hi = np.searchsorted(dev_of, pairs[1]), np.searchsorted(dev_of, pairs[1], side="right")
    n = hi - lo
    rows = np.repeat(np.arange(pairs.shape[1]), n)
    offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    aa = np.unique(np.stack([ad[rows], acct_of[np.repeat(lo, n) + offs]]), axis=1)
    return np.bincount(aa[0], minlength=n_addr)


def _expected_precision(person: np.ndarray, addr: np.ndarray, dev: np.ndarray, p: np.ndarray) -> float:
    """Expected share of right links: pairs linked at an address are right at its P, the rest (accounts) surely.

    Args:
        person: (n_dev,) resolved person of each device.
        addr: (m,) linked address of each (address, device) link kept.  dev: (m,) its device.
        p: (n_addr,) P(one person) of each address.
    """
    total = _count_pairs(person).sum()
    if total == 0:
        return float("nan")
    # devices of an address that stayed together after the guards: their pairs are right at p
    (g_addr, _), g_n = np.unique(np.stack([addr, person[dev]]), axis=1, return_counts=True)
    wrong = (g_n * (g_n - 1) / 2 * (1 - p[g_addr])).sum()
    return float(1 - wrong / total)


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
