"""``sandbox calibrate``: bad input refused before anything is written, a fit written whole, the
calibrated scenario usable by every policy, and the same fit on one worker, two, and Dask."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from calibration_data import synthetic_export
from conftest import POLICIES

from sim.app.cli import main
from sim.config.params import PARAMS
from sim.runs.calibration import MIN_BUDGET, calibrate

TRUTH = {"act_bias": -4.8, "voice_sigma": 2.0, "post_rate": 0.3}
BUDGET = MIN_BUDGET


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    return synthetic_export(tmp_path_factory.mktemp("export") / "group.csv", TRUTH, weeks=20, starting=40, per_week=3)


@pytest.fixture(scope="module")
def fitted(export, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fits") / "fit"
    assert main(["calibrate", str(export), "--out", str(out), "--budget", str(BUDGET), "--json"]) == 0
    return out


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.smoke
def test_a_fit_writes_a_scenario_its_figures_and_a_report(fitted):
    fit = json.loads((fitted / "fit.json").read_text())
    assert {"measures", "params", "distance", "held_out"} <= set(fit)
    for name, m in fit["measures"].items():
        assert set(m) >= {"observed", "simulated", "interval", "predicted", "plausible"}, name
    assert fit["measures"]["daily_posters"]["simulated"] is not None
    assert fit["distance"] <= fit["distance_of_defaults"]  # the defaults were a candidate
    for p in fit["params"].values():
        assert p["interval"][0] <= p["value"] <= p["interval"][1]
        assert p["searched"][0] <= p["value"] <= p["searched"][1] and p["at_edge"] in (None, "low", "high")
        assert 0 <= p["share_of_range"] <= 1 and p["pinned"] == (p["share_of_range"] < 0.9)
    scenario = yaml.safe_load((fitted / "scenario.yaml").read_text())
    # the export's first week: the 40 starting members, the operators' pseudonym and any friend they brought
    assert scenario["days"] == 140 and 40 <= scenario["population"]["initial_members"] <= 45
    weekly = scenario["channels"][0]["weekly_joins"]
    assert len(weekly) == 20 and weekly[0] == 0 and all(w >= 3 for w in weekly[1:])  # 3 a week, and referrals
    page = (fitted / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "<script" not in page
    loose = sum(not p["pinned"] for p in fit["params"].values())
    assert page.count("not pinned down") == loose + 1  # each such parameter, and the note saying what it means


def test_a_fit_until_a_date_forecasts_the_rest_with_the_fit_and_its_region(export, tmp_path, capsys):
    """``--until``: the period after it is reported observed against simulated, beside the naive
    forecast and the range that candidates fitting the earlier weeks as well forecast."""
    out = tmp_path / "fit"
    code, said, err = run_cli(capsys, "calibrate", export, "--out", out, "--budget", BUDGET, "--until", "1970-04-13")
    assert code == 0, err
    held = json.loads((out / "fit.json").read_text())["held_out"]
    assert held["from"] == "1970-04-13" and held["weeks"] == 6
    low, high = held["weekly_posters"]["region"]
    assert low <= held["weekly_posters"]["simulated_mean"] <= high and held["region"]["candidates"] >= 1
    assert held["measures"]["daily_posters"]["region"][0] <= held["measures"]["daily_posters"]["simulated"]
    assert f"forecast {low} to {high} posters a week" in said
    assert "<th>region's range</th>" in (out / "report.html").read_text()


@pytest.mark.parametrize("policy", [p.stem for p in POLICIES])
def test_every_shipped_policy_runs_on_a_calibrated_group(fitted, policy, capsys):
    code, out, err = run_cli(
        capsys, "run", fitted / "scenario.yaml", "--policy", policy, "--replicates", "2", "--set", "days=60", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["kpis"]["members_end"]["mean"] > 0


def test_compare_on_a_calibrated_group_gives_verdicts(fitted, capsys):
    code, out, err = run_cli(
        capsys,
        "compare",
        fitted / "scenario.yaml",
        "--policy",
        "baseline",
        "--policy",
        "weekly-ritual",
        "--replicates",
        "3",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["verdict"]["members"]


def test_compare_across_the_fit_judges_each_kpi_under_every_candidate_that_fits_as_well(fitted, capsys):
    """--across-fit: the comparison under the fit is the plain one; each of fit.json's region
    candidates runs the same replicates with its parameters set; neglect's smaller spending holds
    under every candidate, and its effect on messages varies with parameters the export leaves open."""
    region = json.loads((fitted / "fit.json").read_text())["region"]["candidates"]
    assert 1 <= len(region) <= 8 and all(set(c) <= set(PARAMS) for c in region)
    args = [fitted / "scenario.yaml", "--policy", fitted / "operations.yaml", "--policy", "neglect"]
    args += ["--replicates", "4", "--set", "days=60", "--json"]
    code, out, err = run_cli(capsys, "compare", *args)
    assert code == 0, err
    plain = json.loads(out)
    code, out, err = run_cli(capsys, "compare", *args, "--across-fit")
    assert code == 0, err
    data = json.loads(out)
    assert data["diff"] == plain["diff"]  # under the fit: the comparison without --across-fit
    pair = data["across_fit"]["pairs"][0]
    assert data["across_fit"]["candidates"] == len(region) and pair["policy"] == "neglect"
    cost = pair["kpis"]["cost_total"]
    assert cost["fit"] == plain["diff"]["cost_total"]["mean"] < 0 and len(cost["means"]) == len(region)
    assert cost["agreement"] == "holds" and max(cost["means"]) < 0
    messages = pair["kpis"]["member_messages_per_day"]
    assert messages["region"][0] < messages["region"][1]  # the candidates differ: their parameters were set
    saved = fitted.parent / "across"
    code, out, err = run_cli(capsys, "compare", *args[:-1], "--across-fit", "--out", saved)
    assert code == 0 and "Across the fit's region: neglect against" in out
    assert "holds: clear, the same way, under every candidate" in out
    assert json.loads((saved / "comparison.json").read_text())["across_fit"] == data["across_fit"]
    assert "<h2>Across the fit's region: neglect against" in (saved / "report.html").read_text()
    import sim

    api = sim.compare(
        fitted / "scenario.yaml", fitted / "operations.yaml", "neglect", replicates=4, days=60, across_fit=True
    )
    assert json.loads(json.dumps(api.document["across_fit"])) == data["across_fit"]  # the same from Python


def test_compare_across_a_shipped_scenario_is_refused_whatever_lies_in_the_folder(tmp_path, monkeypatch, capsys):
    """A shipped scenario has no fit: a fit.json where the command runs is not taken for its."""
    (tmp_path / "fit.json").write_text(json.dumps({"region": {"candidates": [{"act_bias": -5.0}]}}))
    monkeypatch.chdir(tmp_path)
    args = ["existing-group", "--policy", "baseline", "--policy", "neglect", "--across-fit", "--days", "10"]
    code, said, err = run_cli(capsys, "compare", *args)
    assert code == 2 and said == "" and "no fit.json beside it" in err


@pytest.mark.parametrize(
    "case, region, expected",
    [
        ("no fit beside it", None, "no fit.json beside it"),
        ("not a fit", {"candidates": "x" * 5000}, "should list 1 to 16 candidates"),
        ("unknown parameter", {"candidates": [{"x" * 300: 1.0}]}, "region.candidates[0]: not a model parameter"),
        ("not a number", {"candidates": [{"act_bias": "y" * 300}]}, "expected a number for act_bias"),
        ("out of range", {"candidates": [{"post_rate": -5.0}]}, "out of range"),
    ],
)
def test_compare_across_a_damaged_fit_is_one_line_and_runs_nothing(case, region, expected, fitted, tmp_path, capsys):
    folder = tmp_path / "group"
    folder.mkdir()
    (folder / "scenario.yaml").write_text((fitted / "scenario.yaml").read_text())
    (folder / "operations.yaml").write_text((fitted / "operations.yaml").read_text())
    if region is not None:
        fit = json.loads((fitted / "fit.json").read_text())
        (folder / "fit.json").write_text(json.dumps({**fit, "region": region}))
    out = tmp_path / "cmp"
    args = ["--policy", "baseline", "--policy", "neglect", "--across-fit", "--out", out]
    code, said, err = run_cli(capsys, "compare", folder / "scenario.yaml", *args)
    assert code == 2 and said == "" and len(err.strip().splitlines()) == 1, err
    assert expected in err and "xxxxx" not in err and "yyyyy" not in err
    assert not out.exists()


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_same_seed_and_budget_give_the_same_fit_on_one_worker_two_and_dask(export, fitted, tmp_path):
    one = json.loads((fitted / "fit.json").read_text())
    two = calibrate(str(export), tmp_path / "two", budget=BUDGET, workers=2).fit
    dask = calibrate(str(export), tmp_path / "dask", budget=BUDGET, workers=2, backend="dask").fit
    assert two == one
    assert dask == one


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_a_fit_resumed_with_a_larger_budget_equals_one_run_at_that_budget(export, fitted, tmp_path):
    import shutil

    resumed = tmp_path / "resumed"
    shutil.copytree(fitted, resumed)
    bigger = BUDGET + 8
    fit = calibrate(str(export), resumed, budget=bigger, resume=True).fit
    fresh = calibrate(str(export), tmp_path / "fresh", budget=bigger).fit
    assert fit["candidates"] == bigger
    assert fit == fresh


def test_a_fit_folder_is_not_reused_without_resume(export, fitted, capsys):
    before = sorted(p.name for p in fitted.iterdir())
    code, _, err = run_cli(capsys, "calibrate", export, "--out", fitted, "--budget", BUDGET)
    assert code == 2 and "--resume" in err and err.count("\n") == 1
    assert sorted(p.name for p in fitted.iterdir()) == before


def _short_export(path: Path) -> Path:
    rows = [{"timestamp": 86_400 * d, "member": f"m{d % 5}", "kind": "message"} for d in range(40)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "case, args, expected",
    [
        ("too short", ["--budget", "16"], "a fit needs at least 30 members, 90 days and 300 messages"),
        ("no such group", ["--group", "elsewhere"], "no group 'elsewhere'"),
        ("until outside", ["--until", "2001-01-01"], "outside the export's span"),
        ("until not a date", ["--until", "soon"], "not a date"),
        ("small budget", ["--budget", "3"], f"at least {MIN_BUDGET} candidates"),
        ("no scheduler", ["--backend", "dask", "--scheduler", "tcp://127.0.0.1:1"], "cannot reach the Dask scheduler"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(case, args, expected, export, tmp_path, capsys):
    source = _short_export(tmp_path / "short.csv") if case == "too short" else export
    out = tmp_path / "out"
    code, stdout, err = run_cli(capsys, "calibrate", source, "--out", out, *args)
    assert code == 2, err
    assert expected in err and err.count("\n") == 1
    assert not out.exists()


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_a_killed_fit_resumes_to_the_same_fit(export, fitted, tmp_path):
    """kill -9 mid-fit, then --resume: the candidates asked and not told are run again, and the fit
    ends exactly as one that was never stopped."""
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    args = [sys.executable, "-m", "sim", "calibrate", str(export), "--out", str(out), "--budget", str(BUDGET)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            with sqlite3.connect(out / "study.db") as db:
                if db.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0] >= 1:
                    break
        except sqlite3.Error:
            pass
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert main(["calibrate", str(export), "--out", str(out), "--budget", str(BUDGET), "--resume", "--json"]) == 0
    assert json.loads((out / "fit.json").read_text()) == json.loads((fitted / "fit.json").read_text())


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_a_fit_killed_while_telling_a_round_resumes_to_the_same_fit(export, fitted, tmp_path, monkeypatch):
    """Candidates run side by side, and a world's random numbers depend on its stack-mates: a kill
    after some trials of a stack were told runs that same stack again for the others, so the fit
    ends as one never stopped."""
    import optuna

    tell, told = optuna.study.Study.tell, []

    def killed_at_the_eleventh(study, *args, **kwargs):
        told.append(1)
        if len(told) == 11:  # the second round's third trial: two of its stack told, two not
            raise KeyboardInterrupt
        return tell(study, *args, **kwargs)

    monkeypatch.setattr(optuna.study.Study, "tell", killed_at_the_eleventh)
    out = tmp_path / "killed"
    with pytest.raises(KeyboardInterrupt):
        calibrate(str(export), out, budget=BUDGET)
    monkeypatch.undo()
    fit = calibrate(str(export), out, budget=BUDGET, resume=True).fit
    assert fit == json.loads((fitted / "fit.json").read_text())


def test_a_budget_is_shared_by_up_to_four_searches_of_at_least_128():
    from sim.runs.fit_search import DEFAULT_BUDGET, PER_START, shares

    assert shares(DEFAULT_BUDGET) == [128, 128, 128, 128]
    assert shares(MIN_BUDGET) == [MIN_BUDGET] and shares(2 * PER_START - 1) == [2 * PER_START - 1]
    assert shares(2 * PER_START + 1) == [128, 129] and shares(1000) == [250, 250, 250, 250]


def test_the_search_that_explored_best_refines_with_the_rest_of_the_budget(monkeypatch):
    """Every search explores its share's first half (at least two rounds); the best by then
    refines with what is left, ties going to the earlier search; where more refine, they share
    it; a budget all spent exploring refines none."""
    from sim.runs import fit_search
    from sim.runs.fit_search import DEFAULT_BUDGET, explored, refining

    assert explored(128) == 64 and explored(16) == 16 and explored(24) == 16
    assert refining(DEFAULT_BUDGET, [14.9, 23.3, 18.7, 15.6]) == {0: 256}
    assert refining(DEFAULT_BUDGET, [9.0, 3.0, 3.0, 1.0]) == {3: 256}
    assert refining(DEFAULT_BUDGET, [9.0, 3.0, 3.0, 4.0]) == {1: 256}
    assert refining(24, [5.0]) == {0: 8} and refining(MIN_BUDGET, [5.0]) == {}
    monkeypatch.setattr(fit_search, "REFINED", 2)
    assert refining(DEFAULT_BUDGET, [14.9, 23.3, 18.7, 15.6]) == {0: 128, 3: 128}
    assert sum(refining(1000, [1.0, 2.0, 3.0, 4.0]).values()) == 1000 - 4 * 125


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_several_searches_run_apart_and_the_fit_is_the_best_of_them_all(export, tmp_path, monkeypatch):
    """Two searches (two studies, other sampler seeds): their candidates differ, and the finalists
    are each search's best and the next best of both together, :data:`FINALISTS` in all (searches
    of 16 here, to keep the test short)."""
    import optuna

    from sim.runs import fit_search
    from sim.runs.calibration import FINALISTS

    PER_START = 16
    monkeypatch.setattr(fit_search, "PER_START", PER_START)
    out = tmp_path / "fit"
    fit = calibrate(str(export), out, budget=2 * PER_START, workers=2).fit
    assert fit["searches"] == 2 and fit["candidates"] == 2 * PER_START
    storage = f"sqlite:///{out / 'study.db'}"
    values = []
    params = []
    for name in ("calibration", "calibration-1"):
        trials = optuna.load_study(study_name=name, storage=storage).get_trials(
            states=(optuna.trial.TrialState.COMPLETE,)
        )
        assert len(trials) == PER_START
        values.append(sorted(t.value for t in trials))
        params.append({tuple(sorted(t.params.items())) for t in trials})
    assert not params[0] & params[1]  # each search asked its own candidates
    bests = [v[0] for v in values]
    expected = sorted(bests + sorted(values[0][1:] + values[1][1:])[: FINALISTS - len(bests)])
    searched = [f["distance_in_search"] for f in fit["finalists"] if not f["defaults"]]
    assert searched == [round(v, 4) for v in expected]


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_the_search_that_explored_best_refines_and_a_fit_killed_while_refining_resumes_to_the_same_fit(
    export, tmp_path, monkeypatch
):
    """Two searches of 24 (searches of 24 at least, here, to keep the test short) each explore 16;
    the one whose explored best is the lower refines with the 16 left; a fit killed in the middle
    of the refinement, resumed, ends as one never stopped."""
    import optuna

    from sim.runs import fit_search

    monkeypatch.setattr(fit_search, "PER_START", 24)
    whole = calibrate(str(export), tmp_path / "whole", budget=48).fit
    storage = f"sqlite:///{tmp_path / 'whole' / 'study.db'}"
    done = (optuna.trial.TrialState.COMPLETE,)
    searches = [
        sorted(optuna.load_study(study_name=n, storage=storage).get_trials(states=done), key=lambda t: t.number)
        for n in ("calibration", "calibration-1")
    ]
    explored_bests = [min(t.value for t in trials[:16]) for trials in searches]
    refined = int(np.argmin(explored_bests))
    assert [len(t) for t in searches] == [32 if k == refined else 16 for k in range(2)]
    assert whole["searches"] == 2 and whole["candidates"] == 48

    tell, told = optuna.study.Study.tell, []

    def killed_while_refining(study, *args, **kwargs):
        told.append(1)
        if len(told) == 37:  # the refinement's first round, half told
            raise KeyboardInterrupt
        return tell(study, *args, **kwargs)

    monkeypatch.setattr(optuna.study.Study, "tell", killed_while_refining)
    with pytest.raises(KeyboardInterrupt):
        calibrate(str(export), tmp_path / "killed", budget=48)
    monkeypatch.setattr(optuna.study.Study, "tell", tell)
    assert calibrate(str(export), tmp_path / "killed", budget=48, resume=True).fit == whole


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_an_export_without_joins_fits_how_many_members_stand_behind_each_poster(export, tmp_path):
    """Where an export records no joins it shows posters only: the fit scales the history's members
    by a fitted 'members_per_poster', which stays out of the scenario's parameters."""
    table = pd.read_csv(export, dtype=str, keep_default_na=False)
    posters_only = tmp_path / "messages.csv"
    table[table["kind"] == "message"].to_csv(posters_only, index=False)
    fit = calibrate(str(posters_only), tmp_path / "fit", budget=BUDGET).fit
    assert fit["history"]["joins_recorded"] is False and fit["measures"]["posters_share"]["observed"] is None
    scale = fit["params"]["members_per_poster"]["value"]
    assert 1.0 <= scale <= 10.0
    scenario = yaml.safe_load((tmp_path / "fit" / "scenario.yaml").read_text())
    assert "members_per_poster" not in scenario["params"]
    assert scenario["population"]["initial_members"] == round(fit["history"]["starting_members"] * scale)
    assert sum(scenario["channels"][0]["weekly_joins"]) == round(fit["history"]["arrivals"] * scale)


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
@pytest.mark.parametrize(
    "interrupted",
    [
        "one trial with some parameters only",
        "three trials of eight asked",
    ],
)
def test_a_fit_killed_while_asking_a_round_asks_it_again(interrupted, export, fitted, tmp_path):
    """A kill while a round is being asked (CI met both): a trial created before its last parameter,
    or only some trials of the round asked, whole.  The resumed fit fails that round and asks it
    again, and ends as a fit never stopped; evaluating the trials it found would let the sampler
    ask the round's other trials knowing their results."""
    import shutil

    import optuna

    killed = tmp_path / "killed"
    shutil.copytree(fitted, killed)
    study = optuna.load_study(study_name="calibration", storage=f"sqlite:///{killed / 'study.db'}")
    if interrupted == "one trial with some parameters only":
        half_asked = study.ask()
        half_asked.suggest_float("act_bias", -9.0, -2.0)  # the kill came before the other parameters
    else:
        for _ in range(3):
            study.ask(study.trials[0].distributions)  # every parameter, but the round not yet asked whole
    bigger = BUDGET + 8
    fit = calibrate(str(export), killed, budget=bigger, resume=True).fit
    fresh = calibrate(str(export), tmp_path / "fresh", budget=bigger).fit
    assert fit == fresh


