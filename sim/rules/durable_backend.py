"""The durable-rules back end: member rules, community rules and a stage chart run by durable-rules.

Each evaluator opens state ids (sids) for the run (one a group for member rules and the stage
chart, one for each community rule), sends the day's facts in one batch
(:mod:`sim.rules.durable_core`), and deletes its sids' state when the run ends, so a process can
run any number of runs one after another.  durable-rules holds at most 1,024 sids
per registered ruleset; a run with more groups (or several runs alive at once) has its sids
placed in further copies of the same rules (:func:`sim.rules.durable_core.place`), so any
number of groups runs on durable-rules.
"""

from __future__ import annotations

import numpy as np

from sim.domain import content_hash
from sim.errors import SandboxError
from sim.rules import durable_core as core
from sim.rules.expr import fields_used
from sim.rules.recall import Recall, Situations


class _Places:
    """Which registered copy of a ruleset holds each of one run's sids (-1: not opened yet)."""

    def __init__(self, name: str):
        self.name = name
        self.copy = np.full(0, -1, dtype=np.int32)

    def open(self, sids: np.ndarray) -> list[tuple[int, list[int]]]:
        """Place the sids among ``sids`` not placed yet; return the new ones by copy."""
        if len(sids) == 0:
            return []
        top = int(sids.max()) + 1
        if top > len(self.copy):
            self.copy = np.pad(self.copy, (0, top - len(self.copy)), constant_values=-1)
        new = np.unique(sids[self.copy[sids] < 0])
        if len(new) == 0:
            return []
        copies = core.place(self.name, len(new))
        self.copy[new] = copies
        return [(c, new[part].tolist()) for c, part in core.by_copy(copies)]

    def opened(self) -> list[tuple[int, list[int]]]:
        """Every sid placed, by copy."""
        sids = np.flatnonzero(self.copy >= 0)
        return [(c, sids[part].tolist()) for c, part in core.by_copy(self.copy[sids])] if len(sids) else []

    def forget(self) -> None:
        """Forget every placement (the run has released its states)."""
        self.copy = np.full(0, -1, dtype=np.int32)


class _Rules:
    """Some rules on one registered ruleset (and its copies), with the states one run opened there."""

    def __init__(self, ruleset: core.DurableRuleset, recall: Recall | None):
        self.ruleset = ruleset
        self.places = _Places(ruleset.name)
        self.recall = recall
        self.sent = 0  # facts sent to the engine in this run

    def matches(self, env, candidates: np.ndarray, sid_of_row: np.ndarray, token: str) -> list[np.ndarray]:
        """The ``candidates`` each rule matched today (asking the engine only about changed situations)."""
        sids = sid_of_row[candidates] if self.recall is None else np.zeros(len(candidates), dtype=np.intp)
        for copy, new in self.places.open(sids):
            self.ruleset.open_sids(token, new, copy)
        if self.recall is None:
            self.sent += len(candidates)
            return self.ruleset.evaluate(env, candidates, sids, self.places.copy[sids], token)
        ask = self.recall.changed(env, candidates)
        asked, sids = candidates[ask], sids[ask]
        self.sent += len(asked)
        self.recall.answer(asked, self.ruleset.evaluate(env, asked, sids, self.places.copy[sids], token))
        return self.recall.held(candidates)

    def close(self, token: str) -> None:
        """Delete the states the run opened, and forget what was remembered of them."""
        for copy, sids in self.places.opened():
            self.ruleset.forget(token, sids, copy)
        self.places.forget()
        if self.recall is not None:
            self.recall.forget()


