"""The vectorised engine against the per-agent reference engine, and the vectorised engine's scaling.

Run:  python benchmarks/engines.py [--days 100] [--agent-sizes 1000 10000] [--sizes 10000 100000 1000000]

On one scenario (``large-community`` under the shipped ``weekly-ritual`` policy, population
and channel pool resized), measures in a fresh process per cell:

- member-days per second, vector against agents, at 1k and 10k members;
- vector at 10k, 100k and 1M members, and the ratio time(1M) / time(100k) (linear is 10);
- the share of each daily phase (acquisition, content, members, stages, rules, churn, metrics);
- the one-time cost of a process's first run (loading the compiled kernels), apart from the rest;
- peak memory per member: the peak of NumPy and Python allocations while the run lasts
  (``tracemalloc``) and the growth of the process's peak resident set, each over the peak
  membership.

Prints a table and writes it to ``benchmarks/results.md`` with the machine and versions.
Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "large-community.yaml"
POLICY = ROOT / "policies" / "weekly-ritual.yaml"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(engine: str, members: int, days: int, memory: bool) -> dict:
    """One run in this process; returns its speed and phase shares, or (``memory``) its memory.

    ``tracemalloc`` slows every Python allocation, so speed and memory are separate runs.
    """
    import sim
    from sim.engine.model import CommunityModel

    # First use in a process loads the compiled kernels (sim.kernels) and pays NumPy's and
    # durable-rules' first-call costs; a 2,000-member, 5-day run takes them, timed on its own.
    warm = sim.load_setup(
        SCENARIO,
        POLICY,
        engine=engine,
        community_backend="numpy",
        sets=["population.initial_members=2000", "days=5", "channels.0.pool_size=10000"],
    )
    started = time.perf_counter()
    CommunityModel(warm, replicate=0).run()
    warm_up = time.perf_counter() - started
    setup = sim.load_setup(
        SCENARIO,
        POLICY,
        engine=engine,
        community_backend="numpy",
        sets=[f"population.initial_members={members}", f"days={days}", f"channels.0.pool_size={members * 5}"],
    )
    baseline = _rss_bytes()
    if memory:
        tracemalloc.start()
    started = time.perf_counter()
    model = CommunityModel(setup, replicate=0).run()
    seconds = time.perf_counter() - started
    traced_peak = tracemalloc.get_traced_memory()[1] if memory else float("nan")
    tracemalloc.stop()
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    members_per_day = [row["members"] for row in model.daily_rows]
    member_days = sum(members_per_day)
    phases = model.phase_seconds
    total = sum(phases.values())
    return {
        "engine": engine,
        "members": members,
        "days": days,
        "seconds": seconds,
        "warm_up_seconds": warm_up,
        "member_days": member_days,
        "rate": member_days / seconds,
        "peak_members": max(members_per_day),
        "traced_bytes_per_member": traced_peak / max(members_per_day),
        "rss_bytes_per_member": max(peak_rss - baseline, 0) / max(members_per_day),
        "phases": {name: value / total for name, value in phases.items()},
    }


def _in_fresh_process(engine: str, members: int, days: int, memory: bool = False) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--one", engine, str(members), str(days), str(int(memory))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    mem = next((line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal")), "0")
    versions = ", ".join(f"{p} {version(p)}" for p in ("numpy", "mesa", "pandas", "durable_rules"))
    return (
        f"{platform.machine()}, {os.cpu_count()} cores ({cpu}), {int(mem) // 1024 // 1024} GiB; "
        f"Python {platform.python_version()}; {versions}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--agent-sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--one", nargs=4, metavar=("ENGINE", "MEMBERS", "DAYS", "MEMORY"), help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    args = parser.parse_args()
    if args.one:
        engine, members, days, memory = args.one
        print(json.dumps(measure(engine, int(members), int(days), memory == "1")))
        return

    lines = [
        f"# Engine benchmark ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {_machine()}",
        "",
        f"Scenario `large-community` resized, policy `weekly-ritual`, {args.days} days, one replicate, "
        "community rules on NumPy; each cell in a fresh process.",
        "",
    ]

    lines += [
        "## Vector against agents",
        "",
        "| members | vector member-days/s | agents member-days/s | vector / agents |",
        "|---:|---:|---:|---:|",
    ]
    cells = {}
    for size in args.agent_sizes:
        vec = cells[("vector", size)] = _in_fresh_process("vector", size, args.days)
        agt = cells[("agents", size)] = _in_fresh_process("agents", size, args.days)
        lines.append(f"| {size:,} | {vec['rate']:,.0f} | {agt['rate']:,.0f} | {vec['rate'] / agt['rate']:.0f}x |")
        print(lines[-1], flush=True)

    phase_names = ("acquisition", "content", "members", "stages", "rules", "churn", "metrics")
    lines += [
        "",
        "## Vector engine scaling",
        "",
        "| members | seconds | member-days/s | traced peak B/member | RSS growth B/member | "
        + " | ".join(phase_names)
        + " |",
        "|---:" * (5 + len(phase_names)) + "|",
    ]
    for size in args.sizes:
        r = cells.get(("vector", size)) or _in_fresh_process("vector", size, args.days)
        cells[("vector", size)] = r
        mem = _in_fresh_process("vector", size, args.days, memory=True)
        r["traced_bytes_per_member"], r["rss_bytes_per_member"] = (
            mem["traced_bytes_per_member"],
            mem["rss_bytes_per_member"],
        )
        shares = " | ".join(f"{r['phases'][p]:.0%}" for p in phase_names)
        lines.append(
            f"| {size:,} | {r['seconds']:.2f} | {r['rate']:,.0f} | {r['traced_bytes_per_member']:.0f} | "
            f"{r['rss_bytes_per_member']:.0f} | {shares} |"
        )
        print(lines[-1], flush=True)
    warm = [c["warm_up_seconds"] for c in cells.values() if c["engine"] == "vector"]
    lines += [
        "",
        f"First run in a fresh process (2,000 members, 5 days; loads the compiled kernels), "
        f"not counted above: {min(warm):.2f} to {max(warm):.2f} s",
    ]
    if ("vector", 100_000) in cells and ("vector", 1_000_000) in cells:
        ratio = cells[("vector", 1_000_000)]["seconds"] / cells[("vector", 100_000)]["seconds"]
        lines += ["", f"time(1M) / time(100k) = {ratio:.1f} (linear: 10; target 8 to 12)"]
    agent_phases = [cells[k] for k in cells if k[0] == "agents"]
    if agent_phases:
        r = agent_phases[-1]
        lines += [
            "",
            f"Agents engine phase shares at {r['members']:,} members: "
            + ", ".join(f"{p} {r['phases'][p]:.0%}" for p in phase_names),
        ]
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
