"""The dashboard's views, driven through Streamlit's AppTest: runs happen, KPIs and charts
appear, edits validate inline, a replay moves, results on disk open, and nothing crashes."""

from __future__ import annotations

import pytest
from conftest import ROOT, scenario
from saved_results import saved_calibration, saved_comparison, saved_sweep
from streamlit.testing.v1 import AppTest

from sim.app.cli import main


def _app(**state) -> AppTest:
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=180)
    defaults = {
        "scenario": "existing-group.yaml",
        "replicates": 3,
        "days": 60,
        "replay_scenario": "cold-start.yaml",
        "replay_policy": "weekly-ritual.yaml",
    }
    for key, value in {**defaults, **state}.items():
        app.session_state[key] = value
    return app.run()


def _as_text(markdown: str) -> str:
    """What a visitor reads: the page escapes every markdown character of user text with a backslash."""
    return markdown.replace("\\", "")


def _metric(app, label):
    return next(m.value for m in app.metric if m.label == label)


def test_compare_runs_and_shows_cards_charts_and_verdict():
    app = _app()
    assert not app.exception and not app.error
    assert app.subheader[0].value == "weekly-ritual against baseline"
    assert "weekly-ritual keeps" in app.markdown[0].value or any("keeps" in m.value for m in app.markdown)
    assert [m.label for m in app.metric][:4] == ["members_end", "active_ratio_mean", "mean_trust_end", "cost_total"]
    charts = app.get("vega_lite_chart")
    assert len(charts) >= 9  # six series, cohorts, causes, cost against outcome (+ the replay's)
    table = app.dataframe[0].value
    assert "weekly-ritual - baseline" in table.columns and table.loc["members_end", "baseline"] > 0


def test_compare_of_three_policies_gives_a_verdict_for_each():
    app = _app(policies=["baseline.yaml", "weekly-ritual.yaml", "aggressive-pruning.yaml"])
    assert not app.exception
    titles = [s.value for s in app.subheader]
    assert "weekly-ritual against baseline" in titles and "aggressive-pruning against baseline" in titles


def test_editor_sliders_write_back_and_invalid_edits_show_one_line():
    app = _app()
    app.slider(key="knob_posts").set_value(14.0).run()
    assert not app.exception
    assert "operator_posts_per_week: 14.0" in app.session_state["editor_text"]
    assert "edited policy" in app.multiselect(key="policies").options
    app.slider(key="knob_prune").set_value(21).run()
    assert "days_inactive >= 21" in app.session_state["editor_text"]

    app.text_area(key="editor_text").input("content:\n  operator_posts_per_wek: 3\n").run()
    assert not app.exception
    errors = [_as_text(e.value) for e in app.error]
    assert any("edited policy:2: content.operator_posts_per_wek: unknown field" in e for e in errors)
    assert all("\n" not in e for e in errors)


def test_an_invalid_edited_policy_keeps_the_last_good_results_on_screen():
    app = _app()
    app.slider(key="knob_posts").set_value(7.0).run()
    app.multiselect(key="policies").set_value(["baseline.yaml", "edited policy"]).run()
    assert not app.exception and app.subheader[0].value == "edited policy against baseline"
    app.text_area(key="editor_text").input('rules:\n  - name: x\n    when: "trst < 1"\n    do: remove\n').run()
    assert not app.exception
    assert any("unknown name 'trst'" in _as_text(e.value) for e in app.error)
    assert len(app.get("vega_lite_chart")) >= 9  # the comparison is still on screen


def test_replay_moves_day_by_day():
    app = _app()
    app.slider(key="replay_day").set_value(2).run()
    early = (_metric(app, "stage"), _metric(app, "members"))
    app.slider(key="replay_day").set_value(150).run()
    late = (_metric(app, "stage"), _metric(app, "members"))
    assert not app.exception and early != late
    titles = [c.proto.spec for c in app.get("vega_lite_chart")]
    assert any("Health of group" in spec for spec in titles)
    app.button(key="replay_play").click().run()
    assert not app.exception


