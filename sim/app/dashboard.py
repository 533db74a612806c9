"""The Streamlit front end: compare policies, edit one live, replay a lifecycle, open results.

    sandbox dashboard          (or: streamlit run dashboard.py, from a checkout)

The page code lives in the package, so an installed ``sandbox dashboard`` has it; the
repository's top-level ``dashboard.py`` only calls :func:`main`.

Thin by design: it loads files, calls :mod:`sim` and plots what :mod:`sim.views` computes; it
never re-implements the model.  Runs are cached by scenario, policy text, horizon and
replicates (the seeds come from the scenario), so moving back to a setting is instant.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
from pathlib import Path

import altair as alt
import pandas as pd
import pyarrow as pa
import streamlit as st

from sim.app import views
from sim.app.across_fit import AGREEMENT_WORDS, HEADLINE, judged_across, region_candidates, sets_of
from sim.app.report import is_clear, judgement, verdict
from sim.config.files import parse_yaml
from sim.config.library import library_dir
from sim.config.scenario import Setup, load_scenario, load_setup
from sim.errors import SandboxError
from sim.runs import isolated
from sim.runs.experiment import interval, kpi_bounds, paired_difference
from sim.runs.store import clean

SCENARIO_DIR, POLICY_DIR = library_dir("scenarios"), library_dir("policies")
SCENARIOS = sorted(p.name for p in SCENARIO_DIR.glob("*.yaml"))
POLICIES = sorted(p.name for p in POLICY_DIR.glob("*.yaml"))
EDITED = "edited policy"
RESULTS_ENV = "SANDBOX_RESULTS_ROOT"  # set by `sandbox dashboard --results DIR`
LOG = logging.getLogger("sim.dashboard")
CARDS = ("members_end", "active_ratio_mean", "mean_trust_end", "cost_total")


# --- loading and running (cached) -----------------------------------------------------------


def policy_text(name: str) -> str:
    if name == EDITED:
        return st.session_state.get("edited_policy", (POLICY_DIR / "baseline.yaml").read_text())
    return (POLICY_DIR / name).read_text()


def scenario_path(scenario: str) -> Path:
    """The file of a scenario in the lists: a shipped one, or a group this session calibrated (in its
    private folder).  Any other name is refused: the dashboard reads only where it was told to."""
    if scenario in SCENARIOS:
        return SCENARIO_DIR / scenario
    own = st.session_state.get("own_groups", {})
    if scenario in own:
        return Path(own[scenario])
    raise SandboxError("choose a scenario from the list", place="scenario")


def scenario_names() -> list[str]:
    """Shipped scenarios, then the groups calibrated in this session ("Your group" page)."""
    return SCENARIOS + list(st.session_state.get("own_groups", {}))


def load(scenario: str, text: str, sets: list[str]) -> Setup:
    """A setup from a listed scenario and a policy's text: no file is written, none a policy names is read."""
    return load_setup(scenario_path(scenario), EDITED, sets, policy_text=text)


def plain(text: object) -> str:
    """Text shown as it is, never as markdown or HTML: every markdown character escaped.

    Streamlit renders markdown in headers, captions, messages and ``st.write``; a name or an
    error that quotes a user's file must not turn into a link, an image or a formula there.
    """
    return _MARKDOWN.sub(lambda m: "\\" + m.group(0), str(text)).replace("\n", "  \n")


_MARKDOWN = re.compile(r"[\\`*_{}\[\]<>()#+!|~$:]")


def _knobs_of(text: str) -> dict | None:
    """The editor's knob values read from a policy's text (bounded parsing), or None when unreadable."""
    try:
        data, _ = parse_yaml(text, file=EDITED)
        return _knob_values(data)
    except (SandboxError, ValueError, IndexError, AttributeError, TypeError):
        return None


FIRST_PASS = 1  # replicates run first, so the first charts appear while the rest run


@st.cache_data(show_spinner=False, max_entries=32)
def run_replicates(
    path: str, policies: tuple[tuple[str, str], ...], first: int, last: int, days: int, extra: tuple[str, ...] = ()
) -> list:
    """Replicates first..last-1 of every policy, on the same seeds; plain, cacheable tables.

    ``path``: the scenario's file, from :func:`scenario_path` (the cache keys on it, so two
    sessions' calibrated groups never share results); ``extra``: more ``--set`` overrides (a
    region candidate's parameters, :func:`sim.app.across_fit.sets_of`)."""
    sets = (f"days={days}", *extra)
    for _, text in policies:
        load_setup(path, EDITED, list(sets), policy_text=text)  # a mistake is one line here, before any worker starts
    out = []
    for _, text in policies:
        parts = isolated.replicates(path, text, sets, range(first, last))
        out.append(
            {
                "kpis": pd.DataFrame([p["kpis"] for p in parts]),
                "daily": pd.concat([p["daily"] for p in parts], ignore_index=True),
                "members": pd.concat(
                    [p["members"][["replicate", "join_day", "exit_day"]] for p in parts], ignore_index=True
                ),
            }
        )
    return out


def comparison(labels: list[str], chunks: list[list[dict]]) -> dict:
    """Join chunks of replicates into the tables, summaries and paired differences the view shows."""
    merged = []
    for i in range(len(labels)):
        parts = [chunk[i] for chunk in chunks]
        merged.append(
            {name: pd.concat([p[name] for p in parts], ignore_index=True) for name in ("kpis", "daily", "members")}
        )
    summaries = {}
    for label, m in zip(labels, merged):
        kpis = {
            k: interval(m["kpis"][k].to_numpy(), bounds=kpi_bounds(k)) for k in m["kpis"].columns if k != "replicate"
        }
        summaries[label] = clean({"policy": label, "replicates": len(m["kpis"]), "kpis": kpis})
    a = merged[0]["kpis"]
    return {
        "labels": labels,
        "summaries": summaries,
        "diffs": {label: clean(paired_difference(a, m["kpis"])) for label, m in zip(labels[1:], merged[1:])},
        "kpis": {label: m["kpis"] for label, m in zip(labels, merged)},
        "daily": pd.concat([m["daily"].assign(policy=label) for label, m in zip(labels, merged)], ignore_index=True),
        "members": pd.concat(
            [m["members"].assign(policy=label) for label, m in zip(labels, merged)], ignore_index=True
        ),
    }


@st.cache_data(show_spinner=False, max_entries=8)
def run_replay(scenario: str, text: str, seed: int) -> dict:
    setup = load(scenario, text, [f"seed={seed}"])
    (out,) = isolated.replicates(str(SCENARIO_DIR / scenario), text, (f"seed={seed}",), range(1), group_daily=True)
    return {
        "daily": out["daily"],
        "groups": out["groups"],
        "actions": out["actions"],
        "events": views.events(out["daily"], out["actions"], out["groups"]),
        "days": setup.scenario.days,
    }


# --- small helpers ----------------------------------------------------------------------------


