"""WeChat group chats as exported by the open-source exporter WeChatMsg (CSV).

Columns used: ``TalkerId`` (the chat: ``...@chatroom`` for a group; each chat is a group),
``Type`` (10000 is a system message), ``IsSender`` (1 for the exporter's own messages),
``CreateTime`` (Unix seconds), ``StrContent`` (the text), ``NickName`` (the sender's display name)
and ``Sender`` (the sender's id; the display name stands in where it is empty).  System messages
give joins (``"X"邀请"Y、Z"加入了群聊``, ``"Y"通过扫描二维码加入群聊``, ``"Y"通过扫描"X"分享的二维码加入群聊``)
and removals (``"X"将"Y"移出了群聊``); names in them are display names, matched to the member who
used that name.  WeChat records no one leaving: departures are inferred from silence.  UTF-8 and
GB18030 files are both read.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sim.activity.events import named_events
from sim.activity.sources import read_csv_text, short
from sim.errors import SandboxError

COLUMNS = ("TalkerId", "Type", "IsSender", "CreateTime", "StrContent", "NickName", "Sender")
SYSTEM = "10000"
Q = "[\"“”']"
INVITED = re.compile(rf"^(?:{Q}.+?{Q}|你)邀请(.+?)加入了群聊")
SCANNED = re.compile(rf"^{Q}(.+?){Q}通过扫描(?:{Q}.+?{Q}分享的)?二维码加入群聊")
REMOVED = re.compile(rf"^(?:{Q}.+?{Q}|你)将(.+?)移出了群聊")
ME = "(exporter)"


def read_wechat(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of a WeChatMsg CSV export."""
    path = Path(path)
    name = str(path)
    raw = read_csv_text(path, COLUMNS, "WeChatMsg's CSV")
    seconds = pd.to_numeric(raw["CreateTime"].str.strip(), errors="coerce")
    bad = seconds.isna() | ~seconds.between(0, 2**33)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise SandboxError(
            f"row {row + 2}: CreateTime must be Unix seconds, got {short(raw['CreateTime'].iloc[row])}", file=name
        )
    sender = raw["Sender"].str.strip().where(raw["Sender"].str.strip() != "", raw["NickName"].str.strip())
    sender = sender.where(~((sender == "") & (raw["IsSender"].str.strip() == "1")), ME)
    system = raw["Type"].str.strip() == SYSTEM
    empty = (sender == "") & ~system
    if empty.any():
        raise SandboxError(
            f"row {int(empty.to_numpy().argmax()) + 2}: no Sender and no NickName for a message", file=name
        )
    id_of_nick = dict(zip(raw.loc[~system, "NickName"].str.strip(), sender[~system], strict=True))
    rows: list[tuple] = []
    for at, who, talker, is_system, text in zip(
        seconds.astype("int64"), sender, raw["TalkerId"].str.strip(), system, raw["StrContent"], strict=True
    ):
        if not is_system:
            rows.append((at, who, "message", talker, ""))
            continue
        for names, kind in _system(text.strip()):
            rows.extend((at, id_of_nick.get(n, "nick:" + n), kind, talker, "") for n in names)
    return named_events(pd.DataFrame(rows, columns=["timestamp", "name", "kind", "group", "reply_name"]), salt=salt)


def _system(text: str) -> list[tuple[list[str], str]]:
    for pattern, kind in ((INVITED, "join"), (SCANNED, "join"), (REMOVED, "leave")):
        if m := pattern.match(text):
            return [(_names(m.group(1)), kind)]
    return []


def _names(text: str) -> list[str]:
    return [n.strip().strip("\"“”'") for n in re.split(r"[、,，]", text) if n.strip().strip("\"“”'")]
