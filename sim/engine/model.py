"""The community model: a Mesa model that steps one day at a time.

Members are rows of NumPy arrays (:class:`sim.engine.state.population.Population`), not one
``mesa.Agent`` each, so a day is a few dozen vectorised operations whatever the population.
Mesa provides the model life cycle (``step``, ``steps``, ``running``) and seeding conventions.

A day runs in fixed phases:

1. acquisition and admission  (:func:`sim.acquisition.acquire`: P1, P2, P3, P10)
2. operator content and events (:func:`sim.behavior.operator_content`: P4, P5)
3. member behaviour            (:func:`sim.behavior.member_day`: M1-M3, M5, M6, P9, P10)
4. rules and their actions     (:func:`sim.playbook.run_rules`: P6, P7, P8, P11)
   (first the lifecycle stage, :func:`sim.playbook.update_stages`: G1, G3)
5. churn, with its cause       (:func:`sim.churn.leave`: G2, M4, M7)
6. bookkeeping and metrics     (:func:`sim.metrics.record_day`)

Randomness: one ``numpy.random.Generator`` per phase, spawned from
``SeedSequence(seed, spawn_key=(replicate,))``, so a replicate's results depend only on the
scenario, the policy, the seed and the replicate index, never on the order runs execute in.
"""

from __future__ import annotations

import random
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

from sim.config.files import set_options
from sim.config.scenario import Setup, load_setup
from sim.domain import ARCHETYPES, CAUSES, CHURNED
from sim.engine import metrics
from sim.engine.acquisition import acquire, populate_day_zero
from sim.engine.audit import AuditTrail
from sim.engine.collector import DailyCollector
from sim.engine.day_record import DayRecord
from sim.engine.health import community_health
from sim.engine.members import core_mask, operator_content
from sim.engine.memory import PlaybookMemory
from sim.engine.metrics import COST_KINDS
from sim.engine.rule_inputs import GroupEnv
from sim.engine.rule_phase import run_rules, update_stages
from sim.engine.state import row_threads
from sim.engine.state.groups import CAUSE_WINDOW, Groups
from sim.engine.state.keyed_draws import (
    SITES,
    betas,
    day_keys,
    fill_range,
    fill_range_alone,
    fill_rows,
    normals,
    uniforms,
    world_keys,
)
from sim.engine.state.population import Population
from sim.engine.vector import VectorMembers
from sim.errors import SandboxError

if TYPE_CHECKING:
    from sim.engine.agents import AgentMembers
from sim.rules.backend import RuleEvaluator, StageStepper, rule_engines, stage_engine

STREAMS = ("acquisition", "actions", "groups")
PHASES = ("acquisition", "content", "members", "stages", "rules", "churn", "metrics")


def mesa_seed(seed: Any = None, rng: Any = None) -> int:
    """The seed of a model built in Mesa's keyword style (see :class:`CommunityModel`)."""
    if seed is not None and rng is not None:
        raise SandboxError("give seed or rng, not both (Mesa's rule)", place="seed")
    if seed is not None:
        value = None
        if isinstance(seed, int | np.integer) and not isinstance(seed, bool):
            value = int(seed)
        elif isinstance(seed, str) and seed.strip().isdigit():  # typed into a viewer's text box
            value = int(seed.strip())
        elif isinstance(seed, float) and seed.is_integer():
            value = int(seed)
        if value is None or value < 0:
            raise SandboxError(f"expected a whole number 0 or above, got {seed!r}", place="seed")
        return value
    if rng is not None:
        return int(np.random.default_rng(rng).integers(2**63))
    return random.getrandbits(63)


def _close_engines(rule_engines: dict, stage: StageStepper | None) -> None:
    """Release what the rules engines of a run hold (durable-rules' states)."""
    engines: list[RuleEvaluator | StageStepper | None] = [*rule_engines.values(), stage]
    for engine in engines:
        if engine is not None:
            engine.close()


def replicate_seed(seed: int, replicate: int, worlds: int = 1) -> np.random.SeedSequence:
    """The seed sequence of one replicate: the scenario seed with the replicate index as key.

    ``worlds`` copies side by side (:class:`CommunityModel`'s ``worlds``) draw from one stream
    keyed by the first replicate and their number, so they are not the solo replicates' draws.
    These streams serve the channels, the policy's actions and group splits; members' own
    decisions and traits draw keyed numbers instead (:mod:`sim.engine.state.keyed_draws`)."""
    key = (replicate,) if worlds == 1 else (replicate, worlds)
    return np.random.SeedSequence(entropy=seed, spawn_key=key)


