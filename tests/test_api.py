"""One Python API: each command as a function taking paths or loaded setups alike, returning the
tables the command writes; and the docs' examples run as they are."""

from __future__ import annotations

import json
import re
import runpy
from pathlib import Path

import pandas as pd
import pytest
from conftest import REAL, ROOT

import sim
from sim.app.cli import main
from sim.errors import SandboxError


def test_run_from_a_name_a_file_or_a_setup_gives_the_same_tables():
    by_name = sim.run("existing-group", "moderated", replicates=2, days=25, population__initial_members=200)
    loaded = sim.load_setup(
        ROOT / "scenarios" / "existing-group.yaml", "moderated", ["days=25", "population.initial_members=200"]
    )
    by_setup = sim.run(loaded, replicates=2)
    for name in ("daily", "members", "actions", "kpis"):
        pd.testing.assert_frame_equal(getattr(by_name, name), getattr(by_setup, name))
    reseeded = sim.run(loaded, replicates=2, seed=9, sets={"policy.groups.cap": 90})
    direct = sim.run(
        sim.load_setup(
            "existing-group",
            "moderated",
            ["days=25", "population.initial_members=200", "seed=9", "policy.groups.cap=90"],
        ),
        replicates=2,
    )
    pd.testing.assert_frame_equal(reseeded.daily, direct.daily)
    assert reseeded.setup.scenario.seed == 9 and not by_name.daily.equals(reseeded.daily)


def test_compare_returns_what_the_cli_writes(capsys):
    compared = sim.compare("existing-group", "baseline", "weekly-ritual", replicates=3, days=40)
    code = main(
        ["compare", "existing-group", "--policy", "baseline", "--policy", "weekly-ritual"]
        + ["--replicates", "3", "--set", "days=40", "--json"]
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert json.loads(json.dumps(compared.document)) == printed
    assert compared.document["verdict"]["text"] and len(compared.results) == 2
    a, b = (sim.setup("existing-group", p, days=40) for p in ("baseline", "weekly-ritual"))
    again = sim.compare(a, b, replicates=3)
    assert json.loads(json.dumps(again.document)) == printed
    with pytest.raises(SandboxError, match="two policies or more"):
        sim.compare("existing-group", "baseline")
    with pytest.raises(SandboxError, match="loaded setups with loaded setups"):
        sim.compare(a, "weekly-ritual")


def test_sweep_takes_a_loaded_setup(tmp_path):
    loaded = sim.setup("existing-group", "baseline", days=15, population__initial_members=150)
    grid = ["policy.groups.cap=60,500"]
    from_setup = sim.sweep(loaded, grid=grid, replicates=2, out=tmp_path / "a", workers=1)
    from_file = sim.sweep(
        "existing-group",
        "baseline",
        grid=grid,
        replicates=2,
        out=tmp_path / "b",
        workers=1,
        days=15,
        population__initial_members=150,
    )
    columns = [c for c in from_file.runs.columns if c != "seconds"]
    pd.testing.assert_frame_equal(from_setup.runs[columns], from_file.runs[columns])
    assert from_setup.runs.groupby("param:policy.groups.cap")["members_end"].mean().nunique() == 2


def test_observe_takes_a_file_or_its_events(capsys):
    from sim.activity.formats import read_activity

    table = sim.observe(REAL)
    assert main(["observe", str(REAL), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)["groups"]
    assert list(table.index) == list(printed)
    for group, row in table.iterrows():
        measures = printed[group]["measures"]
        assert {k: (None if pd.isna(v) else v) for k, v in row.items()} == measures
    pd.testing.assert_frame_equal(sim.observe(read_activity(REAL)), table)


def _run_the_docs(tmp_path, monkeypatch, *, slow: bool) -> Path:
    """docs/python-api.md's blocks in order, as a reader would type them into one session, in a
    folder of their own; the block marked as taking minutes only if ``slow``.  Returns the folder."""
    text = (ROOT / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    work = tmp_path / "project" / "work"
    work.mkdir(parents=True)
    (tmp_path / "shared").symlink_to(REAL.parent.parent)  # ../../shared/data from the folder
    monkeypatch.chdir(work)
    runnable = [block for block in blocks if slow or not block.startswith("# (takes minutes)")]
    assert len(runnable) == len(blocks) - (0 if slow else 1)
    script = work / "example.py"
    script.write_text("\n".join(runnable))
    runpy.run_path(str(script), run_name="docs_example")  # not __main__: spawned workers would run it again
    assert (work / "cap-sweep" / "runs.parquet").is_file()
    return work


def test_the_docs_examples_run(tmp_path, monkeypatch):
    """Every block of docs/python-api.md runs, but the one that takes minutes (the slow tier runs it)."""
    _run_the_docs(tmp_path, monkeypatch, slow=False)


@pytest.mark.slow
def test_the_docs_calibration_example_runs(tmp_path, monkeypatch):
    """All of docs/python-api.md, the calibration of the real file and the comparison across its
    fit among them: the keys it prints exist (a wrong key there once went unnoticed)."""
    work = _run_the_docs(tmp_path, monkeypatch, slow=True)
    fit = json.loads((work / "duraspace-fit" / "fit.json").read_text())
    assert fit["held_out"]["weekly_posters"]["simulated_mean"] is not None and fit["region"]["candidates"]