# vl-convert's renderer is one runtime shared by every session of the server: one chart at a time.
# (Comments, not docstrings, at this module's top level: Streamlit runs it as its script and would
# show a bare string on the page.)
_CONVERT_LOCK = threading.Lock()
# Streamlit turns an Altair chart into Vega-Lite by registering Altair's data transformer, a
# process-wide setting, for the conversion: two sessions drawing at once put one's datasets in the
# other's ("dictionary changed size during iteration", streamlit#8409; seen under the load test).
# Every chart is drawn, and turned into a spec for its download, under one lock (a chart's own
# to_json goes through the same transformer); a conversion takes milliseconds.
_ALTAIR_LOCK = threading.Lock()


def draw_chart(where, chart: alt.TopLevelMixin, **options) -> None:
    """``where.altair_chart(chart, **options)`` (``where``: ``st`` or a column), one session at a time."""
    with _ALTAIR_LOCK:
        where.altair_chart(chart, **options)


def download_chart(chart: alt.TopLevelMixin, name: str, where: str = "compare") -> None:
    import vl_convert as vlc

    with _ALTAIR_LOCK:  # Altair's data transformer is process-wide: see draw_chart
        spec = chart.to_json()
    try:
        with _CONVERT_LOCK:
            png, svg = vlc.vegalite_to_png(spec), vlc.vegalite_to_svg(spec)
    except ValueError:  # a chart the converter cannot draw (a legend below no data at all has no size)
        LOG.exception("chart %s could not be converted for download", name)
        st.caption(f"{name}: no PNG or SVG download for this chart (see the server's log)")
        return
    left, right = st.columns(2)
    left.download_button(f"{name}.png", png, f"{name}.png", "image/png", key=f"{where}-png-{name}")
    right.download_button(f"{name}.svg", svg, f"{name}.svg", "image/svg+xml", key=f"{where}-svg-{name}")


def download_table(table: pd.DataFrame, name: str, where: str = "compare") -> None:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    left, right = st.columns(2)
    left.download_button(f"{name}.csv", table.to_csv(index=False), f"{name}.csv", "text/csv", key=f"{where}-csv-{name}")
    right.download_button(f"{name}.parquet", buffer.getvalue(), f"{name}.parquet", key=f"{where}-pq-{name}")


POLICY_COLOURS = alt.Scale(scheme="tableau10")
LEGEND_BELOW = alt.Legend(orient="bottom", title=None, symbolType="stroke", symbolStrokeWidth=3, labelLimit=200)


def shown_number(value: float | None, signed: bool = False) -> str:
    """A KPI as a card shows it: thousands separated, no exponent (15,700, not 1.57e+04)."""
    if value is None:
        return "-"
    sign = "+" if signed else ""
    if abs(value) >= 100:
        return f"{value:{sign},.0f}"
    if abs(value) >= 1:
        return f"{value:{sign},.2f}"
    return f"{value:{sign}.3f}"


def band_chart(daily: pd.DataFrame, column: str, title: str) -> alt.LayerChart:
    """Mean over replicates, with the 10-90% band, one colour per policy; the legend below the plot."""
    data = views.replicate_bands(daily, column)
    base = alt.Chart(data).encode(x=alt.X("day:Q", title="day"))
    band = base.mark_area(opacity=0.2).encode(
        y=alt.Y("lo:Q", title=title), y2="hi:Q", color=alt.Color("policy:N", scale=POLICY_COLOURS, legend=None)
    )
    line = base.mark_line(strokeWidth=2).encode(
        y="mean:Q", color=alt.Color("policy:N", scale=POLICY_COLOURS, legend=LEGEND_BELOW)
    )
    return (band + line).properties(title=alt.Title(title, anchor="start"), height=280)


# --- views ------------------------------------------------------------------------------------


def _channels_chart(scenario: str) -> None:
    """The scenario's acquisition channels at a glance: prospects in each pool at the start (P1).

    Drawn before the runs start, so the page's chart renderer is loaded while they run."""
    channels = pd.DataFrame(
        [{"channel": c.name, "prospects": c.pool_size} for c in load_scenario(scenario_path(scenario))[0].channels]
    )
    if len(channels):
        bars = (
            alt.Chart(channels)
            .mark_bar()
            .encode(
                x=alt.X("prospects:Q", title="prospects", axis=alt.Axis(format="~s")),
                y=alt.Y("channel:N", title=None, axis=alt.Axis(labelLimit=90)),
                tooltip=["channel", "prospects"],
            )
        )
        draw_chart(
            st,
            bars.properties(width=200, height=max(130, 25 * len(channels) + 90), title="Prospects by channel"),
            width="content",
        )


DEFAULT_SCENARIO = "existing-group.yaml"


def _follow_scenario(scenario: str) -> None:
    """Set the Days and Replicates sliders to a scenario's own values when the scenario is first shown
    or changed (a value the visitor set for the same scenario stays)."""
    if st.session_state.get("_sliders_for") == scenario:
        return
    first = "_sliders_for" not in st.session_state
    st.session_state["_sliders_for"] = scenario
    own = load_scenario(scenario_path(scenario))[0]
    for key, value in (
        ("days", min(max(own.days, 30), 365) // 10 * 10),
        ("replicates", min(max(own.replicates, 2), 30)),
    ):
        if not (first and key in st.session_state):  # a value set before the first run (a test, a link) stays
            st.session_state[key] = value


def compare_view() -> None:
    with st.sidebar:
        st.header("Compare")
        names = scenario_names()
        scenario = st.selectbox("Scenario", names, index=names.index(DEFAULT_SCENARIO), key="scenario")
        _follow_scenario(scenario)
        options = POLICIES + ([EDITED] if "edited_policy" in st.session_state else [])
        chosen = st.multiselect(
            "Policies (the first is A, the baseline)",
            options,
            default=["baseline.yaml", "weekly-ritual.yaml"],
            key="policies",
        )
        replicates = st.slider("Replicates", 2, 30, key="replicates")
        days = st.slider("Days", 30, st.session_state.get("_days_max", 365), step=10, key="days")
        region = _region_of(scenario)
        across_fit = bool(region) and st.checkbox(
            f"Also across the fit's region ({len(region)} candidates)",
            key="across_fit",
            help="Run the comparison again under each candidate that fits the group's export as well as the "
            "fit, and say whether each verdict holds under all of them (as many more runs).",
        )
        _channels_chart(scenario)
    if len(chosen) < 2:
        st.info("Pick at least two policies to compare.")
        return
    policies = tuple((name.removesuffix(".yaml"), policy_text(name)) for name in chosen)
    labels = [label for label, _ in policies]
    view = st.empty()
    started = time.perf_counter()
    try:
        first = min(FIRST_PASS, replicates)
        path = str(scenario_path(scenario))
        chunks = [run_replicates(path, policies, 0, first, days)]
        if first < replicates:  # draw the first replicates at once, then the rest
            with view.container():
                st.caption(f"{first} of {replicates} replicates so far; the rest are running...")
                _comparison_body(comparison(labels, chunks), days, final=False)
            chunks.append(run_replicates(path, policies, first, replicates, days))
        data = comparison(labels, chunks)
        st.session_state["last_comparison"] = data
    except SandboxError as exc:
        st.error(plain(exc))
        last = st.session_state.get("last_comparison")
        if last is None:
            return
        data = last
        st.caption("Showing the last good results.")
    with view.container():
        st.caption(
            f"{len(data['labels'])} policies x {replicates} replicates, {days} days: "
            f"{time.perf_counter() - started:.1f} s"
        )
        _comparison_body(data, days, final=True)
    if across_fit:
        _across_region(path, policies, labels, data, region, replicates, days)


def _region_of(scenario: str) -> list[dict[str, float]]:
    """The region candidates of a group calibrated in this session (none for a shipped scenario,
    or where its fit holds none)."""
    if scenario not in st.session_state.get("own_groups", {}):
        return []
    try:
        return region_candidates(scenario_path(scenario))
    except SandboxError:
        return []


def _across_region(
    path: str, policies: tuple, labels: list[str], data: dict, region: list, replicates: int, days: int
) -> None:
    """The comparison under each region candidate, and each headline KPI's verdict across them."""
    a = labels[0]

    def judged(one: dict) -> dict:
        base = one["summaries"][a]["kpis"]
        return {
            label: {k: (d, judgement(d, base[k]["mean"])) for k, d in one["diffs"][label].items()}
            for label in labels[1:]
        }

    with st.spinner(f"Running the comparison under the fit's {len(region)} region candidates..."):
        others = [
            judged(comparison(labels, [run_replicates(path, policies, 0, replicates, days, tuple(sets_of(c)))]))
            for c in region
        ]
    fitted = judged(data)
    for label in labels[1:]:
        kpis = judged_across(fitted[label], [o[label] for o in others])
        st.subheader(f"Across the fit's region: {plain(label)} against {plain(a)}")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "KPI": name,
                        "B - A, the fit": kpis[name]["fit"],
                        "B - A, the region": _span(kpis[name]["region"]),
                        "verdict": AGREEMENT_WORDS[kpis[name]["agreement"]],
                    }
                    for name in HEADLINE
                    if name in kpis
                ]
            ),
            hide_index=True,
        )
    st.caption(
        f"Under the fit and under {len(region)} candidates that fit the group's export as well (spread across "
        "its parameters' intervals), each on the same replicates."
    )


