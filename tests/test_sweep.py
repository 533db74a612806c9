"""Sweeps for researchers: identical results on every back end, resumable, failures recorded."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import scenario

import sim
from sim.app.cli import main

GRID = ["--grid", "days=20,40", "--grid", "policy.service.answer_rate=0.2,0.9"]
SMALL = ["--set", "population.initial_members=150"]


def _sweep(tmp_path, name, *extra):
    out = tmp_path / name
    code = main(
        [
            "sweep",
            scenario("existing-group"),
            *GRID,
            *SMALL,
            "--replicates",
            "3",
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ]
    )
    assert code == 0
    return pd.read_parquet(out / "runs.parquet")


def _comparable(runs: pd.DataFrame) -> pd.DataFrame:
    return runs.drop(columns=["seconds"]).reset_index(drop=True)


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_grid_results_are_identical_on_one_two_workers_and_dask(tmp_path, capsys):
    one = _sweep(tmp_path, "one", "--workers", "1")
    two = _sweep(tmp_path, "two", "--workers", "2")
    dask = _sweep(tmp_path, "dask", "--backend", "dask", "--workers", "2")
    assert len(one) == 12 and set(one["status"]) == {"ok"}
    assert one["run_id"].is_unique and set(one["replicate"]) == {0, 1, 2}
    pd.testing.assert_frame_equal(_comparable(one), _comparable(two))
    pd.testing.assert_frame_equal(_comparable(one), _comparable(dask))
    # replicate r has the same seed at every point: common random numbers across the design
    assert one.groupby("replicate")["seed"].nunique().eq(1).all()
    daily = pd.read_parquet(tmp_path / "one" / "daily")
    assert set(daily["run_id"].astype(str)) == set(one["run_id"])
    manifest = json.loads((tmp_path / "one" / "manifest.json").read_text())
    assert manifest["design"]["names"] == ["days", "policy.service.answer_rate"]
    assert manifest["scenario"]["hash"] and manifest["versions"]["duckdb"]


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_a_killed_sweep_resumes_to_exactly_the_full_set(tmp_path):
    out = tmp_path / "killed"
    args = [
        sys.executable,
        "-m",
        "sim",
        "sweep",
        scenario("existing-group"),
        "--grid",
        "days=60,61,62,63",
        "--set",
        "population.initial_members=2000",
        "--replicates",
        "10",
        "--workers",
        "1",
        "--out",
        str(out),
        "--no-progress",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_runs(out, 5, seconds=60)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    partial = len(list((out / "runs").glob("*.parquet")))
    assert 5 <= partial < 40
    assert not list(out.rglob(".*.tmp")), "a half-written file was left behind"
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 40 and runs["run_id"].is_unique and set(runs["status"]) == {"ok"}
    daily = pd.read_parquet(out / "daily")
    assert daily.groupby("run_id")["day"].nunique().to_dict() == {
        r: d for r, d in zip(runs["run_id"], runs["param:days"])
    }


def test_a_failing_run_is_recorded_and_the_others_finish(tmp_path, capsys):
    """70 member rules, on durable-rules, that all hold for a member of a group of more than 100:
    durable-rules follows at most 64 conditions a fact meets at once, so the runs with one group
    of 300 fail (with a plain message) while those with 50 members finish, and the sweep records
    both."""
    import yaml

    rules = [
        {"name": f"r{k}", "when": f"group_size * {k + 2} > {100 * (k + 2)}", "do": {"add_points": 1}} for k in range(70)
    ]
    policy = tmp_path / "many-rules.yaml"
    policy.write_text(yaml.safe_dump({"name": "many rules", "rules": rules}))
    out = tmp_path / "failing"
    code = main(
        [
            "sweep",
            scenario("existing-group"),
            "--policy",
            str(policy),
            "--grid",
            "population.initial_members=50,300",
            "--set",
            "days=5",
            "--replicates",
            "2",
            "--out",
            str(out),
            "--no-progress",
            "--workers",
            "2",
            "--rules-backend",
            "durable",
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "2 runs failed" in err, err
    runs = pd.read_parquet(out / "runs.parquet")
    failed = runs[runs["status"] == "failed"]
    assert set(failed["param:population.initial_members"]) == {300}
    assert failed["error"].str.contains("more than 64 conditions").all()
    assert set(runs.loc[runs["status"] == "ok", "param:population.initial_members"]) == {50}


@pytest.mark.slow  # a long check: the slow tier, which CI runs too
def test_sensitivity_ranks_the_dominant_parameter_first(tmp_path, capsys):
    out = tmp_path / "sobol"
    assert (
        main(
            [
                "sweep",
                scenario("existing-group"),
                "--sample",
                "sobol",
                "--n",
                "8",
                "--range",
                "channels.moments.conversion_rate=0.002:0.03",
                "--range",
                "params.act_bias=-4.2:-3.6",
                "--range",
                "policy.content.quality=0.2:0.9",
                "--set",
                "days=45",
                "--set",
                "population.initial_members=150",
                "--replicates",
                "2",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["report", str(out), "--sensitivity", "--kpi", "joined_total"]) == 0
    table = pd.read_csv(out / "report" / "sensitivity.csv")
    first = table[(table["kpi"] == "joined_total") & (table["rank"] == 1)]["parameter"].item()
    assert first == "channels.moments.conversion_rate"
    # SALib's intervals, kept: the dominant parameter's is wide; a parameter that cannot move the KPI
    # (the content's quality, on joins within 45 days) gets exactly 0, its runs meeting the same luck
    dominant = table[(table["kpi"] == "joined_total") & (table["rank"] == 1)]
    assert (dominant["S1_conf"] > 0).all() and (dominant["ST_conf"] > 0).all()
    assert (table["S1_conf"] >= 0).all() and (table["ST_conf"] >= 0).all()
    # 8 base samples are far too few for Sobol indices: the report says so
    assert "too few for Sobol indices" in capsys.readouterr().out
    assert (out / "report" / "sensitivity_warning.txt").exists()
    assert (out / "report" / "sensitivity_joined_total.png").stat().st_size > 1000
    assert (out / "report" / "points.csv").exists()


def test_report_of_a_grid_writes_points_and_main_effects(tmp_path, capsys):
    _sweep(tmp_path, "grid")
    assert main(["report", str(tmp_path / "grid")]) == 0
    effects = pd.read_csv(tmp_path / "grid" / "report" / "main_effects.csv")
    assert set(effects["parameter"]) == {"days", "policy.service.answer_rate"}
    assert (tmp_path / "grid" / "report" / "main_effects_members_end.png").exists()


def test_python_api_returns_dataframes(tmp_path):
    result = sim.sweep(
        scenario("existing-group"),
        grid=["days=10,20"],
        sets=["population.initial_members=100"],
        replicates=2,
        out=str(tmp_path / "api"),
        workers=1,
    )
    assert len(result.runs) == 4 and result.failed == 0
    assert set(result.daily.groupby("run_id")["day"].max()) == {9, 19}


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "policy.groups.capp=5,6"], "unknown field 'capp'"),
        (["--grid", "days="], "empty value list"),
        (["--sample", "lhs", "--n", "4", "--range", "params.act_bias=-4"], "malformed range"),
        (["--sample", "lhs", "--n", "4", "--range", "params.act_bias=-3:-4"], "the range is empty"),
        (
            ["--grid", "days=5", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"],
            "cannot reach the Dask scheduler",
        ),
    ],
)
def test_bad_sweeps_fail_before_any_run(tmp_path, capsys, args, message):
    out = tmp_path / "bad"
    code = main(["sweep", scenario("existing-group"), *args, "--replicates", "1", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1
    assert not (out / "runs").exists()


def test_an_output_directory_of_another_sweep_is_refused(tmp_path, capsys):
    _sweep(tmp_path, "mine")
    code = main(
        [
            "sweep",
            scenario("existing-group"),
            "--grid",
            "days=5,6",
            "--replicates",
            "1",
            "--out",
            str(tmp_path / "mine"),
            "--no-progress",
        ]
    )
    assert code == 2 and "holds a different sweep's results" in capsys.readouterr().err


@pytest.mark.slow  # a long check: the slow tier, which CI runs too
def test_kill_9_of_a_pooled_sweep_stops_its_workers_and_resume_finishes_the_rest(tmp_path):
    """A sweep killed with SIGKILL cannot clean up: its workers must notice and stop writing."""
    out = tmp_path / "killed9"
    args = [
        sys.executable,
        "-m",
        "sim",
        "sweep",
        scenario("existing-group"),
        "--grid",
        "days=60,61,62,63",
        "--set",
        "population.initial_members=1500",
        "--replicates",
        "6",
        "--workers",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_runs(out, 3, seconds=120)
    children = _children_of(proc.pid)
    assert children, "the sweep should run its runs in worker processes"
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(pid) for pid in children):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in children), "a worker outlived its killed sweep"
    written = sorted(p.name for p in (out / "runs").glob("*.parquet"))
    time.sleep(2)
    assert sorted(p.name for p in (out / "runs").glob("*.parquet")) == written, "results written after the kill"
    resumed = subprocess.run(args + ["--resume"], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 24 and runs["run_id"].is_unique and set(runs["status"]) == {"ok"}


def _wait_for_runs(out: Path, count: int, seconds: float) -> None:
    """Wait until a running sweep has written ``count`` runs' rows (or the time is up)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if (out / "runs").is_dir() and len(list((out / "runs").glob("*.parquet"))) >= count:
            return
        time.sleep(0.05)


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
