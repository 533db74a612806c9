"""The per-agent reference engine against the vectorised engine.

The two engines draw different random numbers, so they can only agree in distribution.  For
every shipped scenario of at most 2,000 members, 20 replicates run on each engine and every
summary KPI's means are compared with Welch's two-sample t-test at a family-wise alpha of 0.01,
Bonferroni-corrected for the number of KPIs (so each KPI is tested at 0.01 / K).  Fixed seeds
make the verdict the same on every run: a failure means an equation changed in one engine and
not the other, and its message names the scenario and the KPI.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import SCENARIOS, scenario
from scipy import stats

import sim
from sim.engine.agents import AgentMembers, Member
from sim.engine.model import CommunityModel
from sim.errors import SandboxError
from sim.runs.experiment import run

REPLICATES = 20  # 30 took over half the suite on a slow day; the control test below still catches a drift at 20
FAMILY_ALPHA = 0.01
MAX_MEMBERS = 2_000
# The shipped scenarios whose membership never passes MAX_MEMBERS (kept honest by the test below).
SMALL = (
    "birth-to-death",
    "cold-start",
    "existing-group",
    "guest-speakers-vs-internal-experts",
    "paid-small-group",
    "pruning-vs-tyranny",
    "ritual-vs-random",
    "sales-push",
    "spam-prone",
)


def _peak_members(name: str) -> int:
    daily = run(sim.load_setup(scenario(name)), replicates=1, workers=1).daily
    return int(daily["members"].max())


def test_the_small_scenarios_are_exactly_those_of_at_most_2000_members():
    """Every shipped scenario is either in the equivalence list or larger than 2,000 members."""
    peaks = {path.stem: _peak_members(path.stem) for path in SCENARIOS}
    small = {name for name, peak in peaks.items() if peak <= MAX_MEMBERS * 0.95}
    large = {name for name, peak in peaks.items() if peak > MAX_MEMBERS * 1.05}
    assert small <= set(SMALL), f"add to SMALL: {sorted(small - set(SMALL))} (peaks {peaks})"
    assert not (large & set(SMALL)), f"remove from SMALL: {sorted(large & set(SMALL))} (peaks {peaks})"


def disagreements(a: pd.DataFrame, b: pd.DataFrame, alpha: float = FAMILY_ALPHA) -> list[str]:
    """KPIs whose means differ between two sets of replicates (Welch, Bonferroni over KPIs)."""
    names = [c for c in a.columns if c != "replicate"]
    per_kpi = alpha / len(names)
    failures = []
    for name in names:
        x, y = a[name].dropna().to_numpy(float), b[name].dropna().to_numpy(float)
        # a KPI undefined in some replicates (say, cost per referred member with no referral):
        # how often it is defined must agree too (Fisher's exact test)
        table = [[len(x), len(a) - len(x)], [len(y), len(b) - len(y)]]
        if stats.fisher_exact(table).pvalue < per_kpi:
            failures.append(
                f"{name}: defined in {len(x)} of {len(a)} vector and {len(y)} of {len(b)} agents replicates"
            )
            continue
        if len(x) < 2 or len(y) < 2:
            continue
        if np.ptp(x) == 0 and np.ptp(y) == 0:  # constant on both sides: the constants must match
            if not np.isclose(x[0], y[0], rtol=1e-4, atol=1e-9):
                failures.append(f"{name}: vector always {x[0]:.6g}, agents always {y[0]:.6g}")
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # near-constant samples
            p = stats.ttest_ind(x, y, equal_var=False).pvalue
        if p < per_kpi:
            failures.append(
                f"{name}: vector mean {x.mean():.4g}, agents mean {y.mean():.4g} (Welch p = {p:.2g} < {per_kpi:.2g})"
            )
    return failures


# One scenario of the equivalence runs in the default tier; the rest, ten minutes of agents-engine
# time on this machine, in the slow tier (CI runs both).  Every one keeps its full assertion.
DEFAULT_TIER = ("paid-small-group",)


@pytest.mark.parametrize("name", [n if n in DEFAULT_TIER else pytest.param(n, marks=pytest.mark.slow) for n in SMALL])
def test_agents_and_vector_engines_agree_in_distribution(name):
    results = {}
    for engine in ("vector", "agents"):
        setup = sim.load_setup(scenario(name), engine=engine)
        results[engine] = run(setup, replicates=REPLICATES, workers=2).kpis
    failures = disagreements(results["vector"], results["agents"])
    assert not failures, f"scenario {name}: the engines drift on " + "; ".join(failures)


@pytest.mark.slow  # a long check: the slow tier, which CI runs too
def test_the_check_catches_a_drifting_equation():
    """The same comparison, at the same number of replicates, flags a small change to one
    equation (it is not blind).  Both sides run on the vector engine: the engines agree in
    distribution, so the KPIs' spread, and with it the check's power, is the same, at a
    fortieth of the agents engine's time."""
    base = sim.load_setup(scenario("existing-group"), engine="vector")
    drifted = sim.load_setup(scenario("existing-group"), sets=["params.interest_decay=0.03"], engine="vector")
    a = run(base, replicates=REPLICATES, workers=2).kpis
    b = run(drifted, replicates=REPLICATES, workers=2).kpis
    assert any(f.startswith("members_end") for f in disagreements(a, b))


def test_agents_engine_has_one_mesa_agent_per_member_and_is_reproducible():
    setup = sim.load_setup(scenario("ritual-vs-random"), sets=["days=40"], engine="agents")
    model = CommunityModel(setup, replicate=3)
    assert isinstance(model.members, AgentMembers)
    for _ in range(20):
        model.step()
    model.members._load()  # agents of today's leavers are removed from the model at the next load
    alive = int(np.count_nonzero(model.pop.status == 0))
    assert len(model.agents_by_type[Member]) == alive == len(model.members.members_by_id)
    first = run(setup, replicates=2, workers=1)
    again = run(setup, replicates=2, workers=1)
    pd.testing.assert_frame_equal(first.daily, again.daily)
    pd.testing.assert_frame_equal(first.kpis, again.kpis)


def test_engine_option_on_the_command_line(tmp_path, capsys):
    from sim.app.cli import main

    code = main(
        ["run", scenario("paid-small-group"), "--engine", "agents", "--replicates", "2", "--days", "30", "--json"]
    )
    assert code == 0
    assert '"members_end"' in capsys.readouterr().out
    with pytest.raises(SandboxError, match="unknown engine 'agent'"):
        sim.load_setup(scenario("paid-small-group"), engine="agent")
    assert main(["run", scenario("paid-small-group"), "--engine", "agent"]) == 2
