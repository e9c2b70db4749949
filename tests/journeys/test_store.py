"""The store's rows and queries against slow, obvious references computed from the simulation itself."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np
import pytest
import sqlalchemy as sa

from gaelp.config import load_config
from gaelp.experiments.stored import run_campaign
from gaelp.journeys import schema as S
from gaelp.journeys.engines import StoreError
from gaelp.journeys.queries import ACTIVE_STAGES
from gaelp.journeys.store import DayRecord, JourneyStore
from gaelp.simulation import Simulation

from .conftest import ENGINES, StoreMaker, skip_without_pg

DAYS = 6


@dataclass
class Reference:
    """What the simulation did, gathered the slow way, day by day."""

    imp: dict[str, np.ndarray]
    conv: dict[str, np.ndarray]
    sim: Simulation
    history: list[tuple[int, int, int, int, int]]  # person, day, t, from, to
    changed_day: np.ndarray  # (n,) last day each journey row changed, -1 never


def reference(cfg, days: int) -> Reference:
    sim = Simulation(cfg)
    imps, convs, history = [], [], []
    changed_day = np.full(cfg.users, -1)
    for d in range(days):
        before = (sim.state.stage.copy(), sim.state.last_activity.copy(), sim.state.converted_at.copy())
        log = sim.run_day()
        imps.append(log.impressions)
        convs.append(log.conversions)
        for p in range(cfg.users):
            now = (sim.state.stage[p], sim.state.last_activity[p], sim.state.converted_at[p])
            if any(now[i] != before[i][p] for i in range(3)):
                changed_day[p] = d
            if now[0] != before[0][p]:
                la = int(now[1])
                history.append((p, d, max(la, 24 * d), int(before[0][p]), int(now[0])))
    cat = lambda parts: {f: np.concatenate([p[f] for p in parts]) for f in parts[0]}
    return Reference(cat(imps), cat(convs), sim, history, changed_day)


@pytest.fixture(scope="module", params=ENGINES)
def filled(request, tmp_path_factory):
    """(url, reference) of a store holding a 6-day campaign of 400 people, per engine."""
    if request.param == "postgresql":
        skip_without_pg()
    maker = StoreMaker(request.param, tmp_path_factory.mktemp(request.param))
    cfg = load_config(users=400, days=DAYS, seed=7, bidder="target_cpa")
    url = maker()
    run_campaign(cfg, DAYS, url, checkpoint_every=4)
    yield url, reference(cfg, DAYS)
    maker.cleanup()


def _sorted(cols: dict[str, np.ndarray], keys: tuple[str, ...], mask: np.ndarray | None = None):
    if mask is not None:
        cols = {c: a[mask] for c, a in cols.items()}
    order = np.lexsort(tuple(cols[k] for k in reversed(keys)))
    return {c: a[order] for c, a in cols.items()}


TP = {"t": "t", "key": "key", "slot": "slot", "person_id": "person", "device_id": "device",
      "advertiser": "advertiser", "channel": "channel", "intent": "intent", "creative": "creative",
      "clicked": "clicked", "cost": "cost"}
CV = {"t": "t", "person_id": "person", "device_id": "device", "advertiser": "advertiser", "value": "value",
      "kind": "kind", "credit_channel": "credit_channel", "by_click": "by_click"}


def _assert_columns(got: dict[str, np.ndarray], want: dict[str, np.ndarray], names: dict[str, str]) -> None:
    for col, field in names.items():
        assert np.array_equal(got[col], want[field]), col


def test_every_row_is_stored(filled) -> None:
    url, ref = filled
    with JourneyStore(url) as st:
        counts, days = st.counts(), st.committed_days()
        pages = list(st.iter_rows("touchpoints", batch_size=997))
    assert days == DAYS
    assert counts["touchpoints"] == ref.imp["t"].size > 0
    assert counts["conversions"] == ref.conv["t"].size > 0
    assert counts["people"] == counts["journeys"] == 400
    assert counts["devices"] == int(ref.sim.pop.n_devices.sum())
    assert counts["stage_history"] == len(ref.history)
    assert counts["advertisers"] == len(ref.sim.bidders)
    assert all(p["t"].size == 997 for p in pages[:-1]) and 0 < pages[-1]["t"].size <= 997
    got = {c: np.concatenate([p[c] for p in pages]) for c in pages[0]}
    _assert_columns(got, _sorted(ref.imp, ("t", "key", "slot")), TP)


def test_touchpoint_history_of_a_person(filled) -> None:
    url, ref = filled
    people = np.unique(ref.imp["person"])[::37]
    with JourneyStore(url) as st:
        for p in people:
            want = _sorted(ref.imp, ("t", "key", "slot"), ref.imp["person"] == p)
            _assert_columns(st.touchpoints_of(p), want, TP)
            ours = st.touchpoints_of(p, advertiser=0)
            assert np.array_equal(ours["key"], want["key"][want["advertiser"] == 0])
        assert st.touchpoints_of(10**9)["t"].size == 0


def test_conversions_in_a_time_range(filled) -> None:
    url, ref = filled
    with JourneyStore(url) as st:
        for t0, t1, adv in [(0, 24 * DAYS, None), (30, 75, None), (24, 96, 0), (50, 50, None)]:
            mask = (ref.conv["t"] >= t0) & (ref.conv["t"] < t1)
            if adv is not None:
                mask &= ref.conv["advertiser"] == adv
            _assert_columns(st.conversions_between(t0, t1, adv), _sorted(ref.conv, ("t", "person"), mask), CV)


def test_journeys_hold_the_last_day_and_history_the_moves(filled) -> None:
    url, ref = filled
    s = ref.sim.state
    with JourneyStore(url) as st:
        j = {c: np.concatenate([p[c] for p in st.iter_rows("journeys", batch_size=150)]) for c in
             ("person_id", "stage", "last_activity", "converted_at", "day")}
        active = st.active_journeys()
        lapsed = st.journeys_in([5])
        hist = {c: np.concatenate([p[c] for p in st.iter_rows("stage_history")]) for c in
                ("person_id", "day", "t", "from_stage", "to_stage")}
        one = st.stage_history_of(int(hist["person_id"][0]))
    assert np.array_equal(j["person_id"], np.arange(400))
    assert np.array_equal(j["stage"], s.stage) and np.array_equal(j["last_activity"], s.last_activity)
    assert np.array_equal(j["converted_at"], s.converted_at) and np.array_equal(j["day"], ref.changed_day)
    is_active = np.isin(s.stage, ACTIVE_STAGES)
    assert np.array_equal(active["person_id"], np.flatnonzero(is_active))
    assert np.array_equal(lapsed["person_id"], np.flatnonzero(s.stage == 5))
    want = sorted(ref.history)
    got = sorted(zip(*(hist[c].tolist() for c in ("person_id", "day", "t", "from_stage", "to_stage"))))
    assert got == want
    assert one["day"].tolist() == sorted(r[1] for r in ref.history if r[0] == hist["person_id"][0])


def test_people_devices_and_stats(filled) -> None:
    url, ref = filled
    pop = ref.sim.pop
    with JourneyStore(url) as st:
        for p in (0, 17, 399):
            who = st.person(p)
            first = int(pop.device_offset[p])
            assert who["segment"] == pop.segment[p] and who["n_devices"] == pop.n_devices[p]
            assert who["devices"] == [(first + i, int(pop.device_type[first + i])) for i in range(pop.n_devices[p])]
            assert st.owner_of(first) == p
        assert st.person(400) is None and st.owner_of(10**9) is None
        stats = st.stats()
    imps = np.bincount(ref.imp["advertiser"], minlength=len(ref.sim.bidders))
    assert [a["impressions"] for a in stats["advertisers"]] == imps.tolist()
    assert [a["name"] for a in stats["advertisers"]] == [b.name for b in ref.sim.bidders]
    assert sum(stats["stages"].values()) == 400 and stats["committed_days"] == DAYS


def test_get_or_create(new_store) -> None:
    url = new_store()
    run_campaign(load_config(users=30, days=2, seed=1), 1, url)
    with JourneyStore(url, write=True) as st:
        assert st.get_or_create_person(5) == (5, False)
        assert st.get_or_create_person(77, segment=2) == (77, True)
        assert st.get_or_create_person(77) == (77, False)
        known = int(st.person(3)["devices"][0][0])
        assert st.person_for_device(known) == (3, False)
        pid, created = st.person_for_device(10**12, device_type=1)
        assert (pid, created) == (78, True)
        assert st.person_for_device(10**12) == (78, False)
        assert st.person(78)["devices"] == [(10**12, 1)]
        assert st.journeys_in([0])["person_id"].tolist()[-2:] == [77, 78]
        with pytest.raises(ValueError, match="person_id must be >= 0"):
            st.get_or_create_person(-1)
    with JourneyStore(url) as st, pytest.raises(StoreError, match="not open for writing"):
        st.get_or_create_person(1000)


def test_days_commit_in_order_only(new_store) -> None:
    url = new_store()
    cfg = load_config(users=20, days=3, seed=2)
    run_campaign(cfg, 1, url)
    empty = {f: np.empty(0) for f in ("t", "key", "person", "device", "advertiser", "channel", "slot", "intent",
                                      "creative", "clicked", "cost", "value", "kind", "credit_channel", "by_click")}
    n = np.zeros(20, np.int8)
    with JourneyStore(url, write=True) as st:
        for day in (0, 2):
            with pytest.raises(StoreError, match=f"has 1 committed days; cannot commit day {day}"):
                st.commit_day(DayRecord(day, empty, empty, n, n.astype(np.int32), n.astype(np.int32)), 0)
        assert st.committed_days() == 1


def test_other_schema_versions_are_refused(new_store) -> None:
    url = new_store()
    JourneyStore(url, write=True).close()
    with JourneyStore(url, write=True) as st, st.engine.begin() as conn:
        conn.execute(S.meta.update().where(S.meta.c.key == "schema_version").values(value="0"))
    with pytest.raises(StoreError, match=f"schema version 0, this GAELP reads version {S.SCHEMA_VERSION}"):
        JourneyStore(url)


def test_a_damaged_store_is_named(new_store) -> None:
    url = new_store()
    JourneyStore(url, write=True).close()
    with JourneyStore(url, write=True) as st, st.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE days")
    with pytest.raises(StoreError, match="lacks tables days"):
        JourneyStore(url, write=True)


def test_a_database_of_something_else_is_refused(tmp_path) -> None:
    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="holds other tables \\(invoices\\), not a GAELP journey store"):
        JourneyStore(f"sqlite:///{path}", write=True)
    with sqlite3.connect(path) as c:
        assert [r[0] for r in c.execute("SELECT name FROM sqlite_master")] == ["invoices"]


def test_iter_rows_checks_its_arguments(new_store) -> None:
    url = new_store()
    with JourneyStore(url, write=True) as st:
        with pytest.raises(ValueError, match="unknown table 'nope'"):
            next(st.iter_rows("nope"))
        with pytest.raises(ValueError, match="batch_size must be >= 1"):
            next(st.iter_rows("people", batch_size=0))
        assert list(st.iter_rows("people")) == []
        with st.engine.connect() as conn:
            assert conn.execute(sa.select(S.meta.c.value).where(S.meta.c.key == "schema_version")).scalar() == "1"
