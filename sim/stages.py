"""The group lifecycle stage (domain G1, G3) as a statechart declared in a file.

A stage chart lists states and, for each, its transitions (``to`` a state, ``when`` a
condition on the group's metrics).  Every day, each group takes at most one transition: the
first, in file order, whose condition holds on that day's metrics.  The start state is the
one no transition leads into (durable-rules' rule for statecharts).  The default chart ships
in ``policies/stages/default.yaml``; a policy may point to another with ``stages: FILE``.

Two engines run a chart and must agree: durable-rules' native statechart (the engine of
record: one fact per group per day, the chart's label held by durable-rules per sid) and a
NumPy mirror.  To make durable-rules take at most one, deterministic transition a day, each
transition's condition is made exclusive of the ones before it, and requires the fact's
``stage`` (the stage at the start of the day) to be its source state, so a transition taken
today cannot chain into another on the same fact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .errors import SandboxError
from .files import content_hash, line_of, place_of, read_yaml, validate
from .rules import GROUP, compile_mask, fields_used, parse

DEFAULT_CHART = Path(__file__).resolve().parent.parent / "policies" / "stages" / "default.yaml"


class Transition(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1)
    when: str


class StageChart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "stages"
    description: str = ""
    states: dict[str, list[Transition]]


class CompiledChart:
    """A validated chart: states in file order, the start state, compiled transitions."""

    def __init__(self, chart: StageChart, file: str, root=None):
        self.chart = chart
        self.file = file
        self.states = tuple(chart.states)
        if not self.states:
            raise SandboxError("a stage chart needs at least one state", file=file, place="states")
        targets = set()
        self.transitions: list[tuple[int, int, tuple]] = []  # (from, to, exclusive condition)
        vocab = GROUP
        for source, transitions in chart.states.items():
            earlier: list[tuple] = []
            for k, transition in enumerate(transitions):
                loc = ("states", source, k)
                if transition.to not in chart.states:
                    raise SandboxError(f"transition to nowhere: '{transition.to}' is not a state; "
                                       f"states: {', '.join(self.states)}", file=file,
                                       line=line_of(root, loc + ("to",)), place=place_of(loc + ("to",)))
                try:
                    ir = parse(transition.when, vocab)
                except SandboxError as exc:
                    raise exc.located(file=file, line=line_of(root, loc + ("when",)),
                                      place=place_of(loc + ("when",))) from None
                exclusive = ("and", [("not", e) for e in earlier] + [ir]) if earlier else ir
                earlier.append(ir)
                targets.add(transition.to)
                self.transitions.append((self.states.index(source), self.states.index(transition.to), exclusive))
        starts = [s for s in self.states if s not in targets]
        if len(starts) != 1:
            raise SandboxError("the start state is the one state no transition leads into; this chart has "
                               + (f"{len(starts)}: {', '.join(starts)}" if starts else "none"),
                               file=file, place="states")
        self.start = self.states.index(starts[0])
        self.vocab = GROUP.with_values(stage=self.states)
        self.masks = [compile_mask(cond, self.vocab) for _, _, cond in self.transitions]
        self.hash = content_hash(chart.model_dump())


def load_chart(path: str | Path | None = None) -> CompiledChart:
    """Read, validate and compile a stage chart (the default one when no path is given)."""
    path = str(path or DEFAULT_CHART)
    data, root = read_yaml(path)
    chart = validate(StageChart, data, file=path, root=root)
    return CompiledChart(chart, path, root)


class NumpyStages:
    """The chart run as NumPy masks: the mirror of the durable-rules statechart."""

    def __init__(self, chart: CompiledChart):
        self.chart = chart

    def step(self, env, stage: np.ndarray, gids: np.ndarray) -> np.ndarray:
        """The stage of each group in ``gids`` after today's (at most one) transition."""
        before = stage[gids]
        after = before.copy()
        for (source, target, _), mask in zip(self.chart.transitions, self.chart.masks):
            hit = (before == source) & mask(env)[gids]
            after[hit] = target
        return after

    def close(self) -> None:
        pass


class DurableStages:
    """The chart run as a durable-rules statechart, one sid per group and run."""

    def __init__(self, chart: CompiledChart):
        from .rules import durable_backend as db

        self.chart = chart
        states = {}
        self.fields = sorted(set().union(*[fields_used(cond) for _, _, cond in chart.transitions]) | {"stage"})
        self.properties = db.short_names(self.fields)
        for index, state in enumerate(chart.states):
            triggers = {}
            for k, (source, target, cond) in enumerate(chart.transitions):
                if source != index:
                    continue
                guard = ("and", [("cmp", "==", ("field", "stage"), ("str", state)), cond])
                condition = db.translate([guard], chart.vocab)
                if condition.derived:
                    raise SandboxError("stage conditions must compare metrics with numbers or other metrics "
                                       "(no division or arithmetic on the left)", file=chart.file)
                triggers[f"t{k}"] = {"all": [{"m": db.rename(condition.conditions[0], self.properties)}],
                                     "to": chart.states[target]}
            states[state] = triggers
        self.name = f"sandbox_stages_{content_hash(states)}"
        self.dispatcher = db.register_statechart(self.name, states)
        self.token = db.new_run_token()
        self.sids: set[int] = set()
        self._keys = None  # the last day's groups as fact keys, reused while unchanged

    def step(self, env, stage: np.ndarray, gids: np.ndarray) -> np.ndarray:
        from .rules import durable_backend as db

        if len(gids) == 0:
            return stage[gids]
        new = set(gids.tolist()) - self.sids
        if len(self.sids) + len(new) > db.MAX_SIDS:
            raise SandboxError(f"durable-rules holds at most {db.MAX_SIDS} groups per run; "
                               "use --community-backend numpy for bigger communities")
        self.sids |= new
        self._keys = db.FactKeys.reused(self._keys, self.token, gids, gids)
        facts = db.Facts(self._keys)
        for name in self.fields:
            facts.add(self.properties[name], stage if name == "stage" else env[name], self.chart.vocab.fields[name])
        moves = db.run_facts(self.name, self.dispatcher, facts)
        after = stage[gids].copy()
        position = {g: i for i, g in enumerate(gids.tolist())}
        for target, gid in moves:
            after[position[gid]] = self.chart.states.index(target)
        return after

    def close(self) -> None:
        from .rules import durable_backend as db

        db.delete_states(self.name, self.token, sorted(self.sids))


def stage_engine(chart: CompiledChart, backend: str):
    return DurableStages(chart) if backend == "durable" else NumpyStages(chart)


__all__ = ["StageChart", "CompiledChart", "load_chart", "stage_engine", "DEFAULT_CHART"]
