"""Campaigns over a store: episodes equal one run, a failed run resumes exactly, wrong resumes refused."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.config import load_config
from gaelp.experiments.stored import config_fingerprint, run_campaign
from gaelp.journeys import schema as S
from gaelp.journeys.engines import StoreError
from gaelp.journeys.store import JourneyStore
from gaelp.simulation import Simulation

SEED = 21


def table_rows(url: str, skip: tuple[str, ...] = ("episodes",)) -> dict[str, dict[str, list]]:
    """Every table's rows in key order, as lists (blobs as bytes)."""
    out = {}
    with JourneyStore(url) as st:
        for name in S.TABLE_NAMES:
            if name in skip:
                continue
            pages = list(st.iter_rows(name, batch_size=5000))
            out[name] = {c: [x for p in pages for x in p[c].tolist()] for c in (pages[0] if pages else {})}
    return out


def assert_same_rows(a: str, b: str) -> None:
    rows_a, rows_b = table_rows(a), table_rows(b)
    for name in rows_a:
        assert rows_a[name] == rows_b[name], f"table {name} differs"


class Boom(RuntimeError):
    """Stands for a crash after some commits."""


def stop_after(n: int):
    def progress(done: int, _total: int) -> None:
        if done >= n:
            raise Boom(f"stopped after {done} commits")
    return progress


def test_episodes_give_the_same_kpis_and_rows_as_one_run(new_store) -> None:
    cfg = load_config(users=400, days=30, seed=SEED, bidder="target_cpa")
    single, split = new_store("single"), new_store("split")
    one = run_campaign(cfg, 30, single)
    for i, days in enumerate((7, 7, 7, 9)):
        episode = run_campaign(cfg, days, split, resume=i > 0)
    memory = Simulation(cfg)
    memory.run(30)
    table = one.kpis.table(cfg.channel_names)
    assert table == episode.kpis.table(cfg.channel_names) == memory.kpis.table(cfg.channel_names)
    for f in one.kpis.daily:
        assert np.array_equal(one.kpis.daily[f], episode.kpis.daily[f]), f
    assert table["totals"]["impressions"] > 0
    assert_same_rows(single, split)
    with JourneyStore(split) as st:
        eps = st.stats()["episodes"]
    assert [(e["start_day"], e["end_day"]) for e in eps] == [(0, 7), (7, 14), (14, 21), (21, 30)]
    assert {e["config_hash"] for e in eps} == {config_fingerprint(cfg)[1]}


@pytest.mark.parametrize("threaded", [True, False])
def test_a_run_that_dies_resumes_by_replay(new_store, threaded: bool) -> None:
    cfg = load_config(users=300, days=12, seed=SEED, bidder="target_cpa")
    whole, broken = new_store("whole"), new_store("broken")
    run_campaign(cfg, 12, whole, checkpoint_every=4)
    with pytest.raises(Boom):
        run_campaign(cfg, 12, broken, checkpoint_every=4, threaded=threaded, progress=stop_after(6))
    with JourneyStore(broken) as st:
        assert st.committed_days() == 6
        assert st.latest_checkpoint()[0] == 4  # days 4 and 5 are replayed on resume
    resumed = run_campaign(cfg, 6, broken, resume=True, checkpoint_every=4, threaded=threaded)
    assert resumed.day == 12
    assert_same_rows(whole, broken)


def test_resume_before_any_checkpoint_replays_from_the_start(new_store) -> None:
    cfg = load_config(users=200, days=5, seed=SEED)
    whole, broken = new_store("whole"), new_store("broken")
    run_campaign(cfg, 5, whole)
    with pytest.raises(Boom):
        run_campaign(cfg, 5, broken, checkpoint_every=50, progress=stop_after(2))
    with JourneyStore(broken) as st:
        assert st.latest_checkpoint() is None
    run_campaign(cfg, 3, broken, resume=True)
    assert_same_rows(whole, broken)


def test_a_store_with_a_world_needs_resume(new_store) -> None:
    cfg = load_config(users=50, days=3, seed=SEED)
    url = new_store()
    run_campaign(cfg, 1, url)
    with pytest.raises(StoreError, match="already holds a campaign \\(1 committed days\\): pass --resume"):
        run_campaign(cfg, 1, url)


def test_resume_with_another_config_names_the_difference(new_store) -> None:
    url = new_store()
    run_campaign(load_config(users=50, days=3, seed=SEED), 1, url)
    other = load_config(users=50, days=9, seed=SEED + 1)  # `days` may differ, the seed may not
    with pytest.raises(StoreError, match="another config \\(differs in seed\\)"):
        run_campaign(other, 1, url, resume=True)
    run_campaign(load_config(users=50, days=9, seed=SEED), 1, url, resume=True)


def test_a_replay_that_differs_is_refused(new_store) -> None:
    cfg = load_config(users=100, days=4, seed=SEED)
    url = new_store()
    with pytest.raises(Boom):
        run_campaign(cfg, 4, url, checkpoint_every=50, progress=stop_after(2))
    with JourneyStore(url, write=True) as st, st.engine.begin() as conn:
        conn.execute(S.days.update().where(S.days.c.day == 1).values(digest="0" * 32))
    with pytest.raises(StoreError, match="day 1 replays differently"):
        run_campaign(cfg, 1, url, resume=True)


def test_bad_arguments(tmp_path) -> None:
    cfg = load_config(users=10, days=2)
    with pytest.raises(StoreError, match="no journey store"):
        run_campaign(cfg, 1, None)
    with pytest.raises(ValueError, match="days must be >= 1"):
        run_campaign(cfg, 0, f"duckdb:///{tmp_path}/x.duckdb")
    with pytest.raises(ValueError, match="checkpoint_every must be >= 1"):
        run_campaign(cfg, 1, f"duckdb:///{tmp_path}/x.duckdb", checkpoint_every=0)
    assert not (tmp_path / "x.duckdb").exists()


def test_store_url_comes_from_the_config(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/from_config.sqlite"
    run_campaign(load_config(users=10, days=2, store_url=url), 1)
    with JourneyStore(url) as st:
        assert st.committed_days() == 1
