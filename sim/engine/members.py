"""The daily equations of members and operators, vectorised over all members at once.

Two phases of a day live here:

- :func:`operator_content` (P4, P5, G5): how many operator posts each group gets today, the
  ritual weekday and guest talks, and what they cost;
- :func:`member_day` (M1, M2, M3, M5, M6, P9, P10): who is active, who posts and asks, who
  gets answered, how interest, trust, habit and fatigue move, who turns spammer, who brings a
  friend.

Every coefficient comes from :class:`sim.params.Params`.  No Python loop runs over members: the
per-member arithmetic runs in compiled passes (:mod:`sim.kernels`), over row ranges in threads
for large populations (:mod:`sim.row_threads`), with NumPy's transcendentals and random draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.domain import ARCHETYPES, WEEKDAYS, newcomer_since
from sim.engine.state import kernels, row_threads

EXPERT = ARCHETYPES.index("expert")
BLOCK = 1 << 16  # rows per block of the activity pass: its log-odds stay in cache until the draw
F32 = np.float32


@dataclass
class OperatorContent:
    """What the operators put into each group today."""

    posts: np.ndarray  # operator posts per group (float32)
    ritual: np.ndarray  # 1.0 where today is the ritual slot (float32)
    talk: np.ndarray  # 1.0 where a guest talk happens today (float32)


def scheduled(day: int, per_period: float, period: int) -> int:
    """Events due today when ``per_period`` are spread evenly over each ``period`` days."""
    return int(np.floor((day + 1) * per_period / period) - np.floor(day * per_period / period))


def core_mask(pop, p) -> np.ndarray:
    """Core members (M5): habit, trust and posts over the core thresholds, still members."""
    return (
        (pop.status == 0) & (pop.habit >= p.core_habit) & (pop.trust >= p.core_trust) & (pop.posts >= p.core_min_posts)
    )


def operator_content(model) -> OperatorContent:
    """Operator posts, the weekly ritual, guest talks, events and sales pushes today (P4, P5, P12, P14)."""
    content, p, groups = model.policy.settings.content, model.params, model.groups
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
    model.spend(
        "content",
        float(posts.sum()) * p.cost_operator_post + float(np.count_nonzero(talk_due & inhabited)) * p.cost_guest_talk,
    )
    if content.events_per_month and scheduled(model.day, content.events_per_month, 30):
        from sim.engine.actions import hold_event

        model.spend("content", hold_event(model, np.flatnonzero(model.pop.status == 0)))
    if content.sales_pushes_per_week and model.day >= content.sales_start_day:
        if scheduled(model.day - content.sales_start_day, content.sales_pushes_per_week, 7):
            from sim.engine.actions import sales_push

            model.spend("content", sales_push(model, np.flatnonzero(model.pop.status == 0), content.sales_price))
    return OperatorContent(posts=posts, ritual=ritual, talk=talk)


def group_pull(model, content: OperatorContent) -> np.ndarray:
    """Each group's pull on its members' daily log-odds of activity (M3, M5, P3, P4, P5).

    Yesterday's active share and core share, fresh operator posts, the ritual and a guest talk
    pull members in.  A copy opened without enough core members (fewer than ``copy_min_core``)
    is a weak copy: it has no culture of its own yet and loses ``act_weak_copy`` (P3).
    """
    p, groups = model.params, model.groups
    weak = groups.is_copy & (groups.core_prev < p.copy_min_core)
    return (
        p.act_peer * groups.active_ratio_prev
        + p.act_core * groups.core_share_prev
        + p.act_content * np.log1p(content.posts)
        + model.by_group("act_ritual") * content.ritual
        + p.act_talk * content.talk
        + model.by_group("act_bias")
        - p.act_weak_copy * weak
    ).astype(F32)


MOMENTUM_DAYS = 64  # beyond this many days away, momentum is taken as gone


def momentum(p, days_inactive: int) -> float:
    """The pull of recent activity (M3): ``act_momentum`` the day after an active day, fading by
    ``1 / momentum_days`` each further day away.  Active days come in runs, and a break, once
    long, tends to last: the burstiness of real members' activity."""
    return _momentum(p.act_momentum, p.momentum_days, days_inactive)


def _momentum(act_momentum: float, momentum_days: float, days_inactive: int) -> float:
    if days_inactive >= MOMENTUM_DAYS:
        return 0.0
    return act_momentum * float(np.exp(-days_inactive / momentum_days))


