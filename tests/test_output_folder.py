"""--out never loses anyone's data: it writes new folders and replaces only its own results."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from conftest import scenario

from sim.app.cli import main
from sim.runs import output_folder
from sim.runs.output_folder import MARKER, write_result

SMALL = ["--days", "5", "--replicates", "1", "--set", "population.initial_members=40"]


def tree_hash(folder: Path) -> str:
    """Every path, mode and byte under a folder."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(out: Path, *extra: str) -> int:
    return main(["run", scenario("existing-group"), *SMALL, "--out", str(out), *extra])


@pytest.mark.parametrize(
    "plant",
    [
        {"README.md": "a web app", "src/app.py": "print(1)", "manifest.json": "{}"},  # someone's project
        {"notes.txt": "mine"},
    ],
)
def test_a_foreign_folder_is_refused_and_left_untouched_even_with_overwrite(tmp_path, capsys, plant):
    out = tmp_path / "project"
    for name, text in plant.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    before = tree_hash(out)
    for extra in ((), ("--overwrite",)):
        assert _run(out, *extra) == 2
        assert "did not write" in capsys.readouterr().err
        assert tree_hash(out) == before


def test_a_result_is_replaced_only_with_overwrite_and_only_when_it_holds_nothing_else(tmp_path, capsys):
    out = tmp_path / "result"
    assert _run(out) == 0
    first = tree_hash(out)
    assert (out / MARKER).is_file()
    assert _run(out) == 2 and "add --overwrite" in capsys.readouterr().err
    assert tree_hash(out) == first
    assert _run(out, "--overwrite") == 0
    (out / "analysis.ipynb").write_text("{}")  # a notebook placed inside a result
    kept = tree_hash(out)
    assert _run(out, "--overwrite") == 2 and "analysis.ipynb" in capsys.readouterr().err
    assert tree_hash(out) == kept


def test_a_sweep_is_not_replaced_by_a_run_and_a_run_is_not_taken_by_a_sweep(tmp_path, capsys):
    sweep = tmp_path / "sweep"
    args = [
        "sweep",
        scenario("existing-group"),
        "--grid",
        "days=3,4",
        "--set",
        "population.initial_members=40",
        "--replicates",
        "1",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert main([*args, "--out", str(sweep)]) == 0
    before = tree_hash(sweep)
    assert _run(sweep, "--overwrite") == 2 and "sweep" in capsys.readouterr().err
    assert tree_hash(sweep) == before
    run = tmp_path / "run"
    assert _run(run) == 0
    assert main([*args, "--out", str(run)]) == 2 and "not a sweep" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["", "file", "under-file"])
def test_bad_places_are_one_line(tmp_path, capsys, where):
    (tmp_path / "file").write_text("x")
    out = {"": "", "file": str(tmp_path / "file"), "under-file": str(tmp_path / "file" / "out")}[where]
    assert main(["run", scenario("existing-group"), *SMALL, "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert (tmp_path / "file").read_text() == "x"


def test_a_read_only_parent_is_one_line(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere; use a filesystem that is read-only for everyone
        target = Path("/proc/sandbox-result")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target = locked / "out"
    assert _run(target) == 2
    err = capsys.readouterr().err
    assert "cannot write here" in err and err.count("\n") == 1


def test_a_kill_between_the_two_renames_leaves_the_old_result_restorable(tmp_path, monkeypatch):
    """Where the atomic exchange is missing: old result aside, then killed before the new one is in."""
    out = tmp_path / "result"
    write_result(out, "run", lambda tmp: (tmp / "daily.parquet").write_text("old"))
    monkeypatch.setattr(output_folder, "_exchange", lambda a, b: False)
    real_replace = os.replace

    def killed_on_second(src, dst):
        if Path(src).name.startswith(".result.new."):
            raise KeyboardInterrupt  # the process dies here
        return real_replace(src, dst)

    monkeypatch.setattr(output_folder.os, "replace", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        write_result(out, "run", lambda tmp: (tmp / "daily.parquet").write_text("new"), overwrite=True)
    monkeypatch.setattr(output_folder.os, "replace", real_replace)
    assert (out / "daily.parquet").read_text() == "old"  # put back at once
    # and if the process had died outright, the next call puts it back before anything else
    aside = tmp_path / ".result.old.x" / "result"
    aside.parent.mkdir()
    real_replace(out, aside)
    write_result(tmp_path / "result", "run", lambda tmp: (tmp / "daily.parquet").write_text("new"), overwrite=True)
    assert (out / "daily.parquet").read_text() == "new" and not aside.exists()
