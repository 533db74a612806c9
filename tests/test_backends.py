"""The NumPy and durable-rules back ends fire the same rules for the same members on the same days."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import POLICIES, scenario

import sim


def _run(policy, rules_backend, community_backend, sets=()):
    setup = sim.load_setup(
        scenario("existing-group"),
        policy,
        ["days=45", "population.initial_members=300", *sets],
        rules_backend=rules_backend,
        community_backend=community_backend,
    )
    return sim.run(setup, replicates=2, workers=1)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.stem)
def test_every_shipped_policy_gives_identical_tables_on_both_back_ends(policy):
    fast = _run(policy, "numpy", "numpy")
    audit = _run(policy, "durable", "durable")
    pd.testing.assert_frame_equal(fast.actions, audit.actions, check_exact=True)
    pd.testing.assert_frame_equal(fast.daily, audit.daily, check_exact=True)
    pd.testing.assert_frame_equal(fast.members, audit.members, check_exact=True)


def test_conditions_durable_cannot_express_natively_agree_too(tmp_path):
    policy = tmp_path / "tricky.yaml"
    policy.write_text("""
name: tricky
rules:
  - name: arithmetic-left
    when: "points / (posts + 1) > 0.2 and not (trust < 0.45 or archetype == 'lurker')"
    do: {add_points: 1}
  - name: field-vs-field
    when: "trust > interest - 0.1 and 3 <= days_inactive"
    do: private_message
  - name: flags
    when: "is_silent or (posted_today and not is_core)"
    do: {add_points: 2}
  - name: negative
    when: "-fatigue < -0.001 and source != 'initial'"
    do: coupon
community_rules:
  - name: quiet
    when: "active_ratio_7d < mean_trust * 0.9 and size >= 10"
    do: {red_envelope: 1}
