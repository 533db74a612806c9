"""A Slack workspace export: a folder or a zip of ``CHANNEL/YYYY-MM-DD.json`` files.

Each day file is a list of messages: ``user`` (a stable id), ``ts`` (Unix seconds as text),
``subtype`` (``channel_join`` and ``channel_leave`` are joins and leaves; messages without a
``user``, from bots and integrations, are skipped), and for a thread reply ``thread_ts`` (the
parent's ``ts``) and ``parent_user_id``, whose author becomes ``reply_to``.  Each channel is a
group.  A zip is read in memory, never unpacked, within a bound on its unpacked size.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from sim.activity.events import named_events
from sim.activity.sources import MAX_EXPORT_BYTES, decode, parse_json, short
from sim.errors import SandboxError

DAY_FILE = re.compile(r"(?:^|/)([^/]+)/(\d{4}-\d{2}-\d{2})\.json$")
EXPECTED = "a Slack export: CHANNEL/YYYY-MM-DD.json files, each a list of messages"
MAX_DAY_FILES = 1_000_000


def read_slack(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of a Slack export (its folder, or its zip)."""
    path = Path(path)
    rows: list[tuple] = []
    files = 0
    parent_of: dict[tuple[str, str], str] = {}
    for where, channel, data in _day_files(path):
        files += 1
        messages = parse_json(decode(data, where), where, EXPECTED)
        if not isinstance(messages, list):
            raise SandboxError(f"expected {EXPECTED}", file=where)
        for i, msg in enumerate(messages):
            row = _row(msg, channel, parent_of, where, i)
            if row is not None:
                rows.append(row)
    if files == 0:
        raise SandboxError(f"has no CHANNEL/YYYY-MM-DD.json file; expected {EXPECTED}", file=str(path))
    return named_events(pd.DataFrame(rows, columns=["timestamp", "name", "kind", "group", "reply_name"]), salt=salt)


def _row(msg: Any, channel: str, parent_of: dict, where: str, i: int) -> tuple | None:
    if not isinstance(msg, dict):
        raise SandboxError("expected a message object", file=where, place=f"[{i}]")
    user = msg.get("user")
    if not isinstance(user, str) or not user:
        return None  # a bot, an integration or a deleted user's message
    try:
        ts = float(msg.get("ts", ""))
    except (TypeError, ValueError):
        raise SandboxError(f"ts must be Unix seconds, got {short(msg.get('ts'))}", file=where, place=f"[{i}]") from None
    parent_of[(channel, str(msg["ts"]))] = user
    subtype = msg.get("subtype")
    kind = {"channel_join": "join", "channel_leave": "leave"}.get(str(subtype), "message")
    reply = ""
    thread = msg.get("thread_ts")
    if kind == "message" and thread and thread != msg["ts"]:
        reply = msg.get("parent_user_id") or parent_of.get((channel, str(thread)), "")
    return (int(ts), user, kind, channel, reply if isinstance(reply, str) else "")


def _day_files(path: Path) -> Iterator[tuple[str, str, bytes]]:
    """(where, channel, bytes) of every day file, in channel and date order."""
    if path.is_dir():
        paths = sorted(p for p in path.glob("*/*.json") if DAY_FILE.search(p.as_posix()))
        for p in paths[:MAX_DAY_FILES]:
            if p.stat().st_size > MAX_EXPORT_BYTES:
                raise SandboxError("too large for a day of a channel", file=str(p))
            yield str(p), p.parent.name, p.read_bytes()
        return
    if not path.is_file():
        raise SandboxError("file or folder not found; check the path", file=str(path))
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise SandboxError(f"is not a zip file; expected {EXPECTED} (a folder or its zip)", file=str(path)) from None
    with archive:
        entries = [(m, DAY_FILE.search(m.filename)) for m in archive.infolist()]
        days = sorted(((m, found) for m, found in entries if found), key=lambda e: (e[1].group(1), e[1].group(2)))
        if len(days) > MAX_DAY_FILES or sum(m.file_size for m, _ in days) > MAX_EXPORT_BYTES:
            raise SandboxError("unpacks to more than the sandbox reads from one export; split it", file=str(path))
        for member, found in days:
            where = f"{path}:{member.filename}"
            try:
                data = archive.read(member)
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError):
                raise SandboxError("cannot be unpacked; re-create the zip", file=where) from None
            yield where, found.group(1), data
