"""A WhatsApp chat export (``.txt``), in the Android style and the iOS style.

Android: ``31/12/2020, 22:15 - Alice: text`` (or ``12/31/20, 10:15 PM - ...``); iOS:
``[31/12/2020, 22:15:30] Alice: text``, where system lines carry the group's name as sender and
begin with an invisible left-to-right mark.  A line that does not start with a date continues
the message before it.  System lines give joins (``X joined using this group's invite link``,
``X added Y, Z and W``) and leaves (``X left``, ``X removed Y``).  Whether dates are day-first
is decided from the whole file (a first field above 12 means day-first, a second field above 12
month-first; otherwise a 12-hour clock means month-first).  Times carry no zone; they are read
as UTC.  The group is named after the file (``WhatsApp Chat with NAME.txt``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sim.activity.events import named_events
from sim.activity.sources import read_text
from sim.errors import SandboxError

_DATE = r"(\d{1,4})[./-](\d{1,2})[./-](\d{1,4}),? (\d{1,2}):(\d{2})(?::(\d{2}))?(?:[\s\u202f]?([AaPp])\.?\s?[Mm]\.?)?"
ANDROID = re.compile(rf"^\u200e?{_DATE} [-\u2013] (.*)$")
IOS = re.compile(rf"^\u200e?\[{_DATE}\] (.*)$")
MARK = "\u200e"
JOINED = re.compile(r"^(.+?) joined using (?:this|the) group's invite link$")
ADDED = re.compile(r"^(.+?) added (.+)$")
LEFT = re.compile(r"^(.+?) left$")
REMOVED = re.compile(r"^(.+?) removed (.+)$")
EXPECTED = (
    "a WhatsApp chat export: lines such as '31/12/2020, 22:15 - Name: text' or '[31/12/2020, 22:15:30] Name: text'"
)


def read_whatsapp(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of a WhatsApp ``.txt`` chat export."""
    path = Path(path)
    name = str(path)
    lines = read_text(path).splitlines()
    heads: list[tuple[int, re.Match]] = []
    for number, line in enumerate(lines, start=1):
        match = ANDROID.match(line) or IOS.match(line)
        if match:
            heads.append((number, match))
        elif not heads and line.strip():
            raise SandboxError(f"line {number} does not start with a date; expected {EXPECTED}", file=name)
    if not heads:
        raise SandboxError(f"has no dated line; expected {EXPECTED}", file=name)
    day_first = _day_first([m for _, m in heads])
    group = _group_name(path)
    rows: list[tuple] = []
    for number, match in heads:
        at = _timestamp(match, day_first, name, number)
        body = match.group(8)
        sender, sep, text = body.partition(": ")
        system = not sep or text.startswith(MARK) or body.startswith(MARK)
        if not system:
            rows.append((at, sender.strip(), "message", group, ""))
            continue
        line = (text if sep and text.startswith(MARK) else body).replace(MARK, "").strip()
        for who, kind in _system(line):
            rows.append((at, who, kind, group, ""))
    return named_events(pd.DataFrame(rows, columns=["timestamp", "name", "kind", "group", "reply_name"]), salt=salt)


def _system(line: str) -> list[tuple[str, str]]:
    """(member, kind) pairs of a system line; none for lines about other things."""
    if m := JOINED.match(line):
        return [(m.group(1), "join")]
    if m := LEFT.match(line):
        return [(m.group(1), "leave")]
    if m := ADDED.match(line):
        return [(n, "join") for n in _names(m.group(2))]
    if m := REMOVED.match(line):
        return [(n, "leave") for n in _names(m.group(2))]
    return []


def _names(text: str) -> list[str]:
    return [n.strip() for n in re.split(r",\s*|\s+and\s+", text) if n.strip()]


def _day_first(matches: list[re.Match]) -> bool:
    firsts = [int(m.group(1)) for m in matches]
    seconds = [int(m.group(2)) for m in matches]
    if max(firsts) > 31:  # year first: 2020-12-31
        return False
    if max(firsts) > 12:
        return True
    if max(seconds) > 12:
        return False
    return not any(m.group(7) for m in matches)


def _timestamp(match: re.Match, day_first: bool, name: str, number: int) -> int:
    a, b, c, hour, minute = (int(match.group(i)) for i in range(1, 6))
    second = int(match.group(6) or 0)
    if a > 31:
        year, month, day = a, b, c
    else:
        day, month = (a, b) if day_first else (b, a)
        year = c + 2000 if c < 100 else c
    if match.group(7):
        hour = hour % 12 + (12 if match.group(7) in "Pp" else 0)
    try:
        return int(pd.Timestamp(year, month, day, hour, minute, second, tz="UTC").timestamp())
    except ValueError:
        raise SandboxError(f"line {number}: not a real date or time; expected {EXPECTED}", file=name) from None


def _group_name(path: Path) -> str:
    stem = path.stem
    for prefix in ("WhatsApp Chat with ", "WhatsApp Chat - "):
        if stem.startswith(prefix):
            return stem[len(prefix) :] or stem
    return stem
