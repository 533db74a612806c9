"""A group's history as an export shows it: its span, who was there at the start, who arrived when.

A calibration (``sandbox calibrate``) simulates a group along its own history, so the model is
measured against what it could have done, not against a made-up group.  What an export tells:

- the span: from the Monday on or before the calendar day (UTC) of the first event to the day of
  the last (a simulated day 0 is a Monday, so weekdays line up);
- the starting members: those whose first event falls in the first ``START_DAYS`` days from the
  first event (a group that existed before its export begins already has members: they show up
  in its first days);
- the arrivals: every other member, counted in the week of their first event (a join where
  joins are recorded, else their first message);
- a weekly ritual: the weekday holding at least ``RITUAL_SHARE`` of the messages, if one does
  (a weekly meeting, a Friday thread: the operators' visible rhythm).

Where an export records no joins, only members who posted are seen: members who only read are
invisible and the history counts posters alone (the fit says so).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.errors import SandboxError

DAY = 86_400
START_DAYS = 7
RITUAL_SHARE = 0.4
"""A weekday with this share of the messages (uniform: 1/7) is the group's ritual day."""
WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MIN_MEMBERS = 30
MIN_DAYS = 90
MIN_MESSAGES = 300


@dataclass(frozen=True)
class History:
    """Span, starting members and weekly arrivals of one group (see the module's notes)."""

    first_day: int  # the Monday (days since 1970-01-01, UTC) on or before the first event's day
    days: int  # span in calendar days, that Monday to the last event's day, both included
    starting_members: int
    weekly_joins: tuple[int, ...]  # arrivals in each week after day 0 (week w: days 7w .. 7w+6)
    joins_known: bool
    messages: int
    ritual_weekday: str | None = None

    @property
    def members(self) -> int:
        return self.starting_members + sum(self.weekly_joins)


def one_group(events: pd.DataFrame, group: str | None, *, source: str) -> tuple[str, pd.DataFrame]:
    """The events of the group to fit: the one named, or the only (or busiest) one."""
    names = events["group"].astype(str)
    if group is not None:
        if not (names == group).any():
            known = sorted(names.unique())
            printable = ["".join(c if c.isprintable() else "?" for c in k[:40]) for k in known[:5]]  # no escapes
            shown = ", ".join(printable) + (", ..." if len(known) > 5 else "")
            raise SandboxError(f"no group '{group}' in this export; its groups: {shown}", file=source, place="--group")
        return group, events[names == group]
    busiest = str(names[events["kind"] == "message"].value_counts().idxmax()) if len(events) else ""
    return busiest, events[names == busiest]


def day_of(date: str, *, place: str) -> int:
    """A date (YYYY-MM-DD) as days since 1970-01-01."""
    try:
        stamp = pd.Timestamp(date)
    except (ValueError, TypeError):
        raise SandboxError(f"'{date[:40]}' is not a date; write it as YYYY-MM-DD", place=place) from None
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return int(stamp.normalize().value // (DAY * 10**9))


def weekday(day: int) -> int:
    """Monday 0 .. Sunday 6 of a day counted from 1970-01-01 (a Thursday)."""
    return (day + 3) % 7


def date_of(day: int) -> str:
    """Days since 1970-01-01 as YYYY-MM-DD."""
    return str(pd.Timestamp(day * DAY, unit="s").date())


def before(events: pd.DataFrame, day: int) -> pd.DataFrame:
    """Events before the start of ``day`` (days since 1970-01-01)."""
    return events[events["timestamp"].to_numpy(np.int64) < day * DAY]


def history(events: pd.DataFrame, *, source: str) -> History:
    """The history of one group's events; refused when too short to fit (with the minimum)."""
    stamps = events["timestamp"].to_numpy(np.int64)
    messages = int((events["kind"] == "message").sum())
    members = events["member"].nunique()
    days = int(stamps.max() // DAY - stamps.min() // DAY + 1) if len(stamps) else 0
    if members < MIN_MEMBERS or days < MIN_DAYS or messages < MIN_MESSAGES:
        raise SandboxError(
            f"too little to fit: {members} members, {days} days, {messages} messages; a fit needs at least "
            f"{MIN_MEMBERS} members, {MIN_DAYS} days and {MIN_MESSAGES} messages",
            file=source,
        )
    first_event = int(stamps.min() // DAY)
    first_day = first_event - weekday(first_event)
    days += first_event - first_day
    joins_known = bool((events["kind"] == "join").any())
    seen = events if joins_known else events[events["kind"] == "message"]
    first_seen = seen.groupby("member", observed=True)["timestamp"].min().to_numpy(np.int64) // DAY - first_day
    starting_until = first_event - first_day + START_DAYS
    starting = int((first_seen < starting_until).sum())
    later = first_seen[first_seen >= starting_until]
    weeks = (days + 6) // 7
    weekly = np.bincount(later // 7, minlength=weeks)[:weeks]
    message_days = events.loc[events["kind"] == "message", "timestamp"].to_numpy(np.int64) // DAY
    by_weekday = np.bincount(weekday(message_days), minlength=7)
    busiest = int(by_weekday.argmax())
    ritual = WEEKDAY_NAMES[busiest] if by_weekday[busiest] >= RITUAL_SHARE * max(1, by_weekday.sum()) else None
    return History(
        first_day=first_day,
        days=days,
        starting_members=starting,
        weekly_joins=tuple(int(n) for n in weekly),
        joins_known=joins_known,
        messages=messages,
        ritual_weekday=ritual,
    )
