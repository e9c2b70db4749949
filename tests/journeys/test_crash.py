"""Crash safety: a campaign killed with SIGKILL mid-run resumes to exactly an uninterrupted run's rows,
and while it runs a second writer is refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from gaelp.config import load_config
from gaelp.experiments.stored import run_campaign
from gaelp.journeys.engines import StoreError, StoreLockedError
from gaelp.journeys.store import JourneyStore

from .test_campaign import assert_same_rows

USERS, DAYS, SEED, KILL_AFTER = 300, 60, 13, 3  # long enough that the kill lands mid-run
DEADLINE_S = 120.0  # a bound on the poll loops, never a synchronisation


def start_campaign(url: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gaelp.experiments.stored", "--store", url, "--users", str(USERS), "--days", str(DAYS),
           "--seed", str(SEED), "--checkpoint-every", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def wait_for_commits(proc: subprocess.Popen, url: str, engine: str, n: int) -> None:
    """Return once the store shows >= n committed days.

    SQLite (WAL) and PostgreSQL are polled while the campaign writes; DuckDB lets no other process
    open a file that one is writing, so there the campaign's own line, printed after each commit,
    is the signal.
    """
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the campaign ended before it was killed:\n{proc.stderr.read()}")
        if engine == "duckdb":
            line = proc.stdout.readline()
            if line.startswith("committed ") and int(line.split()[1]) >= n:
                return
            continue
        try:
            with JourneyStore(url) as st:
                if st.committed_days() >= n:
                    return
        except StoreError as e:  # not created yet: the campaign is still starting
            assert any(w in str(e) for w in ("does not exist", "is empty", "locked")), e
        time.sleep(0.02)
    raise AssertionError(f"no {n} committed days within {DEADLINE_S} s")


def open_for_writing(url: str) -> JourneyStore:
    """The killed writer's lock goes with its process (PostgreSQL notices within moments)."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            return JourneyStore(url, write=True)
        except StoreLockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_killed_campaign_resumes_to_the_same_rows(new_store, engine: str) -> None:
    url, reference = new_store("killed"), new_store("reference")
    proc = start_campaign(url)
    try:
        wait_for_commits(proc, url, engine, KILL_AFTER)
        try:  # a second writer meanwhile gets a clear error, and the running one goes on
            JourneyStore(url, write=True).close()
            raise AssertionError("a second writer was let in")
        except StoreLockedError as e:
            assert "being written by another" in str(e)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=DEADLINE_S)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, "the campaign finished before the kill: make it longer"

    with open_for_writing(url) as st:
        done = st.committed_days()
    assert KILL_AFTER <= done < DAYS
    cfg = load_config(users=USERS, seed=SEED)
    resumed = run_campaign(cfg, DAYS - done, url, resume=True, checkpoint_every=4)
    assert resumed.day == DAYS
    run_campaign(cfg, DAYS, reference, checkpoint_every=4)
    assert_same_rows(reference, url)
