"""The verbs a rule can use: a fixed vocabulary of actions, with their scopes and arguments (G5).

Member-scope actions work in ``rules:``; in ``community_rules:`` they reach every member of the
groups whose condition held.  ``split_group`` and ``guest_talk`` act on groups and exist only in
``community_rules``.  What each verb does to the members, and what it costs, is the engine's:
:mod:`sim.engine.actions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.errors import SandboxError


@dataclass(frozen=True)
class Action:
    """One verb of the policy language."""

    name: str
    scopes: tuple[str, ...]  # "member" and/or "group"
    argument: str | None  # None, "amount" (a positive number) or "title"
    meaning: str


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action("remove", ("member", "group"), None, "remove the member; their group loses trust (P7)"),
        Action("private_message", ("member", "group"), None, "a personal message: trust up, nudge to return (P8)"),
        Action("coupon", ("member", "group"), None, "a coupon: nudge to return, wears off with repetition (P6, P8)"),
        Action("red_envelope", ("member", "group"), "amount", "a cash gift of AMOUNT each: nudge, trust (P6)"),
        Action("add_points", ("member", "group"), "amount", "add AMOUNT points (P6)"),
        Action("grant_title", ("member", "group"), "title", "grant the named title from rewards.titles (P6, M4)"),
        Action("warn", ("member", "group"), None, "a warning: may stop a spammer, costs trust (P11)"),
        Action(
            "event",
            ("member", "group"),
            None,
            "an on- or offline event: attendees gain trust, interest and belonging (P12, M4)",
        ),
        Action(
            "survey",
            ("member", "group"),
            None,
            "ask members' views: a little trust; later events work better (P8, P12)",
        ),
        Action(
            "sales_push",
            ("member", "group"),
            "amount",
            "offer a product at AMOUNT: revenue from trusting members, trust burnt where it is low (P14)",
        ),
        Action("split_group", ("group",), None, "open a new group seeded with core members (P3)"),
        Action("guest_talk", ("group",), None, "a guest talk in the group tomorrow (P5)"),
    ]
}


def check_action(name: str, arg: Any, scope: str, titles: tuple[str, ...]) -> Any:
    """Validate an action and its argument for a rule of the given scope; return the argument."""
    action = ACTIONS.get(name)
    if action is None:
        raise SandboxError(f"unknown action '{name}'; known actions: {', '.join(ACTIONS)}")
    if scope not in action.scopes:
        raise SandboxError(f"'{name}' acts on groups; use it in community_rules, not rules")
    if action.argument is None:
        if arg is not None:
            raise SandboxError(f"'{name}' takes no argument; write it as a plain name")
        return None
    if action.argument == "amount":
        if isinstance(arg, bool) or not isinstance(arg, (int, float)) or not 0 < arg <= 1e6:
            raise SandboxError(f"'{name}' needs a positive amount, e.g. {{{name}: 5}}")
        return float(arg)
    if not isinstance(arg, str) or arg not in titles[1:]:
        raise SandboxError(
            f"'{name}' needs a title defined under rewards.titles; known: " + (", ".join(titles[1:]) or "none defined")
        )
    return arg