def test_results_view_opens_a_run_and_a_sweep(tmp_path, capsys, monkeypatch):
    run_dir, sweep_dir = tmp_path / "run", tmp_path / "sweep"
    assert (
        main(["run", scenario("existing-group"), "--set", "days=20", "--replicates", "2", "--out", str(run_dir)]) == 0
    )
    saved_sweep(sweep_dir, replicates=1)
    monkeypatch.setenv("SANDBOX_RESULTS_ROOT", str(tmp_path))
    app = _app(results_dir="run")
    assert not app.exception and any("Run: scenario existing-group" in m.value for m in app.markdown)
    app = _app(results_dir="sweep")
    assert not app.exception and any("Sweep: 2 runs, 0 failed" in m.value for m in app.markdown)
    monkeypatch.setenv("SANDBOX_RESULTS_ROOT", str(tmp_path / "nothing"))
    app = _app()
    assert not app.exception and any("No results under the results folder" in i.value for i in app.info)


def test_a_damaged_result_shows_one_line_not_a_traceback(tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "damaged"
    assert main(["run", scenario("existing-group"), "--set", "days=5", "--replicates", "1", "--out", str(run_dir)]) == 0
    (run_dir / "summary.json").unlink()
    (run_dir / "daily.parquet").write_bytes(b"PAR1 not really")
    monkeypatch.setenv("SANDBOX_RESULTS_ROOT", str(tmp_path))
    app = _app(results_dir="damaged")
    assert not app.exception
    errors = [_as_text(e.value) for e in app.error]
    assert any("cannot be read" in e for e in errors) and not any(str(tmp_path) in e for e in errors)


def test_results_view_opens_a_comparison_a_calibration_and_a_sweeps_intervals(tmp_path, capsys, monkeypatch):
    saved_comparison(tmp_path / "cmp")
    saved_calibration(tmp_path / "fit", tmp_path / "export.csv", until="1970-04-06")
    saved_sweep(tmp_path / "sweep", replicates=2)
    monkeypatch.setenv("SANDBOX_RESULTS_ROOT", str(tmp_path))
    app = _app(results_dir="cmp")
    assert not app.exception
    texts = [_as_text(m.value) for m in app.markdown]
    assert any("Comparison on existing-group: 2 replicates per policy" in t for t in texts)
    assert any(t.startswith("B keeps") or "members" in t for t in texts)
    frames = [f.value for f in app.dataframe]
    assert any({"KPI", "A", "B", "B - A", "95% interval", "verdict"} <= set(f.columns) for f in frames)
    app = _app(results_dir="fit")
    assert not app.exception
    columns = {"measure", "observed", "interval", "simulated", "met", "a run's range", "plausible"}
    assert any(columns <= set(f.value.columns) for f in app.dataframe)
    held = next(f.value for f in app.dataframe if "the region's forecasts" in f.value.columns)
    assert held["from"].tolist() == ["1970-04-06"] and " to " in held["the region's forecasts"][0]
    assert any({"measure", "observed", "simulated", "region"} == set(f.value.columns) for f in app.dataframe)
    app = _app(results_dir="sweep")
    assert not app.exception
    sweep = next(f.value for f in app.dataframe if "members_end 95%" in f.value.columns)
    assert len(sweep) == 2 and sweep["members_end 95%"].str.contains(" to ").all()
    import json

    titles = [json.loads(c.proto.spec).get("title", {}) for c in app.get("vega_lite_chart")]
    assert any("by days (95% interval)" in str(t) for t in titles)  # the main effect of the swept value


def _layers(spec: dict) -> list[dict]:
    return [spec] if "layer" not in spec else [layer for part in spec["layer"] for layer in _layers(part)]


def test_every_chart_has_a_title_room_to_draw_labelled_axes_and_a_legend():
    """Streamlit gives a chart its 'height' in all: below ~120 px the title and axes leave no room to
    draw (an empty stage strip, an empty channels chart); unlabelled axes and hidden legends leave a
    reader guessing.  Every chart of the Compare view, its sidebar and the replay is checked."""
    import json

    app = _app()
    charts = [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]
    assert len(charts) >= 12
    for spec in charts:
        title = spec.get("title")
        assert title and (title if isinstance(title, str) else title.get("text")), spec.get("title")
        height = spec.get("height")
        assert isinstance(height, dict) or height >= 120, (title, height)  # a Step grows with the rows
        layers = _layers(spec)
        for axis in ("x", "y"):
            quantitative = [
                e[axis]
                for layer in layers
                if (e := layer.get("encoding", {})).get(axis, {}).get("type") == "quantitative"
            ]
            if quantitative:
                assert any(q.get("title") or q.get("field") for q in quantitative), (title, axis)
        coloured = [
            layer["encoding"]["color"] for layer in layers if "field" in layer.get("encoding", {}).get("color", {})
        ]
        if coloured:
            assert any(c.get("legend", {}) is not None for c in coloured), title  # some layer shows the legend


def test_editor_sliders_keep_the_writers_comments_and_order():
    app = _app()
    text = "# my policy: keep this note\nname: mine\ncontent:\n  operator_posts_per_week: 3  # three a week\n"
    app.text_area(key="editor_text").input(text).run()
    app.slider(key="knob_posts").set_value(7.0).run()
    assert not app.exception
    edited = app.session_state["editor_text"]
    assert edited.startswith("# my policy: keep this note\nname: mine\n")
    line = next(ln for ln in edited.splitlines() if "operator_posts_per_week" in ln)
    assert "7.0" in line and line.endswith("# three a week")


def test_compare_takes_days_and_replicates_from_the_chosen_scenario():
    import yaml

    app = _app()
    assert app.slider(key="days").value == 60  # set before the first run: kept
    app.selectbox(key="scenario").set_value("cold-start.yaml").run()
    own = yaml.safe_load((ROOT / "scenarios" / "cold-start.yaml").read_text())
    assert app.slider(key="days").value == own["days"]
    assert app.slider(key="replicates").value == min(own["replicates"], 30)


def test_the_replay_follows_the_chosen_scenario():
    app = _app()
    app.selectbox(key="replay_scenario").set_value("ritual-vs-random.yaml").run()
    assert not app.exception
    assert app.selectbox(key="replay_policy").value == "weekly-ritual.yaml"  # the scenario's own policy


def test_editor_without_a_threshold_writes_no_condition():
    app = _app()
    app.slider(key="knob_threshold").set_value(0.4).run()
    assert "when: interest >= 0.4" in app.session_state["editor_text"]
    app.slider(key="knob_threshold").set_value(0.0).run()
    text = app.session_state["editor_text"]
    assert not app.exception and "when:" not in text and "null" not in text and "\n'" not in text


@pytest.mark.slow  # one replay of every shipped scenario: about a minute
def test_the_stage_timeline_has_bands_for_every_library_scenario():
    """The replay's stage strip, for each shipped scenario under its own policy: bands that cover
    the run from day 0, in a chart with room to draw them."""
    import json

    import pyarrow as pa
    from conftest import SCENARIOS

    app = _app()
    for path in SCENARIOS:
        app.selectbox(key="replay_scenario").set_value(path.name).run()
        assert not app.exception, path.name
        strips = [c.proto for c in app.get("vega_lite_chart") if "Stage of the community" in c.proto.spec]
        assert len(strips) == 1, path.name
        tables = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in strips[0].datasets]
        bands = [t for t in tables if {"stage", "start", "end"} <= set(t.columns)]
        assert bands and len(bands[0]) >= 1 and bands[0]["start"].min() == 0, path.name
        assert json.loads(strips[0].spec)["height"] >= 120


