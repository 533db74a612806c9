"""Runs for a process that serves several people at once (the dashboard): each in a worker process.

durable-rules' C core crashes when runs of one process step in several threads, even with
every call into it under one lock, or all of them handed to one dedicated thread (seen here:
a segfault in ``_drain`` within seconds, six runs of ``community-playbook`` in six threads).
A server's requests arrive in threads (Streamlit runs each visitor's script in a thread of
its own), so the runs go to a pool of spawned worker processes, each running one replicate
at a time on its only thread.  A worker that dies takes only its own request with it: the pool
is rebuilt, and the caller gets a one-line error instead of a dead server.

What crosses to a worker is text and numbers (the scenario's path, the policy's text, the
overrides, the replicate), so nothing a visitor typed is ever written to disk, and the
results are the same tables, bit for bit, as a run in the calling process.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from sim.errors import SandboxError
from sim.runs.workers import worker_guard

LOG = logging.getLogger(__name__)
_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> ProcessPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            import multiprocessing as mp

            workers = max(1, min(len(os.sched_getaffinity(0)), 4))
            _POOL = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=mp.get_context("spawn"),
                initializer=worker_guard,
                initargs=(os.getpid(),),
            )
        return _POOL


def _reset(broken: ProcessPoolExecutor) -> None:
    global _POOL
    with _POOL_LOCK:
        if _POOL is broken:
            _POOL = None
    broken.shutdown(wait=False, cancel_futures=True)


def replicates(
    scenario: str, policy_text: str, sets: tuple[str, ...], indices: range, *, group_daily: bool = False
) -> list[dict[str, Any]]:
    """Replicates ``indices`` of a scenario under a policy given as text, run in worker processes.

    Returns what :func:`sim.runs.experiment.run_replicate` returns, one dict per replicate.
    """
    pool = _pool()
    try:
        futures = [pool.submit(_replicate, str(scenario), policy_text, tuple(sets), r, group_daily) for r in indices]
        return [f.result() for f in futures]
    except BrokenProcessPool:
        LOG.exception("a worker process died running %s", scenario)
        _reset(pool)
        raise SandboxError(
            "the run stopped in its worker process; run it again (details in the server's log)"
        ) from None


def _replicate(scenario: str, policy_text: str, sets: tuple[str, ...], replicate: int, group_daily: bool) -> dict:
    from sim.runs.experiment import run_replicate

    return run_replicate(_setup(scenario, policy_text, sets), replicate, group_daily=group_daily)


@functools.lru_cache(maxsize=16)
def _setup(scenario: str, policy_text: str, sets: tuple[str, ...]):
    from sim.config.scenario import load_setup

    return load_setup(scenario, "edited policy", list(sets), policy_text=policy_text)


def _writer(progress: str):
    """A job's progress file, written whole each time (the page reads it while the job runs)."""
    import json

    from sim.activity.pages import write_whole

    return lambda state: write_whole(Path(progress), json.dumps(state))


def calibrate_job(export: str, group: str, out: str, budget: int, progress: str, parent: int) -> None:
    """A calibration for the dashboard, run in its own spawned process (which dies with the server,
    ``parent``): progress and the outcome (or a user's mistake, one line) go to ``progress`` as JSON."""
    import math

    from sim.runs.calibration import calibrate

    worker_guard(parent)
    write = _writer(progress)

    def report(done: int, total: int, best: float) -> None:
        write({"done": done, "budget": total, "best": None if math.isinf(best) else best})

    try:
        calibrate(export, out, group=group, budget=budget, workers=1, progress=report)
    except SandboxError as exc:
        write({"error": str(exc).replace(export, "the export").replace(out, "the fit")})
    except Exception:
        LOG.exception("a calibration failed")
        write({"error": "the calibration failed; details are in the server's log"})


def optimize_job(options: dict, out: str, progress: str, parent: int) -> None:
    """A policy search for the dashboard, in its own spawned process (dying with the server,
    ``parent``): its progress (trials done, the best so far, every complete trial's objective
    values for the live chart) and the outcome, or a user's mistake in one line, go to
    ``progress`` as JSON.  ``options`` are :func:`sim.runs.optimization.optimize`'s keywords."""
    import optuna

    from sim.runs.optimization import optimize

    worker_guard(parent)
    write = _writer(progress)

    def report(done: int, budget: int, best: str) -> None:
        study = optuna.load_study(study_name="optimization", storage=f"sqlite:///{out}/study.db")
        points = [
            [t.number, *t.values] for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        ]
        write({"done": done, "budget": budget, "best": best, "points": points})

    try:
        optimize(**options, out=out, progress=report)
        write({"finished": True})
    except SandboxError as exc:
        write({"error": str(exc).replace(out, "the search's folder")})
    except Exception:
        LOG.exception("a policy search failed")
        write({"error": "the search failed; details are in the server's log"})


def shutdown() -> None:
    """Stop the worker processes (they also stop by themselves when this process ends)."""
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)
