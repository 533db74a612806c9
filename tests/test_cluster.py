"""A Dask cluster of separate processes with no disk or working directory shared with the caller.

The scheduler and two workers are started here as their own processes on 127.0.0.1, each
worker in a folder of its own.  The caller's scenario and policy are relative paths only the
caller can resolve, and ``--out`` is relative to the caller: the workers get contents, send
results back, and the caller alone writes.  A sweep and a calibration on that cluster give
exactly what they give on the local pool.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from calibration_data import synthetic_export
from conftest import scenario

from sim.app.cli import main
from sim.runs.fit_search import MIN_BUDGET


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two single-threaded workers, each process in its own folder."""
    home = tmp_path_factory.mktemp("cluster")
    scheduler_file = home / "scheduler.json"
    (home / "scheduler").mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0"]
            + ["--no-dashboard", "--scheduler-file", str(scheduler_file)],
            cwd=home / "scheduler",
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        time.sleep(0.3)  # the file is written whole: read it once it is there
        address = json.loads(scheduler_file.read_text())["address"]
        workers = []
        for k in range(2):
            folder = home / f"worker{k}"
            folder.mkdir()
            workers.append(folder)
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "1"]
                    + ["--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1", "--local-directory", str(folder)],
                    cwd=folder,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        yield address, workers
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _rows(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path).drop(columns=["seconds"]).sort_values("run_id").reset_index(drop=True)


def _daily(path: Path) -> pd.DataFrame:
    daily = pd.read_parquet(path)
    daily["run_id"] = daily["run_id"].astype(str)
    return daily.sort_values(["run_id", "day"]).reset_index(drop=True)


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_a_sweep_on_a_cluster_without_shared_disk_equals_the_local_pool(cluster, tmp_path, monkeypatch, capsys):
    address, worker_folders = cluster
    caller = tmp_path / "caller"
    caller.mkdir()
    shutil.copy(scenario("existing-group"), caller / "my-group.yaml")
    (caller / "my-policy.yaml").write_text("name: mine\ncontent:\n  operator_posts_per_week: 5\n")
    monkeypatch.chdir(caller)
    common = ["sweep", "my-group.yaml", "--policy", "my-policy.yaml", "--grid", "population.initial_members=150,300"]
    common += ["--set", "days=20", "--replicates", "2", "--no-progress"]
    assert main([*common, "--backend", "dask", "--scheduler", address, "--out", "on-cluster"]) == 0
    out = capsys.readouterr().out
    assert main([*common, "--workers", "1", "--out", "local"]) == 0
    capsys.readouterr()
    cluster_rows, local_rows = _rows(caller / "on-cluster" / "runs.parquet"), _rows(caller / "local" / "runs.parquet")
    assert len(cluster_rows) == 4 and set(cluster_rows["status"]) == {"ok"}, out
    pd.testing.assert_frame_equal(cluster_rows, local_rows)
    pd.testing.assert_frame_equal(_daily(caller / "on-cluster" / "daily"), _daily(caller / "local" / "daily"))
    for folder in worker_folders:  # the workers wrote no result where they stand
        assert not list(folder.rglob("*.parquet")) and not (folder / "on-cluster").exists()


@pytest.mark.slow  # a long check: the slow tier, which CI runs too
def test_a_calibration_on_a_cluster_without_shared_disk_equals_one_worker(cluster, tmp_path, monkeypatch, capsys):
    address, _ = cluster
    monkeypatch.chdir(tmp_path)
    synthetic_export(tmp_path / "group.csv", {"act_bias": -4.8}, weeks=14, starting=40, per_week=3)
    budget = ["--budget", str(MIN_BUDGET), "--json"]
    assert (
        main(["calibrate", "group.csv", "--out", "fit-cluster", "--backend", "dask", "--scheduler", address, *budget])
        == 0
    )
    assert main(["calibrate", "group.csv", "--out", "fit-local", "--workers", "1", *budget]) == 0
    capsys.readouterr()
    cluster_fit = json.loads((tmp_path / "fit-cluster" / "fit.json").read_text())
    local_fit = json.loads((tmp_path / "fit-local" / "fit.json").read_text())
    assert cluster_fit == local_fit


@pytest.mark.slow  # a long check: the slow tier, which CI runs too
def test_a_policy_search_on_a_cluster_without_shared_disk_equals_one_worker(cluster, tmp_path, monkeypatch, capsys):
    address, worker_folders = cluster
    monkeypatch.chdir(tmp_path)
    shutil.copy(scenario("existing-group"), tmp_path / "my-group.yaml")
    common = ["optimize", "my-group.yaml", "--policy", "baseline", "--set", "days=45"]
    common += ["--set", "population.initial_members=150", "--search", "policy.service.answer_rate=0:1"]
    common += ["--maximize", "retention_d30", "--trials", "8", "--replicates", "2", "--json"]
    assert main([*common, "--backend", "dask", "--scheduler", address, "--out", "search-cluster"]) == 0
    assert main([*common, "--workers", "1", "--out", "search-local"]) == 0
    capsys.readouterr()
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "search-cluster" / "trials.parquet"),
        pd.read_parquet(tmp_path / "search-local" / "trials.parquet"),
    )
    cluster_doc = json.loads((tmp_path / "search-cluster" / "optimization.json").read_text())
    assert cluster_doc == json.loads((tmp_path / "search-local" / "optimization.json").read_text())
    for folder in worker_folders:
        assert not (folder / "search-cluster").exists()
