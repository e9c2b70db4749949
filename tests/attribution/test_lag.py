"""Delayed-feedback lag model: gradient, recovery under heavy censoring, posterior helper."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from gaelp.attribution.lag import (
    ClickLog,
    _negloglik,
    fit_lag,
    fit_lag_groups,
    prob_converts_later,
    sample_click_log,
)


@pytest.mark.parametrize("fit_shape", [False, True])
def test_gradient_matches_finite_differences(rng, fit_shape: bool) -> None:
    n = 500
    x = np.column_stack([np.ones(n), rng.normal(size=n)])
    t = rng.uniform(0.0, 100.0, n)
    conv = rng.random(n) < 0.3
    t[:5], conv[:5] = 0.0, False  # clicks observed the instant they happened
    theta = rng.normal(scale=0.3, size=4 + fit_shape) + np.r_[0, 0, 3, 0, 0][: 4 + fit_shape]
    grad = _negloglik(theta, x, t, conv, fit_shape)[1]
    numeric = approx_fprime(theta, lambda th: _negloglik(th, x, t, conv, fit_shape)[0], 1e-7)
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-6)


def test_recovers_exponential_truth_where_naive_rate_is_biased() -> None:
    # A week of clicks with a 48-hour mean delay: about 28% of eventual conversions are unseen.
    log = sample_click_log(
        np.random.default_rng(11), 100_000, p=0.3, mean_delay_h=48.0, horizon_h=168.0
    )
    fit = fit_lag(log.elapsed_h, log.delay_h)
    assert fit.converged
    assert abs(fit.p_convert() - 0.3) < 0.01
    assert abs(fit.mean_delay_h() / 48.0 - 1) < 0.05
    assert fit.naive_rate < 0.3 - 0.05  # the naive rate is visibly biased low


def test_recovers_weibull_truth() -> None:
    log = sample_click_log(
        np.random.default_rng(12), 100_000, p=0.25, mean_delay_h=72.0, horizon_h=336.0, shape=0.7
    )
    fit = fit_lag(log.elapsed_h, log.delay_h, model="weibull")
    assert abs(fit.p_convert() - 0.25) < 0.01
    assert abs(fit.mean_delay_h() / 72.0 - 1) < 0.05
    assert abs(fit.shape_ - 0.7) < 0.05
    assert fit.naive_rate < 0.25 - 0.03


def test_covariates_recover_two_segments() -> None:
    rng = np.random.default_rng(13)
    a = sample_click_log(rng, 40_000, p=0.2, mean_delay_h=24.0, horizon_h=168.0)
    b = sample_click_log(rng, 40_000, p=0.5, mean_delay_h=96.0, horizon_h=168.0)
    x = np.column_stack([np.ones(80_000), np.r_[np.zeros(40_000), np.ones(40_000)]])
    fit = fit_lag(np.r_[a.elapsed_h, b.elapsed_h], np.r_[a.delay_h, b.delay_h], x=x)
    np.testing.assert_allclose(fit.p_convert(np.array([[1, 0], [1, 1]])), [0.2, 0.5], atol=0.015)
    np.testing.assert_allclose(fit.mean_delay_h(np.array([[1, 0], [1, 1]])), [24, 96], rtol=0.06)
    with pytest.raises(ValueError, match="pass x"):
        fit.p_convert()


def test_groups_fit_separately_and_sorted() -> None:
    rng = np.random.default_rng(14)
    a = sample_click_log(rng, 5_000, p=0.2, mean_delay_h=24.0, horizon_h=168.0)
    b = sample_click_log(rng, 5_000, p=0.4, mean_delay_h=24.0, horizon_h=168.0)
    log = ClickLog(np.r_[b.elapsed_h, a.elapsed_h], np.r_[b.delay_h, a.delay_h])
    fits = fit_lag_groups(log, np.array(["b"] * 5_000 + ["a"] * 5_000))
    assert list(fits) == ["a", "b"]
    assert fits["a"].p_convert() == pytest.approx(fit_lag(a.elapsed_h, a.delay_h).p_convert())
    assert list(fit_lag_groups(log)) == ["all"]


def test_prob_converts_later_agrees_with_simulation() -> None:
    rng = np.random.default_rng(15)
    n, p, mean, elapsed = 400_000, 0.3, 48.0, 24.0
    converts = rng.random(n) < p
    delay = rng.exponential(mean, n)
    unseen = ~(converts & (delay <= elapsed))
    later = (converts & (delay > elapsed))[unseen].mean()
    formula = prob_converts_later(p, np.exp(-elapsed / mean))
    se = np.sqrt(formula * (1 - formula) / unseen.sum())
    assert abs(later - formula) < 4 * se
    assert prob_converts_later(0.3, 1.0) == pytest.approx(0.3)  # nothing learned yet
    assert prob_converts_later(0.3, 0.0) == 0.0  # the window is long past


def test_expected_remaining_value_and_survival() -> None:
    log = sample_click_log(
        np.random.default_rng(16), 20_000, p=0.3, mean_delay_h=48.0, horizon_h=168.0
    )
    fit = fit_lag(log.elapsed_h, log.delay_h)
    e = np.array([0.0, 24.0, 1000.0])
    s = np.exp(-e / fit.scale_h())
    np.testing.assert_allclose(fit.survival(e), s)
    expected = 220.0 * fit.p_convert() * s / (1 - fit.p_convert() + fit.p_convert() * s)
    np.testing.assert_allclose(fit.expected_remaining_value(e, 220.0), expected)
    assert fit.expected_remaining_value(0.0, 220.0) == pytest.approx(220.0 * fit.p_convert())


def test_no_conversion_seen() -> None:
    fit = fit_lag(np.array([1.0, 2.0]), np.array([np.nan, np.nan]))
    assert fit.p_convert() == 0.0 and np.isnan(fit.mean_delay_h()) and fit.naive_rate == 0.0


@pytest.mark.parametrize(
    ("elapsed", "delay", "kwargs", "message"),
    [
        ([1.0], [2.0], {}, "exceeds its elapsed_h"),
        ([-1.0], [np.nan], {}, "elapsed_h must be finite and >= 0"),
        ([1.0], [0.5], {"model": "lognormal"}, "model must be one of"),
        ([1.0, 2.0], [0.5], {}, "same length"),
    ],
)
def test_rejects_bad_input(elapsed, delay, kwargs, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        fit_lag(np.array(elapsed), np.array(delay), **kwargs)