def _comparison_body(data: dict, days: int, final: bool) -> None:
    """Verdicts, cards, charts and tables of a comparison (partial while replicates still run)."""
    a = data["labels"][0]
    for label in data["labels"][1:]:
        diff, summary_a, summary_b = data["diffs"][label], data["summaries"][a], data["summaries"][label]
        st.subheader(f"{plain(label)} against {plain(a)}")
        if final:
            st.write(verdict(summary_a, summary_b, diff, days).replace("B ", f"{plain(label)} ", 1))
        else:
            st.write("First replicate only: the verdict follows with the rest.")
        for card, name in zip(st.columns(len(CARDS)), CARDS):
            d = diff[name]
            lo, hi = d["ci95"]
            spread = (
                f"95% interval [{lo:.3g}, {hi:.3g}]; {'clear' if is_clear(d) else 'not distinguishable from noise'}"
                if lo is not None
                else "the interval needs two replicates or more"
            )
            card.metric(
                name,
                shown_number(summary_b["kpis"][name]["mean"]),
                delta=shown_number(d["mean"], signed=True),
                help=f"{label} - {a}; {spread}",
            )

    daily = data["daily"]
    charts = {column: band_chart(daily, column, title) for column, title in views.SERIES.items()}
    columns = st.columns(3)
    for i, chart in enumerate(charts.values()):
        draw_chart(columns[i % 3], chart, width="stretch")

    if not final:
        return
    left, right = st.columns(2)
    cohort_policy = left.selectbox(
        "Cohort retention for", data["labels"], index=len(data["labels"]) - 1, key="cohort_policy"
    )
    cohorts = views.cohort_retention(data["members"][data["members"]["policy"] == cohort_policy], days)
    heat = (
        alt.Chart(cohorts)
        .mark_rect()
        .encode(
            x=alt.X("period:O", title="weeks since joining"),
            y=alt.Y("cohort:O", title="join week"),
            color=alt.Color("mean(retention):Q", scale=alt.Scale(domain=[0, 1]), title="retained"),
        )
        .properties(title=f"Retention by join cohort: {cohort_policy}", height=260)
    )
    draw_chart(left, heat, width="stretch")
    lost = views.churn_by_cause(data["kpis"])
    causes = (
        alt.Chart(lost)
        .mark_bar()
        .encode(
            x=alt.X("members:Q", title="members lost (mean)"),
            y=alt.Y("cause:N", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
            color=alt.Color("policy:N", scale=POLICY_COLOURS, legend=LEGEND_BELOW),
            yOffset="policy:N",
        )
        .properties(title="Churn by cause", height=alt.Step(9 * max(1, len(data["labels"]))))
    )
    draw_chart(right, causes, width="stretch")
    cost = (
        alt.Chart(views.cost_outcome(data["kpis"]))
        .mark_point(filled=True)
        .encode(
            x=alt.X("cost_total:Q", title="total cost"),
            y=alt.Y("members_end:Q", title="members at the end"),
            color=alt.Color("policy:N", scale=POLICY_COLOURS, legend=LEGEND_BELOW),
            tooltip=["policy", "replicate", "cost_total", "members_end"],
        )
        .properties(title="Cost against outcome (one point per replicate)", height=260)
    )
    draw_chart(st, cost, width="stretch")

    table = pd.DataFrame(
        {label: {k: v["mean"] for k, v in data["summaries"][label]["kpis"].items()} for label in data["labels"]}
    )
    for label in data["labels"][1:]:
        table[f"{label} - {a}"] = {k: v["mean"] for k, v in data["diffs"][label].items()}
        base = data["summaries"][a]["kpis"]
        table[f"{label}: verdict"] = {k: judgement(v, base[k]["mean"]) for k, v in data["diffs"][label].items()}
    st.dataframe(table, width="stretch")
    with st.expander("Downloads"):
        download_table(daily, "daily")
        download_table(pd.concat([k.assign(policy=p) for p, k in data["kpis"].items()]), "kpis")
        download_chart(charts["members"], "members")
        download_chart(cost, "cost-vs-outcome")


KNOBS = {  # slider key -> (label, min, max, step)
    "knob_threshold": ("Entry threshold (minimum interest)", 0.0, 0.9, 0.05),
    "knob_cap": ("Group size cap", 10, 1000, 10),
    "knob_posts": ("Operator posts per week", 0.0, 70.0, 1.0),
    "knob_prune": ("Prune after N inactive days (0 = never)", 0, 90, 1),
    "knob_points": ("Points per post", 0.0, 20.0, 0.5),
}


def _knob_values(policy: dict) -> dict:
    when = (policy.get("admission") or {}).get("when") or ""
    threshold = float(when.split(">=")[1]) if when.startswith("interest >=") else 0.0
    prune = next((r for r in policy.get("rules") or [] if r.get("name") == "prune-inactive"), None)
    return {
        "knob_threshold": threshold,
        "knob_cap": int((policy.get("groups") or {}).get("cap") or 500),
        "knob_posts": float((policy.get("content") or {}).get("operator_posts_per_week", 3.0)),
        "knob_prune": int(prune["when"].split(">=")[1]) if prune else 0,
        "knob_points": float(((policy.get("rewards") or {}).get("points") or {}).get("post", 0.0)),
    }


def _apply_knobs() -> None:
    """Write the sliders' values back into the policy text (on a slider's change).

    The text is checked by the bounded parser first (size, depth, aliases), then edited in place
    by ruamel.yaml's round-trip mode, so the writer's comments, order and quoting survive a slider."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        parse_yaml(st.session_state["editor_text"], file=EDITED)
        rt = YAML(typ="rt")
        rt.preserve_quotes = True
        policy = rt.load(st.session_state["editor_text"])
    except (SandboxError, YAMLError):
        return
    if not isinstance(policy, dict):
        return
    s = st.session_state
    threshold = s["knob_threshold"]
    if threshold > 0:
        policy.setdefault("admission", {})["when"] = f"interest >= {threshold:g}"
    elif isinstance(policy.get("admission"), dict):
        policy["admission"].pop("when", None)  # no threshold: no condition, rather than 'when: null'
    policy.setdefault("groups", {})["cap"] = int(s["knob_cap"])
    policy.setdefault("content", {})["operator_posts_per_week"] = float(s["knob_posts"])
    rules = [r for r in policy.get("rules") or [] if r.get("name") != "prune-inactive"]
    if s["knob_prune"] > 0:
        rules.append({"name": "prune-inactive", "when": f"days_inactive >= {int(s['knob_prune'])}", "do": "remove"})
    policy["rules"] = rules
    policy.setdefault("rewards", {}).setdefault("points", {})["post"] = float(s["knob_points"])
    text = io.StringIO()
    rt.dump(policy, text)
    s["editor_text"] = text.getvalue()


def editor_view() -> None:
    st.subheader("Policy editor")
    base = st.selectbox("Start from", POLICIES, index=POLICIES.index("baseline.yaml"), key="editor_base")
    if st.session_state.get("editor_loaded") != base:
        st.session_state["editor_text"] = (POLICY_DIR / base).read_text()
        st.session_state["editor_loaded"] = base
    text = st.session_state["editor_text"]
    values = _knobs_of(text)
    if values is not None and st.session_state.get("knobs_for") != text:
        st.session_state.update(values)
        st.session_state["knobs_for"] = text
    left, right = st.columns([3, 2])
    with right:
        for key, (label, lo, hi, step) in KNOBS.items():
            st.slider(label, lo, hi, step=step, key=key, on_change=_apply_knobs, disabled=values is None)
    with left:
        st.text_area("Policy (YAML)", key="editor_text", height=420)
        text = st.session_state["editor_text"]
        scenario = st.session_state.get("scenario", DEFAULT_SCENARIO)
        try:
            load(scenario, text, [])
        except SandboxError as exc:
            st.error(plain(exc))
        else:
            st.session_state["edited_policy"] = text
            st.success(f"Valid against {scenario}; choose '{EDITED}' under Compare to run it.")
        st.download_button("Download the edited policy", text, "edited-policy.yaml", "text/yaml")


def replay_view() -> None:
    st.subheader("Lifecycle replay")
    left, middle, right = st.columns(3)
    scenario = left.selectbox(
        "Scenario", SCENARIOS, index=SCENARIOS.index("birth-to-death.yaml"), key="replay_scenario"
    )
    own = load_scenario(SCENARIO_DIR / scenario)[0]
    default = Path(own.policy or "").name if Path(own.policy or "").name in POLICIES else "baseline.yaml"
    if st.session_state.get("_replay_for") != scenario:  # a scenario chosen: its own policy and seed
        if "_replay_for" in st.session_state or "replay_policy" not in st.session_state:
            st.session_state["replay_policy"] = default
            st.session_state["replay_seed"] = int(own.seed) % 10_001
        st.session_state["_replay_for"] = scenario
    policy = middle.selectbox("Policy", POLICIES, key="replay_policy")
    seed = right.number_input("Seed", 0, 10_000, key="replay_seed")
    try:
        data = run_replay(scenario, policy_text(policy), int(seed))
    except SandboxError as exc:
        st.error(plain(exc))
        return
    days = data["days"]
    if st.session_state.get("replay_day", days) > days - 1:
        st.session_state["replay_day"] = days - 1
    play = st.button("Play", key="replay_play")
    st.slider("Day", 0, days - 1, key="replay_day")
    frame = st.empty()
    if play:
        step = max(1, days // 60)
        for day in range(0, days, step):
            with frame.container():
                _replay_frame(data, day)
            time.sleep(0.03)
    with frame.container():
        _replay_frame(data, int(st.session_state["replay_day"]))


def _replay_frame(data: dict, day: int) -> None:
    daily, groups, events = data["daily"], data["groups"], data["events"]
    today = daily[daily["day"] == day].iloc[0]
    cards = st.columns(4)
    cards[0].metric("stage", today["stage"])
    cards[1].metric("members", int(today["members"]))
    cards[2].metric("active today", int(today["active"]))
    cards[3].metric("member messages", int(today["member_messages"]))
    upto = daily[daily["day"] <= day]
    last = int(daily["day"].max())
    days_axis = alt.X("day:Q", title="day", scale=alt.Scale(domain=[0, last]))
    series = upto.melt("day", list(REPLAY_SERIES), var_name="series").replace({"series": REPLAY_SERIES})
    lines = (
        alt.Chart(series)
        .mark_line(strokeWidth=1.5)
        .encode(
            x=days_axis,
            y=alt.Y("value:Q", title="members / messages a day"),
            color=alt.Color(
                "series:N", scale=alt.Scale(scheme="tableau10"), legend=alt.Legend(title=None, orient="bottom")
            ),
        )
    )
    marks = (
        alt.Chart(events[events["day"] <= day])
        .mark_rule(opacity=0.5, strokeDash=[3, 3])
        .encode(
            x="day:Q",
            color=alt.Color(
                "event:N", scale=alt.Scale(scheme="set2"), legend=alt.Legend(title="events", orient="right")
            ),
            tooltip=["day", "event"],
        )
    )
    draw_chart(
        st,
        (lines + marks).resolve_scale(color="independent").properties(height=380, title="Members, messages and events"),
        width="stretch",
    )
    bands = views.stage_bands(upto)
    # bars on one row (Streamlit's theme draws no rect marks without a y channel)
    strip = (
        alt.Chart(bands.assign(row="stage"))
        .mark_bar()
        .encode(
            x=alt.X("start:Q", title="day", scale=alt.Scale(domain=[0, last + 1])),
            x2="end:Q",
            y=alt.Y("row:N", title=None),
            color=alt.Color("stage:N", scale=alt.Scale(scheme="tableau10"), legend=alt.Legend(orient="right")),
            tooltip=["stage", "start", alt.Tooltip("end:Q", title="until")],
        )
    )
    changes = (
        alt.Chart(bands[bands["start"] > 0].assign(row="stage"))
        .mark_text(align="left", dx=2, dy=-16, fontSize=11)
        .encode(x="start:Q", y=alt.Y("row:N", title=None), text=alt.Text("start:Q"))
    )
    # Streamlit gives a chart its 'height' in all, title, axis and legend included: room for a band of ~40 px
    draw_chart(
        st,
        (strip + changes).properties(height=180, title="Stage of the community (days of each change)"),
        width="stretch",
    )
    on_day = groups[groups["day"] == day].drop(columns=["replicate"], errors="ignore")
    if len(on_day):
        largest = on_day.sort_values("size", ascending=False).iloc[0]
        names = [c for c in on_day.columns if c.startswith("health_")]
        parts = pd.DataFrame(
            {"part": [c[len("health_") :].replace("_", " ") for c in names], "value": [largest[c] for c in names]}
        )
        health = (
            alt.Chart(parts)
            .mark_bar()
            .encode(
                x=alt.X("value:Q", title="score (0 to 1)", scale=alt.Scale(domain=[0, 1])),
                y=alt.Y("part:N", sort=None, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
                tooltip=["part", alt.Tooltip("value:Q", format=".2f")],
            )
        )
        draw_chart(
            st,
            health.properties(height=alt.Step(24), title=f"Health of group {int(largest['group'])} (G4)"),
            width="stretch",
        )
    st.dataframe(on_day, width="stretch")


REPLAY_SERIES = {
    "members": "members",
    "active": "active members",
    "member_messages": "messages by members",
    "operator_messages": "messages by operators",
    "spam_messages": "ads (spam)",
}


def results_root() -> Path:
    """The one folder the Results view may read: ``sandbox dashboard --results DIR`` (default ./results)."""
    return Path(os.environ.get(RESULTS_ENV, "results")).resolve()


def result_folders(root: Path, depth: int = 3, limit: int = 500) -> list[str]:
    """Folders under ``root`` that hold a run, a comparison, a sweep or a calibration, as paths relative
    to it (symlinks not followed)."""
    found: list[str] = []
    if not root.is_dir():
        return found
    for folder, dirs, files in os.walk(root, followlinks=False):
        here = Path(folder)
        if len(here.relative_to(root).parts) >= depth:
            dirs[:] = []
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if {"runs.parquet", "daily.parquet", "comparison.json", "fit.json"} & set(files):
            found.append(str(here.relative_to(root)))
            if len(found) >= limit:
                break
    return found


def results_view() -> None:
    st.subheader("Results on disk")
    root = results_root()
    folders = result_folders(root)
    if not folders:
        st.info(
            "No results under the results folder. Write some with 'sandbox run ... --out results/NAME', "
            "or start the dashboard with 'sandbox dashboard --results DIR'."
        )
        return
    choice = st.selectbox("A result under the results folder", folders, key="results_dir")
    if choice not in folders:
        st.error("Choose a folder from the list.")
        return
    path = (root / choice).resolve()
    if not path.is_relative_to(root):  # a symlinked folder that leads out of the root
        st.error("That folder is outside the results folder.")
        return
    try:
        _show_result(path)
    except (OSError, ValueError, KeyError, json.JSONDecodeError, pa.ArrowException):
        LOG.exception("cannot read results in %s", path)
        st.error("These results cannot be read (a file is missing or damaged); the details are in the server's log.")


def _show_result(path: Path) -> None:
    if (path / "runs.parquet").is_file():
        _show_sweep(path)
        return
    if (path / "comparison.json").is_file():
        _show_comparison(path)
        return
    if (path / "fit.json").is_file():
        _show_fit(path / "fit.json", compare_hint=False)
        return
    summary = json.loads((path / "summary.json").read_text())
    st.write(
        f"Run: scenario {plain(summary['scenario'])}, policy {plain(summary['policy'])}, "
        f"{int(summary['replicates'])} replicates"
    )
    st.dataframe(pd.DataFrame(summary["kpis"]).T)
    daily = pd.read_parquet(path / "daily.parquet").assign(policy=str(summary["policy"]))
    draw_chart(st, band_chart(daily, "members", "members"), width="stretch")
    for name in ("daily", "members", "actions"):
        with st.expander(name):
            table = pd.read_parquet(path / f"{name}.parquet")
            st.dataframe(table.head(1000))
            download_table(table, name, "results")


SWEEP_KPIS = ("members_end", "retention_d30", "active_ratio_mean", "cost_total")


def _show_sweep(path: Path) -> None:
    """A sweep: each design point's KPIs as the mean over its replicates with a 95% interval."""
    runs = pd.read_parquet(path / "runs.parquet")
    st.write(f"Sweep: {len(runs)} runs, {int((runs['status'] != 'ok').sum())} failed")
    params = [c for c in runs.columns if c.startswith("param:")] or ["point"]
    kpis = [c for c in SWEEP_KPIS if c in runs]
    rows = []
    for point, group in runs[runs["status"] == "ok"].groupby(params):
        row = dict(zip(params, point if isinstance(point, tuple) else (point,)))
        row["replicates"] = len(group)
        for kpi in kpis:
            value = interval(group[kpi].to_numpy(float), bounds=kpi_bounds(kpi))
            lo, hi = value["ci95"]
            row[kpi] = value["mean"]
            row[f"{kpi} 95%"] = "" if lo is None else f"{lo:.4g} to {hi:.4g}"
        rows.append(row)
    table = pd.DataFrame(rows)
    st.dataframe(table, hide_index=True)
    if rows and kpis and params != ["point"]:  # main effects: each swept value's mean with its interval
        kpi = st.selectbox("KPI", kpis, key="sweep_kpi")
        for param in params:
            effect = table.groupby(param)[kpi].mean().reset_index().rename(columns={param: "value", kpi: "mean"})
            spread = runs[runs["status"] == "ok"].groupby(param)[kpi]
            bounds = [interval(g.to_numpy(float), bounds=kpi_bounds(kpi))["ci95"] for _, g in spread]
            effect["lo"], effect["hi"] = [b[0] for b in bounds], [b[1] for b in bounds]
            # plain column names: a ':' in a field name would read as Altair's type shorthand
            base = alt.Chart(effect).encode(x=alt.X("value:Q", title=param.removeprefix("param:")))
            chart = base.mark_line(point=True).encode(y=alt.Y("mean:Q", title=kpi)) + base.mark_errorbar().encode(
                y="lo:Q", y2="hi:Q"
            )
            draw_chart(
                st,
                chart.properties(height=260, title=f"{kpi} by {param.removeprefix('param:')} (95% interval)"),
                width="stretch",
            )
    if rows and min(r["replicates"] for r in rows) < 5:
        st.caption("Some points have fewer than 5 replicates: their intervals are rough.")
    download_table(runs, "runs", "results")


def _show_comparison(path: Path) -> None:
    """A comparison written by ``sandbox compare --out``: verdicts, the KPI table, members over time."""
    document = json.loads((path / "comparison.json").read_text())
    pairs = [{k: document[k] for k in ("B", "diff", "verdict")}, *document.get("more", [])]
    a = document["A"]
    st.write(plain(f"Comparison on {a['scenario']}: {a['replicates']} replicates per policy"))
    for pair in pairs:
        st.markdown(f"**{plain(pair['B']['policy'])}** against **{plain(a['policy'])}**")
        st.write(plain(pair["verdict"]["text"]))
        rows = [
            {
                "KPI": name,
                "A": a["kpis"][name]["mean"],
                "B": pair["B"]["kpis"][name]["mean"],
                "B - A": d["mean"],
                "95% interval": "" if d["ci95"][0] is None else f"{d['ci95'][0]:.4g} to {d['ci95'][1]:.4g}",
                "verdict": judgement(d, a["kpis"][name]["mean"]),
            }
            for name, d in pair["diff"].items()
        ]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    sides = sorted(p for p in path.iterdir() if p.is_dir() and (p / "daily.parquet").is_file())
    daily = pd.concat(
        [
            pd.read_parquet(side / "daily.parquet").assign(
                policy=str(json.loads((side / "summary.json").read_text())["policy"])
            )
            for side in sides
        ],
        ignore_index=True,
    )
    draw_chart(st, band_chart(daily, "members", "Members"), width="stretch")
    if (path / "report.html").is_file():
        st.download_button(
            "Download the report (HTML)",
            (path / "report.html").read_bytes(),
            "report.html",
            "text/html",
            key="results_report",
        )


# --- your group: an export, its fingerprint, a calibration ---------------------------------

MAX_UPLOAD_BYTES = 50 * 1024**2
UPLOAD_SUFFIXES = (".csv.gz", ".parquet", ".json", ".csv", ".txt", ".zip")


def _private_folder() -> Path:
    """This session's own temporary folder (mode 0700): the only place the page writes."""
    import tempfile

    folder = st.session_state.get("private_folder")
    if folder is None or not Path(folder).is_dir():
        folder = tempfile.mkdtemp(prefix="sandbox-group-")
        st.session_state["private_folder"] = folder
    return Path(folder)


def _saved_upload(upload) -> tuple[Path, str]:
    """The uploaded export, saved in the private folder under a name of the tool's choosing (only its
    suffix is kept, from a fixed list, so the format can be told), and its digest.  Written once per
    upload, not on every rerun of the page."""
    import hashlib

    data = upload.getvalue()
    if len(data) > MAX_UPLOAD_BYTES:
        raise SandboxError(
            f"the export is {len(data) / 1e6:.0f} MB; the dashboard takes at most 50 MB (use the command line)"
        )
    name = upload.name.lower()
    suffix = next((s for s in UPLOAD_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        raise SandboxError(f"an export ends in one of: {', '.join(UPLOAD_SUFFIXES)}", place="upload")
    path = _private_folder() / f"export{suffix}"
    digest = hashlib.sha256(data).hexdigest()
    if st.session_state.get("own_upload_saved") != (str(path), digest) or not path.is_file():
        path.write_bytes(data)
        st.session_state["own_upload_saved"] = (str(path), digest)
    return path, digest


@st.cache_data(show_spinner=False, max_entries=4)
def _fingerprint_of(path: str, digest: str) -> dict:
    from sim.activity.fingerprint import fingerprint
    from sim.activity.formats import read_activity

    return fingerprint(read_activity(path))


def your_group_view() -> None:
    """Upload an export, see its fingerprint, calibrate the model on it, then compare on it."""

    st.subheader("Your group")
    st.caption(
        "Upload an export of your group (any format 'sandbox observe' reads, at most 50 MB). It stays in a "
        "private temporary folder on the server; members' names are never shown."
    )
    upload = st.file_uploader("Export", key="own_upload")
    if upload is None:
        return
    path, digest = _saved_upload(upload)
    groups = _fingerprint_of(str(path), digest)
    labels = [f"group {i + 1} ({m['messages']:,} messages)" for i, m in enumerate(groups.values())]
    which = st.selectbox("Group", range(len(labels)), format_func=lambda i: labels[i], key="own_group")
    name, measures = list(groups.items())[which]
    st.dataframe(
        pd.DataFrame({"measure": list(measures), "value": ["-" if v is None else str(v) for v in measures.values()]}),
        hide_index=True,
    )
    budget = st.slider("Candidates to simulate", 16, 512, 64, step=8, key="own_budget")
    if st.button("Calibrate", key="own_calibrate"):
        _run_calibration(path, name, budget, len(st.session_state.get("own_groups", {})) + 1)
    fit_path = st.session_state.get("own_fit")
    if fit_path and Path(fit_path).is_file():
        _show_fit(Path(fit_path))


def _run_calibration(export: Path, group: str, budget: int, number: int) -> None:
    """Calibrate in a separate process (the server keeps serving), showing its progress."""
    import multiprocessing as mp

    out = _private_folder() / f"fit-{number}"
    progress = _private_folder() / f"progress-{number}.json"
    process = mp.get_context("spawn").Process(
        target=isolated.calibrate_job,
        args=(str(export), group, str(out), budget, str(progress), os.getpid()),
        daemon=True,
    )
    bar = st.progress(0.0, text="starting the simulations...")

    def shown(state: dict) -> None:
        best = "none yet" if state["best"] is None else f"{state['best']:.3f}"
        bar.progress(
            min(1.0, state["done"] / state["budget"]),
            text=f"{state['done']} of {state['budget']} candidates; best distance {best}",
        )

    state = _watch(process, progress, shown, "calibration")
    if "error" in state:
        bar.empty()
        st.error(plain(state["error"]))
        return
    bar.progress(1.0, text="done")
    own = dict(st.session_state.get("own_groups", {}))
    own[f"your group {number} (calibrated)"] = str(out / "scenario.yaml")
    st.session_state["own_groups"] = own
    st.session_state["own_fit"] = str(out / "fit.json")
    st.rerun()  # again from the top, so the Compare view's list holds the new group


def _watch(process, progress: Path, shown, job: str) -> dict:
    """Start a job's process and show its progress file (``shown(state)``) until it ends; return
    its last state (an ``error`` in it is one line for the page)."""
    process.start()
    while process.is_alive():
        time.sleep(0.5)
        try:
            state = json.loads(progress.read_text())
        except (OSError, ValueError):
            continue
        if "error" in state or "finished" in state:
            break
        shown(state)
    process.join()
    try:
        return json.loads(progress.read_text())
    except (OSError, ValueError):
        return {"error": f"the {job} stopped before it began; details are in the server's log"}


def _span(pair: list | None) -> str:
    """An interval as the dashboard's tables show it (empty where there is none)."""
    return "" if not pair else f"{pair[0]:.3g} to {pair[1]:.3g}"


def _show_fit(path: Path, compare_hint: bool = True) -> None:
    from sim.activity.fit_report import EDGE_WORDS, choice_note

    fit = json.loads(path.read_text())
    st.markdown("**Fit**: observed against simulated")
    rows = [
        {
            "measure": name,
            "observed": m["observed"],
            "interval": _span(m["interval"]),
            "simulated": m["simulated"],
            "met": "met" if m.get("met") else "",
            "a run's range": _span(m.get("predicted")),
            "plausible": "yes" if m.get("plausible") else "",
        }
        for name, m in fit["measures"].items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(
        "met: the simulated value within the observed interval or 25% of the observed value. "
        "a run's range: where 95% of the fitted model's runs fall; plausible: the observed value lies in it "
        "(the export could be a run of the fitted model)."
    )
    if note := choice_note(fit):  # numbers only: nothing of the export's is in it
        st.caption(f"The fit was {note}.")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "parameter": n,
                    "fitted": p["value"],
                    "interval": _span(p["interval"]),
                    "pinned down": "no" if p.get("pinned") is False else "yes",
                    "default": p["default"],
                    "at an edge of the searched range": EDGE_WORDS.get(p.get("at_edge") or "", ""),
                }
                for n, p in fit["params"].items()
            ]
        ),
        hide_index=True,
    )
    if fit.get("held_out"):
        _show_held_out(fit["held_out"])
    st.download_button(
        "Download the report (HTML)",
        (path.parent / "report.html").read_bytes(),
        "report.html",
        "text/html",
        key=f"fit_report_{compare_hint}",
    )
    if not compare_hint:
        return
    st.info(
        "Compare policies on this group: choose it in the Compare view's Scenario list "
        f"({', '.join(st.session_state.get('own_groups', {}))})."
    )


