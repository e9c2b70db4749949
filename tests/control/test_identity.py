"""Tests for gaelp.control.identity: links from accounts and home addresses, and their scores."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from gaelp.control.identity import pair_scores, resolve


def events(rows):
    """rows of (device, hour, address, account)."""
    a = np.array(rows, dtype=np.int64)
    return a[:, 0], a[:, 1], a[:, 2], a[:, 3]


def test_devices_at_one_home_and_devices_of_one_account_are_one_person():
    r = resolve(*events([
        (10, 0, 500, -1), (11, 30, 500, -1),      # two devices at home 500
        (20, 5, 900, 7), (21, 60, 901, 7),         # two devices that logged in to account 7 elsewhere
        (30, 8, 902, -1),                          # a device alone
    ]))
    p = dict(zip(r.device.tolist(), r.person.tolist(), strict=True))
    assert p[10] == p[11] and p[20] == p[21]
    assert len({p[10], p[20], p[30]}) == 3


def test_a_busy_address_links_nobody():
    rows = [(d, d, 77, -1) for d in range(8)]  # eight devices behind one carrier address
    r = resolve(*events(rows), max_devices=3)
    assert np.unique(r.person).size == 8


def test_a_home_with_two_accounts_is_split_by_account():
    r = resolve(*events([(1, 0, 5, 100), (2, 1, 5, 200), (3, 2, 5, 100), (4, 40, 5, -1)]), max_devices=4)
    p = dict(zip(r.device.tolist(), r.person.tolist(), strict=True))
    assert p[1] == p[3] and p[1] != p[2] and p[4] not in (p[1], p[2])


def test_of_maps_devices_and_refuses_unknown_ones():
    r = resolve(*events([(3, 0, 1, -1), (9, 0, 1, -1)]))
    assert r.of(np.array([9, 3, 9])).tolist() == [r.person[1], r.person[0], r.person[1]]
    with pytest.raises(ValueError, match="never saw"):
        r.of(np.array([4]))


def test_pair_scores_match_a_slow_reference():
    rng = np.random.default_rng(5)
    pred, truth = rng.integers(0, 6, 40), rng.integers(0, 8, 40)
    linked = [(i, j) for i, j in combinations(range(40), 2) if pred[i] == pred[j]]
    true = [(i, j) for i, j in combinations(range(40), 2) if truth[i] == truth[j]]
    both = set(linked) & set(true)
    s = pair_scores(pred, truth)
    assert s == {"precision": len(both) / len(linked), "recall": len(both) / len(true), "pairs": len(linked)}
