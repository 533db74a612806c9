"""A group's fingerprint: measures of its activity that a real export and a simulated run both give.

Definitions (the README repeats them):

- ``members``: distinct members seen (any event); ``days``: the span, first to last event, in
  days; ``messages``: messages.  A day is a calendar day in UTC: a member is active on the days
  they post on.
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
    """The fingerprint of one group's events (see the module's definitions).

    Members become integer codes once; every measure is then whole-array arithmetic, so a
    million messages take seconds.
    """
    stamps = events["timestamp"].to_numpy(np.int64)
    start, end = int(stamps.min()), int(stamps.max())
    codes, names = pd.factorize(events["member"])
    is_message = (events["kind"] == "message").to_numpy()
    poster, at = codes[is_message], stamps[is_message]
    seen = len(names)
    counts = np.bincount(poster, minlength=seen)
    per_poster = np.sort(counts[counts > 0])[::-1]
    joins_known = bool((events["kind"] == "join").any())
    first_day = start // DAY
    span_days = end // DAY - first_day + 1
    day = at // DAY - first_day
    out: dict[str, float | int | None] = {
        "members": int(seen),
        "days": round((end - start) / DAY, 1),
        "messages": int(len(at)),
        "posters_share": _round(len(per_poster) / seen) if joins_known and seen else None,
        "one_post_share": _round(float((per_poster == 1).mean())) if len(per_poster) else None,
        "top1_share": _top_share(per_poster),
        "gini_posters": _gini(per_poster),
    }
    active = np.sort(poster.astype(np.int64) * span_days + day)  # (member, day) pairs, by member then day
    active = active[np.r_[True, active[1:] != active[:-1]]]
    member, active_day = active // span_days, active % span_days
    out["daily_posters"] = _round(len(active) / span_days) if span_days else None
    out["dau_mau"] = _dau_mau(member, active_day, span_days)
    first, last = _first_and_last(poster, at, seen)
    replies = events.loc[is_message, "reply_to"].to_numpy()
    out.update(_newcomers(first, poster, at, member, replies, names, end))
    out.update(_hazards(first[counts > 0], last[counts > 0], end))
    out.update(_gaps(member, active_day))
    out["size_slope"] = _size_slope(member, active_day, day)
    return out


def _first_and_last(poster: np.ndarray, at: np.ndarray, seen: int) -> tuple[np.ndarray, np.ndarray]:
    """Each member's first and last message time (``poster``: members' codes, 0..seen-1, of the
    messages at ``at``); a member who never posted keeps the int64 extremes."""
    first = np.full(seen, np.iinfo(np.int64).max)
    last = np.full(seen, np.iinfo(np.int64).min)
    np.minimum.at(first, poster, at)
    np.maximum.at(last, poster, at)
    return first, last


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _top_share(per_poster: np.ndarray) -> float | None:
    """``per_poster``: messages per poster, largest first."""
    if not len(per_poster):
        return None
    top = max(1, math.ceil(0.01 * len(per_poster)))
    return _round(per_poster[:top].sum() / per_poster.sum())


def _gini(counts: np.ndarray) -> float | None:
    if len(counts) == 0 or counts.sum() == 0:
        return None
    x = np.sort(counts.astype(float))
    n = len(x)
    return _round((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


def _union_cover(member: np.ndarray, starts: np.ndarray, ends: np.ndarray, length: int) -> np.ndarray:
    """How many members cover each of ``length`` slots, each member covering the union of their
    intervals ``[starts, ends)``.  Rows are sorted by member, then start, and a member's ends rise
    with their starts, so each interval is cut at the next one of the same member and the pieces
    never overlap."""
    same = np.r_[member[1:] == member[:-1], False]
    following = np.r_[starts[1:], 0]
    cut = np.where(same, np.minimum(ends, following), ends)
    keep = cut > starts
    change = np.bincount(starts[keep], minlength=length + 1)[: length + 1]
    change = change - np.bincount(np.minimum(cut[keep], length), minlength=length + 1)[: length + 1]
    return np.cumsum(change)[:length]


def _dau_mau(member: np.ndarray, active_day: np.ndarray, span_days: int) -> float | None:
    if not len(member):
        return None
    daily = np.bincount(active_day, minlength=span_days)
    # distinct posters of the 30 days ending each day: a member counts from a day to 29 days after it
    window = _union_cover(member, active_day, active_day + MONTH_DAYS, span_days)
    seen = window > 0
    return _round(float(np.mean(daily[seen] / window[seen]))) if seen.any() else None


def _newcomers(
    first: np.ndarray,
    poster: np.ndarray,
    at: np.ndarray,
    member: np.ndarray,
    replies: np.ndarray,
    names: pd.Index,
    end: int,
) -> dict[str, float | None]:
    """``first``: each member's first message (the int64 maximum for those who never posted)."""
    seen = len(first)
    eligible = first <= end - MONTH_DAYS * DAY
    if not eligible.any():
        return {"newcomer_return": None, "first_reply_effect": None}
    returned = np.bincount(member, minlength=seen) > 1  # active on more than one day
    out = {"newcomer_return": _round(float(returned[eligible].mean()))}
    addressed = replies != ""
    if not addressed.any():
        out["first_reply_effect"] = None
        return out
    to = pd.Index(names).get_indexer(replies[addressed])  # -1: addressed to no one who wrote here
    by, when = poster[addressed], at[addressed]
    t0 = first[np.maximum(to, 0)]
    welcome = (to >= 0) & (by != to) & (t0 <= when) & (when <= t0 + DAY)
    answered = np.zeros(seen, dtype=bool)
    answered[to[welcome]] = True
    answered &= eligible
    rest = eligible & ~answered
    if not answered.any() or not rest.any():
        out["first_reply_effect"] = None
    else:
        out["first_reply_effect"] = _round(float(returned[answered].mean() - returned[rest].mean()))
    return out


