"""The contract every rules back end meets, and the choice of back end for a run.

A back end turns compiled rules (or a stage chart) into an evaluator.  Two exist: NumPy
(:mod:`sim.rules.numpy_backend`, masks over all rows at once) and durable-rules
(:mod:`sim.rules.durable_backend`, the rules engine of record).  They must agree rule by rule,
member by member, day by day (``tests/test_backends.py``); another engine could stand in by
meeting the two small protocols below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

BACKENDS = ("numpy", "durable")
"""The back ends a run can choose, for member rules, community rules and the stage chart."""


class RuleEvaluator(Protocol):
    """Evaluates a list of rules on a day's state."""

    def matches(self, env: Mapping[str, Any], eligible: np.ndarray, sid_of_row: np.ndarray) -> list[np.ndarray]:
        """For each rule, the rows (among ``eligible``) where it fires; ``sid_of_row`` is each row's group."""
        ...

    def close(self) -> None:
        """Release what the run held (durable-rules' state ids); called once, however the run ends."""
        ...


class StageStepper(Protocol):
    """Runs a stage chart: at most one transition per group and day."""

    def step(self, env: Mapping[str, Any], stage: np.ndarray, gids: np.ndarray) -> np.ndarray:
        """The stage of each group in ``gids`` after today's transition."""
        ...

    def close(self) -> None:
        """Release what the run held."""
        ...


def rule_evaluator(kind: str, rules: list, vocab, backend: str) -> RuleEvaluator:
    """An evaluator of ``rules`` (``kind`` is "member" or "group") on the chosen back end."""
    if backend == "durable":
        from sim.rules.durable_backend import DurableRules  # durable-rules is loaded only by runs that use it

        return DurableRules(kind, rules, vocab)
    from sim.rules.numpy_backend import NumpyRules

    return NumpyRules(rules)


def rule_engines(policy, rules_backend: str, community_backend: str) -> dict[str, RuleEvaluator]:
    """The evaluators of a run: member rules (with titles) and community rules, by back end."""
    member_rules = policy.rules + policy.titles
    engines: dict[str, RuleEvaluator] = {}
    if member_rules:
        engines["member"] = rule_evaluator("member", member_rules, policy.member_vocab, rules_backend)
    if policy.community_rules:
        engines["group"] = rule_evaluator("group", policy.community_rules, policy.group_vocab, community_backend)
    return engines


def stage_engine(chart, backend: str) -> StageStepper:
    """The stage chart's stepper on the chosen back end."""
    if backend == "durable":
        from sim.rules.durable_backend import DurableStages

        return DurableStages(chart)
    from sim.rules.numpy_backend import NumpyStages

    return NumpyStages(chart)
