"""The member model meets real chat groups: the structural facts of issue 16 on the default chat scenario.

Each fact is measured the way ``sandbox observe`` measures a real export (the same fingerprint
code, on the run's activity table), over seeded replicates, in the direction and rough size the
real channels show (the file in ../shared/data/ among them):

- the departure hazard falls with tenure: months 9-11 under half of months 1-3 (a 720-day run);
- newcomers mostly try once: 30-60% post again, and a reply to the first post adds 5-20 points;
- each member says less in a bigger group: messages per member fall with size (50 to 2,000);
- broadcasts tire: 5 operator posts a day churn clearly more members than 2 a week;
- active days come in runs and breaks: more one-day gaps and more burstiness than independent
  daily draws at each member's own rate.

Long statistical checks: the slow tier (``pytest -m slow``), which CI runs too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import scenario

import sim
from sim.activity.fingerprint import fingerprint
from sim.activity.simulated import events_of_run
from sim.runs.experiment import compare, run

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def two_years():
    """The default chat scenario run for 720 days with its activity table, and its fingerprint per replicate."""
    result = run(sim.load_setup(scenario("existing-group"), None, ["days=720"]), replicates=4, workers=2, activity=True)
    measures = pd.DataFrame(fingerprint(events_of_run(result.members, result.activity, whole=True))).T
    return result, measures


def test_the_departure_hazard_falls_with_tenure(two_years):
    _, m = two_years
    assert (m["hazard_m9_11"] < 0.5 * m["hazard_m1_3"]).all(), m[["hazard_m1_3", "hazard_m9_11"]]


def test_newcomers_mostly_try_once_and_a_reply_helps_by_about_ten_points(two_years):
    _, m = two_years
    assert 0.3 <= m["newcomer_return"].mean() <= 0.6, m["newcomer_return"].tolist()
    assert 0.05 <= m["first_reply_effect"].mean() <= 0.2, m["first_reply_effect"].tolist()
    assert 0.35 <= m["posters_share"].mean() <= 0.65  # a chat group: about half of its members post


def _independent_days(activity: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Each member's active days redrawn uniformly over their own span: independent daily draws at their rate."""
    rng = np.random.default_rng(seed)
    days = activity.drop_duplicates(["replicate", "member_id", "day"])
    rows = []
    for (replicate, member), own in days.groupby(["replicate", "member_id"])["day"]:
        span = np.arange(own.min(), own.max() + 1)
        for day in rng.choice(span, size=len(own), replace=False):
            rows.append((replicate, member, day))
    null = pd.DataFrame(rows, columns=["replicate", "member_id", "day"])
    return null.assign(group=0, messages=1, welcomed=False)


def test_active_days_come_in_runs_and_breaks(two_years):
    result, m = two_years
    null = pd.DataFrame(fingerprint(events_of_run(result.members, _independent_days(result.activity), whole=True))).T
    assert (m["gap_1d_share"] > null["gap_1d_share"] + 0.02).all(), (m["gap_1d_share"], null["gap_1d_share"])
    assert (m["burstiness"] > null["burstiness"] + 0.05).all(), (m["burstiness"], null["burstiness"])


def test_each_member_says_less_in_a_bigger_group():
    sizes = [50, 200, 800, 2000]
    rates = []
    for size in sizes:
        sets = [f"population.initial_members={size}", "channels=[]", "days=180", "policy.groups.cap=5000"]
        daily = run(sim.load_setup(scenario("existing-group"), None, sets), replicates=4, workers=2).daily
        rates.append(daily["member_messages"].sum() / daily["members"].sum())
    slope = np.polyfit(np.log(sizes), np.log(rates), 1)[0]
    assert slope < -0.1, (rates, slope)
    assert rates[-1] < rates[0]


def test_five_operator_posts_a_day_churn_more_than_two_a_week():
    few, many = (
        sim.load_setup(scenario("existing-group"), None, ["days=360", f"policy.content.operator_posts_per_week={n}"])
        for n in (2, 35)
    )
    a, b, diff = compare(few, many, replicates=6, workers=2)
    assert diff["churned_total"]["ci95"][0] > 0.1 * a.kpis["churned_total"].mean(), diff["churned_total"]
    assert b.kpis["churn_fatigue"].mean() > 10 * max(a.kpis["churn_fatigue"].mean(), 1)
