"""Batch experiments for researchers: designs, resumable Parquet results, local or Dask workers.

A sweep runs a scenario (and policy) at every point of a design, R replicates each:

- a full-factorial grid (``--grid KEY=V1,V2``), or a sampled design over ranges
  (``--sample lhs|sobol|morris --n N --range KEY=LO:HI``); any ``--set`` path can vary;
- replicate ``r`` of every point uses ``SeedSequence(seed, spawn_key=(r,))``, so results do not
  depend on the order of execution, the back end or the number of workers, and design points
  share random numbers (which sharpens their comparison);
- each finished run is written at once and atomically: ``DIR/runs/<run_id>.parquet`` (one row:
  the point's values, replicate, seed, every KPI, status, error, seconds) and
  ``DIR/daily/run_id=<run_id>/part-0.parquet``; ``DIR/runs.parquet`` gathers the rows at the
  end; nothing holds all results in memory, and a killed sweep loses no finished run;
- ``--resume`` skips finished runs and re-runs failed or missing ones;
- workers: a local process pool, or Dask (a ``LocalCluster`` by default, or ``--scheduler``).
  Workers get each point's loaded setup (contents, never paths) and send each run's row and
  daily table back; only the caller writes ``DIR``, so a cluster needs no shared disk and no
  worker needs the caller's working directory.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from sim.config.files import parse_set
from sim.config.scenario import MAX_REPLICATES, Setup
from sim.domain import content_hash
from sim.errors import SandboxError
from sim.runs.output_folder import claimed, write_json, write_parquet
from sim.runs.pool import dask_client
from sim.runs.store import read_table
from sim.runs.workers import worker_guard

SAMPLERS = ("lhs", "sobol", "morris")


@dataclass
class Design:
    """The points of a sweep: each a mapping from a ``--set`` path to a value."""

    kind: str  # "grid", "lhs", "sobol" or "morris"
    names: list[str]
    points: list[dict[str, Any]]
    problem: dict | None = None  # SALib's problem, for sampled designs

    def as_dict(self) -> dict:
        return {"kind": self.kind, "names": self.names, "points": self.points, "problem": self.problem}


MAX_POINTS = 10_000
"""Design points in one sweep: a larger design is refused before any point is built."""
MAX_RUNS = 100_000
"""Runs (points x replicates) in one sweep."""


def scheduler_address(address: str) -> str:
    """A Dask scheduler's address as ``[tcp://]HOST:PORT``, or a one-line error naming the form."""
    from urllib.parse import urlsplit

    text = address if "://" in address else f"tcp://{address}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        port = None
        parts = None
    if parts is None or parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        raise SandboxError("expected a scheduler address such as tcp://127.0.0.1:8786", place="--scheduler")
    return text


def _check_points(count: int, option: str) -> None:
    if count > MAX_POINTS:
        raise SandboxError(
            f"the design has {count:,} points; at most {MAX_POINTS:,} per sweep (split it into several sweeps)",
            place=option,
        )


def grid_design(grids: list[str]) -> Design:
    """A full-factorial design from ``KEY=V1,V2,...`` options (values read as YAML)."""
    names, levels = [], []
    for option in grids:
        key, raw = _split(option, "--grid", "KEY=V1,V2,... such as days=90,180")
        values = [parse_set(f"{key}={v.strip()}")[1] for v in str(raw).split(",") if v.strip() != ""]
        if not values:
            raise SandboxError("empty value list; give at least one value, e.g. days=90,180", place=f"--grid {option}")
        if key in names:
            raise SandboxError("this path is swept twice; give it once with all its values", place=f"--grid {option}")
        names.append(key)
        levels.append(values)
    _check_points(math.prod(len(values) for values in levels), "--grid")
    points = [dict(zip(names, combo)) for combo in itertools.product(*levels)] if names else [{}]
    return Design("grid", names, points)


