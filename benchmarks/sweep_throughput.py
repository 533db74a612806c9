"""Sweep throughput: runs per minute on 1 and 2 local workers and on Dask with 2 workers.

Run on its own:  python benchmarks/sweep_throughput.py [--runs 16]

Each run is the 10k-member, 180-day large-community scenario; the design is a grid over the
operator's posts per week, with replicates.  Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.runs.sweep import sweep

ROOT = Path(__file__).resolve().parent.parent


def rate(backend: str, workers: int, runs: int) -> tuple[float, float]:
    """Runs per minute, all in and excluding the time to start the cluster."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = sweep(
            str(ROOT / "scenarios" / "large-community.yaml"),
            grid=["policy.content.operator_posts_per_week=3,7"],
            replicates=runs // 2,
            out=str(Path(tmp) / "sweep"),
            backend=backend,
            workers=workers,
        )
        seconds = time.perf_counter() - started
        assert result.failed == 0 and len(result.runs) == runs
    return 60 * runs / seconds, 60 * runs / (seconds - result.timings["startup_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16)
    args = parser.parse_args()
    print(f"{'back end':<10} {'workers':>7} {'runs/min':>9} {'without start':>14}")
    one, _ = rate("local", 1, args.runs)
    print(f"{'local':<10} {1:>7} {one:>9.1f}")
    two, _ = rate("local", 2, args.runs)
    print(f"{'local':<10} {2:>7} {two:>9.1f} {'':>14}   speed-up {two / one:.2f}x")
    dask, steady = rate("dask", 2, args.runs)
    print(
        f"{'dask':<10} {2:>7} {dask:>9.1f} {steady:>14.1f}   {dask / two:.0%} of the local pool "
        f"({steady / two:.0%} once the cluster is up)"
    )


if __name__ == "__main__":
    main()
