"""Throughput of the vectorised engine: member-days per second, and the strategist's comparison.

Run on its own:  python benchmarks/throughput.py [--sizes 10000 100000 1000000] [--days 100]

Prints a table of member-days per second at each population size (one replicate, shipped
policy), then times the default comparison: 10k members, 180 days, 2 policies x 10 replicates.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import sim
from sim.runs.experiment import compare, run

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "large-community.yaml"


def throughput(members: int, days: int, policy: str) -> tuple[float, float, int]:
    setup = sim.load_setup(
        SCENARIO,
        ROOT / "policies" / f"{policy}.yaml",
        community_backend="numpy",
        sets=[
            f"population.initial_members={members}",
            f"days={days}",
            f"channels.0.pool_size={members * 5}",
        ],
    )
    started = time.perf_counter()
    result = run(setup, replicates=1, workers=1)
    seconds = time.perf_counter() - started
    member_days = int(result.daily["members"].sum())
    return seconds, member_days / seconds, member_days


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--policy", default="weekly-ritual")
    args = parser.parse_args()

    print(f"cores: {os.cpu_count()}  policy: {args.policy}  days: {args.days}")
    print(f"{'members':>10} {'seconds':>9} {'member-days':>13} {'member-days/s':>15}")
    for size in args.sizes:
        seconds, rate, member_days = throughput(size, args.days, args.policy)
        print(f"{size:>10,} {seconds:>9.2f} {member_days:>13,} {rate:>15,.0f}")

    a = sim.load_setup(SCENARIO, ROOT / "policies" / "baseline.yaml")
    b = sim.load_setup(SCENARIO, ROOT / "policies" / "weekly-ritual.yaml")
    started = time.perf_counter()
    compare(a, b, replicates=10)
    print(
        f"\ncomparison 10k members x 180 days x 2 policies x 10 replicates: "
        f"{time.perf_counter() - started:.2f} s (default workers)"
    )


if __name__ == "__main__":
    main()