def sampled_design(kind: str, n: int | None, ranges: list[str], seed: int) -> Design:
    """A sampled design over ``KEY=LO:HI`` ranges: Latin hypercube, Sobol (Saltelli) or Morris."""
    if kind not in SAMPLERS:
        raise SandboxError(f"unknown sampler '{kind}'; expected one of: {', '.join(SAMPLERS)}", place="--sample")
    if not ranges:
        raise SandboxError("a sampled design needs at least one --range KEY=LO:HI", place="--sample")
    if n is None or n < 1:
        raise SandboxError("give the sample size with --n N (N >= 1)", place="--n")
    names, bounds = [], []
    for option in ranges:
        key, raw = _split(option, "--range", "KEY=LO:HI such as params.act_bias=-4:-3")
        try:
            lo, hi = (float(x) for x in str(raw).split(":"))
        except ValueError:
            raise SandboxError(
                "malformed range; write LO:HI with two numbers, e.g. 0.1:0.5", place=f"--range {option}"
            ) from None
        if not lo < hi:
            raise SandboxError(f"the range is empty: {lo:g} is not below {hi:g}", place=f"--range {option}")
        names.append(key)
        bounds.append([lo, hi])
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    per_base = {"lhs": 1, "sobol": len(names) + 2, "morris": len(names) + 1}[kind]
    _check_points(n * per_base, "--n")
    if kind == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(names), seed=seed).random(n)
        matrix = qmc.scale(unit, [b[0] for b in bounds], [b[1] for b in bounds])
    elif kind == "sobol":
        from SALib.sample import sobol as sobol_sample

        matrix = sobol_sample.sample(problem, n, calc_second_order=False, seed=seed)
    else:
        from SALib.sample import morris as morris_sample

        matrix = morris_sample.sample(problem, n, num_levels=4, seed=seed)
    points = [dict(zip(names, (float(v) for v in row))) for row in matrix]
    return Design(kind, names, points, problem)


def _split(option: str, flag: str, expected: str) -> tuple[str, str]:
    if "=" not in option:
        raise SandboxError(f"expected {expected}", place=f"{flag} {option}")
    key, raw = option.split("=", 1)
    return key.strip(), raw


@dataclass(frozen=True)
class Task:
    """One run of a sweep: a design point and a replicate."""

    run_id: str
    point: int
    replicate: int


def _value_text(value) -> str:
    return json.dumps(value) if isinstance(value, str) else str(value)


def plan(design: Design, replicates: int) -> list[Task]:
    """Every run of a sweep, point by point (each point's setup is loaded once, by the caller)."""
    return [Task(f"p{p:05d}-r{r:04d}", p, r) for p in range(len(design.points)) for r in range(replicates)]


def run_task(task: Task, point: dict, setup: Setup) -> tuple[dict, pd.DataFrame | None]:
    """Run one task of a loaded setup; return its row and its daily table (never raises).

    A worker gets the setup itself (scenario, compiled policy, parameters: contents, not paths)
    and writes nothing: the caller writes every file, so workers need neither the caller's
    working directory nor a disk they share with it.
    """
    from sim.runs.experiment import run_replicate

    started = time.perf_counter()
    row: dict[str, Any] = {
        "run_id": task.run_id,
        "point": task.point,
        "replicate": task.replicate,
        **{f"param:{k}": (str(v) if isinstance(v, str) else v) for k, v in point.items()},
        "seed": setup.scenario.seed,
    }
    daily = None
    try:
        result = run_replicate(setup, task.replicate)
        kpis = {k: v for k, v in result["kpis"].items() if k != "replicate"}
        daily = result["daily"]  # run_id comes from the partition directory (hive style)
        row.update(kpis, status="ok", error="")
    except Exception as exc:  # a failed run is recorded and the sweep goes on
        message = str(exc) if isinstance(exc, SandboxError) else f"{type(exc).__name__}: {exc}"
        row.update(
            status="failed",
            error=message.splitlines()[0] if message else type(exc).__name__,
            traceback="".join(traceback.format_exception(exc))[-2000:],
        )
    row["seconds"] = time.perf_counter() - started
    return row, daily


def write_task(out: Path, row: dict, daily: pd.DataFrame | None) -> None:
    """Write one finished task: its daily table, then its row (the row marks it done for --resume)."""
    if daily is not None:
        write_parquet(daily, out / "daily" / f"run_id={row['run_id']}" / "part-0.parquet")
    write_parquet(pd.DataFrame([row]), out / "runs" / f"{row['run_id']}.parquet")


def finished(out: Path) -> dict[str, str]:
    """run_id -> status of every run already written in ``out``."""
    runs = out / "runs"
    if not runs.is_dir():
        return {}
    status = {}
    for path in runs.glob("*.parquet"):
        try:
            status[path.stem] = pd.read_parquet(path, columns=["status"])["status"].iloc[0]
        except (OSError, ValueError, KeyError, IndexError, pa.ArrowException):
            continue  # a damaged run's row counts as missing: --resume runs it again and replaces it
    return status


