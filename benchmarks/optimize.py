"""Speed of ``sandbox optimize``: trials a minute on this machine's workers and on Dask.

Run on its own:  python benchmarks/optimize.py [--trials 24]

The shipped existing group (500 members, 180 days) under the baseline policy, two searched
knobs, 5 replicates a trial, one objective.  Trials a minute are timed from the first round
asked to the last told (the pool's start-up and the re-evaluation apart), on 1 and 2 local
workers and on a local Dask cluster of 2 single-threaded workers.  Speed is measured here,
never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from sim.runs.optimization import optimize

SEARCH = ["policy.content.operator_posts_per_week=0:14", "policy.service.answer_rate=0:1"]


def trials_a_minute(trials: int, workers: int, backend: str) -> tuple[float, float]:
    """(trials a minute in the search, seconds of the whole command)."""
    out = Path(tempfile.mkdtemp()) / "search"
    marks: dict[int, float] = {}

    def progress(done: int, budget: int, best: str) -> None:
        marks.setdefault(done, time.perf_counter())

    started = time.perf_counter()
    optimize(
        "existing-group",
        "baseline",
        search=SEARCH,
        objectives=[("minimize", "cost_total")],
        constraints=["retention_d30 >= 0.84"],
        out=out,
        trials=trials,
        replicates=5,
        workers=workers,
        backend=backend,
        progress=progress,
    )
    whole = time.perf_counter() - started
    shutil.rmtree(out.parent)
    return trials / (marks[max(marks)] - marks[0]) * 60, whole


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=24)
    args = parser.parse_args()
    print(
        f"cores: {os.cpu_count()}; existing-group (500 members, 180 days), 5 replicates a trial, {args.trials} trials"
    )
    print(f"{'back end':<22} {'trials/min':>10} {'speed-up':>9} {'whole command s':>16}")
    one = None
    for label, workers, backend in (
        ("local, 1 worker", 1, "local"),
        ("local, 2 workers", 2, "local"),
        ("dask, 2 workers", 2, "dask"),
    ):
        rate, whole = trials_a_minute(args.trials, workers, backend)
        one = one or rate
        print(f"{label:<22} {rate:>10.1f} {rate / one:>8.2f}x {whole:>16.1f}")


if __name__ == "__main__":
    main()
