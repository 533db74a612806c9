"""The internal event table every importer produces: one row per message, join or leave.

Columns: ``timestamp`` (Unix seconds, int64), ``member`` (a pseudonym), ``kind`` (``message``,
``join`` or ``leave``), ``group`` (the group's name) and ``reply_to`` (the pseudonym of the member
a message answers, or empty).  Names never enter it: :func:`pseudonym` replaces them at import,
with a salt per import, so no output can carry a member's name.
"""

from __future__ import annotations

import hashlib

import pandas as pd

COLUMNS = ("timestamp", "member", "kind", "group", "reply_to")
KINDS = ("message", "join", "leave")


def pseudonym(name: str, salt: str) -> str:
    """A stable stand-in for a member's name within one import ("m" and 10 hex digits)."""
    return "m" + hashlib.sha256(f"{salt}\x00{name}".encode()).hexdigest()[:10]


def event_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns in order, with their types, sorted by time (stable, so same-second order is kept)."""
    out = pd.DataFrame(
        {
            "timestamp": frame["timestamp"].astype("int64"),
            "member": frame["member"].astype(str),
            "kind": pd.Categorical(frame["kind"], categories=list(KINDS)),
            "group": frame["group"].astype(str),
            "reply_to": frame["reply_to"].fillna("").astype(str),
        }
    )
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)