PER_WORLD = (
    "act_bias",
    "act_momentum",
    "act_newcomer",
    "act_ritual",
    "voice_sigma",
    "post_rate",
    "conversation_posts",
    "post_dilution",
    "newcomer_intro",
    "welcome_stimulus",
    "interest_decay",
    "churn_base",
    "churn_boredom",
    "churn_frailty_sigma",
    "newcomer_churn_weight",
)
"""The member model's parameters worlds side by side may hold each their own values of (the ones
a calibration fits); the engine reads them per world."""


WORLD_TERMS = {
    "newcomer_factor": lambda own, w: 1 + own["newcomer_churn_weight"][w],
    "post_scale": lambda own, w: 2.0 * own["post_rate"][w],
    "interest_kept": lambda own, w: 1 - own["interest_decay"][w],
}
"""Terms of the compiled passes computed from a world's parameters, in the order of operations
the engine always used (so a community alone runs bit for bit as before)."""


def world_values(
    setup: Setup, worlds: int, world_params: Sequence[Mapping[str, float]] | None
) -> dict[str, list[float]]:
    """Each :data:`PER_WORLD` parameter's value in each world: the scenario's, or the world's own
    from ``world_params`` (checked as a scenario's ``params:`` are)."""
    from sim.config.params import check_param

    base = {name: float(getattr(setup.params, name)) for name in PER_WORLD}
    if world_params is None:
        return {name: [value] * worlds for name, value in base.items()}
    if len(world_params) != worlds:
        raise SandboxError(f"expected parameters for {worlds} worlds, got {len(world_params)}", place="world_params")
    out: dict[str, list[float]] = {name: [] for name in PER_WORLD}
    for w, own in enumerate(world_params):
        if other := sorted(set(own) - set(PER_WORLD)):
            raise SandboxError(
                f"world {w} sets {', '.join(other)}, which worlds cannot hold apart; only {', '.join(PER_WORLD)}",
                place="world_params",
            )
        for name in PER_WORLD:
            out[name].append(check_param(name, own[name]) if name in own else base[name])
    return out


def side_by_side_refusal(setup: Setup) -> str | None:
    """Why a setup's communities cannot run as worlds side by side in one population, or None.

    Worlds share the member columns, the groups and the day's phases; what the engine keeps for
    the whole community must not tie them together.  It keeps per world the channels' pools and
    referrals (and places newcomers by world, as groups by segment are); it does not for the
    channels' reallocation (P1), the events' quality raised by surveys (P12), groups by segment
    (P13, which uses the same placement), or the per-agent engine."""
    policy = setup.policy
    if setup.engine != "vector":
        return "the per-agent engine runs one community at a time"
    if policy.settings.groups.segment_by is not None:
        return "the policy runs groups by segment (groups.segment_by)"
    if policy.settings.acquisition.reallocate_after_days is not None:
        return "the policy reallocates channels (acquisition.reallocate_after_days)"
    rules = [*policy.rules, *policy.community_rules, *policy.titles]
    if any(name == "survey" for rule in rules for name, _ in rule.actions):
        return "the policy runs surveys, which raise every event's quality"
    return None


class _Rows:
    """A read-only view of some members' columns, for helpers written against a Population."""

    def __init__(self, pop: Population, rows: np.ndarray):
        self._pop, self._rows = pop, rows

    def __getattr__(self, name):
        return getattr(self._pop, name)[self._rows]


def member_engine(model: CommunityModel) -> VectorMembers | AgentMembers:
    """The member engine a run's setup names: ``vector`` (the default) or ``agents``."""
    if model.setup.engine == "agents":
        from sim.engine.agents import AgentMembers  # plain Python per member: loaded only when asked for

        return AgentMembers(model)
    return VectorMembers(model)


