"""Churn: who leaves today, and why (G2, M4, M7, P2).

A member's daily hazard is a sum of parts, one per cause, each a parameterised function of the
member's state: evaporation (a small background rate), boredom (lost interest), lost trust,
fatigue, harassment (recent ads seen) and tyranny (recently seeing others pruned).  The sum is
scaled by the archetype, by silence (muted members mostly stay), by a title (belonging, M4),
by the fee paid (commitment, P2) and by the newcomer's first days (M7).  Whoever leaves carries
the cause whose part of the hazard was largest.
"""

from __future__ import annotations

import numpy as np

from .population import CHURNED

CAUSES = ("evaporation", "boredom", "lost_trust", "fatigue", "harassment", "tyranny")
F32 = np.float32


def hazard_parts(model, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
    """The daily hazard parts, one row per cause in :data:`CAUSES` order, for the given rows."""
    pop, p = model.pop, model.params
    lack_interest = 1 - pop.interest[rows]
    lack_trust = 1 - pop.trust[rows]
    fatigue = pop.fatigue[rows]
    n = len(lack_interest)
    return np.stack([
        np.full(n, p.churn_base, dtype=F32),
        p.churn_boredom * lack_interest * lack_interest,
        p.churn_lost_trust * lack_trust * lack_trust,
        p.churn_fatigue * fatigue * fatigue,
        p.churn_harassment * pop.spam_exposure[rows],
        p.churn_tyranny * pop.tyranny_exposure[rows],
    ])


def leave(model) -> None:
    """Draw today's departures and record each one's dominant cause."""
    pop, p, rng = model.pop, model.params, model.streams["churn"]
    alive = pop.status == 0
    parts = hazard_parts(model)
    hazard = parts.sum(axis=0)
    hazard *= model.archetype_tables["churn"][pop.archetype]
    hazard *= 1 - pop.commitment
    hazard *= np.where(pop.days_inactive >= p.silent_after_days, F32(p.silent_churn_factor), F32(1))
    hazard *= np.where(pop.title > 0, F32(p.title_churn_factor), F32(1))
    hazard *= np.where(model.day - pop.join_day < p.newcomer_days, F32(1 + p.newcomer_churn_weight), F32(1))
    leaving = np.flatnonzero((rng.random(pop.n, dtype=F32) < hazard) & alive)
    if len(leaving) == 0:
        return
    causes = np.argmax(parts[:, leaving], axis=0)
    for code in np.unique(causes):
        model.exit_members(leaving[causes == code], CHURNED, CAUSES[code])
