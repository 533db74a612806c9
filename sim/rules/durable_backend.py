"""The durable-rules back end: member rules, community rules and a stage chart run by durable-rules.

Each evaluator opens one state id (sid) per group for the run, sends the day's facts in one
batch (:mod:`sim.rules.durable_core`), and deletes its sids' state when the run ends, so a
process can run any number of runs one after another.  durable-rules holds at most 1,024 sids
per ruleset: :func:`_claim` is the one place that limit is checked.
"""

from __future__ import annotations

import numpy as np

from sim.domain import content_hash
from sim.errors import SandboxError
from sim.rules import durable_core as core
from sim.rules.expr import fields_used


def _claim(held: int, new: int) -> None:
    """Refuse a run that would hold more sids than durable-rules allows."""
    if held + new > core.MAX_SIDS:
        raise core.capacity_error(held + new)


class DurableRules:
    """Rules evaluated by durable-rules on one fact per row, one batch a day (sid = group)."""

    def __init__(self, kind: str, rules: list, vocab):
        self.rules = rules
        self.ruleset = core.DurableRuleset(kind, rules, vocab)
        self.token = core.new_run_token()
        self.opened = np.zeros(0, dtype=bool)  # by group: has this run opened its sid?

    def matches(self, env, eligible: np.ndarray, sid_of_row: np.ndarray) -> list[np.ndarray]:
        """Rows (among the ``eligible`` mask) where each rule fired, one fact per row, sid per group."""
        candidates = np.flatnonzero(eligible)
        sids = sid_of_row[candidates]
        if len(sids) and (sids.max() >= len(self.opened) or not self.opened[sids].all()):
            self.opened = np.pad(self.opened, (0, max(0, int(sids.max()) + 1 - len(self.opened))))
            new = np.unique(sids[~self.opened[sids]]).tolist()
            _claim(int(np.count_nonzero(self.opened)), len(new))
            self.ruleset.open_sids(self.token, new)
            self.opened[new] = True
        return self.ruleset.evaluate(env, candidates, sids, self.token)

    def close(self) -> None:
        self.ruleset.forget(self.token, np.flatnonzero(self.opened).tolist())


class DurableStages:
    """A stage chart run as a durable-rules statechart, one sid per group and run."""

    def __init__(self, chart):
        self.chart = chart
        states = {}
        self.fields = sorted(set().union(*[fields_used(cond) for _, _, cond in chart.transitions]) | {"stage"})
        self.properties = core.short_names(self.fields)
        for index, state in enumerate(chart.states):
            triggers = {}
            for k, (source, target, cond) in enumerate(chart.transitions):
                if source != index:
                    continue
                guard = ("and", [("cmp", "==", ("field", "stage"), ("str", state)), cond])
                condition = core.translate([guard], chart.vocab)
                if condition.derived:
                    raise SandboxError(
                        "stage conditions must compare metrics with numbers or other metrics "
                        "(no division or arithmetic on the left)",
                        file=chart.file,
                    )
                triggers[f"t{k}"] = {
                    "all": [{"m": core.rename(condition.conditions[0], self.properties)}],
                    "to": chart.states[target],
                }
            states[state] = triggers
        self.name = f"sandbox_stages_{content_hash(states)}"
        self.dispatcher = core.register_statechart(self.name, states)
        self.token = core.new_run_token()
        self.sids: set[int] = set()
        self._keys = None  # the last day's groups as fact keys, reused while unchanged

    def step(self, env, stage: np.ndarray, gids: np.ndarray) -> np.ndarray:
        """The stage of each group in ``gids`` after today's (at most one) transition."""
        if len(gids) == 0:
            return stage[gids]
        new = set(gids.tolist()) - self.sids
        _claim(len(self.sids), len(new))
        self.sids |= new
        self._keys = core.FactKeys.reused(self._keys, self.token, gids, gids)
        facts = core.Facts(self._keys)
        for name in self.fields:
            facts.add(self.properties[name], stage if name == "stage" else env[name], self.chart.vocab.fields[name])
        moves = core.run_facts(self.name, self.dispatcher, facts)
        after = stage[gids].copy()
        position = {g: i for i, g in enumerate(gids.tolist())}
        for target, gid in moves:
            after[position[gid]] = self.chart.states.index(target)
        return after

    def close(self) -> None:
        core.delete_states(self.name, self.token, sorted(self.sids))
