"""How long the dashboard takes to show its default comparison, in a real browser.

Run:  python benchmarks/dashboard_first_chart.py [--visits 2] [--launcher sandbox|streamlit]

Starts the dashboard on a free loopback port (a fresh server, no run cached) with
``sandbox dashboard`` (the engine loaded before the first visit) or ``streamlit run dashboard.py``,
opens the page in Debian's Chromium (headless, through Playwright) and prints, for each visit,
the seconds from opening the page to the title, the first KPI card and the first chart.  The
first visit is cold (imports, first runs); later visits find the runs cached.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=2)
    parser.add_argument("--launcher", choices=["sandbox", "streamlit"], default="sandbox")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = _free_port()
    env = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    with tempfile.TemporaryDirectory() as cwd:
        options = [
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.fileWatcherType",
            "none",
        ]
        command = (
            [sys.executable, "-m", "sim", "dashboard", "--", *options]
            if args.launcher == "sandbox"
            else [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard.py"), *options]
        )
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.3)
            print(f"launcher: {args.launcher}")
            print(f"{'visit':>5} {'title s':>8} {'first card s':>13} {'first chart s':>14}")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
                for visit in range(1, args.visits + 1):
                    page = browser.new_page(viewport={"width": 1500, "height": 1300})
                    started = time.perf_counter()
                    page.goto(url)
                    marks = []
                    for selector in (
                        "h1",
                        '[data-testid="stMetric"]',
                        '[data-testid="stMain"] [data-testid="stVegaLiteChart"]',
                    ):
                        page.locator(selector).first.wait_for(state="visible", timeout=120_000)
                        marks.append(time.perf_counter() - started)
                    print(f"{visit:>5} {marks[0]:>8.2f} {marks[1]:>13.2f} {marks[2]:>14.2f}", flush=True)
                    page.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)


if __name__ == "__main__":
    main()
