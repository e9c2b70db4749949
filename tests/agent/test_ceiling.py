"""The value-model ceiling (evaluation-only): the fits recover what they should, the bound bidder never
reads the truth, and the recorder logs the truth beside observable rows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from gaelp.agent.ceiling import (
    BoundBidder,
    SegmentBoundBidder,
    collect,
    play_bound,
    segment_classes,
    segment_of,
)
from gaelp.agent.ceiling_fit import Layout, design, fit_linear, fit_loglinear, fit_table, ranking
from gaelp.agent.encoder import RequestLog
from gaelp.bidders.protocol import N_INTENTS, BidderWrapper, OpportunityBatch
from gaelp.config import build_config
from gaelp.simulation import Simulation

CFG = build_config({"users": 1500, "days": 2, "seed": 1000})
LAYOUT = Layout(len(CFG.world.channels))


def _rows(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, n_features) observable rows of random but consistent content (one-hots, counts, flags)."""
    n_ch = LAYOUT.n_channels
    x = np.zeros((n, LAYOUT.n_features), np.float32)
    x[:, 0] = 1
    x[np.arange(n), 1 + rng.integers(0, n_ch, n)] = 1
    x[np.arange(n), 1 + n_ch + rng.integers(0, N_INTENTS, n)] = 1
    x[:, 1 + n_ch + N_INTENTS] = rng.integers(0, 2, n)
    touches = rng.integers(0, 3, (n, n_ch))
    c = 2 + n_ch + N_INTENTS
    x[:, c:c + n_ch] = np.log1p(touches)
    x[:, c + n_ch:c + 2 * n_ch] = np.log1p(np.minimum(touches, rng.integers(0, 2, (n, n_ch))))
    h = c + 2 * n_ch
    x[:, h] = rng.random(n) < 0.3
    x[:, h + 1] = np.maximum(x[:, h], rng.random(n) < 0.3)
    x[:, -1] = rng.random(n) < 0.1
    return x


def test_table_recovers_per_cell_means_and_the_hour_factor() -> None:
    rng = np.random.default_rng(0)
    x, hour = _rows(150_000, rng), rng.integers(0, 24, 150_000)
    cell_mean = rng.uniform(0.001, 0.05, LAYOUT.n_cells)
    hours = 1.0 + 0.4 * np.sin(2 * np.pi * np.arange(24) / 24)
    p = cell_mean[LAYOUT.cell(x)] * hours[hour] * rng.uniform(0.5, 1.5, x.shape[0])  # noise of mean 1
    m = fit_table(LAYOUT, x, hour, p, prior=1.0)
    cell = LAYOUT.cell(x)
    counts = np.bincount(cell, minlength=LAYOUT.n_cells)
    busy = np.flatnonzero(counts >= 150)
    assert busy.size > 100
    _, first = np.unique(cell, return_index=True)
    probe = first[np.isin(cell[first], busy)]  # one row of each busy cell
    at = rng.integers(0, 24, probe.size)
    truth = cell_mean[cell[probe]] * hours[at]
    assert np.allclose(m.predict(x[probe], at), truth, rtol=0.12)
    assert np.allclose(m.hours / m.hours[0], hours / hours[0], rtol=0.03)  # relative to the overall mean


def test_table_shrinks_a_sparse_cell_to_its_coarse_cell() -> None:
    rng = np.random.default_rng(1)
    x, hour = _rows(20_000, rng), np.zeros(20_000, np.int64)
    p = np.full(x.shape[0], 0.01)
    lone = _rows(1, rng)
    lone[0, -1] = 0  # a row of a cell that may be empty, with a huge truth
    cell = LAYOUT.cell(lone)[0]
    keep = LAYOUT.cell(x) != cell
    x, hour, p = np.concatenate([x[keep], lone]), np.concatenate([hour[keep], [0]]), np.append(p[keep], 0.9)
    m = fit_table(LAYOUT, x, hour, p, prior=50.0)
    # by hand: the overall mean, shrunk into the class, then the coarse cell, then the lone fine cell
    top = (p.sum() + 50 * p.mean()) / (p.size + 50)
    same = LAYOUT.context(x) == LAYOUT.context(lone)[0]
    coarse = (p[same].sum() + 50 * top) / (same.sum() + 50)
    assert m.means[cell] == pytest.approx((0.9 + 50 * coarse) / 51)
    assert 0.01 < coarse < m.means[cell] < 0.01 + 0.9 / 40  # one observation of 0.9 against 50 near 0.01


