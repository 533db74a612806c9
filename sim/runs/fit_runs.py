"""A calibration's simulations: a candidate's parameters along the export's own history
(:func:`scenario_data`) under the group's own operations (:func:`operations_text`), run alone
(:class:`Candidate`) or side by side with other candidates in one population (:class:`Stack`),
and measured with the code ``sandbox observe`` uses.

Every candidate runs on the same replicates, 0 to :data:`FIT_REPLICATES` - 1, whatever its
stack: members' draws are keyed by replicate, decision, day and member
(:mod:`sim.engine.state.keyed_draws`), so two candidates meet the same luck and differ by their
parameters (common random numbers).  Workers receive contents, never paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.activity.history import DAY, History, before
from sim.activity.simulated import events_of_run
from sim.config.scenario import setup_of_data
from sim.runs.experiment import run_worlds
from sim.runs.fit_target import READERS_KNOB, Target, fingerprint_of, mean_measures

FIT_REPLICATES = 2


def fingerprint_if_any(events: pd.DataFrame) -> dict:
    """The fingerprint of a simulated group, or no measures when nobody wrote (a candidate far
    out of the group's range: every measure then counts as missing in the distance)."""
    return fingerprint_of(events) if (events["kind"] == "message").any() else {}


def weekly_posters(events: pd.DataFrame, first_day: int, weeks: int) -> np.ndarray:
    """Distinct posters in each week from ``first_day`` on."""
    msg = events[events["kind"] == "message"]
    week = (msg["timestamp"].to_numpy(np.int64) // DAY - first_day) // 7
    pairs = pd.DataFrame({"week": week, "member": msg["member"].to_numpy()}).drop_duplicates()
    pairs = pairs[(pairs["week"] >= 0) & (pairs["week"] < weeks)]
    return np.bincount(pairs["week"].to_numpy(np.int64), minlength=weeks).astype(float)


def scenario_data(history: History, params: dict, *, seed: int, replicates: int, name: str, description: str) -> dict:
    """A scenario that replays a group's history with the given parameters (``members_per_poster``,
    where present, scales the starting members and the arrivals instead of entering ``params:``)."""
    params = dict(params)
    scale = float(params.pop(READERS_KNOB.name, 1.0))
    cumulative = np.rint(np.cumsum(history.weekly_joins) * scale).astype(np.int64)  # rounding never drifts
    weekly = np.diff(cumulative, prepend=0)
    return {
        "name": name,
        "description": description,
        "days": history.days,
        "replicates": replicates,
        "seed": seed,
        "population": {"initial_members": int(round(history.starting_members * scale))},
        "channels": [{"name": "observed", "weekly_joins": [int(n) for n in weekly], "interest": 0.5}],
        "preset": "chat",
        "params": {k: float(v) for k, v in params.items()},
    }


def baseline_text() -> str:
    """The shipped baseline policy: the calibrated group's operations stand at it."""
    from sim.config.library import resolve

    return Path(resolve("baseline", "policies")).read_text(encoding="utf-8")


def operations_text(history: History) -> str:
    """The group's own operations as far as the export shows them: the baseline policy, with the
    weekly ritual on the weekday the export's messages gather on (if they do)."""
    import yaml

    if history.ritual_weekday is None:
        return baseline_text()
    policy = yaml.safe_load(baseline_text())
    policy["name"] = "observed-operations"
    policy["description"] = (
        f"The calibrated group's own operations as its export shows them: the baseline policy with a weekly "
        f"ritual on {history.ritual_weekday.title()}s, the day that holds most of its messages."
    )
    policy.setdefault("content", {})["ritual_weekday"] = history.ritual_weekday
    return yaml.safe_dump(policy, sort_keys=False, width=100)


@dataclass(frozen=True)
class Candidate:
    """One simulation a worker runs: contents only, so it needs no file and no shared disk.

    A finalist's replicates, and a search's where the export records no joins (:func:`stacked`),
    run alone, as ``sandbox run`` runs the written scenario: the fit's figures are what it gives."""

    scenario: dict
    policy_text: str
    replicate: int
    joins_known: bool
    cut_day: int | None = None  # day (from the start) after which held-out measures are taken
    keep_events: bool = False


@dataclass(frozen=True)
class Stack:
    """Candidates of the search side by side in one population, each on :data:`FIT_REPLICATES`
    worlds (:func:`sim.runs.experiment.run_worlds` with each world's own parameters): a day's
    fixed work is paid once for the stack.  Contents only, like :class:`Candidate`."""

    scenario: dict
    policy_text: str
    candidates: tuple[dict[str, float], ...]
    replicates: int


STACKED = 4
"""Candidates a stack holds (a round of :data:`sim.runs.rounds.ROUND` makes two, whatever the
number of workers, so the same seed gives the same fit on any of them)."""


STACK_ATTR = "stack"
"""The user attribute of a search's trial naming the trials of its stack, in order."""


def stacked(history: History) -> bool:
    """Whether a search's candidates run side by side: not where the export records no joins, as
    there each candidate's ``members_per_poster`` sets its own history's size."""
    return history.joins_known


def simulate_stack(s: Stack) -> list[dict]:
    """Run a stack of candidates and measure each world as the export was measured: one result a
    world, candidate by candidate, replicate by replicate."""
    setup = setup_of_data(s.scenario, s.policy_text, name="calibration candidates")
    own = [params for params in s.candidates for _ in range(s.replicates)]
    # every candidate's r-th world meets replicate r's luck (common random numbers), as alone
    worlds = run_worlds(setup, 0, len(own), own, [r for _ in s.candidates for r in range(s.replicates)])
    out = []
    for tables in worlds:
        events = events_of_run(tables["members"], tables["activity"], whole=True)
        out.append({"measures": fingerprint_if_any(events)})
    return out


def simulate(c: Candidate) -> dict:
    """Run one candidate replicate and measure it as the export was measured."""
    setup = setup_of_data(c.scenario, c.policy_text, name="calibration candidate")
    tables = run_worlds(setup, c.replicate, 1)[0]  # solo replicate c.replicate, lean: members and activity
    events = events_of_run(tables["members"], tables["activity"], whole=True)
    if not c.joins_known:  # the export showed posters only
        events = events[events["kind"] == "message"].reset_index(drop=True)
    out: dict = {}
    if c.cut_day is None:
        out["measures"] = fingerprint_if_any(events)
    else:
        out["measures"] = fingerprint_if_any(before(events, c.cut_day))
        out["held_out"] = fingerprint_if_any(events[events["timestamp"].to_numpy(np.int64) >= c.cut_day * DAY])
        # only the held-out check compares weeks: not computed for the search's candidates
        out["weekly_posters"] = weekly_posters(events, 0, (c.scenario["days"] + 6) // 7).tolist()
    if c.keep_events:
        out["events"] = events
    return out


def run_alone(target: Target, policy_text: str, candidates: list[dict], *, seed: int, pool) -> list[dict]:
    """Each candidate's :data:`FIT_REPLICATES` replicates over the fitted history, each run alone:
    one result a run, candidate by candidate."""
    tasks = [
        Candidate(
            scenario_data(
                target.history, params, seed=seed, replicates=FIT_REPLICATES, name="candidate", description=""
            ),
            policy_text,
            r,
            target.history.joins_known,
        )
        for params in candidates
        for r in range(FIT_REPLICATES)
    ]
    return pool.map(simulate, tasks)


def run_stacks(target: Target, policy_text: str, stacks: list[list[dict]], seed: int, pool) -> list[list[dict]]:
    """Stacks of candidates (:class:`Stack`) over the fitted history: each stack's worlds."""
    scenario = scenario_data(target.history, {}, seed=seed, replicates=1, name="candidates", description="")
    return pool.map(simulate_stack, [Stack(scenario, policy_text, tuple(c), FIT_REPLICATES) for c in stacks])


def measured(target: Target, policy_text: str, candidates: list[dict], *, seed: int, pool) -> list[dict]:
    """Each candidate's measures, the means of its :data:`FIT_REPLICATES` runs over the fitted
    history (side by side, :data:`STACKED` to a stack, where :func:`stacked`), as the search
    measures its own."""
    if stacked(target.history):
        chunks = [candidates[i : i + STACKED] for i in range(0, len(candidates), STACKED)]
        results = [world for stack in run_stacks(target, policy_text, chunks, seed, pool) for world in stack]
    else:
        results = run_alone(target, policy_text, candidates, seed=seed, pool=pool)
    return [
        mean_measures([res["measures"] for res in results[i * FIT_REPLICATES : (i + 1) * FIT_REPLICATES]])
        for i in range(len(candidates))
    ]
