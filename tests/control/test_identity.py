"""Tests for gaelp.control.identity: links from accounts and home addresses, and their scores."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from gaelp.config import Config
from gaelp.control.identity import address_model, pair_scores, resolve
from gaelp.rng import CounterRng, Streams
from gaelp.world.identity import IdentitySignals
from gaelp.world.population import build_population


def events(rows):
    """rows of (device, address, account)."""
    a = np.array(rows, dtype=np.int64)
    return a[:, 0], a[:, 1], a[:, 2]


def labels(r):
    return dict(zip(r.device.tolist(), r.person.tolist(), strict=True))


def test_devices_at_one_home_and_devices_of_one_account_are_one_person():
    p = labels(resolve(*events([
        (10, 500, -1), (11, 500, -1),      # two devices at home 500
        (20, 900, 7), (21, 901, 7),        # two devices that logged in to account 7 elsewhere
        (30, 902, -1),                     # a device alone
    ]), min_prob=0.0))
    assert p[10] == p[11] and p[20] == p[21]
    assert len({p[10], p[20], p[30]}) == 3


def test_a_busy_address_links_nobody():
    rows = [(d, 77, -1) for d in range(8)]  # eight devices behind one carrier address
    assert np.unique(resolve(*events(rows), min_prob=0.0).person).size == 8


def test_a_home_with_two_accounts_is_split_by_account():
    p = labels(resolve(*events([(1, 5, 100), (2, 5, 200), (3, 5, 100), (4, 5, -1)]), min_prob=0.0))
    assert p[1] == p[3] and p[1] != p[2] and p[4] not in (p[1], p[2])


def test_two_homes_chained_by_a_device_are_not_one_person():
    # device 3 is seen at homes 5 and 6: five devices would chain into one person of 5 devices
    p = labels(resolve(*events([(1, 5, -1), (2, 5, -1), (3, 5, -1), (3, 6, -1), (4, 6, -1), (5, 6, -1)]),
                       min_prob=0.0))
    assert np.unique(list(p.values())).size == 5


def test_of_maps_devices_and_refuses_unknown_ones():
    r = resolve(*events([(3, 1, -1), (9, 1, -1)]))
    assert r.of(np.array([9, 3, 9])).tolist() == [r.person[1], r.person[0], r.person[1]]
    with pytest.raises(ValueError, match="never saw"):
        r.of(np.array([4]))


def test_address_model_recovers_the_mixture_it_is_fitted_to():
    # the exact histogram of 20% two-person homes, people with 1/2/3 devices at 50/35/15%
    q, two = np.array([0.5, 0.35, 0.15]), 0.2
    hist = np.zeros(7)
    hist[1:4] = (1 - two) * q
    for j1, j2 in np.ndindex(3, 3):
        hist[j1 + j2 + 2] += two * q[j1] * q[j2]
    m = address_model(hist * 100_000)
    assert m.two_people == pytest.approx(two, abs=1e-3)
    np.testing.assert_allclose(m.devices, q, atol=1e-3)
    # two devices: one person with 2 (0.8 * 0.35) against two people with 1 each (0.2 * 0.25)
    assert m.p_same[2] == pytest.approx(0.28 / (0.28 + 0.05), abs=1e-3)
    assert m.p_same[6] == pytest.approx(6 / 15, abs=1e-3)  # 3 + 3 devices: 6 of 15 pairs are one person


@pytest.fixture(scope="module")
def world_log():
    """Events of half the people of a seeded world, with the world's own addresses and logins."""
    cfg = Config(users=20_000)
    pop = build_population(cfg.world, cfg.users, Streams(0).get("population"))
    sig = IdentitySignals(cfg.world.devices, pop, CounterRng(0))
    rng = np.random.default_rng(0)
    seen = (rng.random(pop.n_devices.size) < 0.5)[pop.device_owner] & (rng.random(pop.device_owner.size) < 0.8)
    device = np.repeat(np.flatnonzero(seen), rng.poisson(3, seen.sum()) + 1)
    t = rng.integers(0, 30 * 24, device.size)
    clicked = rng.random(device.size) < 0.05
    account = np.where(clicked, sig.login(device, np.arange(device.size), np.zeros(device.size, bool)), -1)
    return device, sig.address(device, t), account, pop.device_owner


@pytest.mark.parametrize("min_prob", [0.6, 0.9])
def test_the_resolver_knows_its_own_precision_without_the_truth(world_log, min_prob):
    device, address, account, owner = world_log
    r = resolve(device, address, account, min_prob=min_prob)
    s = pair_scores(r.person, owner[r.device])
    assert s["pairs"] > 1000 and s["recall"] > 0.3, s
    assert r.expected_precision == pytest.approx(s["precision"], abs=0.02), s


def test_a_higher_min_prob_buys_precision_with_recall(world_log):
    device, address, account, owner = world_log
    low, high = (pair_scores(resolve(device, address, account, min_prob=p).person, owner[np.unique(device)])
                 for p in (0.6, 0.9))
    assert high["precision"] > 0.95 and high["precision"] > low["precision"] + 0.03
    assert low["recall"] > 0.75 and high["recall"] < 0.6


def test_links_depend_on_what_the_advertiser_sees_not_on_the_names_it_gets(world_log):
    device, address, account, _ = world_log
    rng = np.random.default_rng(1)
    rename_dev, rename_addr = rng.permutation(device.max() + 1), rng.permutation(address.max() + 1)
    rename_acct = rng.permutation(np.unique(account[account >= 0]))
    acct = account.copy()
    acct[account >= 0] = rename_acct[np.unique(account[account >= 0], return_inverse=True)[1]]
    r, s = resolve(device, address, account), resolve(rename_dev[device], rename_addr[address], acct)
    # the same partition of the same devices under new names
    assert pair_scores(s.of(rename_dev[r.device]), r.person) == {"precision": 1.0, "recall": 1.0,
                                                                 "pairs": pair_scores(r.person, r.person)["pairs"]}


def test_pair_scores_match_a_slow_reference():
    rng = np.random.default_rng(5)
    pred, truth = rng.integers(0, 6, 40), rng.integers(0, 8, 40)
    linked = [(i, j) for i, j in combinations(range(40), 2) if pred[i] == pred[j]]
    true = [(i, j) for i, j in combinations(range(40), 2) if truth[i] == truth[j]]
    both = set(linked) & set(true)
    s = pair_scores(pred, truth)
    assert s == {"precision": len(both) / len(linked), "recall": len(both) / len(true), "pairs": len(linked)}
