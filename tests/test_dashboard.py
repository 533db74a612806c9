"""The minimal dashboard runs a comparison and shows its verdict, KPI cards and charts."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from conftest import ROOT


def test_dashboard_runs_the_default_comparison():
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()
    app.sidebar.slider[0].set_value(3)   # replicates
    app.sidebar.slider[1].set_value(60)  # days
    app.run()
    assert not app.exception
    assert "B keeps" in app.subheader[0].value
    assert len(app.metric) == 4
    assert app.dataframe[0].value.loc["members_end", "A"] > 0


def test_dashboard_changes_with_the_policy():
    app = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120).run()
    app.sidebar.slider[0].set_value(3)
    app.sidebar.slider[1].set_value(60)
    app.run()
    before = app.dataframe[0].value.loc["members_end", "B"]
    app.sidebar.selectbox[2].set_value("aggressive-pruning.yaml")
    app.run()
    assert not app.exception
    assert app.dataframe[0].value.loc["members_end", "B"] < before
