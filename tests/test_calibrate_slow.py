"""Calibration against known truth and against the real file (slow tier: whole fits).

- Parameter recovery: groups simulated from known parameters (300 members at the start, two
  arrivals a week, 40 weeks), then calibrated with 192 candidates (one search, candidates side by
  side), give back every fitted parameter within its reported interval, for three seeds, and fit
  closer than the model's defaults; and the intervals say something: the activity level, the
  spread of voices and messages per active day are pinned down in every seed (the first two
  within under 60% of their searched range: 42-52% and 33-54% measured).  The intervals reach the
  truth because probes move each parameter across its range with the others at the fit
  (:mod:`sim.runs.fit_region`): with the search's candidates alone the newcomer's hello, the
  welcome, the base hazard, newcomers' extra hazard, the boredom hazard and newcomers' curiosity
  were left out in some seed (8 of 39 parameter-seeds), the search having sampled little where
  they fit as well.
- The real file (``../shared/data``), fitted on its first two thirds with the default budget
  (four searches exploring 64 candidates each, the best refining with 256): fit.json and
  report.html are written, the held-out check is computed (not judged), the fit is far closer than
  the model's defaults, and every one of the 14 measures is met (the simulated value within the
  observed interval or within 25% of the observed value: the issue's criterion; 14, 14 and 13
  measured at seeds 0 to 2, the README names seed 2's miss).  The export is a plausible run of the
  fitted model (its value within 95% of the model's runs) on at least 9 of 14 (9 measured; the
  true parameters of a group simulated along this history were plausible on 12.9 on average): the
  fit is chosen among near finalists for the measures it meets
  (:func:`sim.runs.calibration.chosen_finalist`), and seed 0's that meets all fourteen is
  plausible on 9 where the closest, meeting 13, was on 11.
"""

from __future__ import annotations

import json

import pytest
from calibration_data import synthetic_export
from conftest import REAL

from sim.runs.calibration import calibrate

pytestmark = pytest.mark.slow


TRUTH = {"act_bias": -4.5, "voice_sigma": 2.2, "post_rate": 0.4, "churn_base": 0.002}
PINNED = ("act_bias", "voice_sigma", "post_rate")
"""The parameters such an export pins down in every seed: the activity level (daily posters,
DAU/MAU), the spread of voices (Gini, top 1%) and messages per active day."""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_known_parameters_are_recovered_within_their_intervals(seed, tmp_path):
    export = synthetic_export(tmp_path / "truth.csv", TRUTH, starting=300, weeks=40, per_week=2, seed=100 + seed)
    fit = calibrate(str(export), tmp_path / "fit", budget=192, workers=2, seed=seed).fit
    for name, p in fit["params"].items():
        lo, hi = p["interval"]
        truth = TRUTH.get(name, p["default"])
        assert lo <= truth <= hi, (name, truth, p)
    for name in PINNED:
        assert fit["params"][name]["pinned"], (name, fit["params"][name])
    for name in ("act_bias", "voice_sigma"):
        assert fit["params"][name]["share_of_range"] < 0.6, (name, fit["params"][name])
    assert fit["distance"] < fit["distance_of_defaults"] / 2


def test_the_real_file_fitted_on_two_thirds_is_checked_on_the_rest(tmp_path):
    out = tmp_path / "fit"
    fit = calibrate(str(REAL), out, until="2015-07-16", workers=2).fit
    assert (out / "report.html").is_file() and json.loads((out / "fit.json").read_text()) == json.loads(json.dumps(fit))
    held = fit["held_out"]
    assert held["from"] == "2015-07-16" and held["weeks"] > 100
    for key in ("observed_mean", "simulated_mean", "naive_forecast", "model_mean_abs_error", "naive_mean_abs_error"):
        assert held["weekly_posters"][key] is not None
    assert all(m["observed"] is not None for m in held["measures"].values() if m["simulated"] is not None)
    low, high = held["weekly_posters"]["region"]  # the fit's forecast and its region's
    assert held["region"]["candidates"] >= 1 and low <= held["weekly_posters"]["simulated_mean"] <= high
    for m in held["measures"].values():
        assert m["simulated"] is None or m["region"][0] <= m["simulated"] <= m["region"][1]
    assert fit["history"]["ritual_weekday"] == "wednesday"  # its weekly meeting
    assert fit["distance"] < fit["distance_of_defaults"] / 10
    met = [name for name, m in fit["measures"].items() if m["met"]]
    assert len(met) == 14, sorted(set(fit["measures"]) - set(met))
    plausible = [name for name, m in fit["measures"].items() if m["plausible"]]
    assert len(plausible) >= 9, sorted(set(fit["measures"]) - set(plausible))
