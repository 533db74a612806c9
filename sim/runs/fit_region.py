"""The fitted parameters' space: the knobs searched, their scales, and the probes that map how far
each can move before the fit is told apart from the best.

A calibration reports each parameter's interval as its range over the candidates whose fit
cannot be told from the best's (:func:`sim.runs.fit_distance.accepted`).  The search's own
candidates crowd where the search went, so on their own they map that region only where the
search happened to look: on groups simulated from known parameters the newcomer's hello came
back at 0.26 and 0.43 for a truth of 0.08, with intervals [0.24, 0.50] and [0.36, 0.49], though
the fit with the hello moved to the truth and nothing else changed fit as well (summed squared
differences 11.5 against the fit's 13.7, the bound 13.7 + 22.4).  :func:`probes` adds, for every
parameter, candidates across its whole searched range with the others at the fit: where one of
them fits as well, the interval reaches it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Knob:
    """A fitted parameter and the range searched (log scale for rates spanning decades)."""

    name: str
    low: float
    high: float
    log: bool = False
    tells: str = ""
    natural_low: bool = False
    """The low end is the parameter's own (no habit, no spread, never): a value there is an answer,
    not a search cut short (:func:`edge_of`)."""


def unit(knob: Knob, value: float) -> float:
    """Where ``value`` lies in ``knob``'s searched range, 0 at its low end and 1 at its high (in
    logs for a log-scaled knob)."""
    if knob.log:
        return (math.log(max(value, knob.low)) - math.log(knob.low)) / (math.log(knob.high) - math.log(knob.low))
    return (value - knob.low) / (knob.high - knob.low)


def value_at(knob: Knob, place: float) -> float:
    """The value at ``place`` (0 to 1) of ``knob``'s searched range: :func:`unit` undone."""
    place = min(max(place, 0.0), 1.0)
    if knob.log:
        return math.exp(math.log(knob.low) + place * (math.log(knob.high) - math.log(knob.low)))
    return knob.low + place * (knob.high - knob.low)


EDGE_SHARE = 0.02
"""A fitted value within this share of its searched range (on the knob's scale) of a bound lies at
its edge: the search may have stopped there only because the range did."""


def edge_of(knob: Knob, value: float) -> str | None:
    """``"low"`` or ``"high"`` where ``value`` lies at that edge of ``knob``'s searched range
    (:data:`EDGE_SHARE`; a log-scaled knob measured in logs; not a low end that is the parameter's
    own, :attr:`Knob.natural_low`), else None.  A fit with a parameter at an edge is one the model
    strains to make: the export may call for a value the model does not search, and the other
    parameters may have made up for it."""
    place = unit(knob, value)
    if place <= EDGE_SHARE and not knob.natural_low:
        return "low"
    if place >= 1 - EDGE_SHARE:
        return "high"
    return None


DECIMALS = 6
"""Decimals a fitted parameter is written with in the calibrated scenario (:func:`written`)."""


def written(value: float) -> float:
    """A parameter's value as the calibrated scenario writes it (:data:`DECIMALS`): finalists and
    probes run with these, so the fit's figures are what the written scenario gives (a run is
    chaotic: the seventh decimal changes its details)."""
    return round(float(value), DECIMALS)


PROBES = 8
"""Probes per parameter, evenly across its searched range from end to end (:func:`probes`)."""


def probes(knobs: tuple[Knob, ...], center: dict[str, float]) -> list[dict[str, float]]:
    """Candidates that move one parameter at a time across its searched range (:data:`PROBES`
    places, ends included) with every other at ``center`` (the fit): a slice of the parameter
    space through the fit along each axis, each value as the scenario would write it (:func:`written`)."""
    out = []
    for knob in knobs:
        for k in range(PROBES):
            value = written(value_at(knob, k / (PROBES - 1)))
            if value != written(center[knob.name]):
                out.append({**center, knob.name: value})
    return out


LOOSE_SHARE = 0.9
"""An interval that covers this share of its parameter's searched range (or more) says the export
does not pin the parameter down (:func:`share_of_range`)."""


def share_of_range(knob: Knob, low: float, high: float) -> float:
    """The share of ``knob``'s searched range (on its scale) that the interval ``low``..``high``
    covers: near 1 where any value fits about as well as the fitted one."""
    return round(max(0.0, unit(knob, high) - unit(knob, low)), 4)


FORECAST_POINTS = 8
"""Candidates of the accepted region, besides the fit, that forecast the held-out period
(:func:`spread_out`): each a whole-span run on two replicates, so the forecast shows how far
parameters the fitted years do not pin down move the years after."""


def spread_out(points: list[dict[str, float]], knobs: tuple[Knob, ...], center: dict[str, float], count: int) -> list:
    """Up to ``count`` of ``points`` as far apart as they lie: farthest-point sampling in the knobs'
    unit space (:func:`unit`), beginning from ``center`` (the fit), each time the point farthest
    from the fit and those already taken (the first of equals, so the choice is reproducible).
    Points where the fit lies are left out; so are repeats."""

    def place(p: dict[str, float]) -> tuple[float, ...]:
        return tuple(unit(k, float(p[k.name])) for k in knobs)

    places = [place(p) for p in points]
    far = [math.dist(at, place(center)) for at in places]  # each point's distance to the nearest taken
    chosen: list[int] = []
    while len(chosen) < count:
        best = max(range(len(points)), key=lambda i: (far[i], -i), default=None)
        if best is None or far[best] == 0:
            break
        chosen.append(best)
        far = [min(d, math.dist(at, places[best])) for d, at in zip(far, places)]
    return [points[i] for i in chosen]
