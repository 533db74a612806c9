"""`sandbox report DIR`: what a sweep found, per design point, per parameter, by sensitivity.

Reads ``DIR/runs.parquet`` with DuckDB (embedded: the query runs over the Parquet file, not
over a DataFrame loaded whole) and writes into ``DIR/report/``:

- ``points.csv``: each design point's KPI means and 95% intervals over replicates;
- ``main_effects.csv`` and ``main_effects_<kpi>.png``: each swept value's mean KPI;
- with ``--sensitivity``: ``sensitivity.csv`` and ``sensitivity_<kpi>.png``: Sobol indices (S1,
  ST, each with its 95% half-interval) for a Sobol design, Morris mu* (with its interval) for a
  Morris design, computed with SALib; ``sensitivity_warning.txt`` when the design is too small
  for Sobol indices to mean much.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from sim.errors import SandboxError

DEFAULT_KPIS = ("members_end", "joined_total", "active_ratio_mean", "cost_total")


def _connect():
    import duckdb

    return duckdb.connect()


def report(out: str | Path, kpis: list[str] | None = None, sensitivity: bool = False) -> dict[str, pd.DataFrame]:
    """Write the report files; return the tables."""
    out = Path(out)
    runs_path, manifest_path = out / "runs.parquet", out / "manifest.json"
    if not runs_path.is_file() or not manifest_path.is_file():
        raise SandboxError("no sweep results here; run 'sandbox sweep ... --out DIR' first", file=str(out))
    try:
        manifest = json.loads(manifest_path.read_text())
        design = manifest["design"]
    except (OSError, ValueError, KeyError, TypeError):
        raise SandboxError("cannot be read (damaged, or not a sweep's manifest)", file=str(manifest_path)) from None
    con = _connect()
    quoted = runs_path.as_posix().replace("'", "''")  # a quote in a folder's name stays part of the name
    source = f"read_parquet('{quoted}')"
    try:
        columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    except duckdb.Error:
        raise SandboxError(
            "cannot be read as a table (damaged or not Parquet); run the sweep again", file=str(runs_path)
        ) from None
    kpis = list(kpis or [k for k in DEFAULT_KPIS if k in columns])
    unknown = [k for k in kpis if k not in columns]
    if unknown:
        known = sorted(
            c
            for c in columns
            if not c.startswith("param:")
            and c not in ("run_id", "point", "replicate", "seed", "status", "error", "seconds", "traceback")
        )
        raise SandboxError(f"unknown KPI {', '.join(unknown)}; known: {', '.join(known)}", place="--kpi")
    params = [f"param:{name}" for name in design["names"]]

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    stats = ", ".join(f"avg({q(k)}) AS {q(k + '_mean')}, stddev_samp({q(k)}) AS {q(k + '_sd')}" for k in kpis)
    group_cols = ", ".join(["point", *map(q, params)])
    points = con.execute(
        f"SELECT {group_cols}, count(*) AS runs, {stats} FROM {source} WHERE status = 'ok' "
        f"GROUP BY {group_cols} ORDER BY point"
    ).df()
    from scipy.special import stdtrit

    for k in kpis:
        half = stdtrit(np.maximum(points["runs"] - 1, 1), 0.975) * points[f"{k}_sd"] / np.sqrt(points["runs"])
        points[f"{k}_lo"] = points[f"{k}_mean"] - half
        points[f"{k}_hi"] = points[f"{k}_mean"] + half

    report_dir = out / "report"
    report_dir.mkdir(exist_ok=True)
    points.to_csv(report_dir / "points.csv", index=False)

    effects = []
    for param in params:
        means = ", ".join(f"avg({q(k)}) AS {q(k)}" for k in kpis)
        table = con.execute(
            f"SELECT {q(param)} AS value, count(*) AS runs, {means} FROM {source} WHERE status = 'ok' "
            f"GROUP BY {q(param)} ORDER BY {q(param)}"
        ).df()
        table.insert(0, "parameter", param[len("param:") :])
        effects.append(table)
    main_effects = pd.concat(effects, ignore_index=True) if effects else pd.DataFrame()
    main_effects.to_csv(report_dir / "main_effects.csv", index=False)
    if design["kind"] == "grid":
        _plot_effects(main_effects, kpis, report_dir)

    tables = {"points": points, "main_effects": main_effects}
    if sensitivity:
        tables["sensitivity"] = _sensitivity(design, points, kpis, report_dir)
    return tables


def _sensitivity(design: dict, points: pd.DataFrame, kpis: list[str], report_dir: Path) -> pd.DataFrame:
    kind = design["kind"]
    if kind not in ("sobol", "morris"):
        raise SandboxError(
            "sensitivity indices need a sampled design: sweep with --sample sobol or morris", place="--sensitivity"
        )
    problem = design["problem"]
    expected = len(design["points"])
    if len(points) != expected:
        raise SandboxError(
            f"sensitivity needs every design point, and {expected - len(points)} have no "
            "successful run; resume the sweep first",
            place="--sensitivity",
        )
    matrix = np.array([[p[n] for n in design["names"]] for p in design["points"]], dtype=float)
    rows = []
    for k in kpis:
        y = points.sort_values("point")[f"{k}_mean"].to_numpy(float)
        if kind == "sobol":
            from SALib.analyze import sobol

            result = sobol.analyze(problem, y, calc_second_order=False, print_to_console=False, seed=0)
            for name, s1, s1_conf, st, st_conf in zip(
                problem["names"], result["S1"], result["S1_conf"], result["ST"], result["ST_conf"]
            ):
                rows.append({"kpi": k, "parameter": name, "S1": s1, "S1_conf": s1_conf, "ST": st, "ST_conf": st_conf})
        else:
            from SALib.analyze import morris

            result = morris.analyze(problem, matrix, y, print_to_console=False, seed=0)
            for name, mu_star, conf, sigma in zip(
                problem["names"], result["mu_star"], result["mu_star_conf"], result["sigma"]
            ):
                rows.append({"kpi": k, "parameter": name, "mu_star": mu_star, "mu_star_conf": conf, "sigma": sigma})
    table = pd.DataFrame(rows)
    score = "ST" if kind == "sobol" else "mu_star"
    table["rank"] = table.groupby("kpi")[score].rank(ascending=False, method="first").astype(int)
    table = table.sort_values(["kpi", "rank"]).reset_index(drop=True)
    table.attrs["warning"] = _too_small(kind, table, expected, len(design["names"]))
    table.to_csv(report_dir / "sensitivity.csv", index=False)
    if table.attrs["warning"]:
        (report_dir / "sensitivity_warning.txt").write_text(table.attrs["warning"] + "\n")
    _plot_sensitivity(table, score, report_dir)
    return table


MIN_SOBOL_BASE = 64
"""Base samples (design points / (parameters + 2)) under which Sobol indices are rough at best."""


def _too_small(kind: str, table: pd.DataFrame, points: int, parameters: int) -> str:
    """A warning when the design is too small for its indices to mean much, or empty."""
    if kind != "sobol":
        return ""
    base = points // (parameters + 2)
    widest = float(np.nanmax(table["S1_conf"])) if len(table) else 0.0
    if base < MIN_SOBOL_BASE or widest > 0.3:
        return (
            f"warning: {points} design points ({base} per parameter block, widest 95% half-interval "
            f"{widest:.2f}): too few for Sobol indices to mean much; an S1 above 1 or below 0 is noise. "
            f"Sweep with --n {MIN_SOBOL_BASE} or more."
        )
    return ""


def _plot_effects(effects: pd.DataFrame, kpis: list[str], report_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for k in kpis:
        params = list(dict.fromkeys(effects["parameter"]))
        fig, axes = plt.subplots(1, max(len(params), 1), figsize=(4 * max(len(params), 1), 3), squeeze=False)
        for ax, param in zip(axes[0], params):
            rows = effects[effects["parameter"] == param]
            ax.plot(rows["value"].astype(str), rows[k], marker="o")
            ax.set_title(param, fontsize=9)
            ax.set_ylabel(k)
        fig.tight_layout()
        fig.savefig(report_dir / f"main_effects_{k}.png", dpi=90)
        plt.close(fig)


def _plot_sensitivity(table: pd.DataFrame, score: str, report_dir: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for k, rows in table.groupby("kpi"):
        fig, ax = plt.subplots(figsize=(5, 0.5 + 0.4 * len(rows)))
        ax.barh(rows["parameter"], rows[score], xerr=rows.get(f"{score}_conf"), capsize=3)
        ax.invert_yaxis()
        ax.set_xlabel(score)
        ax.set_title(k)
        fig.tight_layout()
        fig.savefig(report_dir / f"sensitivity_{k}.png", dpi=90)
        plt.close(fig)
