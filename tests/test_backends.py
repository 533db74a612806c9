"""The NumPy and durable-rules back ends fire the same rules for the same members on the same days."""

from __future__ import annotations

import pandas as pd
import pytest

import sim

from conftest import POLICIES, scenario


def _run(policy, rules_backend, community_backend, sets=()):
    setup = sim.load_setup(scenario("existing-group"), policy, ["days=45", "population.initial_members=300", *sets],
                           rules_backend=rules_backend, community_backend=community_backend)
    return sim.run(setup, replicates=2, workers=1)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_every_shipped_policy_gives_identical_tables_on_both_back_ends(policy):
    fast = _run(policy, "numpy", "numpy")
    audit = _run(policy, "durable", "durable")
    pd.testing.assert_frame_equal(fast.actions, audit.actions, check_exact=True)
    pd.testing.assert_frame_equal(fast.daily, audit.daily, check_exact=True)
    pd.testing.assert_frame_equal(fast.members, audit.members, check_exact=True)


def test_conditions_durable_cannot_express_natively_agree_too(tmp_path):
    policy = tmp_path / "tricky.yaml"
    policy.write_text("""
name: tricky
rules:
  - name: arithmetic-left
    when: "points / (posts + 1) > 0.2 and not (trust < 0.45 or archetype == 'lurker')"
    do: {add_points: 1}
  - name: field-vs-field
    when: "trust > interest - 0.1 and 3 <= days_inactive"
    do: private_message
  - name: flags
    when: "is_silent or (posted_today and not is_core)"
    do: {add_points: 2}
  - name: negative
    when: "-fatigue < -0.001 and source != 'initial'"
    do: coupon
community_rules:
  - name: quiet
    when: "active_ratio_7d < mean_trust * 0.9 and size >= 10"
    do: {red_envelope: 1}
""")
    fast = _run(policy, "numpy", "numpy")
    audit = _run(policy, "durable", "durable")
    assert set(fast.actions["rule"]) >= {"arithmetic-left", "field-vs-field", "flags", "quiet"}
    pd.testing.assert_frame_equal(fast.actions, audit.actions, check_exact=True)
    pd.testing.assert_frame_equal(fast.kpis, audit.kpis, check_exact=True)


def test_many_runs_in_one_process_reuse_the_registered_ruleset(root):
    from sim.rules import durable_backend

    setup = sim.load_setup(root / "scenarios" / "existing-group.yaml", root / "policies" / "moderated.yaml",
                           ["days=10", "population.initial_members=50"], rules_backend="durable")
    before = set(durable_backend._registered)
    for _ in range(30):
        sim.run(setup, replicates=1, workers=1)
    added = set(durable_backend._registered) - before
    assert len(added) <= 2  # member and community rulesets, registered once
