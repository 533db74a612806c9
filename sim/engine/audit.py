"""The audit trail: who each rule fired for, the values that made it fire, effect and cost.

Recorded when a run is written to disk (``--out``), as two long tables built from whole
arrays (no loop over members):

- ``firings``: one row per rule, action, day and member reached (``member_id`` -1 for the
  group-level row of a community rule), with the group, the action's effect and its cost;
- ``conditions``: one row per rule, day, member (or group) and name the condition reads,
  with the value it had when the rule matched.

``sandbox explain OUT_DIR --member ID`` or ``--group ID`` prints them in time order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.rules import fields_used
from sim.rules.actions import ACTIONS

FIRING_COLUMNS = ("day", "rule", "action", "member_id", "group", "effect", "cost")
CONDITION_COLUMNS = ("day", "rule", "member_id", "group", "name", "value", "text")


def effect_of(action: str, arg) -> str:
    """The action's meaning with its argument in place (``a cash gift of 5 each``)."""
    meaning = ACTIONS[action].meaning
    if arg is not None and "AMOUNT" in meaning:
        return meaning.replace("AMOUNT", f"{arg:g}" if isinstance(arg, int | float) else str(arg))
    return f"{meaning} [{arg}]" if arg is not None else meaning


class AuditTrail:
    """Buffers of column arrays for the ``firings`` and ``conditions`` tables of one run."""

    def __init__(self):
        self.firings: list[dict] = []
        self.conditions: list[dict] = []

    def fired(
        self,
        day: int,
        rule: str,
        action: str,
        arg,
        member_ids: np.ndarray,
        groups: np.ndarray,
        cost: float,
        group_level: np.ndarray | None = None,
    ) -> None:
        """Record one action of one rule on one day for the members (and groups) it reached."""
        n = len(member_ids)
        per_member = cost / n if n and group_level is None else 0.0
        parts = [
            dict(
                member_id=np.asarray(member_ids, dtype=np.int64),
                group=np.asarray(groups, dtype=np.int64),
                cost=np.full(n, per_member),
            )
        ]
        if group_level is not None:  # a community rule: one row per group carries the cost
            share = cost / max(len(group_level), 1)
            parts.append(
                dict(
                    member_id=np.full(len(group_level), -1, dtype=np.int64),
                    group=np.asarray(group_level, dtype=np.int64),
                    cost=np.full(len(group_level), share),
                )
            )
        for part in parts:
            k = len(part["member_id"])
            if k:
                self.firings.append(
                    dict(
                        day=np.full(k, day, dtype=np.int64),
                        rule=[rule] * k,
                        action=[action] * k,
                        effect=[effect_of(action, arg)] * k,
                        **part,
                    )
                )

    def matched(self, day: int, rule, env, vocab, member_ids: np.ndarray, groups: np.ndarray, rows: np.ndarray) -> None:
        """Record the values of every name the rule's condition reads, for the matched rows."""
        k = len(rows)
        if not k:
            return
        for name in sorted(fields_used(rule.ir)):
            values = env[name]
            values = np.full(k, values) if np.ndim(values) == 0 else np.asarray(values)[rows]
            spec = vocab.fields[name]
            text = (
                np.asarray(spec.values, dtype=object)[values.astype(np.int64)]
                if spec.kind == "cat"
                else np.full(k, None, dtype=object)
            )
            numbers = np.full(k, np.nan) if spec.kind == "cat" else values.astype(np.float64)
            self.conditions.append(
                dict(
                    day=np.full(k, day, dtype=np.int64),
                    rule=[rule.name] * k,
                    member_id=np.asarray(member_ids, np.int64),
                    group=np.asarray(groups, np.int64),
                    name=[name.split("__", 1)[-1]] * k,
                    value=numbers,
                    text=text,
                )
            )

    def tables(self) -> dict[str, pd.DataFrame]:
        return {
            "firings": _concat(self.firings, FIRING_COLUMNS),
            "conditions": _concat(self.conditions, CONDITION_COLUMNS),
        }


def _concat(parts: list[dict], columns) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({c: [] for c in columns})
    return pd.DataFrame({c: np.concatenate([np.asarray(p[c]) for p in parts]) for c in columns})


def explain(
    firings: pd.DataFrame,
    conditions: pd.DataFrame,
    *,
    member: int | None = None,
    group: int | None = None,
    replicate: int = 0,
) -> list[str]:
    """Lines, in time order, of what fired for one member or one group, and why."""
    f = firings[firings["replicate"] == replicate]
    c = conditions[conditions["replicate"] == replicate]
    if member is not None:
        f, c = f[f["member_id"] == member], c[c["member_id"] == member]
        subject = f"member {member}"
    else:
        f, c = f[(f["group"] == group) & (f["member_id"] == -1)], c[(c["group"] == group) & (c["member_id"] == -1)]
        subject = f"group {group}"
    if f.empty:
        return [f"nothing fired for {subject} in replicate {replicate}"]
    why = {}
    for (day, rule), rows in c.groupby(["day", "rule"], sort=False):
        # a text value where the name is a category; read back from Parquet, a missing one is NaN
        why[(day, rule)] = ", ".join(
            f"{n}={t if isinstance(t, str) else _num(v)}" for n, v, t in zip(rows["name"], rows["value"], rows["text"])
        )
    lines = [f"{subject}, replicate {replicate}:"]
    for row in f.sort_values(["day"], kind="stable").itertuples(index=False):
        values = why.get((row.day, row.rule), "")
        lines.append(
            f"day {row.day:>4}  {row.rule}: {row.action} (group {row.group})"
            + (f"  because {values}" if values else "")
            + f"  -> {row.effect}; cost {row.cost:.2f}"
        )
    return lines


