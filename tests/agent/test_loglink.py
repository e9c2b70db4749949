"""The log-link prior: fitted on the pooled click log, read by the bids, carried by the checkpoint."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.agent import CHECKPOINT
from gaelp.agent.bidder import AgentBidder, make_agent_bidder
from gaelp.agent.ceiling_fit import Layout, LinearModel
from gaelp.agent.env import CampaignEnv
from gaelp.agent.network import load_checkpoint
from gaelp.agent.ppo import PPOConfig, train
from gaelp.agent.prior_fit import PRIOR_SEED_BASE, ClickLog, collect_world, fit_loglink
from gaelp.config import Config
from gaelp.simulation import Simulation


@pytest.fixture(scope="module")
def log() -> ClickLog:
    return collect_world(Config(), 1000, 3000, 8)


def test_the_fit_uses_complete_label_windows_only(log: ClickLog) -> None:
    w = fit_loglink(log, 3)
    assert w.shape == (LinearModel(Layout(3), w, log_link=True).w.size,) and np.isfinite(w).all()
    # an unlabelled click of the last three days has no complete 72-hour window: dropping them changes nothing
    labelled = log.converted & (log.delay <= 72)
    cut = (log.elapsed < 72) & ~labelled
    assert cut.any() and labelled.any()
    kept = ClickLog(log.x[~cut], log.elapsed[~cut], log.delay[~cut], log.weight[~cut])
    np.testing.assert_array_equal(fit_loglink(kept, 3), w)
    # and labels move the fit: the same clicks with no purchase give other weights
    unlabelled = ClickLog(log.x, log.elapsed, np.full(log.delay.shape, np.nan), log.weight)
    assert not np.array_equal(fit_loglink(unlabelled, 3), w)
    censored = ClickLog(log.x[:3], np.full(3, 10.0), np.full(3, np.nan), log.weight[:3])
    with pytest.raises(ValueError, match="no click has a complete 72-hour label window"):
        fit_loglink(censored, 3)


class _Recording(AgentBidder):
    """Keeps each hour's encoder rows, converted flags, bids and multipliers."""

    def bid(self, batch):  # type: ignore[no-untyped-def]
        x, converted = self.encoder.features_and_converted(batch)
        bids = super().bid(batch)
        self.seen.append((x, converted, bids, self.multipliers()[batch.context]))
        return bids


def _bids(cfg: Config, **kw: object) -> list[tuple[np.ndarray, ...]]:
    agent = _Recording(cfg, **kw)  # type: ignore[arg-type]
    agent.seen = []
    sim = Simulation(cfg, bidder=agent)
    agent.attach_world(sim)
    sim.run(cfg.days)
    return agent.seen


def test_the_bids_read_the_loglink_prior(log: ClickLog) -> None:
    cfg = Config().replace(users=2000, days=2, seed=5)
    w = fit_loglink(log, 3)
    model = LinearModel(Layout(3), w, log_link=True)
    seen = _bids(cfg, loglink_w=w, bid_level=1.5)
    assert sum(b.size for _, _, b, _ in seen) > 500
    for x, converted, bids, mult in seen:
        rows = np.concatenate([x, converted[:, None].astype(x.dtype)], axis=1)
        p = np.where(converted, 0.0, model.predict(rows, np.zeros(0, np.int64)))
        np.testing.assert_allclose(bids, cfg.bidders.target_cpa * p * mult, rtol=1e-12)
    assert (mult == 1.5).all()  # the all-zero action: every multiplier at the bid level
    plain = _bids(cfg, bid_level=1.5)  # the value model's bids differ
    assert not all(np.array_equal(a[2], b[2]) for a, b in zip(seen, plain, strict=True))


def test_a_checkpoint_trained_with_the_loglink_prior_plays_with_it(tmp_path) -> None:
    hp = PPOConfig(worlds=1, users=600, days=8, env_hours=192, hidden=8, val_every=0, prior_worlds=1,
                   prior_users=6000, prior_form="loglink")
    train(Config(), hp, tmp_path)
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert ckpt["loglink_w"] is not None and np.isfinite(ckpt["loglink_w"]).all()
    agent = make_agent_bidder(CampaignEnv(users=600, days=1).base, tmp_path / CHECKPOINT)
    assert agent.loglink is not None
    np.testing.assert_array_equal(agent.loglink.w, ckpt["loglink_w"])


@pytest.mark.parametrize(("form", "worlds"), [("cells", 1), ("loglink", 0)])
def test_training_rejects_a_bad_prior_form_before_any_work(tmp_path, form: str, worlds: int) -> None:
    with pytest.raises(ValueError, match=f"prior_form must be one of logistic, loglink .*got '{form}'"):
        train(Config(), PPOConfig(prior_form=form, prior_worlds=worlds), tmp_path)
    assert not any(tmp_path.iterdir())