def test_a_chart_the_converter_cannot_draw_costs_its_downloads_not_the_view():
    """A legend below a chart with no data has no size: vl-convert refuses it ('SVG has an invalid
    size', seen under the load test).  The download buttons go; the view goes on."""
    import altair as alt
    import pandas as pd

    from sim.app.dashboard import LEGEND_BELOW, download_chart

    empty = pd.DataFrame({"policy": [], "cost_total": [], "members_end": []})
    chart = (
        alt.Chart(empty)
        .mark_point()
        .encode(x="cost_total:Q", y="members_end:Q", color=alt.Color("policy:N", legend=LEGEND_BELOW))
    )
    download_chart(chart, "empty")  # no exception


def test_the_replay_marks_the_day_a_group_died():
    import pandas as pd

    from sim.app import views

    daily = pd.DataFrame({"day": [0, 1, 2, 3], "stage": ["growth"] * 4})
    groups = pd.DataFrame(
        {
            "group": [0, 0, 0, 0, 1, 1],
            "day": [0, 1, 2, 3, 2, 3],
            "stage": ["decline", "dead", "dead", "dead", "growth", "dead"],
        }
    )
    marked = views.events(daily, pd.DataFrame(), groups)
    assert marked[marked["event"] == "group died"]["day"].tolist() == [1, 3]


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_optimise_searches_shows_the_reevaluation_and_sends_a_candidate_to_compare():
    app = _app(opt_trials=8, opt_replicates=2, opt_days=30)
    assert not app.exception
    app.button(key="opt_run").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    table = next(d.value for d in app.dataframe if "candidate" in d.value.columns)
    assert table["candidate"].iloc[0] == "start" and len(table) >= 2
    assert {"cost_total", "cost_total vs start"} <= set(table.columns)
    chosen = app.selectbox(key="opt_send_which").value
    app.button(key="opt_send").click().run()
    assert not app.exception
    assert app.session_state["policies"] == ["baseline.yaml", "edited policy"]
    assert "operator_posts_per_week" in app.session_state["edited_policy"]
    assert any(chosen in s.value for s in app.success)


