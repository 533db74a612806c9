"""Which importer reads an export: by ``--format``, or told from the file itself.

Detection looks only at what a format is sure to have: a run's ``--out`` folder has its tables,
another folder or a zip is Slack; JSON with
``guild`` and ``messages`` is DiscordChatExporter, with ``messages`` or ``chats`` Telegram Desktop;
text whose header says ``消息记录`` is QQ, other text WhatsApp; a CSV's header row tells the
generic format, DiscordChatExporter's and WeChatMsg's apart; Parquet is the generic format.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from sim.activity import discord, qq, simulated, slack, telegram, wechat, whatsapp
from sim.activity.generic import read_generic
from sim.activity.sources import ENCODINGS
from sim.errors import SandboxError

FORMATS = ("generic", "telegram", "whatsapp", "slack", "discord", "qq", "wechat", "run")


def read_activity(path: str | Path, *, format: str | None = None, salt: str | None = None) -> pd.DataFrame:
    """The event table of an export in any format the sandbox reads."""
    path = Path(path)
    chosen = format or detect(path)
    if chosen not in FORMATS:
        raise SandboxError(f"unknown format '{chosen}'; choose one of {', '.join(FORMATS)}", place="--format")
    reader: Callable[..., pd.DataFrame] = {
        "generic": read_generic,
        "telegram": telegram.read_telegram,
        "whatsapp": whatsapp.read_whatsapp,
        "slack": slack.read_slack,
        "discord": discord.read_discord_json if path.suffix.lower() == ".json" else discord.read_discord_csv,
        "qq": qq.read_qq,
        "wechat": wechat.read_wechat,
        "run": simulated.read_run,
    }[chosen]
    return reader(path, salt=salt)


def detect(path: Path) -> str:
    """The format of an export, from its shape (see the module's notes)."""
    name = str(path)
    if path.is_dir() and (simulated.is_run(path) or (path / "A").is_dir()):
        return "run"
    if path.is_dir() or path.suffix.lower() == ".zip":
        return "slack"
    if not path.is_file():
        raise SandboxError("file or folder not found; check the path", file=name)
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".parquet") or suffixes.endswith(".csv.gz"):
        return "generic"
    head = _head(path)
    if path.suffix.lower() == ".json":
        return "discord" if '"guild"' in head else "telegram"
    if path.suffix.lower() == ".csv":
        columns = {c.strip().strip('"') for c in head.splitlines()[0].split(",")} if head else set()
        if {"AuthorID", "Author", "Date"} <= columns:
            return "discord"
        if {"TalkerId", "CreateTime"} <= columns:
            return "wechat"
        return "generic"
    if path.suffix.lower() == ".txt":
        return "qq" if qq.looks_like_qq(head) else "whatsapp"
    raise SandboxError(
        f"cannot tell the export's format from its name; give --format ({', '.join(FORMATS)})", file=name
    )


def _head(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(4096)
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            if exc.start > len(data) - 4:  # a character cut by the 4 KB window
                return data[: exc.start].decode(encoding, errors="ignore")
    return ""
