"""Shared helpers: the repository's folders and a small, fast scenario for directional tests."""

from __future__ import annotations

from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
POLICIES = sorted((ROOT / "policies").glob("*.yaml"))
REAL = ROOT.parent / "shared" / "data" / "duraspace-irc.csv.gz"
"""The real channel's activity (IRC logs of the #duraspace channel, DuraSpace, 2009-2018, CC BY 4.0):
CI clones the repository with ../shared beside it; without it, the real-data tests fail, not skip."""


def scenario(name: str) -> str:
    return str(ROOT / "scenarios" / f"{name}.yaml")


def policy(name: str) -> str:
    return str(ROOT / "policies" / f"{name}.yaml")


def kpis(scenario_name: str, policy_name: str | None = None, sets=(), replicates: int = 10):
    """Per-replicate KPIs of a run, as a DataFrame."""
    setup = sim.load_setup(scenario(scenario_name), policy(policy_name) if policy_name else None, list(sets))
    return sim.run(setup, replicates=replicates, workers=1).kpis


@pytest.fixture
def root() -> Path:
    return ROOT