def test_segment_table_needs_the_class_and_separates_segments() -> None:
    rng = np.random.default_rng(2)
    x, hour = _rows(50_000, rng), rng.integers(0, 24, 50_000)
    seg = rng.integers(0, 3, x.shape[0])
    p = np.array([0.005, 0.02, 0.06])[seg]
    m = fit_table(LAYOUT, x, hour, p, seg=seg, n_classes=3)
    with pytest.raises(ValueError, match="segment class"):
        m.predict(x, hour)
    pred = m.predict(x, hour, seg)
    assert np.allclose([pred[seg == s].mean() for s in range(3)], [0.005, 0.02, 0.06], rtol=0.02)


def test_linear_fit_recovers_a_linear_truth() -> None:
    rng = np.random.default_rng(3)
    x = _rows(30_000, rng)
    w = rng.normal(0, 0.01, design(LAYOUT, x[:1]).shape[1])
    p = design(LAYOUT, x) @ w + 0.2  # positive, so the clip at 0 does not bite
    m = fit_linear(LAYOUT, x, p, ridge=1e-6, chunk=7_000)
    assert np.allclose(m.predict(x, np.zeros(x.shape[0], np.int64)), p, atol=1e-6)


def test_ranking() -> None:
    p = np.random.default_rng(4).uniform(0, 0.1, 1000)
    perfect = ranking(p, p)
    assert perfect["r2"] == pytest.approx(1.0) and perfect["explained"] == pytest.approx(1.0)
    assert [b["p_true"] for b in perfect["bins"]] == sorted(b["p_true"] for b in perfect["bins"])
    flat = ranking(np.full(p.size, p.mean()), p)
    assert flat["r2"] == pytest.approx(0.0, abs=1e-12) and flat["explained"] == 0.0
    assert sum(b["n"] for b in flat["bins"]) == p.size


class _Batches(BidderWrapper):
    """Keeps the first hours' batches, truth included (the inner bidder sees the truth)."""

    def __init__(self, inner) -> None:
        super().__init__(inner)
        self.batches: list[OpportunityBatch] = []

    def bid(self, batch: OpportunityBatch) -> np.ndarray:
        if len(self.batches) < 6:
            self.batches.append(batch)
        return self.inner.bid(batch)


@pytest.fixture(scope="module")
def recorded():
    return collect(CFG, 1000, sample=0.5)


def test_collect_logs_truth_beside_observable_rows(recorded) -> None:
    r = recorded
    assert r.x.shape == (r.p.size, Layout(LAYOUT.n_channels, requests=True).n_features) and r.p.size > 200
    assert np.all((r.p >= 0) & (r.p <= 0.95)) and np.all(r.seed == 1000)
    assert set(np.unique(r.seg)) <= set(range(len(segment_classes(CFG)[0])))
    assert r.clicked.any() and not r.clicked.all()
    again = collect(CFG, 1000, sample=0.5)
    assert np.array_equal(again.x, r.x) and np.array_equal(again.p, r.p)  # same seed, same sample


def test_bound_bidder_never_reads_the_truth(recorded) -> None:
    model = fit_table(LAYOUT, recorded.x, recorded.hour, recorded.p)
    sim = Simulation(CFG, _Batches(Simulation(CFG, "oracle_lp").ours))
    sim.run(1)
    batches = sim.ours.batches
    assert batches and all(b.truth is not None for b in batches)
    bound, twin = BoundBidder(CFG, model, 1.5), BoundBidder(CFG, model, 1.5)
    assert not bound.sees_truth
    rng = np.random.default_rng(5)
    for b in batches:
        shuffled = replace(b, truth=replace(b.truth, p_convert=rng.permutation(b.truth.p_convert),
                                             value=rng.permutation(b.truth.value)))
        bids = bound.bid(b)
        assert np.array_equal(bids, twin.bid(shuffled))
        assert np.array_equal(bids, twin.bid(b.without_truth()))
        rows = bound.observer.rows(b.without_truth())
        assert np.allclose(bids, 1.5 * CFG.bidders.target_cpa * model.predict(rows, np.full(b.size, b.hour)))