class CommunityModel(mesa.Model):
    """One community under one policy, stepped day by day.

    The model owns the shared phases and state; the members' day and churn are run by the
    member engine the setup names (:func:`member_engine`): vector columns or one agent each.
    """

    running: bool  # Mesa's: False once the scenario's horizon is reached (or the model closed)

    def __init__(
        self,
        setup: Setup | None = None,
        *,
        scenario: str | Path | None = None,
        policy: str | Path | None = None,
        seed: int | None = None,
        rng: Any = None,
        replicate: int = 0,
        sets: Mapping[str, Any] | Sequence[str] | None = None,
        rules_backend: str = "numpy",
        community_backend: str = "durable",
        engine: str = "vector",
        audit: bool = False,
        group_daily: bool = False,
        activity: bool = False,
        worlds: int = 1,
        world_params: Sequence[Mapping[str, float]] | None = None,
        world_replicates: Sequence[int] | None = None,
        lean: bool = False,
        **overrides: Any,
    ):
        """A model of a loaded ``setup`` (the sandbox's own runs: its scenario's seed and
        ``replicate``), or, in Mesa's keyword style, of a ``scenario`` file (or a shipped
        scenario's name) under a ``policy`` with any ``--set`` path as a keyword (dots as double
        underscores: ``policy__groups__cap=150``) or in ``sets``.

        Seeds in the keyword style follow Mesa: ``seed`` (an integer), or ``rng`` (a generator or
        anything ``numpy.random.default_rng`` takes) from which a seed is drawn, or, with neither,
        a seed drawn from Python's ``random`` module, so each of Mesa's batch-run iterations
        differs and ``random.seed(k)`` before a batch run makes the batch reproducible.  The seed
        used is ``model.seed`` (a column of the daily table Mesa collects): ``seed=model.seed``
        gives the same run again.

        ``worlds`` runs that many copies of the community side by side in one population, each
        world its own groups (placed by world as groups by segment are), its channels' pools and
        its referrals, so a day's fixed work is shared by all of them (replicates of a small group).
        Their channels draw from one stream (:func:`replicate_seed`), their members keyed numbers
        (below): where the channels draw nothing (fixed arrivals, as a calibrated history's) world
        ``w`` is solo replicate ``replicate + w``, else a replicate of the scenario but not that
        one.  The daily table and the KPIs sum the worlds, the members and activity tables tell
        them apart (:meth:`world_of`).

        ``world_params`` (one mapping a world) gives each world its own values of the member
        model's :data:`PER_WORLD` parameters over the scenario's: candidates of a calibration side
        by side.  Every other parameter is the scenario's in every world.

        Members' own decisions draw keyed numbers (:mod:`sim.engine.state.keyed_draws`): world
        ``w`` takes those of replicate ``world_replicates[w]`` (default ``replicate + w``), the
        same numbers that replicate's members draw alone, whatever the other worlds hold.
        Candidates of a calibration on the same replicate share them (common random numbers).

        A ``lean`` run is for a caller that keeps only the members and activity tables (a
        calibration's candidates): it writes no daily row (the daily table is empty) and, where
        the policy has no rules, so that nothing could read a stage, leaves the lifecycle stage
        chart unstepped (every group stays in the chart's first stage).  Neither changes what
        members do: the members and activity tables are those of the full run.
        """
        if setup is None:
            if scenario is None:
                raise SandboxError("give a scenario (a file or a shipped scenario's name), or a loaded setup")
            seed = mesa_seed(seed, rng)
            setup = load_setup(
                scenario,
                policy,
                [*set_options(sets, **overrides), f"seed={seed}"],
                rules_backend=rules_backend,
                community_backend=community_backend,
                engine=engine,
            )
        elif scenario is not None or policy is not None or sets or overrides or seed is not None or rng is not None:
            raise SandboxError("give a loaded setup or a scenario with its settings, not both")
        self.seed = setup.scenario.seed
        if worlds < 1:
            raise SandboxError(f"expected 1 world or more, got {worlds}", place="worlds")
        if worlds > 1 and (why := side_by_side_refusal(setup)):
            raise SandboxError(f"cannot run {worlds} worlds side by side: {why}", place="worlds")
        self.worlds = worlds
        if world_params is not None and setup.engine != "vector":
            raise SandboxError("only the vector engine reads parameters by world", place="world_params")
        self.world_values = world_values(setup, worlds, world_params)
        replicates = list(range(replicate, replicate + worlds)) if world_replicates is None else list(world_replicates)
        if len(replicates) != worlds:
            raise SandboxError(f"expected {worlds} world replicates, got {len(replicates)}", place="world_replicates")
        self.member_keys = world_keys(setup.scenario.seed, replicates)
        self.arrived = np.zeros(worlds, dtype=np.int64)  # members added so far, by world: the next serial
        self.prospected = np.zeros(worlds, dtype=np.int64)  # prospects seen so far, by world
        self._world_cache: dict[str, np.ndarray] = {}
        sequence = replicate_seed(setup.scenario.seed, replicate, worlds)
        children = sequence.spawn(len(STREAMS) + 1)
        super().__init__(rng=np.random.Generator(np.random.PCG64(children[0])))
        self.streams = {name: np.random.Generator(np.random.PCG64(child)) for name, child in zip(STREAMS, children[1:])}
        self.setup = setup
        self.scenario = setup.scenario
        self.policy = setup.policy
        self.params = setup.params
        self.replicate = replicate
        self.audit = audit
        self.day = 0
        self.archetype_tables = {
            field: self.params.archetype_table(field)
            for field in ("activity", "posts", "questions", "churn", "referral")
        }
        self.source_names = setup.sources
        self.cause_names = ["none", *CAUSES]
        # per channel, each an array over the worlds (one for a community run alone)
        self.channel_remaining = [np.full(worlds, c.pool_size, dtype=np.int64) for c in self.scenario.channels]
        self.channel_joined = [np.zeros(worlds, dtype=np.int64) for _ in self.scenario.channels]
        self.channel_spent = [np.zeros(worlds) for _ in self.scenario.channels]  # pushes where they are free
        self.channel_weight = [1.0 for _ in self.scenario.channels]  # share of its pushes a channel keeps (P1)
        self.pending_referrals = 0
        self.referrals_by_world = np.zeros(worlds, dtype=np.int64)  # tomorrow's referral prospects
        self.phase_seconds = dict.fromkeys(PHASES, 0.0)  # wall time per daily phase, for benchmarks
        self.community_rule_seconds = 0.0  # of the rules phase: community rules matched and applied

        start = self.scenario.population.initial_members + self.scenario.population.seed_members
        # room for the rows of members who leave before compaction (up to an eighth) and for some
        # growth, so a big community does not copy every column in its first days
        self.pop = Population(capacity=start + start // 3 + 1024)
        self.groups = Groups(count=1, start_stage=self.policy.chart.start, causes=len(CAUSES))
        self.stage_engine: StageStepper | None = stage_engine(self.policy.chart, setup.community_backend)
        self.is_core = np.zeros(0, dtype=bool)
        self.health_end: dict[str, float] = {}
        self.event_quality = 1.0  # surveys make later events work better (P12)
        self._scratch: dict[str, np.ndarray] = {}
        self.daily_rows: list[dict] = []
        self.action_rows: list[tuple] = []
        self.audit_trail = AuditTrail() if audit else None
        self.group_rows: list[pd.DataFrame] | None = [] if group_daily else None
        self.activity_rows: list[tuple[np.ndarray, ...]] | None = [] if activity else None
        self.rule_engines = rule_engines(self.policy, setup.rules_backend, setup.community_backend)
        self.keeps_daily = not lean
        self.steps_stages = not lean or bool(self.rule_engines)
        self.memory = PlaybookMemory(self.policy.community_rules)
        self.members = member_engine(self)
        # the rules engines' state is released when the run ends, when the model is closed or
        # used as a context manager, and at the latest when it is collected, however it ended
        self._release = weakref.finalize(self, _close_engines, self.rule_engines, self.stage_engine)
        self.datacollector = DailyCollector(self)
        self._start_day()
        populate_day_zero(self)

    # --- the day ---------------------------------------------------------------------
    def step(self) -> None:
        """Advance the community by one day, phase by phase (each phase's time kept in ``phase_seconds``).

        Past the scenario's horizon a step does nothing (the rules engines are released then)."""
        if not self.running:
            return
        lap = time.perf_counter()
        if self.day > 0:
            self._start_day()
        self.groups.start_day()
        acquire(self)
        lap = self._lap("acquisition", lap)
        content = operator_content(self)
        lap = self._lap("content", lap)
        self.members.live_day(content)
        if self.activity_rows is not None:
            self.activity_rows.append(metrics.activity_of_day(self))
        lap = self._lap("members", lap)
        self.group_env = GroupEnv(self)
        if self.steps_stages:
            update_stages(self)
        lap = self._lap("stages", lap)
        run_rules(self)
        lap = self._lap("rules", lap)
        self.members.leave()
        lap = self._lap("churn", lap)
        metrics.record_day(self)
        self.pop.compact()
        self._lap("metrics", lap)
        self.day += 1
        if self.day >= self.scenario.days:
            self.running = False
            self.health_end = community_health(self, GroupEnv(self))
            self.close()

    def _lap(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.phase_seconds[phase] += now - started
        return now

    def run(self) -> CommunityModel:
        """Step through the scenario's horizon, then release the rules engines' state."""
        try:
            while self.running:
                self.step()
        finally:
            self.close()
        return self

    def close(self) -> None:
        """Release this run's state in the rules engines (once; later calls do nothing).  The
        model cannot step after this."""
        self._release()
        self.running = False

    def __enter__(self) -> CommunityModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start_day(self) -> None:
        if self.day > 0:
            self.groups.exits_by_cause[self.day % CAUSE_WINDOW] = 0  # the slot now holds today, not 30 days ago
        self.today = DayRecord()
        self.spent_today = dict.fromkeys(COST_KINDS, 0.0)
        self.revenue_today = 0.0
        self.joined_today = 0
        self.churned_today = 0
        self.removed_today = 0

    # --- services the phases use ----------------------------------------------------------
    def spend(self, kind: str, amount: float) -> None:
        """Book a cost of today under one of :data:`COST_KINDS` (G5)."""
        self.spent_today[kind] += float(amount)

    def earn(self, amount: float) -> None:
        self.revenue_today += float(amount)

    def scratch(self, name: str, shape: tuple[int, ...] | int, dtype=np.float32) -> np.ndarray:
        """A reusable work buffer (uninitialised), so the hot path allocates nothing per day."""
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        buf = self._scratch.get(name)
        if buf is None or buf.dtype != dtype or buf.shape[:-1] != shape[:-1] or buf.shape[-1] < shape[-1]:
            grown = shape[:-1] + (max(shape[-1], int((buf.shape[-1] if buf is not None else 0) * 1.5)),)
            buf = np.empty(grown, dtype=dtype)
            self._scratch[name] = buf
        return buf[..., : shape[-1]]

    def add_members(self, count: int, archetype: np.ndarray, **values) -> slice:
        """Add members: their archetype's activity offset goes with them, and each draws a voice,
        a lognormal propensity to post (participation inequality), and a frailty, a lognormal
        proneness to leave (the prone leave first, so the hazard falls with tenure); both mean 1."""
        world = self.world_of(np.broadcast_to(np.asarray(values["group"]), (count,))).astype(np.intp)
        serial = self.arrival_numbers(world, self.arrived)
        sigma, frail = self._own("voice_sigma")[world], self._own("churn_frailty_sigma")[world]  # each world's own
        voice = np.exp(-sigma * sigma / 2 + sigma * self.traits("voice", world, serial)).astype(np.float32)
        frailty = np.exp(-frail * frail / 2 + frail * self.traits("frailty", world, serial)).astype(np.float32)
        return self.pop.add(
            count,
            archetype=archetype,
            voice=voice,
            frailty=frailty,
            arch_activity=self.archetype_tables["activity"][archetype],
            serial=serial,
            **values,
        )

    def arrival_numbers(self, world: np.ndarray, counter: np.ndarray) -> np.ndarray:
        """The arrival numbers, each in its own world, of newcomers to ``world`` in this order,
        counted on from ``counter`` (one a world, moved on past them): :attr:`arrived` for
        members, :attr:`prospected` for prospects."""
        world = np.asarray(world, dtype=np.intp)
        counts = np.bincount(world, minlength=self.worlds)
        order = np.argsort(world, kind="stable")
        rank = np.empty(len(world), dtype=np.int64)
        rank[order] = np.arange(len(world)) - np.repeat(np.cumsum(counts) - counts, counts)
        serial = counter[world] + rank
        counter += counts
        return serial

    def traits(
        self, site: str, world: np.ndarray, serial: np.ndarray, beta: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Newcomers' keyed trait draws (float64; :mod:`sim.engine.state.keyed_draws`): a standard
        normal for ``voice`` and ``frailty``, a uniform for ``archetype``, Beta(a, b) for ``beta``."""
        keys = day_keys(self.member_keys, SITES[site], 0)
        out = np.empty(len(serial), dtype=np.float64)
        world = np.asarray(world, dtype=np.intp)
        if beta is not None:
            a, b = (np.ascontiguousarray(np.broadcast_to(np.asarray(x, dtype=np.float64), out.shape)) for x in beta)

            def draw(lo: int, hi: int) -> None:
                betas(keys, world[lo:hi], serial[lo:hi], a[lo:hi], b[lo:hi], out[lo:hi])
        else:
            kernel = uniforms if site == "archetype" else normals

            def draw(lo: int, hi: int) -> None:
                kernel(keys, world[lo:hi], serial[lo:hi], out[lo:hi])

        row_threads.over_ranges(len(out), draw, min_rows=row_threads.MIN_ROWS // 10)  # a beta: some ten row passes
        return out

    def draws(
        self, site: str, rows: np.ndarray | None = None, out: np.ndarray | None = None, *, split: bool = True
    ) -> np.ndarray:
        """Today's uniform draws for one of the members' decisions (a
        :data:`~sim.engine.state.keyed_draws.SITES` name): one a row (into ``out`` if given; over
        row ranges in threads unless ``split`` is False), or one for each of ``rows``, each a
        function of the member, the day and the decision only."""
        pop, world_g = self.pop, self.group_worlds()
        keys = day_keys(self.member_keys, SITES[site], self.day)
        if rows is None:
            drawn = np.empty(pop.n, dtype=np.float32) if out is None else out[: pop.n]
            if self.worlds == 1:

                def fill(lo: int, hi: int) -> None:
                    fill_range_alone(keys[0], pop.serial, drawn, lo, hi)
            else:

                def fill(lo: int, hi: int) -> None:
                    fill_range(keys, pop.group, world_g, pop.serial, drawn, lo, hi)

            if split:
                row_threads.over_ranges(pop.n, fill)
            else:
                fill(0, pop.n)
            return drawn
        drawn = np.empty(len(rows), dtype=np.float32)
        fill_rows(keys, pop.group, world_g, pop.serial, rows, drawn)
        return drawn

    def per_world(self, name: str) -> np.ndarray:
        """A :data:`PER_WORLD` parameter's value in each world as float32 (one value for a
        community alone), or one of :data:`WORLD_TERMS` computed from them, for the compiled
        passes (each value rounded to float32 as NumPy rounds a Python scalar)."""
        values = self._world_cache.get(name)
        if values is None:
            own = self.world_values
            if name in WORLD_TERMS:
                values = np.asarray([WORLD_TERMS[name](own, w) for w in range(self.worlds)], dtype=np.float32)
            else:
                values = np.asarray(own[name], dtype=np.float32)
            self._world_cache[name] = values
        return values

    def by_group(self, name: str, groups: np.ndarray | None = None) -> float | np.ndarray:
        """A :data:`PER_WORLD` parameter for NumPy's expressions: its value for a community alone
        (a Python number, so the arithmetic is what it always was), else each group's world's
        value (of every group, or of ``groups``)."""
        if self.worlds == 1:
            return self.world_values[name][0]
        worlds = self.group_worlds() if groups is None else self.world_of(groups)
        return self._own(name)[worlds]

    def _own(self, name: str) -> np.ndarray:
        """A :data:`PER_WORLD` parameter's value in each world, as float64 (made once a run: the
        day's NumPy expressions index it every day)."""
        key = f"{name}:f64"
        values = self._world_cache.get(key)
        if values is None:
            values = self._world_cache[key] = np.asarray(self.world_values[name], dtype=np.float64)
        return values

    def group_worlds(self) -> np.ndarray:
        """The world of every group (zeros for a community run alone), for the compiled passes."""
        if self.worlds == 1:
            cached = self._world_cache.get("groups")
            if cached is None or len(cached) < self.groups.count:
                cached = self._world_cache["groups"] = np.zeros(max(self.groups.count, 1) * 2, dtype=np.int16)
            return cached[: self.groups.count]
        return self.groups.segment[: self.groups.count]

    def world_of(self, group: np.ndarray) -> np.ndarray:
        """The world of each group id given (0 for a community run alone)."""
        if self.worlds == 1:
            return np.zeros(len(group), dtype=np.int16)
        return self.groups.segment[group]

    def source_code(self, name: str) -> int:
        return self.source_names.index(name)

    def title_code(self, name: str) -> int:
        return self.policy.title_names.index(name)

    def cause_code(self, cause: str) -> int:
        if cause not in self.cause_names:
            self.cause_names.append(cause)
        return self.cause_names.index(cause)

    def exit_members(self, rows: np.ndarray, status: int, cause: str) -> None:
        """Members leave (churned) or are removed, carrying their cause."""
        pop, groups = self.pop, self.groups
        pop.status[rows] = status
        pop.exit_day[rows] = self.day
        pop.exit_cause[rows] = self.cause_code(cause)
        by_group = np.bincount(pop.group[rows], minlength=groups.count)
        groups.size -= by_group
        if status == CHURNED:
            groups.churned_today += by_group
            self.churned_today += len(rows)
            slot = groups.exits_by_cause[self.day % CAUSE_WINDOW, CAUSES.index(cause)]  # for a dead group's cause (G2)
            slot += by_group.astype(np.int32)
        else:
            groups.removed_today += by_group
            self.removed_today += len(rows)

    def split_group(self, gid: int, move_share: float = 0.5, core_rows: np.ndarray | None = None) -> int:
        """Open a new group seeded with up to ``split_core_members`` core members of ``gid`` (P3),
        or the policy's ``groups.copy_core_members``.  A copy with fewer than ``copy_min_core``
        core members is a weak copy (:func:`sim.behavior.group_pull`).

        A rule-driven split also moves ``move_share`` of the other members; a split forced by
        the cap (``on_full: split``) moves only the core, and newcomers fill the new group.
        ``core_rows`` (all core members, if the caller has them) saves a scan of every member.
        """
        pop, groups, rng = self.pop, self.groups, self.streams["groups"]
        new = groups.open_group(self.day)
        groups.segment[new] = groups.segment[gid]  # a copy serves the same segment (P13)
        if core_rows is None or move_share > 0:
            rows = np.flatnonzero(pop.group == gid)
            core = core_mask(_Rows(pop, rows), self.params)
            candidates = rows[core]
        else:
            candidates = core_rows[pop.group[core_rows] == gid]
        seed = self.policy.settings.groups.copy_core_members
        take = min(int(self.params.split_core_members if seed is None else seed), len(candidates))
        movers = rng.choice(candidates, size=take, replace=False) if take else candidates[:0]
        if move_share > 0:
            others = rows[~core & (pop.status[rows] == 0)]
            movers = np.concatenate([movers, others[rng.random(len(others)) < move_share]])
        pop.group[movers] = new
        groups.is_copy[new] = True
        groups.core_prev[new] = take  # its seed core counts from its first day (P3)
        groups.core_prev[gid] -= take
        groups.size[gid] -= len(movers)
        groups.size[new] += len(movers)
        self.today.splits += 1
        return new

    def dead_group_causes(self) -> dict[str, int]:
        """Dead groups by the dominant churn cause of their last 30 days (G2)."""
        codes = self.groups.dead_cause[self.groups.dead_cause >= 0]
        return {cause: int(np.count_nonzero(codes == i)) for i, cause in enumerate(CAUSES)}

    def record_action(
        self, rule: str, action: str, rows: np.ndarray, cost: float, groups: np.ndarray | None = None
    ) -> None:
        """One row of the ``actions`` table per rule, action and day."""
        self.spend("actions", cost)
        self.today.members_reached += len(rows)
        if groups is not None:  # a community rule's campaign, one per group it ran in
            self.today.campaigns += len(groups)
        n_groups = len(groups) if groups is not None else len(np.unique(self.pop.group[rows]))
        self.action_rows.append((self.day, rule, action, len(rows), n_groups, float(cost)))

    # --- results --------------------------------------------------------------------------
    def tables(self) -> dict[str, pd.DataFrame]:
        """The run's tidy tables: ``daily``, ``members``, ``actions`` (and the audit trail if kept)."""
        tables = {
            "daily": pd.DataFrame(self.daily_rows),
            "members": metrics.members_table(self),
            "actions": pd.DataFrame(self.action_rows, columns=list(metrics.ACTION_COLUMNS)),
        }
        if self.audit_trail is not None:
            tables.update(self.audit_trail.tables())
        if self.group_rows is not None:
            tables["groups"] = pd.concat(self.group_rows, ignore_index=True)
        if self.activity_rows is not None:
            tables["activity"] = metrics.activity_table(self.activity_rows)
        return tables


__all__ = ["CommunityModel", "replicate_seed", "COST_KINDS", "ARCHETYPES"]
