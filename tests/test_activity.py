"""Real groups' activity: the generic importer and the fingerprint, on crafted samples and the real file."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import REAL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.activity.events import event_table, pseudonym
from sim.activity.fingerprint import fingerprint
from sim.activity.generic import read_generic, write_generic
from sim.app.cli import main
from sim.errors import SandboxError


def test_the_real_chat_has_the_fingerprint_the_readme_shows(capsys):
    """Nine years of #duraspace (IRC logs of the #duraspace channel, DuraSpace, 2009-2018, CC BY 4.0)."""
    assert main(["observe", str(REAL), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    m = out["groups"]["duraspace"]["measures"]
    assert (m["members"], m["messages"]) == (805, 84188)  # as the data's README counts them
    assert m["posters_share"] == 0.3876 and m["newcomer_return"] == 0.4566
    assert m["hazard_m1_3"] == 0.4045 and m["hazard_m9_11"] == 0.0205
    assert m["first_reply_effect"] == 0.131 and m["size_slope"] == -0.395 and m["gap_1d_share"] == 0.0508
    # the structural facts the member model must meet
    assert 0.28 <= m["newcomer_return"] <= 0.56
    assert m["hazard_m9_11"] < 0.5 * m["hazard_m1_3"]
    assert m["size_slope"] < 0 and m["burstiness"] > 0


def test_names_never_reach_the_event_table(tmp_path):
    path = tmp_path / "chat.csv"
    path.write_text(
        "timestamp,member,kind,group,reply_to\n1,张伟,join,群,\n2,张伟,message,群,\n3,Ann,message,群,张伟\n",
        encoding="utf-8",
    )
    events = read_generic(path, salt="s")
    text = events.to_csv()
    assert "张伟" not in text and "Ann" not in text
    assert events["reply_to"].iloc[2] == events["member"].iloc[1] == pseudonym("张伟", "s")
    assert list(events["group"]) == ["群"] * 3


def test_iso_timestamps_and_a_missing_group_column(tmp_path):
    path = tmp_path / "forum.csv"
    path.write_text("timestamp,member,kind\n2024-01-02T03:04:05Z,a,message\n1704164646,b,message\n")
    events = read_generic(path)
    assert list(events["timestamp"]) == [1704164645, 1704164646]
    assert set(events["group"]) == {"forum"}


@pytest.mark.parametrize(
    "content, message",
    [
        ("timestamp,member\n1,a\n", "missing column(s) kind"),
        ("timestamp,member,kind\n1,a,message\n2,b,shout\n", "row 3: kind must be message, join or leave"),
        ("timestamp,member,kind\nyesterday,a,message\n", "row 2: timestamp must be Unix seconds or ISO 8601"),
        ("timestamp,member,kind\n1,,message\n", "row 2: member is empty"),
    ],
)
def test_a_malformed_export_is_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(SandboxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_generic(path)
    assert main(["observe", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.csv" in err


EVENTS = st.lists(
    st.tuples(
        st.integers(0, 2**31),
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8).map(str.strip).filter(bool),
        st.sampled_from(["message", "join", "leave"]),
        st.sampled_from(["a", "群聊", "b c"]),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(EVENTS, st.sampled_from([".csv", ".parquet"]))
def test_any_table_written_in_the_generic_format_reads_back_the_same(tmp_path, rows, suffix):
    original = event_table(pd.DataFrame(rows, columns=["timestamp", "member", "kind", "group"]).assign(reply_to=""))
    path = tmp_path / f"export{suffix}"
    write_generic(original, path)
    back = read_generic(path, salt="t")
    expected = original.assign(member=original["member"].map(lambda n: pseudonym(n, "t")))
    pd.testing.assert_frame_equal(back, expected)


def test_fingerprint_of_a_crafted_group():
    day = 86_400
    rows = [
        (0, "a", "message", "g", ""),
        (1, "b", "message", "g", "a"),
        (day, "a", "message", "g", ""),
        (40 * day, "c", "join", "g", ""),
        (200 * day, "a", "message", "g", ""),
    ]
    m = fingerprint(event_table(pd.DataFrame(rows, columns=["timestamp", "member", "kind", "group", "reply_to"])))["g"]
    assert (m["members"], m["messages"]) == (3, 4)
    assert m["posters_share"] == round(2 / 3, 4)
    assert m["one_post_share"] == 0.5  # b posted once, a three times
    assert m["newcomer_return"] == 0.5  # a came back, b did not
    assert m["first_reply_effect"] == 1.0  # a was answered within a day and returned; b was not and did not


def test_observe_measures_a_simulated_run_with_the_same_code(tmp_path, capsys):
    out = tmp_path / "run"
    sets = ["--set", "days=60", "--replicates", "2"]
    assert main(["run", "existing-group", *sets, "--out", str(out)]) == 0
    activity = pd.read_parquet(out / "activity.parquet")
    daily = pd.read_parquet(out / "daily.parquet")
    # the activity table holds every member message and question the daily table counts
    per_day = activity.astype({"day": "int64"}).groupby(["replicate", "day"])["messages"].sum()
    counted = daily.set_index(["replicate", "day"])
    expected = (counted["member_messages"] + counted["questions"]).loc[per_day.index]
    assert (per_day.to_numpy() == expected.to_numpy()).all() and len(per_day) > 100
    capsys.readouterr()
    assert main(["observe", str(out), "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert set(groups) == {"r0", "r1"}  # each replicate's community, as one real channel
    m = groups["r0"]["measures"]
    assert m["messages"] >= per_day.loc[0].sum()  # the members' messages, and the operators' replies to newcomers
    assert 0 < m["posters_share"] < 1 and m["newcomer_return"] is not None


def test_observe_on_a_folder_without_an_activity_table_is_one_line(tmp_path, capsys):
    out = tmp_path / "compare"
    for side in ("A", "B"):
        (out / side).mkdir(parents=True)
        for table in ("members.parquet", "activity.parquet"):
            (out / side / table).write_bytes(b"")
    assert main(["observe", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "observe one side" in err
