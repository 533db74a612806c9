"""The dashboard in a real browser: Debian's Chromium driven by Playwright, Streamlit on loopback.

Starts ``streamlit run dashboard.py`` on a free loopback port, opens the page, waits for the
default comparison, checks the KPI cards and a chart are visible and that no exception box is
shown, moves a slider and sees the numbers change, and saves a screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: list[str], cwd, env_extra: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start the dashboard (``args`` after the Python executable) on a free loopback port; wait for health."""
    port = _free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **(env_extra or {})}
    server = [
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.fileWatcherType",
        "none",
    ]
    log = open(Path(cwd) / "dashboard-server.log", "wb")  # a file, not a pipe: a full pipe would stall the server
    proc = subprocess.Popen([sys.executable, *args, *server], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            assert proc.poll() is None, (Path(cwd) / "dashboard-server.log").read_text()[-2000:]
            time.sleep(0.3)
    proc.terminate()
    raise AssertionError("the dashboard did not start within 120 s")


@pytest.fixture
def dashboard_url(tmp_path):
    proc, url = start_server(["-m", "streamlit", "run", str(ROOT / "dashboard.py")], tmp_path)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def _settle(page) -> None:
    """Wait until the script run is over (the running indicator is gone)."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=120_000)
    page.wait_for_timeout(300)


def _numbers(page) -> list[str]:
    return [t.strip() for t in page.locator('[data-testid="stMetricValue"]').all_inner_texts()]


def test_default_comparison_in_a_real_browser(dashboard_url, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})  # the default window the charts must suit
        started = time.perf_counter()
        page.goto(dashboard_url)
        page.locator('[data-testid="stMain"] [data-testid="stVegaLiteChart"]').first.wait_for(
            state="visible", timeout=120_000
        )
        first_chart = time.perf_counter() - started
        page.locator('[data-testid="stMetric"]').first.wait_for(state="visible", timeout=60_000)
        assert page.locator('[data-testid="stMetric"]').count() >= 4
        assert page.locator('[data-testid="stException"]').count() == 0
        before = _numbers(page)

        slider = page.locator('[data-testid="stSidebar"] input[type="range"][aria-label="Days"]')
        slider.focus()
        for _ in range(6):  # 180 -> 120 days
            page.keyboard.press("ArrowLeft")
        page.wait_for_function(
            """(before) => {
                const now = Array.from(document.querySelectorAll('[data-testid="stMetricValue"]')).map(e => e.innerText.trim());
                return now.length >= 4 && now.slice(0, 4).join('|') !== before.slice(0, 4).join('|');
            }""",
            arg=before,
            timeout=120_000,
        )
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0
        after = _numbers(page)
        assert after[:4] != before[:4]
        shot = tmp_path / "compare.png"
        page.screenshot(path=str(shot), full_page=False)
        assert shot.stat().st_size > 20_000
        _every_chart_drawn(page, "compare")
        page.get_by_role("tab", name="Lifecycle replay").click()
        page.get_by_text("Stage of the community").first.wait_for(state="attached", timeout=120_000)
        _settle(page)
        _every_chart_drawn(page, "replay")
        page.screenshot(path=str(tmp_path / "replay.png"), full_page=False)
        if os.environ.get("SANDBOX_SCREENSHOT"):
            shutil.copy(shot, os.environ["SANDBOX_SCREENSHOT"])
        browser.close()
    print(f"first chart after {first_chart:.1f} s")


def _every_chart_drawn(page, view: str) -> None:
    """Every chart on the visible tab has drawn a plot with room for its marks: a canvas or an SVG at
    least 100 px high (a chart Streamlit squeezed shows its title over nothing)."""
    charts = page.locator('[data-testid="stVegaLiteChart"]:visible')
    assert charts.count() >= 2, view
    for i in range(charts.count()):
        chart = charts.nth(i)
        chart.scroll_into_view_if_needed()
        drawn = chart.locator("canvas, svg").first
        drawn.wait_for(state="visible", timeout=60_000)
        box = drawn.bounding_box()
        assert box is not None and box["height"] >= 100 and box["width"] >= 150, (view, i, box)


def test_sandbox_dashboard_serves_the_page(tmp_path):
    """`sandbox dashboard` warms the engine, then serves dashboard.py like `streamlit run`."""
    proc, url = start_server(["-m", "sim", "dashboard", "--"], tmp_path)
    try:
        page = urllib.request.urlopen(f"{url}/", timeout=5).read().decode()
        assert "<html" in page.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.mark.slow  # a long check: the slow tier, which CI runs too
def test_your_group_page_calibrates_an_upload_and_offers_it_to_compare(dashboard_url, tmp_path):
    """Upload an export, see its fingerprint, calibrate (a progress bar, then the fit), and find the
    calibrated group in the Compare view's scenario list; no member's name appears on the page."""
    import pandas as pd
    from calibration_data import synthetic_export
    from playwright.sync_api import sync_playwright

    export = synthetic_export(tmp_path / "group.csv", {"act_bias": -4.8}, weeks=16, starting=40, per_week=3)
    table = pd.read_csv(export, dtype=str, keep_default_na=False)
    named = table.assign(member="Zorblax " + table["member"])  # names a person would recognise on a page
    named["reply_to"] = named["reply_to"].where(named["reply_to"] == "", "Zorblax " + named["reply_to"])
    named.to_csv(export, index=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(dashboard_url)
        page.get_by_role("tab", name="Your group").click()
        upload = page.locator('[data-testid="stFileUploader"] input[type="file"]')
        upload.wait_for(state="attached", timeout=120_000)  # the first script run, as the other pages wait for it
        upload.set_input_files(str(export))
        page.get_by_role("button", name="Calibrate").wait_for(state="visible", timeout=120_000)
        assert page.locator('[data-testid="stDataFrame"]:visible').count() >= 1  # the fingerprint
        page.get_by_role("button", name="Calibrate").click()
        page.get_by_text("Download the report").wait_for(state="visible", timeout=300_000)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert "Zorblax" not in page.content()  # no member's name on the page
        page.get_by_role("tab", name="Compare").click()
        page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first.click()
        page.get_by_role("option", name="your group 1 (calibrated)").wait_for(state="visible", timeout=30_000)
        browser.close()


@pytest.mark.slow  # a long check: the slow tier, which CI runs too (the default tier under 6 minutes)
def test_report_pages_open_with_no_network_fetch(tmp_path):
    """compare's and calibrate's report.html are self-contained: opened in Chromium, they ask for
    nothing but themselves (pictures are inlined), and show their pictures."""
    from playwright.sync_api import sync_playwright
    from saved_results import saved_calibration, saved_comparison

    compare_out = saved_comparison(tmp_path / "cmp", days=30)
    fit_out = saved_calibration(tmp_path / "fit", tmp_path / "export.csv")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        for report in (compare_out / "report.html", fit_out / "report.html"):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            asked: list[str] = []
            page.on("request", lambda request, asked=asked: asked.append(request.url))
            page.goto(report.as_uri())
            page.wait_for_load_state("networkidle")
            assert [u for u in asked if not u.startswith("data:")] == [report.as_uri()]
            images = page.locator("img")
            assert images.count() == 3
            assert all(images.nth(i).evaluate("i => i.naturalWidth") > 100 for i in range(3))
            page.close()
        browser.close()
