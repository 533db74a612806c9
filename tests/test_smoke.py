"""The smoke tier (``pytest -m smoke``, under a minute): does every part start and finish?

Every shipped scenario and every shipped policy runs a few days; every verb of the ``sandbox``
command runs once, in-process, on real files in a temporary folder.  What these catch is a
broken import, file or command; what the model does is the business of the other tiers.
"""

from __future__ import annotations

import json

import pytest
from conftest import POLICIES, SCENARIOS, policy, scenario

import sim
from sim.app.cli import main

pytestmark = pytest.mark.smoke

SMALL = ["days=4", "replicates=1", "population.initial_members=40"]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_runs_a_few_days(path):
    setup = sim.load_setup(path, None, ["days=4", "replicates=1"])
    result = sim.run(setup, workers=1)
    assert len(result.daily) == 4 and len(result.kpis) == 1


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_every_policy_runs_a_few_days(path):
    result = sim.run(sim.load_setup(scenario("existing-group"), path, SMALL), workers=1)
    assert len(result.daily) == 4


def test_every_cli_verb_runs_once(tmp_path, capsys):
    """run, compare, validate, explain, sweep, report, mechanisms, examples (dashboard: the browser test)."""
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                "existing-group",
                "--policy",
                "community-playbook",
                "--set",
                SMALL[2],
                "--days",
                "5",
                "--replicates",
                "1",
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    assert "members_end" in json.loads(capsys.readouterr().out)["kpis"]  # exactly one JSON object
    assert (
        main(
            [
                "compare",
                scenario("existing-group"),
                "--policy",
                policy("baseline"),
                "--policy",
                policy("weekly-ritual"),
                "--set",
                SMALL[2],
                "--days",
                "5",
                "--replicates",
                "2",
            ]
        )
        == 0
    )
    assert main(["validate", scenario("existing-group"), policy("moderated")]) == 0
    assert main(["explain", str(out), "--group", "0"]) == 0
    sweep_out = tmp_path / "sweep"
    assert (
        main(
            [
                "sweep",
                "existing-group",
                "--grid",
                "days=3,4",
                "--set",
                SMALL[2],
                "--replicates",
                "1",
                "--out",
                str(sweep_out),
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert main(["report", str(sweep_out)]) == 0
    assert main(["mechanisms"]) == 0
    assert main(["examples", str(tmp_path / "mine")]) == 0
    assert (tmp_path / "mine" / "scenarios" / "existing-group.yaml").is_file()
    assert (
        main(
            [
                "run",
                str(tmp_path / "mine" / "scenarios" / "existing-group.yaml"),
                "--days",
                "3",
                "--replicates",
                "1",
                "--set",
                SMALL[2],
            ]
        )
        == 0
    )
    capsys.readouterr()
