"""Churn: who leaves today, and why (G2, M4, M7, P2).

A member's daily hazard is a sum of parts, one per cause, each a parameterised function of the
member's state: evaporation (a small background rate), boredom (lost interest), lost trust,
fatigue, harassment (recent ads seen) and tyranny (recently seeing others pruned).  The sum is
scaled by the archetype, by the member's own frailty (drawn at joining, so the prone leave first
and the hazard falls with tenure), by belonging and a title (M4), by silence (muted members mostly stay),
by the fee paid (commitment, P2) and by the newcomer's first days (M7).  Whoever leaves carries
the cause whose part of the hazard was largest.  Lost focus is recent off-topic content read (P4); leaderless is a
group with no operator post and no active expert for a while (G2).
"""

from __future__ import annotations

import numpy as np

from sim.domain import CAUSES, CHURNED, newcomer_since
from sim.engine.state import kernels, row_threads

F32 = np.float32


def leaderless_share(model) -> np.ndarray:
    """The leaderless part per group: no operator post and no active expert for a while (G2)."""
    p = model.params
    return (np.minimum(model.groups.days_leaderless / p.leaderless_days, 1.0) * p.churn_leaderless).astype(F32)


def churn_candidates(model, u: np.ndarray, leaderless: np.ndarray) -> np.ndarray:
    """Rows of members whose draw ``u`` falls under an upper bound of their hazard today: the
    parts that vary with the member's remembered exposures (fatigue, ads, pruning, off-topic
    posts, a leaderless group) exactly, interest and trust at their worst, and every factor at
    its largest (:func:`sim.kernels.churn_candidates`, one compiled pass; for worlds side by side,
    the largest over the worlds).  ``leaderless``: the leaderless part per group (:func:`leaderless_share`).

    Only they can leave, so the exact hazard is computed for them alone (thinning: the same
    departures as computing it for everyone, for less work).
    """
    pop, p, own = model.pop, model.params, model.world_values
    factors = (
        float(model.archetype_tables["churn"].max())
        * max(p.silent_churn_factor, 1.0)
        * max(p.title_churn_factor, 1.0)
        * (1 + max(max(own["newcomer_churn_weight"]), 0.0))
    )
    worst = max(base + boredom for base, boredom in zip(own["churn_base"], own["churn_boredom"]))  # over worlds
    constants = (
        F32(worst + p.churn_lost_trust),
        F32(p.churn_fatigue),
        F32(p.churn_harassment),
        F32(p.churn_tyranny),
        F32(p.churn_lost_focus),
        F32(factors * 1.001),
    )  # a margin over float32 rounding here and in the exact hazard
    parts = row_threads.over_ranges(
        pop.n,
        lambda lo, hi: kernels.churn_candidates(
            u,
            pop.status,
            pop.group,
            pop.fatigue,
            pop.spam_exposure,
            pop.tyranny_exposure,
            pop.offtopic_exposure,
            pop.frailty,
            leaderless,
            bool(leaderless.any()),
            *constants,
            lo,
            hi,
        ),
    )
    return row_threads.joined(parts)


def departures(model, u: np.ndarray, rows: np.ndarray, leaderless: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Who of ``rows`` leaves today (``u`` under the exact hazard) and the index in
    :data:`CAUSES` of each one's cause (:func:`sim.kernels.departures`)."""
    pop, p = model.pop, model.params
    return kernels.departures(
        rows,
        u,
        pop.interest,
        pop.trust,
        pop.fatigue,
        pop.spam_exposure,
        pop.tyranny_exposure,
        pop.offtopic_exposure,
        pop.group,
        pop.archetype,
        pop.commitment,
        pop.frailty,
        pop.belonging,
        pop.days_inactive,
        pop.title,
        pop.join_day,
        leaderless,
        model.archetype_tables["churn"],
        model.per_world("churn_base"),
        model.per_world("churn_boredom"),
        F32(p.churn_lost_trust),
        F32(p.churn_fatigue),
        F32(p.churn_harassment),
        F32(p.churn_tyranny),
        F32(p.churn_lost_focus),
        F32(p.belonging_churn_cut),
        float(p.silent_after_days),
        F32(p.silent_churn_factor),
        F32(p.title_churn_factor),
        newcomer_since(model.day, p.newcomer_days),
        model.per_world("newcomer_factor"),
        model.group_worlds(),
    )


def draw_ahead(model) -> None:
    """Start today's churn draws (one keyed uniform per row) in a thread while the member day runs.

    The rows do not change between the member day and churn, and a keyed draw depends on the
    member and the day only, so the draws are the same as drawing them in :func:`leave`.
    """
    out = model.scratch("churn_draws", model.pop.n)
    model.churn_draws = row_threads.ahead(model.pop.n, lambda: model.draws("leave", out=out, split=False))


def leave(model) -> None:
    """Draw today's departures and record each one's dominant cause (G2).

    A member leaves when a uniform draw falls under their hazard.  The draw is made for every
    row; the hazard is computed only where the draw is under a bound (:func:`churn_candidates`).
    """
    pop = model.pop
    u = model.churn_draws()
    if len(u) != pop.n:
        raise RuntimeError("churn's draws were made for a different number of rows than churn sees")
    leaderless = leaderless_share(model)
    candidates = churn_candidates(model, u, leaderless)
    parts = row_threads.over_ranges(
        len(candidates),
        lambda a, b: departures(model, u, candidates[a:b], leaderless),
        min_rows=row_threads.MIN_ROWS // 10,
    )  # each costs about ten row passes
    leaving = row_threads.joined([part[0] for part in parts])
    causes = row_threads.joined([part[1] for part in parts])
    if len(leaving) == 0:
        return
    for code in np.unique(causes):
        model.exit_members(leaving[causes == code], CHURNED, CAUSES[code])