def momentum_tables(model) -> np.ndarray:
    """:func:`momentum` for 0 .. MOMENTUM_DAYS - 1 days inactive, a row for each world, for the
    compiled pass (computed once per parameter set: a run's parameters do not change)."""
    key = (tuple(model.world_values["act_momentum"]), model.params.momentum_days)
    table = _MOMENTUM_TABLES.get(key)
    if table is None:
        table = np.array(
            [[_momentum(m, model.params.momentum_days, d) for d in range(MOMENTUM_DAYS)] for m in key[0]], dtype=F32
        )
        table.flags.writeable = False
        _MOMENTUM_TABLES[key] = table
    return table


_MOMENTUM_TABLES: dict[tuple[tuple[float, ...], float], np.ndarray] = {}


def active_members(model, content: OperatorContent) -> np.ndarray:
    """Who opens the group today (M3, M5): habit plus stimulus, minus fatigue; row indices.

    The daily log-odds are interest, trust and habit pulls, the group's pull (yesterday's
    active ratio, its core share, fresh operator posts, the ritual, a guest talk), any
    stimulus from yesterday's actions, the archetype's offset, minus fatigue.
    """
    pop, p = model.pop, model.params
    z = model.scratch("logit", pop.n)
    # the draws come first, so each block of rows can go from log-odds to decision while it is
    # still in cache
    u = model.draws("active", out=model.scratch("tmp", pop.n))
    pull = group_pull(model, content)
    constants = (
        model.group_worlds(),
        F32(p.act_interest),
        F32(p.act_trust),
        F32(p.act_habit),
        F32(-p.act_fatigue),
        momentum_tables(model),
        model.per_world("act_newcomer"),
    )

    def rows(lo: int, hi: int) -> list[np.ndarray]:
        active = []
        for start in range(lo, hi, BLOCK):
            end = min(start + BLOCK, hi)
            kernels.activity_logits(
                pull,
                pop.group,
                pop.arch_activity,
                pop.interest,
                pop.trust,
                pop.habit,
                pop.fatigue,
                pop.stimulus,
                pop.days_inactive,
                pop.join_day,
                newcomer_since(model.day, p.newcomer_days),
                *constants,
                z,
                start,
                end,
            )
            # active when u < 1 / (1 + exp(-z)), i.e. u * (1 + exp(-z)) < 1: no division needed
            np.exp(z[start:end], out=z[start:end])
            active.append(kernels.draw_active(z, u, pop.status, pop.stimulus, pop.active_today, start, end))
        return active

    return row_threads.joined([block for part in row_threads.over_ranges(pop.n, rows) for block in part])


def value_offered(model, content: OperatorContent, member_posts_g: np.ndarray) -> np.ndarray:
    """The value each group offers its readers today (M1, P5), capped at what one can take in.

    Operator posts (by quality and focus), a guest talk (worth three posts) and members' own
    posts add up.  It also moves each group's memory of how much of the content given to it
    (by guests and operators, not by its members) came from guests.
    """
    p, pol, groups = model.params, model.policy.settings, model.groups
    operator = p.value_per_operator_post * pol.content.quality * pol.content.focus * content.posts
    guest = p.value_per_operator_post * 3.0 * content.talk
    total = operator + guest + p.value_member_posts * np.log1p(member_posts_g)
    rate = F32(1 / p.guest_memory_days)
    groups.guest_value += rate * (guest - groups.guest_value)
    groups.led_value += rate * (guest + operator - groups.led_value)
    return np.minimum(p.value_cap, total).astype(F32)


def posting_factor(model) -> np.ndarray | None:
    """Per group, the share of their usual posting members keep, or None when it is 1 everywhere.

    Attention dilutes with size (P3; social loafing): ``(size / dilution_size)^-post_dilution``.
    A group whose content comes from invited guests rather than its own operators and experts
    makes its members lazy (P5).
    """
    groups, p = model.groups, model.params
    factor = None
    if any(model.world_values["post_dilution"]):
        size = np.maximum(groups.size, 1).astype(np.float64)
        factor = (size / p.dilution_size) ** -model.by_group("post_dilution")
    if groups.guest_value.any() and p.guest_laziness:
        reliance = groups.guest_value / np.maximum(groups.led_value, F32(1e-9))
        lazy = 1 - F32(p.guest_laziness) * reliance
        factor = lazy if factor is None else factor * lazy
    return None if factor is None else np.asarray(factor, dtype=F32)