def test_a_runs_range_holds_one_more_run_95_times_in_100():
    """The predicted interval from six runs is a prediction interval: for normal values it holds
    the next run's value in 95% of trials (a z instead of Student's t, or no room for the six
    runs' own mean, holds it in under 93%)."""
    from sim.activity.fit_report import is_plausible
    from sim.runs.fit_distance import predicted_interval

    rng = np.random.default_rng(7)
    draws = rng.normal(0.3, 0.05, size=(4000, 7))
    held = [is_plausible({"observed": row[6], "predicted": predicted_interval(list(row[:6]))}) for row in draws]
    assert 0.94 <= np.mean(held) <= 0.96, np.mean(held)
    assert predicted_interval([0.5]) is None and not is_plausible({"observed": 0.5, "predicted": None})


def test_every_refined_search_sends_its_best_to_the_finalists(monkeypatch):
    """The finalists are the best of each search that refined (every search's where none did),
    then the next best of all, :data:`FINALISTS` in all: a search that only explored has no place of
    right."""
    from sim.runs import calibration
    from sim.runs.calibration import searched_finalists

    monkeypatch.setattr(calibration, "FINALISTS", 4)
    ranked = sorted(
        [(v, 0, n, f"s0-{v}") for n, v in enumerate([1.0, 2.0, 3.0, 4.0, 5.0])]
        + [(v, 1, n, f"s1-{v}") for n, v in enumerate([6.0, 7.0])]
    )
    assert searched_finalists(ranked, [0, 1]) == ["s0-1.0", "s0-2.0", "s0-3.0", "s1-6.0"]
    assert searched_finalists(ranked[:5], [0]) == ["s0-1.0", "s0-2.0", "s0-3.0", "s0-4.0"]
    assert searched_finalists(ranked, [1]) == ["s0-1.0", "s0-2.0", "s0-3.0", "s1-6.0"]  # a refined search's best
    assert searched_finalists(ranked, [0]) == ["s0-1.0", "s0-2.0", "s0-3.0", "s0-4.0"]  # the other only explored


