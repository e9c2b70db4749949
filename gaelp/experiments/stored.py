"""Running a campaign over a journey store: persistent people across episodes, resumable after a kill.

The simulation runs in memory, as it does without a store; after each simulated day its rows and
changed journeys are committed in one transaction, with the bidders' state and a full checkpoint
every `CHECKPOINT_EVERY` days and at the end of the episode. A run that is killed resumes from the
last committed day (the checkpoint, then a replay of the days after it), and a campaign run as
several episodes (7 + 7 + 7 + 9 days) gives the same KPIs and rows as one run of the same length.

Writes overlap the simulation: a writer thread writes the world and commits day d while the main
thread simulates day d + 1 (the day's arrays are copies, and at most `QUEUE_DAYS` writes wait), so
on two cores the store costs little more than what it makes the main thread copy. Writes run in
order, so a kill still leaves the store on a whole day.

This module builds a `Simulation`; the store modules beside it never import the simulation.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from gaelp.config import Config, ConfigError, load_config
from gaelp.journeys.checkpoint import bidder_states, load_bidder_states, pack, restore, snapshot, unpack
from gaelp.journeys.engines import StoreError
from gaelp.journeys.store import DayRecord, JourneyStore, World, day_digest
from gaelp.records import DayLog
from gaelp.simulation import Simulation

QUEUE_DAYS = 2  # simulated days that may wait for the writer (bounds memory)
CHECKPOINT_EVERY = 10  # days between full checkpoints (~8 MB per 100k people; a resume replays < 10 days)
Progress = Callable[[int, int], None]


def config_fingerprint(cfg: Config) -> tuple[str, str]:
    """(JSON, sha256) of the config that defines the world: everything but `days` and `store_url`."""
    data = cfg.model_dump(mode="json", exclude={"days", "store_url"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return text, hashlib.sha256(text.encode()).hexdigest()


def world_of(sim: Simulation, config_json: str, config_hash: str) -> World:
    """The static part of a freshly built simulation's world."""
    pop = sim.pop
    return World(config_json, config_hash, pop.segment, pop.n_devices, pop.device_type,
                 sim.state.stage.copy(), tuple(b.name for b in sim.bidders))


@dataclass(frozen=True, slots=True)
class _Day:
    """A simulated day waiting for the writer (copies only; the checkpoint still a tree)."""

    log: DayLog
    journey: tuple[np.ndarray, np.ndarray, np.ndarray]
    bidders: list[bytes] | None
    checkpoint: dict[str, Any] | None

    def record(self) -> DayRecord:
        stage, last_activity, converted_at = self.journey
        ck = None if self.checkpoint is None else pack(self.checkpoint)
        return DayRecord(self.log.day, self.log.impressions, self.log.conversions, stage, last_activity,
                         converted_at, self.bidders, ck)


def _capture(sim: Simulation, log: DayLog, full: bool) -> _Day:
    s = sim.state
    # bidders are packed here: their state_dict() may share arrays they keep mutating
    return _Day(log, (s.stage.copy(), s.last_activity.copy(), s.converted_at.copy()),
                bidder_states(sim) if full else None, snapshot(sim) if full else None)


