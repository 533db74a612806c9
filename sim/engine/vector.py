"""The vector engine's member phases: every member a row of NumPy columns, a day a few compiled passes.

A sibling of :class:`sim.engine.agents.AgentMembers` (the per-agent reference engine): the
community model (:class:`sim.engine.model.CommunityModel`) runs the shared phases (acquisition,
content, stages, rules, metrics) and hands the two member phases to whichever engine its setup
names.  The equations are in :mod:`sim.engine.members` (the members' day) and
:mod:`sim.engine.churn` (who leaves and why).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.engine.churn import draw_ahead, leave
from sim.engine.members import OperatorContent, member_day

if TYPE_CHECKING:
    from sim.engine.model import CommunityModel


class VectorMembers:
    """Member behaviour and churn over whole columns at once (``--engine vector``, the default)."""

    name = "vector"

    def __init__(self, model: CommunityModel):
        self.model = model

    def live_day(self, content: OperatorContent) -> None:
        """The members' day (M1-M7, P4-P6, P9, P10): activity, posts, questions, drift, referrals."""
        draw_ahead(self.model)  # churn's draws, in a thread while the members' day runs (large populations)
        member_day(self.model, content)

    def leave(self) -> None:
        """Who leaves today, and why (G2)."""
        leave(self.model)
