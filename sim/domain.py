"""The domain's fixed words, shared by every layer: archetypes, exit causes, statuses, weekdays,
and the glossary of mechanisms (M1...G5).

These are the names the domain notes use (``../shared/domain/community-operations.md``) and the
codes the member and group tables store.  They live at the bottom of the package so that the
policy language, the file schemas, the engines and the reports all spell them the same way and
none of them has to import another layer to learn them.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

ARCHETYPES = ("lurker", "regular", "talker", "expert", "connector")
"""Member archetypes (domain M5); each carries the multipliers ``arch_<name>_<field>``."""

CAUSES = ("evaporation", "boredom", "lost_trust", "fatigue", "harassment", "tyranny", "lost_focus", "leaderless")
"""Why a member leaves (G2): the part of the hazard that was largest on the day they left."""

IN_GROUP, CHURNED, REMOVED = 0, 1, 2
"""A member's status code: still in a group, left of their own accord, removed by a rule."""

STATUS_NAMES = ("member", "churned", "removed")
"""The status codes' names, as the ``members`` table reports them."""

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
"""Day 0 of a run is a Monday; ``day % 7`` indexes this tuple."""

MECHANISMS = {
    "M1": "interest",
    "M2": "trust",
    "M3": "activity: habit plus stimulus, fatigue",
    "M4": "belonging",
    "M5": "roles and core members",
    "M6": "disaffected members turn spammer",
    "M7": "first impression",
    "P1": "acquisition channels",
    "P2": "entry threshold and fee",
    "P3": "group size cap and copying",
    "P4": "content cadence, quality and ritual",
    "P5": "who produces the content",
    "P6": "rewards",
    "P7": "pruning",
    "P8": "tiered re-activation",
    "P9": "responsiveness",
    "P10": "referral",
    "P11": "rules and moderation",
    "P12": "events and surveys",
    "P13": "segmentation",
    "P14": "monetisation pressure",
    "G1": "lifecycle",
    "G2": "why groups die",
    "G3": "a dead group",
    "G4": "the five ingredients (health)",
    "G5": "cost",
}
"""The mechanisms of the domain notes by code (M member, P practice, G group); docstrings cite them."""


def content_hash(obj: Any) -> str:
    """A short, stable hash of validated content (for manifests, cache keys and ruleset names)."""
    blob = json.dumps(obj, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def newcomer_since(day: float, newcomer_days: float) -> float:
    """On ``day``, a member is a newcomer (M7) when they joined after this day: within their first
    ``newcomer_days``, and never one of the members already there on day 0."""
    return max(day - newcomer_days, 0.0)


MAX_POSTS_PER_DAY = 1000
"""Most messages one member writes in a day: a bound on the posting draw, so a fit's extreme
candidates (a very loud voice, a high posting rate) stay finite."""
POSTS_Q_CEILING = 0.999
"""Largest chance of one more message in the geometric posting draw (a mean of 999 a day)."""