def gather(out: Path) -> pd.DataFrame:
    """Write ``DIR/runs.parquet`` from the per-run rows, sorted by run_id; return it."""
    files = sorted((out / "runs").glob("*.parquet"))
    table = pd.concat([read_table(f) for f in files], ignore_index=True) if files else pd.DataFrame()
    if len(table):
        table = table.sort_values("run_id", kind="stable").reset_index(drop=True)
    write_parquet(table, out / "runs.parquet")
    return table


# --- execution -------------------------------------------------------------------------------


Todo = list[tuple[Task, dict, Setup]]


def _local(todo: Todo, workers: int, on_done) -> None:
    if workers <= 1:
        for task, point, setup in todo:
            on_done(*run_task(task, point, setup))
        return
    import multiprocessing as mp

    # Spawned, not forked: a sweep may start in a process that holds threads and durable-rules'
    # C state (the dashboard, a notebook, a test runner), and a fork copies those mid-use.  Each
    # worker dies with the sweep (worker_guard), so a killed sweep leaves no worker running.
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=worker_guard,
        initargs=(os.getpid(),),
    ) as pool:  # the pool fills the cores
        futures = [pool.submit(run_task, task, point, setup) for task, point, setup in todo]
        try:
            for future in as_completed(futures):
                on_done(*future.result())
        except BaseException:
            for f in futures:
                f.cancel()
            raise


def _dask(todo: Todo, workers: int, scheduler: str | None, on_done) -> float:
    """Run the tasks on Dask; return the seconds spent starting or joining the cluster."""
    from dask.distributed import as_completed as dask_completed

    started = time.perf_counter()
    with dask_client(workers, scheduler) as client:
        startup = time.perf_counter() - started
        futures = [
            client.submit(run_task, task, point, setup, key=f"run-{task.run_id}-{os.getpid()}", pure=False)
            for task, point, setup in todo
        ]
        for future in dask_completed(futures):
            on_done(*future.result())
        return startup


def check_scheduler(address: str) -> None:
    """Fail before any run starts if the scheduler cannot be reached."""
    import socket
    from urllib.parse import urlsplit

    parsed = urlsplit(scheduler_address(address))
    try:
        with socket.create_connection((parsed.hostname, parsed.port), timeout=3):
            pass
    except (OSError, TypeError):
        raise SandboxError(
            f"cannot reach the Dask scheduler at {address}; check the address, or omit "
            "--scheduler to start a local cluster",
            place="--scheduler",
        ) from None


@dataclass
class SweepResult:
    runs: pd.DataFrame
    out: Path
    failed: int
    timings: dict = field(default_factory=dict)

    @property
    def daily(self) -> pd.DataFrame:
        """All daily tables (read from the partitioned Parquet, with run_id)."""
        path = self.out / "daily"
        if not path.is_dir():
            return pd.DataFrame()
        daily = pd.read_parquet(path)
        daily["run_id"] = daily["run_id"].astype(str)
        return daily


