"""The internal event table every importer produces: one row per message, join or leave.

Columns: ``timestamp`` (Unix seconds, int64), ``member`` (a pseudonym), ``kind`` (``message``,
``join`` or ``leave``), ``group`` (the group's name) and ``reply_to`` (the pseudonym of the member
a message answers, or empty).  Names never enter it: :func:`pseudonym` replaces them at import,
with a salt per import, so no output can carry a member's name.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
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


def pseudonymise(members: pd.Series, replies: pd.Series, salt: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pseudonyms of the authors and of the members replied to (empty stays empty), in one pass.

    Each distinct name is hashed once (``pd.factorize``), so a million messages by twenty
    thousand members cost twenty thousand hashes, and the same name gets the same pseudonym in
    both columns.
    """
    salt = salt if salt is not None else secrets.token_hex(8)
    both = pd.concat([members.astype(str), replies.fillna("").astype(str)], ignore_index=True)
    codes, names = pd.factorize(both)
    table = np.array([pseudonym(n, salt) if n else "" for n in names], dtype=object)
    coded = table[codes]
    return coded[: len(members)], coded[len(members) :]


def named_events(frame: pd.DataFrame, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of rows that still carry names: ``timestamp, name, kind, group, reply_name``.

    Every importer of a chat export ends here, so names are replaced by pseudonyms in one place:
    a member named as the author of one message and as the addressee of another gets the same
    pseudonym, and no name survives.
    """
    members, replies = pseudonymise(frame["name"], frame["reply_name"], salt)
    return event_table(
        pd.DataFrame(
            {
                "timestamp": frame["timestamp"],
                "member": members,
                "kind": frame["kind"],
                "group": frame["group"],
                "reply_to": replies,
            }
        )
    )


def empty_named() -> pd.DataFrame:
    """No rows, with the columns :func:`named_events` expects."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "timestamp" else str) for c in NAMED})


NAMED = ("timestamp", "name", "kind", "group", "reply_name")
