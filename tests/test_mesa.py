"""The model through Mesa: keyword construction, Mesa's seeds, its batch runner and data collector,
state released however a run ends, and the SolaraViz example page."""

from __future__ import annotations

import gc
import random
from pathlib import Path

import pandas as pd
import pytest
from conftest import scenario
from mesa.batchrunner import batch_run

import sim
from sim.engine.model import CommunityModel
from sim.errors import SandboxError
from sim.rules import durable_core

BATCH = {
    "scenario": "existing-group",
    "policy": ["baseline", "community-playbook"],
    "days": [8, 15],
    "population__initial_members": 200,
}


def _batch() -> pd.DataFrame:
    return pd.DataFrame(
        batch_run(CommunityModel, parameters=BATCH, iterations=3, max_steps=100, display_progress=False)
    )


def test_mesa_batch_run_over_two_parameters_and_three_iterations_is_distinct_and_reproducible():
    random.seed(11)
    first = _batch()
    random.seed(11)
    again = _batch()
    pd.testing.assert_frame_equal(first, again)  # the whole batch again, number for number
    assert len(first) == 2 * 2 * 3
    assert set(first["Step"]) == {7, 14}  # the last day of each run: batch_run reads the collected daily table
    for _, runs in first.groupby(["policy", "days"]):
        assert runs["seed"].nunique() == 3  # each iteration its own seed...
        assert runs[["member_messages", "active", "churned", "mean_trust"]].drop_duplicates().shape[0] > 1  # ...and run
    row = first.iloc[7]
    model = CommunityModel(
        scenario="existing-group",
        policy=row["policy"],
        days=int(row["days"]),
        population__initial_members=200,
        seed=int(row["seed"]),
    ).run()
    assert model.daily_rows[-1]["member_messages"] == row["member_messages"]
    assert model.daily_rows[-1]["mean_trust"] == row["mean_trust"]


def test_keywords_are_set_paths_and_a_seed_gives_the_sandboxs_own_run(root):
    by_keywords = CommunityModel(
        scenario=scenario("existing-group"),
        policy="moderated",
        days=12,
        population__initial_members=250,
        sets={"policy.groups.cap": 120},
        seed=4,
        replicate=1,
    ).run()
    setup = sim.load_setup(
        scenario("existing-group"),
        "moderated",
        ["days=12", "population.initial_members=250", "policy.groups.cap=120", "seed=4"],
    )
    by_setup = CommunityModel(setup, replicate=1).run()
    assert by_keywords.daily_rows == by_setup.daily_rows
    assert by_keywords.daily_rows[-1]["groups"] >= 2  # the cap of 120 was applied
    collected = by_keywords.datacollector.get_model_vars_dataframe()
    daily = by_keywords.tables()["daily"]
    pd.testing.assert_frame_equal(collected.drop(columns="seed"), daily, check_dtype=False)
    assert list(daily.columns) == list(sim.engine.metrics.DAILY_COLUMNS)


def test_mesa_seed_and_rng_are_honoured_and_checked():
    import numpy as np

    def end(**seeding) -> dict:
        return (
            CommunityModel(scenario="existing-group", days=6, population__initial_members=150, **seeding)
            .run()
            .daily_rows[-1]
        )

    assert end(seed=3) == end(seed=3) != end(seed=4)
    assert end(rng=np.random.default_rng(9)) == end(rng=np.random.default_rng(9))
    assert end(seed="3") == end(seed=3)  # a viewer's text box gives text
    with pytest.raises(SandboxError, match="seed or rng, not both"):
        CommunityModel(scenario="existing-group", seed=1, rng=2)
    with pytest.raises(SandboxError, match="whole number"):
        CommunityModel(scenario="existing-group", seed=-1)
    with pytest.raises(SandboxError, match="no such|not a|unknown|expected"):
        CommunityModel(scenario="existing-group", popluation__initial_members=10)


def _states() -> int:
    return sum(len(states) for states in durable_core._states.values())


@pytest.mark.slow  # a load test (1,100 runs): the slow tier, which CI runs too (the default tier under 6 minutes)
def test_state_is_released_however_a_run_ends():
    """1,100 runs that Mesa drives and abandons before their horizon (past durable-rules' 1,024
    states per ruleset, where runs used to fail), a run used as a context manager, and a run
    that reaches its horizon by steps alone: none keeps durable-rules' state."""
    setup = sim.load_setup("existing-group", "community-playbook", ["days=5", "population.initial_members=40"])
    before = _states()
    for r in range(1100):
        model = CommunityModel(setup, replicate=r)
        model.step()  # abandoned mid-run, as batch_run's max_steps does
    del model
    gc.collect()
    assert _states() == before
    with CommunityModel(setup) as model:
        model.step()
        assert _states() > before
    assert _states() == before and not model.running
    stepped = CommunityModel(setup)
    while stepped.running:
        stepped.step()
    assert _states() == before and stepped.health_end
    stepped.step()  # past the horizon: nothing happens
    assert len(stepped.daily_rows) == 5


def test_the_solara_example_renders_and_steps():
    import runpy

    import solara

    page = runpy.run_path(str(Path(__file__).resolve().parent.parent / "examples" / "solara_app.py"))
    box, rc = solara.render(page["page"], handle_error=False)
    model = page["model"]
    for _ in range(3):
        model.step()
    assert model.datacollector.get_model_vars_dataframe()["members"].size == 3
    params = {k: (v["value"] if isinstance(v, dict) else v) for k, v in page["model_params"].items()}
    assert CommunityModel(**params).run().daily_rows  # what the page's reset builds
    rc.close()