def test_the_page_module_has_no_bare_strings_streamlit_would_show():
    """Streamlit runs sim/app/dashboard.py as its script: a string standing alone at its top level
    (an attribute's docstring) would be written on the page."""
    import ast

    tree = ast.parse((ROOT / "sim" / "app" / "dashboard.py").read_text())
    bare = [
        node.lineno
        for node in tree.body[1:]
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    ]
    assert bare == []


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_optimise_with_two_objectives_draws_the_front():
    app = _app(opt_trials=8, opt_replicates=2, opt_days=40, opt_second=True, opt_goal2="members_end")
    app.button(key="opt_run").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    table = next(d.value for d in app.dataframe if "candidate" in d.value.columns)
    assert {"cost_total", "members_end"} <= set(table.columns) and len(table) >= 2
    assert any("the Pareto front on fresh replicates" in c.proto.spec for c in app.get("vega_lite_chart"))


def test_compare_on_a_calibrated_group_across_its_fits_region(tmp_path):
    """A group calibrated in the session offers the comparison across its fit's region: each
    headline KPI's verdict under the fit and the candidates that fit its export as well."""
    import json

    fit = saved_calibration(tmp_path / "fit", tmp_path / "export.csv")
    candidates = json.loads((fit / "fit.json").read_text())["region"]["candidates"]
    name = "your group 1 (calibrated)"
    own = {"own_groups": {name: str(fit / "scenario.yaml")}, "scenario": name, "replicates": 3, "days": 60}
    app = _app(**own, policies=["baseline.yaml", "neglect.yaml"])
    assert not app.exception
    assert app.checkbox(key="across_fit").label == f"Also across the fit's region ({len(candidates)} candidates)"
    assert not any("Across the fit's region" in s.value for s in app.subheader)  # not until asked
    app.checkbox(key="across_fit").check().run()
    assert not app.exception and not app.error
    assert any(s.value == "Across the fit's region: neglect against baseline" for s in app.subheader)
    table = next(f.value for f in app.dataframe if "B - A, the region" in f.value.columns)
    assert "cost_total" in table["KPI"].tolist() and table["verdict"].str.len().gt(0).all()
    assert table.set_index("KPI").loc["cost_total", "verdict"].startswith("holds")
    shipped = _app(policies=["baseline.yaml", "neglect.yaml"])
    assert not [c for c in shipped.checkbox if c.key == "across_fit"]  # a shipped scenario has no fit
