"""The offline prior: fitted on our own click logs only (shuffled truth, identical weights), it recovers a
known model from censored labels, and the agent runs its value model on the prior's interaction terms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from gaelp.agent.bidder import AgentBidder
from gaelp.agent.diagnose import clicks_with_truth
from gaelp.agent.prior_fit import ClickLog, click_log, collect_world, fit_prior, horizon_table
from gaelp.agent.value import ValueModel, n_terms, value_terms
from gaelp.config import build_config
from gaelp.simulation import Simulation
from tests.agent.test_encoder import _TruthMangler


def _log(mode: str) -> ClickLog:
    cfg = build_config({"users": 5000, "days": 6, "seed": 1004, "campaign": {"budget_per_user": 0.3}})
    agent = AgentBidder(cfg)
    agent.set_action(np.ones(agent.action.size))  # bid 16x the value: enough clicks in a few days
    sim = Simulation(cfg, bidder=_TruthMangler(agent, mode))
    agent.attach_world(sim)
    sim.run()
    return click_log(agent.value, 24 * cfg.days)


def test_shuffled_truth_gives_identical_weights() -> None:
    logs = [_log(mode) for mode in ("as_is", "shuffled", "garbage")]
    assert logs[0].x.shape[0] > 100 and logs[0].converted.any()
    fits = [fit_prior(g, 24 * 30, 3, interactions=False)[0] for g in logs]
    assert np.ptp(fits[0][1:]) > 0.01  # the labels moved the weights off the flat prior
    for g in logs[1:]:
        assert np.array_equal(g.x, logs[0].x) and np.array_equal(g.delay, logs[0].delay, equal_nan=True)
    assert np.array_equal(fits[0], fits[1]) and np.array_equal(fits[0], fits[2])


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Encoder-like rows for 3 channels: one-hot channel and intent, device type, journey columns."""
    x = np.zeros((n, 22), np.float32)
    x[:, 0] = 1
    x[np.arange(n), 1 + rng.integers(0, 3, n)] = 1
    x[np.arange(n), 4 + rng.integers(0, 3, n)] = 1
    x[:, 7] = rng.random(n) < 0.4
    x[:, 8:14] = np.log1p(rng.integers(0, 4, (n, 6)))
    x[:, 14:18] = rng.random((n, 4)) < 0.3
    x[:, 18:20] = rng.random((n, 2))
    x[:, 20:22] = rng.normal(size=(n, 2)) * 0.7
    return x


def test_fit_recovers_a_known_model_from_censored_labels() -> None:
    rng = np.random.default_rng(7)
    n, window, mean_delay = 20_000, 720, 200.0
    x = _rows(rng, n)
    w_true = np.zeros(n_terms(3))
    w_true[0] = -3.5
    w_true[22:] = rng.normal(0, 0.5, w_true.size - 22)  # the interactions carry the signal
    p = expit(value_terms(x, 3) @ w_true)
    buys = rng.random(n) < p
    delay = np.minimum(rng.exponential(mean_delay, n), window - 1)
    elapsed = rng.uniform(0, window, n).round()  # clicks all through a 30-day campaign
    seen = buys & (delay <= elapsed)
    log = ClickLog(x, np.minimum(elapsed, window), np.where(seen, delay, np.nan), np.ones(n))
    assert seen.mean() < 0.8 * buys.mean()  # the censoring hides a good share of the purchases
    w, fitted_delay = fit_prior(log, window, 3, l2=1.0)
    p_hat = expit(value_terms(x, 3) @ w)
    assert abs(p_hat.mean() / p.mean() - 1) < 0.1  # EM undoes the censoring
    assert np.corrcoef(p_hat, p)[0, 1] > 0.9
    assert 140 < fitted_delay < 280
    plain, _ = fit_prior(log, window, 3, interactions=False, l2=1.0)
    assert np.corrcoef(expit(x.astype(np.float64) @ plain), p)[0, 1] < np.corrcoef(p_hat, p)[0, 1] - 0.1


def test_collect_refuses_held_out_seeds() -> None:
    with pytest.raises(ValueError, match="training worlds only"):
        collect_world(build_config({}), 5, users=200, days=1)
    with pytest.raises(ValueError, match="bid scale"):
        collect_world(build_config({}), 1005, users=200, days=1, bid_scale=5.0)
    with pytest.raises(ValueError, match="budget_scale"):
        collect_world(build_config({}), 1005, users=200, days=1, budget_scale=0.0)


