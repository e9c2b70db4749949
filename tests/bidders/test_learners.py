"""Learning rivals: the Bidder contract, vectorised updates against slow references, freezing,
persistence across episodes and restarts, and stability in a running market."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtri

from gaelp.bidders.contract import check_bidder
from gaelp.bidders.learners import _ACTION, _EXPLORE, _NOISE, QLearningBidder
from gaelp.bidders.protocol import BidderContext, BidderOutcome, OpportunityBatch
from gaelp.bidders.registry import make_bidder
from gaelp.bidders.state import flatten_state, freeze, load_bidder_states, save_bidder_states, unflatten_state
from gaelp.bidders.value_models import ClickValueModel, CpaTarget, delay_cdf
from gaelp.config import RivalTcpaConfig, RivalValueConfig, build_config
from gaelp.simulation import Simulation

LEARNERS = ("q_learning", "policy_gradient", "rival_tcpa")
VALUE = RivalValueConfig().model_dump(exclude={"window_h"})  # the default click-value model's settings
TCPA = RivalTcpaConfig().model_dump()
MARKET = [{"name": "qustodio", "kind": "q_learning"}, {"name": "bark", "kind": "policy_gradient"},
          {"name": "circle", "kind": "rule"}, {"name": "aura", "kind": "rival_tcpa"}, {"name": "others"}]


def _ctx(kind: str, seed: int = 0) -> BidderContext:
    cfg = build_config({"users": 1000})
    return BidderContext(cfg, 100.0, np.random.default_rng(seed), cfg.market.competitors[0])


def _batch(rng: np.random.Generator, n: int = 400, t: int = 30) -> OpportunityBatch:
    return OpportunityBatch(t=t, weekday=1, channel=rng.integers(0, 3, n).astype(np.int8),
                            device=rng.integers(0, 5000, n).astype(np.int64),
                            device_type=rng.integers(0, 2, n).astype(np.int8),
                            intent=rng.integers(0, 3, n).astype(np.int8), reserve=np.full(n, 0.2),
                            channel_names=("search", "social", "display"))


def _outcome(batch: OpportunityBatch, bids: np.ndarray, rng: np.random.Generator,
             conv_device: np.ndarray | None = None) -> BidderOutcome:
    rival = rng.lognormal(0.5, 0.6, batch.size)
    won = bids > rival
    slot = np.where(won, 0, -1).astype(np.int8)
    price = np.where(won, rival, 0.0)
    clicked = won & (rng.random(batch.size) < 0.2)
    dev = np.empty(0, np.int64) if conv_device is None else conv_device
    return BidderOutcome(batch, bids, slot, price, clicked, np.where(clicked, price, 0.0),
                         np.full(dev.size, batch.t), dev, np.full(dev.size, 100.0))


@pytest.mark.parametrize("kind", LEARNERS)
def test_contract(kind: str) -> None:
    rng = np.random.default_rng(1)
    bidder = make_bidder(kind, _ctx(kind))
    batch = _batch(rng)
    check_bidder(bidder, batch, lambda b: _outcome(batch, b, rng), lambda: make_bidder(kind, _ctx(kind)))
    assert bidder.name == "qustodio" and bidder.learns


@pytest.mark.parametrize("kind", LEARNERS)
def test_needs_a_competitor_config(kind: str) -> None:
    cfg = build_config({"users": 10})
    with pytest.raises(ValueError, match="CompetitorConfig"):
        make_bidder(kind, BidderContext(cfg, 1.0, np.random.default_rng(0)))


@pytest.mark.parametrize("kind", LEARNERS)
def test_frozen_learner_does_not_update(kind: str) -> None:
    rng = np.random.default_rng(2)
    bidder = make_bidder(kind, _ctx(kind))
    for t in range(5):
        batch = _batch(rng, t=t)
        bidder.observe(_outcome(batch, bidder.bid(batch), rng))
    freeze([bidder])
    before = flatten_state(bidder.state_dict())
    probe = _batch(rng, t=9)
    bids = bidder.bid(probe)
    for t in range(10, 40):
        batch = _batch(rng, t=t)
        bidder.observe(_outcome(batch, bidder.bid(batch), rng, batch.device[:3]))
    after = flatten_state(bidder.state_dict())
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert np.array_equal(bidder.bid(probe), bids)


def test_q_update_matches_a_loop_over_opportunities() -> None:
    rng = np.random.default_rng(3)
    q = make_bidder("q_learning", _ctx("q_learning"))
    batch = _batch(rng, n=300)
    out = _outcome(batch, q.bid(batch), rng)
    q0, v0 = q.q_.copy(), q.visits_.copy()
    reward = q.reward(out)
    s, a = q.actions(batch)
    q.observe(out)
    # Reference: group the opportunities cell by cell with a Python loop.
    n, total = np.zeros_like(q0), np.zeros_like(q0)
    for i in range(batch.size):
        if out.bids[i] > 0:
            n[s[i], a[i]] += 1
            total[s[i], a[i]] += reward[i]
    visits = v0 + n
    expect = q0.copy()
    for i, j in zip(*np.nonzero(n)):
        step = max(1 - (1 - q.alpha) ** n[i, j], n[i, j] / visits[i, j])
        expect[i, j] += step * (total[i, j] / n[i, j] - q0[i, j])
    np.testing.assert_allclose(q.q_, expect)
    np.testing.assert_array_equal(q.visits_, visits)


def test_q_choices_match_a_draw_for_every_opportunity() -> None:
    rng = np.random.default_rng(7)
    q = make_bidder("q_learning", _ctx("q_learning"))
    q.q_ = rng.normal(size=q.q_.shape)
    batch = _batch(rng, n=3000, t=40)
    # Reference: both draws for every opportunity, the action kept where exploration fires.
    key = batch.device * 8 + batch.channel
    explore = q._draws.uniform(key, batch.t, _EXPLORE) < q.epsilon
    random = (q._draws.uniform(key, batch.t, _ACTION) * q.levels.size).astype(np.int64)
    s = q.state(batch)
    a = np.where(explore, random, np.argmax(q.q_ + q._tie, axis=1)[s])
    assert explore.any() and not explore.all()
    got_s, got_a = q.actions(batch)
    np.testing.assert_array_equal(got_s, s)
    np.testing.assert_array_equal(got_a, a)
    np.testing.assert_array_equal(q.bid(batch), q.reference.ravel()[batch.context] * q.levels[a])


def test_policy_gradient_matches_its_dense_features() -> None:
    rng = np.random.default_rng(8)
    pg = make_bidder("policy_gradient", _ctx("policy_gradient"))
    pg.theta_ = rng.normal(0.0, 0.3, pg.n_features)
    pg.baseline_ = rng.normal(0.0, 1.0, pg.n_features)
    pg.hours_, pg.adv_ms_ = 5, 2.0
    batch = _batch(rng, n=600, t=50)
    phi = pg.features(batch)
    mean = np.log(pg.reference).ravel()[batch.context] + phi @ pg.theta_
    np.testing.assert_allclose(pg.mean_log_bid(batch), mean, rtol=1e-12)
    z = ndtri(np.clip(pg._draws.uniform(batch.device * 8 + batch.channel, batch.t, _NOISE), 1e-12, 1 - 1e-12))
    bids = pg.bid(batch)
    np.testing.assert_allclose(bids, np.exp(mean + pg.sigma * z), rtol=1e-12)
    bids[::7] = 0.0  # some opportunities capped: they do not enter and teach nothing
    out = _outcome(batch, bids, rng)
    # Reference: the REINFORCE and LMS steps written with the dense feature matrix.
    e = bids > 0
    adv = pg.reward(out)[e] - phi[e] @ pg.baseline_
    ms = 0.99 * pg.adv_ms_ + 0.01 * np.mean(adv**2)
    grad = (adv / (np.sqrt(ms) + 1e-12) * z[e] / pg.sigma) @ phi[e] / e.sum()
    theta = np.clip(pg.theta_ + pg.lr * grad, -pg.max_log_shift, pg.max_log_shift)
    baseline = pg.baseline_ + pg.baseline_lr * (adv @ phi[e]) / (phi[e] ** 2).sum()
    pg.observe(out)
    np.testing.assert_allclose(pg.theta_, theta, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(pg.baseline_, baseline, rtol=1e-10, atol=1e-15)
    assert pg.adv_ms_ == pytest.approx(ms) and pg.hours_ == 6


def test_value_model_counts_every_click_of_a_context() -> None:
    m = ClickValueModel(3, value=100.0, window_h=24, **VALUE)
    rng = np.random.default_rng(9)
    batch = _batch(rng, n=500, t=30)
    out = _outcome(batch, np.full(batch.size, 3.0), rng)
    m.update(out)
    counts = np.zeros(9)
    for c, i, k in zip(batch.channel, batch.intent, out.clicked):
        counts[c * 3 + i] += k
    np.testing.assert_array_equal(m.recent_[30 % 24], counts)
    np.testing.assert_array_equal(np.delete(m.recent_, 30 % 24, axis=0), 0.0)


def test_value_model_credits_the_clicked_context_and_discounts_young_clicks() -> None:
    m = ClickValueModel(3, value=200.0, window_h=168, **{**VALUE, "strength": 1.0, "incrementality": 1.0})
    batch = OpportunityBatch(t=10, weekday=0, channel=np.array([0, 1], np.int8), device=np.array([7, 8]),
                             device_type=np.zeros(2, np.int8), intent=np.array([2, 0], np.int8),
                             reserve=np.zeros(2), channel_names=("a", "b", "c"))
    click = BidderOutcome(batch, np.ones(2), np.zeros(2, np.int8), np.ones(2), np.array([True, True]), np.ones(2),
                          np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    m.update(click)
    young = m.effective_clicks()[[0 * 3 + 2, 1 * 3 + 0]]
    assert (young > 0).all() and (young < 1).all()  # an hour-old click has most of its sales to come
    later = OpportunityBatch(t=100, weekday=0, channel=np.empty(0, np.int8), device=np.empty(0, np.int64),
                             device_type=np.empty(0, np.int8), intent=np.empty(0, np.int8), reserve=np.empty(0),
                             channel_names=("a", "b", "c"))
    conv = BidderOutcome(later, np.empty(0), np.empty(0, np.int8), np.empty(0), np.empty(0, bool), np.empty(0),
                         np.array([100]), np.array([7]), np.array([200.0]))
    m.update(conv)
    assert m.credit_[2] == 200.0 and m.credit_.sum() == 200.0
    vpc = m.value_per_click()
    assert vpc[2] == vpc.max()


def test_value_model_matches_a_recount_of_every_click_and_conversion() -> None:
    # Hours step one at a time and jump (past the window too), with the value read between updates, so
    # every cached part (weights by age, credit sums, the value itself) must follow what changed.
    window, k, value = 24, 50.0, 120.0
    m = ClickValueModel(3, value=value, window_h=window, **{**VALUE, "strength": k, "incrementality": 0.5})
    rng = np.random.default_rng(11)
    clicks: list[tuple[int, np.ndarray]] = []
    credit = np.zeros(9)
    last_click: dict[int, tuple[int, int]] = {}
    for t in [0, 1, 2, 3, 7, 8, 9, 30, 31, 32, 33, 80, 81]:
        batch = _batch(rng, n=60, t=t)
        out = _outcome(batch, np.full(batch.size, 3.0), rng)
        conv_device = rng.choice(batch.device, 3) if t % 2 else np.empty(0, np.int64)
        out = BidderOutcome(batch, out.bids, out.slot, out.price, out.clicked, out.cost,
                            np.full(conv_device.size, t), conv_device, np.full(conv_device.size, value))
        m.update(out)
        ctx = batch.context[out.clicked]
        clicks.append((t, ctx))
        for d, c in zip(batch.device[out.clicked], ctx):
            last_click[int(d)] = (t, int(c))
        for d in conv_device:
            if int(d) in last_click and t - last_click[int(d)][0] <= window:
                credit[last_click[int(d)][1]] += 0.5 * value
        effective = np.zeros(9)
        for t_click, ctx in clicks:
            age = t - t_click
            np.add.at(effective, ctx, 1.0 if age >= window else float(delay_cdf(np.array(age + 0.5))))
        pooled = (credit.sum() + k * value * 0.0125) / (effective.sum() + k)
        by_channel = (credit.reshape(3, 3).sum(1) + k * pooled) / (effective.reshape(3, 3).sum(1) + k)
        expected = (credit + k * np.repeat(by_channel, 3)) / (effective + k)
        np.testing.assert_allclose(m.credit_, credit, rtol=1e-12)
        np.testing.assert_allclose(m.value_per_click(), expected, rtol=1e-12)
    assert credit.sum() > 0, "some conversions were matched"


@pytest.mark.parametrize("kind", LEARNERS)
def test_reward_is_the_clicks_value_estimate_minus_the_cost(kind: str) -> None:
    rng = np.random.default_rng(4)
    bidder = make_bidder(kind, _ctx(kind))
    batch = _batch(rng, n=200)
    out = _outcome(batch, np.full(batch.size, 3.0), rng)
    vpc = bidder.model.value_per_click()
    expect = [(vpc[c * 3 + i] if k else 0.0) - cost
              for c, i, k, cost in zip(batch.channel, batch.intent, out.clicked, out.cost)]
    np.testing.assert_allclose(bidder.reward(out), expect)
    assert (bidder.reward(out)[~out.won] == 0).all()


def test_cpa_target_lowers_the_multiplier_when_cost_runs_over_and_raises_it_under() -> None:
    over, under = CpaTarget(**{**TCPA, "fraction": 0.8}), CpaTarget(**{**TCPA, "fraction": 0.8})
    for _ in range(48):
        over.observe(cost=100.0, click_value=100.0)  # CPA 1.25x the target
        under.observe(cost=40.0, click_value=100.0)  # CPA 0.5x the target
    assert over.multiplier < 1.0 < under.multiplier
    assert over.ratio() == pytest.approx(1.25) and under.ratio() == pytest.approx(0.5)
    # Reference: the same hourly recursion written out.
    keep, log_m, cost, value = np.exp(-1 / 48), 0.0, 0.0, 0.0
    for _ in range(48):
        cost, value = keep * cost + 100.0, keep * value + 100.0
        log_m = float(np.clip(log_m - 0.02 * np.log(cost / (0.8 * value)), -1.5, 1.5))
    assert over.multiplier == pytest.approx(np.exp(log_m))
    capped = CpaTarget(**{**TCPA, "max_log_shift": 0.1})
    for _ in range(500):
        capped.observe(cost=1.0, click_value=100.0)
    assert capped.multiplier == pytest.approx(np.exp(0.1))
    idle = CpaTarget(**TCPA)
    idle.observe(cost=0.0, click_value=0.0)  # no click yet: nothing to steer by
    assert idle.multiplier == 1.0 and idle.ratio() == 1.0
    with pytest.raises(ValueError, match="fraction"):
        CpaTarget(**{**TCPA, "fraction": 0.0})


def test_target_cpa_rival_bids_its_target_value_of_a_click() -> None:
    tcpa = make_bidder("rival_tcpa", _ctx("rival_tcpa"))
    batch = _batch(np.random.default_rng(5), n=50)
    vpc = tcpa.model.value_per_click()[batch.channel.astype(np.int64) * 3 + batch.intent]
    np.testing.assert_allclose(tcpa.bid(batch), vpc)  # m = 1, break-even target, pacer idle
    tcpa.target.log_m_ = np.log(1.5)
    np.testing.assert_allclose(tcpa.bid(batch), 1.5 * vpc)


def test_delay_cdf_is_a_cdf_with_half_the_sales_in_a_day() -> None:
    h = np.array([0.0, 1.0, 24.0, 24 * 7, 24 * 30])
    f = delay_cdf(h)
    assert np.all(np.diff(f) > 0) and f[0] == 0.0 and f[-1] <= 1.0
    assert 0.4 < f[2] < 0.6 and f[-1] > 0.9


def test_state_roundtrip_through_flat_arrays() -> None:
    state = {"a": np.arange(3.0), "b": {"c": 2, "d": np.zeros((2, 2), bool)}}
    back = unflatten_state(flatten_state(state))
    assert back["b"]["c"] == 2 and back["b"]["d"].dtype == bool
    np.testing.assert_array_equal(back["a"], state["a"])
    with pytest.raises(ValueError, match="may not contain"):
        flatten_state({"x/y": 1})


def test_learning_persists_across_episodes_and_survives_a_restart(tmp_path) -> None:
    cfg = build_config({"users": 1500, "days": 4, "seed": 5, "market": {"competitors": MARKET}})
    sim = Simulation(cfg)
    learners = [b for b in sim.bidders[1:] if getattr(b, "learns", False)]
    snapshots = []
    for _ in range(3):  # three one-day episodes of one campaign
        sim.run_day()
        snapshots.append([flatten_state(b.state_dict()) for b in learners])
    for b, s1, s2 in zip(learners, snapshots[1], snapshots[2]):
        changed = [k for k in s1 if not np.array_equal(s1[k], s2[k])]
        assert changed, f"{b.name} learned nothing on day 2"
    path = tmp_path / "rivals.npz"
    save_bidder_states(sim.bidders[1:], path)
    fresh = Simulation(cfg)  # a new run: rivals start from scratch ...
    probe = _batch(np.random.default_rng(6), t=24 * 3)
    assert not np.array_equal(fresh.bidders[1].bid(probe), sim.bidders[1].bid(probe))
    restored = load_bidder_states(fresh.bidders[1:], path)  # ... until the checkpoint is loaded
    assert set(restored) == {b.name for b in learners}
    for old, new in zip(sim.bidders[1:], fresh.bidders[1:]):
        np.testing.assert_array_equal(new.bid(probe), old.bid(probe))
        a, b = flatten_state(old.state_dict()), flatten_state(new.state_dict())
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_checkpoint_needs_unique_names(tmp_path) -> None:
    q = QLearningBidder(_ctx("q_learning"))
    with pytest.raises(ValueError, match="unique"):
        save_bidder_states([q, q], tmp_path / "x.npz")


@pytest.mark.parametrize("seed", [0, 1])
def test_win_rates_stay_stable_with_our_bidder_fixed(seed: int) -> None:
    """The bound: after two days of warm-up, no rival's daily win rate is below 5% on one day and
    above 95% on another, and none moves by more than 0.75 between its lowest and highest day."""
    cfg = build_config({"users": 5000, "days": 30, "seed": seed, "market": {"competitors": MARKET}})
    sim = Simulation(cfg, "fixed")
    sim.run()
    d = sim.kpis.daily
    rate = d["impressions"][2:] / np.maximum(d["bids"][2:], 1)
    for j, b in enumerate(sim.bidders[1:], start=1):
        lo, hi = rate[:, j].min(), rate[:, j].max()
        assert not (lo < 0.05 and hi > 0.95), f"{b.name}: daily win rate swings {lo:.2f}-{hi:.2f}"
        assert hi - lo <= 0.75, f"{b.name}: daily win rate swings {lo:.2f}-{hi:.2f}"


_LEARN_BIG_HOURS = """
import hashlib, numpy as np
from tests.bidders.test_learners import LEARNERS, _batch, _ctx, _outcome
from gaelp.bidders.registry import make_bidder
from gaelp.bidders.state import flatten_state
rng = np.random.default_rng(3)
h = hashlib.sha256()
for kind in LEARNERS:
    bidder = make_bidder(kind, _ctx(kind))
    for t in range(30, 33):
        batch = _batch(rng, n=40_000, t=t)
        bidder.observe(_outcome(batch, bidder.bid(batch), rng))
    for k, v in sorted(flatten_state(bidder.state_dict()).items()):
        h.update(k.encode()); h.update(np.ascontiguousarray(v).tobytes())