def _show_held_out(held: dict) -> None:
    """A fit's held-out period (``--until``): posters a week, observed against the fit's forecast,
    the naive one and the accepted region's range; then each measure.  Every figure goes in a
    table (the file's text is never rendered as markdown)."""
    st.markdown("**Held out**: the period after the fitted one")
    w = held["weekly_posters"]
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "from": str(held["from"]),
                    "weeks": held["weeks"],
                    "posters a week, observed": w["observed_mean"],
                    "the fit's forecast": w["simulated_mean"],
                    "its error": w["model_mean_abs_error"],
                    "naive forecast": w["naive_forecast"],
                    "its error ": w["naive_mean_abs_error"],
                    "the region's forecasts": _span(w.get("region")),
                }
            ]
        ),
        hide_index=True,
    )
    st.dataframe(
        pd.DataFrame(
            [
                {"measure": n, "observed": m["observed"], "simulated": m["simulated"], "region": _span(m.get("region"))}
                for n, m in held["measures"].items()
            ]
        ),
        hide_index=True,
    )
    st.caption(
        "naive forecast: the last 90 fitted days' posters a week carried forward. the region's forecasts: "
        "candidates that fit the earlier period as well, spread across what fits, and the fit."
    )


# --- optimise: search policy settings, watch trials arrive, send a point to Compare ---------

