"""The rule phase of a day: the policy's rules, community rules and titles (P6, P7, P8, P11).

Semantics, the same on every back end: every condition is evaluated on the day's state
*before* any rule acts (match, then act); then the actions run in file order: ``rules``, then
``community_rules``, then titles.  A member removed by an earlier rule is skipped by later
ones.  A rule that matches nobody does not fire and leaves no row in the ``actions`` table.

The names a condition may use come from :mod:`sim.engine.rule_inputs`, built lazily.
"""

from __future__ import annotations

import time

import numpy as np

from sim.engine.actions import EFFECTS
from sim.engine.rule_inputs import MemberEnv
from sim.rules.actions import ACTIONS


def resolve_conflicts(rules: list, hits: list[np.ndarray], count: int):
    """Community rules in priority order, each with the groups it may act on.

    Rules run from the highest ``priority`` down (ties: file order).  Two rules conflict when
    they would act on the same group on the same day with the same verb (two red envelopes,
    two splits): only the first in that order acts; the other is skipped for that group that
    day, wholly, and does not count as having fired.
    """
    order = sorted(range(len(rules)), key=lambda i: (-rules[i].priority, i))
    taken: dict[str, np.ndarray] = {}
    for index in order:
        rule, gids = rules[index], hits[index]
        if not len(gids):
            continue
        verbs = [action for action, _ in rule.actions]
        free = np.ones(len(gids), dtype=bool)
        for verb in verbs:
            if verb in taken:
                free &= ~taken[verb][gids]
        gids = gids[free]
        for verb in verbs:
            taken.setdefault(verb, np.zeros(count, dtype=bool))[gids] = True
        yield index, rule, gids


def update_stages(model) -> None:
    """Each inhabited group takes at most one transition of the stage chart today (G1, G3)."""
    groups = model.groups
    inhabited = np.flatnonzero(groups.size > 0)
    before = groups.stage[inhabited]
    after = model.stage_engine.step(model.group_env, groups.stage, inhabited)
    groups.stage[inhabited] = after
    model.today.stage_changes = int(np.count_nonzero(before != after))
    chart = model.policy.chart
    if "dead" in chart.states:  # a group that just died carries its last 30 days' main churn cause (G2)
        died = inhabited[(after == chart.states.index("dead")) & (before != after)]
        if len(died):
            totals = groups.exits_by_cause[:, :, died].sum(axis=0)  # causes x died
            groups.dead_cause[died] = np.where(totals.sum(axis=0) > 0, totals.argmax(axis=0), -1)


def run_rules(model) -> None:
    """Evaluate every rule on the day's state, then apply the actions in file order."""
    policy, pop, groups, engines = model.policy, model.pop, model.groups, model.rule_engines
    if not engines:
        return
    member_env, group_env = MemberEnv(model), model.group_env
    member_hits, title_hits, group_hits = [], [], []
    if "member" in engines:
        hits = engines["member"].matches(member_env, pop.status == 0, pop.group)
        member_hits = list(zip(policy.rules, hits[: len(policy.rules)]))
        title_hits = list(zip(policy.titles, hits[len(policy.rules) :]))
    if "group" in engines:
        started = time.perf_counter()
        group_hits = engines["group"].matches(group_env, groups.size > 0, np.arange(groups.count))
        model.community_rule_seconds += time.perf_counter() - started

    audit = model.audit_trail
    if audit is not None:  # the values that made each rule fire, before any action changes them
        for rule, rows in member_hits + title_hits:
            audit.matched(model.day, rule, member_env, policy.member_vocab, pop.member_id[rows], pop.group[rows], rows)
        for rule, gids in zip(policy.community_rules, group_hits):
            audit.matched(model.day, rule, group_env, policy.group_vocab, np.full(len(gids), -1), gids, gids)

    for rule, rows in member_hits:
        rows = rows[pop.status[rows] == 0]
        if len(rows):
            for action, arg in rule.actions:
                reached = pop.member_id[rows], pop.group[rows]
                cost = EFFECTS[action](model, rows, arg, rule.name)
                model.record_action(rule.name, action, rows, cost)
                if audit is not None:
                    audit.fired(model.day, rule.name, action, arg, *reached, cost)

    started = time.perf_counter()
    for metric in model.memory.snapshot_metrics(group_hits):  # metrics as they were when the rules matched
        group_env[metric]
    for index, rule, gids in resolve_conflicts(policy.community_rules, group_hits, groups.count):
        gids = gids[groups.size[gids] > 0]
        if not len(gids):
            continue
        for action, arg in rule.actions:
            spec = ACTIONS[action]
            if "member" in spec.scopes:
                chosen = np.zeros(groups.count, dtype=bool)
                chosen[gids] = True
                rows = np.flatnonzero(chosen[pop.group] & (pop.status == 0))
            else:
                rows = np.zeros(0, dtype=np.int64)
            reached = pop.member_id[rows], pop.group[rows]
            if "member" in spec.scopes:
                cost = EFFECTS[action](model, rows, arg, rule.name) if len(rows) else 0.0
            else:
                cost = EFFECTS[action](model, gids, arg, rule.name)
            model.record_action(rule.name, action, rows, cost, groups=gids)
            if audit is not None:
                audit.fired(model.day, rule.name, action, arg, *reached, cost, group_level=gids)
        model.memory.record(index, gids, model.day, group_env)
    model.community_rule_seconds += time.perf_counter() - started

    for code, (rule, rows) in enumerate(title_hits, start=1):
        rows = rows[(pop.status[rows] == 0) & (pop.title[rows] < code)]
        if len(rows):
            reached = pop.member_id[rows], pop.group[rows]
            cost = EFFECTS["grant_title"](model, rows, rule.name, f"title:{rule.name}")
            model.record_action(f"title:{rule.name}", "grant_title", rows, cost)
            if audit is not None:
                audit.fired(model.day, f"title:{rule.name}", "grant_title", rule.name, *reached, cost)