def test_collection_buys_more_clicks_with_higher_bids_and_budget() -> None:
    cfg = build_config({})
    plain = collect_world(cfg, 1007, users=2000, days=5)
    wide = collect_world(cfg, 1007, users=2000, days=5, bid_scale=4.0, budget_scale=100.0)
    assert wide.x.shape[0] > 2 * plain.x.shape[0] > 0
    again = collect_world(cfg, 1007, users=2000, days=5, bid_scale=4.0, budget_scale=100.0)
    assert np.array_equal(again.x, wide.x) and np.array_equal(again.delay, wide.delay, equal_nan=True)


def test_agent_runs_on_the_interaction_terms_of_a_wide_prior() -> None:
    cfg = build_config({"users": 800, "days": 1, "seed": 1002})
    w = np.zeros(n_terms(3))
    w[0] = -3.0
    agent = AgentBidder(cfg, prior_w=w, value_l2=50.0)
    assert agent.value.n_channels == 3 and agent.value.l2 == 50.0
    x = _rows(np.random.default_rng(1), 5)
    assert np.allclose(agent.value.predict(x), expit(-3.0))
    with pytest.raises(ValueError, match="weights"):
        AgentBidder(cfg, prior_w=np.zeros(30))


def test_online_refit_of_a_wide_prior_moves_its_level_only() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    x = _rows(rng, n)
    w0 = np.zeros(n_terms(3))
    w0[0] = -3.5
    w0[22:] = rng.normal(0, 0.4, w0.size - 22)
    shifted = w0.copy()
    shifted[0] += 0.7  # this campaign's clicks buy about twice as often as the prior says
    buys = rng.random(n) < expit(value_terms(x, 3) @ shifted)
    vm = ValueModel(22, window_h=48, prior_w=w0, l2=5.0, n_channels=3)
    vm.record_clicks(0, x, np.arange(n))
    vm.record_conversions(np.full(int(buys.sum()), 10), np.flatnonzero(buys))
    vm.refit(200)  # every click's window has closed: the labels are final
    assert 0.5 < vm.w[0] - w0[0] < 0.9
    assert np.array_equal(vm.w[1:], w0[1:])
    copy = ValueModel(22, window_h=48, prior_w=w0, n_channels=3)
    copy.load_state_dict(vm.state_dict())
    assert np.allclose(copy.summary(), vm.summary())
    assert np.isclose(vm.summary()[3], vm.predict(x).mean())


def test_the_truth_recorder_keeps_the_rows_the_agent_valued() -> None:
    cfg = build_config({"users": 3000, "days": 2, "seed": 905, "campaign": {"budget_per_user": 0.1}})
    w = np.zeros(n_terms(3))
    w[0] = -3.0
    w[22:] = np.random.default_rng(2).normal(0, 0.5, w.size - 22)
    agent = AgentBidder(cfg, prior_w=w, value_l2=1e12)  # the level cannot move: p_hat is the prior's
    agent.set_action(np.ones(agent.action.size))
    clicks = clicks_with_truth(cfg, agent)
    assert clicks["x"].shape == (clicks["p_true"].size, 22) and clicks["p_true"].size > 20
    assert np.allclose(expit(value_terms(clicks["x"], 3) @ w), clicks["p_hat"], rtol=1e-6)


def test_horizon_table_is_the_delays_of_clicks_with_the_whole_reach_left() -> None:
    # three counted; no purchase; a purchase past the reach; a click with too little of its campaign left
    elapsed = np.array([500.0, 480.0, 700.0, 600.0, 700.0, 100.0])
    delay = np.array([10.0, 30.0, 30.0, np.nan, 481.0, 5.0])
    log = ClickLog(np.zeros((6, 2), np.float32), elapsed, delay, np.ones(6))
    table = horizon_table(log, 480)
    assert table.shape == (481,) and table[9] == 0.0 and table[10] == pytest.approx(1 / 3)
    assert table[29] == pytest.approx(1 / 3) and table[30] == table[480] == 1.0
    assert horizon_table(log, 20)[5] == 0.5  # a shorter reach: the two purchases within 20 hours
    with pytest.raises(ValueError, match="no click with 800 hours left in its campaign was followed by a purchase"):
        horizon_table(log, 800)
