"""How far a simulated fingerprint lies from the export's (:func:`distance`), the intervals a fit
reports for each measure (:func:`predicted_interval`; the observed ones are the target's,
:func:`sim.runs.fit_target.observed_interval`), and the region
of parameters that fit as well as the best (:func:`accepted`).

A measure's difference is weighed by its observed sampling error (half-samples of the members,
:mod:`sim.activity.sampling`), at least 5% of its value.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from sim.runs.fit_runs import FIT_REPLICATES
from sim.runs.fit_target import FIT_MEASURES

MISSING_PENALTY = 9.0
"""A measure the export gives and a candidate's run does not: as far off as three standard errors."""


MIN_ACCEPTED = 5


def predicted_interval(values: list[float]) -> list[float] | None:
    """The 95% interval in which the fitted model puts one more run's value of a measure, from its
    finalist runs' ``values`` (a normal prediction interval: mean +- t(n-1) s sqrt(1 + 1/n)).

    An export is one run of its group: where a measure varies from run to run more than half-samples
    of one export's members show, the observed interval leaves the truth out.  On exports simulated
    from known parameters (the real file's history, a seed-1 fit's parameters: very unequal
    voices), the members' intervals held the truth's mean for daily posters and DAU/MAU in 62% of
    16 exports, not 95% (with seed 0's, more equal, in all 16); half-samples of time (quarters)
    did worse.  Whether the observed value lies in this interval (``plausible``,
    :func:`sim.activity.fit_report.is_plausible`) says whether the export could be a run of the
    fitted model."""
    if len(values) < 2:
        return None
    from scipy.stats import t

    a = np.asarray(values, dtype=float)
    half = float(t.ppf(0.975, len(a) - 1)) * float(a.std(ddof=1)) * math.sqrt(1 + 1 / len(a))
    return [round(float(a.mean()) - half, 4), round(float(a.mean()) + half, 4)]


def _floor(observed: float) -> float:
    return max(0.05 * abs(observed), 0.01)


Scale = Callable[[str, float, float], float]
"""How far off a measure may be by chance: ``scale(name, observed, value)``."""


def squared_differences(means: dict, observed: dict, scale: Scale) -> list[float]:
    """Each measure the export gives: the squared difference of ``means`` from it over
    ``scale(name, observed, mean)``, or :data:`MISSING_PENALTY` where ``means`` has none."""
    terms = []
    for name in FIT_MEASURES:
        obs = observed.get(name)
        if obs is None:
            continue
        mean = means.get(name)
        terms.append(MISSING_PENALTY if mean is None else ((mean - obs) / scale(name, obs, mean)) ** 2)
    return terms


def standard_error(errors: dict, intervals: dict | None = None) -> Scale:
    """A measure's observed error on the side of the observed value where a simulated value lies:
    its sampling error, at least :func:`_floor` of its value, and at least that side of its
    observed interval over 1.96 (wider only where the interval is exact and the count small: a
    hazard of few departures, :func:`sim.runs.fit_target.observed_interval`)."""
    intervals = intervals or {}

    def scale(name: str, obs: float, value: float) -> float:
        se = max(errors.get(name) or 0.0, _floor(obs))
        bounds = intervals.get(name)
        if bounds is None:
            return se
        return max(se, ((bounds[1] - obs) if value > obs else (obs - bounds[0])) / 1.96)

    return scale


def distance(runs: list[dict], observed: dict, errors: dict, intervals: dict | None = None) -> float:
    """Mean squared standardised difference over the measures the export gives
    (:func:`standard_error`)."""
    means = {}
    for name in FIT_MEASURES:
        values = [r[name] for r in runs if r.get(name) is not None]
        means[name] = float(np.mean(values)) if values else None
    terms = squared_differences(means, observed, standard_error(errors, intervals))
    return float(np.mean(terms)) if terms else math.inf


def run_variances(groups: list[list[dict]]) -> dict[str, float]:
    """Each fitted measure's variance from one run to the next of the same parameters, pooled
    over ``groups`` (each: the measures of one candidate's replicates)."""
    out = {}
    for name in FIT_MEASURES:
        squares, freedom = 0.0, 0
        for runs in groups:
            values = np.array([r[name] for r in runs if r.get(name) is not None], dtype=float)
            if len(values) > 1:
                squares += float(((values - values.mean()) ** 2).sum())
                freedom += len(values) - 1
        out[name] = squares / freedom if freedom else 0.0
    return out


def accepted(
    points: list[tuple[dict, dict]],
    knobs: int,
    observed: dict,
    errors: dict,
    variances: dict,
    intervals: dict | None = None,
) -> list[dict]:
    """``points``: the evaluated candidates as (parameters, measures: the means of its
    :data:`sim.runs.fit_runs.FIT_REPLICATES` runs), the search's best first, then the probes through the fit
    (:func:`sim.runs.fit_region.probes`).  The parameters of those whose fit is not told apart
    from the best's: summed squared standardised differences within the 95% chi-square bound
    (``knobs`` degrees of freedom) of the least, at least :data:`MIN_ACCEPTED`.  Each parameter's
    range over them is its reported interval: the projection of an approximate joint 95%
    confidence region, as far as the candidates reach it.

    Here a difference is standardised by what separates an export from the mean of R runs of the
    parameters that made it: the export is one run of its group, so it differs from the model's
    mean by a run's variance from one run to the next (``variances``, measured on the finalists;
    at least the export's sampling error), and the mean of R runs by that over R.  A group's fate
    varies far more from run to run than half-samples of one group's members show: on groups
    simulated from known parameters, daily posters ranged threefold over six runs of the truth,
    and an interval drawn with the export's errors alone left the truth out in most seeds."""
    from scipy.stats import chi2

    se = standard_error(errors, intervals)

    def spread(name: str, obs: float, value: float) -> float:
        return math.sqrt((1 + 1 / FIT_REPLICATES) * max(variances.get(name, 0.0), se(name, obs, value) ** 2))

    sums = [sum(squared_differences(measures, observed, spread)) for _, measures in points]
    bound = min(sums) + float(chi2.ppf(0.95, knobs))
    inside = [params for (params, _), v in zip(points, sums) if v <= bound]
    return inside if len(inside) >= MIN_ACCEPTED else [params for params, _ in points[:MIN_ACCEPTED]]