# The knobs the page offers (the command line searches any --set path): label, path, range, step.
KNOB_MENU = {
    "operator posts a week": ("policy.content.operator_posts_per_week", 0.0, 14.0, 0.5),
    "share of questions answered": ("policy.service.answer_rate", 0.0, 1.0, 0.05),
    "quality of operators' posts": ("policy.content.quality", 0.0, 1.0, 0.05),
    "members a group holds": ("policy.groups.cap", 50, 500, 10),
}
GOAL_KPIS = ("retention_d30", "members_end", "active_ratio_mean", "core_share_end", "mean_trust_end", "cost_total")


def optimize_view() -> None:
    """Choose a scenario, a starting policy, knobs, objectives and a constraint; search; see the
    re-evaluated candidates (or the front); send one to the Compare view against the start."""
    st.subheader("Optimise")
    st.caption(
        "Searches the chosen knobs for the best outcome (one objective) or the trade-off between two. "
        "Every trial runs the same replicates; the best candidates and the starting policy are then run "
        "again on fresh replicates, and that is what is shown."
    )
    names = scenario_names()
    left, right = st.columns(2)
    with left:
        scenario = st.selectbox("Scenario", names, index=names.index(DEFAULT_SCENARIO), key="opt_scenario")
        start = st.selectbox("Starting policy", POLICIES, index=POLICIES.index("baseline.yaml"), key="opt_policy")
        labels = st.multiselect("Knobs to search", list(KNOB_MENU), default=list(KNOB_MENU)[:2], key="opt_knobs")
        search = []
        for label in labels:
            path, lo, hi, step = KNOB_MENU[label]
            low, high = st.slider(label, lo, hi, (lo, hi), step=step, key=f"opt_range_{path}")
            if low >= high:
                st.warning(f"{label}: give a range, not one value")
                return
            whole = isinstance(lo, int)
            search.append(f"{path}={low}:{high}" + (":int" if whole else ""))
    with right:
        goal = st.selectbox("Objective", GOAL_KPIS, index=GOAL_KPIS.index("cost_total"), key="opt_goal")
        direction = st.radio(
            "Direction", ["minimize", "maximize"], horizontal=True, key="opt_direction", label_visibility="collapsed"
        )
        objectives = [(direction, goal)]
        if st.checkbox("A second objective (a trade-off: the Pareto front)", key="opt_second"):
            second = st.selectbox("Second objective", GOAL_KPIS, index=0, key="opt_goal2")
            direction2 = st.radio(
                "Direction of the second",
                ["maximize", "minimize"],
                horizontal=True,
                key="opt_direction2",
                label_visibility="collapsed",
            )
            objectives.append((direction2, second))
        constraints = []
        if st.checkbox("A constraint", key="opt_constrained"):
            kpi = st.selectbox("KPI", GOAL_KPIS, key="opt_c_kpi")
            op = st.selectbox("must be", [">=", "<="], key="opt_c_op")
            bound = st.number_input("than", value=0.8, key="opt_c_bound", format="%g")
            constraints.append(f"{kpi} {op} {bound}")
        trials = st.slider("Trials", 8, 96, 24, step=8, key="opt_trials")
        replicates = st.slider("Replicates a trial", 2, 10, 3, key="opt_replicates")
        days = st.slider("Days", 30, 365, 90, step=10, key="opt_days")
    if not search:
        st.info("Pick at least one knob to search.")
        return
    if st.button("Search", key="opt_run"):
        options = {
            "scenario": str(scenario_path(scenario)),
            "policy": str(POLICY_DIR / start),
            "search": search,
            "objectives": objectives,
            "constraints": constraints,
            "trials": trials,
            "replicates": replicates,
            "sets": [f"days={days}"],
        }
        number = st.session_state.get("opt_number", 0) + 1
        st.session_state["opt_number"] = number
        _run_search(options, number, scenario, start)
    found = st.session_state.get("opt_found")
    if found and (Path(found["out"]) / "optimization.json").is_file():
        _show_search(found)