def test_the_fit_is_the_near_finalist_meeting_the_most_measures():
    """Of the finalists within a quarter of the least distance, the one meeting the most measures
    is the fit (the closer of those meeting as many); a finalist meeting more but farther off than
    that is not chosen: the distance still rules where finalists are told apart by it."""
    from sim.runs.calibration import CHOICE_SLACK, chosen_finalist

    assert CHOICE_SLACK == 1.25
    assert chosen_finalist([2.12, 2.50, 2.24, 2.49], [13, 12, 13, 14]) == 3  # seed 0's finalists on the real file
    assert chosen_finalist([2.12, 2.50, 2.24, 2.70], [13, 12, 13, 14]) == 0  # 14 met, but 27% farther
    assert chosen_finalist([2.12, 2.50, 2.24], [13, 12, 13]) == 0  # as many met: the closer
    assert chosen_finalist([3.0, 2.0, 2.0], [14, 13, 13]) == 1  # ties on both: the first
    assert chosen_finalist([2.0, 100.0], [13, 14]) == 0  # the defaults far off


def test_a_fit_chosen_for_the_measures_it_meets_says_so_in_the_cli_and_the_report(fitted, export):
    """Where the fit is not the closest finalist, the report (and the CLI and the dashboard, with
    the same words) says how it was chosen; where it is, or for a fit written before finalists
    recorded what they met, nothing is said."""
    from sim.activity.fit_report import choice_note

    fit = json.loads((fitted / "fit.json").read_text())
    finalists = [
        {"distance_in_search": 1.0, "distance": 2.12, "met": 13, "defaults": False},
        {"distance_in_search": 1.2, "distance": 2.49, "met": 14, "defaults": False},
        {"distance_in_search": 9.0, "distance": 99.0, "met": 8, "defaults": True},
    ]
    chosen = {**fit, "distance": 2.49, "finalists": finalists}
    note = choice_note(chosen)
    assert note == "chosen among 2 finalists for meeting more measures: the closest, at distance 2.12, met 13"
    assert choice_note({**chosen, "distance": 2.12}) is None
    assert choice_note({**chosen, "finalists": [{k: v for k, v in f.items() if k != "met"} for f in finalists]}) is None
    from sim.activity.fit_report import render
    from sim.activity.formats import read_activity

    events = read_activity(str(export))
    assert note in render(chosen, events, events)
    assert "chosen among" not in render({**chosen, "distance": 2.12}, events, events)


