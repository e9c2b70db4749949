"""gaelp.kpis: a batch of worlds' hours accounted at once give each world the totals it gets alone."""

import numpy as np

from gaelp.bidders.protocol import OURS
from gaelp.bidders.worlds import WorldRows
from gaelp.config import load_config
from gaelp.kpis import Kpis, WorldsKpis
from gaelp.market.clearing import Cleared
from gaelp.records import Purchases
from gaelp.simulation import Simulation


def _purchases(rng: np.random.Generator, t: int, n_adv: int, n_ch: int) -> Purchases:
    """Up to 60 purchases, ours and rivals', credited to clicks, impressions or nothing (none in some hours)."""
    m = int(rng.integers(0, 61))
    adv = rng.integers(0, n_adv, m) * rng.integers(0, 2, m)  # half of them ours
    credit = np.where(adv == OURS, rng.integers(-1, n_ch, m), -1)
    return Purchases(np.full(m, t), rng.integers(0, 100, m), rng.integers(0, 100, m), adv, rng.uniform(1, 300, m),
                     rng.integers(0, 2, m).astype(np.int8), credit, (credit >= 0) & (rng.uniform(size=m) < 0.3),
                     np.zeros(m, np.int64))


def test_worlds_kpis_account_every_world_as_alone():
    """Three worlds' real hours (hours without opportunities in a 60-person world), with random purchases of
    every kind (up to 60 per hour and world, of random values, so that their order of addition
    shows) accounted alone and as a batch; the daily tables grow day by day, so the batch restacks them."""
    cfg = load_config(None, users=1500, days=2)
    sims = [Simulation(cfg.replace(seed=s, users=u)) for s, u in ((1, 1500), (2, 60), (3, 1500))]
    hours: list[list] = [[] for _ in sims]
    for sim, h in zip(sims, hours, strict=True):
        sim.observe(h.append)
        sim.run()
    first = sims[0]
    shape = (first.n_channels, first.n_adv, 1, first.market.max_slots, first.response.n_creatives)
    alone = [Kpis.empty(*shape) for _ in sims]
    together = [Kpis.empty(*shape) for _ in sims]
    batch = WorldsKpis(together)
    bought = 0
    rng = np.random.default_rng(7)
    for t in range(24 * cfg.days):
        for k in alone + together:
            k.grow(t // 24 + 1)
        records = [h[t]._replace(purchases=_purchases(rng, t, first.n_adv, first.n_channels)) for h in hours]
        spend = [k.account(r) for k, r in zip(alone, records, strict=True)]
        rows = WorldRows.of([r.batch for r in records])
        cl = [r.impressions for r in records]
        every = Cleared(np.concatenate([c.row + lo for c, lo in zip(cl, rows.bounds, strict=False)]),
                        *(np.concatenate([getattr(c, f) for c in cl])
                          for f in ("slot", "advertiser", "price", "clicked", "cost", "ctr")),
                        np.concatenate([r.bids for r in records], axis=1))
        got = batch.account(t, rows.world, rows.channel, rows.bounds, every,
                            np.concatenate([r.creative for r in records]), [r.purchases for r in records])
        assert np.array_equal(got, np.stack(spend))
        bought += sum(r.purchases.size for r in records)
    for a, b in zip(alone, together, strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for key in sa:
            assert np.asarray(sa[key]).tobytes() == np.asarray(sb[key]).tobytes(), key
    assert bought and all(k.view_through and k.organic for k in alone)
    assert any(r.batch.size == 0 for r in hours[1])  # the small world had hours without opportunities
