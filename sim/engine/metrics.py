"""Bookkeeping and KPIs: the ``daily`` and ``members`` tables and the run's summary.

:func:`record_day` appends one row per day (members, activity, messages by operators and by
members, trust and interest, core members, spammers, costs by kind).  :func:`summarize`
turns a run's tables into the KPIs strategists compare (see :data:`KPI_MEANINGS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.domain import ARCHETYPES, CAUSES, STATUS_NAMES
from sim.engine.health import PARTS, group_health
from sim.engine.state import kernels, row_threads
from sim.engine.state.population import RECORD

ACTION_COLUMNS = ("day", "rule", "action", "members", "groups", "cost")

# KPIs that are ratios over a subset which can be empty in a small or short run (NaN then; null in JSON)
MAY_BE_UNDEFINED = (
    "retention_d30",
    "zero_post_share",
    "top1pct_post_share",
    "first_reply_effect",
    "channel_cost_per_joined",
    "referral_cost_per_joined",
)

KPI_MEANINGS = {
    "members_end": "members at the end of the horizon",
    "joined_total": "everyone who was ever a member, day-0 members included",
    "acquired_total": "members who joined after day 0 (channels and referrals)",
    "churned_total": "members who left on their own",
    "removed_total": "members removed by a rule",
    "active_ratio_mean": "daily active members / members present that day, averaged over days",
    "retention_d30": "of members who joined 30+ days before the end, the share still members 30 days after joining",
    "core_share_end": "core members / members at the end",
    "member_messages_per_day": "members' own messages per day",
    "operator_messages_per_day": "operators' posts per day",
    "spam_messages_per_day": "ads per day",
    "mean_trust_end": "mean trust of members at the end",
    "mean_interest_end": "mean interest of members at the end",
    "referrals_total": "members who joined through a referral",
    "cost_total": "everything spent: channels, content, answers, rewards, referrals, actions",
    "cost_per_joined": "cost_total / acquired_total",
    "revenue_total": "fees and sales received",
    "sales_total": "purchases made after sales pushes (P14)",
    "groups_end": "groups with at least one member at the end",
    "spammers_end": "members posting ads at the end",
    "health_end": "community health at the end, 0 to 1: the mean of its five parts (G4)",
    **{f"health_end_{part}": f"the {part.replace('_', ' ')} part of health at the end (G4)" for part in PARTS},
    "channel_cost_per_joined": "channel spending / members who joined through channels",
    "referral_cost_per_joined": "referral rewards paid / members who joined through referrals",
    "zero_post_share": "share of members at the end who have never posted (participation inequality)",
    "top1pct_post_share": "share of all members' posts written by the top 1% of members (everyone ever seen)",
    "first_reply_effect": "share posting again among newcomers (joined after day 0) whose first contribution "
    "was answered, minus among those ignored (first contributions 30+ days before the end)",
    **{f"churn_{cause}": f"members who left mainly from {cause.replace('_', ' ')}" for cause in CAUSES},
    "dead_groups": "groups that died (stage chart) during the run",
    **{
        f"dead_groups_{cause}": f"dead groups whose last 30 days were led by {cause.replace('_', ' ')} (G2)"
        for cause in CAUSES
    },
}


MEANS = ("trust", "interest", "habit", "fatigue", "belonging")  # member means in the daily table
COST_KINDS = ("channels", "content", "service", "rewards", "referrals", "actions")
DAILY_COLUMNS = (
    *("day", "members", "joined", "churned", "removed", "active", "silent", "active_ratio"),
    *("member_messages", "operator_messages", "spam_messages", "questions", "answered"),
    *("referral_joins", "prospects", "turned_away"),
    *(f"mean_{name}" for name in MEANS),
    *("core", "spammers", "groups", "weak_copies", "stage", "stage_changes", "ritual", "talks", "splits"),
    *("sales", "event_participants", "campaigns", "members_reached", "cost"),
    *(f"cost_{kind}" for kind in COST_KINDS),
    "revenue",
)
"""The daily table's columns, in order (:func:`record_day` writes them; known before the first day)."""


def record_day(model) -> None:
    """Append today's row to the daily table (not in a lean run: :class:`sim.engine.model.CommunityModel`)
    and today's per-group figures to the 7-day ring, which rules and the stage chart read."""
    if model.keeps_daily:
        daily_row(model)
    groups, today = model.groups, model.today
    groups.record(
        model.day,
        active=today.active_g,
        size=groups.size,
        messages=today.messages_g,
        member_messages=today.member_messages_g,
        joined=groups.joined_today,
        churned=groups.churned_today + groups.removed_today,
    )


