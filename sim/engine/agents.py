"""The per-agent reference engine: one ``mesa.Agent`` per member, stepped the classic Mesa way.

This module is the readable specification of the member model.  Where :mod:`sim.engine.members`
and :mod:`sim.engine.churn` update whole columns at once, here each :class:`Member` decides for
itself, one member at a time, with plain Python numbers, so the equations read as what a
member does in a day:

1. :meth:`Member.open_group`: open the group or not (M3, M5), then post and ask (M1, M5);
2. the model tallies each group's day (posts, active experts, ads, the value on offer);
3. :meth:`Member.live_day`: get answers (P9), a first reply or none (M7), read ads (M6), take in
   value (M1), trust drift (M2), belonging from the ritual (M4), habit (M3, P4), fatigue (M3),
   turn spammer (M6), bring a friend (P10), earn points (P6);
4. the shared phases run: lifecycle stage, rules and their actions (:mod:`sim.engine.rule_phase`);
5. :meth:`Member.consider_leaving`: the churn hazard, part by cause, and the dominant cause (G2).

Groups, acquisition, operator content, rules, actions and metrics are model-level structures
shared with the vectorised engine (:class:`sim.engine.vector.VectorMembers`), run by
:class:`sim.engine.model.CommunityModel`, which keeps both engines
on one file format and one set of outputs.  Members' attributes are loaded from the model's
columns before each member phase and stored back after it, because the shared phases read and
write those columns.  Randomness comes from one ``random.Random`` per replicate; the engines
draw different numbers, so they agree in distribution, not run by run (``tests/test_engines.py``).

It is slow by design (a Python call per member per phase): use it for populations of a few
thousand, and ``--engine vector`` (the default) for everything else.
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.domain import CAUSES, CHURNED, IN_GROUP, MAX_POSTS_PER_DAY, POSTS_Q_CEILING, newcomer_since

if TYPE_CHECKING:
    from sim.engine.model import CommunityModel

from sim.engine.members import (
    EXPERT,
    OperatorContent,
    broadcast_strain,
    close_member_day,
    group_pull,
    momentum,
    posting_factor,
    value_offered,
)

# The member fields an agent reads or writes; loaded from the columns before each phase.
STATE = (
    "interest",
    "trust",
    "habit",
    "fatigue",
    "stimulus",
    "spam_exposure",
    "tyranny_exposure",
    "offtopic_exposure",
    "commitment",
    "belonging",
    "voice",
    "frailty",
    "points",
    "days_inactive",
    "posts",
    "posts_today",
    "spam_today",
    "join_day",
    "group",
    "archetype",
    "arch_activity",
    "first_post_day",
    "first_reply",
    "posted_again",
    "title",
    "spammer",
    "active_today",
    "asked_today",
    "answered_today",
)
# The fields a member's day changes; stored back into the columns after it.
CHANGED_BY_DAY = (
    "interest",
    "trust",
    "habit",
    "fatigue",
    "stimulus",
    "spam_exposure",
    "tyranny_exposure",
    "offtopic_exposure",
    "belonging",
    "points",
    "days_inactive",
    "posts",
    "posts_today",
    "spam_today",
    "first_post_day",
    "first_reply",
    "posted_again",
    "spammer",
    "active_today",
    "asked_today",
    "answered_today",
)


class Member(mesa.Agent):
    """One member: interest, trust, habit, fatigue and the rest, as plain attributes."""

    # The member's state (STATE), copied from the columns before a day and back after it.
    interest: float
    trust: float
    habit: float
    fatigue: float
    stimulus: float
    spam_exposure: float
    tyranny_exposure: float
    offtopic_exposure: float
    commitment: float
    belonging: float
    voice: float
    points: float
    arch_activity: float
    days_inactive: int
    posts: int
    posts_today: int
    spam_today: int
    join_day: int
    group: int
    archetype: int
    first_post_day: int
    first_reply: int
    title: int
    posted_again: bool
    spammer: bool
    active_today: bool
    asked_today: bool
    answered_today: bool

    def __init__(self, model: CommunityModel, engine: AgentMembers, member_id: int):
        super().__init__(model)
        self.engine = engine  # the agents engine's own state: its random stream, archetype tables, tallies
        self.member_id = member_id
        self.row = -1
        self.asked = False
        self.posts_now = 0

    # --- 1. open the group, post, ask -----------------------------------------------------
    def open_group(self, pull: float) -> None:
        """Open the group today with probability logistic(log-odds) (M3, M5); if open, post and ask.

        The log-odds add the group's pull (``pull``: its activity, core share, operator posts,
        ritual and talk), the archetype's offset, interest, trust and habit, minus fatigue, plus
        any stimulus an action left for today, plus the momentum of recent activity,
        plus a newcomer's curiosity in their first days.  Posts are a geometric count whose mean grows
        with interest and the member's voice (participation inequality, M5).
        """
        e, p = self.engine, self.model.params
        z = (
            pull
            + self.arch_activity
            + p.act_interest * self.interest
            + p.act_trust * self.trust
            + p.act_habit * self.habit
            - p.act_fatigue * self.fatigue
            + self.stimulus
            + momentum(p, self.days_inactive)  # recent activity pulls: days come in runs, breaks last
            + (p.act_newcomer if self.is_newcomer() else 0.0)
        )
        self.stimulus = 0.0
        rnd = e.member_random
        self.active_today = rnd.random() < 1.0 / (1.0 + math.exp(-z))
        self.posts_today = 0
        self.asked = False
        if not self.active_today:
            return
        mean = (
            e.arch_posts[self.archetype] * self.interest * self.voice * 2.0 * p.post_rate * e.posting_factor[self.group]
        )
        if self.is_newcomer() and self.first_post_day < 0:
            mean += p.newcomer_intro  # a newcomer who has said nothing yet says hello (M7)
        if mean > 0:
            q = min(mean / (1.0 + mean), POSTS_Q_CEILING)  # P(k) = (1 - q) q^k
            log_u, log_q = math.log(max(rnd.random(), 1e-30)), math.log(max(q, 1e-12))
            if not p.conversation_posts:
                self.posts_today = int(min(log_u / log_q, MAX_POSTS_PER_DAY))
            elif log_u <= log_q:  # posting at all, a posting day is a conversation
                more = q / (1.0 - q) + p.conversation_posts
                q2 = min(max(more / (1.0 + more), 1e-12), POSTS_Q_CEILING)
                self.posts_today = 1 + int(min((log_u - log_q) / math.log(q2), MAX_POSTS_PER_DAY - 1))
            else:
                self.posts_today = 0
        self.posts += self.posts_today
        self.asked = rnd.random() < p.question_rate * e.arch_questions[self.archetype] * self.voice

    # --- 3. the rest of the day ------------------------------------------------------------
    def live_day(self, day: GroupDay) -> None:
        """Answers, a first reply, ads, value, drift, belonging, habit, fatigue, spam, referrals, points."""
        m, e, p, pol = self.model, self.engine, self.model.params, self.model.policy.settings
        rnd, g, active = e.member_random, self.group, self.active_today

        # a question answered by an operator (trust discounted by the answer time, P9) or an expert
        self.asked_today = self.asked
        self.answered_today = False
        if self.asked:
            u = rnd.random()
            rate = pol.service.answer_rate
            if u < rate:
                e.operator_answers += 1
                self.answered_today = True
                self.trust += p.trust_answer_gain * day.answer_speed * (1 - self.trust)
            elif u < rate + (1 - rate) * day.expert_answers[g]:
                self.answered_today = True
                self.trust += p.trust_answer_gain * (1 - self.trust)
            else:
                self.trust -= p.trust_unanswered_loss * self.trust

        # a newcomer's first contribution, welcomed or ignored (M7)
        if self.posts_today > 0 or self.asked:
            if 0 <= self.first_post_day < m.day:
                self.posted_again = True
            elif self.first_post_day < 0:
                self.first_post_day = m.day
                peers = max(day.member_posts[g] - self.posts_today, 0)
                reply = 1 - (1 - pol.service.answer_rate) * (1 - p.peer_reply_prob) ** peers
                if rnd.random() < reply or self.answered_today:
                    self.first_reply = 1
                    self.trust += p.trust_answer_gain * (1 - self.trust)
                    self.habit += p.welcome_habit_gain * (1 - self.habit)
                    self.stimulus += p.welcome_stimulus
                else:
                    self.first_reply = 0
                    self.trust -= p.newcomer_ignored_trust_loss * self.trust

        self.spam_today = int(p.spam_posts_per_day) if self.spammer else 0

        # value raises interest (M1); interest and trust drift; ads erode both (M6, M2)
        self.interest *= 1 - p.interest_decay
        if active:
            self.interest += p.interest_gain * day.value[g] * (1 - self.interest)
        self.trust = self.trust * (1 - p.trust_drift) + p.trust_drift * p.newcomer_trust
        self.spam_exposure *= 1 - p.exposure_decay
        self.tyranny_exposure *= 1 - p.exposure_decay
        self.offtopic_exposure *= 1 - p.exposure_decay
        if active:
            self.offtopic_exposure += day.operator_posts[g] * (1 - pol.content.focus)
            seen = day.spam[g]
            if seen:
                self.interest -= p.interest_spam_loss * seen
                self.trust -= p.trust_spam_loss * seen * self.trust
                self.spam_exposure += seen
        self.interest = min(max(self.interest, 0.0), 1.0)
        self.trust = min(max(self.trust, 0.0), 1.0)

        # belonging from the ritual attended (M4); habit from showing up, more on ritual days (M3, P4)
        self.belonging *= 1 - p.belonging_decay
        if active and day.ritual[g]:
            self.belonging += p.ritual_belonging_gain * (1 - self.belonging)
        self.habit *= 1 - p.habit_decay
        if active:
            self.habit += (p.habit_gain + p.ritual_habit_gain * day.ritual[g]) * (1 - self.habit)

        # fatigue from messages beyond the attention budget and from operator broadcasts beyond
        # what a member tolerates, unless muted by long silence (M3, P4)
        self.fatigue *= 1 - p.fatigue_recovery
        if self.days_inactive < p.silent_after_days:
            self.fatigue += p.fatigue_gain * day.overload[g] + day.broadcast_strain[g]
        self.days_inactive = 0 if active else self.days_inactive + 1

        # a disaffected member who stays turns spammer (M6)
        if not self.spammer and self.interest < p.spam_turn_interest and rnd.random() < p.spam_turn_prob:
            self.spammer = True

        if active:
            # trust and the reward make members bring friends (P10)
            refer = (
                p.referral_base
                * (1 + p.referral_reward_effect * pol.rewards.referral_reward)
                * self.trust
                * e.arch_referral[self.archetype]
            )
            if rnd.random() < refer:
                m.pending_referrals += 1
            # points for taking part (P6)
            pts = pol.rewards.points
            earned = pts.active_day + pts.post * self.posts_today + (pts.question if self.asked else 0)
            self.points += earned
            e.points_awarded += earned

    def is_newcomer(self) -> bool:
        """Within their first ``newcomer_days``, and not there on day 0 (M7)."""
        return self.join_day > newcomer_since(self.model.day, self.model.params.newcomer_days)

    def is_core(self) -> bool:
        """A core member (M5): habit, trust and posts over the core thresholds."""
        p = self.model.params
        return self.habit >= p.core_habit and self.trust >= p.core_trust and self.posts >= p.core_min_posts

    # --- 5. churn -------------------------------------------------------------------------
    def consider_leaving(self) -> str | None:
        """Leave today with the churn hazard's probability; return the dominant cause, or None (G2).

        The hazard is a sum of parts, one per cause; it is scaled by the archetype, the fee's
        commitment (P2), belonging (M4), long silence, a title, and a newcomer's first days (M7),
        and by the member's own frailty, drawn at joining: the prone leave first.
        """
        e, p = self.engine, self.model.params
        parts = (
            p.churn_base,  # evaporation
            p.churn_boredom * (1 - self.interest) ** 2,  # boredom
            p.churn_lost_trust * (1 - self.trust) ** 2,  # lost trust
            p.churn_fatigue * self.fatigue**2,  # fatigue
            p.churn_harassment * self.spam_exposure,  # harassment
            p.churn_tyranny * self.tyranny_exposure,  # tyranny
            p.churn_lost_focus * self.offtopic_exposure,  # lost focus
            e.leaderless_share[self.group],  # leaderless
        )
        hazard = (
            sum(parts)
            * e.arch_churn[self.archetype]
            * self.frailty
            * (1 - self.commitment)
            * (1 - p.belonging_churn_cut * self.belonging)
        )
        if self.days_inactive >= p.silent_after_days:
            hazard *= p.silent_churn_factor
        if self.title > 0:
            hazard *= p.title_churn_factor
        if self.is_newcomer():
            hazard *= 1 + p.newcomer_churn_weight
        if e.member_random.random() < hazard:
            return CAUSES[parts.index(max(parts))]
        return None


class GroupDay:
    """What each group offers its members today, tallied after everyone has opened it or not."""

    def __init__(self, model: CommunityModel, content: OperatorContent, members: list[Member]):
        p, pol, n = model.params, model.policy.settings, model.groups.count
        self.operator_posts = content.posts.tolist()
        self.ritual = content.ritual.tolist()
        self.member_posts = [0] * n
        experts = [0] * n
        self.spam = [0] * n
        for member in members:
            if member.active_today:
                self.member_posts[member.group] += member.posts_today
                if member.archetype == EXPERT:
                    experts[member.group] += 1
            if member.spammer:
                self.spam[member.group] += int(p.spam_posts_per_day)
        self.expert_answers = [1.0 - (1.0 - p.expert_answer_prob) ** e for e in experts]
        self.answer_speed = math.exp(-pol.service.answer_within_hours / p.answer_time_scale)
        self.value = value_offered(model, content, np.array(self.member_posts, dtype=float)).tolist()
        self.broadcast_strain = broadcast_strain(model, content).tolist()
        self.overload: list[float] = []
        self.messages: list[int] = []
        for g in range(n):
            ops, posts = self.operator_posts[g], self.member_posts[g]
            self.messages.append(ops + posts + self.spam[g])
            self.overload.append(max(ops + posts - p.attention_budget, 0) / p.attention_budget)
        model.groups.count_leadership((content.posts > 0) | (np.array(experts) > 0))


class AgentMembers:
    """The agents engine (``--engine agents``): one :class:`Member` agent per member.

    A sibling of :class:`sim.engine.members.VectorMembers`: the community model
    (:class:`sim.engine.model.CommunityModel`) runs the shared phases and hands the member
    phases to whichever of the two its setup names.
    """

    name = "agents"

    def __init__(self, model: CommunityModel):
        self.model = model
        seed = model.scenario.seed
        self.member_random = random.Random(
            int(np.random.SeedSequence(entropy=seed, spawn_key=(model.replicate, 7)).generate_state(1)[0])
        )
        self.members_by_id: dict[int, Member] = {}
        self.posting_factor: list[float] = []
        self.leaderless_share: list[float] = []
        self.operator_answers = self.points_awarded = 0
        tables = model.archetype_tables
        self.arch_posts, self.arch_questions, self.arch_referral, self.arch_churn = (
            tables[f].tolist() for f in ("posts", "questions", "referral", "churn")
        )

    # --- the member phases ------------------------------------------------------------------
    def live_day(self, content: OperatorContent) -> None:
        """Every member opens the group or not; groups tally; every member lives the rest of the day."""
        model = self.model
        members = self._load()
        p, groups = model.params, model.groups
        pull = group_pull(model, content).tolist()  # a model-level structure, shared with the vector engine
        factor = posting_factor(model)
        self.posting_factor = [1.0] * groups.count if factor is None else factor.tolist()
        for member in members:
            member.open_group(pull[member.group])
        day = GroupDay(model, content, members)
        model.pending_referrals = self.operator_answers = self.points_awarded = 0
        for member in members:
            member.live_day(day)
        model.spend("service", self.operator_answers * p.cost_answer)
        model.spend("rewards", self.points_awarded * p.cost_point)
        self._store(members, CHANGED_BY_DAY)
        model.pop.stimulus[model.pop.status != IN_GROUP] = 0
        self._tally(members, day, content)

    def leave(self) -> None:
        """Every member considers leaving; leavers exit together, by cause."""
        model = self.model
        members = self._load()
        p, days = model.params, model.groups.days_leaderless
        self.leaderless_share = (np.minimum(days / p.leaderless_days, 1.0) * p.churn_leaderless).tolist()
        by_cause: dict[str, list[int]] = {}
        for member in members:
            cause = member.consider_leaving()
            if cause is not None:
                by_cause.setdefault(cause, []).append(member.row)
        for cause in CAUSES:
            if cause in by_cause:
                model.exit_members(np.array(by_cause[cause], dtype=np.intp), CHURNED, cause)

    # --- helpers ------------------------------------------------------------------------
    def _load(self) -> list[Member]:
        """The current members as agents, in row order, their attributes read from the columns.

        New members get an agent; agents of members who left are removed from the model.
        """
        model = self.model
        pop = model.pop
        rows = np.flatnonzero(pop.status == IN_GROUP)
        ids = pop.member_id[rows].tolist()
        current = set(ids)
        for member_id in [i for i in self.members_by_id if i not in current]:
            self.members_by_id.pop(member_id).remove()
        members = []
        for member_id, row in zip(ids, rows.tolist()):
            member = self.members_by_id.get(member_id)
            if member is None:
                member = self.members_by_id[member_id] = Member(model, self, member_id)
            member.row = row
            members.append(member)
        for name in STATE:
            for member, value in zip(members, getattr(pop, name)[rows].tolist()):
                setattr(member, name, value)
        return members

    def _store(self, members: list[Member], names: tuple[str, ...]) -> None:
        model = self.model
        rows = np.fromiter((m.row for m in members), dtype=np.intp, count=len(members))
        for name in names:
            column = getattr(model.pop, name)
            column[rows] = [getattr(m, name) for m in members]

    def _tally(self, members: list[Member], day: GroupDay, content: OperatorContent) -> None:
        """Core members and today's per-group figures, as the vectorised engine reports them."""
        model = self.model
        n = model.groups.count
        active_g, core_g = [0] * n, [0] * n
        core_rows = []
        for member in members:
            active_g[member.group] += member.active_today
            if member.is_core():
                core_g[member.group] += 1
                core_rows.append(member.row)
        is_core = np.zeros(model.pop.n, dtype=bool)
        is_core[core_rows] = True
        close_member_day(
            model,
            content,
            is_core=is_core,
            active_g=np.array(active_g, dtype=np.int64),
            core_g=np.array(core_g, dtype=np.int64),
            member_posts_g=np.array(day.member_posts, dtype=float),
            spam_g=np.array(day.spam, dtype=np.int64),
            messages_g=np.array(day.messages, dtype=float),
            questions=sum(m.asked for m in members),
            answered=sum(m.answered_today for m in members),
        )