def sweep(
    scenario: str | Path | Setup,
    policy: str | Path | None = None,
    *,
    grid: Sequence[str] = (),
    sample: str | None = None,
    n: int | None = None,
    ranges: Sequence[str] = (),
    replicates: int | None = None,
    out: str,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    sets: Sequence[str] = (),
    rules_backend: str = "numpy",
    community_backend: str = "durable",
    progress: bool = False,
    command: list[str] | None = None,
) -> SweepResult:
    """Run a sweep and return its runs (and, lazily, its daily tables) as DataFrames.

    ``scenario`` is a file, a shipped scenario's name, or a loaded setup (each point is then
    built again from its contents with the point's settings)."""
    from sim.config.scenario import setup_from
    from sim.runs.store import versions
    from sim.version import __version__

    def load(options: list[str]) -> Setup:
        return setup_from(scenario, policy, options, rules_backend=rules_backend, community_backend=community_backend)

    if backend not in ("local", "dask"):
        raise SandboxError(f"unknown back end '{backend}'; expected local or dask", place="--backend")
    if workers is not None and workers < 1:
        raise SandboxError("must be at least 1", place="--workers")
    if sample and grid:
        raise SandboxError("choose a grid or a sampled design, not both", place="--sample")
    base = load(list(sets))
    replicates = replicates or base.scenario.replicates
    if replicates > MAX_REPLICATES:
        raise SandboxError(f"at most {MAX_REPLICATES:,} replicates per point", place="--replicates")
    if replicates < 1:
        raise SandboxError("must be at least 1", place="--replicates")
    design = sampled_design(sample, n, list(ranges), base.scenario.seed) if sample else grid_design(list(grid))
    if len(design.points) * replicates > MAX_RUNS:
        raise SandboxError(
            f"{len(design.points):,} points x {replicates:,} replicates is {len(design.points) * replicates:,} runs; "
            f"at most {MAX_RUNS:,} per sweep",
            place="--replicates",
        )
    setups = []  # every point loaded here: a bad path fails before any run starts, and workers get contents
    for point in design.points:
        option = " ".join(f"{k}={_value_text(v)}" for k, v in point.items())
        try:
            setups.append(load([*sets, *(f"{k}={_value_text(v)}" for k, v in point.items())]))
        except SandboxError as exc:
            raise SandboxError(f"design point [{option}]: {exc}") from None
    if backend == "dask" and scheduler:
        check_scheduler(scheduler)

    out_dir = Path(out)
    manifest: dict[str, Any] = {
        "command": command or sys.argv,
        "scenario": {
            "file": base.scenario_file if isinstance(scenario, Setup) else str(scenario),
            "hash": base.scenario_hash,
        },
        "policy": {"file": base.policy_file, "hash": base.policy_hash},
        "sets": list(sets),
        "design": design.as_dict(),
        "replicates": replicates,
        "seed": base.scenario.seed,
        "rules_backend": rules_backend,
        "community_backend": community_backend,
        "version": __version__,
        "versions": versions(),
    }
    identity = content_hash(
        {
            k: manifest[k]
            for k in (
                "scenario",
                "policy",
                "sets",
                "design",
                "replicates",
                "seed",
                "rules_backend",
                "community_backend",
            )
        }
    )
    manifest["sweep_id"] = identity
    with claimed(out_dir, kind="sweep", identity=identity, resume=resume, manifest=manifest, work="runs"):
        tasks = plan(design, replicates)
        done = finished(out_dir) if resume else {}
        todo = [(t, design.points[t.point], setups[t.point]) for t in tasks if done.get(t.run_id) != "ok"]
        workers = workers or (os.cpu_count() or 1)

        from tqdm import tqdm

        failures = 0
        bar = tqdm(
            total=len(tasks),
            initial=len(tasks) - len(todo),
            unit="run",
            desc="sweep",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        )

        def on_done(row: dict, daily: pd.DataFrame | None) -> None:
            nonlocal failures
            write_task(out_dir, row, daily)  # here, by the caller: workers write nothing
            failures += row["status"] != "ok"
            bar.set_postfix(failed=failures)
            bar.update(1)
            if _STOPPED:
                raise SystemExit(128 + _STOPPED[0])

        previous = signal.getsignal(signal.SIGTERM)
        _STOPPED.clear()
        signal.signal(signal.SIGTERM, _terminate)
        started = time.perf_counter()
        startup = 0.0
        try:
            if backend == "dask":
                startup = _dask(todo, workers, scheduler, on_done)
            else:
                _local(todo, workers, on_done)
        except OSError as exc:  # the disk filled, the folder went away: finished runs are kept
            raise SandboxError(
                f"cannot write the results ({exc.strerror or exc}); make room, then finish with --resume",
                file=str(out_dir),
            ) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
            bar.close()
        runs = gather(out_dir)
        manifest["timings"] = {
            "seconds": time.perf_counter() - started,
            "startup_seconds": startup,
            "runs": len(todo),
            "workers": workers,
            "backend": backend,
        }
        write_json(out_dir / "manifest.json", manifest)
        return SweepResult(
            runs=runs,
            out=out_dir,
            failed=int((runs["status"] != "ok").sum()) if len(runs) else 0,
            timings=manifest["timings"],
        )


_STOPPED: list[int] = []  # the signal that asked this sweep to stop, if any


def _terminate(signum, frame) -> None:
    """Stop the sweep on SIGTERM.  The exit is raised at once and again after the current run,
    since a library running at that moment (durable-rules calls back into Python) may swallow it."""
    _STOPPED.append(signum)
    raise SystemExit(128 + signum)


__all__ = ["sweep", "grid_design", "sampled_design", "Design", "SweepResult", "gather"]