def _run_search(options: dict, number: int, scenario: str, start: str) -> None:
    """Search in a separate process (the server keeps serving), drawing trials as they arrive."""
    import multiprocessing as mp

    out = _private_folder() / f"search-{number}"
    progress = _private_folder() / f"search-progress-{number}.json"
    process = mp.get_context("spawn").Process(
        target=isolated.optimize_job, args=(options, str(out), str(progress), os.getpid()), daemon=True
    )
    bar = st.progress(0.0, text="starting the simulations...")
    live = st.empty()
    goals = [kpi for _, kpi in options["objectives"]]

    def shown(state: dict) -> None:
        bar.progress(
            min(1.0, state["done"] / state["budget"]),
            text=f"{state['done']} of {state['budget']} trials; {plain(state['best'])}",
        )
        if state["points"]:
            with live.container():
                draw_chart(st, _trials_chart(state["points"], goals), use_container_width=True)

    state = _watch(process, progress, shown, "search")
    if "error" in state:
        bar.empty()
        st.error(plain(state["error"]))
        return
    bar.progress(1.0, text="done: re-evaluated on fresh replicates")
    st.session_state["opt_found"] = {"out": str(out), "scenario": scenario, "start": start}


def _trials_chart(points: list, goals: list[str]) -> alt.Chart:
    """Trials as they arrive: the objective by trial, or the two objectives against each other."""
    if len(goals) == 1:
        frame = pd.DataFrame([p[:2] for p in points], columns=["trial", goals[0]])
        x, title = alt.X("trial:Q", title="trial"), f"trials so far: {goals[0]}"
    else:
        frame = pd.DataFrame([p[:3] for p in points], columns=["trial", *goals[:2]])
        x, title = alt.X(f"{goals[0]}:Q", title=goals[0]), "trials so far: the trade-off"
    frame["kind"] = "trial (the search's estimate)"
    y = goals[0] if len(goals) == 1 else goals[1]
    return (
        alt.Chart(frame, title=title, height=260)
        .mark_circle(size=40)
        .encode(
            x=x,
            y=alt.Y(f"{y}:Q", title=y, scale=alt.Scale(zero=False)),
            color=alt.Color("kind:N", legend=alt.Legend(orient="bottom", title=None)),
            tooltip=["trial", *goals[:2]],
        )
    )


