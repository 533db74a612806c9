"""Seeded regression pins: the exact KPIs of a few fixed runs (part of the smoke tier).

A change that moves any of these numbers by a single bit fails here at once, naming the run and
the KPI.  When a change is meant to move them (a new mechanism, a corrected equation), re-pin on
purpose and say so in the commit:

    SANDBOX_REPIN=1 python -m pytest tests/test_pins.py

The runs cover both engines, both rules back ends and a community playbook.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest
from conftest import policy, scenario

import sim

pytestmark = pytest.mark.smoke

PINS = Path(__file__).with_name("pins.json")
RUNS = {
    "existing-group/baseline": (scenario("existing-group"), None, ["days=40"], {}),
    "existing-group/community-playbook/durable": (
        scenario("existing-group"),
        policy("community-playbook"),
        ["days=40"],
        {"rules_backend": "durable"},
    ),
    "birth-to-death": (scenario("birth-to-death"), None, ["days=60"], {}),
    "spam-prone/moderated": (scenario("spam-prone"), policy("moderated"), ["days=40"], {}),
    "existing-group/tiered-reactivation/agents": (
        scenario("existing-group"),
        policy("tiered-reactivation"),
        ["days=20", "population.initial_members=150"],
        {"engine": "agents"},
    ),
}


def _kpis(name: str) -> dict[str, float | None]:
    path, policy_path, sets, options = RUNS[name]
    result = sim.run(sim.load_setup(path, policy_path, sets, **options), replicates=2, workers=1)
    values = result.kpis.drop(columns="replicate").mean(numeric_only=True)
    return {k: (None if math.isnan(v) else float(v)) for k, v in values.items()}


@pytest.mark.parametrize("name", list(RUNS))
def test_kpis_are_exactly_as_pinned(name):
    now = _kpis(name)
    if os.environ.get("SANDBOX_REPIN"):
        pins = json.loads(PINS.read_text()) if PINS.exists() else {}
        pins[name] = now
        PINS.write_text(json.dumps(pins, indent=1, sort_keys=True) + "\n")
    pinned = json.loads(PINS.read_text())[name]
    moved = {k: (pinned.get(k), v) for k, v in now.items() if pinned.get(k) != v}
    assert not moved, f"{name}: KPIs moved from their pins (pinned, now): {moved}"
    assert set(pinned) == set(now), f"{name}: KPIs added or gone: {set(pinned) ^ set(now)}"