def test_the_loglink_window_reaches_the_fit(tmp_path) -> None:
    hp = PPOConfig(worlds=1, users=600, days=8, env_hours=24, hidden=8, val_every=0, prior_worlds=1,
                   prior_users=6000, prior_form="loglink", loglink_window_h=24)
    train(Config(), hp, tmp_path)
    w = load_checkpoint(tmp_path / CHECKPOINT)["loglink_w"]
    log = collect_world(Config(), PRIOR_SEED_BASE, 6000, 8)  # the run's prior world
    np.testing.assert_array_equal(w, fit_loglink(log, 3, 24))
    assert not np.array_equal(w, fit_loglink(log, 3, 72))


@pytest.mark.parametrize(("form", "window"), [("logistic", 24), ("loglink", 0), ("loglink", 10_000)])
def test_training_rejects_a_bad_loglink_window_before_any_work(tmp_path, form: str, window: int) -> None:
    with pytest.raises(ValueError, match=f"loglink_window_h {window} needs prior_form 'loglink'"):
        train(Config(), PPOConfig(prior_form=form, prior_worlds=1, loglink_window_h=window), tmp_path)
    assert not any(tmp_path.iterdir())


class _RecordingRequests(_Recording):
    """Also keeps each hour's request rows (the bidder's own, as its estimate read them)."""

    def bid(self, batch):  # type: ignore[no-untyped-def]
        bids = super().bid(batch)
        self.requests_seen.append(self._cache[3])
        return bids


def test_a_prior_with_the_request_history_reads_it_and_the_collection_buys_the_same_clicks(log: ClickLog) -> None:
    with_requests = collect_world(Config(), 1000, 3000, 8, requests=True)
    np.testing.assert_array_equal(with_requests.x, log.x)  # keeping the history changes no bid
    np.testing.assert_array_equal(with_requests.delay, log.delay)
    assert log.requests is None and with_requests.requests.shape == (log.x.shape[0], 3 + 3 + 2)
    seen_before = (with_requests.requests[:, :3] > 0).any(axis=1)  # the device was offered to us before the click
    assert seen_before.any() and (with_requests.requests >= 0).all()
    w = fit_loglink(with_requests, 3, requests=True)
    assert w.size == 193 and not np.array_equal(w[:149], fit_loglink(log, 3))
    model = LinearModel(Layout(3, requests=True), w, log_link=True)
    cfg = Config().replace(users=2000, days=2, seed=5)
    agent = _RecordingRequests(cfg, loglink_w=w, bid_level=1.5, requests=True)  # type: ignore[arg-type]
    agent.seen, agent.requests_seen = [], []
    sim = Simulation(cfg, bidder=agent)
    agent.attach_world(sim)
    sim.run(cfg.days)
    assert sum(b.size for _, _, b, _ in agent.seen) > 500
    for (x, converted, bids, mult), r in zip(agent.seen, agent.requests_seen, strict=True):
        rows = np.concatenate([x, converted[:, None].astype(x.dtype), r], axis=1)
        p = np.where(converted, 0.0, model.predict(rows, np.zeros(0, np.int64)))
        np.testing.assert_allclose(bids, cfg.bidders.target_cpa * p * mult, rtol=1e-12)
    assert agent.request_rows.shape == (agent.value.x.shape[0], 8)  # a row per logged click
    # the state carries the history; a state without it is refused
    again = AgentBidder(cfg, loglink_w=w, requests=True)
    again.load_state_dict(agent.state_dict())
    np.testing.assert_array_equal(again.requests.by_channel, agent.requests.by_channel)
    np.testing.assert_array_equal(again.request_rows, agent.request_rows)
    with pytest.raises(ValueError, match="no bid-request history"):
        again.load_state_dict(AgentBidder(cfg).state_dict())


def test_a_prior_of_the_other_layout_is_refused_by_name(log: ClickLog) -> None:
    cfg = Config().replace(users=200, days=1)
    with pytest.raises(ValueError, match="loglink_w has 149 weights; a log-link prior with the bid-request history "
                                         "has 193"):
        AgentBidder(cfg, loglink_w=fit_loglink(log, 3), requests=True)
    with pytest.raises(ValueError, match="loglink_w has 193 weights; a log-link prior without"):
        AgentBidder(cfg, loglink_w=np.zeros(193))


def test_a_checkpoint_trained_with_the_request_history_plays_with_it(tmp_path) -> None:
    hp = PPOConfig(worlds=2, users=600, days=8, env_hours=192, hidden=8, val_every=0, prior_worlds=1,
                   prior_users=6000, prior_form="loglink", loglink_requests=True)
    train(Config(), hp, tmp_path)
    ckpt = load_checkpoint(tmp_path / CHECKPOINT)
    assert ckpt["loglink_requests"] is True and ckpt["loglink_w"].size == 193
    log = collect_world(Config(), PRIOR_SEED_BASE, 6000, 8, requests=True)  # the run's prior world
    np.testing.assert_array_equal(ckpt["loglink_w"], fit_loglink(log, 3, requests=True))
    agent = make_agent_bidder(CampaignEnv(users=600, days=1).base, tmp_path / CHECKPOINT)
    assert agent.requests is not None and agent.loglink is not None and agent.loglink.layout.requests
    with pytest.raises(ValueError, match="loglink_requests needs prior_form 'loglink', got 'logistic'"):
        train(Config(), PPOConfig(prior_worlds=1, loglink_requests=True), tmp_path / "other")
