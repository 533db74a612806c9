"""The sandbox from Python: one function per command, taking paths or loaded objects alike.

Each returns the tables the command writes::

    import sim

    result = sim.run("existing-group", "weekly-ritual", replicates=5, days=120)
    result.daily, result.members, result.actions, result.kpis        # run --out's tables

    compared = sim.compare("existing-group", "baseline", "weekly-ritual", replicates=10)
    compared.document["verdict"]["text"], compared.results[1].kpis    # comparison.json, A and B's runs

    swept = sim.sweep("existing-group", grid=["policy.groups.cap=150,500"], out="sweep")
    swept.runs, swept.daily                                          # runs.parquet, daily/

    sim.observe("chat.csv")                                          # the fingerprint, a group a row
    sim.calibrate("chat.csv", out="fit").fit                         # fit.json
    sim.optimize("existing-group", search=["policy.service.answer_rate=0:1"],
                 minimize="cost_total", constraints=["retention_d30 >= 0.85"], out="cheap").document

A scenario is a file, a shipped scenario's name, or a loaded :class:`~sim.config.scenario.Setup`;
a policy a file or a shipped policy's name (or nothing: the scenario's own).  Any ``--set`` path
is a keyword, dots as double underscores (``population__initial_members=500``), or goes in
``sets`` (a mapping, or ``KEY=VALUE`` texts).  ``seed`` replaces the scenario's seed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.app.comparison import Comparison, check_sides, comparison
from sim.config.files import set_options
from sim.config.scenario import Setup, setup_from
from sim.errors import SandboxError
from sim.runs.experiment import RunResult, run_many
from sim.runs.experiment import run as run_setup
from sim.runs.sweep import SweepResult

Source = str | Path | Setup
Sets = Mapping[str, Any] | Sequence[str] | None


def _settings(sets: Sets, seed: int | None, overrides: Mapping[str, Any]) -> list[str]:
    """``--set`` overrides from ``sets``, keyword overrides and a seed: what :func:`setup` applies."""
    return set_options(sets, **overrides) + ([f"seed={seed}"] if seed is not None else [])


def setup(
    scenario: Source,
    policy: str | Path | None = None,
    *,
    seed: int | None = None,
    sets: Sets = None,
    rules_backend: str | None = None,
    community_backend: str | None = None,
    engine: str | None = None,
    **overrides: Any,
) -> Setup:
    """A loaded setup: a scenario under a policy with settings applied (a setup given is
    built again from its contents with the settings; its policy stays)."""
    options = _settings(sets, seed, overrides)
    chosen = {
        k: v
        for k, v in (("rules_backend", rules_backend), ("community_backend", community_backend), ("engine", engine))
        if v is not None
    }
    return setup_from(scenario, policy, options, **chosen)


def run(
    scenario: Source,
    policy: str | Path | None = None,
    *,
    replicates: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    audit: bool = False,
    activity: bool = False,
    sets: Sets = None,
    rules_backend: str | None = None,
    community_backend: str | None = None,
    engine: str | None = None,
    **overrides: Any,
) -> RunResult:
    """Every replicate of a scenario under a policy (``sandbox run``): the daily, members,
    actions and KPI tables, a ``replicate`` column in each."""
    loaded = setup(
        scenario,
        policy,
        seed=seed,
        sets=sets,
        rules_backend=rules_backend,
        community_backend=community_backend,
        engine=engine,
        **overrides,
    )
    return run_setup(loaded, replicates, workers, audit, activity)


def compare(
    scenario: Source,
    *policies: str | Path | Setup,
    replicates: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    practical: Mapping[str, float] | None = None,
    sets: Sets = None,
    rules_backend: str | None = None,
    community_backend: str | None = None,
    engine: str | None = None,
    across_fit: bool = False,
    **overrides: Any,
) -> Comparison:
    """Policies compared on one scenario, paired by seed, each against the first (``sandbox
    compare``): ``compare("existing-group", "baseline", "weekly-ritual")``, or loaded setups
    ``compare(setup_a, setup_b)``.  ``practical``: the smallest difference that matters, as a
    share of A's value, by KPI (``"*"`` for every KPI).  ``across_fit``: on a calibrated
    scenario's file, also under the candidates that fit its export as well (``--across-fit``:
    the document's ``across_fit``)."""
    from sim.app.across_fit import across, region_candidates, region_comparisons

    if across_fit and isinstance(scenario, Setup):
        raise SandboxError("across_fit compares on a calibrated scenario's file, not on loaded setups")
    region = region_candidates(scenario) if across_fit else []  # type: ignore[arg-type]  # a path here
    options = dict(
        seed=seed,
        sets=sets,
        rules_backend=rules_backend,
        community_backend=community_backend,
        engine=engine,
        **overrides,
    )
    if isinstance(scenario, Setup):
        if not all(isinstance(p, Setup) for p in policies):
            raise SandboxError("compare loaded setups with loaded setups: compare(setup_a, setup_b, ...)")
        sides = [setup(s, **options) for s in (scenario, *policies)]
    else:
        sides = [setup(scenario, p, **options) for p in policies]  # type: ignore[arg-type]  # paths here
    check_sides(len(sides), "policies")
    count = replicates or sides[0].scenario.replicates
    compared = comparison(run_many(sides, count, workers), dict(practical or {}))
    if region:
        base = _settings(sets, seed, overrides)  # the fit's settings, then a candidate's parameters
        backends = dict(rules_backend=rules_backend, community_backend=community_backend, engine=engine)

        def load(extra: list[str]) -> list[Setup]:
            return [setup(scenario, p, sets=base + extra, **backends) for p in policies]  # type: ignore[arg-type]

        others = region_comparisons(region, load, count, workers, dict(practical or {}))
        compared.document["across_fit"] = across(compared, others)
    return compared


