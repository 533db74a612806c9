"""Errors by kind: a user's mistake is one line and exit 2; a fault of the sandbox is a bug report, exit 70."""

from __future__ import annotations

import pytest
from conftest import scenario

from sim.app import cli
from sim.errors import INTERNAL_ERROR_EXIT, USER_ERROR_EXIT, InternalError, SandboxError
from sim.rules import MEMBER, compile_mask

pytestmark = pytest.mark.smoke


def test_a_users_mistake_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "p.yaml"
    bad.write_text("rules:\n  - name: x\n    when: trust <\n    do: [coupon]\n")
    assert cli.main(["validate", str(bad)]) == USER_ERROR_EXIT == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "p.yaml" in err and "Traceback" not in err


def test_a_fault_of_the_sandbox_is_a_bug_report_with_its_traceback_and_exit_70(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    import sim.runs.experiment

    monkeypatch.setattr(sim.runs.experiment, "run", broken)  # what cmd_run calls after loading the files
    assert cli.main(["run", scenario("existing-group"), "--days", "2"]) == INTERNAL_ERROR_EXIT == 70
    err = capsys.readouterr().err
    assert err.startswith("internal error: ZeroDivisionError: a bug")
    assert "not a mistake in your files" in err and "Traceback (most recent call last)" in err
    assert "command: sandbox run" in err and "version:" in err


def test_an_impossible_node_is_an_internal_error_not_a_users_mistake():
    with pytest.raises(InternalError) as caught:
        compile_mask(("no-such-node",), MEMBER)
    assert not isinstance(caught.value, SandboxError)