def test_a_value_at_the_edge_of_its_searched_range_is_marked_unless_the_edge_is_the_parameters_own():
    """A fitted value the range may have stopped is marked (on the knob's scale: a log knob's
    edge is measured in logs); a value at a low end that is the parameter's own (no habit) is an
    answer, not a search cut short."""
    from sim.runs.fit_region import Knob, edge_of

    ritual = Knob("act_ritual", 0.0, 5.0, natural_low=True)
    assert edge_of(ritual, 4.95) == "high" and edge_of(ritual, 4.85) is None and edge_of(ritual, 0.0) is None
    bias = Knob("act_bias", -9.0, -2.0)
    assert edge_of(bias, -8.9) == "low" and edge_of(bias, -8.8) is None
    rate = Knob("churn_base", 1e-4, 1e-2, log=True)  # 2% of two decades: a factor of 1.1
    assert edge_of(rate, 1.05e-4) == "low" and edge_of(rate, 1.2e-4) is None and edge_of(rate, 9.5e-3) == "high"


def test_probes_move_one_parameter_at_a_time_across_its_whole_range():
    """Each parameter is probed from end to end of its searched range (a log knob evenly in logs),
    every other left at the fit, and the fit itself is not probed again."""
    from sim.runs.fit_region import PROBES, Knob, probes

    bias, rate = Knob("act_bias", -9.0, -2.0), Knob("churn_base", 1e-4, 1e-2, log=True)
    center = {"act_bias": -9.0, "churn_base": 1e-3}
    out = probes((bias, rate), center)
    moved_bias = [p["act_bias"] for p in out if p["churn_base"] == 1e-3 and p["act_bias"] != -9.0]
    moved_rate = [p["churn_base"] for p in out if p["act_bias"] == -9.0]
    assert len(out) == 2 * PROBES - 1  # the bias's low end is the fit
    assert moved_bias[-1] == -2.0 and len(moved_bias) == PROBES - 1
    assert moved_rate[0] == 1e-4 and moved_rate[-1] == 1e-2
    assert np.allclose(np.diff(np.log(moved_rate)), np.log(100) / (PROBES - 1), rtol=0.02)  # to 6 decimals


