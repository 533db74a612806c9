"""Replicates and comparisons: many seeded runs of a scenario, and A-versus-B verdicts.

Replicate ``r`` of a scenario always uses ``SeedSequence(seed, spawn_key=(r,))``, whichever
process runs it and in whatever order, so results are identical serially or in parallel.
In a comparison, replicate ``r`` of A and of B share that seed (common random numbers), and
the difference B - A is taken replicate by replicate, which cancels much of the noise.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.config.scenario import Setup
from sim.engine.metrics import summarize
from sim.engine.model import CommunityModel, replicate_seed
from sim.engine.state import row_threads

# Below this many member-days in total, the cost of starting processes outweighs the gain.
PARALLEL_MIN_MEMBER_DAYS = 5_000_000


@dataclass
class RunResult:
    """All replicates of one scenario under one policy: tidy tables and per-replicate KPIs."""

    setup: Setup
    daily: pd.DataFrame
    members: pd.DataFrame
    actions: pd.DataFrame
    kpis: pd.DataFrame  # one row per replicate
    seeds: list[list[int]]  # the SeedSequence (entropy, spawn_key) of each replicate
    seconds: float
    timings: dict = field(default_factory=dict)
    firings: pd.DataFrame | None = None  # the audit trail, when asked for
    conditions: pd.DataFrame | None = None
    activity: pd.DataFrame | None = None  # members' messages per day, when asked for (sandbox observe)
    groups: pd.DataFrame | None = None  # each group's day (size, activity, stage...), kept with the audit trail

    def kpi_summary(self) -> dict[str, dict]:
        return {
            name: interval(self.kpis[name].to_numpy(), bounds=kpi_bounds(name))
            for name in self.kpis.columns
            if name != "replicate"
        }


FEW_REPLICATES = 5
"""Below this many replicates an interval is rough: the t quantile is wide and the spread itself unsure."""

SHARE_WORDS = ("ratio", "share", "retention", "mean_trust", "mean_interest", "health_end")
SIGNED_KPIS = ("first_reply_effect",)


def kpi_bounds(name: str) -> tuple[float | None, float | None]:
    """The range a KPI can take: shares and health scores 0..1, differences of shares -1..1,
    everything else (counts, costs, rates) from 0 up."""
    if name in SIGNED_KPIS:
        return (-1.0, 1.0)
    if any(word in name for word in SHARE_WORDS):
        return (0.0, 1.0)
    return (0.0, None)


def interval(values: np.ndarray, bounds: tuple[float | None, float | None] = (None, None)) -> dict:
    """Mean and 95% t-interval across replicates; NaN values (undefined KPIs) are left out.

    ``bounds``: the KPI's range; the interval is cut to it (the t-interval of a count near zero
    would otherwise reach below zero, which no replicate can show).  Fewer than
    :data:`FEW_REPLICATES` replicates add ``"few_replicates": true``.
    """
    values = np.asarray(values, dtype=float)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return {"mean": None, "ci95": [None, None]}
    mean = float(values.mean())
    if len(values) < 2:
        return {"mean": mean, "ci95": [None, None], "few_replicates": True}
    sem = float(values.std(ddof=1)) / math.sqrt(len(values))
    from scipy.special import stdtrit  # Student's t quantile; imported on first use (start-up time)

    half = float(stdtrit(len(values) - 1, 0.975)) * sem
    lo, hi = mean - half, mean + half
    if bounds[0] is not None:
        lo = max(lo, bounds[0])
    if bounds[1] is not None:
        hi = min(hi, bounds[1])
    out: dict = {"mean": mean, "ci95": [lo, hi]}
    if len(values) < FEW_REPLICATES:
        out["few_replicates"] = True
    return out


def run_replicate(
    setup: Setup, replicate: int, audit: bool = False, group_daily: bool = False, activity: bool = False
) -> dict:
    """Run one replicate; return its tables and KPIs, each tagged with the replicate index."""
    started = time.perf_counter()
    model = CommunityModel(setup, replicate=replicate, audit=audit, group_daily=group_daily, activity=activity).run()
    tables = model.tables()
    kpis = summarize(
        tables["daily"], tables["members"], setup.scenario.days, model.health_end, dead_causes=model.dead_group_causes()
    )
    for table in tables.values():
        table.insert(0, "replicate", replicate)
    return {**tables, "kpis": {"replicate": replicate, **kpis}, "seconds": time.perf_counter() - started}


def run_worlds(
    setup: Setup,
    first: int,
    worlds: int,
    world_params: Sequence[Mapping[str, float]] | None = None,
    world_replicates: Sequence[int] | None = None,
) -> list[dict[str, pd.DataFrame]]:
    """Run ``worlds`` copies of a community side by side in one population (one day's fixed work
    for all; :class:`sim.engine.model.CommunityModel`'s ``worlds``) and return each world's
    ``members`` and ``activity`` tables, its ``replicate`` column ``first + w``.

    The worlds draw from the stream keyed by ``(first, worlds)``: together they are as many
    replicates of the scenario, not its solo replicates ``first..first + worlds - 1`` (one world
    is solo replicate ``first``: its members and activity as :func:`run_replicate` gives them).
    ``world_params`` gives each world its own values of the member model's parameters
    (:data:`sim.engine.model.PER_WORLD`): candidates of a calibration side by side, and
    ``world_replicates`` the replicate whose members' keyed draws each world takes (default
    ``first + w``): candidates on the same replicate meet the same luck.  The run is lean
    (:class:`sim.engine.model.CommunityModel`): only those tables are kept."""
    model = CommunityModel(
        setup,
        replicate=first,
        activity=True,
        worlds=worlds,
        world_params=world_params,
        world_replicates=world_replicates,
        lean=True,
    ).run()
    tables = model.tables()
    out = []
    member_world = model.world_of(tables["members"]["group"].to_numpy())
    activity_world = model.world_of(tables["activity"]["group"].to_numpy())
    for w in range(worlds):
        own = {
            "members": tables["members"][member_world == w].reset_index(drop=True),
            "activity": tables["activity"][activity_world == w].reset_index(drop=True),
        }
        for table in own.values():
            table.insert(0, "replicate", first + w)
        out.append(own)
    return out


_WORKER_SETUPS: list[Setup] = []
_WORKER_RECORD = (False, False)  # (audit, activity)


def _run_in_worker(task: tuple[int, int]) -> dict:
    which, replicate = task
    audit, activity = _WORKER_RECORD
    return run_replicate(_WORKER_SETUPS[which], replicate, audit, group_daily=audit, activity=activity)


def default_workers(setup: Setup, replicates: int) -> int:
    """Use every core when the job is big enough to repay starting processes."""
    sc = setup.scenario
    size = sc.population.initial_members + sc.population.seed_members + sum(c.pool_size for c in sc.channels) // 4
    if replicates < 2 or size * sc.days * replicates < PARALLEL_MIN_MEMBER_DAYS:
        return 1
    return max(1, min(os.cpu_count() or 1, replicates))


def _run_all(
    setups: list[Setup],
    replicates: int | range,
    workers: int,
    audit: bool,
    activity: bool = False,
    done: Callable[[], None] | None = None,
) -> list[list[dict]]:
    """Every replicate (a count, or a range of indices) of every setup, in one pool when ``workers`` > 1.

    ``done`` is called once as each replicate finishes (a progress bar), in whatever order they do."""
    indices = range(replicates) if isinstance(replicates, int) else replicates
    replicates = len(indices)
    tasks = [(which, r) for which in range(len(setups)) for r in indices]
    if workers > 1 and "fork" in mp.get_all_start_methods():
        global _WORKER_SETUPS, _WORKER_RECORD
        _WORKER_SETUPS, _WORKER_RECORD = setups, (audit, activity)  # inherited by forked workers; rules hold closures
        try:
            with ProcessPoolExecutor(
                max_workers=workers, mp_context=mp.get_context("fork"), initializer=row_threads.one_thread
            ) as pool:  # the pool fills the cores
                futures = [pool.submit(_run_in_worker, task) for task in tasks]
                for future in as_completed(futures):
                    future.result()  # a failure stops here, as pool.map would
                    if done is not None:
                        done()
                parts = [future.result() for future in futures]
        finally:
            _WORKER_SETUPS = []
    else:
        parts = []
        for which, r in tasks:
            parts.append(run_replicate(setups[which], r, audit, group_daily=audit, activity=activity))
            if done is not None:
                done()
    return [parts[i * replicates : (i + 1) * replicates] for i in range(len(setups))]


def _result(setup: Setup, parts: list[dict], seconds: float, workers: int, audit: bool) -> RunResult:
    def concat(name: str) -> pd.DataFrame:
        return pd.concat([p[name] for p in parts], ignore_index=True)

    return RunResult(
        setup=setup,
        daily=concat("daily"),
        members=concat("members"),
        actions=concat("actions"),
        kpis=pd.DataFrame([p["kpis"] for p in parts]),
        seeds=[[setup.scenario.seed, p["kpis"]["replicate"]] for p in parts],
        seconds=seconds,
        timings={"replicate_seconds": [p["seconds"] for p in parts], "workers": workers},
        firings=concat("firings") if audit else None,
        conditions=concat("conditions") if audit else None,
        activity=concat("activity") if "activity" in parts[0] else None,
        groups=concat("groups") if "groups" in parts[0] else None,
    )


def run(
    setup: Setup,
    replicates: int | None = None,
    workers: int | None = None,
    audit: bool = False,
    activity: bool = False,
    done: Callable[[], None] | None = None,
) -> RunResult:
    """Run every replicate of a setup; tables are concatenated with a ``replicate`` column.

    With ``audit``, the result also carries the ``firings`` and ``conditions`` tables; with
    ``activity``, the members' messages per day (the ``activity`` table ``sandbox observe`` reads).
    """
    (result,) = run_many([setup], replicates or setup.scenario.replicates, workers, audit, activity, done)
    return result


def run_many(
    setups: list[Setup],
    replicates: int | range,
    workers: int | None = None,
    audit: bool = False,
    activity: bool = False,
    done: Callable[[], None] | None = None,
) -> list[RunResult]:
    """Several setups on the same replicate seeds (a count, or a range of replicate indices), in one pool."""
    count = replicates if isinstance(replicates, int) else len(replicates)
    workers = default_workers(setups[0], len(setups) * count) if workers is None else workers
    started = time.perf_counter()
    parts = _run_all(list(setups), replicates, workers, audit, activity, done)
    seconds = time.perf_counter() - started
    return [_result(setup, p, seconds, workers, audit) for setup, p in zip(setups, parts)]


def compare(
    a: Setup,
    b: Setup,
    replicates: int | None = None,
    workers: int | None = None,
    audit: bool = False,
    activity: bool = False,
) -> tuple[RunResult, RunResult, dict[str, dict]]:
    """Run A and B on the same replicate seeds, in one pool; return both and paired B - A intervals."""
    result_a, result_b = run_many([a, b], replicates or a.scenario.replicates, workers, audit, activity)
    return result_a, result_b, paired_difference(result_a.kpis, result_b.kpis)


def paired_difference(kpis_a: pd.DataFrame, kpis_b: pd.DataFrame) -> dict[str, dict]:
    """B - A per KPI, paired by replicate, with a 95% t-interval."""
    merged = kpis_a.merge(kpis_b, on="replicate", suffixes=("_a", "_b"))
    names = [c for c in kpis_a.columns if c != "replicate"]
    return {name: interval(merged[f"{name}_b"].to_numpy(float) - merged[f"{name}_a"].to_numpy(float)) for name in names}


def seed_of(seed: int, replicate: int) -> list[int]:
    """What the manifest records to reproduce a replicate."""
    sequence = replicate_seed(seed, replicate)
    return [int(sequence.entropy), *sequence.spawn_key]  # type: ignore[arg-type]  # an int seed's entropy
