"""A user's mistake gets one line naming the file, the place and the fix, exit 2, and no output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.app.cli import main

GOOD_SCENARIO = """\
name: tiny
days: 20
replicates: 2
seed: 1
population:
  initial_members: 50
policy: policy.yaml
"""

GOOD_POLICY = """\
name: tiny-policy
content:
  operator_posts_per_week: 3
rules:
  - name: nudge
    when: "days_inactive == 7"
    do: private_message
"""


def write(tmp_path: Path, scenario: str = GOOD_SCENARIO, policy: str = GOOD_POLICY) -> Path:
    (tmp_path / "policy.yaml").write_text(policy)
    path = tmp_path / "scenario.yaml"
    path.write_text(scenario)
    return path


def fails(capsys, tmp_path, *args) -> str:
    out_dir = tmp_path / "out"
    code = main([str(a) for a in args] + ["--out", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not out_dir.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]
    return err


def test_good_files_run(capsys, tmp_path):
    assert main(["run", str(write(tmp_path)), "--json"]) == 0


def test_malformed_yaml_names_the_line(capsys, tmp_path):
    path = write(tmp_path, GOOD_SCENARIO.replace("seed: 1", "seed: [1"))
    err = fails(capsys, tmp_path, "run", path)
    assert "scenario.yaml:" in err and "malformed YAML" in err


def test_unknown_field_is_caught_with_a_suggestion(capsys, tmp_path):
    path = write(tmp_path, GOOD_SCENARIO.replace("replicates: 2", "replicate: 2"))
    err = fails(capsys, tmp_path, "run", path)
    assert "scenario.yaml:3: replicate: unknown field 'replicate'; did you mean 'replicates'" in err


def test_unknown_nested_policy_field(capsys, tmp_path):
    path = write(tmp_path, policy=GOOD_POLICY.replace("operator_posts_per_week", "operator_post_per_week"))
    err = fails(capsys, tmp_path, "run", path)
    assert "policy.yaml:3: content.operator_post_per_week: unknown field" in err
    assert "operator_posts_per_week" in err


def test_value_out_of_range(capsys, tmp_path):
    path = write(tmp_path, GOOD_SCENARIO.replace("days: 20", "days: -5"))
    err = fails(capsys, tmp_path, "run", path)
    assert "scenario.yaml:2: days:" in err and "greater than or equal to 1" in err


def test_value_of_the_wrong_type(capsys, tmp_path):
    path = write(tmp_path, GOOD_SCENARIO.replace("initial_members: 50", "initial_members: lots"))
    err = fails(capsys, tmp_path, "run", path)
    assert "population.initial_members" in err and "integer" in err


def test_parameter_out_of_range_and_unknown_parameter(capsys, tmp_path):
    path = write(tmp_path, GOOD_SCENARIO + "params:\n  churn_base: 5\n")
    err = fails(capsys, tmp_path, "run", path)
    assert "scenario.yaml:9: params.churn_base: 5.0 is out of range; expected 0 to 1" in err
    path = write(tmp_path, GOOD_SCENARIO + "params:\n  churn_bse: 0.1\n")
    err = fails(capsys, tmp_path, "run", path)
    assert "unknown parameter 'churn_bse'; did you mean churn_base" in err


def test_missing_policy_file(capsys, tmp_path):
    path = write(tmp_path, GOOD_SCENARIO.replace("policy.yaml", "nowhere.yaml"))
    err = fails(capsys, tmp_path, "run", path)
    assert "scenario.yaml: policy: policy file 'nowhere.yaml' not found" in err
    err = fails(capsys, tmp_path, "run", path, "--policy", tmp_path / "missing.yaml")
    assert "missing.yaml: file not found" in err


@pytest.mark.parametrize(
    "when, message",
    [
        ("trst < 0.3", "unknown name 'trst'; did you mean 'trust'? known member names: "),
        ("trust <", "syntax error"),
        ("__import__('os').system('x')", "not allowed"),
        ("trust.real > 0", "attribute access"),
        ("len(trust) > 0", "function calls"),
        ("points[0] > 0", "subscripts"),
        ("(lambda: 1)() > 0", "not allowed"),
    ],
)
def test_bad_expressions_are_refused_with_the_place(capsys, tmp_path, when, message):
    path = write(tmp_path, policy=GOOD_POLICY.replace("days_inactive == 7", when.replace('"', "'")))
    err = fails(capsys, tmp_path, "run", path)
    assert "policy.yaml:6: rules[0].when: " in err
    assert message in err


def test_unknown_action(capsys, tmp_path):
    path = write(tmp_path, policy=GOOD_POLICY.replace("do: private_message", "do: send_flowers"))
    err = fails(capsys, tmp_path, "run", path)
    assert "policy.yaml:7: rules[0].do: unknown action 'send_flowers'; known actions: remove" in err


def test_group_action_in_a_member_rule(capsys, tmp_path):
    path = write(tmp_path, policy=GOOD_POLICY.replace("do: private_message", "do: split_group"))
    err = fails(capsys, tmp_path, "run", path)
    assert "use it in community_rules" in err


def test_set_path_that_does_not_exist(capsys, tmp_path):
    path = write(tmp_path)
    err = fails(capsys, tmp_path, "run", path, "--set", "population.initial_memberz=5")
    assert "--set population.initial_memberz=5: unknown field 'initial_memberz'" in err
    err = fails(capsys, tmp_path, "run", path, "--set", "policy.groups.capp=5")
    assert "--set policy.groups.capp=5: unknown field 'capp'" in err
    err = fails(capsys, tmp_path, "run", path, "--set", "params.nonsense=1")
    assert "--set params.nonsense=1: unknown parameter 'nonsense'" in err
    err = fails(capsys, tmp_path, "run", path, "--set", "days")
    assert "expected KEY=VALUE" in err


def test_set_value_out_of_range(capsys, tmp_path):
    err = fails(capsys, tmp_path, "run", write(tmp_path), "--set", "policy.service.answer_rate=3")
    assert "--set policy.service.answer_rate=3: input should be less than or equal to 1" in err


def test_validate_reports_the_first_problem(capsys, tmp_path):
    write(tmp_path, policy=GOOD_POLICY.replace("days_inactive == 7", "bogus > 1"))
    code = main(["validate", str(tmp_path / "policy.yaml")])
    err = capsys.readouterr().err
    assert code == 2 and "unknown name 'bogus'" in err


def test_the_console_shows_no_traceback(tmp_path):
    path = write(tmp_path, policy=GOOD_POLICY.replace("days_inactive == 7", "__import__('os').system('touch x')"))
    proc = subprocess.run(
        [sys.executable, "-m", "sim", "run", str(path)], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_out_refuses_to_replace_a_directory_that_is_not_a_result(capsys, tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    code = main(["run", str(write(tmp_path)), "--out", str(precious)])
    assert code == 2 and "holds files the sandbox did not write" in capsys.readouterr().err
    assert (precious / "thesis.txt").read_text() == "keep me"
