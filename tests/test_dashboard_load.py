"""Load test (slow tier): 25 browser sessions change scenario, policy and days at random for minutes.

Streamlit runs each session's reruns in threads of one server process, and overlapping reruns used
to crash it inside durable-rules' C core.  Here 25 Chromium pages on 127.0.0.1 act without waiting
for each other; afterwards the server must be alive and healthy and no page may show an error.
"""

from __future__ import annotations

import os
import random
import time
import urllib.request

import pytest
from test_browser import CHROMIUM, FLAGS
from test_browser_security import _serve

pytestmark = pytest.mark.slow

SESSIONS = 25
MINUTES = 3.0
SCENARIOS = ["existing-group", "cold-start", "paid-small-group", "spam-prone", "ritual-vs-random"]
POLICIES = ["moderated", "gentle-pruning", "tiered-reactivation", "community-playbook"]


def _act(page, rng: random.Random) -> None:
    sidebar = page.locator('[data-testid="stSidebar"]')
    action = rng.choice(["days", "days", "scenario", "policy"])
    if action == "days":
        sidebar.locator('input[type="range"][aria-label="Days"]').focus()
        for _ in range(rng.randint(1, 3)):
            page.keyboard.press(rng.choice(["ArrowLeft", "ArrowRight"]))
    elif action == "scenario":
        sidebar.locator('[data-testid="stSelectbox"]').first.click()
        page.keyboard.type(rng.choice(SCENARIOS))
        page.keyboard.press("Enter")
    else:
        sidebar.locator('[data-testid="stMultiSelect"]').first.click()
        page.keyboard.type(rng.choice(POLICIES))
        page.keyboard.press("Enter")
        page.keyboard.press("Escape")


def test_25_sessions_changing_inputs_at_random_leave_the_server_alive_and_no_page_in_error(tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    rng = random.Random(20261202)
    proc, url = _serve(tmp_path, tmp_path / "results", {})
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            pages = []
            for _ in range(SESSIONS):
                page = context.new_page()
                page.goto(url)
                pages.append(page)
            for page in pages:  # a small first load: 2 replicates, a small scenario
                page.locator('[data-testid="stSidebar"] input[type="range"]').first.wait_for(timeout=180_000)
                page.locator('[data-testid="stSidebar"] input[type="range"][aria-label="Replicates"]').focus(
                    timeout=180_000
                )
                page.keyboard.press("Home")
                page.set_default_timeout(2_000)  # a widget busy in a rerun: move on to another session
            actions, done, deadline = 0, 0, time.time() + MINUTES * 60
            while time.time() < deadline:
                page = rng.choice(pages)
                actions += 1
                try:
                    _act(page, rng)
                    done += 1
                except Exception as exc:  # a widget mid-rerun may be detached: the next action goes on
                    if "Target closed" in str(exc) or proc.poll() is not None:
                        raise
                page.wait_for_timeout(rng.randint(20, 150))
                assert proc.poll() is None, "the dashboard server died under load"
            # every session's last rerun must finish: the server works through the queue the
            # sessions left (slowly when the slow tier's other tests share the two cores)
            finish_by = time.time() + 900
            for page in pages:
                page.set_default_timeout(300_000)
                status = page.locator('[data-testid="stStatusWidget"]')
                status.wait_for(state="hidden", timeout=max(1_000, (finish_by - time.time()) * 1000))
                assert proc.poll() is None, "the dashboard server died under load"
                body = page.locator("body").inner_text()
                assert page.locator('[data-testid="stException"]').count() == 0
                assert "Something went wrong" not in body and "Traceback" not in body
            browser.close()
        assert proc.poll() is None, "the dashboard server died under load"
        assert urllib.request.urlopen(f"{url}/_stcore/health", timeout=10).read() == b"ok"
        print(f"{done} of {actions} actions taken")
        assert actions >= 2 * SESSIONS and done >= SESSIONS // 2
        print(f"{done} of {actions} actions taken over {MINUTES} minutes by {SESSIONS} sessions")
    finally:
        proc.terminate()
        proc.wait(timeout=60)
