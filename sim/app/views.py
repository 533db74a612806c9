"""Tables the dashboard plots, computed from a run's tidy tables (pure pandas, no Streamlit).

Kept out of ``dashboard.py`` so they can be tested on their own and reused in notebooks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.domain import CAUSES

SERIES = {
    "members": "members",
    "active_ratio": "active ratio",
    "member_messages": "messages by members",
    "operator_messages": "messages by operators",
    "mean_trust": "mean trust",
    "mean_interest": "mean interest",
}


def replicate_bands(daily: pd.DataFrame, column: str, low: float = 0.1, high: float = 0.9) -> pd.DataFrame:
    """Per policy and day: the mean over replicates and a band from the low to the high quantile."""
    grouped = daily.groupby(["policy", "day"])[column]
    out = grouped.mean().rename("mean").to_frame()
    out["lo"] = grouped.quantile(low)
    out["hi"] = grouped.quantile(high)
    return out.reset_index()


def cohort_retention(members: pd.DataFrame, days: int, cohort_days: int = 7) -> pd.DataFrame:
    """Share of each join cohort still a member k periods after joining (members who joined after day 0)."""
    joined = members[members["join_day"] > 0]
    if joined.empty:
        return pd.DataFrame(columns=["policy", "cohort", "period", "retention"])
    exit_day = joined["exit_day"].astype("float64").fillna(np.inf).to_numpy()
    join_day = joined["join_day"].to_numpy()
    rows = []
    periods = max(days // cohort_days, 1)
    cohort = join_day // cohort_days
    for k in range(periods):
        horizon = join_day + k * cohort_days
        observable = horizon < days
        alive = exit_day > horizon
        frame = pd.DataFrame(
            {"policy": joined["policy"].to_numpy(), "cohort": cohort, "observable": observable, "alive": alive}
        )
        frame = frame[frame["observable"]]
        if frame.empty:
            break
        rate = frame.groupby(["policy", "cohort"])["alive"].mean().rename("retention").reset_index()
        rate["period"] = k
        rows.append(rate)
    return pd.concat(rows, ignore_index=True)


def churn_by_cause(kpis: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Mean members lost per cause, per policy (from per-replicate KPIs)."""
    rows = []
    for policy, table in kpis.items():
        for cause in CAUSES:
            rows.append({"policy": policy, "cause": cause, "members": float(table[f"churn_{cause}"].mean())})
        rows.append({"policy": policy, "cause": "removed", "members": float(table["removed_total"].mean())})
    return pd.DataFrame(rows)


def cost_outcome(kpis: dict[str, pd.DataFrame], outcome: str = "members_end") -> pd.DataFrame:
    """One point per replicate: total cost against an outcome, per policy."""
    return pd.concat(
        [t[["replicate", "cost_total", outcome]].assign(policy=p) for p, t in kpis.items()], ignore_index=True
    )


def stage_bands(daily: pd.DataFrame) -> pd.DataFrame:
    """The stage's runs over the days: one row per stretch, ``start`` (its first day), ``end`` (the
    day after its last) and ``stage``: the bands of a stage timeline, with the transition days."""
    if daily.empty:
        return pd.DataFrame(columns=["stage", "start", "end"])
    stage = daily["stage"].astype(str).to_numpy()
    day = daily["day"].to_numpy()
    starts = np.flatnonzero(np.r_[True, stage[1:] != stage[:-1]])
    ends = np.r_[day[starts[1:]], day[-1] + 1]
    return pd.DataFrame({"stage": stage[starts], "start": day[starts], "end": ends})


def events(daily: pd.DataFrame, actions: pd.DataFrame, groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """The days a trainer marks on a timeline: splits, talks, rituals, campaigns, stage changes,
    spam outbreaks and, from each group's days (``groups``), the day a group died."""
    rows = []
    if groups is not None and len(groups) and {"group", "day", "stage"} <= set(groups.columns):
        ordered = groups.sort_values(["group", "day"], kind="stable")
        dead = ordered["stage"].astype(str).eq("dead")
        turned = dead & ~dead.groupby(ordered["group"]).shift(1, fill_value=False)
        rows += [{"day": int(d), "event": "group died"} for d in ordered.loc[turned, "day"]]
    for column, kind in (("splits", "split"), ("talks", "guest talk"), ("stage_changes", "stage change")):
        if column in daily:
            rows += [{"day": d, "event": kind} for d in daily.loc[daily[column] > 0, "day"]]
    if "ritual" in daily:
        rows += [{"day": d, "event": "ritual"} for d in daily.loc[daily["ritual"].astype(bool), "day"]]
    if len(actions):
        rows += [{"day": d, "event": f"rule: {r}"} for d, r in actions[["day", "rule"]].drop_duplicates().to_numpy()]
    if "spam_messages" in daily and len(daily):
        threshold = max(5.0, 3 * float(daily["spam_messages"].median()))
        rows += [{"day": d, "event": "spam outbreak"} for d in daily.loc[daily["spam_messages"] > threshold, "day"]]
    return pd.DataFrame(rows, columns=["day", "event"]).sort_values("day", kind="stable").reset_index(drop=True)