class _Writer:
    """Runs the store's writes in order: in a writer thread (`threaded`) or inline."""

    def __init__(self, threaded: bool) -> None:
        self.error: BaseException | None = None
        self._raised = False
        self._queue: queue.Queue[Callable[[], None] | None] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(maxsize=QUEUE_DAYS)
            self._thread = threading.Thread(target=self._loop, name="journey-store-writer", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        assert self._queue is not None, "only a threaded writer runs the loop"
        while (job := self._queue.get()) is not None:
            if self.error is None:
                try:
                    job()
                except BaseException as e:  # noqa: BLE001 - handed to the main thread, which raises it
                    self.error = e

    def submit(self, job: Callable[[], None]) -> None:
        """Queue (or run) a write; raises an earlier write's error, if any."""
        self._raise()
        if self._queue is None:
            job()
        else:
            self._queue.put(job)

    def close(self) -> None:
        """Finish the queued writes, stop the thread, and raise a write's error, if any."""
        if self._thread is not None and self._queue is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        self._raise()

    def _raise(self) -> None:
        if self.error is not None and not self._raised:
            self._raised = True  # once: `close` in a `finally` must not raise it a second time
            raise self.error


def open_campaign(cfg: Config, store: JourneyStore, resume: bool) -> tuple[Simulation, World | None]:
    """A simulation of `cfg` where the store left it (a fresh world if the store holds none).

    Returns:
        The simulation, and for a store without a world the `World` to write (`store.init_world`)
        before its first day.

    Resuming loads the latest checkpoint, then replays the days committed after it (the simulation
    is deterministic), checking each replayed day against the digest the store holds.

    Raises:
        StoreError: the store holds a world and `resume` is False, a world of another config, or
            days the simulation does not reproduce.
    """
    config_json, config_hash = config_fingerprint(cfg)
    sim = Simulation(cfg)
    where = store.path or store.name
    if not store.has_world():
        return sim, world_of(sim, config_json, config_hash)
    done = store.committed_days()
    if not resume:
        raise StoreError(f"journey store {where} already holds a campaign ({done} committed days): pass "
                         f"--resume to continue it, or pass another --store to start a new one")
    store.check_world(config_json, config_hash)
    ck = store.latest_checkpoint()
    if ck is not None:
        restore(sim, unpack(ck[1]))
        load_bidder_states(sim, store.bidder_blobs())
    digests = store.day_digests(sim.day, done)
    while sim.day < done:
        log = sim.run_day()
        if day_digest(log.impressions, log.conversions) != digests.get(log.day):
            raise StoreError(f"journey store {where}: day {log.day} replays differently from the stored one; "
                             f"the simulator changed since the store was written: resume with the version "
                             f"that wrote it, or start a new store")
    return sim, None


def run_campaign(cfg: Config, days: int, store_url: str | None = None, resume: bool = False,
                 progress: Progress | None = None, threaded: bool = True,
                 checkpoint_every: int = CHECKPOINT_EVERY) -> Simulation:
    """Run `days` more days of the campaign of `cfg`, committing each day to the journey store.

    Args:
        cfg: the run's config (the world: a resumed store must hold a world of the same config,
            `days` and `store_url` aside).
        days: days to simulate in this episode (>= 1).
        store_url: the store (default `cfg.store_url`; see `engines.default_store_url`).
        resume: continue the world the store holds (it must exist, hold one, and be undamaged);
            without it a store holding a world is an error and a new or empty store starts one.
        progress: called as `progress(days_committed, days)` after each commit (from the writer
            thread when `threaded`).
        threaded: overlap the store's writes with the simulation of the next day.
        checkpoint_every: take a full checkpoint after every this many days of the world (and at
            the end of the episode); a resume after a kill replays at most this many days less one.

    Returns:
        The simulation after the last day (KPIs in `sim.kpis`).

    Raises:
        StoreError: see `JourneyStore` and `open_campaign`; StoreLockedError: another process writes
            the store.
    """
    if days < 1:
        raise ValueError(f"days must be >= 1, got {days}")
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be >= 1, got {checkpoint_every}")
    url = store_url or cfg.store_url
    if not url:
        raise StoreError("no journey store: pass store_url (or --store URL), or set store_url in the config; "
                         "engines.default_store_url(run_dir) gives the default file of a run")
    if resume:
        # Read-only first: a store to resume must exist and be whole (opening a missing or empty one
        # read-only fails with what to do), or nothing is written. A store whose first day was
        # killed before its world was written starts the world, as a resume of nothing done.
        with JourneyStore(url) as probe:
            probe.check_intact()
    with JourneyStore(url, write=True) as store:
        sim, world = open_campaign(cfg, store, resume)
        _, config_hash = config_fingerprint(cfg)
        writer = _Writer(threaded)
        episode: list[int] = []
        committed: list[int] = []

        def commit(day: _Day) -> None:
            store.commit_day(day.record(), episode[0])
            committed.append(day.log.day)
            if progress is not None:
                progress(len(committed), days)

        try:
            if world is not None:  # written by the writer while the first day runs
                writer.submit(lambda: store.init_world(world))
            start = sim.day
            writer.submit(lambda: episode.append(store.begin_episode(start, cfg.seed, config_hash,
                                                                     sim.ours.name)))
            for i in range(days):
                log = sim.run_day()
                full = i == days - 1 or sim.day % checkpoint_every == 0
                day = _capture(sim, log, full)
                writer.submit(functools.partial(commit, day))
        finally:
            writer.close()
    return sim



def main(argv: list[str] | None = None) -> int:
    """Parse, run, report; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m gaelp.experiments.stored",
                                 description="Run a campaign into a journey store.")
    ap.add_argument("--store", required=True,
                    help="store URL (sqlite:///PATH, duckdb:///PATH, postgresql+psycopg://...)")
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--days", type=int, default=30, help="days to simulate in this run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default=None, help="TOML config file")
    ap.add_argument("--resume", action="store_true", help="continue the world the store holds")
    ap.add_argument("--checkpoint-every", type=int, default=CHECKPOINT_EVERY)
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, users=args.users, seed=args.seed)
        sim = run_campaign(cfg, args.days, args.store, resume=args.resume, checkpoint_every=args.checkpoint_every,
                           progress=lambda done, _total: print(f"committed {done}", flush=True))
    except (StoreError, ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"done {sim.day}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
