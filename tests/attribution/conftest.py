"""Fixtures: seeded random journeys with repeats, one-touch and non-converting paths."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from gaelp.attribution.paths import Paths

from .helpers import SEED, make_paths


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


@pytest.fixture
def random_paths(rng: np.random.Generator) -> Callable[..., Paths]:
    """Factory: `random_paths(n_paths=..., n_channels=..., with_times=...)`."""
    return lambda **kw: make_paths(rng, **kw)
