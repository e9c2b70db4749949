"""Tests for gaelp.world.identity: the identity signals follow their rates and change no other draw."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.config import Config
from gaelp.rng import CounterRng, Streams
from gaelp.world.identity import NO_ACCOUNT, IdentitySignals
from gaelp.world.population import build_population


@pytest.fixture(scope="module")
def signals() -> IdentitySignals:
    cfg = Config(users=20_000)
    pop = build_population(cfg.world, cfg.users, Streams(0).get("population"))
    return IdentitySignals(cfg.world.devices, pop, CounterRng(0))


def test_homes_are_shared_at_the_configured_rate(signals):
    d = Config().world.devices
    _, size = np.unique(signals.home, return_counts=True)
    assert size.max() == 2
    shared_people = (size == 2).sum() * 2 / signals.home.size
    assert shared_people == pytest.approx(d.household_share, abs=0.02)


def test_addresses_are_home_at_the_device_types_rate_and_otherwise_shared_by_many(signals):
    pop = signals.pop
    dev = np.repeat(np.arange(pop.device_type.size), 4)
    t = np.tile([3, 50, 100, 200], pop.device_type.size)
    addr = signals.address(dev, t)
    at_home = addr == signals.home[pop.device_owner[dev]]
    d = Config().world.devices
    for kind, share in ((0, d.home_share_mobile), (1, d.home_share_desktop)):
        assert at_home[pop.device_type[dev] == kind].mean() == pytest.approx(share, abs=0.02)
    _, per_carrier = np.unique(addr[~at_home], return_counts=True)
    assert np.median(per_carrier) > 20
    assert np.array_equal(addr, signals.address(dev, t)), "same world, same addresses"


def test_purchases_always_log_in_clicks_at_the_login_rate_and_accounts_are_per_person(signals):
    pop = signals.pop
    dev = np.arange(pop.device_type.size)
    acct = signals.login(dev, dev * 8 + 1, np.zeros(dev.size, bool))
    assert (acct != NO_ACCOUNT).mean() == pytest.approx(Config().world.devices.login_rate, abs=0.02)
    bought = signals.login(dev, dev, np.ones(dev.size, bool))
    assert (bought != NO_ACCOUNT).all()
    owner = pop.device_owner[dev]
    # one account per person and one person per account
    assert np.unique(np.stack([owner, bought]), axis=1).shape[1] == np.unique(owner).size == np.unique(bought).size
