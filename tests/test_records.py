"""The hour record: what `step_hour` returns and observers get, and the day log built from records."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.bidders.protocol import OURS
from gaelp.config import Config
from gaelp.records import CONVERSION_FIELDS, HourRecord
from gaelp.simulation import SLOT_KEYS, Simulation


def small(**kw) -> Config:
    return Config().replace(users=kw.pop("users", 3000), days=kw.pop("days", 3), **kw)


def test_step_hour_returns_the_frozen_record_every_observer_gets():
    seen: list[HourRecord] = []
    sim = Simulation(small(), "fixed", observers=[seen.append])
    also: list[int] = []
    sim.observe(lambda rec: also.append(rec.t))
    records = [sim.step_hour() for _ in range(30)]
    assert [r.t for r in records] == list(range(30)) == also
    assert all(a is b for a, b in zip(records, seen))
    with pytest.raises(AttributeError):
        records[0].t = 5  # type: ignore[misc]


def test_the_records_shapes_agree_and_add_up_to_the_kpis():
    sim = Simulation(small(), "target_cpa")
    records = [sim.step_hour() for _ in range(24 * 3)]
    spend = np.zeros(sim.n_adv)
    ours_click_buys = buys = 0
    for rec in records:
        n, cl, tr = rec.batch.size, rec.impressions, rec.truth
        assert rec.bids.shape == (sim.n_adv, n) and rec.batch.truth is None
        assert tr.person.shape == tr.stage.shape == tr.segment.shape == tr.key.shape == (n,)
        k = cl.row.size
        assert all(a.shape == (k,) for a in (cl.slot, cl.advertiser, cl.price, cl.clicked, cl.cost, cl.ctr,
                                             tr.imp_person, tr.imp_key))
        assert np.array_equal(tr.imp_person, tr.person[cl.row])
        assert np.array_equal(tr.imp_key, tr.key[cl.row] * SLOT_KEYS + cl.slot)
        assert ((cl.ctr > 0) & (cl.ctr < 1)).all()
        # a winner's bid in force covers its price, and every click is one of the impressions
        assert (rec.bids[cl.advertiser, cl.row] >= cl.price).all()
        assert np.array_equal(tr.click, np.flatnonzero(cl.clicked)) and tr.p_purchase.shape == tr.click.shape
        spend += np.bincount(cl.advertiser, weights=cl.cost, minlength=sim.n_adv)
        p = rec.purchases
        assert set(p.columns()) == set(CONVERSION_FIELDS) and all(v.shape == (p.size,) for v in p.columns().values())
        ours_click_buys += int(((p.advertiser == OURS) & p.by_click).sum())
        buys += p.size
    np.testing.assert_allclose(spend, sim.kpis.daily["spend"].sum(axis=0))
    assert ours_click_buys == sim.kpis.channel["conversions"].sum()
    assert spend[OURS] > 0 and buys > 0  # the checks above were not idle


def test_the_day_log_is_the_day_of_records():
    sim = Simulation(small(days=1), "fixed")
    hours: list[HourRecord] = []
    sim.observe(hours.append)
    log = sim.run_day()
    assert log.records == tuple(hours)
    assert log.impressions["t"].size == sum(r.impressions.row.size for r in hours)
    assert np.array_equal(log.conversions["person"], np.concatenate([r.purchases.person for r in hours]))
