"""Statistics of paired evaluations: bootstrap CIs of a mean or a median, Wilcoxon signed-rank, Holm's adjustment.

Every bidder plays the same worlds, so bidders are compared per world (paired); the worlds are few
(tens), so the tests make no normality assumption.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_ci(x: Sequence[float] | np.ndarray, rng: np.random.Generator, n_boot: int = 10_000,
                 level: float = 0.95, statistic: str = "mean") -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (or the median) of `x`.

    Args:
        x: (n,) values, n >= 1 (one per world).
        rng: the resampling stream (seeded by the caller: same seed, same interval).
        n_boot: resamples.
        level: coverage, e.g. 0.95.
        statistic: "mean" or "median" (of each resample).

    Returns:
        (low, high); a single value or identical values give a zero-width interval at the mean.

    Example:
        >>> bootstrap_ci([2.0, 2.0, 2.0], np.random.default_rng(0))
        (2.0, 2.0)
        >>> lo, hi = bootstrap_ci([1.0, 2.0, 3.0, 4.0], np.random.default_rng(0))
        >>> 1.0 <= lo < 2.5 < hi <= 4.0
        True
    """
    a = np.asarray(x, np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"bootstrap_ci needs a non-empty 1-d sample, got shape {a.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    if statistic not in ("mean", "median"):
        raise ValueError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    resamples = a[rng.integers(0, a.size, (n_boot, a.size))]
    stats = resamples.mean(axis=1) if statistic == "mean" else np.median(resamples, axis=1)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(lo), float(hi)


def wilcoxon_p(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Two-sided p-value of the paired Wilcoxon signed-rank test of `a` against `b`.

    Zero differences are dropped (Wilcoxon's convention); when every pair is equal there is no
    evidence of a difference and the p-value is 1.

    Example:
        >>> round(wilcoxon_p([2, 3, 4, 5, 6], [1, 1, 1, 1, 1]), 4)  # 5 of 5 above: exact 2 / 2^5
        0.0625
        >>> wilcoxon_p([1.0, 2.0], [1.0, 2.0])
        1.0
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"wilcoxon_p needs two paired 1-d samples, got shapes {x.shape} and {y.shape}")
    if not np.any(x != y):
        return 1.0
    from scipy import stats  # ~1 s to import: only when a test is run

    return float(stats.wilcoxon(x, y, zero_method="wilcox", alternative="two-sided").pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (controls the family-wise error rate).

    The i-th smallest p-value is multiplied by (m - i), i from 0, made non-decreasing in that order
    and capped at 1; the result is in the order given.

    Example:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
        >>> holm([])
        []
    """
    p = np.asarray(p_values, np.float64)
    m = p.size
    if m == 0:
        return []
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p.tolist()}")
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return [float(v) for v in out]
