"""Policies move outcomes the way the domain notes say, over 10 seeded replicates (20 where the
effect is small beside the churn of newcomers who try once and go).

Each test compares two setups on the same replicate seeds and asserts that the whole 95%
interval of the paired difference lies on the side the domain notes predict.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import policy, scenario

import sim
from sim.runs.experiment import compare

REPLICATES = 10


def _diff(scenario_name, policy_a, policy_b=None, sets_a=(), sets_b=(), common=(), replicates=REPLICATES):
    a = sim.load_setup(scenario(scenario_name), policy(policy_a), [*common, *sets_a])
    b = sim.load_setup(scenario(scenario_name), policy(policy_b or policy_a), [*common, *sets_b])
    result_a, result_b, diff = compare(a, b, replicates=replicates, workers=1)
    return result_a, result_b, diff


def _above_zero(d):
    return d["ci95"][0] > 0


def _below_zero(d):
    return d["ci95"][1] < 0


def test_higher_entry_threshold_admits_fewer_but_more_interested_members():
    """P2: the higher the threshold, the better the members and the harder the growth."""
    _, _, diff = _diff("cold-start", "baseline", sets_b=["policy.admission.when=interest >= 0.6"], common=["days=120"])
    assert _below_zero(diff["joined_total"])
    assert _above_zero(diff["mean_interest_end"])


def test_pruning_raises_active_ratio_and_lowers_members():
    """P7: removing the inactive keeps the group looking fresh, with fewer members."""
    _, _, diff = _diff("existing-group", "baseline", "aggressive-pruning", common=["days=120"])
    assert _above_zero(diff["active_ratio_mean"])
    assert _below_zero(diff["members_end"])
    assert _above_zero(diff["removed_total"])


def test_aggressive_pruning_costs_the_remaining_members_trust():
    """P7: remove too eagerly and the rest feel ruled by force (tyranny)."""
    _, result_b, diff = _diff(
        "existing-group",
        "aggressive-pruning",
        common=["days=120"],
        sets_b=["params.tyranny_trust_loss=5", "params.churn_tyranny=3"],
    )
    assert _above_zero(diff["churn_tyranny"])
    assert result_b.kpis["churn_tyranny"].mean() > 0


def test_operator_posts_far_beyond_the_attention_budget_raise_fatigue_churn():
    """M3, P4: too many messages tire people, who mute the group or leave."""
    _, result_b, diff = _diff(
        "existing-group", "baseline", sets_b=["policy.content.operator_posts_per_week=700"], common=["days=90"]
    )
    assert _above_zero(diff["churn_fatigue"])
    assert _above_zero(diff["churned_total"])
    assert result_b.kpis["churn_fatigue"].mean() > result_b.kpis["churn_boredom"].mean()


def test_answering_questions_raises_trust():
    """P9, M2: being answered is what makes members trust the group."""
    _, _, diff = _diff(
        "existing-group",
        "baseline",
        sets_a=["policy.service.answer_rate=0"],
        sets_b=["policy.service.answer_rate=1"],
        common=["days=120"],
    )
    assert _above_zero(diff["mean_trust_end"])


def test_moderation_keeps_ads_down_in_a_spam_prone_group():
    """M6, P11: without management ads take over; moderation removes spammers."""
    _, _, diff = _diff("spam-prone", "baseline", "moderated", common=["days=120"])
    assert _below_zero(diff["spam_messages_per_day"])
    assert _below_zero(diff["churn_harassment"])


def test_ritual_and_titles_build_activity_and_keep_members():
    """P4, P6, M4: a fixed ritual and recognition build habit and belonging."""
    _, _, diff = _diff("existing-group", "baseline", "weekly-ritual", common=["days=120"])
    assert _above_zero(diff["active_ratio_mean"])
    assert _above_zero(diff["members_end"])
    assert _above_zero(diff["cost_total"])


def test_referral_reward_brings_more_referred_members_at_a_price():
    """P10: a reward for inviting others raises referrals, and each one costs the reward."""
    _, result_b, diff = _diff(
        "fast-launch", "referral-rewards", common=["days=60"], sets_a=["policy.rewards.referral_reward=0"]
    )
    assert _above_zero(diff["referrals_total"])
    assert _above_zero(diff["cost_total"])
    spent = result_b.daily["cost_referrals"].sum()
    assert spent == 10 * result_b.kpis["referrals_total"].sum()


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_health_parts_move_with_the_policy():
    """G4: moderation keeps structure healthy in a spam-prone group; a ritual lifts operation."""
    _, _, diff = _diff("spam-prone", "baseline", "moderated", common=["days=120"])
    assert _above_zero(diff["health_end_structure"])
    _, _, diff = _diff("existing-group", "baseline", "weekly-ritual", common=["days=120"])
    assert _above_zero(diff["health_end_operation"])
    assert _above_zero(diff["health_end"])


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_selling_before_trust_exists_burns_the_group():
    """P14: pushes convert trusting members; pushed before trust exists they burn it."""
    early, late, diff = _diff("sales-push", "sales-early", "sales-late")
    assert _above_zero(diff["mean_trust_end"])  # late pushes leave more trust
    assert _above_zero(diff["members_end"])
    pushes_early, pushes_late = 26, 13  # weekly from day 0, and from day 90, over 180 days
    per_push_early = early.kpis["revenue_total"] / pushes_early
    per_push_late = late.kpis["revenue_total"] / pushes_late
    assert (per_push_late - per_push_early).mean() > 0 and (per_push_late > per_push_early).mean() >= 0.8


def test_events_build_trust_and_belonging_at_a_cost():
    """P12, M4: events deepen ties: trust and belonging rise, churn falls, and they cost."""
    _, with_events, diff = _diff(
        "existing-group", "baseline", sets_b=["policy.content.events_per_month=4"], common=["days=120"], replicates=20
    )
    assert _above_zero(diff["mean_trust_end"])
    assert _below_zero(diff["churned_total"])
    assert _above_zero(diff["cost_total"])
    assert with_events.daily["mean_belonging"].iloc[-1] > 0.1


def test_surveys_make_later_events_work_better():
    """P12: survey members, and later events reach them better."""
    surveyed = [
        "policy.content.events_per_month=2",
        "policy.community_rules=[{name: ask, when: 'day <= 5', do: survey}]",
    ]
    _, _, diff = _diff(
        "existing-group", "baseline", sets_a=["policy.content.events_per_month=2"], sets_b=surveyed, common=["days=60"]
    )
    assert _above_zero(diff["mean_trust_end"])


def test_off_topic_content_makes_members_leave_for_lost_focus():
    """G2: losing focus: off-topic posts give no value and drive members away."""
    _, off_topic, diff = _diff(
        "existing-group",
        "baseline",
        common=["days=120", "policy.content.operator_posts_per_week=14"],
        sets_b=["policy.content.focus=0.2"],
    )
    assert _above_zero(diff["churn_lost_focus"])
    assert _below_zero(diff["mean_interest_end"])


def test_a_group_without_a_leader_loses_members_for_that():
    """G2: no leader: no operator posts and no active expert."""
    _, leaderless, diff = _diff(
        "existing-group",
        "baseline",
        common=["days=120"],
        sets_b=["policy.content.operator_posts_per_week=0", "params.arch_expert_activity=-10"],
    )
    assert _above_zero(diff["churn_leaderless"])
    causes = {c: leaderless.kpis[f"churn_{c}"].mean() for c in ("boredom", "lost_trust", "fatigue", "leaderless")}
    assert max(causes, key=causes.get) == "leaderless"


def test_slow_answers_build_less_trust():
    """P9: answer every question fast; a slow answer builds less trust than a prompt one."""
    _, _, diff = _diff(
        "existing-group",
        "baseline",
        common=["days=120", "policy.service.answer_rate=1"],
        sets_b=["policy.service.answer_within_hours=48"],
    )
    assert _below_zero(diff["mean_trust_end"])


def test_seed_members_with_a_privilege_stay_longer():
    """P6: seed members get privileges, such as a special title; it keeps them."""
    plain, titled, _ = _diff(
        "cold-start", "baseline", sets_b=["policy.rewards.seed_title=founder"], common=["days=120"]
    )

    def seeds_left(result):
        members = result.members
        seeds = members[members["source"] == "seed"]
        return seeds.groupby("replicate")["status"].apply(lambda s: (s != "member").mean())

    assert (seeds_left(titled) - seeds_left(plain)).mean() < 0
    assert set(titled.members.loc[titled.members["source"] == "seed", "title"].astype(str)) <= {"founder"}


def test_reallocating_channel_budgets_lowers_the_cost_per_joined_member():
    """P1: measure the channels, drop the useless ones, pour the budget into the best."""
    _, _, diff = _diff("fast-launch", "referral-rewards", sets_b=["policy.acquisition.reallocate_after_days=21"])
    assert _below_zero(diff["channel_cost_per_joined"])
    assert _below_zero(diff["cost_total"])


def test_groups_can_be_run_by_member_segment():
    """P13: tag members and run groups by segment; copies of a group serve the same segment."""
    setup = sim.load_setup(scenario("fast-launch"), sets=["policy.groups.segment_by=archetype", "days=60"])
    members = sim.run(setup, replicates=2, workers=1).members
    current = members[members["status"] == "member"]
    assert current.groupby(["replicate", "group"])["archetype"].nunique().max() == 1
    assert current.groupby("replicate")["group"].nunique().min() >= 5  # every archetype, and its copies


def test_a_fee_buys_commitment():
    """P2: members who paid to join leave less often than members who joined the same group free."""
    free, paid, _ = _diff("cold-start", "weekly-ritual", sets_b=["policy.admission.fee=50"])

    def churn_share(result):  # among members who came through a channel (seed members pay nothing)
        m = result.members
        joined = m[~m["source"].isin(["seed", "initial"])]
        return (joined["status"] == "churned").groupby(joined["replicate"]).mean()

    from sim.runs.experiment import interval

    assert _below_zero(interval((churn_share(paid) - churn_share(free)).to_numpy()))
    assert paid.kpis["revenue_total"].min() > 0 == free.kpis["revenue_total"].max()
    assert (paid.kpis["joined_total"] < free.kpis["joined_total"]).all()  # and the fee keeps some out


def test_rewards_wear_off_with_repetition():
    """P6: a red envelope's nudge shrinks with every reward a member has already had."""
    from sim.engine.actions import EFFECTS
    from sim.engine.model import CommunityModel

    model = CommunityModel(sim.load_setup(scenario("existing-group"), policy("baseline"), ["days=5"]))
    rows = np.flatnonzero(model.pop.status == 0)[:50]
    nudges = []
    for _ in range(4):
        model.pop.stimulus[rows] = 0
        EFFECTS["red_envelope"](model, rows, 2.0, "test")
        nudges.append(float(model.pop.stimulus[rows].mean()))
    assert nudges[0] > nudges[1] > nudges[2] > nudges[3] > 0
    assert nudges[3] < 0.7 * nudges[0]


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_tiered_reactivation_brings_silent_members_back_at_an_escalating_cost():
    """P8: a message after a silent week, a coupon after a silent month; the later tier costs more each."""
    base, tiered, diff = _diff("existing-group", "baseline", "tiered-reactivation", replicates=20)
    silent = lambda r: r.daily.groupby("replicate")["silent"].mean()  # noqa: E731
    assert (silent(tiered) < silent(base)).mean() >= 0.8
    assert _above_zero(diff["members_end"])
    actions = tiered.actions.groupby("rule")[["members", "cost"]].sum()
    per_member = actions["cost"] / actions["members"]
    assert per_member["silent-month"] > per_member["silent-week"] > 0
