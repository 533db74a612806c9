"""Members' keyed draws (sim.engine.state.keyed_draws): common random numbers.

A member's number for a decision on a day depends on the world's key, the decision, the day and
the member only.  So its distribution must be right (the engine's outcomes rest on it), and the
same member meets the same luck in any stack, next to any other world, under any parameters.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from sim.engine.state import keyed_draws as kd

N = 200_000


def _keys(site: str, day: int, replicates=(0,)) -> np.ndarray:
    return kd.day_keys(kd.world_keys(7, list(replicates)), kd.SITES[site], day)


def _uniforms(site: str, day: int, serial: np.ndarray, replicates=(0,)) -> np.ndarray:
    out = np.empty(len(serial), dtype=np.float32)
    kd.fill_range(
        _keys(site, day, replicates), np.zeros(len(serial), np.intp), np.zeros(1, np.int16), serial, out, 0, len(serial)
    )
    return out


def test_uniform_draws_are_uniform_and_independent_across_decisions_days_and_members():
    serial = np.arange(N, dtype=np.int32)
    u = _uniforms("active", 3, serial)
    assert u.min() >= 0 and u.max() < 1
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    for other in (_uniforms("posts", 3, serial), _uniforms("active", 4, serial), _uniforms("active", 3, serial + 1)):
        assert abs(np.corrcoef(u, other)[0, 1]) < 0.01  # 4.5 standard errors at N
        assert not np.array_equal(u, other)
    # neighbours in serial or day are not correlated either (a weak mixer shows it here first)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


def test_rows_drawn_by_list_or_by_range_are_the_same_numbers():
    serial = np.arange(1000, dtype=np.int32)[::-1].copy()
    group = np.zeros(1000, np.intp)
    world_g = np.zeros(1, np.int16)
    keys = _keys("ask", 10)
    whole = np.empty(1000, dtype=np.float32)
    kd.fill_range(keys, group, world_g, serial, whole, 0, 1000)
    rows = np.array([999, 3, 500, 3])
    listed = np.empty(len(rows), dtype=np.float32)
    kd.fill_rows(keys, group, world_g, serial, rows, listed)
    np.testing.assert_array_equal(listed, whole[rows])


def test_trait_draws_have_their_distributions():
    world = np.zeros(N, np.intp)
    serial = np.arange(N)
    keys = kd.day_keys(kd.world_keys(7, [0]), kd.SITES["voice"], 0)
    z = np.empty(N)
    kd.normals(keys, world, serial, z)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    for a, b in ((4.0, 6.0), (0.5, 0.5), (0.3, 2.7), (12.0, 3.0)):  # shapes under 1 take the boosted path
        out = np.empty(N)
        kd.betas(keys, world, serial, np.full(N, a), np.full(N, b), out)
        assert stats.kstest(out, "beta", args=(a, b)).pvalue > 1e-3, (a, b)
    u = np.empty(N)
    kd.uniforms(keys, world, serial, u)
    assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_worlds_of_one_replicate_share_their_numbers_and_others_do_not():
    keys = kd.world_keys(7, [0, 1, 0])
    assert keys[0] == keys[2] != keys[1]
    assert kd.world_keys(7, [0])[0] != kd.world_keys(8, [0])[0]  # the scenario's seed enters


def _history_setup(referrals: float):
    from sim.activity.history import History
    from sim.config.scenario import setup_of_data
    from sim.runs.fit_runs import operations_text, scenario_data

    history = History(
        first_day=0,
        days=120,
        starting_members=60,
        weekly_joins=(3, 0, 5, 2, 4, 1, 3, 6, 2, 0, 4, 3, 2, 5, 1, 2, 3, 1),
        joins_known=True,
        messages=0,
        ritual_weekday="wednesday",
    )
    data = scenario_data(
        history, {"referral_base": referrals} if referrals else {}, seed=5, replicates=1, name="h", description=""
    )
    return setup_of_data(data, operations_text(history), name="h")


def _same_run(a: dict, b: dict) -> bool:
    """Whether two worlds' members and activity are the same run (member ids, groups and the
    replicate column aside: they number a stack's members and groups across its worlds)."""
    drop = ["replicate", "member_id", "group"]
    return all(
        a[t].drop(columns=drop).reset_index(drop=True).equals(b[t].drop(columns=drop).reset_index(drop=True))
        for t in ("members", "activity")
    )


def test_a_candidate_meets_its_replicates_luck_whatever_its_stack_mates():
    """Calibration's common random numbers: a candidate on replicate 0 runs the same world alone,
    beside another candidate, or beside itself; another candidate on the same replicate differs
    by its parameters only (its members arrive with the same draws: the same archetypes)."""
    from sim.runs.experiment import run_worlds

    setup = _history_setup(referrals=0.01)  # referrals too: a world's friends are its own
    a = {"act_bias": -4.0, "voice_sigma": 1.2}
    b = {"act_bias": -3.0, "voice_sigma": 2.0}
    (alone,) = run_worlds(setup, 0, 1, [a])
    stack = run_worlds(setup, 0, 3, [a, b, a], [0, 0, 0])
    assert _same_run(stack[0], alone) and _same_run(stack[2], alone)
    assert not _same_run(stack[1], alone)
    starting = [w["members"][w["members"]["join_day"] == 0]["archetype"].tolist() for w in (alone, stack[1])]
    assert starting[0] == starting[1]  # the same members, behaving by other parameters
    other = run_worlds(setup, 0, 2, [a, a], [0, 1])
    assert _same_run(other[0], alone) and not _same_run(other[1], alone)


def test_a_comparison_pairs_each_replicate_with_its_own_luck():
    """Policies compared replicate by replicate meet the same members' luck, so B - A varies far
    less than either run does (before keyed draws, a member's numbers depended on how many others
    drew before them that day, and the pairs shared little but their starting members)."""
    import sim
    from sim.config.library import resolve
    from sim.runs.experiment import compare

    sets = ["days=60", "population.initial_members=200"]
    a, b = (
        sim.load_setup(resolve("existing-group", "scenarios"), resolve(name, "policies"), sets)
        for name in ("baseline", "tiered-reactivation")
    )
    runs_a, runs_b, _ = compare(a, b, replicates=8, workers=1)
    for kpi in ("retention_d30", "members_end", "active_ratio_mean"):
        x, y = runs_a.kpis[kpi].to_numpy(float), runs_b.kpis[kpi].to_numpy(float)
        paired, unpaired = (y - x).std(ddof=1), np.sqrt(x.var(ddof=1) + y.var(ddof=1))
        assert paired < 0.4 * unpaired, (kpi, paired, unpaired)
