"""The dashboard as a shared server, attacked from a real browser (Debian's Chromium, Playwright).

`sandbox dashboard --results ROOT` on loopback, with a policy file planted where the old dashboard
wrote its temporary policies, a results root holding a run whose policy is named with markdown
and HTML, a symlink out of the root, and a damaged run.  What a visitor must not get: the planted
file used, the content of /etc/passwd, a folder outside the root, a name rendered as markup, a
Python traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import policy, scenario
from test_browser import CHROMIUM, FLAGS, _settle, start_server

from sim.app.cli import main

HOSTILE_NAME = "![x](http://127.0.0.1:9/beacon.png) <b>bold</b> <img src=x onerror=alert(1)>"


def _serve(tmp_path: Path, results: Path, env_extra: dict) -> tuple[subprocess.Popen, str]:
    return start_server(["-m", "sim", "dashboard", "--results", str(results), "--"], tmp_path, env_extra)


def _run_into(out: Path, policy_name: str | None = None) -> None:
    assert (
        main(
            [
                "run",
                scenario("existing-group"),
                "--days",
                "5",
                "--replicates",
                "1",
                "--set",
                "population.initial_members=40",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    if policy_name is not None:
        summary = json.loads((out / "summary.json").read_text())
        summary["policy"] = policy_name
        (out / "summary.json").write_text(json.dumps(summary))


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_a_shared_dashboard_gives_a_visitor_nothing_it_should_not(tmp_path, capsys):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    # a policy planted where the old dashboard read and wrote its temporary policies
    shared_tmp = tmp_path / "shared-tmp"
    planted = shared_tmp / "sandbox-dashboard"
    planted.mkdir(parents=True)
    baseline = Path(policy("baseline")).read_text()
    (planted / f"{hashlib.sha256(baseline.encode()).hexdigest()[:16]}.yaml").write_text(
        "name: planted\nrules: planted-was-used\n"
    )
    before_tmp = sorted((p.name, p.stat().st_mtime_ns) for p in shared_tmp.rglob("*"))

    results = tmp_path / "results"
    _run_into(results / "a-run", HOSTILE_NAME)
    os.symlink("/etc", results / "b-etc")  # a way out of the root
    capsys.readouterr()

    proc, url = _serve(tmp_path, results, {"TMPDIR": str(shared_tmp)})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url)
            page.locator('[data-testid="stMetric"]').first.wait_for(state="visible", timeout=180_000)
            _settle(page)
            assert "planted" not in page.locator("body").inner_text()  # the compare ran on the real policies

            # the editor: a chart path is refused without following it, and nothing of the file is shown
            page.get_by_role("tab", name="Policy editor").click()
            editor = page.locator('textarea[aria-label="Policy (YAML)"]')
            editor.fill("stages: /etc/passwd\n")
            editor.press("Control+Enter")
            page.get_by_text("cannot name a stage chart file").first.wait_for(state="visible", timeout=60_000)
            body = page.locator("body").inner_text()
            assert "root:" not in body and "/bin/" not in body

            # the results view: only runs under the root, names as text, no request to the name's URL
            page.get_by_role("tab", name="Results").click()
            _settle(page)
            body = page.locator("body").inner_text()
            assert "beacon.png" in body and "<b>bold</b>" in body  # shown as the text it is
            assert page.locator('img[src*="beacon"]').count() == 0
            assert page.locator("[data-testid='stMain'] b:text('bold')").count() == 0
            assert not any("beacon" in r for r in requests)
            page.locator('[data-testid="stSelectbox"]:visible').last.click()  # the Results tab's
            options = page.locator('[role="option"]').all_inner_texts()
            assert options == ["a-run"], options  # not b-etc, nothing outside the root
            page.keyboard.press("Escape")

            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Traceback" not in page.locator("body").inner_text()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in shared_tmp.rglob("*")) == before_tmp


@pytest.mark.slow  # a second server start; the same path is checked fast in test_dashboard.py
def test_a_damaged_result_is_one_line_in_the_page_never_a_traceback(tmp_path, capsys):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    results = tmp_path / "results"
    _run_into(results / "damaged")
    (results / "damaged" / "summary.json").unlink()
    (results / "damaged" / "daily.parquet").write_bytes(b"PAR1 not really")
    capsys.readouterr()
    proc, url = _serve(tmp_path, results, {})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(url)
            page.get_by_role("tab", name="Results").wait_for(state="visible", timeout=180_000)
            page.get_by_role("tab", name="Results").click()
            _settle(page)
            page.get_by_text("cannot be read").first.wait_for(state="visible", timeout=60_000)
            body = page.locator("body").inner_text()
            assert "Traceback" not in body and str(tmp_path) not in body
            assert page.locator('[data-testid="stException"]').count() == 0
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