def departures_by_month(first: np.ndarray, last: np.ndarray, end: int, months: int) -> tuple[np.ndarray, np.ndarray]:
    """Departures and posters at risk in each month of tenure 1..months, from each poster's first
    and last message (the definition of ``hazard_m1_3`` and ``hazard_m9_11``)."""
    horizon = end - DEPARTURE_SILENCE_DAYS * DAY  # after this, silence cannot be told from leaving
    departed = last <= horizon
    tenure_months = (np.where(departed, last, horizon) - first) / (MONTH_DAYS * DAY)
    month = np.arange(1, months + 1)[:, None]
    began = tenure_months >= month - 1  # observed into month m
    return (began & departed & (tenure_months < month)).sum(axis=1), began.sum(axis=1)


HAZARDS = {"hazard_m1_3": (1, 3), "hazard_m9_11": (9, 11)}
"""The hazard measures and the months of tenure each covers."""


def _hazard_counts(first: np.ndarray, last: np.ndarray, end: int) -> dict[str, tuple[int, int]]:
    """Each hazard's departures and poster-months at risk; ``first``, ``last``: each poster's
    first and last message."""
    departures, at_risk = departures_by_month(first, last, end, 11)
    return {name: (int(departures[a - 1 : b].sum()), int(at_risk[a - 1 : b].sum())) for name, (a, b) in HAZARDS.items()}


def _hazards(first: np.ndarray, last: np.ndarray, end: int) -> dict[str, float | None]:
    return {name: _round(k / n) if n else None for name, (k, n) in _hazard_counts(first, last, end).items()}


def hazard_counts(events: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """The counts behind each hazard measure of a group's events: (departures, poster-months at
    risk).  A hazard of a few departures is a small count, whose interval a normal approximation
    draws too narrow (:func:`sim.runs.fit_target.observed_interval`)."""
    is_message = (events["kind"] == "message").to_numpy()
    poster, names = pd.factorize(events.loc[is_message, "member"])
    first, last = _first_and_last(poster, events.loc[is_message, "timestamp"].to_numpy(np.int64), len(names))
    return _hazard_counts(first, last, int(events["timestamp"].max()))


def _gaps(member: np.ndarray, active_day: np.ndarray) -> dict[str, float | None]:
    same = member[1:] == member[:-1]
    gaps = (active_day[1:] - active_day[:-1])[same]
    if len(gaps) == 0:
        return {"gap_1d_share": None, "burstiness": None}
    mu, sigma = gaps.mean(), gaps.std()
    return {"gap_1d_share": _round(float((gaps == 1).mean())), "burstiness": _round((sigma - mu) / (sigma + mu))}


def _size_slope(member: np.ndarray, active_day: np.ndarray, message_days: np.ndarray) -> float | None:
    if not len(member):
        return None
    weeks = int(message_days.max()) // 7 + 1
    messages_week = np.bincount(message_days // 7, minlength=weeks).astype(float)
    # a member counts in the weeks from an active day's week to 90 days after it (trailing 90 days)
    size = _union_cover(member, active_day // 7, np.minimum(weeks, (active_day + 90) // 7 + 1), weeks).astype(float)
    ok = (size >= 5) & (messages_week > 0)
    if ok.sum() < 10 or np.ptp(np.log(size[ok])) == 0:
        return None
    slope = np.polyfit(np.log(size[ok]), np.log(messages_week[ok] / size[ok]), 1)[0]
    return _round(float(slope))
