"""The Streamlit front end (minimal): compare two policies on one scenario.

    streamlit run dashboard.py

Thin by design: it loads files and calls :mod:`sim`; it never re-implements the model.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

import sim
from sim.experiment import compare
from sim.report import is_clear, verdict
from sim.store import clean, run_summary

ROOT = Path(__file__).resolve().parent
SCENARIOS = sorted(p.name for p in (ROOT / "scenarios").glob("*.yaml"))
POLICIES = sorted(p.name for p in (ROOT / "policies").glob("*.yaml"))


@st.cache_data(show_spinner=False)
def run_comparison(scenario: str, policy_a: str, policy_b: str, replicates: int, days: int):
    """Run A and B (cached by their names and settings); return plain, cacheable data."""
    sets = [f"days={days}"]
    a = sim.load_setup(ROOT / "scenarios" / scenario, ROOT / "policies" / policy_a, sets)
    b = sim.load_setup(ROOT / "scenarios" / scenario, ROOT / "policies" / policy_b, sets)
    result_a, result_b, diff = compare(a, b, replicates=replicates)
    daily = pd.concat([result_a.daily.assign(policy="A"), result_b.daily.assign(policy="B")])
    return run_summary(result_a), run_summary(result_b), clean(diff), daily


def main() -> None:
    st.set_page_config(page_title="Community policy sandbox", layout="wide")
    st.title("Community policy sandbox")
    st.caption("Compare two operating policies on one scenario, over seeded replicates.")
    with st.sidebar:
        scenario = st.selectbox("Scenario", SCENARIOS, index=SCENARIOS.index("existing-group.yaml"))
        policy_a = st.selectbox("Policy A", POLICIES, index=POLICIES.index("baseline.yaml"))
        policy_b = st.selectbox("Policy B", POLICIES, index=POLICIES.index("weekly-ritual.yaml"))
        replicates = st.slider("Replicates", 2, 30, 10)
        days = st.slider("Days", 30, 365, 180, step=10)
    try:
        a, b, diff, daily = run_comparison(scenario, policy_a, policy_b, replicates, days)
    except sim.SandboxError as exc:
        st.error(str(exc))
        return

    st.subheader(verdict(a, b, diff, days))
    cards = st.columns(4)
    for card, name in zip(cards, ("members_end", "active_ratio_mean", "mean_trust_end", "cost_total")):
        d = diff[name]
        card.metric(name, f"{b['kpis'][name]['mean']:.3g}", delta=f"{d['mean']:+.3g}",
                    help=f"B - A, 95% interval {d['ci95']}; {'clear' if is_clear(d) else 'noise'}")

    left, right = st.columns(2)
    means = daily.groupby(["policy", "day"], as_index=False)[["members", "active_ratio"]].mean()
    left.line_chart(means, x="day", y="members", color="policy")
    right.line_chart(means, x="day", y="active_ratio", color="policy")

    table = pd.DataFrame({
        "A": {k: v["mean"] for k, v in a["kpis"].items()},
        "B": {k: v["mean"] for k, v in b["kpis"].items()},
        "B - A": {k: v["mean"] for k, v in diff.items()},
        "95% interval": {k: str(v["ci95"]) for k, v in diff.items()},
        "verdict": {k: "clear" if is_clear(v) else "noise" for k, v in diff.items()},
    })
    st.dataframe(table, use_container_width=True)


main()