def daily_row(model) -> None:
    """Append today's row to the daily table (and, if asked, one row per inhabited group)."""
    pop, groups, today = model.pop, model.groups, model.today
    silent_after = int(np.ceil(model.params.silent_after_days))
    parts = row_threads.over_ranges(
        pop.n,
        lambda lo, hi: kernels.day_counts(
            pop.status, pop.days_inactive, silent_after, model.is_core, pop.spammer, lo, hi
        ),
    )
    members, silent, core, spammers = (sum(part[k] for part in parts) for k in range(4))
    gone = row_threads.joined([part[4] for part in parts])  # rows of members who left, not yet compacted away
    denom = max(members, 1)
    spent = model.spent_today
    row = {
        "day": model.day,
        "members": members,
        "joined": model.joined_today,
        "churned": model.churned_today,
        "removed": model.removed_today,
        "active": int(today.active),
        "silent": silent,
        # of the members present today (those who left today were present and may have been active)
        "active_ratio": today.active / max(members + model.churned_today + model.removed_today, 1),
        "member_messages": today.member_messages,
        "operator_messages": today.operator_messages,
        "spam_messages": today.spam_messages,
        "questions": today.questions,
        "answered": today.answered,
        "referral_joins": today.referral_joins,
        "prospects": today.prospects,
        "turned_away": today.turned_away,
        **{
            f"mean_{name}": mean
            for name, mean in zip(
                MEANS,
                row_threads.over_columns(
                    pop.n, lambda column: _mean_over(column, gone, denom), [getattr(pop, name) for name in MEANS]
                ),
            )
        },
        "core": core,
        "spammers": spammers,
        "groups": int(np.count_nonzero(groups.size > 0)),
        "weak_copies": int(
            np.count_nonzero(groups.is_copy & (groups.core_prev < model.params.copy_min_core) & (groups.size > 0))
        ),
        # the community's stage: the stage that holds the most members (G1)
        "stage": model.policy.chart.states[
            int(np.argmax(np.bincount(groups.stage, weights=groups.size, minlength=len(model.policy.chart.states))))
        ],
        "stage_changes": today.stage_changes,
        "ritual": today.ritual,
        "talks": today.talks,
        "splits": today.splits,
        "sales": today.sales,
        "event_participants": today.event_participants,
        "campaigns": today.campaigns,  # community-rule actions, one per group
        "members_reached": today.members_reached,  # members reached by rule actions today
        "cost": sum(spent.values()),
        **{f"cost_{kind}": amount for kind, amount in spent.items()},
        "revenue": model.revenue_today,
    }
    model.daily_rows.append(row)
    if model.group_rows is not None:  # one row per inhabited group, for replays (asked for)
        gids = np.flatnonzero(groups.size > 0)
        health = group_health(model, model.group_env)
        model.group_rows.append(
            pd.DataFrame(
                {
                    "day": model.day,
                    "group": gids,
                    "size": groups.size[gids],
                    "active": today.active_g[gids],
                    "member_messages": today.member_messages_g[gids],
                    "core": today.core_g[gids],
                    "stage": np.asarray(model.policy.chart.states, dtype=object)[groups.stage[gids]],
                    **{f"health_{name}": values[gids] for name, values in health.items()},
                    "dead_cause": np.asarray([None, *CAUSES], dtype=object)[groups.dead_cause[gids] + 1],
                }
            )
        )


def _mean_over(column: np.ndarray, gone: np.ndarray, denom: int) -> float:
    """Mean of a float32 column over members: the whole column's sum less the rows of members
    who left (pairwise float32 summation: one fast pass, deterministic)."""
    return (float(column.sum()) - float(column[gone].sum())) / denom


def members_table(model) -> pd.DataFrame:
    """One row per member ever seen, with codes turned into the domain's names."""
    rows = model.pop.all_rows()
    table = pd.DataFrame({name: rows[name] for name in RECORD})
    table["source"] = pd.Categorical.from_codes(rows["source"], categories=list(model.source_names))
    table["archetype"] = pd.Categorical.from_codes(rows["archetype"], categories=list(ARCHETYPES))
    table["status"] = pd.Categorical.from_codes(rows["status"], categories=list(STATUS_NAMES))
    table["title"] = pd.Categorical.from_codes(rows["title"], categories=list(model.policy.title_names))
    # code 0 means "no exit": a missing category (-1) rather than a string
    table["exit_cause"] = pd.Categorical.from_codes(
        rows["exit_cause"].astype(np.int32) - 1, categories=list(model.cause_names[1:])
    )
    table["exit_day"] = pd.arrays.IntegerArray(rows["exit_day"].astype(np.int32), rows["exit_day"] < 0)
    return table


