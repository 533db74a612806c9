"""The lifecycle stage chart (G1, G3): read from a file, run on durable-rules, mirrored in NumPy."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import ROOT, scenario

import sim
from sim.config.charts import load_chart
from sim.errors import SandboxError

ORDER = ["cold_start", "growth", "maturity", "decline", "dead"]


def _stages_in_order(daily):
    seen = []
    for stage in daily["stage"]:
        if not seen or seen[-1] != stage:
            seen.append(stage)
    return seen


@pytest.mark.parametrize("backend", ["durable", "numpy"])
def test_birth_to_death_moves_through_every_stage_in_order(backend):
    setup = sim.load_setup(scenario("birth-to-death"), community_backend=backend)
    result = sim.run(setup, replicates=3, workers=1)
    for _, daily in result.daily.groupby("replicate"):
        assert _stages_in_order(daily) == ORDER
    assert result.kpis["churn_boredom"].mean() > result.kpis["churn_fatigue"].mean()


def test_a_trainer_can_change_what_dead_means(tmp_path):
    chart = yaml.safe_load((ROOT / "sim" / "config" / "default_stages.yaml").read_text())
    chart["states"]["decline"][0]["when"] = "member_messages_7d == 0 and size < 10"
    (tmp_path / "stages.yaml").write_text(yaml.safe_dump(chart, sort_keys=False))
    policy = yaml.safe_load((ROOT / "policies" / "neglect.yaml").read_text())
    policy["stages"] = "stages.yaml"
    (tmp_path / "strict-death.yaml").write_text(yaml.safe_dump(policy))
    setup = sim.load_setup(scenario("birth-to-death"), tmp_path / "strict-death.yaml")
    daily = sim.run(setup, replicates=1, workers=1).daily
    assert "dead" not in set(daily["stage"])
    assert "decline" in set(daily["stage"])


def test_community_rules_can_act_on_the_stage(tmp_path):
    (tmp_path / "rescue.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "rescue",
                "groups": {"cap": None},
                "content": {"operator_posts_per_week": 1, "quality": 0.2},
                "community_rules": [
                    {
                        "name": "rescue-in-decline",
                        "when": "stage == 'decline'",
                        "do": "guest_talk",
                        "at_most": "1 per 7 days",
                    }
                ],
            }
        )
    )
    setup = sim.load_setup(scenario("birth-to-death"), tmp_path / "rescue.yaml")
    result = sim.run(setup, replicates=1, workers=1)
    talks = result.actions[result.actions["rule"] == "rescue-in-decline"]
    decline_days = set(result.daily.loc[result.daily["stage"] == "decline", "day"])
    assert len(talks) > 0 and set(talks["day"]) <= decline_days


def _chart(tmp_path, states):
    path = tmp_path / "chart.yaml"
    path.write_text(yaml.safe_dump({"states": states}, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "states, message",
    [
        (
            {"a": [{"to": "b", "when": "size > 1"}], "b": [{"to": "nowhere", "when": "size > 2"}]},
            "transition to nowhere: 'nowhere' is not a state; states: a, b",
        ),
        (
            {"a": [{"to": "b", "when": "size > 1"}], "b": [{"to": "a", "when": "size > 2"}]},
            "the start state is the one state no transition leads into; this chart has none",
        ),
        ({"a": [], "b": []}, "this chart has 2: a, b"),
        ({"a": [{"to": "b", "when": "sise > 1"}], "b": []}, "unknown name 'sise'"),
        ({"a": [{"to": "b", "whenn": "size > 1"}], "b": []}, "unknown field 'whenn'"),
    ],
)
def test_bad_charts_are_refused_with_the_place(tmp_path, states, message):
    with pytest.raises(SandboxError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        load_chart(_chart(tmp_path, states))
    assert "chart.yaml" in str(info.value)


def test_an_unknown_stage_in_a_rule_is_refused(tmp_path):
    (tmp_path / "p.yaml").write_text(
        yaml.safe_dump({"community_rules": [{"name": "x", "when": "stage == 'zombie'", "do": "guest_talk"}]})
    )
    with pytest.raises(SandboxError, match="unknown stage 'zombie'; expected one of: cold_start, growth"):
        sim.load_setup(scenario("existing-group"), tmp_path / "p.yaml")


def test_a_missing_chart_file_is_refused(tmp_path):
    (tmp_path / "p.yaml").write_text("stages: nowhere.yaml\n")
    with pytest.raises(SandboxError, match="stage chart 'nowhere.yaml' not found"):
        sim.load_setup(scenario("existing-group"), tmp_path / "p.yaml")


def test_a_chart_that_returns_to_a_stage_and_loops_on_one_runs_alike_on_both_back_ends(tmp_path):
    """durable-rules' statechart steps run by the sandbox (label events, a reflexive state's label
    facts): a group that goes back and forth between two stages, and takes a weekly transition
    from a stage to itself, follows the NumPy mirror day by day."""
    chart = {
        "name": "back-and-forth",
        "states": {
            "forming": [{"to": "busy", "when": "size >= 1"}],
            "busy": [
                {"to": "busy", "when": "weekday == 3"},
                {"to": "quiet", "when": "active_ratio_7d < 0.3"},
            ],
            "quiet": [{"to": "busy", "when": "active_ratio_7d >= 0.3 or weekday == 5"}],
        },
    }
    (tmp_path / "stages.yaml").write_text(yaml.safe_dump(chart, sort_keys=False))
    policy = yaml.safe_load((ROOT / "policies" / "baseline.yaml").read_text())
    policy["stages"] = "stages.yaml"
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))

    def daily(backend: str):
        setup = sim.load_setup(
            scenario("existing-group"),
            tmp_path / "policy.yaml",
            ["days=60", "population.initial_members=300", "policy.groups.cap=50"],
            community_backend=backend,
        )
        return sim.run(setup, replicates=2, workers=1).daily

    fast, durable = daily("numpy"), daily("durable")
    returns = sum(_stages_in_order(d).count("busy") for _, d in fast.groupby("replicate"))
    assert returns >= 4 and fast["stage_changes"].sum() >= 20, (returns, fast["stage_changes"].sum())
    assert durable["stage"].tolist() == fast["stage"].tolist()
    assert durable["stage_changes"].tolist() == fast["stage_changes"].tolist()


def _run(setup, lean: bool):
    from sim.engine.model import CommunityModel

    model = CommunityModel(setup, replicate=0, activity=True, lean=lean).run()
    return model.tables(), [model.policy.chart.states[s] for s in model.groups.stage]


def test_a_lean_run_keeps_the_members_and_activity_of_the_full_run():
    """A calibration's candidates run lean: no daily row and, where no rule could read a stage, no
    stage chart; what members do is the same, so are the members and activity tables."""
    setup = sim.load_setup(scenario("birth-to-death"), community_backend="numpy")  # neglect: no rules
    (full, stages), (lean, lean_stages) = _run(setup, False), _run(setup, True)
    assert _stages_in_order(full["daily"]) == ORDER and stages[0] == "dead"
    assert lean["daily"].empty and set(lean_stages) == {"cold_start"}
    for table in ("members", "activity"):
        pd.testing.assert_frame_equal(full[table], lean[table])


def test_a_lean_run_steps_the_chart_wherever_a_rule_could_read_the_stage(tmp_path):
    (tmp_path / "rescue.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "rescue",
                "groups": {"cap": None},
                "community_rules": [{"name": "rescue", "when": "stage == 'decline'", "do": "guest_talk"}],
            }
        )
    )
    setup = sim.load_setup(scenario("birth-to-death"), tmp_path / "rescue.yaml", community_backend="numpy")
    (full, stages), (lean, lean_stages) = _run(setup, False), _run(setup, True)
    assert "rescue" in set(full["actions"]["rule"]) and lean_stages == stages != ["cold_start"]
    pd.testing.assert_frame_equal(full["actions"], lean["actions"])
    pd.testing.assert_frame_equal(full["members"], lean["members"])
