"""The rule phase of a day: the policy's rules, community rules and titles (P6, P7, P8, P11).

Semantics, the same on every back end: every condition is evaluated on the day's state
*before* any rule acts (match, then act); then the actions run in file order: ``rules``, then
``community_rules``, then titles.  A member removed by an earlier rule is skipped by later
ones.  A rule that matches nobody does not fire and leaves no row in the ``actions`` table.

The names a condition may use are built lazily, so a policy pays only for what it reads.
"""

from __future__ import annotations

import time

import numpy as np

from .actions import ACTIONS
from .errors import SandboxError

F32 = np.float32


class MemberEnv(dict):
    """Member fields by name, computed on first use (vocabulary: :data:`sim.rules.MEMBER`)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.length = model.pop.n  # for conditions that read no member column (day < 7)

    def __missing__(self, name):
        m = self.model
        pop, groups, p = m.pop, m.groups, m.params
        direct = ("interest", "trust", "habit", "fatigue", "days_inactive", "points", "posts",
                  "warnings", "rewards_received", "archetype", "source", "title")
        if name in direct:
            value = getattr(pop, name)
        elif name == "days_since_join":
            value = m.day - pop.join_day
        elif name == "group_size":
            value = groups.size[pop.group]
        elif name == "group_active_ratio":
            value = groups.active_ratio_prev[pop.group]
        elif name == "day":
            value = m.day
        elif name == "weekday":
            value = m.day % 7
        elif name == "active_today":
            value = pop.active_today
        elif name == "posted_today":
            value = pop.posts_today > 0
        elif name == "asked_today":
            value = pop.asked_today
        elif name == "answered_today":
            value = pop.answered_today
        elif name == "is_silent":
            value = pop.days_inactive >= p.silent_after_days
        elif name == "is_core":
            value = m.is_core
        elif name == "is_spammer":
            value = pop.spammer
        elif name == "spam_posts_today":
            value = pop.spam_today
        else:
            raise KeyError(name)
        self[name] = value
        return value


class GroupEnv(dict):
    """Group metrics by name, computed on first use (vocabulary: :data:`sim.rules.GROUP`)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.length = model.groups.count

    def _today(self, key: str) -> np.ndarray:
        """Today's per-group figures, with zeros for groups opened since they were computed."""
        values = self.model.today[key]
        missing = self.model.groups.count - len(values)
        return np.pad(values, (0, missing)) if missing > 0 else values

    def _last7(self, history: str, today) -> np.ndarray:
        """Sum over the last 7 days including today (the ring still holds day-7 in today's slot)."""
        ring = getattr(self.model.groups, f"history_{history}")
        return ring.sum(axis=0) - ring[self.model.day % 7] + today

    def __missing__(self, name):
        m = self.model
        pop, groups = m.pop, m.groups
        size = groups.size
        denom = np.maximum(size, 1)
        if name == "size":
            value = size
        elif name == "active_ratio_1d":
            value = self._today("active_g") / denom
        elif name == "active_ratio_7d":
            value = self._last7("active", self._today("active_g")) / np.maximum(self._last7("size", size), 1)
        elif name == "messages_1d":
            value = self._today("messages_g")
        elif name == "messages_7d":
            value = self._last7("messages", self._today("messages_g"))
        elif name == "member_messages_7d":
            value = self._last7("member_messages", self._today("member_messages_g"))
        elif name == "spam_messages_1d":
            value = self._today("spam_g")
        elif name == "new_members_7d":
            value = self._last7("joined", groups.joined_today)
        elif name == "churned_7d":
            value = self._last7("churned", groups.churned_today + groups.removed_today)
        elif name == "mean_trust":
            value = groups.count_by_group(pop.group, pop.trust * (pop.status == 0)) / denom
        elif name == "mean_interest":
            value = groups.count_by_group(pop.group, pop.interest * (pop.status == 0)) / denom
        elif name == "core_count":
            value = self._today("core_g")
        elif name == "spammers":
            value = groups.count_by_group(pop.group, pop.spammer & (pop.status == 0))
        elif name == "group_age":
            value = m.day - groups.created_day
        elif name == "day":
            value = m.day
        elif name == "weekday":
            value = m.day % 7
        elif name == "is_full":
            cap = m.policy.policy.groups.cap
            value = size >= cap if cap else np.zeros(groups.count, dtype=bool)
        elif name == "stage":
            value = groups.stage
        elif name == "days_since_last_campaign":
            value = m.memory.days_since_last_campaign(m.day, groups.count)
        elif "__" in name:
            value = m.memory.value(name, self, m.day, groups.count)
        else:
            raise KeyError(name)
        self[name] = value
        return value


