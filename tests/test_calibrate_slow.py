"""Calibration against known truth and against the real file (slow tier: whole fits).

- Parameter recovery: groups simulated from known parameters (300 members at the start, two
  arrivals a week, 40 weeks), then calibrated with 192 candidates (one search, candidates side by
  side), give back the parameters the fingerprint pins down in every seed (the activity level, the
  spread of voices, the fading of interest) within their reported intervals, for three seeds, and
  fit closer than the model's defaults.  Before members' draws were keyed, the newcomer's hello
  and the welcome came back in every seed too; with keyed draws (other exports, other runs) the
  hello came back in one seed of three and the welcome in two, with the search's candidates on
  shared replicates or each on its own alike, so they are no longer claimed (the README says so).
  With 96 candidates side by side, seed 1 left the activity level out of its interval (the search
  settled at -3.1 for a truth of -4.5); with 96 run one at a time all three seeds passed.
- The real file (``../shared/data``), fitted on its first two thirds with the default budget
  (four searches of 128): fit.json and report.html are written, the held-out check is computed
  (not judged), the fit is far closer than the model's defaults, and at least 12 of the 14
  measures are met (the simulated value within the observed interval or within 25% of the
  observed value); the README names the ones it misses.  The export is a plausible run of the
  fitted model (its value within 95% of the model's runs) on at least 10 of 14 (11 measured; the
  true parameters of a group simulated along this history were plausible on 12.9 on average).
"""

from __future__ import annotations

import json

import pytest
from calibration_data import synthetic_export
from conftest import REAL

from sim.runs.calibration import calibrate

pytestmark = pytest.mark.slow


TRUTH = {"act_bias": -4.5, "voice_sigma": 2.2, "post_rate": 0.4, "churn_base": 0.002}
RECOVERED = ("act_bias", "voice_sigma", "interest_decay")
"""The parameters the fingerprint pins down whatever the seed: the activity level (daily posters,
DAU/MAU), the spread of voices (Gini, top 1%) and the fading of interest (activity by tenure)."""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_known_parameters_are_recovered_within_their_intervals(seed, tmp_path):
    export = synthetic_export(tmp_path / "truth.csv", TRUTH, starting=300, weeks=40, per_week=2, seed=100 + seed)
    fit = calibrate(str(export), tmp_path / "fit", budget=192, workers=2, seed=seed).fit
    for name in RECOVERED:
        lo, hi = fit["params"][name]["interval"]
        truth = TRUTH.get(name, fit["params"][name]["default"])
        assert lo <= truth <= hi, (name, truth, fit["params"][name])
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
    assert fit["history"]["ritual_weekday"] == "wednesday"  # its weekly meeting
    assert fit["distance"] < fit["distance_of_defaults"] / 10
    met = [name for name, m in fit["measures"].items() if m["met"]]
    assert len(met) >= 12, sorted(set(fit["measures"]) - set(met))
    plausible = [name for name, m in fit["measures"].items() if m["plausible"]]
    assert len(plausible) >= 10, sorted(set(fit["measures"]) - set(plausible))
