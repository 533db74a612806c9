"""The command line: JSON shapes, output files, and compare's verdict on noise and signal."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from conftest import policy, scenario

from sim.app.cli import main

FAST = ["--set", "days=60", "--replicates", "3"]


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_run_json_prints_exactly_one_object_with_every_kpi(capsys):
    code, out, err = run_cli(capsys, "run", scenario("existing-group"), *FAST, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["scenario"] == "existing-group" and data["policy"] == "baseline"
    assert data["replicates"] == 3
    required = [
        "members_end",
        "joined_total",
        "churned_total",
        "removed_total",
        "active_ratio_mean",
        "retention_d30",
        "core_share_end",
        "member_messages_per_day",
        "operator_messages_per_day",
        "mean_trust_end",
        "mean_interest_end",
        "referrals_total",
        "cost_total",
        "cost_per_joined",
        "groups_end",
    ]
    for name in required:
        kpi = data["kpis"][name]
        assert kpi["ci95"][0] <= kpi["mean"] <= kpi["ci95"][1], name
    assert set(data["churn_causes"]) >= {"boredom", "lost_trust", "fatigue", "harassment", "tyranny"}
    assert set(data["health_end"]) == {"total", "interest", "structure", "output", "operation", "copy_readiness"}
    assert 0 <= data["health_end"]["total"] <= 1


def test_run_writes_parquet_tables_summary_and_manifest(capsys, tmp_path):
    out_dir = tmp_path / "result"
    code, out, _ = run_cli(
        capsys, "run", scenario("existing-group"), "--policy", policy("tiered-reactivation"), *FAST, "--out", out_dir
    )
    assert code == 0 and "members_end" in out
    for name in ("daily", "members", "actions"):
        table = pd.read_parquet(out_dir / f"{name}.parquet")
        assert sorted(table["replicate"].unique()) == [0, 1, 2]
    actions = pd.read_parquet(out_dir / "actions.parquet")
    assert set(actions["rule"]) >= {"welcome", "silent-week"}
    assert (actions["cost"] > 0).all() and (actions["members"] > 0).all()
    members = pd.read_parquet(out_dir / "members.parquet")
    assert {"source", "join_day", "status", "exit_day", "exit_cause", "title", "points"} <= set(members.columns)
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert manifest["scenario"]["hash"] and manifest["policy"]["hash"]
    assert manifest["replicates"] == 3 and len(manifest["replicate_seeds"]) == 3
    assert manifest["versions"]["community-sandbox"]
    assert json.loads((out_dir / "summary.json").read_text())["kpis"]["members_end"]["mean"] > 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary directory left behind"


def test_compare_finds_a_clear_difference_between_different_policies(capsys):
    code, out, _ = run_cli(
        capsys,
        "compare",
        scenario("existing-group"),
        "--policy",
        policy("baseline"),
        "--policy",
        policy("aggressive-pruning"),
        "--set",
        "days=90",
        "--replicates",
        "10",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert set(data) == {"A", "B", "diff", "verdict"}
    lo, hi = data["diff"]["members_end"]["ci95"]
    assert hi < 0, "pruning must clearly lower members_end"
    assert data["diff"]["members_end"]["mean"] == pytest.approx(
        data["B"]["kpis"]["members_end"]["mean"] - data["A"]["kpis"]["members_end"]["mean"]
    )


def test_compare_of_a_policy_with_itself_is_noise(capsys):
    code, out, _ = run_cli(
        capsys,
        "compare",
        scenario("existing-group"),
        "--policy",
        policy("weekly-ritual"),
        "--policy",
        policy("weekly-ritual"),
        *FAST,
        "--json",
    )
    data = json.loads(out)
    for name, diff in data["diff"].items():
        if diff["mean"] is not None:
            assert diff["ci95"][0] <= 0 <= diff["ci95"][1], name


def test_compare_prints_a_plain_verdict(capsys):
    code, out, _ = run_cli(
        capsys,
        "compare",
        scenario("existing-group"),
        "--policy",
        policy("baseline"),
        "--policy",
        policy("weekly-ritual"),
        *FAST,
    )
    assert code == 0
    assert "B keeps" in out and "costs" in out


def test_the_verdict_says_where_a_difference_in_members_comes_from(capsys):
    """Members at the end = joins - leaving - removals: the verdict splits B - A the same way."""
    code, out, _ = run_cli(
        capsys,
        "compare",
        scenario("existing-group"),
        "--policy",
        policy("baseline"),
        "--policy",
        policy("referral-rewards"),
        "--replicates",
        "4",
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    diff, said = data["diff"], data["verdict"]
    parts = said["members"]
    assert parts["joins"] == diff["joined_total"]["mean"] > 0  # referral rewards bring more members in
    assert abs(sum(parts.values()) - diff["members_end"]["mean"]) < 1e-6
    assert "from more joins" in said["text"] and "per extra member kept" in said["text"]
    assert "rule" not in said["spending_b"] and said["spending_b"]["referrals"] > 0
    assert said["judgements"]["removed_total"] == "same"  # neither policy removes anyone
    assert set(said["judgements"].values()) <= {"same", "clear", "small", "noise"}


def test_compare_takes_more_than_two_policies_each_against_the_first(capsys, tmp_path):
    out = tmp_path / "three"
    names = ("baseline", "weekly-ritual", "moderated")
    policies = [x for name in names for x in ("--policy", policy(name))]
    code, text, _ = run_cli(capsys, "compare", scenario("existing-group"), *policies, *FAST, "--out", out)
    assert code == 0
    assert text.count("B keeps") == 2 and "B = weekly-ritual" in text and "B = moderated" in text
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["A", "B", "C"]
    document = json.loads((out / "comparison.json").read_text())
    assert document["B"]["policy"] == "weekly-ritual" and document["more"][0]["B"]["policy"] == "moderated"
    code, _, err = run_cli(capsys, "compare", scenario("existing-group"), "--policy", policy("baseline"))
    assert code == 2 and "give two policies or more" in err


def test_kpis_print_by_theme_and_zero_rows_only_with_all(capsys):
    args = ("run", scenario("existing-group"), *FAST)
    code, short, _ = run_cli(capsys, *args)
    assert code == 0
    themes = [line[3:] for line in short.splitlines() if line.startswith("-- ")]
    assert themes[:2] == ["outcome", "activity"] and "cost" in themes
    assert "churn_tyranny" not in short and "--all shows them" in short  # no one is pruned here
    code, full, _ = run_cli(capsys, *args, "--all")
    assert "churn_tyranny" in full and "--all shows them" not in full
    assert len(full.splitlines()) > len(short.splitlines())


def test_a_sure_but_tiny_difference_is_small_not_clear():
    from sim.app.report import judgement

    assert judgement({"mean": 0.001, "ci95": [0.0005, 0.0015]}, 0.5) == "small"
    assert judgement({"mean": 0.1, "ci95": [0.05, 0.15]}, 0.5) == "clear"
    assert judgement({"mean": 0.1, "ci95": [-0.05, 0.25]}, 0.5) == "noise"
    assert judgement({"mean": 0.0, "ci95": [0.0, 0.0]}, 0.0) == "same"


def test_validate_accepts_good_files(capsys):
    code, out, _ = run_cli(capsys, "validate", scenario("cold-start"), policy("moderated"))
    assert code == 0 and out.count(": ok") == 2


def test_console_script_runs_end_to_end():
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "sim",
            "run",
            scenario("paid-small-group"),
            "--set",
            "days=30",
            "--replicates",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["replicates"] == 2


def test_mechanisms_lists_an_implementation_for_every_mechanism(capsys):
    from sim.app.mechanisms import MECHANISMS, implementations

    missing = [code for code, functions in implementations().items() if not functions]
    assert not missing, f"no function's docstring names {missing}"
    assert main(["mechanisms"]) == 0
    out = capsys.readouterr().out
    assert all(f"{code:<4} " in out for code in MECHANISMS)
    assert "engine.members.first_contributions" in out and "sales-push" in out


def _stderr_on_a_terminal(*args: str) -> bytes:
    """What a command writes to stderr when stderr is a terminal (a pseudo-terminal of 120 columns)."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "sim", *args], stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    data = b""
    while select.select([master], [], [], 60)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        data += chunk
    assert proc.wait(timeout=60) == 0
    return data


