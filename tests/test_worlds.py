"""Worlds side by side: copies of a community in one population (calibration's replicates).

A stack of worlds shares a day's fixed work; each world must still be a community of its own:
its own groups, its own arrivals and referrals, and outcomes distributed as the solo replicates'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import policy, scenario

import sim
from sim.engine.model import CommunityModel
from sim.errors import SandboxError
from sim.runs.experiment import run_worlds

WORLDS = 12


def _setup(policy_name: str = "baseline", *sets: str):
    return sim.load_setup(
        scenario("existing-group"),
        policy(policy_name),
        ["days=90", "population.initial_members=200", *sets],
        community_backend="numpy",
    )


def _outcome(members: pd.DataFrame, activity: pd.DataFrame) -> tuple[int, int, int]:
    """(members at the end, members who joined after day 0, member-days with a message)."""
    return int((members["status"] == "member").sum()), int((members["join_day"] > 0).sum()), len(activity)


def test_each_world_keeps_its_own_groups_and_members():
    model = CommunityModel(_setup(), replicate=0, activity=True, worlds=WORLDS).run()
    members = model.tables()["members"]
    world = model.world_of(members["group"].to_numpy())
    assert np.bincount(world[members["join_day"].to_numpy() == 0], minlength=WORLDS).tolist() == [200] * WORLDS
    assert sorted(np.unique(model.groups.segment[: model.groups.count]).tolist()) == list(range(WORLDS))
    # a split (the baseline's cap) keeps the copy in its world: every group serves exactly one world
    assert (model.groups.segment[: model.groups.count] >= 0).all()


def test_worlds_are_replicates_of_the_scenario():
    """Twelve worlds side by side against twelve solo replicates: the same outcomes in
    distribution (means within three standard errors of their difference)."""
    setup = _setup("referral-rewards")
    stacked = [_outcome(w["members"], w["activity"]) for w in run_worlds(setup, 0, WORLDS)]
    solo = []
    for r in range(WORLDS):
        tables = CommunityModel(setup, replicate=r, activity=True).run().tables()
        solo.append(_outcome(tables["members"], tables["activity"]))
    a, b = np.array(stacked, dtype=float), np.array(solo, dtype=float)
    se = np.sqrt(a.var(axis=0, ddof=1) / WORLDS + b.var(axis=0, ddof=1) / WORLDS)
    assert (np.abs(a.mean(axis=0) - b.mean(axis=0)) <= 3 * se + 1e-9).all(), (a.mean(axis=0), b.mean(axis=0), se)
    # arrivals spread as the solo runs' do: a world does not take the others' referrals
    assert 0.25 <= a[:, 1].var(ddof=1) / b[:, 1].var(ddof=1) <= 4, (a[:, 1], b[:, 1])
    assert (a[:, 1] > 0).all()  # every world has newcomers: channel pushes and its own members' referrals
    assert len({tuple(row) for row in stacked}) == WORLDS  # and each world is its own run


def test_a_calibrated_history_brings_each_world_exactly_its_arrivals():
    data = {
        "name": "history",
        "days": 63,
        "seed": 3,
        "population": {"initial_members": 30},
        "channels": [{"name": "observed", "weekly_joins": [4, 0, 7, 2, 5, 1, 3, 6, 2], "interest": 0.5}],
        "params": {"referral_base": 0.0},
    }
    from sim.config.scenario import setup_of_data
    from sim.runs.fit_runs import baseline_text

    setup = setup_of_data(data, baseline_text(), name="history")
    for world in run_worlds(setup, 0, 5):
        joined = world["members"]["join_day"].to_numpy()
        assert (joined > 0).sum() == 30, "each world gets the history's 30 arrivals, no more, no fewer"


def test_the_same_stack_gives_the_same_worlds():
    first = run_worlds(_setup(), 4, 3)
    again = run_worlds(_setup(), 4, 3)
    for a, b in zip(first, again):
        pd.testing.assert_frame_equal(a["members"], b["members"])
        pd.testing.assert_frame_equal(a["activity"], b["activity"])
    assert [w["members"]["replicate"].iloc[0] for w in first] == [4, 5, 6]


@pytest.mark.parametrize(
    ("policy_name", "sets", "engine", "reason"),
    [
        ("baseline", ["policy.groups.segment_by=archetype"], "vector", "groups by segment"),
        ("baseline", ["policy.acquisition.reallocate_after_days=30"], "vector", "reallocates channels"),
        ("baseline", [], "agents", "per-agent engine"),
    ],
)
def test_what_ties_worlds_together_is_refused(policy_name, sets, engine, reason):
    setup = sim.load_setup(scenario("existing-group"), policy(policy_name), ["days=5", *sets], engine=engine)
    with pytest.raises(SandboxError, match=reason):
        CommunityModel(setup, worlds=2)
    CommunityModel(setup, worlds=1).run()  # alone, the same setup runs


def test_a_policy_that_runs_surveys_keeps_to_one_world(tmp_path):
    """A survey raises every later event's quality (P12), a community-wide effect."""
    surveys = tmp_path / "surveys.yaml"
    surveys.write_text(
        'name: surveys\nrules:\n  - name: ask\n    when: "days_inactive > 20"\n    do: [survey]\n', encoding="utf-8"
    )
    setup = sim.load_setup(scenario("existing-group"), str(surveys), ["days=5"])
    with pytest.raises(SandboxError, match="surveys"):
        CommunityModel(setup, worlds=3)