print(h.hexdigest())
"""


def test_learning_does_not_depend_on_the_number_of_blas_threads() -> None:
    # Hours of 40,000 opportunities, as in a 1M-person world: a BLAS product that long is split across
    # threads, which would make the learned numbers depend on the machine's cores.
    root = Path(__file__).resolve().parents[2]
    out = set()
    for threads in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        run = subprocess.run([sys.executable, "-c", _LEARN_BIG_HOURS], capture_output=True, text=True, env=env,
                             cwd=root, check=True)
        out.add(run.stdout.strip())
    assert len(out) == 1


def test_learning_settings_come_from_the_config_sections(tmp_path) -> None:
    toml = tmp_path / "learners.toml"
    toml.write_text("[market.learners.q_learning]\nalpha = 0.5\nlevels = 5\n"
                    "[market.learners.policy_gradient]\nlr = 0.2\n[bidders]\nprior_cvr = 0.05\n")
    from gaelp.config import load_config

    cfg = load_config(toml)
    comp = cfg.market.competitors[0]
    q = make_bidder("q_learning", BidderContext(cfg, 10.0, np.random.default_rng(0), comp))
    pg = make_bidder("policy_gradient", BidderContext(cfg, 10.0, np.random.default_rng(0), comp))
    tcpa = make_bidder("target_cpa", BidderContext(cfg, 10.0, np.random.default_rng(0)))
    assert q.alpha == 0.5 and q.levels.size == 5 and pg.lr == 0.2 and tcpa.prior_cvr == 0.05


def _weighted_and_copied(rng: np.random.Generator, t: int) -> tuple[OpportunityBatch, OpportunityBatch, np.ndarray]:
    """A batch whose rows weigh 1 or 2, the same batch with each row of weight 2 shown twice, and (m,) the
    rows of the first that become the second's."""
    b = _batch(rng, n=300, t=t)
    w = np.where(rng.random(b.size) < 0.4, 2.0, 1.0)
    rows = np.repeat(np.arange(b.size), w.astype(np.int64))
    fields = ("t", "weekday", "channel", "device", "device_type", "intent", "reserve", "channel_names")
    weighted = OpportunityBatch(**{f: getattr(b, f) for f in fields}, weight=w)
    copied = OpportunityBatch(**{f: (getattr(b, f)[rows] if isinstance(getattr(b, f), np.ndarray) else getattr(b, f))
                                 for f in fields})
    return weighted, copied, rows


