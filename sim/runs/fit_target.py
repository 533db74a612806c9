"""What a calibration aims at (:func:`target_of`): the export's history, its fingerprint and each
measure's sampling error; and what it turns: the parameters an export can identify
(:data:`KNOBS`, :func:`knobs_for`), the measures it matches (:data:`FIT_MEASURES`), and what an
export cannot tell (:data:`NOT_IDENTIFIED`), which stays at the documented defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.activity.fingerprint import hazard_counts, measures
from sim.activity.formats import read_activity
from sim.activity.history import DAY, History, before, date_of, day_of, history, one_group
from sim.activity.sampling import standard_errors
from sim.config.params import PARAMS
from sim.config.scenario import MAX_DAYS
from sim.domain import content_hash
from sim.errors import SandboxError
from sim.runs.fit_region import Knob

KNOBS = (
    Knob("act_bias", -9.0, -2.0, tells="activity level: daily posters, DAU/MAU"),
    Knob(
        "act_momentum", 0.0, 5.0, tells="habit of coming back the next days: one-day gaps, burstiness", natural_low=True
    ),
    Knob("voice_sigma", 0.3, 3.5, tells="spread of posting propensity: Gini, top 1% share, one-post share"),
    Knob("post_rate", 0.01, 20.0, log=True, tells="messages per active day"),
    Knob("act_newcomer", 0.0, 5.0, tells="newcomers' curiosity: newcomers' return", natural_low=True),
    Knob("newcomer_intro", 0.0, 0.5, tells="newcomers' hello: posters' share", natural_low=True),
    Knob("welcome_stimulus", 0.0, 5.0, tells="the first reply's effect on return", natural_low=True),
    Knob("churn_base", 1e-4, 1e-2, log=True, tells="departure hazard"),
    Knob("churn_frailty_sigma", 0.0, 3.0, tells="how departure hazard falls with tenure", natural_low=True),
    Knob("newcomer_churn_weight", 0.0, 20.0, tells="how much more newcomers leave than veterans", natural_low=True),
    Knob(
        "interest_decay",
        0.0,
        0.02,
        tells="how members' interest fades without fresh value: activity by tenure",
        natural_low=True,
    ),
    Knob(
        "churn_boredom",
        0.0,
        0.03,
        tells="departures of members whose interest has faded: long-tenure hazard",
        natural_low=True,
    ),
    Knob("post_dilution", 0.0, 1.5, tells="how posting per member falls as the group grows", natural_low=True),
)


RITUAL_KNOB = Knob(
    "act_ritual", 0.0, 5.0, tells="pull of the weekly ritual day (where the export shows one)", natural_low=True
)


READERS_KNOB = Knob(
    "members_per_poster",
    1.0,
    10.0,
    log=True,
    tells="members for each member seen posting, where the export records no joins (it shows posters only)",
    natural_low=True,
)
"""Not a model parameter: it scales the history's starting members and arrivals."""


def knobs_for(history: History) -> tuple[Knob, ...]:
    """The parameters a group's export can identify: the ritual's pull only where it has a ritual;
    how many members stand behind each poster only where joins are not recorded."""
    return (
        KNOBS
        + ((RITUAL_KNOB,) if history.ritual_weekday else ())
        + ((READERS_KNOB,) if not history.joins_known else ())
    )


NOT_IDENTIFIED = {
    "reading without posting": "an export shows messages, not who read them: lurkers' activity is the model's default",
    "interest and trust levels": "the export shows what members did, not why; interest and trust start at defaults",
    "costs": "an export carries no spending: costs are the policy's own figures",
    "operators": "the formats read do not mark operators; their posts count as members'; the baseline policy's "
    "3 operator posts a week and 30% answered questions stand for the group's own operations (with its weekly "
    "ritual where the export shows one)",
}


FIT_MEASURES = (
    "posters_share",
    "one_post_share",
    "top1_share",
    "gini_posters",
    "daily_posters",
    "dau_mau",
    "messages_per_active_day",
    "newcomer_return",
    "first_reply_effect",
    "hazard_m1_3",
    "hazard_m9_11",
    "gap_1d_share",
    "burstiness",
    "size_slope",
)


def defaults_of(knobs: tuple[Knob, ...]) -> dict[str, float]:
    """Each knob's value in the model as shipped (the chat preset's, else the parameter's default;
    a knob that is no model parameter at its low end), kept within the searched range: the first
    search's first candidate, and the ``default`` beside each fitted value in fit.json."""
    from sim.config.params import PRESETS

    values = {
        k.name: float(PRESETS["chat"].get(k.name, PARAMS[k.name].default)) if k.name in PARAMS else k.low for k in knobs
    }
    return {k.name: min(max(values[k.name], k.low), k.high) for k in knobs}


