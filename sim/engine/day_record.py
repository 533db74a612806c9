"""What happened today: the day's counts, written by the phase that saw them, read by metrics and rules.

One :class:`DayRecord` is made at the start of each day (:meth:`CommunityModel._start_day`) and
read at its end (:func:`sim.engine.metrics.record_day`) and, for the per-group figures, by the
group metrics a community rule or the stage chart reads (:class:`sim.engine.rule_inputs.GroupEnv`).
Each field names the phase that writes it, so a newcomer can see where a number comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def _no_groups() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class DayRecord:
    """Today's counts; every field is 0 (or empty) until its phase writes it."""

    # acquisition (sim.engine.acquisition): prospects reached, refused by admission, joined by referral
    prospects: int = 0
    turned_away: int = 0
    referral_joins: int = 0
    # members' day (sim.engine.members.close_member_day), community-wide
    active: int = 0
    member_messages: int = 0
    questions: int = 0
    answered: int = 0
    spam_messages: int = 0
    operator_messages: int = 0
    ritual: bool = False
    talks: int = 0
    referrals_brought: int = 0
    # members' day, per group (arrays over group ids as they were when the day's members were counted)
    active_g: np.ndarray = field(default_factory=_no_groups)
    member_messages_g: np.ndarray = field(default_factory=_no_groups)
    spam_g: np.ndarray = field(default_factory=_no_groups)
    messages_g: np.ndarray = field(default_factory=_no_groups)
    core_g: np.ndarray = field(default_factory=_no_groups)
    # stages (sim.engine.rule_phase.update_stages): groups that changed stage today
    stage_changes: int = 0
    # rules and their actions (sim.engine.model.record_action, sim.engine.actions)
    members_reached: int = 0
    campaigns: int = 0
    event_participants: int = 0
    sales: int = 0
    # groups (sim.engine.model.split_group)
    splits: int = 0

    def per_group(self, name: str) -> np.ndarray:
        """One of the per-group figures (``active_g``, ``messages_g``...) by name."""
        if not name.endswith("_g"):
            raise KeyError(name)
        value: np.ndarray = getattr(self, name)
        return value
