"""Exports of groups simulated from known parameters, written in the generic format.

A calibration test needs data whose true parameters it knows: a small group is simulated along
a made-up history with chosen parameters, and its events are written as a CSV any user could
have exported.  Shared by the calibration tests of both tiers.
"""

from __future__ import annotations

from pathlib import Path

from sim.activity.history import History
from sim.runs.fit_runs import Candidate, baseline_text, scenario_data, simulate


def synthetic_export(
    path: Path, params: dict, *, starting: int = 40, weeks: int = 40, per_week: int = 4, seed: int = 11
) -> Path:
    """Simulate a group with ``params`` over ``weeks`` weeks and write its events to ``path`` (CSV)."""
    history = History(
        first_day=0,
        days=weeks * 7,
        starting_members=starting,
        weekly_joins=(0,) + (per_week,) * (weeks - 1),
        joins_known=True,
        messages=0,
    )
    scenario = scenario_data(history, params, seed=seed, replicates=1, name="truth", description="")
    events = simulate(Candidate(scenario, baseline_text(), 0, True, keep_events=True))["events"]
    events = events.assign(group="truth", timestamp=events["timestamp"] + 4 * 86_400)  # day 0: a Monday
    events[["timestamp", "member", "kind", "group", "reply_to"]].to_csv(path, index=False)
    return path
