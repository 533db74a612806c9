"""durable-rules as the engine of record: throughput and the cost of community rules.

Run on its own:  python benchmarks/rules_engine.py [--platform [--days N]]

Prints (1) facts per second through durable-rules for the member rules of a shipped policy
(assert, match, run actions, retract), and (2) at 10, 100 and 1,000 groups of 100 and of 500
members, on durable-rules and on NumPy, the per-day cost and share of the simulated day of the
community rules (matched and applied), of the stage chart, and of the whole rule phase; with
``--platform``, only a platform's scale: 1,000,000 members in groups of 150 (about 6,700 groups,
their stage states spread over seven copies of the durable-rules statechart), over N days after day 0 (default 14),
with the facts and events sent to durable-rules a day.  Speed is measured here, never asserted
in tests.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import sim
from sim.engine.model import CommunityModel

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5  # runs per cell of up to 100 groups, reported as medians (1,000 groups: one run)


def member_fact_throughput(members: int = 20_000, days: int = 10) -> tuple[float, int]:
    """Facts per second through durable-rules for tiered re-activation's member rules."""
    setup = sim.load_setup(
        ROOT / "scenarios" / "large-community.yaml",
        ROOT / "policies" / "tiered-reactivation.yaml",
        [f"population.initial_members={members}", f"days={days}"],
        rules_backend="durable",
    )
    model = CommunityModel(setup)
    engine = model.rule_engines["member"]
    spent, facts = 0.0, 0
    original = engine.matches

    def timed(env, candidates, sids):
        nonlocal spent, facts
        started = time.perf_counter()
        out = original(env, candidates, sids)
        spent += time.perf_counter() - started
        facts += len(candidates)
        return out

    engine.matches = timed
    model.run()
    return facts / spent, facts


def community_rules_cost(groups: int, backend: str, per_group: int, days: int = 30, members: int | None = None) -> dict:
    """Per day from day 1 on: community rules (matched on the back end and their actions applied),
    the stage chart, and the whole rule phase (with member rules and titles), in ms and as shares
    of the day; and day 0 apart, when durable-rules opens a session (sid) for each group."""
    setup = sim.load_setup(
        ROOT / "scenarios" / "existing-group.yaml",
        ROOT / "policies" / "community-playbook.yaml",
        [
            f"population.initial_members={members or groups * per_group}",
            f"policy.groups.cap={per_group}",
            "policy.groups.on_full=close",
            f"days={days}",
        ],
        community_backend=backend,
    )
    model = CommunityModel(setup)
    started = time.perf_counter()
    model.step()  # day 0 opens a durable-rules session per group: a one-time cost, reported apart
    first_day = {"total": time.perf_counter() - started, "community": model.community_rule_seconds}
    model.phase_seconds = dict.fromkeys(model.phase_seconds, 0.0)
    model.community_rule_seconds = 0.0
    sent = _sent(model)
    release = 0.0
    close = model.close

    def timed_close() -> None:  # durable-rules deletes the run's states: once, like day 0, reported apart
        nonlocal release
        began = time.perf_counter()
        close()
        release += time.perf_counter() - began

    model.close = timed_close  # type: ignore[method-assign]  # the last day's step calls it
    started = time.perf_counter()
    model.run()
    total = time.perf_counter() - started - release
    days -= 1
    facts, events = (after - before for after, before in zip(_sent(model), sent))
    phases = model.phase_seconds
    community, chart = model.community_rule_seconds, phases["stages"]
    return {
        "community_ms": 1000 * community / days,
        "community_share": community / total,
        "chart_ms": 1000 * chart / days,
        "chart_share": chart / total,
        "all_ms": 1000 * (phases["rules"] + chart) / days,
        "all_share": (phases["rules"] + chart) / total,
        "first_day_ms": 1000 * first_day["total"],
        "release_ms": 1000 * release,
        "first_day_community_ms": 1000 * first_day["community"],
        "day_ms": 1000 * total / days,
        "groups_at_end": int(np.count_nonzero(model.groups.size > 0)),
        "facts_a_day": facts / days,
        "events_a_day": events / days,
    }


