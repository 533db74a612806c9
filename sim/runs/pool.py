"""An ordered map over worker processes: this machine's cores or a Dask cluster.

Jobs that ask and tell in rounds (a calibration's candidates) need each round's results back in
the order the tasks were given, whatever finished first, so the same seed gives the same job
on one worker, on several, and on a cluster.  The workers are started once and kept for every
round.  Tasks carry contents (a scenario's data, a policy's text), never paths, so a worker
needs neither the caller's working directory nor a shared disk.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from sim.engine.state import row_threads
from sim.errors import SandboxError
from sim.runs.workers import worker_guard

BACKENDS = ("local", "dask")


class OrderedPool:
    """``map(fn, tasks)`` returns ``[fn(t) for t in tasks]``, computed on the pool's workers."""

    def __init__(self, executor: Any = None, client: Any = None):
        self._executor, self._client = executor, client

    def map(self, fn: Callable, tasks: Sequence) -> list:
        if self._client is not None:
            futures = self._client.map(fn, list(tasks), pure=False)
            return list(self._client.gather(futures))
        if self._executor is not None:
            return list(self._executor.map(fn, tasks))
        return [fn(t) for t in tasks]


@contextmanager
def ordered_pool(backend: str = "local", workers: int = 1, scheduler: str | None = None) -> Iterator[OrderedPool]:
    """A pool of ``workers`` spawned processes, a Dask cluster (``scheduler``, or a local one), or,
    for one local worker, this process."""
    if backend not in BACKENDS:
        raise SandboxError(f"unknown back end '{backend}'; expected one of: {', '.join(BACKENDS)}", place="--backend")
    if backend == "local":
        if workers <= 1:
            yield OrderedPool()
            return
        # spawned, not forked (the caller may hold threads and durable-rules' C state); each
        # worker dies with this process (worker_guard)
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=mp.get_context("spawn"), initializer=_start_worker, initargs=(os.getpid(),)
        ) as executor:
            list(executor.map(_ready, range(workers)))  # every worker started and warm before any clock starts
            yield OrderedPool(executor=executor)
        return
    with dask_client(workers, scheduler) as client:
        yield OrderedPool(client=client)


@contextmanager
def dask_client(workers: int, scheduler: str | None) -> Iterator[Any]:
    """A Dask client: of the cluster at ``scheduler``, or of a local cluster of ``workers``
    single-threaded processes on loopback (closed afterwards).  Every worker has imported the
    engine before the client is handed over."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="5s")
        except Exception as exc:
            raise SandboxError(
                f"cannot reach the Dask scheduler at {scheduler} ({type(exc).__name__}); "
                "check the address or omit --scheduler to start a local cluster",
                place="--scheduler",
            ) from None
    else:
        cluster = LocalCluster(
            n_workers=max(1, workers),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
            silence_logs=logging.CRITICAL,
        )
        client = Client(cluster)
    try:
        client.wait_for_workers(1 if scheduler else max(1, workers))
        client.run(warm_up)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _start_worker(parent: int) -> None:
    """A local pool's worker: dies with its parent (worker_guard), the engine imported (warm_up)."""
    worker_guard(parent)
    warm_up()


def _ready(_: int) -> bool:
    return True


def warm_up() -> None:
    """Import the engine in a worker (before any clock starts), and keep the worker to one row thread:
    it is one of several processes that fill the cores."""
    import sim.runs.experiment  # noqa: F401  (pandas, numpy, mesa, durable-rules come with it)

    row_threads.one_thread()
