"""Results on disk: Parquet tables, a summary and a manifest, written atomically.

A run directory holds ``daily.parquet``, ``members.parquet``, ``actions.parquet``,
``summary.json`` and ``manifest.json`` (scenario and policy with their hashes, seeds,
replicates, package and library versions, timings), enough to reproduce the run.  Everything
is written into a temporary sibling directory that is renamed into place at the end, so an
interrupted or failed write never leaves a half-written result behind.
"""

from __future__ import annotations

import json
import math
import platform
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd

from sim.errors import SandboxError
from sim.runs.experiment import RunResult, seed_of

LIBRARIES = ("mesa", "durable-rules", "numpy", "pandas", "pyarrow", "pydantic", "scipy", "dask", "duckdb", "SALib")


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("community-sandbox", *LIBRARIES):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out


def clean(obj):
    """JSON-safe: NaN and infinities become null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj


def run_summary(result: RunResult) -> dict:
    """The ``--json`` object of one run: every KPI with its interval, plus plain-object views."""
    from sim.domain import CAUSES
    from sim.engine.health import PARTS

    means = result.kpis.mean(numeric_only=True)
    return clean(
        {
            "scenario": result.setup.scenario.name,
            "policy": result.setup.policy.settings.name,
            "replicates": len(result.kpis),
            "kpis": result.kpi_summary(),
            "churn_causes": {cause: float(means[f"churn_{cause}"]) for cause in CAUSES},
            "dead_group_causes": {cause: float(means[f"dead_groups_{cause}"]) for cause in CAUSES},
            "health_end": {
                "total": float(means["health_end"]),
                **{part: float(means[f"health_end_{part}"]) for part in PARTS},
            },
        }
    )


def manifest(result: RunResult, command: list[str] | None = None) -> dict:
    setup = result.setup
    return clean(
        {
            "command": command or sys.argv,
            "scenario": {
                "file": setup.scenario_file,
                "hash": setup.scenario_hash,
                "content": setup.scenario.model_dump(),
            },
            "policy": {
                "file": setup.policy_file,
                "hash": setup.policy_hash,
                "content": setup.policy.settings.model_dump(),
            },
            "seed": setup.scenario.seed,
            "replicates": len(result.kpis),
            "replicate_seeds": [seed_of(setup.scenario.seed, r) for r in result.kpis["replicate"]],
            "params": setup.params.as_dict(),
            "versions": versions(),
            "timings": {"seconds": result.seconds, **result.timings},
        }
    )


def write_run(directory: Path, result: RunResult) -> None:
    """Write one run's tables, summary and manifest into ``directory`` (not atomic by itself)."""
    directory.mkdir(parents=True, exist_ok=True)
    result.daily.to_parquet(directory / "daily.parquet", index=False)
    result.members.to_parquet(directory / "members.parquet", index=False)
    result.actions.to_parquet(directory / "actions.parquet", index=False)
    if result.firings is not None and result.conditions is not None:
        result.firings.to_parquet(directory / "firings.parquet", index=False)
        result.conditions.to_parquet(directory / "conditions.parquet", index=False)
    if result.activity is not None:
        result.activity.to_parquet(directory / "activity.parquet", index=False)
    if result.groups is not None:
        result.groups.to_parquet(directory / "groups.parquet", index=False)
    (directory / "summary.json").write_text(json.dumps(run_summary(result), indent=2))
    (directory / "manifest.json").write_text(json.dumps(manifest(result), indent=2, default=str))


def read_table(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet table the sandbox wrote, or a one-line error naming the file when it cannot be read."""
    import pyarrow as pa

    try:
        return pd.read_parquet(path, columns=columns)
    except FileNotFoundError:
        raise SandboxError("not found; was this folder written by the sandbox?", file=str(path)) from None
    except (OSError, ValueError, pa.ArrowException):
        raise SandboxError(
            "cannot be read as a table (damaged, cut short, or not Parquet); write the result again",
            file=str(path),
        ) from None
