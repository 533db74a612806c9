"""A stage chart compiled: the group lifecycle (G1, G3) as transitions the back ends can run.

A chart's file is read and validated by :mod:`sim.config.charts`; here its ``when`` conditions
are parsed against the group vocabulary, each transition's condition is made exclusive of the
ones before it (so a group takes at most one transition a day, the first in file order), and
the start state is found: the one state no transition leads into (durable-rules' rule for
statecharts).  :func:`sim.rules.backend.stage_engine` runs the result on either back end.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.domain import content_hash
from sim.errors import SandboxError, place_of
from sim.rules.expr import parse
from sim.rules.numpy_backend import compile_mask
from sim.rules.vocabulary import GROUP


class CompiledChart:
    """A validated chart: states in file order, the start state, compiled transitions."""

    def __init__(self, chart, file: str, line_at: Callable[[tuple], int | None] = lambda loc: None):
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
                    raise SandboxError(
                        f"transition to nowhere: '{transition.to}' is not a state; states: {', '.join(self.states)}",
                        file=file,
                        line=line_at(loc + ("to",)),
                        place=place_of(loc + ("to",)),
                    )
                try:
                    ir = parse(transition.when, vocab)
                except SandboxError as exc:
                    raise exc.located(
                        file=file, line=line_at(loc + ("when",)), place=place_of(loc + ("when",))
                    ) from None
                exclusive = ("and", [("not", e) for e in earlier] + [ir]) if earlier else ir
                earlier.append(ir)
                targets.add(transition.to)
                self.transitions.append((self.states.index(source), self.states.index(transition.to), exclusive))
        starts = [s for s in self.states if s not in targets]
        if len(starts) != 1:
            raise SandboxError(
                "the start state is the one state no transition leads into; this chart has "
                + (f"{len(starts)}: {', '.join(starts)}" if starts else "none"),
                file=file,
                place="states",
            )
        self.start = self.states.index(starts[0])
        self.vocab = GROUP.with_values(stage=self.states)
        self.masks = [compile_mask(cond, self.vocab) for _, _, cond in self.transitions]
        self.hash = content_hash(chart.model_dump())