def _sent(model) -> tuple[int, int]:
    """Facts sent to durable-rules' community rules and events to its stage chart so far (0 on NumPy)."""
    return getattr(model.rule_engines.get("group"), "sent", 0), getattr(model.stage_engine, "sent", 0)


def median_of(runs: int, groups: int, backend: str, per_group: int) -> dict:
    """Each figure's median over ``runs`` runs: this machine's timings drift by tens of percent
    from minute to minute (a shared virtual machine), shares much less."""
    rows = [community_rules_cost(groups, backend, per_group) for _ in range(runs)]
    return {key: float(np.median([row[key] for row in rows])) for key in rows[0]}


def platform(days: int = 15) -> None:
    """A platform's scale: 1,000,000 members in groups of 150, one run a back end."""
    print(f"1,000,000 members, groups of 150, {days - 1} days after day 0 (one run each):")
    for backend in ("durable", "numpy"):
        r = community_rules_cost(0, backend, 150, days=days, members=1_000_000)
        print(
            f"  {backend:>8}: day {r['day_ms']:.0f} ms; community rules {r['community_ms']:.1f} ms "
            f"({r['community_share']:.1%}); stage chart and group metrics {r['chart_ms']:.1f} ms ({r['chart_share']:.1%}); "
            f"rule phase {r['all_ms']:.1f} ms ({r['all_share']:.1%}); day 0 {r['first_day_ms']:.0f} ms; "
            f"release at the end {r['release_ms']:.0f} ms; "
            f"{int(r['groups_at_end']):,} groups"
            + (
                f"; sent a day: {r['facts_a_day']:,.0f} facts, {r['events_a_day']:,.0f} events"
                if backend == "durable"
                else ""
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="store_true", help="only a platform's scale (1,000,000 members)")
    parser.add_argument("--days", type=int, default=14, help="days after day 0 at a platform's scale (default 14)")
    args = parser.parse_args()
    if args.platform:
        platform(args.days + 1)
        return
    rate, facts = member_fact_throughput()
    print(f"durable-rules, member rules of tiered-reactivation: {facts:,} facts, {rate:,.0f} facts/s\n")
    print(
        "community rules: matched on the back end and their actions applied; stage chart: the lifecycle "
        "statechart;\nrule phase: both, with member rules and titles.  ms per day and share of the day, "
        f"days 1 to 29, medians of {RUNS} runs up to 100 groups;\nday 0 apart (durable-rules opens a "
        "session per group then): the day's ms, and of them community rules'.\n"
    )
    print(
        f"{'groups':>7} {'members/group':>14} {'backend':>8} {'day ms':>7} {'community rules':>17} "
        f"{'stage chart':>15} {'rule phase':>15} {'day 0 ms':>9} {'(community)':>12} {'groups at end':>14}"
    )
    for per_group in (100, 500):
        for groups in (10, 100, 1000):
            for backend in ("durable", "numpy"):
                try:
                    r = median_of(RUNS if groups <= 100 else 1, groups, backend, per_group)
                except sim.SandboxError as exc:
                    print(f"{groups:>7} {per_group:>14} {backend:>8}  refused: {exc}")
                    continue
                print(
                    f"{groups:>7} {per_group:>14} {backend:>8} {r['day_ms']:>7.2f} "
                    f"{r['community_ms']:>8.2f} ({r['community_share']:>5.1%}) "
                    f"{r['chart_ms']:>6.2f} ({r['chart_share']:>5.1%}) "
                    f"{r['all_ms']:>6.2f} ({r['all_share']:>5.1%}) {r['first_day_ms']:>9.1f} "
                    f"{r['first_day_community_ms']:>12.1f} {int(r['groups_at_end']):>14}"
                )


if __name__ == "__main__":
    main()
