"""Tests for gaelp.world.purchases: pending purchases bucketed by day, popped hour by hour."""

from __future__ import annotations

import numpy as np
import pytest

from gaelp.world.purchases import FIELDS, ORGANIC, POST_CLICK, PendingPurchases

SEED = 5


def events(n: int, days: int, seed: int = SEED) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"due": rng.integers(0, 24 * days, n), "person": np.arange(n) * 10 + 1,
            "advertiser": rng.integers(0, 5, n), "device": rng.integers(0, 1000, n),
            "kind": rng.integers(0, 2, n)}


def push(pp: PendingPurchases, ev: dict[str, np.ndarray], sel=slice(None)) -> None:
    pp.push(*(ev[f][sel] for f in FIELDS))


def run_days(pp: PendingPurchases, first_day: int, days: int) -> list[dict[str, np.ndarray]]:
    """Start and pop every hour of `days` days; returns one batch per hour."""
    out = []
    for d in range(first_day, first_day + days):
        pp.start_day(d)
        out.extend(pp.pop_due(h) for h in range(24 * d, 24 * d + 24))
    return out


def test_every_event_pops_at_its_due_hour_in_scheduling_order():
    ev = events(500, 4)
    pp = PendingPurchases()
    push(pp, ev, slice(0, 250))  # two pushes before the run, each spanning several days
    push(pp, ev, slice(250, None))
    assert len(pp) == 500
    batches = run_days(pp, 0, 4)
    assert len(pp) == 0
    for hour, b in enumerate(batches):
        # slow reference: the events due at this hour, in the order they were pushed
        idx = np.flatnonzero(ev["due"] == hour)
        for f in FIELDS:
            assert np.array_equal(b[f], ev[f][idx]), (hour, f)


def test_pop_due_returns_events_due_earlier_and_not_yet_popped():
    ev = events(200, 1)
    pp = PendingPurchases()
    push(pp, ev)
    pp.start_day(0)
    first = pp.pop_due(9)  # hours 0-9 were skipped: all their events come out now
    assert np.array_equal(first["person"], ev["person"][ev["due"] <= 9])
    assert pp.pop_due(9)["due"].size == 0, "an event pops once"
    rest = pp.pop_due(23)
    assert np.array_equal(rest["person"], ev["person"][ev["due"] > 9])
    assert len(pp) == 0


def test_events_pushed_during_the_day_join_today_or_wait_for_their_day():
    pp = PendingPurchases()
    pp.start_day(2)
    pp.pop_due(50)
    pp.push(np.array([53, 52, 75]), np.array([1, 2, 3]), 4, np.array([7, 8, 9]), POST_CLICK)
    assert len(pp) == 3
    assert pp.pop_due(51)["due"].size == 0
    got = pp.pop_due(53)
    assert got["person"].tolist() == [1, 2]
    assert got["advertiser"].tolist() == [4, 4] and got["kind"].tolist() == [POST_CLICK] * 2
    assert pp.pop_due(71)["due"].size == 0
    pp.start_day(3)
    assert pp.pop_due(75)["person"].tolist() == [3]


def test_fields_keep_their_dtypes_and_scalars_broadcast():
    pp = PendingPurchases()
    pp.push(np.array([3, 4]), np.array([10, 11]), 2, np.array([100, 101]), ORGANIC)
    pp.push(np.empty(0, np.int64), np.empty(0, np.int64), 0, np.empty(0, np.int64), 0)  # a no-op
    pp.start_day(0)
    out = pp.pop_due(23)
    assert {f: out[f].dtype for f in FIELDS} == {"due": np.int64, "person": np.int64, "advertiser": np.int16,
                                                  "device": np.int64, "kind": np.int8}
    assert out["advertiser"].tolist() == [2, 2] and out["kind"].tolist() == [ORGANIC] * 2
    empty = pp.pop_due(23)
    assert all(empty[f].size == 0 for f in FIELDS)


def test_pushing_does_not_alias_the_callers_arrays():
    due, person = np.array([5, 6]), np.array([1, 2])
    pp = PendingPurchases()
    pp.start_day(0)
    pp.push(due, person, 0, person, 0)
    person[:] = 99
    due[:] = 0
    assert pp.pop_due(23)["person"].tolist() == [1, 2]


@pytest.mark.parametrize("cut_hour", [0, 13, 23])
def test_state_dict_round_trip_mid_day_preserves_every_event(cut_hour):
    ev = events(400, 5)
    orig = PendingPurchases()
    push(orig, ev)
    orig.start_day(0)
    for h in range(24):
        orig.pop_due(h)
    orig.start_day(1)
    for h in range(24, 24 + cut_hour + 1):
        orig.pop_due(h)
    state = orig.state_dict()
    assert set(state) == {f"pending_{f}" for f in FIELDS}
    restored = PendingPurchases()
    restored.load_state_dict(state, today=1)
    assert len(restored) == len(orig)
    # continue both runs through the end of day 1 and days 2-4: identical pops, hour by hour
    a = [orig.pop_due(h) for h in range(24 + cut_hour + 1, 48)] + run_days(orig, 2, 3)
    b = [restored.pop_due(h) for h in range(24 + cut_hour + 1, 48)] + run_days(restored, 2, 3)
    for x, y in zip(a, b, strict=True):
        for f in FIELDS:
            assert np.array_equal(x[f], y[f]) and x[f].dtype == y[f].dtype
    assert len(orig) == len(restored) == 0


def test_state_dict_round_trip_at_a_day_boundary_survives_the_next_start_day():
    ev = events(300, 4)
    orig = PendingPurchases()
    push(orig, ev)
    run_days(orig, 0, 1)
    restored = PendingPurchases()
    restored.load_state_dict(orig.state_dict(), today=1)
    # the story calls start_day again when the resumed day begins: no event may be lost or doubled
    a, b = run_days(orig, 1, 3), run_days(restored, 1, 3)
    assert sum(x["due"].size for x in b) == sum(x["due"].size for x in a) == int((ev["due"] >= 24).sum())
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x["person"], y["person"])


def test_round_trip_keeps_an_overdue_event_carried_over_from_yesterday():
    orig = PendingPurchases()
    orig.start_day(0)
    orig.push(np.array([23]), np.array([1]), 0, np.array([5]), POST_CLICK)
    orig.start_day(1)  # hour 23 of day 0 was never popped: the event is carried into day 1
    restored = PendingPurchases()
    restored.load_state_dict(orig.state_dict(), today=1)
    assert orig.pop_due(24)["person"].tolist() == [1]
    assert restored.pop_due(24)["person"].tolist() == [1]


def test_an_event_pushed_after_its_due_day_still_pops():
    pp = PendingPurchases()
    pp.start_day(3)
    pp.push(np.array([10]), np.array([1]), 0, np.array([5]), ORGANIC)  # due on day 0, already past
    assert pp.pop_due(72)["person"].tolist() == [1]


def test_a_later_push_with_an_earlier_due_hour_pops_first():
    pp = PendingPurchases()
    pp.start_day(2)
    pp.push(np.array([60, 58]), np.array([1, 2]), 0, np.array([7, 8]), POST_CLICK)
    assert pp.pop_due(50)["due"].size == 0
    pp.push(np.array([55, 58]), np.array([3, 4]), 0, np.array([9, 9]), POST_CLICK)  # joins today, due sooner
    assert pp.pop_due(54)["due"].size == 0
    assert pp.pop_due(55)["person"].tolist() == [3]
    assert pp.pop_due(59)["person"].tolist() == [2, 4]  # scheduling order among events due together
    assert pp.pop_due(60)["person"].tolist() == [1]
    assert len(pp) == 0