OWN = {
    "act_bias": -3.2,
    "act_momentum": 2.5,
    "act_newcomer": 2.0,
    "act_ritual": 1.5,
    "voice_sigma": 2.2,
    "post_rate": 2.0,
    "conversation_posts": 4.0,
    "post_dilution": 0.8,
    "newcomer_intro": 0.4,
    "welcome_stimulus": 3.0,
    "interest_decay": 0.01,
    "churn_base": 0.004,
    "churn_boredom": 0.02,
    "churn_frailty_sigma": 1.5,
    "newcomer_churn_weight": 8.0,
}
"""Other values of every parameter worlds can hold apart (sim.engine.model.PER_WORLD)."""


def _activity_outcome(members: pd.DataFrame, activity: pd.DataFrame) -> tuple[float, ...]:
    """(members at the end, member-days with a message, messages, share of the posters' messages
    written by the top tenth of posters)."""
    posts = np.sort(activity.groupby("member_id")["messages"].sum().to_numpy())[::-1]
    top = posts[: max(1, len(posts) // 10)].sum() / max(posts.sum(), 1)
    return float((members["status"] == "member").sum()), float(len(activity)), float(posts.sum()), float(top)


def test_worlds_with_their_own_parameters_run_as_those_parameters_alone():
    """Six worlds at the scenario's parameters and six at other values of every parameter a world
    can hold apart, side by side, against six solo runs of each: each half has the outcomes of its
    own parameters (means within three standard errors), and the two halves differ."""
    from sim.engine.model import PER_WORLD

    assert set(OWN) == set(PER_WORLD)
    base = _setup("weekly-ritual")
    own = sim.load_setup(
        scenario("existing-group"),
        policy("weekly-ritual"),
        ["days=90", "population.initial_members=200", *(f"params.{k}={v}" for k, v in OWN.items())],
        community_backend="numpy",
    )
    half = WORLDS // 2
    worlds = run_worlds(base, 0, WORLDS, [{}] * half + [OWN] * half)
    stacked = np.array([_activity_outcome(w["members"], w["activity"]) for w in worlds])
    for rows, setup in ((slice(0, half), base), (slice(half, WORLDS), own)):
        solo = []
        for r in range(half):
            tables = CommunityModel(setup, replicate=r, activity=True).run().tables()
            solo.append(_activity_outcome(tables["members"], tables["activity"]))
        a, b = stacked[rows], np.array(solo)
        se = np.sqrt(a.var(axis=0, ddof=1) / half + b.var(axis=0, ddof=1) / half)
        assert (np.abs(a.mean(axis=0) - b.mean(axis=0)) <= 3 * se + 1e-9).all(), (a.mean(axis=0), b.mean(axis=0), se)
    gap = np.abs(stacked[:half].mean(axis=0) - stacked[half:].mean(axis=0))
    assert (gap[:3] > 3 * stacked.std(axis=0)[:3] / np.sqrt(half)).all(), gap  # the parameters took hold


def test_worlds_hold_apart_only_the_member_models_parameters():
    with pytest.raises(SandboxError, match="act_peer, which worlds cannot hold apart"):
        CommunityModel(_setup(), worlds=2, world_params=[{}, {"act_peer": 1.0}])
    with pytest.raises(SandboxError, match="expected parameters for 2 worlds, got 1"):
        CommunityModel(_setup(), worlds=2, world_params=[{}])
    with pytest.raises(SandboxError, match="out of range"):
        CommunityModel(_setup(), worlds=2, world_params=[{}, {"churn_base": 7.0}])
    agents = sim.load_setup(scenario("existing-group"), policy("baseline"), ["days=5"], engine="agents")
    with pytest.raises(SandboxError, match="only the vector engine"):
        CommunityModel(agents, world_params=[{"act_bias": -3.0}])


def test_one_world_is_the_solo_replicate():
    """Calibration runs a finalist as one lean world: its members and activity must be the solo
    replicate's, what `sandbox run` gives on the written scenario."""
    from sim.runs.experiment import run_replicate

    setup = _setup()
    solo = run_replicate(setup, 3, activity=True)
    (world,) = run_worlds(setup, 3, 1)
    for table in ("members", "activity"):
        pd.testing.assert_frame_equal(world[table], solo[table])
