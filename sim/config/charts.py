"""The stage chart file: the group lifecycle (G1, G3) as a statechart declared in YAML.

A stage chart lists states and, for each, its transitions (``to`` a state, ``when`` a
condition on the group's metrics).  Every day, each group takes at most one transition: the
first, in file order, whose condition holds on that day's metrics.  The start state is the
one no transition leads into (durable-rules' rule for statecharts).  The default chart ships
in ``sim/config/default_stages.yaml`` (package data); a policy may point to another with ``stages: FILE``.

This module reads and validates the file; :mod:`sim.rules.charts` compiles it, and the back
ends run it (:func:`sim.rules.backend.stage_engine`): durable-rules' native statechart (the
engine of record: one event per group on each day its situation changed, each transition guarded
by the event's ``stage`` at the start of the day so none chains into another) and a NumPy mirror.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from sim.config.files import FileModel, line_of, read_yaml, validate
from sim.rules.charts import CompiledChart

DEFAULT_CHART = Path(__file__).resolve().parent / "default_stages.yaml"


class Transition(FileModel):
    to: str = Field(min_length=1)
    when: str


class StageChart(FileModel):
    name: str = "stages"
    description: str = ""
    states: dict[str, list[Transition]]


def load_chart(path: str | Path | None = None) -> CompiledChart:
    """Read, validate and compile a stage chart (the default one when no path is given)."""
    path = str(path or DEFAULT_CHART)
    data, root = read_yaml(path)
    chart = validate(StageChart, data, file=path, root=root)
    return CompiledChart(chart, path, lambda loc: line_of(root, loc))


__all__ = ["StageChart", "load_chart", "DEFAULT_CHART"]
