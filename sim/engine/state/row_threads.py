"""Member passes split over the machine's cores for large populations; results do not depend on it.

The compiled kernels (:mod:`sim.kernels`) release the GIL, so a pass over a million rows can run
as contiguous row ranges in threads.  Each range writes only its own rows; per-group counts are
kept per range and added (integers: the order does not matter); lists of rows are joined in
range order.  So one thread or several give the same results, bit for bit
(tests/test_kernels.py runs both).  A stream's draws are never split: they stay in the order of
their stream.  Members' keyed draws (:mod:`sim.engine.state.keyed_draws`) split like any pass: a
row's number depends on the member, not on the range it is drawn in.

Below :data:`MIN_ROWS` rows a pass stays in one thread (handing work over costs more than it
saves).  Worker processes of a replicate pool or a sweep call :func:`one_thread`: the pool
already keeps every core busy.  ``SANDBOX_ROW_THREADS`` overrides the count.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

T = TypeVar("T")

MIN_ROWS = 200_000
ENV = "SANDBOX_ROW_THREADS"


def threads_from_env() -> int | None:
    """The thread count ``SANDBOX_ROW_THREADS`` asks for (None when unset); ValueError when it is not a count."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    count = int(raw)
    if not 1 <= count <= 256:
        raise ValueError(raw)
    return count


def _default_threads() -> int:
    try:
        asked = threads_from_env()
    except ValueError:
        asked = None  # the command line names the mistake (sim.app.cli); an import never fails on it
    return asked or min(len(os.sched_getaffinity(0)), 4)


_threads = _default_threads()
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (pid, pool): a forked child makes its own


def one_thread() -> None:
    """Keep every pass in the calling thread (for worker processes of a pool)."""
    set_threads(1)


def set_threads(count: int) -> None:
    global _threads
    _threads = max(1, int(count))


def ranges(n: int, min_rows: int | None = None) -> list[tuple[int, int]]:
    """Contiguous row ranges covering ``0..n``: one per thread, or one in all below ``min_rows``
    (default :data:`MIN_ROWS`; less for work that costs more per row)."""
    parts = _threads if n >= (MIN_ROWS if min_rows is None else min_rows) else 1
    if parts == 1:  # a small group's every pass: no arithmetic to spread it
        return [(0, n)]
    bounds = [n * k // parts for k in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def over_ranges(n: int, task: Callable[[int, int], T], min_rows: int | None = None) -> list[T]:
    """``task(lo, hi)`` for each of :func:`ranges` ``(n, min_rows)``, in threads; results in range order."""
    parts = ranges(n, min_rows)
    if len(parts) == 1:
        return [task(0, n)]
    futures = [_executor().submit(task, lo, hi) for lo, hi in parts[1:]]
    first = task(*parts[0])
    return [first, *(f.result() for f in futures)]


def joined(parts: list[np.ndarray]) -> np.ndarray:
    """Row lists of consecutive ranges, joined in order (none: no rows)."""
    if not parts:
        return np.zeros(0, dtype=np.intp)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def over_columns(n: int, task: Callable[[T], object], columns: list[T]) -> list:
    """``task(column)`` for each whole column of ``n`` rows, spread over the threads (one at a
    time for small ``n``); results in order."""
    if len(ranges(n)) == 1 or len(columns) < 2:
        return [task(column) for column in columns]
    return list(_executor().map(task, columns))


def ahead(n: int, task: Callable[[], T]) -> Callable[[], T]:
    """Start ``task()`` in a thread now if passes over ``n`` rows are split (the caller goes on with
    other work); return a function that gives its result, waiting if need be."""
    if len(ranges(n)) == 1:
        return task
    future = _executor().submit(task)
    return future.result


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(max_workers=_threads, thread_name_prefix="rows"))
    return _pool[1]