""")
    fast = _run(policy, "numpy", "numpy")
    audit = _run(policy, "durable", "durable")
    assert set(fast.actions["rule"]) >= {"arithmetic-left", "field-vs-field", "flags", "quiet"}
    pd.testing.assert_frame_equal(fast.actions, audit.actions, check_exact=True)
    pd.testing.assert_frame_equal(fast.kpis, audit.kpis, check_exact=True)


def test_many_runs_in_one_process_reuse_the_registered_ruleset(root):
    from sim.rules import durable_core as durable_backend

    setup = sim.load_setup(
        root / "scenarios" / "existing-group.yaml",
        root / "policies" / "moderated.yaml",
        ["days=10", "population.initial_members=50"],
        rules_backend="durable",
    )
    before = set(durable_backend._registered)
    for _ in range(30):
        sim.run(setup, replicates=1, workers=1)
    added = set(durable_backend._registered) - before
    assert len(added) <= 2  # member and community rulesets, registered once


# --- randomly generated policies (hypothesis) -------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sim.rules import GROUP, MEMBER  # noqa: E402

_NUMERIC_MEMBER = sorted(n for n, f in MEMBER.fields.items() if f.kind in ("num", "flag"))
_NUMERIC_GROUP = sorted(n for n, f in GROUP.fields.items() if f.kind in ("num", "flag"))
_OPS = ["<", "<=", ">", ">=", "==", "!="]


def _conditions(names, categorical):
    number = st.sampled_from([0, 1, 2, 3, 7, 14, 0.1, 0.25, 0.3, 0.5, 0.75, 10, 50, 100])
    name = st.sampled_from(names)
    term = st.one_of(
        st.builds(lambda a, op, b: f"{a} {op} {b}", name, st.sampled_from(_OPS), number),
        st.builds(lambda a, op, b: f"{a} {op} {b}", name, st.sampled_from(_OPS), name),
        st.builds(lambda a, b, op, c: f"{a} + {b} {op} {c}", name, number, st.sampled_from(_OPS), name),
        st.builds(lambda a, b, op, c: f"{a} / ({b} + 1) {op} {c}", name, name, st.sampled_from(_OPS), number),
        *categorical,
    )
    return st.recursive(
        term,
        lambda inner: st.one_of(
            st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
            st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
            st.builds(lambda a: f"not ({a})", inner),
        ),
        max_leaves=4,
    )


_member_when = _conditions(
    _NUMERIC_MEMBER,
    [
        st.sampled_from(
            [
                "archetype == 'expert'",
                "archetype != 'lurker'",
                "source == 'moments'",
                "is_core",
                "posted_today",
                "title != 'none'",
            ]
        )
    ],
)
_group_when = _conditions(_NUMERIC_GROUP, [st.sampled_from(["stage == 'growth'", "stage != 'cold_start'"])])
_member_do = st.sampled_from(
    ["private_message", "coupon", "warn", {"add_points": 3}, {"red_envelope": 1}, {"grant_title": "star"}]
)
_group_do = st.sampled_from(["private_message", {"red_envelope": 2}, "guest_talk", {"add_points": 1}])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    member=st.lists(st.tuples(_member_when, _member_do), min_size=1, max_size=3),
    group=st.lists(
        st.tuples(_group_when, _group_do, st.sampled_from([None, "1 per 7 days"]), st.integers(0, 2)), max_size=2
    ),
)
def test_random_policies_fire_identically_on_both_back_ends(tmp_path_factory, member, group):
    import yaml

    policy = {
        "name": "random",
        "rewards": {"titles": [{"name": "star", "when": "points >= 5"}], "points": {"post": 1}},
        "rules": [{"name": f"m{i}", "when": w, "do": d} for i, (w, d) in enumerate(member)],
        "community_rules": [
            {"name": f"g{i}", "when": w, "do": d, "priority": p, **({"at_most": cap} if cap else {})}
            for i, (w, d, cap, p) in enumerate(group)
        ],
    }
    path = tmp_path_factory.mktemp("random") / "policy.yaml"
    path.write_text(yaml.safe_dump(policy))
    sets = ["days=25", "population.initial_members=120"]
    fast = _run(path, "numpy", "numpy", sets)
    audit = _run(path, "durable", "durable", sets)
    pd.testing.assert_frame_equal(fast.actions, audit.actions, check_exact=True)
    pd.testing.assert_frame_equal(fast.kpis, audit.kpis, check_exact=True)


def _rss_mb() -> float:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow  # a long check: the slow tier, which CI runs too
def test_a_hundred_runs_in_one_process_neither_fail_nor_grow(root):
    """The shape of a long sweep in one worker: registration reused, state deleted each run."""
    setup = sim.load_setup(
        root / "scenarios" / "spam-prone.yaml",
        root / "policies" / "moderated.yaml",
        ["days=20", "population.initial_members=80"],
        rules_backend="durable",
    )
    sim.run(setup, replicates=1, workers=1)
    after_first = _rss_mb()
    for _replicate in range(1, 100):
        sim.run(setup, replicates=1, workers=1)
    assert _rss_mb() - after_first < 50


def test_a_rule_set_larger_than_durable_rules_can_hold_is_refused(tmp_path):
    import yaml

    from sim.errors import SandboxError

    rules = [{"name": f"r{k}", "when": f"points * {k + 2} > {k}", "do": "warn"} for k in range(300)]
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump({"rules": rules}))
    with pytest.raises(SandboxError, match="durable-rules holds at most 253 per fact"):
        _run(path, "durable", "numpy")
    assert len(_run(path, "numpy", "numpy").kpis) == 2  # NumPy has no such limit


def test_more_groups_than_one_durable_registration_holds_run_identically_to_numpy():
    """1,500 groups of 20: past the 1,024 states one registered ruleset holds, the groups spread
    over copies of it, and community rules and the stage chart give NumPy's tables exactly."""
    from sim.rules import durable_core

    def run(backend: str):
        setup = sim.load_setup(
            scenario("existing-group"),
            "community-playbook",
            ["days=40", "population.initial_members=30000", "policy.groups.cap=20"],
            community_backend=backend,
        )
        return sim.run(setup, replicates=1, workers=1)

    before = sum(map(len, durable_core._states.values()))  # states other tests' living models hold
    fast, durable = run("numpy"), run("durable")
    assert fast.daily["groups"].iloc[-1] >= 1500
    assert fast.actions["groups"].sum() > 1000 and fast.daily["stage_changes"].sum() > 100  # the rules did work
    pd.testing.assert_frame_equal(fast.actions, durable.actions, check_exact=True)
    pd.testing.assert_frame_equal(fast.daily, durable.daily, check_exact=True)
    assert sum(map(len, durable_core._states.values())) == before, "every state is deleted when the run ends"


