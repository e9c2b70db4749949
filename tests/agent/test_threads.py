"""Training's arithmetic on one thread: the same seed gives the same weights on any number of cores."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from gaelp.agent import prior_fit
from gaelp.agent.threads import one_thread
from gaelp.config import Config


def blas_threads() -> set[int]:
    """The thread counts of the BLAS libraries loaded in this process."""
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def test_one_thread_limits_blas_and_torch_inside_and_restores_blas_after():
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        with one_thread():
            assert blas_threads() == {1} and torch.get_num_threads() == 1
        assert blas_threads() == before


def test_the_prior_is_built_on_one_blas_thread_whatever_the_caller_set(monkeypatch):
    seen: list[set[int]] = []
    collect, fit = prior_fit.collect_world, prior_fit.fit_prior

    def collect_spy(*args, **kwargs):
        seen.append(blas_threads())
        log = collect(*args, **kwargs)  # a small world's clicks, a tenth of them labelled (it has few purchases)
        labelled = np.random.default_rng(0).random(log.delay.size) < 0.1
        return dataclasses.replace(log, delay=np.where(labelled, 5.0, np.nan))

    def fit_spy(*args, **kwargs):
        seen.append(blas_threads())
        return fit(*args, **kwargs)

    monkeypatch.setattr(prior_fit, "collect_world", collect_spy)
    monkeypatch.setattr(prior_fit, "fit_prior", fit_spy)
    with threadpool_limits(limits=2, user_api="blas"):
        w, log = prior_fit.build_prior(Config(), worlds=1, users=1_000, days=2)
        assert blas_threads() == {2}
    assert seen == [{1}, {1}] and log.x.shape[0] > 0 and np.isfinite(w).all()
