"""What a rule's actions do to member and group state, and what they cost (G5).

The verbs themselves (names, scopes, arguments, meanings) are the policy language's:
:mod:`sim.rules.actions`.  Here each verb gets its effect.

Each action is applied to a whole array of member rows at once.  Member-scope actions work in
``rules:``; in ``community_rules:`` they reach every member of the groups whose condition
held.  ``split_group`` and ``guest_talk`` act on groups and exist only in ``community_rules``.
Every coefficient is a parameter (``pm_trust_gain``, ``cost_coupon``...), see :mod:`sim.params`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sim.domain import REMOVED


def _headroom_gain(values: np.ndarray, rows: np.ndarray, rate: float) -> None:
    values[rows] += rate * (1.0 - values[rows])


def _habituated(model, rows: np.ndarray, effect: float) -> np.ndarray:
    """Rewards wear off with repetition (P6): effect / (1 + habituation x rewards so far)."""
    return effect / (1.0 + model.params.reward_habituation * model.pop.rewards_received[rows])


def _remove(model, rows, arg, rule) -> float:
    """Remove members (P7); the rest of their group sees it and loses trust (tyranny)."""
    pop, p = model.pop, model.params
    groups = pop.group[rows]
    removed_by_group = np.bincount(groups, minlength=model.groups.count)
    size = np.maximum(model.groups.size, 1)
    share = (removed_by_group / size).astype(np.float32)
    model.exit_members(rows, REMOVED, f"removed:{rule}")
    seen = share[pop.group] * pop.alive
    pop.trust -= (p.tyranny_trust_loss * seen * pop.trust).astype(np.float32)
    np.clip(pop.trust, 0, 1, out=pop.trust)
    pop.tyranny_exposure += seen.astype(np.float32)
    return p.cost_remove * len(rows)


def _private_message(model, rows, arg, rule) -> float:
    """Personal care (M2, P8): trust up, and a nudge to come back tomorrow."""
    pop, p = model.pop, model.params
    _headroom_gain(pop.trust, rows, p.pm_trust_gain)
    pop.stimulus[rows] += p.pm_stimulus
    return p.cost_private_message * len(rows)


def _coupon(model, rows, arg, rule) -> float:
    """A coupon (P6, P8): a habituating nudge and a little trust."""
    pop, p = model.pop, model.params
    pop.stimulus[rows] += _habituated(model, rows, p.coupon_stimulus)
    _headroom_gain(pop.trust, rows, p.coupon_trust_gain)
    pop.rewards_received[rows] += 1
    return p.cost_coupon * len(rows)


def _red_envelope(model, rows, amount, rule) -> float:
    """A small cash gift of ``amount`` each (P6): a habituating nudge; a reward paid builds trust."""
    pop, p = model.pop, model.params
    pop.stimulus[rows] += _habituated(model, rows, p.red_envelope_stimulus * float(np.log1p(amount)))
    _headroom_gain(pop.trust, rows, p.trust_reward_gain)
    pop.rewards_received[rows] += 1
    return float(amount) * len(rows)


def _add_points(model, rows, amount, rule) -> float:
    model.pop.points[rows] += amount
    return model.params.cost_point * amount * len(rows)


def _grant_title(model, rows, title, rule) -> float:
    """A title (P6, M4): recognition that builds trust and belonging (lower churn)."""
    pop, p = model.pop, model.params
    code = model.title_code(title)
    changed = rows[pop.title[rows] != code]
    pop.title[changed] = code
    _headroom_gain(pop.trust, changed, p.title_trust_gain)
    _headroom_gain(pop.belonging, changed, p.title_belonging_gain)
    return 0.0


def _warn(model, rows, arg, rule) -> float:
    """A warning (P11): may stop a spammer; costs a little trust."""
    pop, p = model.pop, model.params
    pop.warnings[rows] += 1
    pop.trust[rows] -= p.warn_trust_loss * pop.trust[rows]
    spammers = rows[pop.spammer[rows]]
    deterred = spammers[model.streams["actions"].random(len(spammers)) < p.warn_deter_prob]
    pop.spammer[deterred] = False
    return p.cost_warn * len(rows)


def hold_event(model, rows) -> float:
    """An on- or offline event (P12): some of the members reached attend; ties, trust and belonging grow.

    Attendance rises with interest; the effect grows with what earlier surveys taught (x1 to x1.5).
    """
    pop, p = model.pop, model.params
    attends = model.streams["actions"].random(len(rows)) < p.event_attendance * pop.interest[rows]
    came = rows[attends]
    quality = model.event_quality
    _headroom_gain(pop.trust, came, p.event_trust_gain * quality)
    _headroom_gain(pop.interest, came, p.event_interest_gain * quality)
    _headroom_gain(pop.belonging, came, p.event_belonging_gain * quality)
    model.today.event_participants += len(came)
    return p.cost_event_participant * len(came)


def _event(model, rows, arg, rule) -> float:
    return hold_event(model, rows)


def _survey(model, rows, arg, rule) -> float:
    """A survey (P8, P12): asking members' views builds a little trust and tunes later events."""
    pop, p = model.pop, model.params
    _headroom_gain(pop.trust, rows, p.survey_trust_gain)
    model.event_quality = min(1.5, model.event_quality + p.survey_event_boost)
    return p.cost_survey * len(rows)


def sales_push(model, rows, price, rule=None) -> float:
    """A product push (P14): trusting, interested members buy; where trust is low it burns the group.

    Each member reached buys with chance ``sales_conversion x trust^2 x interest`` (revenue: the
    price); a member whose trust is under ``sales_trust_floor`` loses trust in proportion to the gap
    (hard selling before trust exists) and a little interest.
    """
    pop, p = model.pop, model.params
    trust, interest = pop.trust[rows], pop.interest[rows]
    buy = model.streams["actions"].random(len(rows)) < p.sales_conversion * trust * trust * interest
    buyers = int(np.count_nonzero(buy))
    low = rows[trust < p.sales_trust_floor]
    gap = p.sales_trust_floor - pop.trust[low]
    pop.trust[low] -= (p.sales_trust_burn * gap).astype(np.float32)
    pop.interest[low] -= (p.sales_interest_burn * gap).astype(np.float32)
    np.clip(pop.trust, 0, 1, out=pop.trust)
    np.clip(pop.interest, 0, 1, out=pop.interest)
    model.earn(float(price) * buyers)
    model.today.sales += buyers
    return p.cost_sales_push * len(rows)


def _sales_push(model, rows, price, rule) -> float:
    return sales_push(model, rows, price, rule)


def _split_group(model, groups, arg, rule) -> float:
    for gid in groups:
        model.split_group(int(gid))
    return model.params.cost_split * len(groups)


def _guest_talk(model, groups, arg, rule) -> float:
    model.groups.talk_scheduled[groups] = True
    return model.params.cost_guest_talk * len(groups)


EFFECTS: dict[str, Callable[..., float]] = {
    "remove": _remove,
    "private_message": _private_message,
    "coupon": _coupon,
    "red_envelope": _red_envelope,
    "add_points": _add_points,
    "grant_title": _grant_title,
    "warn": _warn,
    "event": _event,
    "survey": _survey,
    "sales_push": _sales_push,
    "split_group": _split_group,
    "guest_talk": _guest_talk,
}
"""Each verb's effect on member state: ``EFFECTS[verb](model, rows, argument, rule) -> cost``."""
