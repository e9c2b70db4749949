"""Rivals batched across worlds: each world's rows get what its own rival gives them alone, bit for bit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gaelp.bidders.batched_rivals import batch_rivals
from gaelp.bidders.protocol import BidderContext, BidderOutcome, OpportunityBatch
from gaelp.bidders.registry import make_bidder
from gaelp.bidders.value_models import ClickValueModel, WorldsClickValue
from gaelp.bidders.worlds import SlotOutcomes, WorldOutcomes, WorldRows
from gaelp.config import build_config
from gaelp.stacked import Stacked, segment_sums

KINDS = ("q_learning", "policy_gradient", "rival_tcpa", "rule")
CFG = build_config({"users": 1000})


def _rivals(kind: str, seeds=(0, 1, 2)) -> list:
    comp = CFG.market.competitors[0].model_copy(update={"kind": kind, "bid_sigma": 0.8})
    return [make_bidder(kind, BidderContext(CFG, 100.0, np.random.default_rng(s), comp)) for s in seeds]


def _batch(rng: np.random.Generator, n: int, t: int) -> OpportunityBatch:
    return OpportunityBatch(t=t, weekday=1, channel=rng.integers(0, 3, n).astype(np.int8),
                            device=rng.integers(0, 3000, n).astype(np.int64),
                            device_type=rng.integers(0, 2, n).astype(np.int8),
                            intent=rng.integers(0, 3, n).astype(np.int8), reserve=np.full(n, 0.2),
                            channel_names=("search", "social", "display"), weight=rng.uniform(0.3, 1.5, n))


def _outcome(batch: OpportunityBatch, bids: np.ndarray, rng: np.random.Generator) -> BidderOutcome:
    rival = rng.lognormal(0.5, 0.6, batch.size)
    won = bids > rival
    clicked = won & (rng.random(batch.size) < 0.3)
    dev = rng.integers(0, 3000, rng.integers(0, 4))  # pixel conversions, some matched to earlier clicks
    return BidderOutcome(batch, bids, np.where(won, 0, -1).astype(np.int8), np.where(won, rival, 0.0), clicked,
                         np.where(clicked, batch.weight * rival, 0.0), np.full(dev.size, batch.t), dev,
                         np.full(dev.size, 80.0), rng.uniform(0.3, 1.5, dev.size))


def _same_state(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    return np.array_equal(np.asarray(a), np.asarray(b))


def _slot_outcomes(rows: WorldRows, outcomes: list[BidderOutcome]) -> WorldOutcomes:
    """`WorldOutcomes.of`, its worlds' outcomes built when read from the columns end to end (as a batch does)."""
    columns = [np.concatenate([getattr(o, f) for o in outcomes]) for f in ("bids", "slot", "price", "clicked", "cost")]
    pixels = [(o.conv_t, o.conv_device, o.conv_value, o.conv_weight) for o in outcomes]
    lazy = SlotOutcomes(rows, columns, pixels)
    assert lazy.converting() == [w for w, o in enumerate(outcomes) if o.conv_device.size]
    assert all(_same_state(_fields(x), _fields(y)) for x, y in zip(lazy, outcomes, strict=True))
    return WorldOutcomes(rows, columns[0], columns[3], columns[4], np.flatnonzero(columns[3]), lazy)


def _fields(o: BidderOutcome) -> dict:
    return {f: getattr(o, f) for f in ("bids", "slot", "price", "clicked", "cost", "conv_t", "conv_device",
                                       "conv_value", "conv_weight")} | {"batch": o.batch.device}


@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_a_batched_rival_bids_and_learns_as_each_world_alone(kind, lazy):
    alone, together = _rivals(kind), _rivals(kind)
    (batched,) = batch_rivals([[r] for r in together], ours=-1).values()
    rng = np.random.default_rng(5)
    for t in range(40):
        sizes = [int(rng.integers(0, 300)) if t % 7 else 0 for _ in alone]  # world 0 empty every 7th hour
        sizes[1] = max(sizes[1], 50)
        batches = [_batch(rng, n, t) for n in sizes]
        rows = WorldRows.of(batches)
        bids = batched.bid(rows)
        expect = [r.bid(b) for r, b in zip(alone, batches, strict=True)]
        assert all(np.array_equal(x, y) for x, y in zip(rows.split(bids), expect, strict=True))
        outcomes = [_outcome(b, x, np.random.default_rng(100 * t + w)) for w, (b, x) in enumerate(zip(batches, expect))]
        for r, o in zip(alone, outcomes, strict=True):
            r.observe(o)
        batched.observe(_slot_outcomes(rows, outcomes) if lazy else WorldOutcomes.of(rows, outcomes))
        for x, y in zip(alone, together, strict=True):
            assert _same_state(x.state_dict(), y.state_dict()), (kind, t)
    if kind != "rule":
        assert together[0].model.credit_.sum() > 0  # conversions were credited
        assert not _same_state(together[0].state_dict(), together[1].state_dict())  # worlds learn their own


def test_segment_sums_are_each_slices_own_sum():
    rng = np.random.default_rng(3)
    lengths = [0, 1, 7, 9, 130, 5000, 0, 20_000]
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    values = rng.normal(size=(2, bounds[-1])) * 1e3
    out = segment_sums(values, bounds)
    expect = [[values[k, a:b].sum() for a, b in itertools.pairwise(bounds)] for k in range(2)]
    assert np.array_equal(out, np.array(expect))
    assert not np.array_equal(np.add.reduceat(values[1], bounds[[2, 3, 4, 5, 7]]), out[1, [2, 3, 4, 5, 7]])


def test_stacked_tables_are_the_worlds_own_and_follow_a_rebinding():
    models = [ClickValueModel(3, 100.0, 48, 0.02, 50.0, 0.45) for _ in range(3)]
    stacked = Stacked(models, "credit_")
    stacked.get()[1, 4] = 2.5
    assert models[1].credit_[4] == 2.5 and models[0].credit_[4] == 0.0
    models[2].load_state_dict({**models[2].state_dict(), "credit": np.full(9, 7.0)})  # rebinds its array
    assert stacked.get()[2].tolist() == [7.0] * 9 and stacked.get()[1, 4] == 2.5
    stacked.get()[2, 0] = 1.0
    assert models[2].credit_[0] == 1.0


def test_click_values_of_worlds_at_different_clocks():
    rng = np.random.default_rng(4)
    models = [ClickValueModel(3, 100.0, 48, 0.02, 50.0, 0.45) for _ in range(3)]
    for i, m in enumerate(models):
        m.recent_[:] = rng.random(m.recent_.shape)
        m.credit_[:] = rng.random(9) * 10
        m.t_ = 5 + 17 * i
    assert np.array_equal(WorldsClickValue(models).value_per_click(), np.stack([m.value_per_click() for m in models]))


def test_a_slot_whose_rivals_differ_is_left_to_each_world():
    a, b = _rivals("q_learning", (0,)) + _rivals("q_learning", (1,))
    b.levels = b.levels * 1.1
    c = _rivals("policy_gradient", (2,))[0]
    assert batch_rivals([[a], [b]], ours=-1) == {}
    assert batch_rivals([[a], [c]], ours=-1) == {}
    assert list(batch_rivals([[a, a], [a, a]], ours=0)) == [1]
