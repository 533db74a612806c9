"""A simulated run as an event table, so ``sandbox observe`` measures it with the same code as an export.

A run written with ``--out`` holds ``members.parquet`` (who joined when, who left when) and
``activity.parquet`` (each member's messages per day).  Each member-day becomes that many
messages at noon of the day; each member becomes a join on their join day and, if they left,
a leave on their exit day; a welcomed first contribution gets a reply a minute later from the
group's operators (one extra member, ``operators``, per group, as admins are members of a real
chat).  Each replicate's community is one group, named ``rR``, as one real channel is: members
moved by a split stay the same members (:func:`events_of_run` can keep chat groups apart).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.activity.events import event_table
from sim.errors import SandboxError

DAY = 86_400
NOON = DAY // 2
OPERATORS = "operators"
TABLES = ("members.parquet", "activity.parquet")


def is_run(path: Path) -> bool:
    """Whether a folder is one run written with ``--out`` (it has the tables this module reads)."""
    return path.is_dir() and all((path / t).is_file() for t in TABLES)


def read_run(path: str | Path, *, salt: str | None = None) -> pd.DataFrame:
    """The event table of a run's ``--out`` folder (``salt`` is unused: members are already numbers)."""
    path = Path(path)
    if not is_run(path):
        sides = [s for s in ("A", "B") if is_run(path / s)]
        hint = (
            f"; observe one side: {path / sides[0]}" if sides else "; write one with 'sandbox run SCENARIO --out DIR'"
        )
        raise SandboxError(f"not a run with an activity table{hint}", file=str(path))
    try:
        members = pd.read_parquet(
            path / "members.parquet", columns=["replicate", "member_id", "join_day", "group", "exit_day"]
        )
        activity = pd.read_parquet(path / "activity.parquet")
    except (OSError, ValueError, KeyError) as exc:
        raise SandboxError(
            f"a table cannot be read ({type(exc).__name__}); write the run again", file=str(path)
        ) from None
    return events_of_run(members, activity, whole=True)


def group_name(replicate, group, *, whole: bool = False) -> np.ndarray:
    """``rR.gG`` for each row: chat group G of replicate R (with ``whole``, ``rR``: its chat groups merged)."""
    community = "r" + pd.Series(replicate).astype(str).to_numpy()
    return community if whole else community + ".g" + pd.Series(group).astype(str).to_numpy()


def events_of_run(members: pd.DataFrame, activity: pd.DataFrame, *, whole: bool = False) -> pd.DataFrame:
    """The event table of a run's ``members`` and ``activity`` tables (see the module's notes).

    With ``whole``, each replicate's community is one group (``rR``), its chat groups merged."""

    member = members["member_id"].astype(str).to_numpy()
    joins = pd.DataFrame(
        {
            "timestamp": members["join_day"].clip(lower=0).astype("int64") * DAY,
            "member": member,
            "kind": "join",
            "group": group_name(members["replicate"], members["group"], whole=whole),
            "reply_to": "",
        }
    )
    left = members["exit_day"].notna().to_numpy()
    leaves = pd.DataFrame(
        {
            "timestamp": members["exit_day"][left].astype("int64") * DAY + DAY - 1,
            "member": member[left],
            "kind": "leave",
            "group": group_name(members["replicate"][left], members["group"][left], whole=whole),
            "reply_to": "",
        }
    )
    counts = activity["messages"].to_numpy().astype(np.int64)
    rows = np.repeat(np.arange(len(activity)), counts)
    groups = group_name(activity["replicate"], activity["group"], whole=whole)
    messages = pd.DataFrame(
        {
            "timestamp": activity["day"].to_numpy().astype(np.int64)[rows] * DAY + NOON,
            "member": activity["member_id"].astype(str).to_numpy()[rows],
            "kind": "message",
            "group": groups[rows],
            "reply_to": "",
        }
    )
    welcomed = activity["welcomed"].to_numpy()
    replies = pd.DataFrame(
        {
            "timestamp": activity["day"].to_numpy().astype(np.int64)[welcomed] * DAY + NOON + 60,
            "member": OPERATORS,
            "kind": "message",
            "group": groups[welcomed],
            "reply_to": activity["member_id"].astype(str).to_numpy()[welcomed],
        }
    )
    return event_table(pd.concat([joins, messages, replies, leaves], ignore_index=True))
