"""Seeded random journeys and slow views for reference implementations."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gaelp.attribution.paths import Paths

SEED = 20240501


def make_paths(
    rng: np.random.Generator,
    n_paths: int = 300,
    n_channels: int = 5,
    max_len: int = 6,
    with_times: bool = True,
) -> Paths:
    """Random journeys: lengths 1..max_len, skewed channel mix, some multi-journey rows."""
    lengths = rng.integers(1, max_len + 1, n_paths)
    path_id = np.repeat(np.arange(n_paths), lengths)
    mix = rng.dirichlet(np.ones(n_channels))
    channel = rng.choice(n_channels, size=len(path_id), p=mix)
    # Conversion odds rise with channel 0 on the path, so data-driven models have signal.
    has0 = np.bincount(path_id, channel == 0, minlength=n_paths) > 0
    converted = rng.random(n_paths) < np.where(has0, 0.5, 0.2)
    conversions = converted * rng.integers(1, 3, n_paths).astype(float)
    value = conversions * rng.uniform(20.0, 300.0, n_paths)
    nulls = np.where(converted, rng.integers(0, 2, n_paths), rng.integers(1, 4, n_paths))
    t = conv_t = None
    if with_times:
        t = rng.uniform(0.0, 24.0 * 40, len(path_id))
        last = np.zeros(n_paths)
        np.maximum.at(last, path_id, t)
        conv_t = np.where(converted, last + rng.uniform(0.0, 48.0, n_paths), np.nan)
    return Paths.from_arrays(
        path_id,
        channel,
        tuple(f"ch{i}" for i in range(n_channels)),
        conversions=conversions,
        value=value,
        nulls=nulls.astype(float),
        t=t,
        conversion_t=conv_t,
    )


def path_lists(paths: Paths) -> list[list[int]]:
    """Slow view used by reference implementations: the channel codes of each path."""
    return [
        paths.channel[a:b].tolist()
        for a, b in zip(paths.offsets[:-1], paths.offsets[1:], strict=True)
    ]


def make_events(rng: np.random.Generator, n_users: int = 60, days: float = 90.0) -> pd.DataFrame:
    """A random event log: touches on 4 channels, some conversions, mixed timestamp formats."""
    n = n_users * 8
    user = rng.integers(0, n_users, n)
    secs = 1_704_067_200 + rng.uniform(0, days * 86400, n).round()
    kind = rng.choice(["impression", "click", "conversion"], size=n, p=[0.5, 0.38, 0.12])
    channel = rng.choice(["search", "social", "display", "email"], size=n)
    stamp = pd.to_datetime(secs, unit="s", utc=True)
    iso_z = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    iso_off = (stamp.tz_convert("America/New_York")).strftime("%Y-%m-%dT%H:%M:%S%z")
    fmt = rng.integers(0, 3, n)
    timestamp = np.where(
        fmt == 0, iso_z, np.where(fmt == 1, iso_off, secs.astype(np.int64).astype(str))
    )
    conv = kind == "conversion"
    return pd.DataFrame(
        {
            "event_id": [f"ev{i:05d}" for i in range(n)],
            "timestamp": timestamp,
            "user_id": [f"user{u}" for u in user],
            "channel": np.where(conv, "", channel),
            "event_type": kind,
            "cost": np.where(conv, "", rng.uniform(0, 3, n).round(2).astype(str)),
            "value": np.where(conv, rng.choice([0.0, 99.0, 220.0], n).astype(str), ""),
        }
    )