def _show_search(found: dict) -> None:
    from sim.config.edits import policy_with
    from sim.runs.optimization import policy_settings, reported_kpis

    out = Path(found["out"])
    document = json.loads((out / "optimization.json").read_text())
    kpis = reported_kpis(document)
    candidates = document["reevaluated"][1:]

    def cell(summary: dict | None) -> str:
        if not summary or summary.get("mean") is None:
            return "-"
        lo, hi = summary["ci95"]
        return shown_number(summary["mean"]) + ("" if lo is None else f" ({shown_number(lo)} to {shown_number(hi)})")

    rows = []
    for c in document["reevaluated"]:
        row = {
            "candidate": c["name"],
            "values": ", ".join(
                f"{k.split('.')[-1]} = {v:.3g}" if isinstance(v, float) else f"{k.split('.')[-1]} = {v}"
                for k, v in c["params"].items()
            )
            or "as written",
        }
        for kpi in kpis:
            row[kpi] = cell(c["kpis"][kpi])
            row[f"{kpi} vs start"] = cell(c["kpis"][kpi].get("vs_start"))
        rows.append(row)
    reeval = document["reevaluation"]
    st.markdown(f"**Re-evaluated on {reeval['count']} fresh replicates** (means, 95% intervals)")
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    if "best" in document:
        st.caption(
            f"Best: {document['best']}"
            + ("" if document["best_meets_constraints"] else " (no re-evaluated candidate met every constraint)")
        )
    else:
        goals = [kpi for _, kpi in document["objectives"]]
        frame = pd.DataFrame(
            [
                {"candidate": c["name"], goals[0]: c["kpis"][goals[0]]["mean"], goals[1]: c["kpis"][goals[1]]["mean"]}
                for c in candidates
            ]
        )
        frame["kind"] = "the front, re-evaluated"
        draw_chart(
            st,
            alt.Chart(frame, title="the Pareto front on fresh replicates", height=260)
            .mark_circle(size=60)
            .encode(
                x=alt.X(f"{goals[0]}:Q", title=goals[0], scale=alt.Scale(zero=False)),
                y=alt.Y(f"{goals[1]}:Q", title=goals[1], scale=alt.Scale(zero=False)),
                color=alt.Color("kind:N", legend=alt.Legend(orient="bottom", title=None)),
                tooltip=["candidate", *goals],
            ),
            use_container_width=True,
        )
    if not candidates:
        return
    chosen = st.selectbox(
        "Send to the Compare view, against the starting policy", [c["name"] for c in candidates], key="opt_send_which"
    )
    start_text = (POLICY_DIR / found["start"]).read_text()
    pick = next(c for c in candidates if c["name"] == chosen)
    text = policy_with(
        start_text,
        policy_settings(pick["params"]),
        file=EDITED,
        header=f"{chosen} of a search from {found['start']}",
    )

    def send() -> None:  # a callback: it may set the Compare view's widgets before they are drawn
        st.session_state["edited_policy"] = text
        st.session_state["scenario"] = found["scenario"]
        st.session_state["policies"] = [found["start"], EDITED]
        st.session_state["opt_sent"] = chosen

    st.button("Send to Compare", key="opt_send", on_click=send)
    if st.session_state.get("opt_sent") == chosen:
        st.success(
            f"{chosen} is the edited policy in the Compare view, against {found['start']}: open the Compare tab."
        )
    st.download_button(
        "Download the report (HTML)", (out / "report.html").read_bytes(), "report.html", "text/html", key="opt_report"
    )


def _guarded(view) -> None:
    """Run one view; a user's mistake shows as one line, anything else as a line with details in the log."""
    try:
        view()
    except SandboxError as exc:
        st.error(plain(exc))
    except Exception:  # never a traceback in the page: it would show server paths
        LOG.exception("the %s view failed", view.__name__)
        st.error("Something went wrong in this view; the details are in the server's log.")


def main() -> None:
    st.set_page_config(page_title="Community policy sandbox", layout="wide")
    st.title("Community policy sandbox")
    compare, editor, replay, results, own, search = st.tabs(
        ["Compare", "Policy editor", "Lifecycle replay", "Results", "Your group", "Optimise"]
    )
    with compare:
        _guarded(compare_view)
    with own:
        _guarded(your_group_view)
    with search:
        _guarded(optimize_view)
    with editor:
        _guarded(editor_view)
    with replay:
        _guarded(replay_view)
    with results:
        _guarded(results_view)


if __name__ == "__main__":  # Streamlit runs the page as __main__
    main()
