"""The names a policy expression may use, by context.

Three contexts exist:

- ``member``: the fields of one member, used by ``rules:`` and by titles' ``when``;
- ``group``: the metrics of one group on one day, used by ``community_rules:``;
- ``prospect``: what is known of a prospect at the door, used by ``admission.when``.

A field is numeric (``num``), a flag that is 0 or 1 (``flag``) or categorical (``cat``, compared
with ``==``/``!=`` against a string such as ``archetype == 'expert'``).  Categorical values
that depend on a scenario or policy (channel names, titles) are filled in by
:meth:`Vocabulary.with_values`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sim.domain import ARCHETYPES

STAGES = ("cold_start", "growth", "maturity", "decline", "dead")


@dataclass(frozen=True)
class Field:
    """One name of the policy language: its kind, its meaning and, if categorical, its values."""

    name: str
    kind: str  # "num", "flag" or "cat"
    meaning: str
    values: tuple[str, ...] | None = None  # categorical values; None = not known yet


@dataclass(frozen=True)
class Vocabulary:
    """The known names of one context."""

    context: str
    fields: dict[str, Field]

    def with_values(self, **values: tuple[str, ...]) -> Vocabulary:
        """Fill in the categorical values a scenario or policy defines (sources, titles)."""
        fields = dict(self.fields)
        for name, vals in values.items():
            if name in fields:
                fields[name] = replace(fields[name], values=tuple(vals))
        return Vocabulary(self.context, fields)

    def names(self) -> list[str]:
        return sorted(n for n in self.fields if "__" not in n)

    def extended(self, fields: dict[str, Field]) -> Vocabulary:
        """This vocabulary plus more names (a policy's playbook memory)."""
        return Vocabulary(self.context, {**self.fields, **fields})


def _vocab(context: str, rows: list[tuple]) -> Vocabulary:
    return Vocabulary(context, {r[0]: Field(*r) for r in rows})


MEMBER = _vocab(
    "member",
    [
        ("interest", "num", "interest in the group's topic, 0 to 1 (M1)"),
        ("trust", "num", "trust in the operators and the group, 0 to 1 (M2)"),
        ("habit", "num", "reading habit, 0 to 1 (M3)"),
        ("fatigue", "num", "tiredness from too many messages, 0 and up (M3)"),
        ("days_inactive", "num", "days since the member was last active"),
        ("days_since_join", "num", "days since the member joined (0 on the day of joining)"),
        ("points", "num", "points earned so far (P6)"),
        ("posts", "num", "messages posted so far"),
        ("warnings", "num", "warnings received so far"),
        ("rewards_received", "num", "red envelopes and coupons received so far"),
        ("group_size", "num", "members in the member's group today"),
        ("group_active_ratio", "num", "share of the member's group active today"),
        ("day", "num", "the simulation day, from 0"),
        ("weekday", "num", "day of the week, 0 = Monday to 6 = Sunday"),
        ("active_today", "flag", "1 if the member was active today"),
        ("posted_today", "flag", "1 if the member posted today"),
        ("asked_today", "flag", "1 if the member asked a question today"),
        ("answered_today", "flag", "1 if the member's question was answered today"),
        ("is_silent", "flag", "1 if days_inactive has reached silent_after_days"),
        ("is_core", "flag", "1 if the member is a core member (habit, trust and posts over the core thresholds)"),
        ("is_spammer", "flag", "1 if the member posts ads (M6)"),
        ("spam_posts_today", "flag", "ads the member posted today"),
        ("archetype", "cat", "the member's role (M5)", ARCHETYPES),
        ("source", "cat", "where the member came from: seed, initial, referral or a channel's name"),
        ("title", "cat", "the member's title, or 'none'"),
    ],
)

GROUP = _vocab(
    "group",
    [
        ("size", "num", "members in the group"),
        ("active_ratio_1d", "num", "share of members active today"),
        ("active_ratio_7d", "num", "mean daily active share over the last 7 days"),
        ("messages_1d", "num", "messages today: operators, members and ads"),
        ("messages_7d", "num", "messages over the last 7 days"),
        ("member_messages_7d", "num", "members' own messages over the last 7 days"),
        ("spam_messages_1d", "num", "ads posted today"),
        ("new_members_7d", "num", "members who joined in the last 7 days"),
        ("churned_7d", "num", "members who left in the last 7 days"),
        ("mean_trust", "num", "mean trust of the group's members"),
        ("mean_interest", "num", "mean interest of the group's members"),
        ("core_count", "num", "core members in the group"),
        ("spammers", "num", "members of the group posting ads"),
        ("group_age", "num", "days since the group was opened"),
        ("days_since_last_campaign", "num", "days since a community rule last acted on the group (9999 if never)"),
        ("day", "num", "the simulation day, from 0"),
        ("weekday", "num", "day of the week, 0 = Monday to 6 = Sunday"),
        ("is_full", "flag", "1 if the group has reached its cap"),
        ("stage", "cat", "the group's lifecycle stage (G1), from the policy's stage chart"),
    ],
)

_NUMERIC_GROUP = [f for f in GROUP.fields.values() if f.kind in ("num", "flag") and f.name not in ("day", "weekday")]
SEQUENCE_NAMES = {"days_since_after"} | {f"after_{f.name}" for f in _NUMERIC_GROUP}
SEQUENCE = GROUP.extended(
    {
        "days_since_after": Field("days_since_after", "num", "days since the rule named in 'after' fired"),
        **{
            f"after_{f.name}": Field(f"after_{f.name}", f.kind, f"{f.name} on the day the 'after' rule fired")
            for f in _NUMERIC_GROUP
        },
    }
)
"""Names a sequence rule (one with ``after:``) may use, on top of the group names."""

PROSPECT = _vocab(
    "prospect",
    [
        ("interest", "num", "the prospect's interest in the topic, 0 to 1"),
        ("trust", "num", "the prospect's trust at the door, 0 to 1"),
        ("archetype", "cat", "the role the prospect would take (M5)", ARCHETYPES),
        ("source", "cat", "the channel that brought the prospect, or referral"),
        ("day", "num", "the simulation day, from 0"),
    ],
)

CONTEXTS = {"member": MEMBER, "group": GROUP, "sequence": SEQUENCE, "prospect": PROSPECT}
