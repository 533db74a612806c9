"""Every shipped scenario and policy validates and runs its full horizon within the rules."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import POLICIES, SCENARIOS

import sim
from sim.config.scenario import validate_file
from sim.engine.metrics import MAY_BE_UNDEFINED


def test_ships_at_least_five_scenarios_and_five_policies():
    assert len(SCENARIOS) >= 5 and len(POLICIES) >= 5


@pytest.mark.parametrize("path", SCENARIOS + POLICIES, ids=lambda p: p.name)
def test_every_shipped_file_validates(path):
    assert validate_file(path) in ("scenario", "policy")


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_runs_its_horizon_with_states_in_range(path):
    setup = sim.load_setup(path)
    result = sim.run(setup, replicates=2, workers=1)
    daily, members = result.daily, result.members
    assert daily.groupby("replicate")["day"].max().eq(setup.scenario.days - 1).all()
    numeric = daily.select_dtypes("number")
    assert not numeric.isna().any().any(), "NaN in the daily table"
    for column in ("interest", "trust", "habit"):
        assert members[column].between(0, 1).all(), column
    assert (members["fatigue"] >= 0).all() and (members["days_inactive"] >= 0).all()
    assert daily["active_ratio"].between(0, 1).all()
    assert (daily["cost"] >= 0).all()
    # members are conserved every day: everyone who joined is a member, churned or removed
    for _, rep in daily.groupby("replicate"):
        joined = rep["joined"].cumsum()
        gone = (rep["churned"] + rep["removed"]).cumsum()
        assert (joined == rep["members"] + gone).all()
    assert not result.kpis.drop(columns=list(MAY_BE_UNDEFINED)).isna().any().any()


@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_every_policy_runs_on_the_existing_group(path, root):
    setup = sim.load_setup(root / "scenarios" / "existing-group.yaml", path, ["days=60"])
    result = sim.run(setup, replicates=2, workers=1)
    assert len(result.daily) == 120
    assert np.isfinite(result.kpis.drop(columns=["replicate", *MAY_BE_UNDEFINED]).to_numpy(float)).all()
