"""Groups of a community: size cap, splitting into parallel groups, per-group metrics (P3).

Per-group aggregates are computed with ``np.bincount`` over the member columns, never by a
loop over members.  A 7-day ring of daily per-group figures backs the ``_7d`` metrics used
by community rules.
"""

from __future__ import annotations

import numpy as np

WINDOW = 7
_HISTORY = ("active", "size", "messages", "member_messages", "joined", "churned")


class Groups:
    """The groups' own state: when each opened, whether it still admits, and recent history."""

    def __init__(self, count: int = 1):
        self.count = 0
        self.created_day = np.zeros(0, dtype=np.int32)
        self.is_open = np.zeros(0, dtype=bool)
        self.talk_scheduled = np.zeros(0, dtype=bool)   # a guest talk tomorrow (set by a rule)
        self.history = {name: np.zeros((WINDOW, 0), dtype=np.float64) for name in _HISTORY}
        self.size = np.zeros(0, dtype=np.int64)
        self.joined_today = np.zeros(0, dtype=np.int64)
        self.churned_today = np.zeros(0, dtype=np.int64)
        self.removed_today = np.zeros(0, dtype=np.int64)
        self.active_ratio_prev = np.zeros(0, dtype=np.float32)
        self.core_share_prev = np.zeros(0, dtype=np.float32)
        for _ in range(count):
            self.open_group(0)

    def open_group(self, day: int) -> int:
        """Open a new, empty group; return its id."""
        gid = self.count
        self.count += 1
        self.created_day = np.append(self.created_day, np.int32(day))
        self.is_open = np.append(self.is_open, True)
        self.talk_scheduled = np.append(self.talk_scheduled, False)
        for name in _HISTORY:
            self.history[name] = np.pad(self.history[name], ((0, 0), (0, 1)))
        for name in ("size", "joined_today", "churned_today", "removed_today"):
            setattr(self, name, np.append(getattr(self, name), 0))
        for name in ("active_ratio_prev", "core_share_prev"):
            setattr(self, name, np.append(getattr(self, name), np.float32(0)))
        return gid

    def start_day(self, group: np.ndarray, alive: np.ndarray) -> None:
        """Recount sizes from the member columns and clear the day's counters."""
        self.size = np.bincount(group, weights=alive, minlength=self.count).astype(np.int64)
        self.joined_today[:] = 0
        self.churned_today[:] = 0
        self.removed_today[:] = 0

    def record(self, day: int, **today: np.ndarray) -> None:
        """Store one day's per-group figures in the 7-day ring."""
        slot = day % WINDOW
        for name, values in today.items():
            self.history[name][slot] = values

    def window_sum(self, name: str) -> np.ndarray:
        return self.history[name].sum(axis=0)

    def count_by_group(self, group: np.ndarray, weights=None) -> np.ndarray:
        return np.bincount(group, weights=weights, minlength=self.count)