def sweep(
    scenario: Source,
    policy: str | Path | None = None,
    *,
    out: str | Path,
    grid: Sequence[str] = (),
    sample: str | None = None,
    n: int | None = None,
    ranges: Sequence[str] = (),
    replicates: int | None = None,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    sets: Sets = None,
    rules_backend: str = "numpy",
    community_backend: str = "durable",
    **overrides: Any,
) -> SweepResult:
    """A design of parameter values with replicates (``sandbox sweep``): ``.runs`` (a row per
    run, ``runs.parquet``) and ``.daily`` (every run's daily table), written under ``out``."""
    from sim.runs.sweep import sweep as run_sweep

    return run_sweep(
        scenario,
        policy,
        grid=grid,
        sample=sample,
        n=n,
        ranges=ranges,
        replicates=replicates,
        out=str(out),
        backend=backend,
        workers=workers,
        scheduler=scheduler,
        resume=resume,
        sets=set_options(sets, **overrides),
        rules_backend=rules_backend,
        community_backend=community_backend,
    )


def observe(source: str | Path | pd.DataFrame, *, format: str | None = None, group: str | None = None) -> pd.DataFrame:
    """A real group's fingerprint (``sandbox observe``): one row per group, one column per measure.
    ``source`` is an export (a file or folder) or its events already read (``read_activity``)."""
    from sim.activity.fingerprint import fingerprint
    from sim.activity.formats import read_activity
    from sim.activity.history import one_group

    events = source if isinstance(source, pd.DataFrame) else read_activity(Path(source), format=format)
    if group is not None:
        _, events = one_group(events, group, source=str(source) if not isinstance(source, pd.DataFrame) else "events")
    return pd.DataFrame.from_dict(fingerprint(events), orient="index")


def optimize(
    scenario: Source,
    policy: str | Path | None = None,
    *,
    search: Sequence[str],
    out: str | Path,
    maximize: Sequence[str] | str = (),
    minimize: Sequence[str] | str = (),
    constraints: Sequence[str] = (),
    trials: int | None = None,
    replicates: int | None = None,
    workers: int = 1,
    backend: str = "local",
    scheduler: str | None = None,
    seed: int = 0,
    resume: bool = False,
    sets: Sets = None,
    **overrides: Any,
):
    """Search policy settings for the best outcome (``sandbox optimize``):
    ``optimize("existing-group", "baseline", search=["policy.content.operator_posts_per_week=0:14"],
    minimize="cost_total", constraints=["retention_d30 >= 0.85"], out="cheapest")``.
    Returns ``.document`` (``optimization.json``: the re-evaluated candidates with intervals)
    and ``.trials`` (``trials.parquet``); ``out`` holds ``best.yaml`` or ``pareto/*.yaml``."""
    from sim.runs.optimization import DEFAULT_TRIALS
    from sim.runs.optimization import optimize as search_policies

    goals = [("maximize", k) for k in ([maximize] if isinstance(maximize, str) else maximize)]
    goals += [("minimize", k) for k in ([minimize] if isinstance(minimize, str) else minimize)]
    return search_policies(
        scenario,
        policy,
        search=list(search),
        objectives=goals,
        constraints=list(constraints),
        out=out,
        trials=trials or DEFAULT_TRIALS,
        replicates=replicates,
        workers=workers,
        backend=backend,
        scheduler=scheduler,
        seed=seed,
        resume=resume,
        sets=set_options(sets, **overrides),
    )


def calibrate(source: str | Path, out: str | Path, **options: Any):
    """Fit the sandbox to a real group's export (``sandbox calibrate``; the same options as its
    flags: ``until``, ``budget``, ``workers``, ``backend``, ``scheduler``, ``seed``, ``resume``...).
    Returns the fit: ``.fit`` is ``fit.json``, and ``out`` holds the scenario to run policies on."""
    from sim.runs.calibration import calibrate as fit

    return fit(str(source), Path(out), **options)


__all__ = ["setup", "run", "compare", "sweep", "observe", "calibrate", "optimize", "Comparison"]
