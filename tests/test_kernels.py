"""The compiled member passes (sim/kernels.py) against plain NumPy statements of the same equations.

The kernels are a speed-up, not a change of model: on the state of real runs they must give the
NumPy result bit for bit, and churn's thinning (the exact hazard only for members under a bound)
must lose no departure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import scenario

import sim
from sim.domain import CAUSES, newcomer_since
from sim.engine.churn import churn_candidates, departures, leaderless_share
from sim.engine.model import CommunityModel
from sim.engine.state import kernels

F32 = np.float32
CASES = [("spam-prone", 40), ("pruning-vs-tyranny", 60), ("birth-to-death", 120), ("sales-push", 90)]


def _model_at(name: str, day: int):
    setup = sim.load_setup(scenario(name), None, community_backend="numpy")
    model = CommunityModel(setup, replicate=0)
    for _ in range(day):
        model.step()
    return model


def _numpy_hazard(model, rows):
    """The churn hazard and its parts, written as NumPy statements (G2, M4, M7, P2)."""
    pop, p = model.pop, model.params
    parts = np.empty((len(CAUSES), len(rows)), dtype=F32)
    parts[0] = p.churn_base
    parts[1] = F32(p.churn_boredom) * (1 - pop.interest[rows]) ** 2
    parts[2] = F32(p.churn_lost_trust) * (1 - pop.trust[rows]) ** 2
    parts[3] = F32(p.churn_fatigue) * pop.fatigue[rows] ** 2
    parts[4] = F32(p.churn_harassment) * pop.spam_exposure[rows]
    parts[5] = F32(p.churn_tyranny) * pop.tyranny_exposure[rows]
    parts[6] = F32(p.churn_lost_focus) * pop.offtopic_exposure[rows]
    parts[7] = leaderless_share(model)[pop.group[rows]]
    h = parts.sum(axis=0)
    h *= model.archetype_tables["churn"][pop.archetype[rows]]
    h *= pop.frailty[rows]
    h *= 1 - pop.commitment[rows]
    h *= 1 - F32(p.belonging_churn_cut) * pop.belonging[rows]
    h *= np.where(pop.days_inactive[rows] >= p.silent_after_days, F32(p.silent_churn_factor), F32(1))
    h *= np.where(pop.title[rows] > 0, F32(p.title_churn_factor), F32(1))
    newcomer = (pop.join_day[rows] > model.day - p.newcomer_days) & (pop.join_day[rows] > 0)
    h *= np.where(newcomer, F32(1 + p.newcomer_churn_weight), F32(1))
    return h, parts


def _departures(model, u, rows):
    return departures(model, u, rows, leaderless_share(model))


@pytest.mark.parametrize("name,day", CASES)
def test_churn_kernel_gives_the_numpy_hazard_and_cause(name, day):
    model = _model_at(name, day)
    alive = np.flatnonzero(model.pop.status == 0)
    h, parts = _numpy_hazard(model, alive)
    # draws spread around each member's own hazard, so about half of them leave
    u = np.zeros(model.pop.n, dtype=F32)
    u[alive] = h * np.random.default_rng(1).uniform(0.5, 1.5, len(alive)).astype(F32)
    leaving, causes = _departures(model, u, alive)
    expected = u[alive] < h
    assert 0.2 < expected.mean() < 0.8
    np.testing.assert_array_equal(leaving, alive[expected])
    np.testing.assert_array_equal(causes, np.argmax(parts[:, expected], axis=0))


@pytest.mark.parametrize("name,day", CASES)
def test_thinning_loses_no_departure(name, day):
    """Members under the bound, then the exact hazard: the same leavers as the exact hazard for all."""
    model = _model_at(name, day)
    alive = np.flatnonzero(model.pop.status == 0)
    h, _ = _numpy_hazard(model, alive)
    rng = np.random.default_rng(2)
    for u_alive in (
        h * F32(0.9999),
        h * rng.uniform(0.9, 1.1, len(alive)).astype(F32),
        rng.random(len(alive), dtype=F32) * F32(h.max()),
    ):
        u = np.ones(model.pop.n, dtype=F32)
        u[alive] = u_alive
        thinned = _departures(
            model, u, churn_candidates(model, u, leaderless_share(model))
        )  # in one range of rows, or several
        everyone = _departures(model, u, alive)
        assert len(everyone[0]) > 0
        for a, b in zip(thinned, everyone):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name,day", CASES)
def test_activity_kernels_give_the_numpy_draw(name, day):
    """Who opens the group: log-odds from the member's state and the group's pull (M3, M5)."""
    from sim.engine.members import group_pull, momentum_tables, operator_content

    model = _model_at(name, day)
    pop, p = model.pop, model.params
    pop.stimulus[: pop.n // 3] = F32(0.7)  # some members were nudged yesterday
    pop.days_inactive[-pop.n // 4 :] = 100  # and some have been away for longer than momentum lasts
    pull = group_pull(model, operator_content(model))
    z = np.take(pull, pop.group)
    z += pop.arch_activity
    for coefficient, column in (
        (p.act_interest, pop.interest),
        (p.act_trust, pop.trust),
        (p.act_habit, pop.habit),
        (-p.act_fatigue, pop.fatigue),
    ):
        z += column * F32(coefficient)
    z += pop.stimulus
    table = momentum_tables(model)[0]  # a community alone: one world
    recent = pop.days_inactive < len(table)
    z += np.where(recent, table[np.minimum(pop.days_inactive, len(table) - 1)], F32(0))
    newcomer = (pop.join_day > model.day - p.newcomer_days) & (pop.join_day > 0)
    z += np.where(newcomer, F32(p.act_newcomer), F32(0))
    u = np.random.default_rng(3).random(pop.n, dtype=F32)
    expected = np.flatnonzero(((np.exp(-z) + 1) * u < 1) & (pop.status == 0))

    out = np.empty(pop.n, dtype=F32)
    kernels.activity_logits(
        pull,
        pop.group,
        pop.arch_activity,
        pop.interest,
        pop.trust,
        pop.habit,
        pop.fatigue,
        pop.stimulus,
        pop.days_inactive,
        pop.join_day,
        newcomer_since(model.day, p.newcomer_days),
        model.group_worlds(),
        F32(p.act_interest),
        F32(p.act_trust),
        F32(p.act_habit),
        F32(-p.act_fatigue),
        table[None, :],
        np.array([p.act_newcomer], dtype=F32),
        out,
        0,
        pop.n,
    )
    np.testing.assert_array_equal(out, -z)
    np.exp(out, out=out)
    active = kernels.draw_active(out, u, pop.status, pop.stimulus, pop.active_today, 0, pop.n)
    np.testing.assert_array_equal(active, expected)
    assert not pop.stimulus.any()  # the nudge is spent
    np.testing.assert_array_equal(np.flatnonzero(pop.active_today), expected)


def test_compaction_keeps_rows_in_order():
    from sim.engine.state.columns import Columns

    cols = Columns({"a": np.float32, "b": np.int16, "c": np.bool_}, capacity=4)
    values = np.arange(1000)
    cols.append(1000, a=values * 0.5, b=values, c=values % 3 == 0)
    keep = (values % 7 != 0) & (values % 5 != 1)
    cols.keep(keep)
    np.testing.assert_array_equal(cols.a, (values * 0.5)[keep].astype(np.float32))
    np.testing.assert_array_equal(cols.b, values[keep])
    np.testing.assert_array_equal(cols.c, (values % 3 == 0)[keep])


@pytest.fixture
def threads():
    """Split every pass into row ranges, however small the population; restore afterwards."""
    from sim.engine.state import row_threads

    saved = row_threads.MIN_ROWS, row_threads._threads
    row_threads.MIN_ROWS = 0
    yield row_threads.set_threads
    row_threads.MIN_ROWS, row_threads._threads = saved


@pytest.mark.parametrize(
    "name,policy,days",
    [
        ("spam-prone", None, 90),
        ("pruning-vs-tyranny", None, 90),
        ("existing-group", "community-playbook", 90),
        ("sales-push", None, 90),
        ("birth-to-death", None, None),
    ],
)
def test_row_ranges_in_threads_give_the_same_tables(threads, name, policy, days):
    """One thread or several over row ranges (the passes' per-range counts, lists and referral
    odds joined in order, uniform draws from advanced copies of the stream): the same run, bit
    for bit.  Birth to death ends with days when nobody is active (empty draws)."""
    from conftest import policy as policy_file

    setup = sim.load_setup(
        scenario(name),
        policy_file(policy) if policy else None,
        [f"days={days}"] if days else [],
        community_backend="numpy",
    )
    tables = []
    for count in (1, 3):
        threads(count)
        tables.append(CommunityModel(setup, replicate=0).run().tables())
    for key in tables[0]:
        pd.testing.assert_frame_equal(tables[0][key], tables[1][key], check_exact=True)


@pytest.mark.parametrize("engine", ["vector", "agents"])
def test_a_leaver_is_recorded_with_the_state_they_left_with(engine):
    """The members table gives a leaver's interest, trust, habit, fatigue and days inactive as
    they were on the day they left, not as their row drifted on until it was compacted away."""
    from sim.engine.metrics import members_table

    setup = sim.load_setup(scenario("spam-prone"), None, ["days=60"], community_backend="numpy", engine=engine)
    model = CommunityModel(setup, replicate=0)
    fields = ("interest", "trust", "habit", "fatigue", "days_inactive")
    at_exit = {}
    while model.running:
        model.step()
        pop = model.pop
        left = np.flatnonzero((pop.status != 0) & (pop.exit_day == model.day - 1))
        for row in left:
            at_exit[int(pop.member_id[row])] = tuple(getattr(pop, f)[row] for f in fields)
    table = members_table(model).set_index("member_id")
    assert len(at_exit) > 100
    for member_id, state in at_exit.items():
        assert tuple(table.loc[member_id, list(fields)]) == state