def _num(value: float) -> str:
    return f"{value:g}" if np.isfinite(value) else "nan"


def member_path(record: dict, params: dict[str, float], *, silent: bool, newcomer: bool) -> list[str]:
    """A member's path from the ``members`` table: where they came from, what they did, and, if they
    left of their own accord, the cause and the hazard terms that made it (G2, M4, M7, P2).

    ``record``: the member's row; ``params``: the run's parameters (its manifest); ``silent`` and
    ``newcomer``: whether the silence and newcomer factors applied on the day they left.  The
    state in the record is the state they left with, so the terms are those of their last day;
    the leaderless term (a group's, not a member's) is not recorded and is left out.
    """
    lines = [
        f"joined on day {record['join_day']} from {record['source']} as a {record['archetype']}; "
        f"{record['posts']} posts; title {record['title']}; points {record['points']:g}",
    ]
    if record["first_post_day"] >= 0:
        answered = {1: "answered", 0: "not answered"}.get(record["first_reply"], "not yet known")
        again = "posted again later" if record["posted_again"] else "did not post again"
        lines.append(f"first post or question on day {record['first_post_day']} ({answered}); {again}")
    else:
        lines.append("never posted or asked")
    state = ", ".join(f"{k} {record[k]:.2f}" for k in ("interest", "trust", "habit", "fatigue", "belonging"))
    if record["status"] == "member":
        lines.append(f"still a member at the end: {state}")
        return lines
    lines.append(f"{record['status']} on day {record['exit_day']}, cause: {record['exit_cause']}; state then: {state}")
    if record["status"] != "churned":
        return lines
    terms = {
        "evaporation": params["churn_base"],
        "boredom": params["churn_boredom"] * (1 - record["interest"]) ** 2,
        "lost_trust": params["churn_lost_trust"] * (1 - record["trust"]) ** 2,
        "fatigue": params["churn_fatigue"] * record["fatigue"] ** 2,
        "harassment": params["churn_harassment"] * record["spam_exposure"],
        "tyranny": params["churn_tyranny"] * record["tyranny_exposure"],
        "lost_focus": params["churn_lost_focus"] * record["offtopic_exposure"],
    }
    factors = {
        f"archetype ({record['archetype']})": params[f"arch_{record['archetype']}_churn"],
        "frailty": record["frailty"],
        "fee paid": 1 - record["commitment"],
        "belonging": 1 - params["belonging_churn_cut"] * record["belonging"],
        "silent": params["silent_churn_factor"] if silent else 1.0,
        "title": params["title_churn_factor"] if record["title"] != "none" else 1.0,
        "newcomer": 1 + params["newcomer_churn_weight"] if newcomer else 1.0,
    }
    scale = float(np.prod(list(factors.values())))
    lines.append(
        "daily hazard terms on their last day: "
        + ", ".join(f"{k} {v:.5f}" for k, v in sorted(terms.items(), key=lambda kv: -kv[1]))
        + " (leaderless not recorded)"
    )
    lines.append(
        f"times {scale:.3g}: "
        + ", ".join(f"{k} x{v:.3g}" for k, v in factors.items() if v != 1.0)
        + f"; a hazard of {scale * sum(terms.values()):.4f} a day"
    )
    return lines


def group_path(days: pd.DataFrame) -> list[str]:
    """A group's life from the ``groups`` table (one row per day it had members): each stage it
    entered, on which day, with its size, active members, members' messages and core members that
    day; and, if it died, the cause that led its last 30 days (G1, G2)."""
    days = days.sort_values("day")
    first = days.iloc[0]
    lines = [f"opened by day {first['day']} with {first['size']} members, in {first['stage']}"]
    days = days.assign(came_from=days["stage"].shift())
    changed = days[days["stage"] != days["came_from"]].iloc[1:]
    for row in changed.itertuples(index=False):
        lines.append(
            f"day {row.day:>4}  {row.came_from} -> {row.stage}: {row.size} members, {row.active} active, "
            f"{row.member_messages:g} members' messages, {row.core} core"
        )
    last = days.iloc[-1]
    if last["stage"] == "dead":
        cause = last["dead_cause"] if isinstance(last["dead_cause"], str) else "not recorded"
        lines.append(f"dead since day {changed['day'].iloc[-1] if len(changed) else first['day']}; cause: {cause}")
    else:
        lines.append(f"on the last day ({last['day']}): {last['stage']}, {last['size']} members")
    return lines
