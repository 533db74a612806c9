"""The daily equations of members and operators, vectorised over all members at once.

Two phases of a day live here:

- :func:`operator_content` (P4, P5, G5): how many operator posts each group gets today, the
  ritual weekday and guest talks, and what they cost;
- :func:`member_day` (M1, M2, M3, M5, M6, P9, P10): who is active, who posts and asks, who
  gets answered, how interest, trust, habit and fatigue move, who turns spammer, who brings a
  friend.

Every coefficient comes from :class:`sim.params.Params`.  No loop runs over members.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import ARCHETYPES
from .policy import WEEKDAYS

EXPERT = ARCHETYPES.index("expert")
F32 = np.float32


@dataclass
class OperatorContent:
    """What the operators put into each group today."""

    posts: np.ndarray    # operator posts per group (float32)
    ritual: np.ndarray   # 1.0 where today is the ritual slot (float32)
    talk: np.ndarray     # 1.0 where a guest talk happens today (float32)


def scheduled(day: int, per_period: float, period: int) -> int:
    """Events due today when ``per_period`` are spread evenly over each ``period`` days."""
    return int(np.floor((day + 1) * per_period / period) - np.floor(day * per_period / period))


def core_mask(pop, p) -> np.ndarray:
    """Core members (M5): habit, trust and posts over the core thresholds, still members."""
    return ((pop.status == 0) & (pop.habit >= p.core_habit) & (pop.trust >= p.core_trust)
            & (pop.posts >= p.core_min_posts))


def operator_content(model) -> OperatorContent:
    """Operator posts, the weekly ritual and guest talks for every group today (P4, P5)."""
    content, p, groups = model.policy.policy.content, model.params, model.groups
    count = groups.count
    posts_today = scheduled(model.day, content.operator_posts_per_week, 7)
    is_ritual = content.ritual_weekday is not None and WEEKDAYS[model.day % 7] == content.ritual_weekday
    if is_ritual:
        posts_today = max(posts_today, 1)  # the ritual itself is an operator post
    inhabited = groups.size > 0
    posts = np.where(inhabited, F32(posts_today), F32(0))
    ritual = np.where(inhabited & is_ritual, F32(1), F32(0))
    talk_due = scheduled(model.day, content.guest_talks_per_month, 30) > 0
    talk = ((groups.talk_scheduled | talk_due) & inhabited).astype(F32)
    groups.talk_scheduled[:] = False
    model.spend("content", float(posts.sum()) * p.cost_operator_post
                + float(np.count_nonzero(talk_due & inhabited)) * p.cost_guest_talk)
    return OperatorContent(posts=posts, ritual=ritual, talk=talk)


def member_day(model, content: OperatorContent) -> None:
    """Activity, posts, questions and answers, and the drift of each member's state."""
    pop, p, groups, rng = model.pop, model.params, model.groups, model.streams["behaviour"]
    pol = model.policy.policy
    n, grp, arch = pop.n, pop.group, pop.archetype
    alive = pop.status == 0
    tables = model.archetype_tables

    # --- who is active today (M3, M5): habit plus stimulus, minus fatigue ---
    group_pull = (p.act_peer * groups.active_ratio_prev + p.act_core * groups.core_share_prev
                  + p.act_content * np.log1p(content.posts) + p.act_ritual * content.ritual
                  + p.act_talk * content.talk).astype(F32)
    z = tables["activity"][arch] + F32(p.act_bias)
    z += p.act_interest * pop.interest
    z += p.act_trust * pop.trust
    z += p.act_habit * pop.habit
    z -= p.act_fatigue * pop.fatigue
    z += group_pull[grp]
    z += pop.stimulus
    prob = 1.0 / (1.0 + np.exp(-z))
    active = rng.random(n, dtype=F32) < prob
    active &= alive
    pop.stimulus[:] = 0
    pop.active_today[:] = active
    idx = np.flatnonzero(active)
    g_idx = grp[idx]

    # --- posts: heavy-tailed by archetype, scaled by interest ---
    rate = p.post_rate * 2.0 * tables["posts"][arch[idx]] * pop.interest[idx]
    posts = rng.poisson(rate).astype(np.int32)
    pop.posts_today[:] = 0
    pop.posts_today[idx] = posts
    pop.posts[idx] += posts
    member_posts_g = np.bincount(g_idx, weights=posts, minlength=groups.count)

    # --- questions, answered by operators or by an active expert (P9) ---
    asks = rng.random(len(idx), dtype=F32) < p.question_rate * tables["questions"][arch[idx]]
    asked = idx[asks]
    experts_g = np.bincount(g_idx, weights=arch[idx] == EXPERT, minlength=groups.count)
    expert_answers = 1.0 - (1.0 - p.expert_answer_prob) ** experts_g
    u = rng.random(len(asked))
    rate_op = pol.service.answer_rate
    by_operator = u < rate_op
    answered_mask = by_operator | (u < rate_op + (1.0 - rate_op) * expert_answers[grp[asked]])
    answered, ignored = asked[answered_mask], asked[~answered_mask]
    pop.asked_today[:] = False
    pop.asked_today[asked] = True
    pop.answered_today[:] = False
    pop.answered_today[answered] = True
    pop.trust[answered] += p.trust_answer_gain * (1 - pop.trust[answered])
    pop.trust[ignored] -= p.trust_unanswered_loss * pop.trust[ignored]
    model.spend("service", float(np.count_nonzero(by_operator)) * p.cost_answer)

    # --- ads from spammers (M6) ---
    spam_rows = np.flatnonzero(pop.spammer & alive)
    pop.spam_today[:] = 0
    pop.spam_today[spam_rows] = int(p.spam_posts_per_day)
    spam_g = np.bincount(grp[spam_rows], minlength=groups.count) * int(p.spam_posts_per_day)

    # --- value received raises interest (M1); ads erode interest and trust (M6, M2) ---
    value_g = np.minimum(
        p.value_cap,
        p.value_per_operator_post * pol.content.quality * content.posts
        + p.value_per_operator_post * 3.0 * content.talk
        + p.value_member_posts * np.log1p(member_posts_g)).astype(F32)
    spam_seen = spam_g[g_idx].astype(F32)
    pop.interest -= p.interest_decay * pop.interest
    pop.interest[idx] += p.interest_gain * value_g[g_idx] * (1 - pop.interest[idx]) - p.interest_spam_loss * spam_seen
    pop.trust[idx] -= p.trust_spam_loss * spam_seen * pop.trust[idx]
    pop.trust += p.trust_drift * (p.newcomer_trust - pop.trust)
    np.clip(pop.interest, 0, 1, out=pop.interest)
    np.clip(pop.trust, 0, 1, out=pop.trust)
    pop.spam_exposure *= F32(1 - p.exposure_decay)
    pop.spam_exposure[idx] += spam_seen
    pop.tyranny_exposure *= F32(1 - p.exposure_decay)

    # --- habit (M3) and the ritual (P4) ---
    pop.habit -= p.habit_decay * pop.habit
    pop.habit[idx] += (p.habit_gain + p.ritual_habit_gain * content.ritual[g_idx]) * (1 - pop.habit[idx])

    # --- fatigue from messages beyond the attention budget (M3); silent members muted ---
    messages_g = content.posts + member_posts_g + spam_g
    overload_g = (np.maximum(messages_g - p.attention_budget, 0) / p.attention_budget).astype(F32)
    pop.fatigue *= F32(1 - p.fatigue_recovery)
    listening = pop.days_inactive < p.silent_after_days
    pop.fatigue += p.fatigue_gain * overload_g[grp] * listening
    pop.days_inactive += 1
    pop.days_inactive[idx] = 0

    # --- disaffected members who stay turn spammer (M6) ---
    candidates = np.flatnonzero(alive & ~pop.spammer & (pop.interest < p.spam_turn_interest))
    turned = candidates[rng.random(len(candidates)) < p.spam_turn_prob]
    pop.spammer[turned] = True

    # --- referrals (P10): trust and the reward make members bring friends ---
    reward = pol.rewards.referral_reward
    refer_prob = (p.referral_base * (1 + p.referral_reward_effect * reward)
                  * pop.trust[idx] * tables["referral"][arch[idx]])
    model.pending_referrals = int(np.count_nonzero(rng.random(len(idx)) < refer_prob))

    # --- points for taking part (P6) ---
    pts = pol.rewards.points
    if pts.post or pts.active_day or pts.question:
        pop.points[idx] += pts.active_day + pts.post * posts
        pop.points[asked] += pts.question
        awarded = len(idx) * pts.active_day + pts.post * int(posts.sum()) + pts.question * len(asked)
        model.spend("rewards", awarded * p.cost_point)

    # --- core members (M5) and today's per-group figures ---
    is_core = core_mask(pop, p)
    model.is_core = is_core
    size = np.maximum(groups.size, 1)
    active_g = np.bincount(g_idx, minlength=groups.count)
    core_g = np.bincount(grp, weights=is_core, minlength=groups.count)
    groups.active_ratio_prev = (active_g / size).astype(F32)
    groups.core_share_prev = (core_g / size).astype(F32)
    model.today.update(
        active=len(idx), member_messages=int(posts.sum()), questions=len(asked),
        answered=len(answered), spam_messages=int(spam_g.sum()),
        operator_messages=int(content.posts.sum()), ritual=bool(content.ritual.any()),
        talks=int(np.count_nonzero(content.talk)), referrals_brought=model.pending_referrals,
        active_g=active_g, member_messages_g=member_posts_g, spam_g=spam_g,
        messages_g=messages_g, core_g=core_g,
    )