def test_a_platform_of_200000_members_in_groups_of_150_runs_on_the_default_back_ends():
    """About 1,334 groups: refused before ("durable-rules holds at most 1024 groups per run")."""
    setup = sim.load_setup(
        scenario("existing-group"),
        "community-playbook",
        ["days=4", "population.initial_members=200000", "policy.groups.cap=150"],
    )
    assert setup.community_backend == "durable"
    result = sim.run(setup, replicates=1, workers=1)
    assert result.daily["groups"].iloc[-1] >= 1334 and len(result.daily) == 4


def test_runs_alive_at_once_share_the_copies_without_running_out(root):
    """Three runs of 600 groups each alive at once (1,800 states in two copies of each ruleset);
    they end in any order (durable-rules crashed when a state was deleted from under a newer
    one) and each gives what it gives alone; at the end every state is deleted."""
    from sim.engine.model import CommunityModel
    from sim.rules import durable_core

    setup = sim.load_setup(
        scenario("existing-group"),
        "community-playbook",
        ["days=3", "population.initial_members=12000", "policy.groups.cap=20"],
    )
    before = sum(map(len, durable_core._states.values()))
    models = [CommunityModel(setup, replicate=r) for r in range(3)]
    for model in models:
        model.step()
    alone = CommunityModel(setup, replicate=2).run()
    for model in models:
        model.run()
    assert models[2].daily_rows == alone.daily_rows
    assert models[0].daily_rows != alone.daily_rows
    assert sum(map(len, durable_core._states.values())) == before


# --- the facts' text --------------------------------------------------------------------------

_column = st.one_of(
    st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False), min_size=1, max_size=1).map(
        lambda v: ("f32", v)
    ),
    st.just(("f64", None)),
    st.just(("int", None)),
    st.just(("flag", None)),
    st.just(("stage", None)),
    st.just(("scalar", None)),
)


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(1, 30),
    kinds=st.lists(_column, min_size=1, max_size=6),
    days=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_facts_text_is_orjsons_text_of_one_dict_per_fact(count, kinds, days, seed):
    """The batch built column by column (and reused from day to day where a column did not
    change) is byte for byte what orjson writes for one dict per fact, the plain reference."""
    import numpy as np
    import orjson

    from sim.rules.durable_core import FactKeys, Facts

    class Stage:
        kind, values = "cat", ("cold_start", "growth", 'odd "name", with comma')

    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(count * 2, size=count, replace=False))
    sids = rng.integers(0, 5, size=count)
    keys = FactKeys("run7", ids, sids)
    for day in range(days):
        facts, expected = Facts(keys), [{"id": int(i), "sid": f"run7.{s}"} for i, s in zip(ids, sids)]
        for k, (kind, first) in enumerate(kinds):
            name = f"p{k}"
            if kind == "scalar":
                value = int(rng.integers(0, 7))
                facts.add(name, value)
                for fact in expected:
                    fact[name] = value
                continue
            if kind == "f32":
                full = rng.random(count * 2).astype(np.float32) * np.float32(first[0] or 1.0)
            elif kind == "f64":
                full = rng.random(count * 2) / 7
            elif kind == "flag":
                full = rng.random(count * 2) < 0.5
            else:
                full = rng.integers(0, 3 if kind == "stage" else 10**6, size=count * 2) * (day % 2)
            facts.add(name, full, Stage if kind == "stage" else None)
            values = full[ids]
            plain = (
                [Stage.values[v] for v in values]
                if kind == "stage"
                else values.astype(int).tolist()
                if kind == "flag"
                else values.tolist()
            )
            for fact, value in zip(expected, plain):
                fact[name] = value
        assert facts.payload() == orjson.dumps(expected).decode()
    assert keys.retraction() == orjson.dumps([{"id": int(i), "sid": f"run7.{s}"} for i, s in zip(ids, sids)]).decode()