def member_posts(model, idx: np.ndarray) -> np.ndarray:
    """Posts of today's active members: geometric counts whose mean is set by archetype and interest.

    A geometric count (overdispersed, unlike a Poisson) gives the heavy tail of participation:
    most active members read without posting, a few post a lot (M3, M5).  With
    ``conversation_posts`` a member posts at all with the same odds, and a posting day holds that
    many more posts on average: in a chat, speaking is a conversation (a question, its answers,
    the replies), so even a member who seldom posts writes several messages the day they do (on
    the real IRC file, the median posting day holds 11 messages and only 14% hold one).
    """
    pop, p = model.pop, model.params
    factor = posting_factor(model)
    # P(k) = (1 - q) q^k with q = mean / (1 + mean); k = floor(log u / log q)
    q = np.empty(len(idx), dtype=F32)
    conversations = any(model.world_values["conversation_posts"])
    q2 = np.empty(len(idx) if conversations else 0, dtype=F32)

    def odds(a: int, b: int) -> None:  # today's active members a..b (positions in idx)
        kernels.posting_odds(
            idx[a:b],
            pop.archetype,
            model.archetype_tables["posts"],
            pop.interest,
            pop.voice,
            pop.group,
            factor if factor is not None else q[:0],
            factor is not None,
            model.per_world("post_scale"),
            pop.join_day,
            pop.first_post_day,
            newcomer_since(model.day, p.newcomer_days),
            model.per_world("newcomer_intro"),
            model.group_worlds(),
            q[a:b],
        )
        if conversations:
            kernels.conversation_odds(
                idx[a:b], q[a:b], pop.group, model.group_worlds(), model.per_world("conversation_posts"), q2[a:b]
            )
            np.log(q2[a:b], out=q2[a:b])
        np.log(q[a:b], out=q[a:b])

    def counts(a: int, b: int) -> np.ndarray:
        np.maximum(u[a:b], F32(1e-30), out=u[a:b])
        np.log(u[a:b], out=u[a:b])
        if conversations:
            return kernels.record_conversations(idx[a:b], u[a:b], q[a:b], q2[a:b], pop.posts_today, pop.posts)
        return kernels.record_posts(idx[a:b], u[a:b], q[a:b], pop.posts_today, pop.posts)

    row_threads.over_ranges(len(idx), odds)
    u = model.draws("posts", idx)
    pop.posts_today[:] = 0
    return row_threads.joined(row_threads.over_ranges(len(idx), counts))


def first_contributions(model, rows, member_posts_g) -> None:
    """A newcomer's first post or question, answered or ignored (M7, P9; Joyce & Kraut 2006).

    A first question is answered as any question is; a first post gets a reply from the
    operators (at the answer rate) or from the members posting in the group that day.  A reply
    welcomes: trust and habit rise, so the newcomer is more likely to come back and post again;
    being ignored costs trust, more than a later unanswered question does (M7).  ``first_reply`` and
    ``posted_again`` keep the record.  ``rows``: today's members who posted or asked, in order.
    """
    pop, p = model.pop, model.params
    if not len(rows):
        return
    new = kernels.first_contributors(rows, pop.first_post_day, pop.posted_again, model.day)
    if not len(new):
        return
    # others who posted in the group today may reply (not counting the newcomer's own posts)
    peers = np.maximum(member_posts_g[pop.group[new]] - pop.posts_today[new], 0)
    reply = 1 - (1 - model.policy.settings.service.answer_rate) * (1 - p.peer_reply_prob) ** peers
    replied = model.draws("welcome", new) < reply
    replied |= pop.answered_today[new]  # a first question answered counts as a reply
    welcomed, ignored = new[replied], new[~replied]
    pop.first_reply[welcomed] = 1
    pop.first_reply[ignored] = 0
    pop.trust[welcomed] += p.trust_answer_gain * (1 - pop.trust[welcomed])
    pop.habit[welcomed] += p.welcome_habit_gain * (1 - pop.habit[welcomed])
    pop.stimulus[welcomed] += model.by_group("welcome_stimulus", pop.group[welcomed])
    pop.trust[ignored] -= p.newcomer_ignored_trust_loss * pop.trust[ignored]  # first impressions weigh more (M7)


