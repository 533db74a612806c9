"""Pictures of a group's fingerprint for ``sandbox observe --plots DIR``: one PNG per group.

Four panels, each the curve behind one or more measures (same definitions as
:mod:`sim.activity.fingerprint`): distinct posters per week over the span (``daily_posters``,
``size_slope``), messages per poster by rank on log scales (``top1_share``, ``gini_posters``),
the monthly departure hazard by month of tenure (``hazard_m1_3``, ``hazard_m9_11``) and the gaps
between a member's active days (``gap_1d_share``, ``burstiness``).  Files are numbered
(``group-1.png``...); ``fingerprint.json`` beside them names the group of each, so no text from
an export ever becomes a file name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sim.activity.fingerprint import DAY, departures_by_month

TENURE_MONTHS = 24


def hazard_by_month(messages: pd.DataFrame, end: int, months: int = TENURE_MONTHS) -> np.ndarray:
    """The monthly departure hazard in each month of tenure 1..months (the fingerprint's definition)."""
    spans = messages.groupby("member", observed=True)["timestamp"].agg(["min", "max"])
    departures, at_risk = departures_by_month(spans["min"].to_numpy(), spans["max"].to_numpy(), end, months)
    return np.where(at_risk > 0, departures / np.maximum(at_risk, 1), np.nan)


def write_plots(events: pd.DataFrame, measures: dict[str, dict], folder: Path, source: str) -> None:
    """Write ``fingerprint.json`` and one PNG per group of ``events`` into ``folder``; ``measures``:
    their fingerprint (:func:`sim.activity.fingerprint.fingerprint`), already computed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    index = {}
    for number, (name, group) in enumerate(events.groupby("group", sort=True, observed=True), start=1):
        file = f"group-{number}.png"
        index[file] = {"group": str(name), "measures": measures[str(name)]}
        messages = group[group["kind"] == "message"]
        start, end = int(group["timestamp"].min()), int(group["timestamp"].max())
        fig, axes = plt.subplots(2, 2, figsize=(10, 7))
        day = (messages["timestamp"].to_numpy() - start) // DAY
        weekly = pd.DataFrame({"week": day // 7, "member": messages["member"].to_numpy()}).drop_duplicates()
        counts = weekly.groupby("week").size().reindex(range(int(day.max()) // 7 + 1 if len(day) else 1), fill_value=0)
        axes[0, 0].plot(counts.index, counts.to_numpy())
        axes[0, 0].set(title="distinct posters per week", xlabel="week", ylabel="posters")
        per_poster = messages.groupby("member", observed=True).size().sort_values(ascending=False).to_numpy()
        if len(per_poster):
            axes[0, 1].loglog(np.arange(1, len(per_poster) + 1), per_poster, marker=".", linestyle="none")
        axes[0, 1].set(title="messages per poster, by rank", xlabel="rank", ylabel="messages")
        axes[1, 0].bar(np.arange(1, TENURE_MONTHS + 1), hazard_by_month(messages, end))
        axes[1, 0].set(title="departure hazard by month of tenure", xlabel="month of tenure", ylabel="hazard")
        active = pd.DataFrame({"member": messages["member"].to_numpy(), "day": day}).drop_duplicates()
        gaps = active.sort_values(["member", "day"]).groupby("member")["day"].diff().dropna().to_numpy()
        if len(gaps):
            axes[1, 1].hist(gaps, bins=np.unique(np.geomspace(1, max(gaps.max(), 2) + 1, 30).astype(int)), log=True)
            axes[1, 1].set_xscale("log")
        axes[1, 1].set(title="gaps between active days", xlabel="days", ylabel="gaps")
        fig.suptitle(f"group {number} (see fingerprint.json)")
        fig.tight_layout()
        fig.savefig(folder / file, dpi=80)
        plt.close(fig)
    (folder / "fingerprint.json").write_text(json.dumps({"source": source, "plots": index}, indent=2))
