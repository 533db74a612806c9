"""QQ's own message-manager export (``.txt``): a ``消息记录`` header, then one section per chat.

A section starts with ``消息对象:NAME`` (the group); each message is a line
``YYYY-MM-DD HH:MM:SS 昵称(号码)`` (or ``昵称<email>``) followed by its text.  The QQ number (or
the address) identifies a member; the nickname may change.  Messages of ``系统消息(10000)`` give
joins (``X加入本群`` / ``X加入了本群``) and leaves (``X退出了本群``, ``X被管理员移出本群``);
``X`` is a nickname, optionally with ``(号码)``, matched to the member who used it.  Times carry no
zone; they are read as UTC.  UTF-8 and GB18030 files are both read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sim.activity.events import named_events
from sim.activity.sources import read_text
from sim.errors import SandboxError

HEAD = re.compile(r"^(\d{4}-\d{1,2}-\d{1,2}) (\d{1,2}:\d{2}:\d{2}) (.*?)(?:\((\d{1,20})\)|<([^<>\s]{1,200})>)\s*$")
OBJECT = re.compile(r"^消息对象[:：]\s*(.+?)\s*$")
SYSTEM_ID = "10000"
JOIN = re.compile(r"^(.+?)(?:\((\d+)\))?\s*(?:已)?加入(?:了)?本群")
LEAVE = re.compile(r"^(.+?)(?:\((\d+)\))?\s*(?:已)?(?:退出(?:了)?本群|被管理员移出(?:了)?本群|被移出(?:了)?本群)")
EXPECTED = "QQ's message-manager text export (消息记录, 消息对象:NAME, 'YYYY-MM-DD HH:MM:SS 昵称(号码)' lines)"


def looks_like_qq(text: str) -> bool:
    """Whether a text file is QQ's export (its header names it, within the first lines)."""
    head = text[:2000]
    return "消息记录" in head or bool(re.search(r"^消息对象[:：]", head, re.M))


def read_qq(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of a QQ message-manager text export."""
    path = Path(path)
    name = str(path)
    lines = read_text(path).splitlines()
    group: str | None = None
    body: list[str] = []
    heads: list[tuple[int, str, str, str, list[str], str]] = []
    for number, line in enumerate(lines, start=1):
        if m := OBJECT.match(line):
            group = m.group(1)
            continue
        if m := HEAD.match(line):
            if group is None:
                raise SandboxError(f"line {number}: a message before any 消息对象 line; expected {EXPECTED}", file=name)
            body = []
            heads.append(
                (number, f"{m.group(1)} {m.group(2)}", m.group(4) or m.group(5), m.group(3).strip(), body, group)
            )
        elif heads:
            body.append(line)
    if not heads:
        raise SandboxError(f"has no message line; expected {EXPECTED}", file=name)
    times = pd.to_datetime([h[1] for h in heads], errors="coerce", format="%Y-%m-%d %H:%M:%S", utc=True)
    if times.isna().any():
        raise SandboxError(f"line {heads[int(times.isna().argmax())][0]}: not a real date or time", file=name)
    seconds = (times - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    id_of_nick = {nick: ident for _, _, ident, nick, _, _ in heads if ident != SYSTEM_ID}
    rows: list[tuple] = []
    for (_, _, ident, _, text, grp), at in zip(heads, seconds, strict=True):
        if ident != SYSTEM_ID:
            rows.append((int(at), ident, "message", grp, ""))
            continue
        line = " ".join(t.strip() for t in text if t.strip())
        for pattern, kind in ((JOIN, "join"), (LEAVE, "leave")):
            if m := pattern.match(line):
                nick = m.group(1).strip().strip('"“”')
                rows.append((int(at), m.group(2) or id_of_nick.get(nick, "nick:" + nick), kind, grp, ""))
                break
    return named_events(pd.DataFrame(rows, columns=["timestamp", "name", "kind", "group", "reply_name"]), salt=salt)
