"""Each chat export format reads its crafted sample (tests/exports/) to the expected event table.

The samples were written by hand from each format's published description; they are small on
purpose, so every expected row can be checked by eye.  Times without a zone are read as UTC.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from sim.activity.events import named_events
from sim.activity.formats import detect, read_activity
from sim.app.cli import main
from sim.errors import SandboxError

EXPORTS = Path(__file__).parent / "exports"
SALT = "test"


def expected(rows: list[tuple]) -> pd.DataFrame:
    return named_events(pd.DataFrame(rows, columns=["timestamp", "name", "kind", "group", "reply_name"]), salt=SALT)


def utc(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").timestamp())


def check(path: Path, rows: list[tuple], fmt: str) -> None:
    assert detect(path) == fmt
    pd.testing.assert_frame_equal(read_activity(path, salt=SALT), expected(rows))


def test_telegram_desktop_json():
    g = "读书会 Reading Club"
    check(
        EXPORTS / "telegram-result.json",
        [
            (1677661200, "user111", "join", g, ""),
            (1677661500, "user111", "message", g, ""),
            (1677664800, "user222", "join", g, ""),  # invited by name, matched to the id that posted as 张伟
            (1677664920, "user222", "message", g, "user111"),
            (1677744000, "user111", "message", g, ""),
            (1678017600, "user222", "leave", g, ""),
        ],
        "telegram",
    )


def test_a_full_telegram_export_keeps_its_chats_apart(tmp_path):
    one = json.loads((EXPORTS / "telegram-result.json").read_text(encoding="utf-8"))
    two = dict(one, name="Second", messages=one["messages"][1:2])
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"about": "", "chats": {"about": "", "list": [one, two]}}), encoding="utf-8")
    events = read_activity(path, salt=SALT)
    assert events.groupby("group").size().to_dict() == {"Second": 1, "读书会 Reading Club": 6}


def test_whatsapp_android_day_first():
    g = "whatsapp-android"
    check(
        EXPORTS / "whatsapp-android.txt",
        [
            (utc("2022-12-31 22:00"), "Ben", "join", g, ""),
            (utc("2022-12-31 22:00"), "Chen", "join", g, ""),
            (utc("2022-12-31 22:00"), "Dee", "join", g, ""),
            (utc("2022-12-31 22:05"), "Ana", "message", g, ""),
            (utc("2022-12-31 22:07"), "Ben", "message", g, ""),
            (utc("2023-01-01 08:30"), "Eve", "join", g, ""),
            (utc("2023-01-01 09:15"), "Eve", "message", g, ""),
            (utc("2023-01-13 19:00"), "Chen", "leave", g, ""),
            (utc("2023-01-13 19:05"), "Dee", "leave", g, ""),
        ],
        "whatsapp",
    )


def test_whatsapp_ios_month_first_with_a_12_hour_clock():
    g = "Book Club"
    check(
        EXPORTS / "WhatsApp Chat - Book Club.txt",
        [
            (utc("2023-01-02 09:01:10"), "Kim", "join", g, ""),
            (utc("2023-01-02 09:02:00"), "Kim", "message", g, ""),
            (utc("2023-01-02 13:15:00"), "Lee", "message", g, ""),
            (utc("2023-01-13 22:00:00"), "Lee", "leave", g, ""),
        ],
        "whatsapp",
    )


SLACK_ROWS = [
    (1614589200, "U01", "join", "general", ""),
    (1614589260, "U01", "message", "general", ""),
    (1614592800, "U02", "join", "general", ""),
    (1614592860, "U02", "message", "general", "U01"),
    (1614600000, "U01", "message", "random", ""),
    (1614675600, "U02", "message", "general", "U01"),  # a thread reply without parent_user_id
    (1614679200, "U02", "leave", "general", ""),
]


def test_slack_export_folder():
    check(EXPORTS / "slack", SLACK_ROWS, "slack")


def test_slack_export_zip(tmp_path):
    archive = tmp_path / "Workspace Slack export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted((EXPORTS / "slack").rglob("*.json")):
            z.write(path, "export/" + path.relative_to(EXPORTS / "slack").as_posix())
    check(archive, SLACK_ROWS, "slack")


def test_discord_chat_exporter_json():
    g = "Makers / general"
    check(
        EXPORTS / "discord-channel.json",
        [
            (utc("2024-04-01 10:00:00"), "501", "join", g, ""),
            (utc("2024-04-01 10:01:30"), "501", "message", g, ""),
            (utc("2024-04-01 10:00:00"), "502", "message", g, "501"),  # 12:00 at +02:00
        ],
        "discord",
    )


def test_discord_chat_exporter_csv():
    g = "discord-channel"
    check(
        EXPORTS / "discord-channel.csv",
        [(utc("2024-04-01 10:01:30"), "501", "message", g, ""), (utc("2024-04-01 10:00:00"), "502", "message", g, "")],
        "discord",
    )


QQ_ROWS = [
    (utc("2019-03-01 20:00:01"), "20001", "join", "周末徒步群", ""),
    (utc("2019-03-01 20:01:00"), "20001", "message", "周末徒步群", ""),
    (utc("2019-03-01 20:02:30"), "wang@example.com", "message", "周末徒步群", ""),
    (utc("2019-03-09 08:00:00"), "20001", "leave", "周末徒步群", ""),  # named by nickname only
    (utc("2019-04-01 21:00:00"), "wang@example.com", "message", "读书会", ""),
]


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_qq_message_manager_text(tmp_path, encoding):
    path = tmp_path / "qq.txt"
    path.write_bytes((EXPORTS / "qq-export.txt").read_text(encoding="utf-8").encode(encoding))
    check(path, QQ_ROWS, "qq")


WECHAT_ROWS = [
    (1672560000, "wxid_red", "join", "12345@chatroom", ""),
    (1672560000, "wxid_qiang", "join", "12345@chatroom", ""),
    (1672560060, "wxid_red", "message", "12345@chatroom", ""),
    (1672560120, "我", "message", "12345@chatroom", ""),
    (1672563600, "wxid_qiang", "message", "12345@chatroom", ""),
    (1672646400, "wxid_ming", "join", "12345@chatroom", ""),
    (1672646460, "wxid_ming", "message", "12345@chatroom", ""),
    (1673251200, "wxid_qiang", "leave", "12345@chatroom", ""),  # removed
    (1673251260, "wxid_red", "message", "67890@chatroom", ""),
]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_wechatmsg_csv(tmp_path, encoding):
    path = tmp_path / "群聊.csv"
    path.write_bytes((EXPORTS / "wechat-export.csv").read_text(encoding="utf-8").encode(encoding))
    check(path, WECHAT_ROWS, "wechat")


def test_names_from_any_format_never_reach_the_output(capsys):
    for path in [EXPORTS / "telegram-result.json", EXPORTS / "qq-export.txt", EXPORTS / "wechat-export.csv"]:
        assert main(["observe", str(path), "--json"]) == 0
        out = capsys.readouterr().out
        for name in ("Alice", "张伟", "小明", "wang@example.com", "wxid_red", "小红", "user111"):
            assert name not in out


def test_format_can_be_forced(tmp_path):
    path = tmp_path / "chat.log"
    shutil.copy(EXPORTS / "whatsapp-android.txt", path)
    with pytest.raises(SandboxError, match="give --format"):
        detect(path)
    assert len(read_activity(path, format="whatsapp", salt=SALT)) == 9
    assert main(["observe", str(path), "--format", "whatsapp", "--json"]) == 0


BAD = [
    (
        "result.json",
        '{"messages": [{"id": 1, "type": "message", "date_unixtime": "1"}]}',
        "messages[0]: a message without from_id",
    ),
    ("result.json", '{"messages": [1, 2', "result.json:1: is not JSON"),
    ("result.json", "[" * 100_000, "nests JSON too deeply"),
    ("chat.txt", "hello there\n01/01/2023, 09:15 - Eve: hi\n", "line 1 does not start with a date"),
    ("chat.txt", "31/02/2023, 09:15 - Eve: hi\n", "line 1: not a real date"),
    (
        "discord.json",
        '{"guild": {}, "messages": [{"id": "1", "timestamp": "x", "author": {"id": "2"}}]}',
        "messages[0]: timestamp must be ISO 8601",
    ),
    ("discord.csv", "AuthorID,Author,Date,Content\n1,a,soon,hi\n", "row 2: Date must be a date and time"),
    ("qq.txt", "消息记录\n2019-03-01 20:00:01 小明(20001)\nhi\n", "line 2: a message before any 消息对象 line"),
    (
        "wechat.csv",
        "TalkerId,Type,IsSender,CreateTime,StrContent,NickName,Sender\na,1,0,never,x,n,s\n",
        "row 2: CreateTime must be Unix seconds",
    ),
    ("wechat.csv", "TalkerId,Type,CreateTime\na,1,0\n", "missing column(s) IsSender"),
    ("slack.zip", "not a zip", "is not a zip file"),
]


@pytest.mark.parametrize("name, content, message", BAD)
def test_a_malformed_export_is_one_line_and_writes_nothing(tmp_path, capsys, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SandboxError) as caught:
        read_activity(path)
    assert message in str(caught.value) and name in str(caught.value)
    before = sorted(tmp_path.iterdir())
    assert main(["observe", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert sorted(tmp_path.iterdir()) == before


def test_a_slack_day_file_that_is_not_a_list_is_named(tmp_path):
    (tmp_path / "general").mkdir()
    (tmp_path / "general" / "2021-03-01.json").write_text('{"ts": "1"}')
    with pytest.raises(SandboxError, match=r"general/2021-03-01\.json: expected a Slack export"):
        read_activity(tmp_path)


def test_plots_go_into_a_new_folder_named_by_number_not_by_group(tmp_path, capsys):
    plots = tmp_path / "plots"
    assert main(["observe", str(EXPORTS / "wechat-export.csv"), "--plots", str(plots)]) == 0
    index = json.loads((plots / "fingerprint.json").read_text())
    assert sorted(index["plots"]) == ["group-1.png", "group-2.png"]
    assert {v["group"] for v in index["plots"].values()} == {"12345@chatroom", "67890@chatroom"}
    assert all((plots / name).read_bytes()[:4] == b"\x89PNG" for name in index["plots"])
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    capsys.readouterr()
    assert main(["observe", str(EXPORTS / "qq-export.txt"), "--plots", str(foreign), "--overwrite"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