class NumpyRules:
    """Rules evaluated as NumPy masks over all rows at once (the default for member rules)."""

    def __init__(self, rules: list):
        self.rules = rules

    def matches(self, env, eligible: np.ndarray, sid_of_row: np.ndarray) -> list[np.ndarray]:
        """Rows (among the ``eligible`` mask) where each rule's condition holds."""
        return [np.flatnonzero(rule.mask(env) & eligible) for rule in self.rules]

    def close(self) -> None:
        pass


class DurableRules:
    """Rules evaluated by durable-rules on one fact per row, one batch a day (sid = group)."""

    def __init__(self, kind: str, rules: list, vocab):
        from .rules.durable_backend import DurableRuleset, new_run_token

        self.rules = rules
        self.ruleset = DurableRuleset(kind, rules, vocab)
        self.token = new_run_token()
        self.opened = np.zeros(0, dtype=bool)  # by group: has this run opened its sid?

    def matches(self, env, eligible: np.ndarray, sid_of_row: np.ndarray) -> list[np.ndarray]:
        """Rows (among the ``eligible`` mask) where each rule fired, one fact per row, sid per group."""
        from .rules.durable_backend import MAX_SIDS

        candidates = np.flatnonzero(eligible)
        sids = sid_of_row[candidates]
        if len(sids) and (sids.max() >= len(self.opened) or not self.opened[sids].all()):
            self.opened = np.pad(self.opened, (0, max(0, int(sids.max()) + 1 - len(self.opened))))
            new = np.unique(sids[~self.opened[sids]]).tolist()
            total = int(np.count_nonzero(self.opened)) + len(new)
            if total > MAX_SIDS:
                raise SandboxError(f"durable-rules holds at most {MAX_SIDS} groups per run and this run has "
                                   f"{total}; use --rules-backend numpy and "
                                   "--community-backend numpy for bigger communities")
            self.ruleset.open_sids(self.token, new)
            self.opened[new] = True
        return self.ruleset.evaluate(env, candidates, sids, self.token)

    def close(self) -> None:
        self.ruleset.forget(self.token, np.flatnonzero(self.opened).tolist())


def rule_engines(model) -> dict:
    """The evaluators of a run: member rules (with titles) and community rules, by back end."""
    policy, setup = model.policy, model.setup
    member_rules = policy.rules + policy.titles
    engines = {}
    if member_rules:
        engines["member"] = (DurableRules("member", member_rules, policy.member_vocab)
                             if setup.rules_backend == "durable" else NumpyRules(member_rules))
    if policy.community_rules:
        engines["group"] = (DurableRules("group", policy.community_rules, policy.group_vocab)
                            if setup.community_backend == "durable" else NumpyRules(policy.community_rules))
    return engines


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
    model.today["stage_changes"] = int(np.count_nonzero(before != after))
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
        title_hits = list(zip(policy.titles, hits[len(policy.rules):]))
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
                cost = ACTIONS[action].apply(model, rows, arg, rule.name)
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
                cost = spec.apply(model, rows, arg, rule.name) if len(rows) else 0.0
            else:
                cost = spec.apply(model, gids, arg, rule.name)
            model.record_action(rule.name, action, rows, cost, groups=gids)
            if audit is not None:
                audit.fired(model.day, rule.name, action, arg, *reached, cost, group_level=gids)
        model.memory.record(index, gids, model.day, group_env)
    model.community_rule_seconds += time.perf_counter() - started

    for code, (rule, rows) in enumerate(title_hits, start=1):
        rows = rows[(pop.status[rows] == 0) & (pop.title[rows] < code)]
        if len(rows):
            reached = pop.member_id[rows], pop.group[rows]
            cost = ACTIONS["grant_title"].apply(model, rows, rule.name, f"title:{rule.name}")
            model.record_action(f"title:{rule.name}", "grant_title", rows, cost)
            if audit is not None:
                audit.fired(model.day, f"title:{rule.name}", "grant_title", rule.name, *reached, cost)
