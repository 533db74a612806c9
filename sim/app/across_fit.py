"""A comparison across a calibrated group's region (``sandbox compare SCENARIO --across-fit``).

A calibration pins some parameters down and leaves others open (``fit.json``'s intervals): a
verdict on "my group" that holds under the fitted parameters may not hold under others that fit
the export as well.  ``sandbox calibrate`` keeps up to eight such candidates, spread across the
accepted region as far apart as they lie (``fit.json``: ``region.candidates``;
:func:`sim.runs.fit_region.spread_out`).  Here each is run as the scenario with its parameters
set, on the same replicate seeds as the fit, and each KPI's difference is reported under every
candidate beside the fit's, with whether its judgement holds across them all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

from sim.app.comparison import Comparison, comparison
from sim.app.report import practical_share
from sim.config.library import resolve
from sim.config.params import PARAMS, check_param
from sim.config.scenario import Setup
from sim.errors import SandboxError
from sim.runs.experiment import run_many

FIT_FILE = "fit.json"
MAX_CANDIDATES = 16
"""More region candidates than a calibration writes (8): a file holding more was not written by it."""
HEADLINE = (
    "members_end",
    "retention_d30",
    "active_ratio_mean",
    "member_messages_per_day",
    "churned_total",
    "cost_total",
)
"""The KPIs the text shows across the region (``--json`` and ``--out`` hold every KPI)."""


def region_candidates(scenario: str | Path) -> list[dict[str, float]]:
    """The region's candidates of the calibration beside ``scenario`` (its folder's fit.json),
    each checked as a scenario's ``params:`` are; one line and nothing run where there are none."""
    path = resolve(scenario, "scenarios").parent / FIT_FILE  # a shipped scenario's folder holds no fit
    if not path.is_file():
        raise SandboxError(
            "--across-fit needs a calibrated scenario: no fit.json beside it; run 'sandbox calibrate' first",
            file=str(scenario),
        )
    try:
        if path.stat().st_size > 10_000_000:
            raise ValueError
        fit = json.loads(path.read_text(encoding="utf-8"))
        candidates = fit["region"]["candidates"]
    except (OSError, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise SandboxError(
            "not a calibration's fit (no region.candidates); calibrate again with this version", file=str(path)
        ) from None
    if not isinstance(candidates, list) or not 1 <= len(candidates) <= MAX_CANDIDATES:
        raise SandboxError(
            f"region.candidates should list 1 to {MAX_CANDIDATES} candidates (a fit whose region is the fit "
            "alone has nothing to compare across); calibrate again",
            file=str(path),
        )
    out = []
    for i, candidate in enumerate(candidates):
        place = f"region.candidates[{i}]"
        if not isinstance(candidate, dict) or not candidate:
            raise SandboxError("expected a mapping of parameters to numbers", file=str(path), place=place)
        checked = {}
        for name, value in candidate.items():
            if not isinstance(name, str) or name not in PARAMS:
                raise SandboxError("not a model parameter; calibrate again", file=str(path), place=place)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SandboxError(f"expected a number for {name}", file=str(path), place=place)
            checked[name] = check_param(name, float(value), source=str(path))
        out.append(checked)
    return out


def sets_of(candidate: dict[str, float]) -> list[str]:
    """``--set`` overrides that run the scenario with a candidate's parameters."""
    return [f"params.{name}={value!r}" for name, value in candidate.items()]


def region_comparisons(
    candidates: list[dict[str, float]],
    load: Callable[[list[str]], list[Setup]],
    replicates: int,
    workers: int | None = None,
    practical: dict[str, float] | None = None,
    done: Callable[[], None] | None = None,
) -> list[Comparison]:
    """The comparison under each candidate: ``load(extra_sets)`` loads the policies' setups with
    the candidate's parameters set (:func:`sets_of`); every candidate runs the same replicates,
    all candidates' runs in one pool (no worker waits for one candidate's last run before the
    next candidate's start)."""
    if not candidates:
        return []
    groups = [load(sets_of(c)) for c in candidates]
    results = run_many([s for group in groups for s in group], replicates, workers=workers, done=done)
    out, start = [], 0
    for group in groups:
        out.append(comparison(results[start : start + len(group)], practical))
        start += len(group)
    return out


def _agreement(fit: str, sign: float, judgements: list[str], signs: list[float]) -> str:
    """``holds`` (clear under the fit and every candidate, the same way), ``never`` (clear under
    none) or ``depends``."""
    if fit == "clear" and all(j == "clear" and s == sign for j, s in zip(judgements, signs)):
        return "holds"
    if fit != "clear" and all(j != "clear" for j in judgements):
        return "never"
    return "depends"


def judged_across(fit: dict, region: list[dict]) -> dict:
    """One pair's KPIs across the region.  ``fit`` and each of ``region``: ``{KPI: (B - A, its
    judgement)}`` under the fit and under one candidate (judged against A's value under it).
    Returns B - A under the fit, its range and values under the candidates, their judgements, and
    whether the fit's verdict holds (:func:`_agreement`)."""
    kpis = {}
    for name, (diff, judged) in fit.items():
        means = [c[name][0]["mean"] for c in region]
        judgements = [c[name][1] for c in region]
        known = [m for m in means if m is not None]
        kpis[name] = {
            "fit": diff["mean"],
            "region": [min(known), max(known)] if known else None,
            "means": means,
            "judgements": judgements,
            "agreement": _agreement(
                judged,
                math.copysign(1.0, diff["mean"] or 0.0),
                judgements,
                [math.copysign(1.0, m or 0.0) for m in means],
            ),
        }
    return kpis


def across(fitted: Comparison, region: list[Comparison]) -> dict:
    """Each pair of a comparison across the region (:func:`judged_across`): the document's
    ``across_fit``."""

    def judged(c: Comparison, k: int) -> dict:
        pair = c.pairs[k]
        return {name: (d, pair["verdict"]["judgements"][name]) for name, d in pair["diff"].items()}

    pairs = [
        {"policy": pair["B"]["policy"], "kpis": judged_across(judged(fitted, k), [judged(c, k) for c in region])}
        for k, pair in enumerate(fitted.pairs)
    ]
    return {"candidates": len(region), "practical": dict(fitted.practical), "pairs": pairs}


AGREEMENT_WORDS = {
    "holds": "holds: clear, the same way, under every candidate",
    "never": "no clear difference under the fit or any candidate",
    "depends": "depends on what the export does not pin down",
}


def table(document: dict, policy_a: str) -> str:
    """The text ``sandbox compare --across-fit`` prints after the comparison under the fit."""
    n = document["candidates"]
    lines = []
    for pair in document["pairs"]:
        lines.append(
            f"Across the fit's region: {pair['policy']} against {policy_a} under the fit and under {n} candidates "
            "that fit the export as well (the same replicates)"
        )
        lines.append(f"  {'KPI':<26} {'B - A, the fit':>15} {'B - A, the region':>24}  verdict")
        for name in HEADLINE:
            k = pair["kpis"].get(name)
            if k is None or k["fit"] is None:
                continue
            region = f"{k['region'][0]:+.4g} to {k['region'][1]:+.4g}" if k["region"] else "-"
            lines.append(f"  {name:<26} {k['fit']:>+15.4g} {region:>24}  {AGREEMENT_WORDS[k['agreement']]}")
    share = practical_share("*", document["practical"])
    lines.append(f"  clear: the 95% interval excludes 0 and the difference is at least {share:.0%} of A's value")
    return "\n".join(lines)
