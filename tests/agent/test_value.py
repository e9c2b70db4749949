"""The value model corrects for delayed feedback: recent clicks are not negatives yet."""

from __future__ import annotations

import numpy as np

from gaelp.agent.value import ValueModel
from gaelp.attribution.lag import sample_click_log


def _model_on_log(seed: int, horizon_h: float) -> tuple[ValueModel, float]:
    rng = np.random.default_rng(seed)
    log = sample_click_log(rng, 4000, p=0.3, mean_delay_h=72.0, horizon_h=horizon_h)
    vm = ValueModel(n_features=1, window_h=720, l2=1e-3, em_steps=4)
    t_click = np.floor(horizon_h - log.elapsed_h).astype(np.int64)
    order = np.argsort(t_click, kind="stable")
    for t in np.unique(t_click):
        rows = order[t_click[order] == t]
        vm.record_clicks(int(t), np.ones((rows.size, 1), np.float32), rows.astype(np.int64))
    seen = np.flatnonzero(log.converted)
    conv_t = np.ceil(t_click[seen] + log.delay_h[seen]).astype(np.int64)
    vm.record_conversions(np.minimum(conv_t, int(horizon_h)), seen.astype(np.int64))
    vm.refit(int(horizon_h))
    return vm, float(log.converted.mean())


def test_recent_clicks_are_not_negatives() -> None:
    vm, naive = _model_on_log(0, horizon_h=120.0)
    p = float(vm.predict(np.ones((1, 1)))[0])
    assert naive < 0.2  # most conversions of a 5-day log have not happened yet
    assert abs(p - 0.3) < 0.05


def test_conversions_label_only_clicks_in_the_window_before_them() -> None:
    vm = ValueModel(n_features=1, window_h=48)
    vm.record_clicks(0, np.ones((2, 1)), np.array([5, 6]))
    vm.record_clicks(10, np.ones((1, 1)), np.array([5]))
    labelled = vm.record_conversions(np.array([55]), np.array([5]))  # 55 h after the 1st click, 45 h after the 2nd
    assert vm.conv_t.tolist() == [-1, -1, 55]
    assert labelled.tolist() == [True]


def test_conversions_say_which_purchases_followed_a_click() -> None:
    vm = ValueModel(n_features=1, window_h=48)
    vm.record_clicks(0, np.ones((2, 1)), np.array([5, 6]))
    # device 7 never clicked, device 6's purchase is past the window, device 5's follows its click
    labelled = vm.record_conversions(np.array([10, 60, 20]), np.array([7, 6, 5]))
    assert labelled.tolist() == [False, False, True]
    assert vm.record_conversions(np.array([30]), np.array([5])).tolist() == [False]  # its click is taken


def test_a_click_of_weight_two_fits_like_two_clicks() -> None:
    # importance sampling: the regression and the summary count a click by its sampling weight
    rng = np.random.default_rng(4)
    x = np.column_stack([np.ones(300), rng.integers(0, 2, 300)]).astype(np.float32)
    w = np.where(rng.random(300) < 0.3, 2.0, 1.0)
    rows = np.repeat(np.arange(300), w.astype(np.int64))
    weighted, copied = ValueModel(n_features=2, window_h=48), ValueModel(n_features=2, window_h=48)
    weighted.record_clicks(0, x, np.arange(300), w)
    copied.record_clicks(0, x[rows], rows)
    buyers = np.flatnonzero(x[:, 1] == 1)[:40]
    for vm in (weighted, copied):
        vm.record_conversions(np.full(buyers.size, 6), buyers)
        vm.refit(60)
    np.testing.assert_allclose(weighted.w, copied.w, rtol=1e-8)
    np.testing.assert_allclose(weighted.summary(), copied.summary(), rtol=1e-6)
    assert weighted.summary()[0] == np.float32(np.log1p(w.sum()))


def test_the_kept_log_and_summary_equal_a_model_rebuilt_from_its_state() -> None:
    # the click log grows into room and the summary is kept between changes: a model restored from the
    # state (fresh arrays, nothing kept) gives the same numbers after every step of a campaign
    rng = np.random.default_rng(6)
    vm = ValueModel(n_features=3, window_h=48)
    for t in range(60):
        k = int(rng.integers(0, 4))
        x = np.column_stack([np.ones(k), rng.random((k, 2))]).astype(np.float32)
        vm.record_clicks(t, x, rng.integers(0, 30, k))
        if t % 7 == 3:
            vm.record_conversions(np.array([t]), rng.integers(0, 30, 1))
        vm.maybe_refit(t + 1)
        fresh = ValueModel(n_features=3, window_h=48)
        fresh.load_state_dict(vm.state_dict())
        assert vm.summary().tobytes() == fresh._summarize().tobytes()
        assert vm.x.tobytes() == fresh.x.tobytes() and vm.conv_t.tolist() == fresh.conv_t.tolist()
    assert vm.n_clicks > 64  # the log outgrew its first room
