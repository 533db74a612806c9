"""Community playbooks with memory: sequences, cool-downs and priorities, on crafted metrics.

Each test feeds a day-by-day series of group metrics to the rule engines (NumPy and
durable-rules) with the playbook memory, and checks exactly on which days each rule fires.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.config.policy import Policy, compile_policy
from sim.engine.memory import PlaybookMemory
from sim.engine.rule_phase import resolve_conflicts
from sim.errors import SandboxError
from sim.rules.durable_backend import DurableRules
from sim.rules.numpy_backend import NumpyRules


class CraftedEnv(dict):
    """Crafted group metrics for one day; memory names come from the playbook memory."""

    def __init__(self, metrics: dict, memory: PlaybookMemory, day: int):
        super().__init__({k: np.asarray(v, dtype=float) for k, v in metrics.items()}, day=day)
        self.memory, self.day = memory, day

    def __missing__(self, name):
        count = len(self["size"])
        if name == "days_since_last_campaign":
            return self.memory.days_since_last_campaign(self.day, count)
        return self.memory.value(name, self, self.day, count)


def fire_days(policy_yaml: dict, series: list[dict], backend: str) -> dict[str, list[int]]:
    """Run the community rules over crafted daily metrics; return the days each rule acted."""
    compiled = compile_policy(Policy.model_validate(policy_yaml), file="crafted.yaml")
    rules = compiled.community_rules
    engine = DurableRules("group", rules, compiled.group_vocab) if backend == "durable" else NumpyRules(rules)
    memory = PlaybookMemory(rules)
    fired: dict[str, list[int]] = {rule.name: [] for rule in rules}
    try:
        for day, metrics in enumerate(series):
            env = CraftedEnv(metrics, memory, day)
            groups = np.arange(len(env["size"]))
            hits = engine.matches(env, np.ones(len(groups), dtype=bool), groups)
            for metric in memory.snapshot_metrics(hits):
                env.setdefault(metric, np.zeros(len(groups)))
            for index, rule, gids in resolve_conflicts(rules, hits, len(groups)):
                if len(gids):
                    fired[rule.name].append(day)
                    memory.record(index, gids, day, env)
    finally:
        engine.close()
    return fired


CAMPAIGN_THEN_SURVEY = {
    "community_rules": [
        {"name": "campaign", "when": "active_ratio_7d < 0.1", "do": {"red_envelope": 2}, "at_most": "1 per 30 days"},
        {
            "name": "survey-if-no-lift",
            "after": "campaign",
            "within": 14,
            "when": "days_since_after == 14 and active_ratio_7d < after_active_ratio_7d + 0.05",
            "do": "private_message",
        },
    ]
}


def _series(ratios):
    return [{"size": [100], "active_ratio_7d": [r]} for r in ratios]


@pytest.mark.parametrize("backend", ["numpy", "durable"])
def test_sequence_fires_when_the_campaign_did_not_lift_activity(backend):
    flat = _series([0.05] * 40)
    fired = fire_days(CAMPAIGN_THEN_SURVEY, flat, backend)
    assert fired["campaign"] == [0, 30]  # the cool-down: once per 30 days
    assert fired["survey-if-no-lift"] == [14]  # 14 days later, no lift: survey; day 44 is past the series


@pytest.mark.parametrize("backend", ["numpy", "durable"])
def test_sequence_stays_quiet_when_the_campaign_worked(backend):
    lifted = _series([0.05] * 5 + [0.12] * 35)
    fired = fire_days(CAMPAIGN_THEN_SURVEY, lifted, backend)
    assert fired["campaign"] == [0]
    assert fired["survey-if-no-lift"] == []


@pytest.mark.parametrize("backend", ["numpy", "durable"])
def test_sequence_never_fires_without_its_first_rule(backend):
    busy = _series([0.5] * 40)
    assert fire_days(CAMPAIGN_THEN_SURVEY, busy, backend) == {"campaign": [], "survey-if-no-lift": []}


@pytest.mark.parametrize("backend", ["numpy", "durable"])
def test_cool_down_allows_k_firings_per_window(backend):
    policy = {
        "community_rules": [{"name": "nudge", "when": "size > 0", "do": "private_message", "at_most": "2 per 10 days"}]
    }
    fired = fire_days(policy, _series([0.3] * 25), backend)
    assert fired["nudge"] == [0, 1, 10, 11, 20, 21]


@pytest.mark.parametrize("backend", ["numpy", "durable"])
def test_priority_decides_between_conflicting_rules(backend):
    policy = {
        "community_rules": [
            {"name": "small-envelope", "when": "active_ratio_7d < 0.5", "do": {"red_envelope": 1}},
            {"name": "big-envelope", "when": "active_ratio_7d < 0.2", "do": {"red_envelope": 5}, "priority": 10},
            {"name": "also-message", "when": "active_ratio_7d < 0.5", "do": "private_message"},
        ]
    }
    fired = fire_days(policy, _series([0.1, 0.3, 0.1]), backend)
    assert fired["big-envelope"] == [0, 2]
    assert fired["small-envelope"] == [1]  # loses the conflict on days 0 and 2
    assert fired["also-message"] == [0, 1, 2]  # another verb: no conflict


@pytest.mark.parametrize(
    "rule, message",
    [
        (
            {"name": "x", "when": "size > 1", "do": "warn", "after": "nowhere", "within": 3},
            "a sequence refers to an unknown rule 'nowhere'",
        ),
        ({"name": "x", "when": "size > 1", "do": "warn", "after": "x", "within": 3}, "unknown rule 'x'"),
        ({"name": "x", "when": "size > 1", "do": "warn", "after": "a"}, "needs both 'after: RULE' and 'within: DAYS'"),
        ({"name": "x", "when": "size > 1", "do": "warn", "at_most": "once a month"}, "expected 'K per D days'"),
        ({"name": "x", "when": "after_size > 1", "do": "warn"}, "unknown name 'after_size'"),
    ],
)
def test_bad_playbooks_are_refused(tmp_path, rule, message):
    import yaml

    from sim.config.policy import load_policy

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"community_rules": [{"name": "a", "when": "size > 1", "do": "warn"}, rule]}))
    with pytest.raises(SandboxError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        policy, _, root = load_policy(path)
        compile_policy(policy, file=str(path), root=root)
    assert str(path) in str(info.value)
