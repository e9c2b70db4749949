"""The hindsight search of oracle_lp's k: on known score curves, and on a real small world."""

from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pytest

from gaelp.config import load_config
from gaelp.experiments.hindsight import DEFAULT_GRID, KGrid, KSearch, search_worlds
from gaelp.experiments.play import Play, WorldResult, play


def run_search(score, grid: KGrid = DEFAULT_GRID) -> KSearch:
    s = KSearch(grid)
    while todo := s.propose():
        for e in todo:
            s.record(e, score(e))
    return s


@pytest.mark.parametrize("peak", [-0.4, 0.3, 1.0, 1.6, 2.4])
def test_search_finds_the_peak_inside_the_coarse_grid_in_nine_replays(peak):
    s = run_search(lambda e: 100.0 - (e - peak) ** 2)
    assert len(s.scores) == DEFAULT_GRID.typical_replays == 9
    assert abs(s.best() - peak) <= 0.125 + 1e-9  # the finest step is 1/4: within half of it


@pytest.mark.parametrize("peak", [-4.2, 5.4])
def test_search_walks_outward_when_the_best_k_is_at_an_end(peak):
    s = run_search(lambda e: 100.0 - (e - peak) ** 2)
    assert abs(s.best() - peak) <= 0.125 + 1e-9
    assert len(s.scores) > 9


def test_search_stops_at_the_bounds_and_does_not_wander_on_ties():
    assert run_search(lambda e: e).best() == DEFAULT_GRID.highest  # always better higher up: stops at k = 64
    flat = run_search(lambda e: 0.0)  # nothing bought anywhere: no direction to extend in, ties go to the smaller k
    assert flat.best() == min(flat.scores) and len(flat.scores) == 9  # refined around the smallest k, no walk


def test_grid_rejects_an_unsorted_or_out_of_bounds_coarse_grid():
    with pytest.raises(ValueError, match="increasing"):
        KGrid(coarse=(1.0, 0.0))
    with pytest.raises(ValueError, match="within"):
        KGrid(coarse=(0.0, 7.0))


def test_search_worlds_returns_each_worlds_best_replay():
    peaks = {3: 0.5, 8: 2.25}

    def run(job: Play) -> Future:
        f: Future = Future()
        e = float(np.log2(job.k))
        f.set_result(WorldResult(job.seed, job.bidder, 50.0 - (e - peaks[job.seed]) ** 2, 1, 1.0, 1.0, 1.0, 0.1,
                                 job.k))
        return f

    best = search_worlds([3, 8], run)
    assert set(best) == {3, 8}
    for seed, peak in peaks.items():
        assert best[seed].seed == seed and best[seed].bidder == "oracle_lp"
        assert best[seed].score == pytest.approx(50.0) and np.log2(best[seed].k) == pytest.approx(peak)


def test_on_a_real_world_the_chosen_k_is_the_best_replay_and_replays_are_exact():
    cfg = load_config(None, users=5_000, days=5)
    played: list[WorldResult] = []

    def run(job: Play) -> Future:
        f: Future = Future()
        played.append(play(cfg, job))
        f.set_result(played[-1])
        return f

    best = search_worlds([1], run)[1]
    assert best.score == max(r.score for r in played) > 0
    assert best.k in {r.k for r in played}
    assert len({r.k for r in played}) == len(played)  # no k played twice
    assert play(cfg, Play(1, "oracle_lp", best.k)) == best  # the same world, the same k: the same campaign
