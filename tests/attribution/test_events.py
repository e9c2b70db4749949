"""Events to paths: lookback window, expired and trailing touches, direct conversions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gaelp.attribution.event_log import parse_events
from gaelp.attribution.events import events_to_paths
from gaelp.attribution.paths import Paths
from gaelp.attribution.registry import MODELS, get_model

from .helpers import make_events, path_lists

DAY = 86_400


def log(rows: list[tuple[str, float, str, str, str]]) -> pd.DataFrame:
    """Rows of (user, day, channel, event_type, value), event ids in row order."""
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "timestamp": [str(int(1_704_067_200 + d * DAY)) for _, d, *_ in rows],
            "user_id": [r[0] for r in rows],
            "channel": [r[2] for r in rows],
            "event_type": [r[3] for r in rows],
            "cost": ["0"] * len(rows),
            "value": [r[4] for r in rows],
        }
    )


def as_records(paths: Paths) -> list[tuple]:
    return sorted(
        (
            tuple(paths.channels[c] for c in chans),
            float(paths.conversions[i]),
            float(paths.value[i]),
            float(paths.nulls[i]),
        )
        for i, chans in enumerate(path_lists(paths))
    )


def test_window_expired_trailing_and_direct() -> None:
    df = log(
        [
            ("u1", 0, "display", "impression", ""),  # 45 days before the conversion: expired
            ("u1", 20, "search", "click", ""),
            ("u1", 40, "social", "click", ""),
            ("u1", 45, "", "conversion", "220"),
            ("u1", 50, "email", "click", ""),  # after the last conversion: trailing
            ("u2", 3, "", "conversion", "99"),  # no touch at all: direct
            ("u3", 1, "search", "click", ""),
            ("u3", 1, "", "conversion", "50"),  # same instant: the touch still counts
            ("u3", 2, "", "conversion", "50"),  # nothing since the previous one: direct
        ]
    )
    built = events_to_paths(parse_events(df).events, window_days=30)
    assert as_records(built.paths) == sorted(
        [
            (("search", "social"), 1.0, 220.0, 0.0),
            (("display",), 0.0, 0.0, 1.0),
            (("email",), 0.0, 0.0, 1.0),
            (("search",), 1.0, 50.0, 0.0),
        ]
    )
    s = built.summary
    assert (s.touches, s.conversions, s.converting_paths) == (5, 4, 2)
    assert (s.direct_conversions, s.direct_value) == (2, 149.0)
    assert (s.expired_touches, s.trailing_touches, s.null_paths) == (1, 1, 2)
    # Times survive: the converting path keeps its conversion hour for time decay.
    conv_paths = np.flatnonzero(built.paths.conversions > 0)
    assert sorted(built.paths.conversion_t_hours[conv_paths].tolist()) == [24.0, 45 * 24.0]


def reference_paths(df: pd.DataFrame, window_days: float) -> list[tuple]:
    """Per-user loop over events sorted by (time, touches first, event id)."""
    ev = parse_events(df).events
    out = []
    for u in np.unique(ev.user):
        idx = sorted(
            np.flatnonzero(ev.user == u),
            key=lambda i: (ev.t_hours[i], ev.is_conversion[i], ev.event_key[i]),
        )
        pending: list[int] = []
        for i in idx:
            if not ev.is_conversion[i]:
                pending.append(i)
                continue
            inside = [j for j in pending if ev.t_hours[i] - ev.t_hours[j] <= window_days * 24]
            old = [j for j in pending if j not in inside]
            if inside:
                out.append(
                    (
                        tuple(ev.channels[ev.channel[j]] for j in inside),
                        1.0,
                        float(ev.value[i]),
                        0.0,
                    )
                )
            if old:
                out.append((tuple(ev.channels[ev.channel[j]] for j in old), 0.0, 0.0, 1.0))
            pending = []
        if pending:
            out.append((tuple(ev.channels[ev.channel[j]] for j in pending), 0.0, 0.0, 1.0))
    return sorted(out)


@pytest.mark.parametrize("window", [3.0, 30.0])
def test_matches_a_per_user_loop(window: float) -> None:
    df = make_events(np.random.default_rng(5), n_users=80)
    built = events_to_paths(parse_events(df).events, window_days=window)
    assert as_records(built.paths) == reference_paths(df, window)


def test_row_order_does_not_matter() -> None:
    df = make_events(np.random.default_rng(6), n_users=50)
    # Make ties likely: several events of a user in the same second.
    df.loc[df.index[::7], "timestamp"] = df["timestamp"].iloc[0]
    shuffled = df.sample(frac=1.0, random_state=np.random.RandomState(0)).reset_index(drop=True)
    a = Paths.from_events(df, window_days=30)
    b = Paths.from_events(shuffled, window_days=30)
    assert as_records(a) == as_records(b)
    for name in MODELS:
        ca, cb = get_model(name).channel_credit(a), get_model(name).channel_credit(b)
        np.testing.assert_allclose(ca.conversions, cb.conversions, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(ca.value, cb.value, rtol=1e-12, err_msg=name)


def test_touch_index_points_at_input_rows() -> None:
    df = make_events(np.random.default_rng(7), n_users=30)
    p = Paths.from_events(df)
    rows = df.iloc[p.touch_index]
    assert (rows["event_type"] != "conversion").all()
    assert [p.channels[c] for c in p.channel] == rows["channel"].tolist()


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window_days must be > 0"):
        events_to_paths(parse_events(log([("u", 0, "a", "click", "")])).events, window_days=0)
