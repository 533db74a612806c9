"""``report.html`` of a search (``sandbox optimize``): what the re-evaluation found beside the
starting policy, with intervals; the search's history or its Pareto front; which knobs mattered.

A self-contained page (:mod:`sim.activity.pages`): pictures inlined, every text escaped.
"""

from __future__ import annotations

import warnings
from html import escape
from pathlib import Path

import pandas as pd

from sim.activity.pages import COLOURS, num, page, picture, write_whole


def _interval(summary: dict | None) -> str:
    if not summary or summary.get("mean") is None:
        return "–"
    lo, hi = summary["ci95"]
    return f"{num(summary['mean'])}" + ("" if lo is None else f" <span class='note'>[{num(lo)}, {num(hi)}]</span>")


def _candidates_table(document: dict, kpis: list[str]) -> str:
    head = "".join(f"<th>{escape(k)}</th><th>vs start</th>" for k in kpis)
    rows = []
    for c in document["reevaluated"]:
        params = "; ".join(f"{escape(str(k))} = {num(v)}" for k, v in c["params"].items()) or "as written"
        cells = "".join(
            f"<td class='n'>{_interval(c['kpis'].get(k))}</td><td class='n'>{_interval(c['kpis'].get(k, {}).get('vs_start'))}</td>"
            for k in kpis
        )
        rows.append(f"<tr><td>{escape(c['name'])}</td><td>{params}</td>{cells}</tr>")
    return f"<table><tr><th>candidate</th><th>values</th>{head}</tr>{''.join(rows)}</table>"


def _history(table: pd.DataFrame, goal) -> str:
    column = f"objective:{goal.kpi}"
    done = table[table["state"] == "complete"]

    def draw(ax) -> None:
        feasible = done["feasible"].fillna(True).astype(bool)
        ax.scatter(
            done.loc[feasible, "trial"],
            done.loc[feasible, column],
            s=14,
            color=COLOURS[0],
            label="trial (meets the constraints)",
        )
        if (~feasible).any():
            ax.scatter(
                done.loc[~feasible, "trial"],
                done.loc[~feasible, column],
                s=14,
                color="#bbbbbb",
                label="trial (does not)",
            )
        best = done[column].where(feasible)
        best = best.cummax() if goal.direction == "maximize" else best.cummin()
        ax.plot(done["trial"], best, color=COLOURS[1], label="best so far (the search's own estimate)")
        ax.set_xlabel("trial")
        ax.set_ylabel(goal.kpi)
        ax.set_title(f"the search: {goal.direction} {goal.kpi}")

    return picture(draw)


def _front(table: pd.DataFrame, document: dict, goals) -> str:
    x, y = goals[0].kpi, goals[1].kpi
    done = table[table["state"] == "complete"]
    front = {c["trial"] for c in document["reevaluated"][1:]}

    def draw(ax) -> None:
        ax.scatter(done[f"objective:{x}"], done[f"objective:{y}"], s=12, color="#bbbbbb", label="trials")
        on = done[done["trial"].isin(front)]
        ax.scatter(on[f"objective:{x}"], on[f"objective:{y}"], s=24, color=COLOURS[0], label="Pareto front (search)")
        for k, c in enumerate(document["reevaluated"]):
            mx, my = c["kpis"][x], c["kpis"][y]
            if mx["mean"] is None or my["mean"] is None:
                continue
            xe = 0 if mx["ci95"][0] is None else (mx["mean"] - mx["ci95"][0])
            ye = 0 if my["ci95"][0] is None else (my["mean"] - my["ci95"][0])
            ax.errorbar(
                mx["mean"],
                my["mean"],
                xerr=xe,
                yerr=ye,
                fmt="o",
                ms=5,
                color=COLOURS[1] if k else COLOURS[2],
                label=("re-evaluated (95% intervals)" if k == 1 else "start" if k == 0 else None),
            )
        ax.set_xlabel(f"{x} ({goals[0].direction})")
        ax.set_ylabel(f"{y} ({goals[1].direction})")
        ax.set_title("the trade-off: every trial, the front, and its re-evaluation")

    return picture(draw, size=(8, 4.2))


def _importances(study, goals) -> str:
    import optuna

    parts = []
    for k, goal in enumerate(goals):
        sign = -1.0 if goal.direction == "maximize" else 1.0  # PED-ANOVA asks what makes the target low

        def target(trial, k: int = k, sign: float = sign) -> float:
            return sign * float(trial.values[k])

        try:  # PED-ANOVA: Optuna's own, with no scikit-learn to install
            with warnings.catch_warnings():  # its note that low targets are what it explains: we made them so
                warnings.simplefilter("ignore", UserWarning)
                found = optuna.importance.get_param_importances(
                    study, target=target, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
                )
        except (RuntimeError, ValueError, ZeroDivisionError):
            continue  # too few trials, or no parameter varied
        rows = "".join(
            f"<tr><td>{escape(name)}</td><td class='n'>{num(float(v))}</td></tr>" for name, v in found.items()
        )
        parts.append(
            f"<h3>for {escape(goal.kpi)}</h3><table><tr><th>searched path</th><th>importance (PED-ANOVA)</th></tr>{rows}</table>"
        )
    if not parts:
        return "<p class='note'>Too few trials to tell which knobs mattered.</p>"
    return "".join(parts)


def write_report(path: Path, study, document: dict, goals, limits, table: pd.DataFrame) -> None:
    from sim.runs.optimization import reported_kpis

    kpis = reported_kpis(document)
    summary = (
        f"<p>Searched {escape('; '.join(document['search']))} for "
        f"{escape(', '.join(f'{g.direction} {g.kpi}' for g in goals))}"
        + (f", subject to {escape('; '.join(c.text for c in limits))}" if limits else "")
        + f". {document['trials']['complete']} trials of {document['replicates_a_trial']} replicates each "
        "(the same seeds for every trial).</p>"
    )
    if "best" in document:
        said = (
            f"<p><b>Best: {escape(str(document['best']))}</b>"
            + ("" if document["best_meets_constraints"] else " (no re-evaluated candidate met every constraint)")
            + ".</p>"
        )
        picture_html = _history(table, goals[0]) if len(table) else ""
    else:
        said = f"<p><b>Pareto front: {len(document['pareto'])} points</b> (pareto/*.yaml).</p>"
        picture_html = _front(table, document, goals) if len(table) else ""
    reeval = document["reevaluation"]
    body = (
        "<h1>Policy search</h1>"
        + summary
        + said
        + "<h2>Re-evaluated on fresh seeds</h2>"
        + f"<p class='note'>The best trials of a search are its luckiest draws. These candidates and the starting "
        f"policy were run again on {reeval['count']} replicates the search never saw (indices from {reeval['first']}); "
        "the figures below are those runs' means with 95% intervals, and each candidate's difference from the "
        "start, replicate by replicate.</p>"
        + _candidates_table(document, kpis)
        + "<h2>The search</h2>"
        + picture_html
        + "<h2>Which knobs mattered</h2>"
        + _importances(study, goals)
    )
    write_whole(path, page("Policy search", body))


__all__ = ["write_report"]