def test_segment_bound_reads_only_the_segment_from_the_truth(recorded) -> None:
    model = fit_table(LAYOUT, recorded.x, recorded.hour, recorded.p, seg=recorded.seg,
                      n_classes=len(segment_classes(CFG)[0]))
    sim = Simulation(CFG, _Batches(Simulation(CFG, "oracle_lp").ours))
    sim.run(1)
    b = sim.ours.batches[-1]
    bidder = SegmentBoundBidder(CFG, model, 1.0)
    assert bidder.sees_truth
    with pytest.raises(ValueError, match="truth"):
        bidder.bid(b.without_truth())
    moved = replace(b, truth=replace(b.truth, p_convert=b.truth.p_convert[::-1]))
    assert np.array_equal(bidder.bid(b), bidder.bid(moved))
    values, cvr = segment_classes(CFG)
    assert np.array_equal(cvr[segment_of(b.truth.value, values)] > 0, np.ones(b.size, bool))


def test_segment_classes_refuses_equal_values_of_different_cvr() -> None:
    segs = list(CFG.world.segments)
    segs[1] = segs[1].model_copy(update={"value": segs[0].value, "cvr": segs[0].cvr / 2})
    bad = CFG.model_copy(update={"world": CFG.world.model_copy(update={"segments": tuple(segs)})})
    with pytest.raises(ValueError, match="differ in cvr"):
        segment_classes(bad)


def test_loglinear_fit_recovers_a_multiplicative_truth() -> None:
    rng = np.random.default_rng(6)
    x = _rows(20_000, rng)
    z = design(LAYOUT, x)
    w = np.zeros(z.shape[1])
    w[0], w[1:1 + LAYOUT.n_channels] = np.log(0.01), rng.normal(0, 0.5, LAYOUT.n_channels)
    w[LAYOUT.n_base - 1] = -3.0  # converted
    p = np.exp(z @ w)
    m = fit_loglinear(LAYOUT, x, p, ridge=1e-8)
    assert np.allclose(m.predict(x, np.zeros(x.shape[0], np.int64)), p, rtol=1e-3)


def _batch(t: int, device: list[int], channel: list[int], intent: list[int]) -> OpportunityBatch:
    n = len(device)
    return OpportunityBatch(t=t, weekday=0, channel=np.array(channel, np.int8), device=np.array(device),
                            device_type=np.zeros(n, np.int8), intent=np.array(intent, np.int8),
                            reserve=np.full(n, 0.1), channel_names=CFG.channel_names)


def test_request_log_counts_every_request_before_the_hour() -> None:
    log = RequestLog(LAYOUT.n_channels, capacity=2)
    log.observe(_batch(0, [1, 1, 5], [0, 2, 1], [2, 2, 0]))  # grows past its capacity
    f = log.features(_batch(48, [1, 5, 9], [0, 0, 0], [0, 0, 0]))
    n_ch = LAYOUT.n_channels
    assert np.allclose(np.expm1(f[:, :n_ch]), [[1, 0, 1], [0, 1, 0], [0, 0, 0]])
    assert np.allclose(np.expm1(f[:, n_ch:n_ch + N_INTENTS]), [[0, 0, 2], [1, 0, 0], [0, 0, 0]])
    assert np.allclose(np.expm1(f[:, -2]), [2.0, 2.0, 0.0])  # days since the first request
    assert np.allclose(np.expm1(f[:, -1]), [1.0, 0.5, 0.0])  # requests per day
    assert Layout(n_ch, requests=True).n_features == LAYOUT.n_features + f.shape[1]


def test_play_bound_scores_a_campaign_under_its_name(recorded) -> None:
    model = fit_table(LAYOUT, recorded.x, recorded.hour, recorded.p)
    res = play_bound(CFG, 7, model, 2.0, name="requests_bound")
    assert res.bidder == "requests_bound" and res.k == 2.0 and res.seed == 7
    assert res.spend > 0 and 0 <= res.budget_use <= 1.0 + 1e-9
