"""Policy files: what an operator does, written as data (domain P1-P14).

A policy file has sections ``admission`` (P2), ``groups`` (P3), ``content`` (P4, P5),
``service`` (P9), ``rewards`` (P6, P10), member-level ``rules`` and group-level
``community_rules`` (P7, P8, P11).  Unknown fields are errors, so a typo never passes
silently.  :func:`compile_policy` checks every ``when`` expression against the vocabulary and
every ``do`` against the action vocabulary, and returns rules ready for a back end.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sim.config.files import FileModel, apply_set, line_of, parse_yaml, read_yaml, validate
from sim.domain import WEEKDAYS, content_hash
from sim.errors import SandboxError, place_of
from sim.rules import GROUP, MEMBER, PROSPECT, Vocabulary, compile_mask, fields_used, parse
from sim.rules.actions import check_action
from sim.rules.vocabulary import SEQUENCE, SEQUENCE_NAMES
from sim.rules.vocabulary import Field as VocabField


class _Strict(FileModel):
    """Unknown fields refused; numbers finite, never true/false (:class:`~sim.config.files.FileModel`)."""


class Admission(_Strict):
    """Who gets in (P2): a rule on the prospect, and a fee that buys commitment."""

    when: str | None = Field(None, description="condition on interest, trust, archetype, source; None admits all")
    fee: float = Field(0.0, ge=0, le=1e6, description="membership fee in currency units")


class GroupsSection(_Strict):
    """Group size cap and what happens when a group is full (P3)."""

    cap: int | None = Field(
        500, ge=2, le=1_000_000, description="members per group (500, a common chat platform's limit); null for no cap"
    )
    on_full: Literal["split", "close"] = "split"
    segment_by: Literal["archetype", "source"] | None = Field(
        None, description="run separate groups per member segment (P13): by archetype or by source"
    )
    copy_core_members: int | None = Field(
        None,
        ge=0,
        le=1000,
        description="core members moved to seed each copy when a group splits (P3); "
        "null for the scenario's params.split_core_members",
    )


class Content(_Strict):
    """Operator content (P4, P5)."""

    operator_posts_per_week: float = Field(3.0, ge=0, le=700)
    quality: float = Field(0.5, ge=0, le=1)
    focus: float = Field(1.0, ge=0, le=1, description="share of operator posts on the group's theme (G2: focus)")
    ritual_weekday: str | None = Field(None, description="a weekday name for the weekly ritual slot")
    guest_talks_per_month: float = Field(0.0, ge=0, le=30)
    events_per_month: float = Field(0.0, ge=0, le=30, description="on- or offline events (P12)")
    sales_pushes_per_week: float = Field(0.0, ge=0, le=7, description="product pushes to every member (P14)")
    sales_price: float = Field(50.0, ge=0, le=1e6, description="price of what a sales push offers")
    sales_start_day: int = Field(0, ge=0, le=3650, description="the first day sales pushes may run")

    @field_validator("ritual_weekday", mode="before")
    @classmethod
    def _weekday(cls, value):
        if value is None:
            return None
        if isinstance(value, int) and 0 <= value <= 6:
            return WEEKDAYS[value]
        if isinstance(value, str) and value.lower() in WEEKDAYS:
            return value.lower()
        raise ValueError(f"expected a weekday name (monday ... sunday), got {value!r}")


class Service(_Strict):
    """Responsiveness (P9): the share of questions operators answer, and how fast."""

    answer_rate: float = Field(0.3, ge=0, le=1)
    answer_within_hours: float = Field(0.0, ge=0, le=720, description="operators' typical time to answer")


class Points(_Strict):
    """Points per action (P6)."""

    post: float = Field(0.0, ge=0, le=1e4)
    question: float = Field(0.0, ge=0, le=1e4)
    active_day: float = Field(0.0, ge=0, le=1e4)


class Title(_Strict):
    """A title granted when its condition holds (P6, M4); later titles outrank earlier ones."""

    name: str = Field(min_length=1)
    when: str


class Rewards(_Strict):
    points: Points = Points()
    titles: list[Title] = []
    seed_title: str | None = Field(None, description="a title seed members hold from day 0 (P6 privileges)")
    referral_reward: float = Field(0.0, ge=0, le=1e5, description="paid per referred member who joins (P10)")


ActionItem = str | dict[str, Any]


class Rule(_Strict):
    """A rule: when the condition holds, do the actions."""

    name: str = Field(min_length=1)
    when: str
    do: ActionItem | list[ActionItem]
    description: str = ""


class CommunityRule(Rule):
    """A group-level rule, with the memory a playbook needs (sequences, cool-downs, priorities)."""

    after: str | None = Field(None, description="fire only after this community rule fired for the group")
    within: int | None = Field(None, ge=1, le=3650, description="... at most this many days before")
    at_most: str | None = Field(None, description="a cap such as '1 per 30 days', per group")
    priority: int = Field(0, ge=-1000, le=1000, description="higher runs first and wins conflicts")

    @field_validator("at_most")
    @classmethod
    def _cap(cls, value):
        if value is not None and parse_cap(value) is None:
            raise ValueError(f"expected 'K per D days' such as '1 per 30 days', got {value!r}")
        return value

    @model_validator(mode="after")
    def _sequence(self) -> CommunityRule:
        if (self.after is None) != (self.within is None):
            raise ValueError("a sequence needs both 'after: RULE' and 'within: DAYS'")
        return self


def parse_cap(text: str) -> tuple[int, int] | None:
    """'1 per 30 days' -> (1, 30); None if malformed."""
    match = re.fullmatch(r"\s*(\d+)\s+per\s+(\d+)\s+days?\s*", str(text))
    if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
        return None
    return int(match.group(1)), int(match.group(2))


class Acquisition(_Strict):
    """Channel budgets reallocated by measured conversion (P1)."""

    reallocate_after_days: int | None = Field(None, ge=1, le=3650, description="measure this long, then reallocate")
    keep_channels: int = Field(1, ge=1, le=100, description="how many of the best channels keep pushing")


class Policy(_Strict):
    name: str = "unnamed"
    description: str = ""
    admission: Admission = Admission()
    acquisition: Acquisition = Acquisition()
    groups: GroupsSection = GroupsSection()
    content: Content = Content()
    service: Service = Service()
    rewards: Rewards = Rewards()
    rules: list[Rule] = []
    community_rules: list[CommunityRule] = []
    stages: str | None = Field(
        None,
        description="a stage chart file, relative to this policy (default: "
        "the default chart: sim/config/default_stages.yaml)",
    )
    parameters: dict[str, float] = Field(
        {},
        description="named numbers the rules' conditions use like fields (when: 'days_inactive >= "
        "prune_after'), so a threshold can be set with --set policy.parameters.NAME=... and searched",
    )

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, parameters: dict[str, float]) -> dict[str, float]:
        for name, value in parameters.items():
            if not name.isidentifier() or name in ("and", "or", "not", "True", "False"):
                raise ValueError(f"'{name[:40]}' is not a name a condition can use (letters, digits, _)")
            if not math.isfinite(value):
                raise ValueError(f"parameter '{name}' must be a finite number")
        return parameters


@dataclass
class CompiledRule:
    """A rule ready to run: its intermediate form, a NumPy mask and its actions."""

    name: str
    when: str
    ir: tuple
    mask: Any
    actions: list[tuple[str, Any]]
    scope: str  # "member" or "group"
    priority: int = 0
    cap: tuple[int, int] | None = None  # at most K firings per D days, per group
    after: int | None = None  # index of the community rule this one follows
    within: int | None = None
    key: str = ""  # prefix of this rule's memory names in facts and envs


@dataclass
class CompiledPolicy:
    """A validated policy with every expression compiled against a scenario's vocabulary.

    ``settings`` is the policy file as validated (its sections: admission, groups, content...);
    the other fields are what the rules engine runs.
    """

    settings: Policy
    source: str
    admission: Any = None  # mask over prospects, or None
    titles: list[CompiledRule] = field(default_factory=list)
    rules: list[CompiledRule] = field(default_factory=list)
    community_rules: list[CompiledRule] = field(default_factory=list)
    title_names: tuple[str, ...] = ("none",)
    member_vocab: Any = None
    group_vocab: Any = None
    chart: Any = None
    hash: str = ""


def load_policy(
    path: str | Path, sets: Sequence[tuple[str, Any, str]] = (), *, text: str | None = None
) -> tuple[Policy, dict, Any]:
    """Read and validate a policy file, with ``--set policy.*`` overrides applied.

    With ``text``, the policy is that text (typed into the dashboard) and ``path`` only names it
    in errors; no file is read.
    """
    path = str(path)
    data, root = read_yaml(path) if text is None else parse_yaml(text, file=path)
    data = copy.deepcopy(data)
    origin = {apply_set(data, key, value, option=option): option for key, value, option in sets}
    policy = validate(Policy, data, file=path, root=root, origin=origin)
    assert isinstance(policy, Policy)
    return policy, data, root


def compile_policy(
    policy: Policy,
    *,
    file: str,
    root=None,
    sources: tuple[str, ...] | None = None,
    reads_files: bool = True,
    chart: Any = None,
) -> CompiledPolicy:
    """Check and compile every expression and action of a policy.

    ``sources`` are the scenario's acquisition sources; without them (``sandbox validate``
    on a policy alone) any source name is accepted.  Without ``reads_files`` (a policy typed
    into the dashboard) a ``stages:`` path is refused rather than followed; ``chart``, a stage
    chart already loaded (a setup loaded again from its contents), is used instead of its path.
    """
    titles = ("none",) + tuple(t.name for t in policy.rewards.titles)
    if policy.rewards.seed_title and policy.rewards.seed_title not in titles:
        titles += (policy.rewards.seed_title,)
    extra = {"title": titles}
    if sources is not None:
        extra["source"] = sources
    member_vocab = MEMBER.with_values(**extra)
    prospect_vocab = PROSPECT.with_values(**({"source": sources} if sources is not None else {}))
    out = CompiledPolicy(
        settings=policy,
        source=file,
        title_names=titles,
        member_vocab=member_vocab,
        group_vocab=GROUP,
        hash=content_hash(policy.model_dump()),
    )
    out.chart = chart if chart is not None else _chart_at(policy, file, root, reads_files)
    group = GROUP.with_values(stage=out.chart.states)

    if policy.admission.when is not None:
        ir = _parse_at(policy.admission.when, prospect_vocab, file, root, ("admission", "when"), policy.parameters)
        out.admission = _mask_at(ir, prospect_vocab, file, root, ("admission", "when"))
    for i, title in enumerate(policy.rewards.titles):
        loc: tuple = ("rewards", "titles", i, "when")
        ir = _parse_at(title.when, member_vocab, file, root, loc, policy.parameters)
        out.titles.append(
            CompiledRule(title.name, title.when, ir, _mask_at(ir, member_vocab, file, root, loc), [], "member")
        )
    seen: set[str] = set()
    for i, rule in enumerate(policy.rules):
        _unique(rule.name, seen, "rules", i, file, root)
        ir = _parse_at(rule.when, member_vocab, file, root, ("rules", i, "when"), policy.parameters)
        mask = _mask_at(ir, member_vocab, file, root, ("rules", i, "when"))
        actions = _actions_at(rule.do, "member", titles, file, root, ("rules", i, "do"))
        out.rules.append(CompiledRule(rule.name, rule.when, ir, mask, actions, "member"))

    names = [rule.name for rule in policy.community_rules]
    memory_fields: dict[str, VocabField] = {}
    parsed = []
    for i, rule in enumerate(policy.community_rules):
        loc = ("community_rules", i)
        _unique(rule.name, seen, "community_rules", i, file, root)
        key = f"r{i}"
        after = None
        vocab = group
        if rule.after is not None:
            if rule.after not in names or rule.after == rule.name:
                raise SandboxError(
                    f"a sequence refers to an unknown rule '{rule.after}'; "
                    f"known community rules: {', '.join(n for n in names if n != rule.name)}",
                    file=file,
                    line=line_of(root, loc + ("after",)),
                    place=place_of(loc + ("after",)),
                )
            after = names.index(rule.after)
            vocab = SEQUENCE.with_values(stage=out.chart.states)
        ir = _parse_at(rule.when, vocab, file, root, loc + ("when",), policy.parameters)
        guards = []
        if after is not None:
            ir = qualify(ir, key, SEQUENCE_NAMES)
            since = ("field", f"{key}__days_since_after")
            guards += [("cmp", ">=", since, ("num", 1)), ("cmp", "<=", since, ("num", rule.within))]
        cap = parse_cap(rule.at_most) if rule.at_most else None
        if cap is not None:
            guards.append(("cmp", "<", ("field", f"{key}__fired_recent"), ("num", cap[0])))
        if guards:  # the rule's own condition first: the guards hold on most days, so a rules
            ir = ("and", [ir] + guards)  # engine testing in order stops sooner (same truth either way)
        for node_field in fields_used(ir):
            if "__" in node_field:
                memory_fields[node_field] = VocabField(node_field, "num", "playbook memory")
        actions = _actions_at(rule.do, "group", titles, file, root, loc + ("do",))
        parsed.append(
            CompiledRule(
                rule.name,
                rule.when,
                ir,
                None,
                actions,
                "group",
                priority=rule.priority,
                cap=cap,
                after=after,
                within=rule.within,
                key=key,
            )
        )
    out.group_vocab = group.extended(memory_fields)
    for i, compiled in enumerate(parsed):
        compiled.mask = _mask_at(compiled.ir, out.group_vocab, file, root, ("community_rules", i, "when"))
        out.community_rules.append(compiled)
    return out


def _chart_at(policy: Policy, file: str, root, reads_files: bool):
    """The policy's stage chart: the default, or a file in the policy's own folder (or below it).

    A chart path may not leave the policy's folder (no ``..``, no absolute path elsewhere, no
    symlink out): a policy is not a way to make the sandbox read another file.  A policy that
    is only text (the dashboard's editor) follows no path at all.
    """
    from sim.config.charts import DEFAULT_CHART, load_chart

    if policy.stages is None:
        return load_chart()
    line = line_of(root, ("stages",))
    if not reads_files:
        raise SandboxError(
            "a policy typed here cannot name a stage chart file; remove 'stages'", file=file, line=line, place="stages"
        )
    folder = Path(file).parent.resolve()
    path = (folder / policy.stages).resolve()
    if not (path.is_relative_to(folder) or path == DEFAULT_CHART.resolve()):
        raise SandboxError(
            "the stage chart must be in the policy's folder or below it; write a path relative to the policy",
            file=file,
            line=line,
            place="stages",
        )
    if not path.is_file():
        raise SandboxError(
            f"stage chart '{policy.stages}' not found (paths are relative to the policy file)",
            file=file,
            line=line,
            place="stages",
        )
    return load_chart(path)


def _unique(name: str, seen: set, section: str, i: int, file: str, root) -> None:
    if name in seen:
        raise SandboxError(
            f"rule name '{name}' is used twice; give each rule its own name",
            file=file,
            line=line_of(root, (section, i, "name")),
            place=f"{section}[{i}].name",
        )
    seen.add(name)


def qualify(node: tuple, key: str, names: set[str]) -> tuple:
    """Rename a sequence rule's memory names (after_*, days_since_after) to its own keys."""
    tag = node[0]
    if tag == "field":
        return ("field", f"{key}__{node[1]}") if node[1] in names else node
    if tag in ("and", "or"):
        return (tag, [qualify(n, key, names) for n in node[1]])
    if tag in ("neg", "not"):
        return (tag, qualify(node[1], key, names))
    if tag in ("arith", "cmp"):
        return (tag, node[1], qualify(node[2], key, names), qualify(node[3], key, names))
    return node


def _parse_at(text: str, vocab: Vocabulary, file: str, root, loc: tuple, constants=None) -> tuple:
    try:
        return parse(text, vocab, constants)
    except SandboxError as exc:
        raise exc.located(file=file, line=line_of(root, loc), place=place_of(loc)) from None


def _mask_at(ir: tuple, vocab: Vocabulary, file: str, root, loc: tuple):
    try:
        return compile_mask(ir, vocab)
    except SandboxError as exc:
        raise exc.located(file=file, line=line_of(root, loc), place=place_of(loc)) from None


def _actions_at(do, scope: str, titles: tuple[str, ...], file: str, root, loc: tuple) -> list:
    items = do if isinstance(do, list) else [do]
    out = []
    for j, item in enumerate(items):
        item_loc = loc + ((j,) if isinstance(do, list) else ())
        try:
            if isinstance(item, str):
                name, arg = item, None
            elif isinstance(item, dict) and len(item) == 1:
                ((name, arg),) = item.items()
            else:
                raise SandboxError("an action is a name (remove) or one name with its argument ({add_points: 5})")
            out.append((name, check_action(name, arg, scope, titles)))
        except SandboxError as exc:
            raise exc.located(file=file, line=line_of(root, item_loc), place=place_of(item_loc)) from None
    return out


__all__ = ["Policy", "CompiledPolicy", "CompiledRule", "load_policy", "compile_policy", "WEEKDAYS"]