def test_a_progress_bar_on_a_terminal_and_silence_otherwise(capsys):
    args = ("run", scenario("existing-group"), "--set", "days=20", "--replicates", "3", "--workers", "1")
    shown = _stderr_on_a_terminal(*args)
    assert b"replicates of 20 days" in shown and b"0/3" in shown
    assert b"replicates" not in _stderr_on_a_terminal(*args, "--json")
    code, _, err = run_cli(capsys, *args)  # captured: not a terminal
    assert code == 0 and err == ""


def test_intervals_stay_in_each_kpis_range_and_few_replicates_are_flagged(capsys):
    code, out, _ = run_cli(capsys, "run", scenario("existing-group"), "--set", "days=40", "--replicates", "2", "--json")
    assert code == 0
    kpis = json.loads(out)["kpis"]
    for name in ("churned_total", "removed_total", "spammers_end", "cost_total"):  # counts and costs: from 0 up
        assert kpis[name]["ci95"][0] >= 0, name
    for name in ("retention_d30", "active_ratio_mean", "zero_post_share"):  # shares: 0 to 1
        lo, hi = kpis[name]["ci95"]
        assert 0 <= lo <= hi <= 1, name
    assert all(k.get("few_replicates") for k in kpis.values() if k["mean"] is not None)
    code, out, _ = run_cli(capsys, "run", scenario("existing-group"), "--set", "days=40", "--replicates", "2")
    assert "intervals are rough below 5" in out
    code, out, _ = run_cli(capsys, "run", scenario("existing-group"), "--set", "days=40", "--replicates", "5")
    assert "intervals are rough" not in out


