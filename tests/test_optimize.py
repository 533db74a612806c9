"""``sandbox optimize``: finds a known optimum, resumes a killed search exactly, gives the same
trials on one worker and two, reports a re-evaluation on seeds the search never used, writes
complete policy files, and refuses bad options before any trial runs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.app.cli import main
from sim.runs.experiment import interval, kpi_bounds, run_many
from sim.runs.optimization import REEVALUATION_FIRST

SETTINGS = ["--set", "days=60", "--set", "population.initial_members=200"]
POSTS = "policy.content.operator_posts_per_week"


def _optimize(out: Path, *extra: str) -> int:
    return main(["optimize", "existing-group", "--policy", "weekly-ritual", *SETTINGS, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def grid():
    """Each whole number of operator posts a week 0..8 on the replicates a search uses (0..2)."""
    rows = {}
    for posts in range(9):
        kpis = sim.run(
            "existing-group",
            "weekly-ritual",
            replicates=3,
            days=60,
            population__initial_members=200,
            sets={POSTS: posts},
        ).kpis
        rows[posts] = kpis[["retention_d30", "cost_total"]].mean()
    return pd.DataFrame(rows).T


def _cheapest(out: Path, search: str, bound: float, *extra: str) -> int:
    """The cheapest operator posts keeping day-30 retention at ``bound``: 16 trials of 3 replicates."""
    args = ["--search", search, "--minimize", "cost_total", "--constraint", f"retention_d30 >= {bound}"]
    return _optimize(out, *args, "--trials", "16", "--replicates", "3", *extra)


@pytest.fixture(scope="module")
def constrained(grid, tmp_path_factory):
    """The cheapest policy keeping day-30 retention above a bound the grid places inside the range."""
    bound = float(np.quantile(grid["retention_d30"], 0.5))
    out = tmp_path_factory.mktemp("opt") / "cheapest"
    code = _cheapest(out, f"{POSTS}=0:8:int", bound, "--json")
    assert code == 0
    return out, bound


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_a_constrained_search_finds_the_grids_optimum(grid, constrained, capsys):
    out, bound = constrained
    feasible = grid[grid["retention_d30"] >= bound]
    known = int(feasible["cost_total"].idxmin())  # the cheapest number of posts that keeps retention
    trials = pd.read_parquet(out / "trials.parquet")
    done = trials[(trials["state"] == "complete") & trials["feasible"].astype(bool)]
    found = done.sort_values(["objective:cost_total", "trial"]).iloc[0]
    assert int(found[f"param:{POSTS}"]) == known
    assert found["objective:cost_total"] == pytest.approx(grid.loc[known, "cost_total"])  # the same seeds as the grid
    assert len(trials[trials["state"] == "complete"]) == 16


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_the_report_is_the_reevaluation_on_fresh_seeds(constrained):
    out, _ = constrained
    document = json.loads((out / "optimization.json").read_text())
    first, count = document["reevaluation"]["first"], document["reevaluation"]["count"]
    assert first == REEVALUATION_FIRST and count >= 10  # disjoint from the search's replicates 0..2
    best = next(c for c in document["reevaluated"] if c["name"] == document["best"])
    setup = sim.setup(
        "existing-group", "weekly-ritual", days=60, population__initial_members=200, sets={POSTS: best["params"][POSTS]}
    )
    (rerun,) = run_many([setup], range(first, first + count), workers=1)
    assert sorted(rerun.kpis["replicate"]) == list(range(first, first + count))
    expected = interval(rerun.kpis["cost_total"].to_numpy(), bounds=kpi_bounds("cost_total"))
    assert best["kpis"]["cost_total"]["mean"] == pytest.approx(expected["mean"])
    assert best["kpis"]["cost_total"]["ci95"] == pytest.approx(expected["ci95"])
    written = (out / "best.yaml").read_text()
    assert written.startswith("# Found by sandbox optimize")
    assert "A fixed Sunday-evening ritual" in written  # the starting policy's own text, kept
    loaded = sim.load_setup("existing-group", out / "best.yaml")
    assert loaded.policy.settings.content.operator_posts_per_week == best["params"][POSTS]
    assert loaded.policy.settings.content.ritual_weekday == "sunday"  # the rest of the starting policy kept
    page = (out / "report.html").read_text()
    assert "<script" not in page and page.count("data:image/png;base64,") >= 1


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_one_worker_and_two_give_the_same_trials(tmp_path):
    args = ["--search", f"{POSTS}=0:10", "--search", "policy.groups.cap=60,500", "--maximize", "retention_d30"]
    args += ["--trials", "12", "--replicates", "2", "--json"]
    assert _optimize(tmp_path / "one", *args, "--workers", "1") == 0
    assert _optimize(tmp_path / "two", *args, "--workers", "2") == 0
    one, two = (pd.read_parquet(tmp_path / d / "trials.parquet") for d in ("one", "two"))
    pd.testing.assert_frame_equal(one, two)
    docs = [json.loads((tmp_path / d / "optimization.json").read_text()) for d in ("one", "two")]
    assert docs[0] == docs[1]


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_several_objectives_give_a_front_of_complete_policies(tmp_path, capsys):
    out = tmp_path / "front"
    code = _optimize(
        out,
        "--search",
        f"{POSTS}=0:10",
        "--maximize",
        "retention_d30",
        "--minimize",
        "cost_total",
        "--trials",
        "16",
        "--replicates",
        "2",
    )
    assert code == 0
    assert "Pareto front" in capsys.readouterr().out
    points = sorted((out / "pareto").glob("*.yaml"))
    document = json.loads((out / "optimization.json").read_text())
    assert len(points) == len(document["pareto"]) >= 2
    costs = []
    for point in points:
        setup = sim.load_setup("existing-group", point)
        costs.append(setup.policy.settings.content.operator_posts_per_week)
    assert len(set(costs)) == len(costs)  # different points, different policies


def _complete(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("select count(*) from trials where state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow  # a long check: the slow tier, which CI runs too
def test_a_killed_search_resumes_to_exactly_the_requested_trials(tmp_path):
    args = [sys.executable, "-m", "sim", "optimize", "existing-group", "--policy", "weekly-ritual", *SETTINGS]
    args += ["--search", f"{POSTS}=0:10", "--maximize", "retention_d30", "--trials", "32", "--replicates", "2"]
    args += ["--json"]
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*args, "--out", str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _complete(killed / "study.db") < 9:  # a round or more told, the next under way
        assert proc.poll() is None and time.monotonic() < deadline, "the search ended before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert 9 <= _complete(killed / "study.db") < 32
    resumed = subprocess.run([*args, "--out", str(killed), "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    whole = subprocess.run([*args, "--out", str(tmp_path / "whole")], capture_output=True, text=True, timeout=300)
    assert whole.returncode == 0, whole.stderr
    after, uninterrupted = (pd.read_parquet(tmp_path / d / "trials.parquet") for d in ("killed", "whole"))
    complete = after[after["state"] == "complete"]
    assert len(complete) == 32 and complete["trial"].is_unique
    pd.testing.assert_frame_equal(complete.reset_index(drop=True), uninterrupted.reset_index(drop=True))


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--search", "policy.groups.cpa=2:10", "--maximize", "retention_d30"], "--search policy.groups.cpa"),
        (["--search", f"{POSTS}=0:5", "--maximize", "retention"], "unknown KPI 'retention'"),
        (["--search", f"{POSTS}=5:1", "--maximize", "retention_d30"], "LO must be below HI"),
        (
            ["--search", f"{POSTS}=0:5", "--maximize", "retention_d30", "--constraint", "cost_total >> 5"],
            "does not parse",
        ),
        (["--search", "policy.groups.on_full=0:1", "--maximize", "retention_d30"], "--search policy.groups.on_full"),
        (["--search", f"{POSTS}=0:5"], "give an objective"),
        (["--search", f"{POSTS}=0:5:log", "--maximize", "retention_d30"], "log-scale range must start above 0"),
    ],
)
def test_bad_options_are_one_line_before_any_trial(extra, expected, tmp_path, capsys):
    out = tmp_path / "bad"
    assert _optimize(out, *extra) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_resumed_search_with_another_space_is_refused(tmp_path, capsys):
    out = tmp_path / "cheapest"
    small = ["--search", f"{POSTS}=0:8:int", "--minimize", "cost_total", "--trials", "2", "--replicates", "1"]
    assert _optimize(out, *small, "--json") == 0
    capsys.readouterr()
    before = sorted(p.name for p in out.iterdir())
    code = _cheapest(out, f"{POSTS}=0:9:int", 0.5, "--resume")
    err = capsys.readouterr().err
    assert code == 2 and "holds a search with other search" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == before


def test_the_best_is_picked_on_the_reevaluated_means_zero_included():
    """A candidate whose re-evaluated mean is exactly 0 is a candidate like any other (a policy
    that costs nothing), and one whose KPI is undefined comes last."""
    from sim.runs.optimization import Objective, _document

    def candidate(name, mean):
        return {"name": name, "kpis": {"cost_total": {"mean": mean, "ci95": [None, None]}}}

    reevaluated = [
        {**candidate("start", 5.0), "replicates": {"first": REEVALUATION_FIRST, "count": 10}},
        candidate("trial 1", 3.0),
        candidate("trial 2", 0.0),
        candidate("trial 3", None),
    ]
    table = pd.DataFrame({"state": []})
    cheapest = _document({}, [Objective("cost_total", "minimize")], [], table, reevaluated, 2)
    dearest = _document({}, [Objective("cost_total", "maximize")], [], table, reevaluated, 2)
    assert (cheapest["best"], dearest["best"]) == ("trial 2", "trial 1")


def test_a_found_policy_keeps_its_writers_comments_and_order():
    from sim.config.edits import policy_with

    text = "# our house rules\nname: ours\ncontent:\n  operator_posts_per_week: 3  # Mondays only\n  quality: 0.6\n"
    found = policy_with(
        text,
        [("content.operator_posts_per_week", 5.5), ("service.answer_rate", 0.4)],
        file="ours",
        header="found by a search",
    )
    assert found.startswith("# found by a search\n# our house rules\nname: ours\n")
    line = next(x for x in found.splitlines() if "operator_posts_per_week" in x)
    assert line.split("#")[0].split() == ["operator_posts_per_week:", "5.5"] and line.endswith("# Mondays only")
    assert found.index("operator_posts_per_week") < found.index("quality") < found.index("answer_rate: 0.4")
