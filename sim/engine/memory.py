"""Playbook memory: what community rules remember about each group between days.

A community rule may say ``after: RULE`` and ``within: N`` (a sequence: fire only in the N
days after RULE fired for the group, and read the group's metrics as they were then through
``after_<metric>`` and ``days_since_after``), ``at_most: K per D days`` (a cool-down per
group), and every group carries ``days_since_last_campaign``.  This module keeps that memory
as per-group arrays and serves it under each rule's own names (``r3__days_since_after``...),
so the NumPy back end and durable-rules read exactly the same values.
"""

from __future__ import annotations

import numpy as np

from sim.rules.expr import fields_used
from sim.rules.vocabulary import SEQUENCE_NAMES

NEVER = -9999  # the day a rule "last fired" when it never has
SNAPSHOT_METRICS = sorted(n[len("after_") :] for n in SEQUENCE_NAMES if n.startswith("after_"))
"""The group metrics remembered when a followed rule fires (read back as ``after_<metric>``)."""


def _grow(values: np.ndarray, count: int, fill) -> np.ndarray:
    if values.shape[-1] >= count:
        return values
    pad = [(0, 0)] * (values.ndim - 1) + [(0, count - values.shape[-1])]
    return np.pad(values, pad, constant_values=fill)


class PlaybookMemory:
    """Per group: when each rule fired, the metrics then, and recent firings for caps."""

    def __init__(self, rules: list):
        self.rules = rules
        followed = {rule.after for rule in rules if rule.after is not None}
        self.last_fired = {i: np.full(1, NEVER, dtype=np.int64) for i in followed}
        self.snapshot: dict[int, dict[str, np.ndarray]] = {i: {} for i in followed}
        self.recent = {
            i: np.full((rule.cap[0], 1), NEVER, dtype=np.int64) for i, rule in enumerate(rules) if rule.cap is not None
        }
        self.last_campaign = np.full(1, NEVER, dtype=np.int64)
        self.fitted = 1  # every array above has room for this many groups
        # the metrics some rule reads back as after_<metric>: only those are remembered
        read = set().union(*(fields_used(rule.ir) for rule in rules))
        self.remembered = [m for m in SNAPSHOT_METRICS if any(name.endswith(f"__after_{m}") for name in read)]

    def _fit(self, count: int) -> None:
        if count <= self.fitted:  # read several times a day; groups are only ever added
            return
        self.fitted = count
        for i in self.last_fired:
            self.last_fired[i] = _grow(self.last_fired[i], count, NEVER)
            for metric, values in self.snapshot[i].items():
                self.snapshot[i][metric] = _grow(values, count, 0.0)
        for i in self.recent:
            self.recent[i] = _grow(self.recent[i], count, NEVER)
        self.last_campaign = _grow(self.last_campaign, count, NEVER)

    def days_since_last_campaign(self, day: int, count: int) -> np.ndarray:
        self._fit(count)
        return day - self.last_campaign[:count]

    def value(self, name: str, env, day: int, count: int) -> np.ndarray:
        """The value of a rule-qualified memory name (``r<i>__...``) for every group."""
        self._fit(count)
        key, field = name.split("__", 1)
        index = int(key[1:])
        rule = self.rules[index]
        if field == "fired_recent":
            fired = self.recent[index][:, :count] > day - rule.cap[1]
            # at most 1 per D days (the usual cap) needs no sum over the remembered firings
            return fired[0].astype(np.int64) if len(fired) == 1 else fired.sum(axis=0)
        if field == "days_since_after":
            return day - self.last_fired[rule.after][:count]
        metric = field[len("after_") :]
        snapshot = self.snapshot[rule.after]
        if metric not in snapshot:
            return np.zeros(count)
        return snapshot[metric][:count]

    def record(self, index: int, gids: np.ndarray, day: int, env) -> None:
        """Remember that rule ``index`` fired today for these groups (after its actions ran)."""
        count = len(env["size"])
        self._fit(count)
        self.last_campaign[gids] = day
        if index in self.recent:
            recent = self.recent[index]
            recent[1:, gids] = recent[:-1, gids]
            recent[0, gids] = day
        if index in self.last_fired:
            self.last_fired[index][gids] = day
            for metric in self.remembered:
                values = np.asarray(env[metric], dtype=np.float64)
                stored = self.snapshot[index].setdefault(metric, np.zeros(count))
                stored = self.snapshot[index][metric] = _grow(stored, count, 0.0)
                stored[gids] = values[gids]

    def snapshot_metrics(self, hits: list[np.ndarray]) -> list[str]:
        """The metrics to take before today's actions change them: those remembered, on a day a
        followed rule fired (``hits``: groups each rule matched)."""
        fired = any(len(hits[i]) for i in self.last_fired if i < len(hits))
        return self.remembered if fired else []