def test_compare_out_writes_a_report_page_with_every_name_escaped(capsys, tmp_path):
    import yaml

    hostile = yaml.safe_load(open(policy("weekly-ritual")).read())
    hostile["name"] = "<img src=x onerror=alert(1)>"
    (tmp_path / "hostile.yaml").write_text(yaml.safe_dump(hostile))
    out = tmp_path / "cmp"
    code, _, err = run_cli(
        capsys,
        "compare",
        scenario("existing-group"),
        "--policy",
        "baseline",
        "--policy",
        tmp_path / "hostile.yaml",
        "--set",
        "days=40",
        "--replicates",
        "3",
        "--out",
        out,
    )
    assert code == 0, err
    page = (out / "report.html").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert page.count("data:image/png;base64,") == 3  # members, active share, cost over the days
    document = json.loads((out / "comparison.json").read_text())
    assert document["verdict"]["text"].split(";")[0].replace("&", "&amp;") in page
    assert "intervals are rough" in page


def test_practical_threshold_can_be_raised_for_all_or_one_kpi(capsys):
    """A clear difference under the practical threshold is 'small'; --practical moves the threshold."""
    args = [
        "compare",
        scenario("existing-group"),
        "--policy",
        "baseline",
        "--policy",
        "weekly-ritual",
        "--set",
        "days=60",
        "--replicates",
        "5",
        "--json",
    ]
    code, out, _ = run_cli(capsys, *args)
    base = json.loads(out)["verdict"]["judgements"]
    clear = [k for k, word in base.items() if word == "clear"]
    assert "active_ratio_mean" in clear
    code, out, _ = run_cli(capsys, *args, "--practical", "active_ratio_mean=10")
    raised = json.loads(out)
    assert raised["verdict"]["judgements"]["active_ratio_mean"] == "small"
    assert all(raised["verdict"]["judgements"][k] == "clear" for k in clear if k != "active_ratio_mean")
    assert raised["verdict"]["practical"] == {"active_ratio_mean": 10.0}
    code, out, _ = run_cli(capsys, *args, "--practical", "10")
    assert all(json.loads(out)["verdict"]["judgements"][k] == "small" for k in clear)
    code, _, err = run_cli(capsys, *args, "--practical", "nonsense_kpi=0.1")
    assert code == 2 and "unknown KPI 'nonsense_kpi'" in err
    code, _, err = run_cli(capsys, *args, "--practical", "-1")
    assert code == 2 and "not a share" in err
