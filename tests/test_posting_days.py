"""A posting day as a conversation (``conversation_posts``), on both engines.

In a chat, speaking is a conversation: a member who posts at all writes several messages that
day, however seldom they post (on the real IRC file the median posting day holds 11 messages and
14% hold one).  The parameter keeps a member's odds of posting at all and lengthens every posting
day by its value on average: the geometric count's memorylessness makes the rise the same for
every member, so the mean of a posting day's posts rises by that much.  In the activity table a
day's messages are its posts and its question, and a day with only a question is not lengthened:
there the mean rises by a little less (by 3.3 to 3.5 for 5 on this group, on both engines).
"""

from __future__ import annotations

import pytest
from conftest import policy, scenario

import sim
from sim.runs.experiment import run

EXTRA = 5.0


def _posting_days(engine: str, extra: float) -> tuple[int, float, float]:
    """(member-days with a message, their mean messages, the share of them with one message) over
    four seeded replicates of a small chat group."""
    setup = sim.load_setup(
        scenario("existing-group"),
        policy("baseline"),
        ["days=60", "population.initial_members=150", f"params.conversation_posts={extra}"],
        engine=engine,
    )
    activity = run(setup, replicates=4, workers=1, activity=True).activity
    messages = activity["messages"].to_numpy()
    return len(messages), float(messages.mean()), float((messages == 1).mean())


@pytest.mark.parametrize("engine", ["vector", "agents"])
def test_a_conversation_lengthens_posting_days_and_keeps_their_number(engine):
    days, mean, single = _posting_days(engine, 0.0)
    days_c, mean_c, single_c = _posting_days(engine, EXTRA)
    assert 0.5 * EXTRA <= mean_c - mean <= 1.1 * EXTRA, (mean, mean_c)
    assert single_c < 0.6 * single, (single, single_c)  # 0.79 to 0.41-0.44 (question-only days stay single)
    # the odds of posting at all are kept: the posting days change far less than the messages (by
    # +11% on both engines, from what more messages bring: replies, welcomed newcomers)
    assert abs(days_c - days) <= 0.2 * days, (days, days_c)
    assert days_c * mean_c > 2 * days * mean
