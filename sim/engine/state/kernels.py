"""Compiled passes over the member columns: the member day's many column operations fused into few.

The vectorised member day (:mod:`sim.behavior`) once made some seventy whole-column NumPy passes
a day; at a million members each pass streams megabytes through memory, so the day was bound by
memory traffic, not arithmetic.  These Numba kernels do the same arithmetic in one loop per
stage, reading each member's fields once.

They reproduce the NumPy expressions they replaced bit for bit: float32 arithmetic in the same
order, constants rounded to float32 by the caller exactly as NumPy rounds a Python scalar, no
fused multiply-add (no ``fastmath``).  Transcendentals (``exp``, ``log``) and random draws stay
in NumPy between the kernels, so the random streams and their order are unchanged.  The
per-agent engine (:mod:`sim.agents`) remains the readable statement of the equations.

Compiled code is cached on disk (``cache=True``): the first run on a machine compiles for a few
seconds, later processes load it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.domain import MAX_POSTS_PER_DAY, POSTS_Q_CEILING

F32 = np.float32


# Each pass over rows ``lo..hi`` hands slices to a loop over ``range(len(...))``: with a loop index
# known to be non-negative, Numba drops its negative-index handling and the loop vectorises
# (``range(lo, hi)`` made the log-odds pass 2.2 times slower).


@njit(cache=True, nogil=True)
def activity_logits(
    pull,
    group,
    arch_activity,
    interest,
    trust,
    habit,
    fatigue,
    stimulus,
    days_inactive,
    join_day,
    newcomer_since,
    world_g,
    c_interest,
    c_trust,
    c_habit,
    c_fatigue,
    momentum,
    c_newcomer,
    out,
    lo,
    hi,
):
    """Minus each member's activity log-odds today (M3, M5), into ``out``, for rows ``lo..hi``.

    ``momentum[w, d]`` is the pull, in world ``w``, of having last been active ``d + 1`` days ago
    (``days_inactive`` is ``d`` as of yesterday), zero from the end of the table on; a member who
    joined after ``newcomer_since`` (:func:`sim.domain.newcomer_since`) is a newcomer, drawn in by
    ``c_newcomer[w]``.  ``world_g``: the world of each group (zeros for a community alone)."""
    _activity_logits(
        pull,
        group[lo:hi],
        arch_activity[lo:hi],
        interest[lo:hi],
        trust[lo:hi],
        habit[lo:hi],
        fatigue[lo:hi],
        stimulus[lo:hi],
        days_inactive[lo:hi],
        join_day[lo:hi],
        newcomer_since,
        world_g,
        c_interest,
        c_trust,
        c_habit,
        c_fatigue,
        momentum,
        c_newcomer,
        out[lo:hi],
    )


@njit(cache=True, nogil=True)
def _activity_logits(
    pull,
    group,
    arch_activity,
    interest,
    trust,
    habit,
    fatigue,
    stimulus,
    days_inactive,
    join_day,
    newcomer_since,
    world_g,
    c_interest,
    c_trust,
    c_habit,
    c_fatigue,
    momentum,
    c_newcomer,
    out,
):
    zero = np.float32(0.0)
    days = momentum.shape[1]
    for i in range(len(group)):
        g = group[i]
        w = world_g[g]
        z = pull[g] + arch_activity[i]
        z = z + interest[i] * c_interest
        z = z + trust[i] * c_trust
        z = z + habit[i] * c_habit
        z = z + fatigue[i] * c_fatigue
        z = z + stimulus[i]
        d = days_inactive[i]
        z = z + (momentum[w, d] if d < days else zero)
        z = z + (c_newcomer[w] if join_day[i] > newcomer_since else zero)
        out[i] = -z


@njit(cache=True, nogil=True)
def draw_active(exp_minus_z, u, status, stimulus, active_today, lo, hi):
    """Who is active among rows ``lo..hi``: ``u * (1 + exp(-z)) < 1`` among members; clears the
    stimulus spent today.  Returns the active rows in order (as ``np.flatnonzero`` would)."""
    idx = _draw_active(exp_minus_z[lo:hi], u[lo:hi], status[lo:hi], stimulus[lo:hi], active_today[lo:hi])
    idx += lo
    return idx


@njit(cache=True, nogil=True)
def _draw_active(exp_minus_z, u, status, stimulus, active_today):
    one = np.float32(1.0)
    count = 0
    for i in range(len(u)):
        a = ((exp_minus_z[i] + one) * u[i] < one) & (status[i] == 0)
        active_today[i] = a
        stimulus[i] = 0
        count += a
    idx = np.empty(count + 1, dtype=np.intp)  # one spare slot: the loop below writes every row, branch-free
    k = 0
    for i in range(len(u)):
        idx[k] = i
        k += active_today[i]
    return idx[:count]


@njit(cache=True, nogil=True)
def posting_odds(
    idx,
    archetype,
    posts_table,
    interest,
    voice,
    group,
    factor,
    use_factor,
    scale,
    join_day,
    first_post_day,
    newcomer_since,
    intro,
    world_g,
    out,
):
    """Per active member, ``q = mean / (1 + mean)`` (floored at 1e-12) of the geometric post count.

    ``scale`` and ``intro`` are per world (``world_g``: each group's): a newcomer who has not yet
    said anything adds ``intro`` to the mean (M7: newcomers say hello)."""
    one = np.float32(1.0)
    zero = np.float32(0.0)
    floor = np.float32(1e-12)
    ceiling = np.float32(POSTS_Q_CEILING)
    for k in range(len(idx)):
        i = idx[k]
        mean = posts_table[archetype[i]] * interest[i]
        mean = mean * voice[i]
        if use_factor:
            mean = mean * factor[group[i]]
        w = world_g[group[i]]
        mean = mean * scale[w]
        new = (join_day[i] > newcomer_since) & (first_post_day[i] < 0)
        mean = mean + (intro[w] if new else zero)
        q = mean / (one + mean)
        q = q if q < ceiling else ceiling
        out[k] = q if q > floor else floor


@njit(cache=True, nogil=True)
def record_posts(idx, log_u, log_q, posts_today, posts):
    """Posts of each active member, ``floor(log u / log q)``; stored as today's and added to the total."""
    out = np.empty(len(idx), dtype=np.int32)
    for k in range(len(idx)):
        i = idx[k]
        c = np.int32(min(log_u[k] / log_q[k], MAX_POSTS_PER_DAY))
        out[k] = c
        posts_today[i] = c
        posts[i] += c
    return out


@njit(cache=True, nogil=True)
def conversation_odds(idx, q, group, world_g, extra, out):
    """Per active member, ``q2 = m / (1 + m)`` of the geometric count of posts after a posting
    day's first, ``m = q / (1 - q) + extra`` (``extra``: each world's ``conversation_posts``): the
    posts a member with posting odds ``q`` adds beyond the first, lengthened by a conversation."""
    one = np.float32(1.0)
    floor = np.float32(1e-12)
    ceiling = np.float32(POSTS_Q_CEILING)
    for k in range(len(idx)):
        mean = q[k] / (one - q[k]) + extra[world_g[group[idx[k]]]]
        q2 = mean / (one + mean)
        q2 = q2 if q2 < ceiling else ceiling
        out[k] = q2 if q2 > floor else floor


@njit(cache=True, nogil=True)
def record_conversations(idx, log_u, log_q, log_q2, posts_today, posts):
    """Posts of each active member where a posting day is a conversation: none when ``u > q``
    (a member posts at all with the odds of the single geometric count), else
    ``1 + floor(log(u / q) / log q2)`` (``u / q`` is uniform given ``u <= q``); stored as today's
    and added to the total."""
    out = np.empty(len(idx), dtype=np.int32)
    for k in range(len(idx)):
        i = idx[k]
        c = np.int32(0)
        if log_u[k] <= log_q[k]:
            c = np.int32(1 + min((log_u[k] - log_q[k]) / log_q2[k], MAX_POSTS_PER_DAY - 1))
        out[k] = c
        posts_today[i] = c
        posts[i] += c
    return out


@njit(cache=True, nogil=True)
def drift(
    status,
    active_today,
    group,
    archetype,
    days_inactive,
    spammer,
    posts,
    interest,
    trust,
    spam_exposure,
    tyranny_exposure,
    offtopic_exposure,
    belonging,
    habit,
    fatigue,
    points,
    value_g,
    spam_g,
    operator_posts_g,
    ritual_g,
    overload_g,
    referral_table,
    active_posts,
    k_interest,
    world_g,
    interest_gain,
    k_trust,
    trust_add,
    k_exposure,
    offtopic_weight,
    interest_spam_loss,
    trust_spam_loss,
    k_belonging,
    ritual_belonging_gain,
    k_habit,
    habit_gain,
    ritual_habit_gain,
    k_fatigue,
    silent_after_days,
    spam_turn_interest,
    referral_scale,
    points_on,
    points_active_day,
    points_post,
    core_habit,
    core_trust,
    core_min_posts,
    refer_prob,
    is_core,
    active_g,
    core_g,
    lo,
    hi,
):
    """The rest of the member day, one member at a time (M1, M2, M3, M4, M5, M6, P4, P6, P10).

    For every member still in (those who left keep the state they left with): interest decays
    and, if active, grows with the value the group offered and falls with ads seen; trust drifts
    to the newcomer level and falls with ads; exposures fade and grow with ads and off-topic
    posts read; belonging grows at the ritual; habit grows with activity and the ritual; fatigue
    recovers and grows with overload unless the member is muted; days without activity count up.  Then the member's referral odds and points (if active),
    core status and the per-group counts of active and core members (added to ``active_g`` and
    ``core_g``).  Rows ``lo..hi``; ``refer_prob`` and ``active_posts`` start at the first active member
    among them and have one spare slot at the end.

    Returns the rows of disaffected members who may turn spammer (M6), in order.
    """
    candidates = _drift(
        status[lo:hi],
        active_today[lo:hi],
        group[lo:hi],
        archetype[lo:hi],
        days_inactive[lo:hi],
        spammer[lo:hi],
        posts[lo:hi],
        interest[lo:hi],
        trust[lo:hi],
        spam_exposure[lo:hi],
        tyranny_exposure[lo:hi],
        offtopic_exposure[lo:hi],
        belonging[lo:hi],
        habit[lo:hi],
        fatigue[lo:hi],
        points[lo:hi],
        value_g,
        spam_g,
        operator_posts_g,
        ritual_g,
        overload_g,
        referral_table,
        active_posts,
        k_interest,
        world_g,
        interest_gain,
        k_trust,
        trust_add,
        k_exposure,
        offtopic_weight,
        interest_spam_loss,
        trust_spam_loss,
        k_belonging,
        ritual_belonging_gain,
        k_habit,
        habit_gain,
        ritual_habit_gain,
        k_fatigue,
        silent_after_days,
        spam_turn_interest,
        referral_scale,
        points_on,
        points_active_day,
        points_post,
        core_habit,
        core_trust,
        core_min_posts,
        refer_prob,
        is_core[lo:hi],
        active_g,
        core_g,
    )
    candidates += lo
    return candidates


@njit(cache=True, nogil=True)
def _drift(
    status,
    active_today,
    group,
    archetype,
    days_inactive,
    spammer,
    posts,
    interest,
    trust,
    spam_exposure,
    tyranny_exposure,
    offtopic_exposure,
    belonging,
    habit,
    fatigue,
    points,
    value_g,
    spam_g,
    operator_posts_g,
    ritual_g,
    overload_g,
    referral_table,
    active_posts,
    k_interest,
    world_g,
    interest_gain,
    k_trust,
    trust_add,
    k_exposure,
    offtopic_weight,
    interest_spam_loss,
    trust_spam_loss,
    k_belonging,
    ritual_belonging_gain,
    k_habit,
    habit_gain,
    ritual_habit_gain,
    k_fatigue,
    silent_after_days,
    spam_turn_interest,
    referral_scale,
    points_on,
    points_active_day,
    points_post,
    core_habit,
    core_trust,
    core_min_posts,
    refer_prob,
    is_core,
    active_g,
    core_g,
):
    zero = np.float32(0.0)
    one = np.float32(1.0)
    n = len(group)
    candidates = np.empty(n + 1, dtype=np.intp)
    k = 0
    m = 0
    # per-group counts accumulate in registers while rows stay in one group (members of a group
    # are mostly contiguous): adding into the arrays row by row would chain every row's store to
    # the next row's load
    cur = group[0] if n else 0
    acc_active = 0
    acc_core = 0
    # Branch-free: both sides of each choice are computed and one is kept (adding an exact zero
    # or multiplying by an exact one leaves a value unchanged), so the loop runs without
    # mispredicted branches.  ``refer_prob`` and ``active_posts`` have one spare slot at the end.
    for i in range(n):
        g = group[i]
        if g != cur:
            active_g[cur] += acc_active
            core_g[cur] += acc_core
            acc_active = 0
            acc_core = 0
            cur = g
        if status[i] != 0:  # a member who left keeps the state they left with (as recorded)
            is_core[i] = False
            continue
        active = active_today[i]
        on = one if active else zero
        seen = spam_g[g] * on
        # interest (M1, M6)
        x = interest[i] * k_interest[world_g[g]]
        xa = x + interest_gain * value_g[g] * (one - x)
        xa = xa - interest_spam_loss * seen
        x = xa if active else x
        x = min(max(x, zero), one)
        interest[i] = x
        # trust (M2, M6)
        t = trust[i] * k_trust + trust_add
        t = t - trust_spam_loss * seen * t
        t = min(max(t, zero), one)
        trust[i] = t
        # remembered exposures (G2): ads seen, peers pruned, off-topic posts read
        spam_exposure[i] = spam_exposure[i] * k_exposure + seen
        tyranny_exposure[i] = tyranny_exposure[i] * k_exposure
        offtopic_exposure[i] = offtopic_exposure[i] * k_exposure + operator_posts_g[g] * offtopic_weight * on
        # belonging (M4) and habit (M3, P4)
        r = ritual_g[g]
        b = belonging[i] * k_belonging
        b2 = b + ritual_belonging_gain * (one - b)
        belonging[i] = b2 if active and r > zero else b
        h = habit[i] * k_habit
        h2 = h + (habit_gain + ritual_habit_gain * r) * (one - h)
        h = h2 if active else h
        habit[i] = h
        # fatigue (M3): overload wears down members who still listen
        d = days_inactive[i]
        fatigue[i] = fatigue[i] * k_fatigue + (overload_g[g] if d < silent_after_days else zero)
        days_inactive[i] = 0 if active else d + 1
        candidates[m] = i
        m += (not spammer[i]) & (x < spam_turn_interest)
        refer_prob[k] = referral_scale * t * referral_table[archetype[i]]
        if points_on:
            pa = np.float32(np.float64(points[i]) + (points_active_day + points_post * np.float64(active_posts[k])))
            points[i] = pa if active else points[i]
        acc_active += active
        k += active
        core = (h >= core_habit) & (t >= core_trust) & (posts[i] >= core_min_posts)
        is_core[i] = core
        acc_core += core
    if n:
        active_g[cur] += acc_active
        core_g[cur] += acc_core
    return candidates[:m].copy()


@njit(cache=True, nogil=True)
def churn_candidates(
    u,
    status,
    group,
    fatigue,
    spam_exposure,
    tyranny_exposure,
    offtopic_exposure,
    frailty,
    leaderless_g,
    any_leaderless,
    base,
    c_fatigue,
    c_harassment,
    c_tyranny,
    c_lost_focus,
    factor,
    lo,
    hi,
):
    """Members whose uniform draw ``u`` falls under an upper bound of their hazard today (G2).

    The bound takes the parts that vary with remembered exposures exactly, interest and trust at
    their worst (in ``base``), the member's own ``frailty`` and every other multiplying factor at its
    largest (``factor``, with a
    margin over float32 rounding): only these rows can leave, so the exact hazard is computed
    for them alone (thinning).  The bound is computed first for every row (a loop the compiler
    vectorises), then the rows under it are gathered.  Rows ``lo..hi``; returns them in order."""
    rows = _churn_candidates(
        u[lo:hi],
        status[lo:hi],
        group[lo:hi],
        fatigue[lo:hi],
        spam_exposure[lo:hi],
        tyranny_exposure[lo:hi],
        offtopic_exposure[lo:hi],
        frailty[lo:hi],
        leaderless_g,
        any_leaderless,
        base,
        c_fatigue,
        c_harassment,
        c_tyranny,
        c_lost_focus,
        factor,
    )
    rows += lo
    return rows


@njit(cache=True, nogil=True)
def _churn_candidates(
    u,
    status,
    group,
    fatigue,
    spam_exposure,
    tyranny_exposure,
    offtopic_exposure,
    frailty,
    leaderless_g,
    any_leaderless,
    base,
    c_fatigue,
    c_harassment,
    c_tyranny,
    c_lost_focus,
    factor,
):
    n = len(u)
    under = np.empty(n, dtype=np.bool_)
    if any_leaderless:
        for i in range(n):
            f = fatigue[i]
            bound = (
                base
                + c_fatigue * f * f
                + c_harassment * spam_exposure[i]
                + c_tyranny * tyranny_exposure[i]
                + c_lost_focus * offtopic_exposure[i]
                + leaderless_g[group[i]]
            ) * (factor * frailty[i])
            under[i] = (u[i] < bound) & (status[i] == 0)
    else:
        for i in range(n):
            f = fatigue[i]
            bound = (
                base
                + c_fatigue * f * f
                + c_harassment * spam_exposure[i]
                + c_tyranny * tyranny_exposure[i]
                + c_lost_focus * offtopic_exposure[i]
            ) * (factor * frailty[i])
            under[i] = (u[i] < bound) & (status[i] == 0)
    out = np.empty(n + 1, dtype=np.intp)  # one spare slot: every row is written, branch-free
    m = 0
    for i in range(n):
        out[m] = i
        m += under[i]
    return out[:m].copy()


@njit(cache=True, nogil=True)
def keep_rows(column, keep):
    """Move the rows of ``column`` where ``keep`` holds to the front, in order, in place; returns
    how many.  Each row is written where the next kept row goes (branch-free; a row not kept is
    overwritten by the next one)."""
    k = 0
    for i in range(len(keep)):
        column[k] = column[i]
        k += keep[i]
    return k


@njit(cache=True, nogil=True)
def day_counts(status, days_inactive, silent_after_days, is_core, spammer, lo, hi):
    """Members, silent members, core members and spammers today, and the rows of those who left
    (not yet compacted away), for the daily table: counts in one vectorised pass, then the few
    rows of leavers.  Rows ``lo..hi``."""
    members, silent, core, spammers, gone = _day_counts(
        status[lo:hi], days_inactive[lo:hi], silent_after_days, is_core[lo:hi], spammer[lo:hi]
    )
    gone += lo
    return members, silent, core, spammers, gone


@njit(cache=True, nogil=True)
def _day_counts(status, days_inactive, silent_after_days, is_core, spammer):
    n = len(status)
    members = silent = core = spammers = 0
    for i in range(n):
        alive = np.int64(status[i] == 0)
        members += alive
        silent += alive * (days_inactive[i] >= silent_after_days)
        core += alive * is_core[i]
        spammers += alive * spammer[i]
    gone = np.empty(n - members, dtype=np.intp)
    m = 0
    if len(gone):
        for i in range(n):
            if status[i] != 0:
                gone[m] = i
                m += 1
    return members, silent, core, spammers, gone


@njit(cache=True, nogil=True)
def departures(
    candidates,
    u,
    interest,
    trust,
    fatigue,
    spam_exposure,
    tyranny_exposure,
    offtopic_exposure,
    group,
    archetype,
    commitment,
    frailty,
    belonging,
    days_inactive,
    title,
    join_day,
    leaderless_g,
    arch_churn,
    base,
    c_boredom,
    c_lost_trust,
    c_fatigue,
    c_harassment,
    c_tyranny,
    c_lost_focus,
    belonging_cut,
    silent_after_days,
    silent_factor,
    title_factor,
    newcomer_since,
    newcomer_factor,
    world_g,
):
    """Who of the candidates leaves today (``u`` under the hazard) and the cause of each (G2).

    The hazard is the sum of its parts, one per cause in :data:`sim.churn.CAUSES` order, scaled
    by the archetype, the member's frailty, the fee paid (P2), belonging (M4), silence, a title and the newcomer's
    first days (M7).  ``base``, ``c_boredom`` and ``newcomer_factor`` are per world (``world_g``:
    each group's).  The cause is the largest part (the first, on a tie).
    Returns the leaving rows and their cause codes."""
    one = np.float32(1.0)
    parts = np.empty(8, dtype=np.float32)
    leaving = np.empty(len(candidates), dtype=np.intp)
    causes = np.empty(len(candidates), dtype=np.intp)
    m = 0
    for k in range(len(candidates)):
        i = candidates[k]
        w = world_g[group[i]]
        parts[0] = base[w]
        y = one - interest[i]
        parts[1] = c_boredom[w] * (y * y)
        y = one - trust[i]
        parts[2] = c_lost_trust * (y * y)
        parts[3] = c_fatigue * (fatigue[i] * fatigue[i])
        parts[4] = c_harassment * spam_exposure[i]
        parts[5] = c_tyranny * tyranny_exposure[i]
        parts[6] = c_lost_focus * offtopic_exposure[i]
        parts[7] = leaderless_g[group[i]]
        h = parts[0]
        for j in range(1, 8):
            h = h + parts[j]
        h = h * arch_churn[archetype[i]]
        h = h * frailty[i]
        h = h * (one - commitment[i])
        h = h * (one - belonging_cut * belonging[i])
        if days_inactive[i] >= silent_after_days:
            h = h * silent_factor
        if title[i] > 0:
            h = h * title_factor
        if join_day[i] > newcomer_since:
            h = h * newcomer_factor[w]
        if u[i] < h:
            best = 0
            for j in range(1, 8):
                if parts[j] > parts[best]:
                    best = j
            leaving[m] = i
            causes[m] = best
            m += 1
    return leaving[:m].copy(), causes[:m].copy()


@njit(cache=True, nogil=True)
def tally_active(idx, group, archetype, voice, posts, u_ask, question_table, question_rate, expert, n_groups):
    """Today's active members by group: member posts (float, as ``np.bincount`` with weights
    gives them) and active experts; who of them asks a question (``u_ask`` under the archetype's
    question rate times their voice, P9); and the rows that posted or asked (contributors, M7), in order."""
    posts_g = np.zeros(n_groups, dtype=np.float64)
    experts_g = np.zeros(n_groups, dtype=np.int64)
    asks = np.empty(len(idx), dtype=np.bool_)
    contributors = np.empty(len(idx) + 1, dtype=np.intp)
    m = 0
    for k in range(len(idx)):
        i = idx[k]
        g = group[i]
        posts_g[g] += posts[k]
        experts_g[g] += archetype[i] == expert
        a = u_ask[k] < question_rate * question_table[archetype[i]] * voice[i]
        asks[k] = a
        contributors[m] = i
        m += (posts[k] > 0) | a
    return posts_g, experts_g, asks, contributors[:m].copy()


@njit(cache=True, nogil=True)
def tally_spam(status, spammer, group, spam_today, per_day, n_groups, lo, hi):
    """Ads posted today: each spammer still a member posts ``per_day`` (M6); per group.
    (``spam_today`` is zeroed by the caller; spammers are few, so the branch is cheap.)  Rows ``lo..hi``."""
    return _tally_spam(status[lo:hi], spammer[lo:hi], group[lo:hi], spam_today[lo:hi], per_day, n_groups)


@njit(cache=True, nogil=True)
def _tally_spam(status, spammer, group, spam_today, per_day, n_groups):
    spam_g = np.zeros(n_groups, dtype=np.int64)
    for i in range(len(status)):
        if spammer[i] and status[i] == 0:
            spam_today[i] = per_day
            spam_g[group[i]] += per_day
    return spam_g


@njit(cache=True, nogil=True)
def first_contributors(rows, first_post_day, posted_again, day):
    """Of today's contributors (``rows``, in order): mark those who had contributed on an earlier
    day as having posted again, give the rest today as their first contribution day, and return
    those newcomers' rows (M7)."""
    new = np.empty(len(rows) + 1, dtype=np.intp)  # one spare slot: every row is written, branch-free
    m = 0
    for k in range(len(rows)):
        i = rows[k]
        first = first_post_day[i]
        if first >= 0 and first < day:
            posted_again[i] = True
        new[m] = i
        m += first < 0
    for k in range(m):
        first_post_day[new[k]] = day
    return new[:m].copy()
