"""Journey statistics against a slow reference loop."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from gaelp.experiments.journey_stats import journey_stats


def reference(imp_t, imp_person, imp_clicked, conv_t, conv_person, conv_start, window_h):
    touches, first, last_click = [], [], []
    for t, p, s in zip(conv_t, conv_person, conv_start):
        since = max(t - window_h + 1, s)
        mine = [(it, c) for it, ip, c in zip(imp_t, imp_person, imp_clicked) if ip == p and since <= it <= t]
        touches.append(len(mine))
        first.append(t - min(it for it, _ in mine) if mine else np.nan)
        clicks = [it for it, ip, c in zip(imp_t, imp_person, imp_clicked) if ip == p and c and it <= t]
        last_click.append(t - max(clicks) if clicks else np.nan)
    return np.array(touches, float), np.array(first, float), np.array(last_click, float)


@settings(deadline=None, max_examples=60)
@given(st.integers(0, 2**32 - 1))
def test_matches_reference(seed):
    rng = np.random.default_rng(seed)
    k, m = rng.integers(0, 60), rng.integers(1, 15)
    imp_t = rng.integers(0, 500, k)
    imp_person = rng.integers(0, 6, k)
    imp_clicked = rng.random(k) < 0.3
    conv_t = rng.integers(0, 500, m)
    conv_person = rng.integers(0, 6, m)
    conv_start = np.maximum(conv_t - rng.integers(0, 400, m), 0)
    window = int(rng.integers(24, 300))
    got = journey_stats(imp_t, imp_person, imp_clicked, conv_t, conv_person, conv_start, window)
    want = reference(imp_t, imp_person, imp_clicked, conv_t, conv_person, conv_start, window)
    np.testing.assert_array_equal(got.touches, want[0])
    np.testing.assert_array_equal(got.first_touch_lag_h, want[1])
    np.testing.assert_array_equal(got.click_lag_h, want[2])


def test_summary_on_a_hand_made_journey():
    stats = journey_stats(np.array([0, 24, 48]), np.array([1, 1, 1]), np.array([False, True, False]),
                          np.array([72]), np.array([1]), np.array([0]), 720)
    s = stats.summary()
    assert s == {"touchpoints_per_conversion": 3.0, "median_lag_days": 3.0, "share_within_day_of_click": 0.0}