def test_the_held_out_forecast_spreads_over_the_accepted_region_farthest_apart_first():
    """The candidates that forecast the held-out years beside the fit are the accepted region's
    farthest apart (on the knobs' scales): the far corner first, then the one farthest from it
    and the fit; a point where the fit lies and a repeat are never run again."""
    from sim.runs.fit_region import Knob, spread_out

    knobs = (Knob("act_bias", -9.0, -2.0), Knob("churn_base", 1e-4, 1e-2, log=True))
    fit = {"act_bias": -9.0, "churn_base": 1e-4}
    corner = {"act_bias": -2.0, "churn_base": 1e-2}
    near = {"act_bias": -8.0, "churn_base": 1e-4}
    side = {"act_bias": -9.0, "churn_base": 1e-2}  # in logs as far from the fit as from the corner
    region = [near, dict(fit), side, corner, dict(corner)]
    assert spread_out(region, knobs, fit, 2) == [corner, side]
    assert spread_out(region, knobs, fit, 9) == [corner, side, near]
    assert spread_out([dict(fit)], knobs, fit, 3) == []


def test_a_probe_that_fits_as_well_as_the_best_widens_its_parameters_interval():
    """The interval is the range over every candidate within the bound, the probes' among them:
    a probe that fits as well reaches further than the search did; one that fits far worse does not."""
    from sim.runs.fit_distance import accepted
    from sim.runs.fit_target import FIT_MEASURES

    observed = {name: 1.0 for name in FIT_MEASURES}
    errors = {name: 0.1 for name in FIT_MEASURES}
    variances = {name: 0.01 for name in FIT_MEASURES}
    close = {name: 1.01 for name in FIT_MEASURES}
    searched = [({"x": 0.5 + i / 100}, close) for i in range(6)]
    probes = [({"x": 0.0}, {name: 1.02 for name in FIT_MEASURES}), ({"x": 1.0}, {name: 3.0 for name in FIT_MEASURES})]
    region = accepted(searched + probes, 1, observed, errors, variances)
    assert min(p["x"] for p in region) == 0.0 and max(p["x"] for p in region) == 0.55
    assert min(p["x"] for p in accepted(searched, 1, observed, errors, variances)) == 0.5