def broadcast_strain(model, content: OperatorContent) -> np.ndarray:
    """Fatigue a listening member gains today from operator posts beyond what they tolerate (M3, P4).

    Broadcasts tire people well before the attention budget: a few a week go unnoticed, several
    a day make members mute the group and leave (Localytics 2017).
    """
    p = model.params
    return (F32(p.broadcast_fatigue) * np.maximum(content.posts - F32(p.broadcast_tolerance), F32(0))).astype(F32)


def member_day(model, content: OperatorContent) -> None:
    """Activity, posts, questions and answers, and the drift of each member's state.

    Interest rises with value and decays without it (M1); trust moves with answers and ads (M2);
    ads from disaffected members who stay (M6); friends brought by trusting members (P10).
    """
    pop, p, groups = model.pop, model.params, model.groups
    pol = model.policy.settings
    grp, arch = pop.group, pop.archetype
    tables = model.archetype_tables

    idx = active_members(model, content)
    posts = member_posts(model, idx)
    # --- questions, answered by operators or by an active expert (P9) ---
    u_ask = model.draws("ask", idx)
    parts = row_threads.over_ranges(
        len(idx),
        lambda a, b: kernels.tally_active(
            idx[a:b],
            grp,
            arch,
            pop.voice,
            posts[a:b],
            u_ask[a:b],
            tables["questions"],
            F32(p.question_rate),
            EXPERT,
            groups.count,
        ),
    )
    member_posts_g = sum(part[0] for part in parts)  # sums of whole numbers: exact in any order
    experts_g = sum(part[1] for part in parts)
    asks = row_threads.joined([part[2] for part in parts])
    contributors = row_threads.joined([part[3] for part in parts])
    asked = idx[asks]
    led = (content.posts > 0) | (experts_g > 0)  # an operator posted or an expert was around (G2)
    groups.count_leadership(led)
    expert_answers = 1.0 - (1.0 - p.expert_answer_prob) ** experts_g
    u = model.draws("answer", asked)
    rate_op = pol.service.answer_rate
    by_operator = u < rate_op
    answered_mask = by_operator | (u < rate_op + (1.0 - rate_op) * expert_answers[grp[asked]])
    answered, ignored = asked[answered_mask], asked[~answered_mask]
    pop.asked_today[:] = False
    pop.asked_today[asked] = True
    pop.answered_today[:] = False
    pop.answered_today[answered] = True
    # a slow answer builds less trust (P9): operators' answers count exp(-hours / scale)
    speed = np.where(
        by_operator[answered_mask], F32(np.exp(-pol.service.answer_within_hours / p.answer_time_scale)), F32(1)
    )
    pop.trust[answered] += p.trust_answer_gain * speed * (1 - pop.trust[answered])
    pop.trust[ignored] -= p.trust_unanswered_loss * pop.trust[ignored]
    model.spend("service", float(np.count_nonzero(by_operator)) * p.cost_answer)
    first_contributions(model, contributors, member_posts_g)

    # --- ads from spammers (M6) ---
    pop.spam_today[:] = 0
    spam_g = sum(
        row_threads.over_ranges(
            pop.n,
            lambda lo, hi: kernels.tally_spam(
                pop.status, pop.spammer, grp, pop.spam_today, int(p.spam_posts_per_day), groups.count, lo, hi
            ),
        )
    )

    # --- the drift of each member's state, one compiled pass (kernels.drift) over each range of rows ---
    value_g = value_offered(model, content, member_posts_g)  # M1
    messages_g = content.posts + member_posts_g + spam_g
    # ads wear members down as harassment (spam_exposure), not as the fatigue of a busy group
    overload_g = (np.maximum(messages_g - spam_g - p.attention_budget, 0) / p.attention_budget).astype(F32)
    pts = pol.rewards.points
    points_on = bool(pts.post or pts.active_day or pts.question)
    is_core = np.empty(pop.n, dtype=bool)
    spam_seen_g, fatigue_g = spam_g.astype(F32), (overload_g * F32(p.fatigue_gain) + broadcast_strain(model, content))
    active_posts = np.append(posts, np.int32(0))  # one spare slot for the branch-free pass

    def rows(lo: int, hi: int):
        counts = np.zeros((2, groups.count), dtype=np.int64)  # this range's active and core members
        first, end = np.searchsorted(idx, (lo, hi))  # this range's active members: idx[first:end]
        refer = np.empty(end - first + 1, dtype=F32)  # their referral odds, and a spare slot
        turn = kernels.drift(
            pop.status,
            pop.active_today,
            grp,
            arch,
            pop.days_inactive,
            pop.spammer,
            pop.posts,
            pop.interest,
            pop.trust,
            pop.spam_exposure,
            pop.tyranny_exposure,
            pop.offtopic_exposure,
            pop.belonging,
            pop.habit,
            pop.fatigue,
            pop.points,
            value_g,
            spam_seen_g,
            content.posts,
            content.ritual,
            fatigue_g,
            tables["referral"],
            active_posts[first:],
            model.per_world("interest_kept"),
            model.group_worlds(),
            F32(p.interest_gain),
            F32(1 - p.trust_drift),
            F32(p.trust_drift * p.newcomer_trust),
            F32(1 - p.exposure_decay),
            F32(1 - pol.content.focus),
            F32(p.interest_spam_loss),
            F32(p.trust_spam_loss),
            F32(1 - p.belonging_decay),
            F32(p.ritual_belonging_gain),
            F32(1 - p.habit_decay),
            F32(p.habit_gain),
            F32(p.ritual_habit_gain),
            F32(1 - p.fatigue_recovery),
            float(p.silent_after_days),
            F32(p.spam_turn_interest),
            F32(p.referral_base * (1 + p.referral_reward_effect * pol.rewards.referral_reward)),
            points_on,
            float(pts.active_day),
            float(pts.post),
            F32(p.core_habit),
            F32(p.core_trust),
            float(p.core_min_posts),
            refer,
            is_core,
            counts[0],
            counts[1],
            lo,
            hi,
        )
        return turn, counts, refer[:-1]

    parts = row_threads.over_ranges(pop.n, rows)
    candidates = row_threads.joined([turn for turn, _, _ in parts])
    active_g, core_g = sum(counts for _, counts, _ in parts)
    refer_prob = row_threads.joined([refer for _, _, refer in parts])

    # --- disaffected members who stay turn spammer (M6) ---
    turned = candidates[model.draws("turn_spammer", candidates) < p.spam_turn_prob]
    pop.spammer[turned] = True

    # --- referrals (P10): trust and the reward make members bring friends ---
    referring = model.draws("refer", idx) < refer_prob
    model.pending_referrals = int(np.count_nonzero(referring))
    if model.worlds > 1:  # friends arrive in their referrer's world
        worlds_of = model.world_of(pop.group[idx[referring]])
        model.referrals_by_world[:] = np.bincount(worlds_of, minlength=model.worlds)

    # --- points for taking part (P6): the active day and posts were added in the pass ---
    if points_on:
        pop.points[asked] += pts.question
        awarded = len(idx) * pts.active_day + pts.post * int(posts.sum()) + pts.question * len(asked)
        model.spend("rewards", awarded * p.cost_point)

    # --- core members (M5) and today's per-group figures ---
    close_member_day(
        model,
        content,
        is_core=is_core,
        active_g=active_g,
        core_g=core_g,
        member_posts_g=member_posts_g,
        spam_g=spam_g,
        messages_g=messages_g,
        questions=len(asked),
        answered=len(answered),
    )


def close_member_day(
    model,
    content: OperatorContent,
    *,
    is_core,
    active_g,
    core_g,
    member_posts_g,
    spam_g,
    messages_g,
    questions: int,
    answered: int,
) -> None:
    """Keep today's core members and per-group figures: tomorrow's pull (M3, M5), the weak-copy
    test (P3) and the day's counts for the metrics.  Both engines end their member day here."""
    groups = model.groups
    model.is_core = is_core
    size = np.maximum(groups.size, 1)
    groups.active_ratio_prev[:] = active_g / size
    groups.core_share_prev[:] = core_g / size
    groups.core_prev[:] = core_g
    today = model.today
    today.active = int(active_g.sum())
    today.member_messages = int(member_posts_g.sum())
    today.questions = questions
    today.answered = answered
    today.spam_messages = int(spam_g.sum())
    today.operator_messages = int(content.posts.sum())
    today.ritual = bool(content.ritual.any())
    today.talks = int(np.count_nonzero(content.talk))
    today.referrals_brought = model.pending_referrals
    today.active_g = active_g
    today.member_messages_g = member_posts_g
    today.spam_g = spam_g
    today.messages_g = messages_g
    today.core_g = core_g
