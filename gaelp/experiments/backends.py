"""Where batches of worlds run: a local process pool, or Ray (one machine or a cluster).

Both take the same batches and hand back the same rows in seed order; only the transport differs.
A batch is one task: a worker imports the simulator once and runs every world of its batch, so the
per-task cost of the transport is paid per batch, not per world.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from types import TracebackType
from typing import Any, Self

from gaelp.experiments.montecarlo import WorldsJob, run_batch

Rows = list[dict[str, float | None]]
RAY_MISSING = "the Ray backend needs ray: pip install 'gaelp[ray]' (or pip install 'ray>=2.9')"


class LocalBackend:
    """A pool of `workers` persistent processes; one worker runs the batches in this process.

    The pool starts its workers from a fork server that has imported the simulator once (spawn where
    the platform has no fork server), so a worker's start costs a fork, not an import.
    """

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Self:
        if self.workers > 1:
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method)
            if method == "forkserver":
                ctx.set_forkserver_preload(["gaelp.experiments.montecarlo"])
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def map_batches(self, job: WorldsJob, batches: list[list[int]],
                    on_worlds: Callable[[int], None] | None = None) -> Rows:
        """Every batch's rows, concatenated in batch order."""
        out: list[Rows | None] = [None] * len(batches)
        if self._pool is None:
            for i, seeds in enumerate(batches):
                out[i] = run_batch(job, seeds)
                if on_worlds is not None:
                    on_worlds(len(seeds))
        else:
            index = {self._pool.submit(run_batch, job, seeds): i for i, seeds in enumerate(batches)}
            pending = set(index)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    out[index[f]] = f.result()
                    if on_worlds is not None:
                        on_worlds(len(batches[index[f]]))
        return _flatten(out)


class RayBackend:
    """Ray tasks, one per batch: on a Ray started for the run (loopback, no dashboard) or a cluster.

    Args:
        workers: CPUs of the local Ray started for the run (ignored with `address`: the cluster's CPUs).
        address: a running cluster ("ray://head:10001" through the Ray client, or "auto" / "head:6379"
            on one of its nodes); None starts a private Ray on this machine and stops it afterwards.
    """

    def __init__(self, workers: int, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise RuntimeError(RAY_MISSING) from None
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._ray = ray
        self.workers = workers
        self.address = address

    def __enter__(self) -> Self:
        ray = self._ray
        if self.address is None:
            ray.init(num_cpus=self.workers, include_dashboard=False, _node_ip_address="127.0.0.1",
                     log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=self.address, log_to_driver=False, configure_logging=False)
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._ray.shutdown()

    def map_batches(self, job: WorldsJob, batches: list[list[int]],
                    on_worlds: Callable[[int], None] | None = None) -> Rows:
        """Every batch's rows, concatenated in batch order."""
        ray = self._ray
        task = ray.remote(num_cpus=1)(run_batch)
        job_ref = ray.put(job)  # sent to the object store once, read by every task
        refs = [task.remote(job_ref, seeds) for seeds in batches]
        index = {ref: i for i, ref in enumerate(refs)}
        out: list[Rows | None] = [None] * len(batches)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                out[index[ref]] = ray.get(ref)
                if on_worlds is not None:
                    on_worlds(len(batches[index[ref]]))
        return _flatten(out)


def _flatten(out: list[Rows | None]) -> Rows:
    """Every batch's rows, in batch order (each batch must have come back)."""
    missing = [i for i, rows in enumerate(out) if rows is None]
    if missing:
        raise RuntimeError(f"batches {missing} returned no rows")
    return [row for rows in out if rows is not None for row in rows]


def make_backend(name: str, workers: int, address: str | None = None) -> Any:
    """The backend `name` ("local" or "ray"), to be used as a context manager."""
    if name == "local":
        if address is not None:
            raise ValueError("--address is for --backend ray; the local backend runs on this machine")
        return LocalBackend(workers)
    if name == "ray":
        return RayBackend(workers, address)
    raise ValueError(f"unknown backend {name!r}; known: local, ray")