def test_a_hazard_of_few_departures_gets_the_exact_interval_of_its_count():
    """On the real file's first two thirds the long-tenure hazard is 2 departures in 146
    poster-months: its interval reaches the exact binomial bound (a count of 2 is as likely from a
    rate three times as high), where half-samples of the members alone stopped at 0.031; the first
    months' hazard, of 181 departures, keeps its half-samples' interval, which is the wider."""
    from conftest import REAL

    from sim.activity.fingerprint import hazard_counts
    from sim.activity.history import before, day_of
    from sim.runs.fit_target import exact_interval, target_of

    target = target_of(str(REAL), format=None, group=None, until="2015-07-16")
    fitted = before(target.events, day_of("2015-07-16", place="--until"))
    assert hazard_counts(fitted) == {"hazard_m1_3": (181, 435), "hazard_m9_11": (2, 146)}
    late, early = target.intervals["hazard_m9_11"], target.intervals["hazard_m1_3"]
    assert target.observed["hazard_m9_11"] == round(2 / 146, 4)
    assert late[0] == 0.0 and abs(late[1] - exact_interval(2, 146)[1]) < 1e-4 and late[1] > 0.045
    half_samples = 1.96 * target.errors["hazard_m1_3"]
    assert early == [round(target.observed["hazard_m1_3"] - half_samples, 4), round(0.4161 + half_samples, 4)]
    low, high = exact_interval(181, 435)
    assert early[0] < low and high < early[1]


def test_a_difference_is_weighed_by_the_side_of_the_interval_it_lies_on():
    """A simulated hazard above a small count's observed value is weighed by the wide upper side of
    its exact interval; one as far below, by the sampling error; a measure with a symmetric
    interval weighs both sides alike."""
    from sim.runs.fit_distance import standard_error

    errors = {"hazard_m9_11": 0.012, "daily_posters": 0.26}
    intervals = {"hazard_m9_11": [0.0, 0.0486], "daily_posters": [0.9004, 1.9196]}  # 1.41 +- 1.96 x 0.26
    scale = standard_error(errors, intervals)
    assert scale("hazard_m9_11", 0.0137, 0.04) == (0.0486 - 0.0137) / 1.96
    assert scale("hazard_m9_11", 0.0137, 0.0) == 0.012
    assert scale("daily_posters", 1.41, 2.0) == pytest.approx(0.26) == scale("daily_posters", 1.41, 0.5)
    assert standard_error(errors)("hazard_m9_11", 0.0137, 0.04) == 0.012  # no intervals: the sampling error
