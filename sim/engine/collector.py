"""Mesa's ``DataCollector`` over the daily table the model keeps anyway.

Mesa's batch runner and its SolaraViz pages read a model's ``datacollector``: its model
variables, one list per reporter, one entry per step.  The sandbox already writes one row of
its daily table per day (:func:`sim.engine.metrics.record_day`), so the collector reads that
table: each daily column is a model reporter, nothing is copied or computed twice, and a run
that no Mesa tool looks at pays nothing.  Members are rows of arrays, not agents, so there are
no agent reporters; the members table (``model.tables()["members"]``) holds each member's end.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pandas as pd
from mesa.datacollection import DataCollector

from sim.engine.metrics import DAILY_COLUMNS


def _daily_value(name: str, model: Any) -> Any:
    """Today's value of one daily column (a model reporter, for whoever asks Mesa's way)."""
    return model.daily_rows[-1][name] if model.daily_rows else None


class DailyCollector(DataCollector):
    """The daily table as Mesa's model variables (entry ``k`` of each is day ``k``'s value), and
    the run's ``seed``."""

    def __init__(self, model: Any):
        super().__init__()
        self._model = model
        self._columns: tuple[int, dict[str, list]] = (-1, {})  # the columns as of that many days

    @property
    def model_reporters(self) -> dict[str, Any]:  # read from the daily table
        return {**{name: partial(_daily_value, name) for name in DAILY_COLUMNS}, "seed": "seed"}

    @model_reporters.setter
    def model_reporters(self, value: Any) -> None:  # DataCollector.__init__ sets it; the table decides
        pass

    @property
    def model_vars(self) -> dict[str, list]:  # read from the daily table
        rows = self._model.daily_rows
        if self._columns[0] != len(rows):  # Mesa's batch runner asks once per step: built once per day
            columns = {name: [row[name] for row in rows] for name in DAILY_COLUMNS}
            columns["seed"] = [self._model.seed] * len(rows)  # the run's seed: seed=... runs it again
            self._columns = (len(rows), columns)
        return self._columns[1]

    @model_vars.setter
    def model_vars(self, value: Any) -> None:
        pass

    def collect(self, model: Any) -> None:
        """Nothing to do: the model records its day itself, once per step."""

    def get_model_vars_dataframe(self) -> pd.DataFrame:
        """The daily table so far (its columns without rows before the first step), indexed by day."""
        return pd.DataFrame(self.model_vars)
