"""Scenario files: the community, its channels, the horizon, and which policy runs.

A scenario says who is there at day 0 (existing members, hand-picked seed members, the
archetype mix), where new members come from (acquisition channels, P1), how long to run,
how many replicates, the seed, the policy file (relative to the scenario file) and any
parameter overrides under ``params:``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from sim.config.files import FileModel, apply_set, line_of, parse_set, read_yaml, validate
from sim.config.library import resolve
from sim.config.params import Params, check_param
from sim.config.policy import CompiledPolicy, compile_policy, load_policy
from sim.domain import ARCHETYPES, content_hash
from sim.errors import SandboxError

RESERVED_SOURCES = ("seed", "initial", "referral")


MAX_DAYS = 3650
"""The longest horizon: ten years."""

MAX_REPLICATES = 1_000
"""Replicates of one run: each keeps its tables in memory until the run ends."""


class _Strict(FileModel):
    """Unknown fields refused; numbers finite, never true/false (:class:`~sim.config.files.FileModel`)."""


class PopulationSection(_Strict):
    """Who is there at day 0 (M5: the archetype mix)."""

    initial_members: int = Field(0, ge=0, le=10_000_000, description="members of an existing group at day 0")
    seed_members: int = Field(0, ge=0, le=1_000_000, description="hand-picked seed members at day 0 (G1)")
    archetype_mix: dict[str, float] = Field(
        default_factory=lambda: {"lurker": 0.6, "regular": 0.25, "talker": 0.06, "expert": 0.04, "connector": 0.05}
    )
    seed_archetype_mix: dict[str, float] = Field(
        default_factory=lambda: {"regular": 0.3, "talker": 0.3, "expert": 0.2, "connector": 0.2}
    )

    @field_validator("archetype_mix", "seed_archetype_mix")
    @classmethod
    def _mix(cls, mix: dict[str, float]) -> dict[str, float]:
        for name, share in mix.items():
            if name not in ARCHETYPES:
                raise ValueError(f"unknown archetype '{name}'; expected: {', '.join(ARCHETYPES)}")
            if not isinstance(share, (int, float)) or share < 0:
                raise ValueError(f"share of '{name}' must be a number >= 0")
        if sum(mix.values()) <= 0:
            raise ValueError("shares must add up to more than 0")
        return mix


class Channel(_Strict):
    """An acquisition channel (P1): a pool of prospects pushed to on a schedule."""

    name: str = Field(min_length=1)
    pool_size: int = Field(0, ge=0, le=100_000_000, description="prospects reachable through this channel")
    pushes_per_week: float = Field(1.0, ge=0, le=70)
    conversion_rate: float = Field(0.0, ge=0, le=1, description="share of the remaining pool that joins per push")
    cost_per_push: float = Field(0.0, ge=0, le=1e7)
    interest: float = Field(0.5, ge=0, le=1, description="mean interest of recruits (relevance of the channel)")
    word_of_mouth: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Bass imitation coefficient q: extra conversion per "
        "push, times the share of this channel's pool that has joined",
    )

    weekly_joins: list[int] | None = Field(
        None,
        max_length=MAX_DAYS // 7 + 1,
        description="prospects arriving in each week, as observed (a calibrated group's history); "
        "replaces the pool, pushes and conversion",
    )

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if name in RESERVED_SOURCES:
            raise ValueError(f"'{name}' is reserved; choose another channel name")
        return name

    @field_validator("weekly_joins")
    @classmethod
    def _weekly(cls, weekly: list[int] | None) -> list[int] | None:
        if weekly is not None and any(n < 0 or n > 1_000_000 for n in weekly):
            raise ValueError("each week's joins must be a whole number from 0 to 1,000,000")
        return weekly

    @model_validator(mode="after")
    def _source(self) -> Channel:
        if self.weekly_joins is not None:
            self.pool_size = sum(self.weekly_joins)  # everyone the schedule brings
        elif not {"pool_size", "conversion_rate"} <= self.model_fields_set:
            raise ValueError("a channel needs pool_size and conversion_rate, or weekly_joins")
        return self


class Scenario(_Strict):
    name: str = "unnamed"
    description: str = ""
    days: int = Field(180, ge=1, le=MAX_DAYS)
    replicates: int = Field(10, ge=1, le=MAX_REPLICATES)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    population: PopulationSection = PopulationSection()
    channels: list[Channel] = []
    policy: str | None = Field(None, description="path to a policy file, relative to this file")
    preset: Literal["chat", "forum"] = Field("chat", description="the kind of group: its parameter set")
    params: dict[str, float] = {}

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        names = [c.name for c in self.channels]
        if len(set(names)) != len(names):
            raise ValueError("two channels share a name; give each channel its own name")
        if self.population.initial_members + self.population.seed_members == 0 and not self.channels:
            raise ValueError("the community is empty and has no channel; add members or a channel")
        return self


@dataclass
class Setup:
    """Everything one run needs, validated: scenario, compiled policy, parameters."""

    scenario: Scenario
    policy: CompiledPolicy
    params: Params
    scenario_file: str
    policy_file: str
    scenario_hash: str
    policy_hash: str
    rules_backend: str = "numpy"  # member rules: "numpy" (fast) or "durable" (audit, small runs)
    community_backend: str = "durable"  # community rules: durable-rules is the engine of record
    engine: str = "vector"  # members: "vector" (NumPy columns) or "agents" (one mesa.Agent each)

    @property
    def sources(self) -> tuple[str, ...]:
        return source_names(self.scenario)

    @classmethod
    def of(
        cls, scenario: Scenario, policy: CompiledPolicy, scenario_file: str, policy_file: str, **choices: Any
    ) -> Setup:
        """A setup of a validated scenario and a compiled policy: its parameters and the two
        content hashes (a run's identity) derived the one way every loader derives them."""
        return cls(
            scenario=scenario,
            policy=policy,
            params=Params(scenario.params, source=scenario_file, preset=scenario.preset),
            scenario_file=scenario_file,
            policy_file=policy_file,
            scenario_hash=content_hash(scenario.model_dump()),
            policy_hash=policy.hash,
            **choices,
        )


def source_names(scenario: Scenario) -> tuple[str, ...]:
    """Acquisition sources in code order: seed, initial, referral, then each channel."""
    return RESERVED_SOURCES + tuple(c.name for c in scenario.channels)


def apply_sets(data: dict, sets: Sequence[str]) -> tuple[dict, list]:
    """Apply the scenario's ``--set`` options to its data (in place); return where each landed
    (for errors) and the ``policy.*`` options, left for the policy."""
    origin, policy_sets = {}, []
    for option in sets:
        key, value = parse_set(option)
        if key.startswith("policy.") and key != "policy.":
            policy_sets.append((key[len("policy.") :], value, option))
            continue
        origin[apply_set(data, key, value, option=option)] = option
    return origin, policy_sets


def load_scenario(path: str | Path, sets: Sequence[str] = ()) -> tuple[Scenario, list]:
    """Read and validate a scenario file with ``--set`` overrides (not the ``policy.*`` ones).

    Returns the scenario and the ``policy.*`` overrides left for the policy file.  A name of a
    shipped scenario (``existing-group``) finds it when no such file is where the user stands.
    """
    path = str(resolve(path, "scenarios"))
    data, root = read_yaml(path)
    data = copy.deepcopy(data)
    origin, policy_sets = apply_sets(data, sets)
    scenario = validate(Scenario, data, file=path, root=root, origin=origin)
    assert isinstance(scenario, Scenario)
    for name, value in scenario.params.items():
        set_option = next((o for loc, o in origin.items() if loc == ("params", name)), None)
        try:
            check_param(name, value)
        except SandboxError as exc:
            if set_option:
                raise SandboxError(exc.message, place=f"--set {set_option}") from None
            raise exc.located(file=path, line=line_of(root, ("params", name))) from None
    return scenario, policy_sets


BACKENDS = ("numpy", "durable")
ENGINES = ("vector", "agents")


def load_setup(
    scenario_path: str | Path,
    policy_path: str | Path | None = None,
    sets: Sequence[str] = (),
    *,
    rules_backend: str = "numpy",
    community_backend: str = "durable",
    engine: str = "vector",
    policy_text: str | None = None,
) -> Setup:
    """Load a scenario and its policy (or the one given), apply overrides, compile the policy.

    Either may be a shipped file's name (:mod:`sim.config.library`).  With ``policy_text``, the
    policy is that text (the dashboard's editor) and ``policy_path`` only names it in errors:
    no policy file, and no file a policy names, is read.
    """
    scenario_path = resolve(scenario_path, "scenarios")
    scenario, policy_sets = load_scenario(scenario_path, sets)
    if policy_text is not None:
        policy_path = str(policy_path or "edited policy")
    elif policy_path is not None:
        policy_path = resolve(policy_path, "policies")
    else:
        if scenario.policy is None:
            raise SandboxError(
                "no policy given; add 'policy: path' to the scenario or pass --policy FILE",
                file=str(scenario_path),
                place="policy",
            )
        policy_path = Path(scenario_path).parent / scenario.policy
        if not Path(policy_path).is_file():
            raise SandboxError(
                f"policy file '{scenario.policy}' not found (paths are relative to the scenario file)",
                file=str(scenario_path),
                place="policy",
            )
    check_memory(scenario, str(scenario_path))
    policy_path = str(policy_path)
    policy, _, root = load_policy(policy_path, policy_sets, text=policy_text)
    compiled = compile_policy(
        policy, file=policy_path, root=root, sources=source_names(scenario), reads_files=policy_text is None
    )
    for option, backend in (("--rules-backend", rules_backend), ("--community-backend", community_backend)):
        if backend not in BACKENDS:
            raise SandboxError(f"unknown back end '{backend}'; expected one of: {', '.join(BACKENDS)}", place=option)
    if engine not in ENGINES:
        raise SandboxError(f"unknown engine '{engine}'; expected one of: {', '.join(ENGINES)}", place="--engine")
    return Setup.of(
        scenario,
        compiled,
        str(scenario_path),
        policy_path,
        rules_backend=rules_backend,
        community_backend=community_backend,
        engine=engine,
    )


BYTES_PER_MEMBER = 400
"""Memory a member can take in a run: about 200 bytes of state (``benchmarks/engines.py`` measures
194) and as much again for a day's temporaries, with room to spare."""


def check_memory(scenario: Scenario, file: str) -> None:
    """Refuse a scenario whose members could outgrow this machine's memory, naming what it would need.

    Everyone a scenario can ever hold is its starting members and every channel's whole pool.
    """
    most = scenario.population.initial_members + scenario.population.seed_members
    most += sum(c.pool_size for c in scenario.channels)
    need = most * BYTES_PER_MEMBER
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > have // 2:
        raise SandboxError(
            f"this scenario can hold up to {most:,} members, about {need / 1e9:.1f} GB; this machine has "
            f"{have / 1e9:.1f} GB of memory: use smaller pools or fewer starting members",
            file=file,
            place="channels",
        )


def validate_file(path: str | Path) -> str:
    """Validate a scenario or policy file on its own; return what it was."""
    data, root = read_yaml(path)
    if "days" in data or "population" in data or "channels" in data:
        scenario, _ = load_scenario(path)
        if scenario.policy is not None:
            load_setup(path)
        return "scenario"
    policy, _, root = load_policy(path)
    compile_policy(policy, file=str(path), root=root)
    return "policy"


def setup_of_data(
    scenario: dict, policy_text: str, *, name: str = "scenario", community_backend: str = "numpy"
) -> Setup:
    """A setup from a scenario's data and a policy's text, with no file read.

    What a worker process gets when the caller ships contents, not paths (a calibration's
    candidates, a cluster without a shared disk).  Validated as a file would be.
    """
    data = validate(Scenario, copy.deepcopy(scenario), file=name, root=None, origin={})
    assert isinstance(data, Scenario)
    policy_name = f"{name}: policy"
    policy, _, root = load_policy(policy_name, text=policy_text)
    compiled = compile_policy(policy, file=policy_name, root=root, sources=source_names(data), reads_files=False)
    return Setup.of(data, compiled, name, policy_name, community_backend=community_backend)


def reload_setup(setup: Setup, sets: Sequence[str] = (), **changes: Any) -> Setup:
    """A loaded setup with more ``--set`` options applied, built again from its contents (no file
    is read: its policy's stage chart is the one already loaded).  ``changes`` replace fields
    of the setup itself (``community_backend="numpy"``)."""
    data = setup.scenario.model_dump(mode="json")
    origin, policy_sets = apply_sets(data, sets)
    scenario = validate(Scenario, data, file=setup.scenario_file, root=None, origin=origin)
    assert isinstance(scenario, Scenario)
    for name, value in scenario.params.items():
        check_param(name, value)
    check_memory(scenario, setup.scenario_file)
    text = yaml.safe_dump(setup.policy.settings.model_dump(mode="json"), sort_keys=False)
    policy, _, root = load_policy(setup.policy_file, policy_sets, text=text)
    compiled = compile_policy(
        policy,
        file=setup.policy_file,
        root=root,
        sources=source_names(scenario),
        reads_files=False,
        chart=setup.policy.chart if policy.stages == setup.policy.settings.stages else None,
    )
    choices = {
        "rules_backend": setup.rules_backend,
        "community_backend": setup.community_backend,
        "engine": setup.engine,
    }
    return Setup.of(scenario, compiled, setup.scenario_file, setup.policy_file, **{**choices, **changes})


def setup_from(
    source: str | Path | Setup, policy: str | Path | None = None, sets: Sequence[str] = (), **choices: Any
) -> Setup:
    """A setup from a scenario (a file or a shipped name) and its policy, or a loaded setup built
    again with more ``--set`` options (:func:`reload_setup`; a loaded setup carries its policy).
    ``choices``: back ends and engine (``community_backend="numpy"``)."""
    if isinstance(source, Setup):
        if policy is not None:
            raise SandboxError("a loaded setup carries its policy; give the scenario's file to pair it with another")
        return reload_setup(source, sets, **choices) if sets or choices else source
    return load_setup(source, policy, sets, **choices)
