"""Telegram Desktop's JSON export (``result.json``): one chat, or a full export with ``chats.list``.

A message (``type: message``) has ``from_id`` (a stable id; ``from`` is the display name) and
``date_unixtime`` (or ``date``, local ISO time); ``reply_to_message_id`` names the message it
answers, whose author becomes ``reply_to``.  Service messages give joins (``join_group_by_link``,
``join_group_by_request``, ``invite_members`` with the invited ``members``) and leaves
(``remove_members``: a member who left or was removed).  Invited or removed members are known by
display name only, so they are matched to authors by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim.activity.events import named_events
from sim.activity.sources import parse_json, read_text, short
from sim.errors import SandboxError

EXPECTED = "a Telegram Desktop export (result.json with messages, or chats.list)"
JOINS = {"join_group_by_link", "join_group_by_request", "invite_members", "create_group"}
LEAVES = {"remove_members"}


def read_telegram(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of a Telegram Desktop JSON export."""
    path = Path(path)
    name = str(path)
    data = parse_json(read_text(path), name, EXPECTED)
    if isinstance(data, dict) and isinstance(data.get("chats"), dict):
        chats = data["chats"].get("list")
        where = "chats.list"
    else:
        chats, where = [data], ""
    if not isinstance(chats, list):
        raise SandboxError(f"expected {EXPECTED}", file=name, place=where or None)
    rows: list[tuple] = []
    for c, chat in enumerate(chats):
        place = f"{where}[{c}]" if where else ""
        if not isinstance(chat, dict) or not isinstance(chat.get("messages"), list):
            raise SandboxError(f"expected {EXPECTED}", file=name, place=(place + ".messages").lstrip("."))
        group = str(chat.get("name") or chat.get("id") or f"chat {c}")
        rows.extend(_chat_rows(chat["messages"], group, name, place))
    return named_events(pd.DataFrame(rows, columns=["timestamp", "name", "kind", "group", "reply_name"]), salt=salt)


def _chat_rows(messages: list[Any], group: str, name: str, place: str) -> list[tuple]:
    # display name -> from_id over the whole chat, so a member invited before posting is matched
    id_of_name = {
        str(m["from"]): str(m["from_id"])
        for m in messages
        if isinstance(m, dict) and m.get("type") == "message" and m.get("from") and m.get("from_id") is not None
    }
    rows: list[tuple] = []
    author_of: dict[Any, str] = {}
    for i, msg in enumerate(messages):
        here = f"{place}.messages[{i}]".lstrip(".")
        if not isinstance(msg, dict):
            raise SandboxError("expected a message object", file=name, place=here)
        kind = msg.get("type")
        if kind not in ("message", "service"):
            raise SandboxError(f"type must be message or service, got {short(kind)}", file=name, place=here)
        at = _timestamp(msg, name, here)
        if kind == "message":
            if msg.get("from_id") is None:
                raise SandboxError(
                    "a message without from_id; expected a Telegram Desktop export", file=name, place=here
                )
            who = str(msg["from_id"])
            author_of[msg.get("id")] = who
            rows.append((at, who, "message", group, author_of.get(msg.get("reply_to_message_id"), "")))
            continue
        action = msg.get("action")
        if action not in JOINS and action not in LEAVES:
            continue
        listed = msg.get("members") if action in ("invite_members", "remove_members") else None
        names = [str(m) for m in listed if m] if isinstance(listed, list) and listed else [str(msg.get("actor") or "")]
        for member in filter(None, names):
            if member == msg.get("actor") and msg.get("actor_id") is not None:
                who = str(msg["actor_id"])
            else:
                who = id_of_name.get(member, "name:" + member)
            rows.append((at, who, "join" if action in JOINS else "leave", group, ""))
    return rows


def _timestamp(msg: dict, name: str, here: str) -> int:
    raw = msg.get("date_unixtime")
    if raw is not None:
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SandboxError(f"date_unixtime must be Unix seconds, got {short(raw)}", file=name, place=here) from None
    parsed = pd.to_datetime(msg.get("date"), errors="coerce", utc=True, format="ISO8601")
    if pd.isna(parsed):
        raise SandboxError(f"date must be an ISO 8601 time, got {short(msg.get('date'))}", file=name, place=here)
    return int(parsed.timestamp())
