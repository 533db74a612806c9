"""Churn: who leaves today, and why (G2, M4, M7, P2).

A member's daily hazard is a sum of parts, one per cause, each a parameterised function of the
member's state: evaporation (a small background rate), boredom (lost interest), lost trust,
fatigue, harassment (recent ads seen) and tyranny (recently seeing others pruned).  The sum is
scaled by the archetype, by belonging and a title (M4), by silence (muted members mostly stay),
by the fee paid (commitment, P2) and by the newcomer's first days (M7).  Whoever leaves carries
the cause whose part of the hazard was largest.  Lost focus is recent off-topic content read (P4); leaderless is a
group with no operator post and no active expert for a while (G2).
"""

from __future__ import annotations

import numpy as np

from .population import CHURNED

CAUSES = ("evaporation", "boredom", "lost_trust", "fatigue", "harassment", "tyranny", "lost_focus", "leaderless")
F32 = np.float32


def hazard_parts(model) -> np.ndarray:
    """The daily hazard parts of every row: one row per cause in :data:`CAUSES` order (G2)."""
    pop, p = model.pop, model.params
    parts = model.scratch("hazard_parts", (len(CAUSES), pop.n))
    parts[0] = p.churn_base
    np.subtract(1, pop.interest, out=parts[1])
    parts[1] *= parts[1]
    parts[1] *= F32(p.churn_boredom)
    np.subtract(1, pop.trust, out=parts[2])
    parts[2] *= parts[2]
    parts[2] *= F32(p.churn_lost_trust)
    np.multiply(pop.fatigue, pop.fatigue, out=parts[3])
    parts[3] *= F32(p.churn_fatigue)
    np.multiply(pop.spam_exposure, F32(p.churn_harassment), out=parts[4])
    np.multiply(pop.tyranny_exposure, F32(p.churn_tyranny), out=parts[5])
    np.multiply(pop.offtopic_exposure, F32(p.churn_lost_focus), out=parts[6])
    leaderless = model.groups.days_leaderless
    if leaderless.any():  # no operator post and no active expert for a while (G2: no leader)
        share = np.minimum(leaderless / p.leaderless_days, 1.0).astype(F32) * F32(p.churn_leaderless)
        np.take(share, pop.group, out=parts[7])
    else:
        parts[7] = 0
    return parts


def _scale_where(hazard: np.ndarray, condition: np.ndarray, factor: float, scale: np.ndarray) -> None:
    """hazard *= factor where condition holds, in place (no np.where temporaries)."""
    if factor != 1.0:
        np.multiply(condition, F32(factor - 1.0), out=scale)
        scale += 1
        hazard *= scale


def leave(model) -> None:
    """Draw today's departures and record each one's dominant cause (G2)."""
    pop, p, rng = model.pop, model.params, model.streams["churn"]
    parts = hazard_parts(model)
    hazard = model.scratch("hazard", pop.n)
    scale = model.scratch("tmp", pop.n)
    np.add.reduce(parts, axis=0, out=hazard)
    hazard *= pop.arch_churn
    np.subtract(1, pop.commitment, out=scale)
    hazard *= scale
    np.multiply(pop.belonging, F32(-p.belonging_churn_cut), out=scale)  # belonging keeps members (M4)
    scale += 1
    hazard *= scale
    _scale_where(hazard, pop.days_inactive >= p.silent_after_days, p.silent_churn_factor, scale)
    _scale_where(hazard, pop.title > 0, p.title_churn_factor, scale)
    _scale_where(hazard, pop.join_day > model.day - p.newcomer_days, 1 + p.newcomer_churn_weight, scale)
    leaving = rng.random(out=scale, dtype=F32) < hazard
    leaving &= pop.status == 0
    leaving = np.flatnonzero(leaving)
    if len(leaving) == 0:
        return
    causes = np.argmax(parts[:, leaving], axis=0)
    for code in np.unique(causes):
        model.exit_members(leaving[causes == code], CHURNED, CAUSES[code])
