"""durable-rules as the engine of record: throughput and the cost of community rules.

Run on its own:  python benchmarks/rules_engine.py

Prints (1) facts per second through durable-rules for the member rules of a shipped policy
(assert, match, run actions, retract), and (2) the per-day cost of community rules and the
stage chart at 10, 100 and 1,000 groups of 100 and of 500 members, on durable-rules and on
NumPy, with their share of a simulated day.  Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np

import sim
import sim.model as model_module
from sim.model import CommunityModel

ROOT = Path(__file__).resolve().parent.parent


def member_fact_throughput(members: int = 20_000, days: int = 10) -> tuple[float, int]:
    """Facts per second through durable-rules for tiered re-activation's member rules."""
    setup = sim.load_setup(ROOT / "scenarios" / "large-community.yaml", ROOT / "policies" / "tiered-reactivation.yaml",
                           [f"population.initial_members={members}", f"days={days}"], rules_backend="durable")
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


def community_rules_cost(groups: int, backend: str, per_group: int, days: int = 30) -> tuple[float, float, int]:
    """Milliseconds per day on the stage chart and community rules, their share of the day, groups at end."""
    setup = sim.load_setup(ROOT / "scenarios" / "existing-group.yaml", ROOT / "policies" / "community-playbook.yaml",
                           [f"population.initial_members={groups * per_group}", f"policy.groups.cap={per_group}",
                            "policy.groups.on_full=close", f"days={days}"], community_backend=backend)
    spent = defaultdict(float)

    def timed(name, fn):
        def wrapper(model):
            started = time.perf_counter()
            fn(model)
            spent[name] += time.perf_counter() - started
        return wrapper

    originals = model_module.update_stages, model_module.run_rules
    model_module.update_stages = timed("rules", originals[0])
    model_module.run_rules = timed("rules", originals[1])
    try:
        model = CommunityModel(setup)
        started = time.perf_counter()
        model.run()
        total = time.perf_counter() - started
    finally:
        model_module.update_stages, model_module.run_rules = originals
    return 1000 * spent["rules"] / days, spent["rules"] / total, int(np.count_nonzero(model.groups.size > 0))


def main() -> None:
    rate, facts = member_fact_throughput()
    print(f"durable-rules, member rules of tiered-reactivation: {facts:,} facts, {rate:,.0f} facts/s\n")
    print(f"{'groups':>7} {'members/group':>14} {'backend':>8} {'rules ms/day':>13} {'share of day':>13} "
          f"{'groups at end':>14}")
    for per_group in (100, 500):
        for groups in (10, 100, 1000):
            for backend in ("durable", "numpy"):
                try:
                    ms, share, end = community_rules_cost(groups, backend, per_group)
                except sim.SandboxError as exc:  # splits took the run past durable-rules' 1,024 sids
                    print(f"{groups:>7} {per_group:>14} {backend:>8}  refused: {exc}")
                    continue
                print(f"{groups:>7} {per_group:>14} {backend:>8} {ms:>13.2f} {share:>12.1%} {end:>14}")


if __name__ == "__main__":
    main()