class DurableRules:
    """Rules evaluated by durable-rules on one fact per row, one batch a day.

    Member rules: one ruleset, each member's fact in its group's state, every row every day
    (member rows move when the population is compacted, so nothing is remembered of them).

    Community rules (a row per group): each rule is its own ruleset, so a group's fact goes to a
    rule only when that rule's situation changed for the group (:mod:`sim.rules.recall`), carrying
    only what that rule reads, posted as an event (one rule: nothing to retract).  They match one
    fact alone and keep nothing in durable-rules from day to day, so every group's fact lives in
    one state of the run (one sentinel a rule, no copies past 1,024 groups).
    """

    def __init__(self, kind: str, rules: list, vocab):
        self.rules = rules
        self.token = core.new_run_token()
        if kind == "group":
            self.parts = [
                _Rules(core.DurableRuleset(kind, [rule], vocab, events=True), Recall(Situations([rule.ir], vocab), 1))
                for rule in rules
            ]
        else:
            self.parts = [_Rules(core.DurableRuleset(kind, rules, vocab), None)]

    @property
    def sent(self) -> int:
        """Facts sent to the engine in this run (benchmarks and tests read it)."""
        return sum(part.sent for part in self.parts)

    def matches(self, env, eligible: np.ndarray, sid_of_row: np.ndarray) -> list[np.ndarray]:
        """Rows (among the ``eligible`` mask) where each rule fired; ``sid_of_row``: each row's group."""
        candidates = np.flatnonzero(eligible)
        return [hits for part in self.parts for hits in part.matches(env, candidates, sid_of_row, self.token)]

    def close(self) -> None:
        for part in self.parts:
            part.close(self.token)


class DurableStages:
    """A stage chart run as a durable-rules statechart, one sid per group and run.

    A group's day goes to the engine as an event only when its situation (its stage, and the
    terms of the transitions out of that stage) changed since the engine last saw it: in the
    same situation the engine answered "no transition" then (had it moved, the stage would
    differ now), and would again (:mod:`sim.rules.recall`).
    """

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
        self.states = states
        self.name = f"sandbox_stages_{content_hash(states)}"
        self.recorders = {0: core.register_statechart(self.name, states)}  # by copy
        self.token = core.new_run_token()
        self.places = _Places(self.name)
        self._keys: dict[int, core.FactKeys] = {}  # by copy: the last day's groups as fact keys
        situations = Situations([cond for _, _, cond in chart.transitions], chart.vocab)
        self.relevant = np.stack(  # by stage: the bits of a situation its transitions read
            [situations.used_by([c for s, _, c in chart.transitions if s == k]) for k in range(len(chart.states))]
        )
        self.recall = Recall(situations, extra=1)  # the stage
        self.sent = 0  # events sent to the engine in this run (benchmarks and tests read it)

    def step(self, env, stage: np.ndarray, gids: np.ndarray) -> np.ndarray:
        """The stage of each group in ``gids`` after today's (at most one) transition."""
        if len(gids) == 0:
            return stage[gids]
        after = stage[gids].copy()
        ask = self.recall.changed(env, gids, self.relevant[after], after)
        gids = gids[ask]  # the rest stay where they are
        position = dict(zip(gids.tolist(), np.flatnonzero(ask).tolist()))
        self.sent += len(gids)
        for copy, new in self.places.open(gids):  # their states are created by this batch, in this order
            core.created(core.copy_name(self.name, copy), self.token, new)
        for copy, part in core.by_copy(self.places.copy[gids]):
            name = core.copy_name(self.name, copy)
            if copy not in self.recorders:
                self.recorders[copy] = core.register_statechart(name, self.states)
            keys = core.FactKeys.reused(self._keys.get(copy), self.token, gids[part], gids[part])
            self._keys[copy] = keys
            facts = core.Facts(keys)
            for field in self.fields:
                facts.add(
                    self.properties[field], stage if field == "stage" else env[field], self.chart.vocab.fields[field]
                )
            for target, gid in core.run_events_alone(name, self.recorders[copy], facts):
                after[position[gid]] = self.chart.states.index(target)
        return after

    def close(self) -> None:
        for copy, sids in self.places.opened():
            core.release(core.copy_name(self.name, copy), self.token, sids)
        self.places.forget()
        self.recall.forget()