def derived(m: dict) -> dict:
    """Measures computed from others: messages per active member-day."""
    active = (m.get("daily_posters") or 0) * (round(float(m.get("days") or 0)) + 1)
    return {"messages_per_active_day": round(m["messages"] / active, 4) if active else None}


def fingerprint_of(events: pd.DataFrame) -> dict:
    out = measures(events)
    out.update(derived(out))
    return out


def mean_measures(runs: list[dict]) -> dict:
    """Each fitted measure's mean over the runs that give it (None where none does), to 4 places."""
    out = {}
    for name in FIT_MEASURES:
        values = [r[name] for r in runs if r.get(name) is not None]
        out[name] = round(float(np.mean(values)), 4) if values else None
    return out


UNBOUNDED = ("daily_posters", "messages_per_active_day", "size_slope")
"""Measures that are no shares: their intervals are not clipped to 0..1 (signed ones to -1..1)."""
SIGNED = ("first_reply_effect", "burstiness")


def exact_interval(count: int, trials: int) -> tuple[float, float]:
    """The exact (Clopper-Pearson) 95% interval of a share of ``count`` in ``trials``."""
    from scipy.stats import beta

    low = float(beta.ppf(0.025, count, trials - count + 1)) if count > 0 else 0.0
    high = float(beta.ppf(0.975, count + 1, trials - count)) if count < trials else 1.0
    return low, high


def observed_interval(name: str, observed: float, se: float, counts: tuple[int, int] | None = None) -> list[float]:
    """The 95% interval of an observed measure, kept within the measure's range: +- 1.96 sampling
    errors, and for a hazard (``counts``: its departures and poster-months at risk) widened to
    hold the exact interval of that share.  The normal approximation draws a share of few events
    too narrow: on the real file's first two thirds the long-tenure hazard is 2 departures in 146
    poster-months, 0.0137, with an interval of 0 to 0.031 from the half-samples of its members and
    0.0017 to 0.049 exact (a count of 2 is as likely from a rate three times as high)."""
    lo, hi = observed - 1.96 * se, observed + 1.96 * se
    if counts is not None and counts[1] > 0:
        exact = exact_interval(*counts)
        lo, hi = min(lo, exact[0]), max(hi, exact[1])
    if name in SIGNED:
        lo, hi = max(lo, -1.0), min(hi, 1.0)
    elif name not in UNBOUNDED:
        lo, hi = max(lo, 0.0), min(hi, 1.0)
    elif name != "size_slope":
        lo = max(lo, 0.0)
    return [round(lo, 4), round(hi, 4)]


@dataclass
class Target:
    """What the fit aims at: the export's history and fingerprint, with sampling errors and each
    measure's observed interval (:func:`observed_interval`)."""

    source: str
    group: str
    history: History
    observed: dict
    errors: dict
    cut_day: int | None  # --until, as days from the export's first day
    full_history: History
    events: pd.DataFrame
    intervals: dict

    @property
    def identity(self) -> str:
        return content_hash(
            {
                "history": [self.full_history.days, self.full_history.starting_members, self.full_history.weekly_joins],
                "observed": self.observed,
                "cut": self.cut_day,
                "knobs": [(k.name, k.low, k.high, k.log) for k in knobs_for(self.history)],
                "measures": FIT_MEASURES,
                "intervals": self.intervals,
            }
        )


def target_of(source: str, *, format: str | None, group: str | None, until: str | None) -> Target:
    """Read an export and set the fit's target; every refusal comes before anything is written."""
    events = read_activity(source, format=format)
    name, events = one_group(events, group, source=source)
    stamps = events["timestamp"].to_numpy(np.int64)
    last_day = int(stamps.max() // DAY) if len(stamps) else 0
    if len(stamps) and last_day - int(stamps.min() // DAY) + 1 > MAX_DAYS:  # the sandbox runs ten years at most
        events = events[stamps >= (last_day - MAX_DAYS + 1) * DAY].reset_index(drop=True)
    full = history(events, source=source)
    cut_day = None
    fit_events = events
    if until is not None:
        day = day_of(until, place="--until")
        if not full.first_day < day <= full.first_day + full.days - 1:
            raise SandboxError(
                f"--until {until[:40]} is outside the export's span, {date_of(full.first_day)} to "
                f"{date_of(full.first_day + full.days - 1)}; choose a date inside it",
                place="--until",
            )
        fit_events = before(events, day)
        cut_day = day - full.first_day
    fit_history = history(fit_events, source=source)
    observed = fingerprint_of(fit_events)
    errors = standard_errors(fit_events, FIT_MEASURES, derive=derived)
    counts = hazard_counts(fit_events)
    intervals = {}
    for n in FIT_MEASURES:
        se = errors.get(n)
        if observed.get(n) is not None and se:
            intervals[n] = observed_interval(n, observed[n], se, counts.get(n))
    return Target(source, name, fit_history, observed, errors, cut_day, full, events, intervals)
