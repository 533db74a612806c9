"""The trainer's scenario library: each scenario and its contrast move the way its description says.

Each test runs a shipped scenario under its two policies over 10 seeded replicates (paired by
seed) and checks the claims written in the scenario's description.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import policy, scenario

import sim
from sim.runs.experiment import compare


def _pair(name: str, a: str, b: str, sets=()):
    setup_a = sim.load_setup(scenario(name), policy(a), list(sets))
    setup_b = sim.load_setup(scenario(name), policy(b), list(sets))
    return compare(setup_a, setup_b, replicates=10, workers=1)


def _clear_up(d):
    return d["ci95"][0] > 0


def _clear_down(d):
    return d["ci95"][1] < 0


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_ritual_versus_random_posting():
    """ritual-vs-random: the ritual builds activity, habit and belonging, and keeps members."""
    random, ritual, diff = _pair("ritual-vs-random", "random-posting", "weekly-ritual")
    assert _clear_up(diff["active_ratio_mean"])
    assert _clear_up(diff["members_end"])
    for column in ("mean_habit", "mean_belonging"):
        gain = ritual.daily.groupby("replicate")[column].last() - random.daily.groupby("replicate")[column].last()
        assert (gain > 0).all(), column


def test_a_referral_bait_that_loses_money():
    """referral-bait: referrals rise, but each costs far more than a member from the channel."""
    _, bait, diff = _pair("referral-bait", "baseline", "referral-bait")
    assert _clear_up(diff["referrals_total"])
    assert _clear_up(diff["cost_per_joined"])
    assert (bait.kpis["referral_cost_per_joined"] > 10 * bait.kpis["channel_cost_per_joined"]).all()


def test_a_sales_push_before_and_after_trust_exists():
    """sales-push: selling before trust exists leaves less trust and fewer members, lost trust leads the
    causes, and each push earns less: the late pushes earn as much in half the pushes."""
    from sim.engine.members import scheduled

    early, late, diff = _pair("sales-push", "sales-early", "sales-late")
    assert _clear_up(diff["mean_trust_end"])
    assert _clear_up(diff["members_end"])
    causes = {c: early.kpis[f"churn_{c}"].mean() for c in ("boredom", "lost_trust", "fatigue", "harassment")}
    assert max(causes, key=causes.get) == "lost_trust"
    assert _clear_down(diff["churn_lost_trust"])  # selling late loses fewer members to lost trust

    def per_push(result):
        content = result.setup.policy.settings.content
        days = range(content.sales_start_day, result.setup.scenario.days)
        pushes = sum(scheduled(d - content.sales_start_day, content.sales_pushes_per_week, 7) for d in days)
        return result.kpis["revenue_total"].to_numpy() / pushes

    gain = per_push(late) - per_push(early)
    assert (gain > 0).all(), gain


def test_death_by_boredom():
    """birth-to-death: left without fresh value, the group dies, and boredom leads the causes."""
    result = sim.run(sim.load_setup(scenario("birth-to-death")), replicates=5, workers=1)
    causes = {
        c: result.kpis[f"churn_{c}"].mean()
        for c in (
            "boredom",
            "lost_trust",
            "fatigue",
            "harassment",
            "tyranny",
            "lost_focus",
            "leaderless",
            "evaporation",
        )
    }
    assert max(causes, key=causes.get) == "boredom"
    assert (result.daily.groupby("replicate")["stage"].last() == "dead").all()
    assert (result.kpis["dead_groups_boredom"] == result.kpis["dead_groups"]).all()  # every death is boredom's
    assert result.daily["spam_messages"].sum() == 0
    stages = result.daily.groupby("replicate")["stage"]
    cold_days = stages.apply(lambda s: int((s == "cold_start").sum()))
    assert cold_days.mean() >= 5, cold_days.tolist()  # a slow start, not a two-day formality
    for stage in ("growth", "maturity", "decline"):
        assert stages.apply(lambda s, stage=stage: int((s == stage).sum())).min() >= 7, stage


def test_a_spam_outbreak_with_and_without_moderation():
    """spam-prone: without moderation ads take over and harassment leads the causes; moderation stops it."""
    open_group, moderated, diff = _pair("spam-prone", "baseline", "moderated")
    causes = {c: open_group.kpis[f"churn_{c}"].mean() for c in ("boredom", "lost_trust", "fatigue", "harassment")}
    assert max(causes, key=causes.get) == "harassment"
    assert _clear_down(diff["spam_messages_per_day"])
    assert _clear_down(diff["churn_harassment"])


def test_a_dead_group_carries_the_main_cause_of_its_last_30_days():
    """G2: every dead group is attributed to the churn cause that led its last 30 days."""
    from sim.domain import CAUSES
    from sim.engine.model import CommunityModel

    for replicate in range(3):
        model = CommunityModel(sim.load_setup(scenario("birth-to-death")), replicate=replicate).run()
        dead = model.groups.stage == model.policy.chart.states.index("dead")
        assert dead.any() and (model.groups.dead_cause[dead] >= 0).all()
        members = model.pop.all_rows()
        for gid in map(int, np.flatnonzero(dead)):
            died_on = int(model.groups.created_day[gid])  # recomputed below from the members' exits
            left = (members["group"] == gid) & (members["status"] == 1)
            died_on = max(died_on, int(members["exit_day"][left].max()))
            recent = left & (members["exit_day"] > died_on - 30)
            causes = np.bincount(members["exit_cause"][recent] - 1, minlength=len(CAUSES))
            assert causes[model.groups.dead_cause[gid]] > 0


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_copying_with_and_without_a_core():
    """copy-with-and-without-core: copies seeded with core members are livelier and stop being weak sooner (P3)."""
    empty, seeded, diff = _pair("copy-with-and-without-core", "copy-without-core", "copy-with-core")
    assert _clear_up(diff["active_ratio_mean"])
    weak_empty = empty.daily.groupby("replicate")["weak_copies"].mean()
    weak_seeded = seeded.daily.groupby("replicate")["weak_copies"].mean()
    assert (weak_seeded < weak_empty).mean() >= 0.8, (weak_empty.tolist(), weak_seeded.tolist())


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_pruning_versus_tyranny():
    """pruning-vs-tyranny: aggressive pruning looks active, loses members, and tyranny leads churn (P7)."""
    gentle, aggressive, diff = _pair("pruning-vs-tyranny", "gentle-pruning", "aggressive-pruning")
    causes = ("evaporation", "boredom", "lost_trust", "fatigue", "harassment", "tyranny")

    def dominant(result):
        return max(causes, key=lambda c: result.kpis[f"churn_{c}"].mean())

    assert dominant(aggressive) == "tyranny"
    assert dominant(gentle) != "tyranny"
    assert _clear_up(diff["active_ratio_mean"])
    assert _clear_down(diff["members_end"])


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_guest_speakers_versus_internal_experts():
    """guest-speakers-vs-internal-experts: with guests only, activity spikes on talk days, interest
    decays between talks, members post less (they grow lazy) and boredom leads churn (P5)."""
    from sim.runs.experiment import interval

    guests, experts, _ = _pair("guest-speakers-vs-internal-experts", "guest-speakers", "internal-experts")
    daily = guests.daily
    talk_days = sorted(set(daily.loc[daily["talks"] > 0, "day"]))
    assert len(talk_days) >= 15
    for _, run in daily.groupby("replicate"):
        on_talk = run.loc[run["talks"] > 0, "active_ratio"].mean()
        assert on_talk > run.loc[run["talks"] == 0, "active_ratio"].mean() + 0.1

    def fade(run):  # mean interest the day after a talk minus five days later
        interest = run.set_index("day")["mean_interest"]
        return np.mean([interest[t + 1] - interest[t + 6] for t in talk_days if t + 6 in interest.index])

    fades = daily.groupby("replicate").apply(fade)
    assert fades.mean() > 0 and (fades > 0).mean() >= 0.8, fades.tolist()

    def posts_per_active(result):
        by = result.daily.groupby("replicate")
        return by["member_messages"].sum() / by["active"].sum()

    # the same group with members who never grow lazy, on the same seeds: they would post more
    eager = compare(
        *(
            sim.load_setup(scenario("guest-speakers-vs-internal-experts"), policy("guest-speakers"), sets)
            for sets in (["params.guest_laziness=0"], [])
        ),
        replicates=10,
        workers=1,
    )[0]
    lazier = interval((posts_per_active(eager) - posts_per_active(guests)).to_numpy())
    assert lazier["ci95"][0] > 0, lazier
    causes = {
        c: guests.kpis[f"churn_{c}"].mean() for c in ("boredom", "lost_trust", "fatigue", "harassment", "leaderless")
    }
    assert max(causes, key=causes.get) == "boredom"


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_a_cold_start_with_and_without_seed_members():
    """cold-start: seed members make the first month lively, grow a core sooner and a bigger group (G1, M5)."""
    unseeded, seeded, diff = compare(
        *(sim.load_setup(scenario("cold-start"), None, sets) for sets in (["population.seed_members=0"], [])),
        replicates=10,
        workers=1,
    )
    assert _clear_up(diff["members_end"])
    assert _clear_up(diff["active_ratio_mean"])
    for column, days in (("active_ratio", range(30)), ("core", [60])):
        a = unseeded.daily[unseeded.daily["day"].isin(days)].groupby("replicate")[column].mean()
        b = seeded.daily[seeded.daily["day"].isin(days)].groupby("replicate")[column].mean()
        assert (b > a).mean() >= 0.8, (column, a.tolist(), b.tolist())


def test_daily_campaign_and_reach_columns_add_up_to_the_actions_table():
    """A trainer's daily columns: campaigns (community-rule actions, one per group) and members reached."""
    setup = sim.load_setup(scenario("birth-to-death"), policy("community-playbook"), ["days=120"])
    result = sim.run(setup, replicates=2, workers=1)
    daily, actions = result.daily, result.actions
    assert daily["campaigns"].sum() > 0
    community = actions[actions["rule"].isin([r.name for r in setup.policy.community_rules])]
    assert daily["campaigns"].sum() == community["groups"].sum()
    assert daily["members_reached"].sum() == actions["members"].sum()
