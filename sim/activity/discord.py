"""A Discord channel as exported by DiscordChatExporter, in its JSON or its CSV format.

JSON: ``guild``, ``channel`` and ``messages``, each message with ``id``, ``type`` (``Default``
and ``Reply`` are messages, ``GuildMemberJoin`` a join), ``timestamp`` (ISO 8601 with an
offset), ``author.id`` and, for a reply, ``reference.messageId``, whose author becomes
``reply_to``.  The group is the channel (``guild / channel``).  CSV: the columns ``AuthorID,
Author, Date, Content, Attachments, Reactions``; it has no replies and no joins, and the group
is the file's name.  Discord keeps no record of leaves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim.activity.events import named_events
from sim.activity.sources import parse_json, read_csv_text, read_text, short
from sim.errors import SandboxError

EXPECTED = "a DiscordChatExporter JSON export (guild, channel, messages)"
CSV_COLUMNS = ("AuthorID", "Author", "Date", "Content")
MESSAGES = {"Default", "Reply", "ThreadStarterMessage", "ChatInputCommand"}


def read_discord_json(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of one channel exported by DiscordChatExporter as JSON."""
    path = Path(path)
    name = str(path)
    data = parse_json(read_text(path), name, EXPECTED)
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise SandboxError(f"expected {EXPECTED}", file=name, place="messages")
    guild = _object(data.get("guild"))
    channel = _object(data.get("channel"))
    group = " / ".join(str(p) for p in (guild.get("name"), channel.get("name")) if p) or path.stem
    author_of: dict[str, str] = {}
    rows: list[tuple] = []
    for i, msg in enumerate(data["messages"]):
        rows.extend(_rows(msg, group, author_of, name, f"messages[{i}]"))
    return named_events(pd.DataFrame(rows, columns=["timestamp", "name", "kind", "group", "reply_name"]), salt=salt)


def _rows(msg: Any, group: str, author_of: dict[str, str], name: str, here: str) -> list[tuple]:
    if not isinstance(msg, dict) or not isinstance(msg.get("author"), dict) or msg["author"].get("id") is None:
        raise SandboxError("expected a message with author.id", file=name, place=here)
    who = str(msg["author"]["id"])
    author_of[str(msg.get("id"))] = who
    kind = msg.get("type", "Default")
    if kind not in MESSAGES and kind != "GuildMemberJoin":
        return []  # pins, calls, renames: not a member's activity
    at = pd.to_datetime(msg.get("timestamp"), errors="coerce", utc=True, format="ISO8601")
    if pd.isna(at):
        raise SandboxError(f"timestamp must be ISO 8601, got {short(msg.get('timestamp'))}", file=name, place=here)
    if kind == "GuildMemberJoin":
        return [(int(at.timestamp()), who, "join", group, "")]
    reference = _object(msg.get("reference"))
    reply = author_of.get(str(reference.get("messageId")), "") if reference.get("messageId") else ""
    return [(int(at.timestamp()), who, "message", group, reply)]


def _object(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def read_discord_csv(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of one channel exported by DiscordChatExporter as CSV."""
    path = Path(path)
    name = str(path)
    raw = read_csv_text(path, CSV_COLUMNS, "DiscordChatExporter's CSV")
    at = pd.to_datetime(raw["Date"], errors="coerce", utc=True, format="ISO8601")
    rest = at.isna()
    if rest.any():  # older exports write dates such as 06-May-21 02:14 PM
        at[rest] = pd.to_datetime(raw.loc[rest, "Date"], errors="coerce", utc=True, format="mixed", dayfirst=True)
    bad = at.isna() | (raw["AuthorID"].str.strip() == "")
    if bad.any():
        row = int(bad.to_numpy().argmax())
        what = "Date must be a date and time" if at.isna().iloc[row] else "AuthorID is empty"
        raise SandboxError(f"row {row + 2}: {what}, got {short(raw['Date'].iloc[row])}", file=name)
    seconds = (at - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    frame = pd.DataFrame(
        {
            "timestamp": seconds,
            "name": raw["AuthorID"].str.strip(),
            "kind": "message",
            "group": path.stem,
            "reply_name": "",
        }
    )
    return named_events(frame, salt=salt)
