"""An export's sampling errors (half-sampling of members) where one member writes every welcome.

In a simulated run every welcome comes from one member (``operators``), as in a group where one
admin greets newcomers.  Without that member half the draws hold no welcomed newcomer: the
first-reply effect's error was undefined, and a calibration then weighed that measure by a floor
of 0.01, far tighter than what it knows.
"""

from __future__ import annotations

import numpy as np
from conftest import policy, scenario

import sim
from sim.activity.fingerprint import DAY, MONTH_DAYS, measures
from sim.activity.sampling import standard_errors
from sim.activity.simulated import OPERATORS, events_of_run
from sim.runs.experiment import run_replicate


def test_the_first_reply_effect_has_an_error_when_one_member_writes_every_welcome():
    setup = sim.load_setup(
        scenario("existing-group"), policy("baseline"), ["days=360", "population.initial_members=300"]
    )
    tables = run_replicate(setup, 0, activity=True)
    events = events_of_run(tables["members"], tables["activity"], whole=True)
    replies = events[events["reply_to"] != ""]
    assert set(replies["member"]) == {OPERATORS}

    errors = [standard_errors(events, ("first_reply_effect",), seed=s)["first_reply_effect"] for s in range(3)]
    assert None not in errors, errors  # before: undefined for draw seeds 1 and 2 of this run
    se = errors[0]
    # against the error of a difference of two shares, from the counts of newcomers with and
    # without a reply: the same size (half-sampling is not exact for a ratio of counts)
    m = measures(events)
    messages = events[events["kind"] == "message"]
    first = messages.groupby("member")["timestamp"].min()
    end = int(events["timestamp"].max())
    eligible = first[first <= end - MONTH_DAYS * DAY].index
    welcomed = set(replies["reply_to"]) & set(eligible)
    n1, n2 = len(welcomed), len(eligible) - len(welcomed)
    p = float(m["newcomer_return"])
    analytic = np.sqrt(p * (1 - p) * (1 / n1 + 1 / n2))
    assert 0.5 * analytic <= se <= 2 * analytic, (se, analytic, n1, n2)
