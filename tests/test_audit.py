"""The audit trail: `sandbox explain` tells which rules fired for a member or a group, and why."""

from __future__ import annotations

import pandas as pd
from conftest import policy, scenario

from sim.app.cli import main


def test_explain_a_member_and_a_group(capsys, tmp_path):
    out = tmp_path / "run"
    assert (
        main(
            [
                "run",
                scenario("spam-prone"),
                "--policy",
                policy("moderated"),
                "--set",
                "days=60",
                "--set",
                "params.act_bias=-6.5",  # a quiet group, so the community rule fires too
                "--replicates",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    capsys.readouterr()
    firings = pd.read_parquet(out / "firings.parquet")
    conditions = pd.read_parquet(out / "conditions.parquet")
    actions = pd.read_parquet(out / "actions.parquet")
    # every member reached by a member rule has a firing row, and the actions table agrees
    member_rows = firings[(firings["member_id"] >= 0) & ~firings["rule"].eq("liven-up-quiet-group")]
    counts = member_rows.groupby(["replicate", "day", "rule", "action"]).size()
    expected = actions[actions["rule"] != "liven-up-quiet-group"].set_index(["replicate", "day", "rule", "action"])[
        "members"
    ]
    pd.testing.assert_series_equal(counts.sort_index(), expected.sort_index(), check_names=False)

    warned = member_rows[member_rows["rule"] == "warn-first-ad"].iloc[0]
    assert (
        main(["explain", str(out), "--member", str(warned["member_id"]), "--replicate", str(warned["replicate"])]) == 0
    )
    text = capsys.readouterr().out
    assert f"day {warned['day']:>4}  warn-first-ad: warn" in text
    assert "because spam_posts_today=3, warnings=0" in text and "cost 0.10" in text
    why = conditions[(conditions["member_id"] == warned["member_id"]) & (conditions["rule"] == "warn-first-ad")]
    assert set(why["name"]) == {"spam_posts_today", "warnings"}

    quiet = firings[(firings["member_id"] == -1)].iloc[0]
    assert main(["explain", str(out), "--group", str(quiet["group"]), "--replicate", str(quiet["replicate"])]) == 0
    text = capsys.readouterr().out
    assert "liven-up-quiet-group: red_envelope" in text and "because active_ratio_7d=" in text


def test_explain_without_an_audit_trail_is_a_one_line_error(capsys, tmp_path):
    assert main(["explain", str(tmp_path), "--member", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no audit trail here" in err


def test_explain_a_member_who_left_gives_their_path_cause_and_hazard_terms(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["run", scenario("existing-group"), "--set", "days=90", "--replicates", "1", "--out", str(out)]) == 0
    members = pd.read_parquet(out / "members.parquet")
    bored = members[(members["status"] == "churned") & (members["exit_cause"] == "boredom")].iloc[0]
    capsys.readouterr()
    assert main(["explain", str(out), "--member", str(bored["member_id"])]) == 0
    text = capsys.readouterr().out
    assert f"churned on day {bored['exit_day']}, cause: boredom" in text
    terms = text.split("daily hazard terms on their last day: ")[1].split(",")
    assert terms[0].startswith(" boredom") or terms[0].startswith("boredom")  # the largest term is the cause
    assert "a hazard of" in text and "no rule fired for them" in text
    staying = members[members["status"] == "member"].iloc[0]
    assert main(["explain", str(out), "--member", str(staying["member_id"])]) == 0
    assert "still a member at the end" in capsys.readouterr().out
    assert main(["explain", str(out), "--member", "99999999"]) == 2


def test_text_values_and_amounts_read_plainly_in_explain(capsys, tmp_path):
    out = tmp_path / "run"
    rules = (
        "policy.community_rules=[{name: cheer, when: \"stage != 'dead' and day >= 3 and day <= 4\", "
        "do: {red_envelope: 5}}]"
    )
    sets = ["--set", "days=6", "--set", rules, "--replicates", "1", "--out", str(out)]
    assert main(["run", scenario("existing-group"), *sets]) == 0
    capsys.readouterr()
    assert main(["explain", str(out), "--group", "0"]) == 0
    text = capsys.readouterr().out
    assert "because day=3, stage=cold_start" in text and "nan" not in text
    assert "a cash gift of 5 each" in text and "AMOUNT" not in text


def test_explain_a_group_gives_its_stages_and_cause_of_death(capsys, tmp_path):
    out = tmp_path / "life"
    assert main(["run", scenario("birth-to-death"), "--replicates", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["explain", str(out), "--group", "0"]) == 0
    text = capsys.readouterr().out
    stages = [line.split(": ")[0].split()[-1] for line in text.splitlines() if " -> " in line]
    assert stages == ["growth", "maturity", "decline", "dead"], text
    # the cause that led its last 30 days (G2), as the run recorded it for this group
    groups = pd.read_parquet(out / "groups.parquet")
    assert f"cause: {groups['dead_cause'].iloc[-1]}" in text and "no community rule fired for it" in text
    assert groups.groupby("day")["group"].nunique().max() == 1 and groups["stage"].iloc[-1] == "dead"
