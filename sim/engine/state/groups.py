"""Groups of a community: size cap, splitting into parallel groups, per-group metrics (P3).

Per-group aggregates are computed with ``np.bincount`` over the member columns, never by a
loop over members.  A 7-day ring of daily per-group figures backs the ``_7d`` metrics used
by community rules.  Group columns grow like member columns (:class:`sim.columns.Columns`),
so opening thousands of groups stays cheap.
"""

from __future__ import annotations

import numpy as np

from sim.engine.state.columns import Columns

WINDOW = 7
CAUSE_WINDOW = 30  # days of churn causes kept per group, to name why a group died (G2)
HISTORY = ("active", "size", "messages", "member_messages", "joined", "churned")

FIELDS = {
    "created_day": np.int32,
    "is_open": np.bool_,  # still admits newcomers
    "talk_scheduled": np.bool_,  # a guest talk tomorrow (set by a rule)
    "size": np.int64,  # members now; kept up to date by joins, exits and splits
    "joined_today": np.int64,
    "churned_today": np.int64,
    "removed_today": np.int64,
    "active_ratio_prev": np.float32,  # the latest day's active share (pulls members in, M3)
    "core_share_prev": np.float32,  # the latest day's core share (M5)
    "core_prev": np.int32,  # the latest day's core members (P3: is a copy still weak?)
    "is_copy": np.bool_,  # opened by a split, as a copy of another group (P3)
    "guest_value": np.float32,  # recent value from guest talks (moving average, P5)
    "led_value": np.float32,  # recent value from guests and operators together (moving average, P5)
    "stage": np.int16,  # lifecycle stage (G1): index into the stage chart's states
    "segment": np.int16,  # the member segment a group serves (P13); -1 for any
    "days_leaderless": np.int32,  # days in a row without an operator post or an active expert (G2)
    **{f"history_{name}": (np.float64, (WINDOW,)) for name in HISTORY},
    "dead_cause": np.int16,  # the dominant churn cause of its last 30 days when it died; -1 alive
}


def cause_ring(causes: int):
    """The column spec of the per-group, per-cause exits of the last :data:`CAUSE_WINDOW` days."""
    return (np.int32, (CAUSE_WINDOW, causes))


class Groups(Columns):
    """The groups' own state: when each opened, whether it still admits, and recent history."""

    def __init__(self, count: int = 1, start_stage: int = 0, causes: int = 1):
        super().__init__({**FIELDS, "exits_by_cause": cause_ring(causes)}, capacity=16)
        self.start_stage = start_stage
        for _ in range(count):
            self.open_group(0)

    @property
    def count(self) -> int:
        return self.n

    @property
    def history(self) -> dict[str, np.ndarray]:
        """Per-group daily figures of the last 7 days, shape (7, groups), by name."""
        return {name: getattr(self, f"history_{name}") for name in HISTORY}

    def open_group(self, day: int) -> int:
        """Open a new, empty group; return its id."""
        return self.append(1, created_day=day, is_open=True, stage=self.start_stage, segment=-1, dead_cause=-1).start

    def start_day(self) -> None:
        """Clear the day's counters.  Sizes are kept up to date by joins, exits and splits."""
        self.joined_today[:] = 0
        self.churned_today[:] = 0
        self.removed_today[:] = 0

    def count_leadership(self, led: np.ndarray) -> None:
        """A group led today (an operator post or an active expert) resets its leaderless days;
        any other goes one more day without a leader (G2)."""
        self.days_leaderless[:] = np.where(led, 0, self.days_leaderless + 1)

    def record(self, day: int, **today: np.ndarray) -> None:
        """Store one day's per-group figures in the 7-day ring."""
        slot = day % WINDOW
        for name, values in today.items():
            row = getattr(self, f"history_{name}")[slot]
            row[:] = 0  # a group opened by today's rules has no figures yet for today
            row[: len(values)] = values

    def count_by_group(self, group: np.ndarray, weights=None) -> np.ndarray:
        return np.bincount(group, weights=weights, minlength=self.count)
