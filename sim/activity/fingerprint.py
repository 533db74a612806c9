"""A group's fingerprint: measures of its activity that a real export and a simulated run both give.

Definitions (the README repeats them):

- ``members``: distinct members seen (any event); ``days``: the span, first to last event, in
  days; ``messages``: messages.
- ``posters_share``: of members seen, the share who ever posted (only where joins are recorded;
  otherwise every member seen is a poster and the share is not defined).
- ``one_post_share``: of posters, the share with exactly one message.
- ``top1_share``: the share of messages written by the top 1% of posters (at least one poster).
- ``gini_posters``: the Gini coefficient of messages per poster.
- ``daily_posters``: distinct posters per day, averaged over every day of the span.
- ``dau_mau``: each day's posters over the distinct posters of the 30 days ending that day,
  averaged over the days with any poster in those 30 days.
- ``newcomer_return``: of posters whose first message is at least 30 days before the end, the
  share who post again on a later day.
- ``first_reply_effect``: that share for those whose first message was replied to (a message of
  another member addressing them within 24 hours), minus the share for those whose was not.
- ``hazard_m1_3``, ``hazard_m9_11``: monthly departure hazard by tenure.  A poster departs at their
  last message when at least 60 silent days follow it before the end; tenure runs from the first
  message in months of 30 days; the hazard of months a..b is departures in them over poster-months
  at risk in them (a poster is at risk in a month they began without having departed, observed
  until 60 days before the end).
- ``gap_1d_share``, ``burstiness``: over every member's gaps between consecutive active days (days
  with a message), the share of gaps of exactly one day, and the burstiness (sigma - mu)/(sigma + mu).
- ``size_slope``: the log-log slope of messages per member per week against the group's size that
  week (distinct posters of the trailing 90 days), over weeks with at least 5 members and a message.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

DAY = 86_400
MONTH_DAYS = 30
DEPARTURE_SILENCE_DAYS = 60


def fingerprint(events: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """Measures of every group in an event table, by group name."""
    return {str(name): measures(group) for name, group in events.groupby("group", sort=True, observed=True)}


def measures(events: pd.DataFrame) -> dict[str, float | int | None]:
    """The fingerprint of one group's events (see the module's definitions)."""
    start, end = int(events["timestamp"].min()), int(events["timestamp"].max())
    messages = events[events["kind"] == "message"]
    per_poster = messages.groupby("member", observed=True).size().sort_values(ascending=False)
    joins_known = bool((events["kind"] == "join").any())
    seen = events["member"].nunique()
    day = ((messages["timestamp"] - start) // DAY).astype("int64")
    span_days = (end - start) // DAY + 1
    out: dict[str, float | int | None] = {
        "members": int(seen),
        "days": round((end - start) / DAY, 1),
        "messages": int(len(messages)),
        "posters_share": _round(len(per_poster) / seen) if joins_known and seen else None,
        "one_post_share": _round(float((per_poster == 1).mean())) if len(per_poster) else None,
        "top1_share": _top_share(per_poster),
        "gini_posters": _gini(per_poster.to_numpy()),
    }
    active = pd.DataFrame({"member": messages["member"].to_numpy(), "day": day.to_numpy()}).drop_duplicates()
    out["daily_posters"] = _round(len(active) / span_days) if span_days else None
    out["dau_mau"] = _dau_mau(active, span_days)
    out.update(_newcomers(messages, end))
    out.update(_hazards(messages, end))
    out.update(_gaps(active))
    out["size_slope"] = _size_slope(active, day.to_numpy())
    return out


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _top_share(per_poster: pd.Series) -> float | None:
    if not len(per_poster):
        return None
    top = max(1, math.ceil(0.01 * len(per_poster)))
    return _round(per_poster.iloc[:top].sum() / per_poster.sum())


def _gini(counts: np.ndarray) -> float | None:
    if len(counts) == 0 or counts.sum() == 0:
        return None
    x = np.sort(counts.astype(float))
    n = len(x)
    return _round((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


def _dau_mau(active: pd.DataFrame, span_days: int) -> float | None:
    if active.empty:
        return None
    daily = np.bincount(active["day"].to_numpy(), minlength=span_days)
    ratios = []
    by_member = active.groupby("member")["day"].apply(np.asarray)
    # distinct posters of the 30 days ending each day: a member counts from a day to 29 days after it
    window = np.zeros(span_days + MONTH_DAYS, dtype=np.int64)
    for days in by_member:
        covered = np.zeros(span_days + MONTH_DAYS, dtype=bool)
        for d in days:
            covered[d : d + MONTH_DAYS] = True
        window += covered
    for d in range(span_days):
        if window[d] > 0:
            ratios.append(daily[d] / window[d])
    return _round(float(np.mean(ratios))) if ratios else None


def _newcomers(messages: pd.DataFrame, end: int) -> dict[str, float | None]:
    firsts = messages.groupby("member", observed=True)["timestamp"].min()
    eligible = firsts[firsts <= end - MONTH_DAYS * DAY]
    if eligible.empty:
        return {"newcomer_return": None, "first_reply_effect": None}
    days = messages.assign(day=messages["timestamp"] // DAY)
    active_days = days.groupby("member", observed=True)["day"].nunique()
    returned = active_days.reindex(eligible.index) > 1
    out = {"newcomer_return": _round(float(returned.mean()))}
    replies = messages[messages["reply_to"] != ""]
    if replies.empty:
        out["first_reply_effect"] = None
        return out
    first_time = eligible.to_dict()
    answered = set()
    for member, at, to in zip(replies["member"], replies["timestamp"], replies["reply_to"]):
        t0 = first_time.get(to)
        if t0 is not None and member != to and t0 <= at <= t0 + DAY:
            answered.add(to)
    mask = eligible.index.isin(answered)
    if mask.all() or not mask.any():
        out["first_reply_effect"] = None
    else:
        out["first_reply_effect"] = _round(float(returned[mask].mean() - returned[~mask].mean()))
    return out


def _hazards(messages: pd.DataFrame, end: int) -> dict[str, float | None]:
    spans = messages.groupby("member", observed=True)["timestamp"].agg(["min", "max"])
    horizon = end - DEPARTURE_SILENCE_DAYS * DAY  # after this, silence cannot be told from leaving
    departed = spans["max"] <= horizon
    last = np.where(departed, spans["max"], horizon)
    tenure_months = (last - spans["min"]) / (MONTH_DAYS * DAY)
    out: dict[str, float | None] = {}
    for name, first, last_month in (("hazard_m1_3", 1, 3), ("hazard_m9_11", 9, 11)):
        at_risk = departures = 0
        for m in range(first, last_month + 1):
            began = tenure_months >= m - 1  # observed into month m
            at_risk += int(began.sum())
            departures += int((began & departed.to_numpy() & (tenure_months < m)).sum())
        out[name] = _round(departures / at_risk) if at_risk else None
    return out


def _gaps(active: pd.DataFrame) -> dict[str, float | None]:
    if active.empty:
        return {"gap_1d_share": None, "burstiness": None}
    ordered = active.sort_values(["member", "day"])
    gaps = ordered.groupby("member")["day"].diff().dropna().to_numpy()
    if len(gaps) == 0:
        return {"gap_1d_share": None, "burstiness": None}
    mu, sigma = gaps.mean(), gaps.std()
    return {"gap_1d_share": _round(float((gaps == 1).mean())), "burstiness": _round((sigma - mu) / (sigma + mu))}


def _size_slope(active: pd.DataFrame, message_days: np.ndarray) -> float | None:
    if active.empty:
        return None
    weeks = int(message_days.max()) // 7 + 1
    messages_week = np.bincount(message_days // 7, minlength=weeks).astype(float)
    last_seen = active.groupby("member")["day"].apply(np.asarray)
    size = np.zeros(weeks)
    for days in last_seen:
        covered = np.zeros(weeks, dtype=bool)
        for d in days:
            covered[d // 7 : min(weeks, (d + 90) // 7 + 1)] = True
        size += covered
    ok = (size >= 5) & (messages_week > 0)
    if ok.sum() < 10 or np.ptp(np.log(size[ok])) == 0:
        return None
    slope = np.polyfit(np.log(size[ok]), np.log(messages_week[ok] / size[ok]), 1)[0]
    return _round(float(slope))