@pytest.mark.parametrize("op", [">", "<", "==", "!=", ">=", "<="])
def test_an_overflow_has_one_meaning_on_both_back_ends(tmp_path, op):
    """Arithmetic that overflows (inf) or is undefined gives a value that no comparison holds for."""
    policy = tmp_path / "overflow.yaml"
    policy.write_text(f"""
name: overflow
rules:
  - name: member-overflow
    when: "trust * 1e300 * 1e300 {op} 1"
    do: {{add_points: 1}}
community_rules:
  - name: group-overflow
    when: "size * 1e300 * 1e300 {op} 1"
    do: {{add_points: 1}}
""")
    fast = _run(policy, "numpy", "numpy")
    audit = _run(policy, "durable", "durable")
    pd.testing.assert_frame_equal(fast.actions, audit.actions, check_exact=True)
    assert fast.actions.empty, f"a non-finite value satisfied '{op}'"


def test_a_groups_situation_changes_when_a_term_flips_or_a_number_stops_being_finite_only():
    """What durable-rules is asked again about: the truth of each comparison, not the numbers."""
    import numpy as np

    from sim.rules.expr import parse
    from sim.rules.recall import Recall, Situations
    from sim.rules.vocabulary import GROUP

    condition = parse("active_ratio_7d < 0.15 and (size > 400 or weekday == 4)", GROUP)
    recall = Recall(Situations([condition], GROUP), outcomes=1)
    ids = np.arange(4)

    def env(ratio, size, weekday=1):
        return {"active_ratio_7d": np.array(ratio), "size": np.array(size), "weekday": weekday}

    assert recall.changed(env([0.1, 0.2, 0.1, 0.3], [10, 10, 500, 10]), ids).all()  # first seen
    recall.answer(ids, [np.array([2])])
    same = env([0.12, 0.25, 0.05, 0.9], [20, 30, 450, 399])  # numbers moved, no comparison flipped
    assert not recall.changed(same, ids).any()
    assert [h.tolist() for h in recall.held(ids)] == [[2]]
    flipped = env([0.2, 0.25, 0.05, float("nan")], [20, 30, 450, 399])  # group 0's ratio, group 3 not finite
    assert recall.changed(flipped, ids).tolist() == [True, False, False, True]
    assert recall.changed(env([0.2, 0.25, 0.05, 0.9], [20, 30, 450, 399], weekday=4), ids).all()  # the day, for all


def test_durable_rules_is_asked_only_about_groups_whose_situation_changed():
    """Community rules and the stage chart on durable-rules: a group's fact or event goes to the
    engine on the days its situation changed, far fewer than one a group and day, and the run's
    tables are NumPy's exactly."""
    from sim.engine.model import CommunityModel

    def load(backend: str):
        return sim.load_setup(
            scenario("existing-group"),
            "community-playbook",
            ["days=30", "population.initial_members=4000", "policy.groups.cap=20", "replicates=1"],
            community_backend=backend,
        )

    model = CommunityModel(load("durable"))
    group_days = 0
    for _ in range(30):
        group_days += int((model.groups.size > 0).sum())
        model.step()
    facts, events = model.rule_engines["group"].sent, model.stage_engine.sent
    model.close()
    assert group_days >= 30 * 200
    assert 0 < facts < 0.6 * group_days and 0 < events < 0.4 * group_days, (facts, events, group_days)
    fast, durable = sim.run(load("numpy"), workers=1), sim.run(load("durable"), workers=1)
    assert fast.actions["groups"].sum() > 100
    pd.testing.assert_frame_equal(fast.actions, durable.actions, check_exact=True)
    pd.testing.assert_frame_equal(fast.daily, durable.daily, check_exact=True)


def test_community_rules_that_all_hold_at_once_run_on_durable_rules_past_its_64_conditions(tmp_path):
    """durable-rules follows at most 64 conditions a fact meets at once; each community rule is a
    ruleset of its own, so 70 rules that all hold for a group of 300 run, as on NumPy (where only
    the first acts: the others would give the same red envelope the same day)."""
    import yaml

    rules = [
        {"name": f"r{k}", "when": f"size * {k + 2} > {100 * (k + 2)}", "do": {"red_envelope": 1}} for k in range(70)
    ]
    policy = tmp_path / "many-rules.yaml"
    policy.write_text(yaml.safe_dump({"name": "many rules", "community_rules": rules}))
    fast, durable = (_run(policy, "numpy", backend, ["days=5"]) for backend in ("numpy", "durable"))
    assert set(fast.actions["rule"]) == {"r0"} and len(fast.actions) == 2 * 5  # 2 replicates, 5 days
    pd.testing.assert_frame_equal(fast.actions, durable.actions, check_exact=True)
