"""Seeded random journeys and slow views for reference implementations."""

from __future__ import annotations

import numpy as np

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
    return [paths.channel[a:b].tolist() for a, b in zip(paths.offsets[:-1], paths.offsets[1:])]
