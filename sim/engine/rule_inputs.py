"""What a rule reads: member fields and group metrics by name, computed on first use.

A condition names fields of the vocabulary (:mod:`sim.rules.vocabulary`); these mappings give
each name's array over all members or all groups, built lazily so a policy pays only for what
it reads.  Both rule back ends and the stage chart read the same mappings.
"""

from __future__ import annotations

import numpy as np


class MemberEnv(dict):
    """Member fields by name, computed on first use (vocabulary: :data:`sim.rules.MEMBER`)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.length = model.pop.n  # for conditions that read no member column (day < 7)

    def __missing__(self, name):
        m = self.model
        pop, groups, p = m.pop, m.groups, m.params
        direct = (
            "interest",
            "trust",
            "habit",
            "fatigue",
            "days_inactive",
            "points",
            "posts",
            "warnings",
            "rewards_received",
            "archetype",
            "source",
            "title",
        )
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
        values = self.model.today.per_group(key)
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
            cap = m.policy.settings.groups.cap
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
