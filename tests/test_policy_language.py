"""The policy language: parsing to the intermediate form, the whitelist, NumPy masks."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.errors import SandboxError
from sim.rules import GROUP, MEMBER, compile_mask, parse, to_text


def mask(text, **env):
    vocab = MEMBER.with_values(title=("none", "veteran"), source=("seed", "initial", "referral", "ads"))
    return compile_mask(parse(text, vocab), vocab)({k: np.asarray(v) for k, v in env.items()})


def test_parses_a_condition_into_plain_tuples():
    ir = parse("days_inactive >= 30 and trust < 0.3", MEMBER)
    assert ir == (
        "and",
        [("cmp", ">=", ("field", "days_inactive"), ("num", 30.0)), ("cmp", "<", ("field", "trust"), ("num", 0.3))],
    )
    assert to_text(ir) == "((days_inactive >= 30) and (trust < 0.3))"


def test_mask_selects_exactly_the_matching_members():
    got = mask("days_inactive >= 30 and trust < 0.3", days_inactive=[0, 30, 45, 60], trust=[0.1, 0.2, 0.5, 0.29])
    assert got.tolist() == [False, True, False, True]


def test_arithmetic_or_not_and_chained_comparisons():
    got = mask(
        "not (points / posts > 2) or 0.2 < interest <= 0.5",
        points=[10, 1, 9, 0],
        posts=[1, 1, 0, 0],
        interest=[0.9, 0.3, 0.1, 0.6],
    )
    # division by zero gives 0, so the last two are "not 0 > 2" = True
    assert got.tolist() == [False, True, True, True]


def test_flags_and_categories():
    got = mask(
        "is_core and archetype == 'expert' or title != 'none'",
        is_core=[1, 1, 0, 0],
        archetype=[3, 0, 3, 0],
        title=[0, 0, 0, 1],
    )
    assert got.tolist() == [True, False, False, True]


def test_group_vocabulary_is_separate_from_members():
    assert parse("active_ratio_7d < 0.1 and size > 50", GROUP)
    with pytest.raises(SandboxError, match="unknown name 'trust'"):
        parse("trust < 0.3", GROUP)


@pytest.mark.parametrize(
    "text, message",
    [
        ("trst < 0.3", "unknown name 'trst'; did you mean 'trust'"),
        ("trust <", "syntax error"),
        ("__import__('os').system('x')", "not allowed"),
        ("trust.real > 0", "attribute access are not allowed"),
        ("abs(trust) > 0", "function calls are not allowed"),
        ("points[0] > 1", "subscripts are not allowed"),
        ("(lambda: 1)() > 0", "not allowed"),
        ("trust ** 2 > 0", "operator 'Pow' is not allowed"),
        ("trust", "is not a condition"),
        ("archetype == 'wizard'", "unknown archetype 'wizard'"),
        ("archetype > 'expert'", "only be compared with == or !="),
        ("trust and 1", "joins conditions"),
        ("[x for x in y]", "comprehensions are not allowed"),
    ],
)
def test_rejects_everything_outside_the_whitelist(text, message):
    with pytest.raises(SandboxError, match=message.replace("(", r"\(").replace("'", "'")):
        parse(text, MEMBER)


def test_unknown_name_lists_the_known_names():
    with pytest.raises(SandboxError) as info:
        parse("happiness > 1", MEMBER)
    assert "days_inactive" in str(info.value) and "\n" not in str(info.value)


def test_a_named_parameter_sets_a_rules_threshold(tmp_path):
    """``parameters:`` names numbers a condition uses like a field; --set changes them, and a
    later pruning threshold removes fewer members (P7)."""
    policy = tmp_path / "param.yaml"
    policy.write_text(
        "name: parameter\nparameters:\n  prune_after: 15\n"
        'rules:\n  - name: prune\n    when: "days_inactive >= prune_after"\n    do: remove\n'
    )
    early = sim.run("existing-group", policy, replicates=3, days=60)
    late = sim.run("existing-group", policy, replicates=3, days=60, policy__parameters__prune_after=45)
    assert early.kpis["removed_total"].mean() > 1.5 * late.kpis["removed_total"].mean() > 0
    inline = sim.load_setup("existing-group", policy, ["policy.parameters.prune_after=45"])
    assert inline.policy.rules[0].ir == ("cmp", ">=", ("field", "days_inactive"), ("num", 45.0))
    policy.write_text('name: bad\nparameters: {"two words": 3}\n')
    with pytest.raises(SandboxError, match="not a name a condition can use"):
        sim.load_setup("existing-group", policy)