@pytest.mark.parametrize("kind", (*LEARNERS, "target_cpa"))
def test_an_opportunity_of_weight_two_teaches_what_two_copies_teach(kind: str) -> None:
    # importance sampling's weights (OpportunityBatch.weight, BidderOutcome.conv_weight) count an observation
    # as that many plain ones: in every learner's tables, values, pacing and advantage scale
    weighted_bidder, copied_bidder = make_bidder(kind, _ctx(kind)), make_bidder(kind, _ctx(kind))
    rng = np.random.default_rng(5)
    for t in range(30, 42):
        weighted, copied, rows = _weighted_and_copied(rng, t)
        bids = weighted_bidder.bid(weighted)
        np.testing.assert_allclose(copied_bidder.bid(copied), bids[rows], rtol=1e-9)
        won = bids > rng.lognormal(0.5, 0.6, bids.size)
        price = np.where(won, 1.3, 0.0)
        clicked = won & (rng.random(bids.size) < 0.3)
        conv = rng.choice(weighted.device[clicked], 2) if t % 3 == 0 and clicked.any() else np.empty(0, np.int64)
        conv_w = np.where(np.arange(conv.size) == 0, 2.0, 1.0)
        conv_rows = np.repeat(np.arange(conv.size), conv_w.astype(np.int64))
        cost = np.where(clicked, price * weighted.weight, 0.0)  # the platform charges by weight
        weighted_bidder.observe(BidderOutcome(weighted, bids, np.where(won, 0, -1).astype(np.int8), price, clicked,
                                              cost, np.full(conv.size, t), conv, np.full(conv.size, 90.0), conv_w))
        copied_bidder.observe(BidderOutcome(copied, bids[rows], np.where(won, 0, -1).astype(np.int8)[rows],
                                            price[rows], clicked[rows], np.where(clicked, price, 0.0)[rows],
                                            np.full(conv_rows.size, t), conv[conv_rows], np.full(conv_rows.size, 90.0)))
    a, b = flatten_state(weighted_bidder.state_dict()), flatten_state(copied_bidder.state_dict())
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_allclose(a[k], b[k], rtol=1e-9, atol=1e-12, err_msg=k)
    assert any(np.any(v != 0) for k, v in a.items() if "device" not in k and "hours" not in k)  # it learned


def test_a_plain_batch_weighs_one_everywhere() -> None:
    b = _batch(np.random.default_rng(0), n=7)
    assert b.weight.tolist() == [1.0] * 7 and b.volume == 7.0
    out = _outcome(b, np.full(7, 2.0), np.random.default_rng(1), conv_device=np.array([3, 4]))
    assert out.conv_weight.tolist() == [1.0, 1.0] and out.weight is b.weight