def summarize(
    daily: pd.DataFrame,
    members: pd.DataFrame,
    days: int,
    health: dict | None = None,
    dead_causes: dict[str, int] | None = None,
) -> dict[str, float]:
    """The KPIs of one run (see :data:`KPI_MEANINGS`)."""
    last = daily.iloc[-1]
    status = members["status"]
    acquired = int(((members["join_day"] > 0) | ~members["source"].isin(["seed", "initial"])).sum())
    present = daily["members"] + daily["churned"] + daily["removed"]
    ratio = daily["active_ratio"].where(present > 0)
    end = days - 1
    eligible = members[members["join_day"] + 30 <= end]
    exit_day = eligible["exit_day"].astype("float64")
    retained = exit_day.isna() | (exit_day > eligible["join_day"] + 30)
    cost_total = float(daily["cost"].sum())
    cause_counts = members["exit_cause"].value_counts()
    kpis = {
        "members_end": float(last["members"]),
        "joined_total": float(len(members)),
        "acquired_total": float(acquired),
        "churned_total": float((status == "churned").sum()),
        "removed_total": float((status == "removed").sum()),
        "active_ratio_mean": float(ratio.mean()) if ratio.notna().any() else 0.0,
        "retention_d30": float(retained.mean()) if len(eligible) else float("nan"),
        "core_share_end": float(last["core"]) / max(float(last["members"]), 1.0),
        "member_messages_per_day": float(daily["member_messages"].mean()),
        "operator_messages_per_day": float(daily["operator_messages"].mean()),
        "spam_messages_per_day": float(daily["spam_messages"].mean()),
        "mean_trust_end": float(last["mean_trust"]),
        "mean_interest_end": float(last["mean_interest"]),
        "referrals_total": float((members["source"] == "referral").sum()),
        "cost_total": cost_total,
        "cost_per_joined": cost_total / max(acquired, 1),
        "revenue_total": float(daily["revenue"].sum()),
        "sales_total": float(daily["sales"].sum()),
        "groups_end": float(last["groups"]),
        "spammers_end": float(last["spammers"]),
    }
    for cause in CAUSES:
        kpis[f"churn_{cause}"] = float(cause_counts.get(cause, 0))
    kpis.update(participation(members, days))
    dead_causes = dead_causes or {}
    kpis["dead_groups"] = float(sum(dead_causes.values()))
    for cause in CAUSES:
        kpis[f"dead_groups_{cause}"] = float(dead_causes.get(cause, 0))
    health = health or {}
    kpis["health_end"] = float(health.get("total", float("nan")))
    for part in PARTS:
        kpis[f"health_end_{part}"] = float(health.get(part, float("nan")))
    source = members["source"].astype(str)
    by_channel = int((~source.isin(["seed", "initial", "referral"])).sum())
    by_referral = int((source == "referral").sum())
    kpis["channel_cost_per_joined"] = float(daily["cost_channels"].sum()) / by_channel if by_channel else float("nan")
    kpis["referral_cost_per_joined"] = (
        float(daily["cost_referrals"].sum()) / by_referral if by_referral else float("nan")
    )
    return kpis


def participation(members: pd.DataFrame, days: int) -> dict[str, float]:
    """Participation inequality and the first-reply effect (the facts the model is grounded in)."""
    current = members[members["status"] == "member"]
    posts = np.sort(members["posts"].to_numpy())[::-1]
    top = max(1, int(round(0.01 * len(posts))))
    settled = members[
        (members["join_day"] > 0) & (members["first_post_day"] >= 0) & (members["first_post_day"] + 30 <= days - 1)
    ]
    replied = settled.loc[settled["first_reply"] == 1, "posted_again"]
    ignored = settled.loc[settled["first_reply"] == 0, "posted_again"]
    effect = float(replied.mean() - ignored.mean()) if len(replied) and len(ignored) else float("nan")
    return {
        "zero_post_share": float((current["posts"] == 0).mean()) if len(current) else float("nan"),
        "top1pct_post_share": float(posts[:top].sum() / posts.sum()) if posts.sum() else float("nan"),
        "first_reply_effect": effect,
    }


ACTIVITY_COLUMNS = ("day", "member_id", "group", "messages", "welcomed")


def activity_of_day(model) -> tuple[np.ndarray, ...]:
    """Today's messages of each member who wrote any (posts and a question), for the activity table.

    ``welcomed`` marks a member whose first contribution, today, was replied to (M7): a real
    export shows that reply as a message addressing them, and ``sandbox observe`` rebuilds it.
    """
    pop = model.pop
    wrote = (pop.status == 0) & ((pop.posts_today > 0) | pop.asked_today)
    rows = np.flatnonzero(wrote)
    messages = pop.posts_today[rows].astype(np.int64) + pop.asked_today[rows]
    welcomed = (pop.first_post_day[rows] == model.day) & (pop.first_reply[rows] == 1)
    return (
        np.full(len(rows), model.day, dtype=np.int16),
        pop.member_id[rows].astype(np.int32),
        pop.group[rows].astype(np.int32),
        np.minimum(messages, np.iinfo(np.int16).max).astype(np.int16),
        welcomed,
    )


def activity_table(days: list[tuple[np.ndarray, ...]]) -> pd.DataFrame:
    """The activity table: one row per member and day with a message (compact integer columns)."""
    if not days:
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in zip(ACTIVITY_COLUMNS, _ACTIVITY_TYPES)})
    return pd.DataFrame({name: np.concatenate([d[k] for d in days]) for k, name in enumerate(ACTIVITY_COLUMNS)})


_ACTIVITY_TYPES = ("int16", "int32", "int32", "int16", "bool")
