"""Member state as a struct of arrays: one row per member, one NumPy array per field.

The daily update works on whole columns at once.  Rows of members who left stay in place
(masked out by ``status``) until they make up an eighth of the rows; then :meth:`compact`
moves them to an archive, so a long run with heavy churn does not keep paying for its dead.
Each member keeps a stable ``member_id`` through compaction.
"""

from __future__ import annotations

import numpy as np

from sim.domain import IN_GROUP
from sim.engine.state.columns import Columns

# field -> dtype.  float32 keeps memory and bandwidth low; precision needs are modest.  Counts
# that stay small (a day's posts, warnings, days within the 3,650-day horizon) are int16.
FIELDS: dict[str, type[np.generic]] = {
    "member_id": np.int32,  # up to 2**31 - 1 members ever seen in one run
    "serial": np.int32,  # arrival number in the member's world: the key of their draws (keyed_draws)
    "interest": np.float32,  # M1, 0..1
    "trust": np.float32,  # M2, 0..1
    "habit": np.float32,  # M3, 0..1
    "fatigue": np.float32,  # M3, 0..
    "stimulus": np.float32,  # next-day activity log-odds from actions (private messages, coupons...)
    "spam_exposure": np.float32,  # remembered ads seen (M6), decays
    "tyranny_exposure": np.float32,  # remembered share of peers pruned (P7), decays
    "offtopic_exposure": np.float32,  # remembered off-topic operator posts read (G2: lost focus), decays
    "commitment": np.float32,  # churn cut bought by the fee paid (P2)
    "points": np.float32,  # P6
    "days_inactive": np.int16,
    "posts": np.int32,
    "posts_today": np.int16,
    "spam_today": np.int16,
    "warnings": np.int16,
    "rewards_received": np.int16,
    "join_day": np.int16,
    "exit_day": np.int16,  # -1 while a member
    "group": np.intp,  # intp: the index type, so per-group gathers need no conversion
    "archetype": np.int8,  # index into params.ARCHETYPES
    "arch_activity": np.float32,  # the archetype's activity offset, kept per row to avoid a gather a day
    "belonging": np.float32,  # felt belonging (M4): from rituals, roles and events; cuts churn
    "voice": np.float32,  # the member's own propensity to post (heavy-tailed, mean 1)
    "frailty": np.float32,  # the member's own proneness to leave (lognormal, mean 1), kept for life
    "first_post_day": np.int16,  # day of the first post or question; -1 before it
    "first_reply": np.int8,  # was that first contribution answered? 1 yes, 0 no, -1 not yet
    "posted_again": np.bool_,  # did the member contribute again on a later day
    "source": np.int16,  # index into the model's source names
    "title": np.int16,  # index into the policy's title names; 0 = none
    "status": np.int8,  # MEMBER, CHURNED, REMOVED
    "exit_cause": np.int16,  # index into the model's cause names; 0 = none
    "spammer": np.bool_,
    "active_today": np.bool_,
    "asked_today": np.bool_,
    "answered_today": np.bool_,
}


# What is kept of a member after they leave: the fields the ``members`` table reports.
RECORD: tuple[str, ...] = (
    "member_id",
    "source",
    "archetype",
    "join_day",
    "group",
    "status",
    "exit_day",
    "exit_cause",
    "title",
    "points",
    "posts",
    "warnings",
    "interest",
    "trust",
    "habit",
    "fatigue",
    "days_inactive",
    "spammer",
    "voice",
    "frailty",
    "commitment",
    "belonging",
    "spam_exposure",
    "tyranny_exposure",
    "offtopic_exposure",
    "first_post_day",
    "first_reply",
    "posted_again",
)


class Population(Columns):
    """All members' state.  Each field is an attribute holding a view of ``n`` rows."""

    def __init__(self, capacity: int = 1024):
        super().__init__(FIELDS, capacity)
        self._next_id = 0
        self.archive: list[dict[str, np.ndarray]] = []

    def add(self, count: int, **values) -> slice:
        """Append ``count`` members with the given field values; return their row slice."""
        rows = self.append(
            count,
            member_id=np.arange(self._next_id, self._next_id + count),
            exit_day=-1,
            first_post_day=-1,
            first_reply=-1,
            **values,
        )
        self._next_id += count
        return rows

    @property
    def alive(self) -> np.ndarray:
        return self.status == IN_GROUP

    def compact(self) -> None:
        """Move the record of members who left (:data:`RECORD`) into the archive once they are an
        eighth of rows, and drop their rows."""
        gone = self.status != IN_GROUP
        n_gone = int(np.count_nonzero(gone))
        if n_gone == 0 or n_gone * 8 < self.n:
            return
        rows = np.flatnonzero(gone)
        self.archive.append({name: getattr(self, name).take(rows) for name in RECORD})
        self.keep(~gone)

    def all_rows(self) -> dict[str, np.ndarray]:
        """The :data:`RECORD` of every member ever seen (live rows and the archive), by ``member_id``."""
        parts = self.archive + [{name: getattr(self, name) for name in RECORD}]
        merged = {name: np.concatenate([p[name] for p in parts]) for name in RECORD}
        order = np.argsort(merged["member_id"], kind="stable")
        return {name: col[order] for name, col in merged.items()}
