"""Bootstrap CIs, the paired Wilcoxon signed-rank test and Holm's adjustment, on small known cases."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.experiments.stats import bootstrap_ci, holm, wilcoxon_p


def test_bootstrap_ci_is_reproducible_from_its_seed_and_brackets_the_mean():
    x = np.random.default_rng(5).normal(10.0, 2.0, 30)
    a = bootstrap_ci(x, np.random.default_rng(1))
    assert a == bootstrap_ci(x, np.random.default_rng(1))
    assert a != bootstrap_ci(x, np.random.default_rng(2))
    assert a[0] < x.mean() < a[1]
    # close to the normal-theory interval of a mean: +-1.96 standard errors
    half = 1.96 * x.std(ddof=1) / np.sqrt(x.size)
    assert a[1] - a[0] == pytest.approx(2 * half, rel=0.15)


def test_bootstrap_ci_narrows_with_more_worlds_and_widens_with_the_level():
    rng = np.random.default_rng(9)
    small, large = rng.normal(0, 1, 10), rng.normal(0, 1, 1000)

    def w(x, level=0.95):
        lo, hi = bootstrap_ci(x, np.random.default_rng(0), level=level)
        return hi - lo

    assert w(large) < w(small) / 5
    assert w(small, 0.99) > w(small, 0.95) > w(small, 0.5)


def test_bootstrap_ci_of_one_value_is_that_value_and_an_empty_sample_is_refused():
    assert bootstrap_ci([3.5], np.random.default_rng(0)) == (3.5, 3.5)
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_ci([], np.random.default_rng(0))
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci([1.0, 2.0], np.random.default_rng(0), level=1.5)
    with pytest.raises(ValueError, match="statistic must be 'mean' or 'median'"):
        bootstrap_ci([1.0, 2.0], np.random.default_rng(0), statistic="mode")


def test_bootstrap_ci_of_the_median_ignores_an_outlier_that_drags_the_mean():
    x = np.r_[np.random.default_rng(3).normal(1.0, 0.05, 29), 50.0]  # thirty worlds, one wild
    lo, hi = bootstrap_ci(x, np.random.default_rng(0), statistic="median")
    assert lo < np.median(x) < hi < 1.2  # the median's interval stays near the bulk
    assert bootstrap_ci(x, np.random.default_rng(0))[1] > 2.0  # the mean's reaches towards the outlier


@pytest.mark.parametrize(("n", "expected"), [(5, 2 / 2**5), (6, 2 / 2**6), (8, 2 / 2**8)])
def test_wilcoxon_exact_p_when_every_pair_goes_one_way(n, expected):
    # every difference positive: the observed rank sum is the most extreme of 2^n sign patterns, both tails count
    a = np.arange(1.0, n + 1) + 10.0
    b = np.zeros(n)
    assert wilcoxon_p(a, b) == pytest.approx(expected)
    assert wilcoxon_p(b, a) == pytest.approx(expected)


def test_wilcoxon_is_symmetric_and_finds_no_difference_in_a_balanced_sample():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([2.0, 1.0, 4.0, 3.0])  # differences -1, +1, -1, +1
    assert wilcoxon_p(a, b) == pytest.approx(1.0)
    assert wilcoxon_p([5.0, 5.0], [5.0, 5.0]) == 1.0
    with pytest.raises(ValueError, match="paired"):
        wilcoxon_p([1.0, 2.0], [1.0])


def test_holm_on_a_known_family():
    # sorted 0.01, 0.02, 0.03, 0.04 times 4, 3, 2, 1 = 0.04, 0.06, 0.06, 0.04 -> running max 0.04, 0.06, 0.06, 0.06
    assert holm([0.03, 0.01, 0.04, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm([0.2]) == [0.2]


def test_holm_never_lowers_a_p_value_and_keeps_their_order():
    p = np.random.default_rng(3).uniform(0, 1, 12)
    adj = np.array(holm(p))
    assert np.all(adj >= p) and np.all(adj <= 1)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, 1.2])

