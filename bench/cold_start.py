"""Cold start: how long after the server answers do the first page's controls appear?

Starts ``streamlit run`` afresh (a new Python process, nothing imported yet), waits for
its health check, then opens the app in headless Chromium and times until the Train
page's "Train" button is visible (target: 1.5 s). Also says whether the server process
has loaded TensorFlow (it should not: only training loads it).

The same is timed for a one-button Streamlit app: what Streamlit and Chromium take
whatever the app does (loading the page's scripts in a fresh browser context, the
websocket, the first script run). The difference is the app's own share.

    python bench/cold_start.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from browser_support import (  # noqa: E402
    chromium_or_exit,
    free_port,
    launch_chromium,
    serve_app,
)

TARGET_S = 1.5
# The floor: a router and a page with one button, served with the app's flags.
BARE_APP = """import streamlit as st
st.navigation([st.Page(lambda: st.button("Train"), title="Train")]).run()
"""


def _loaded_tensorflow(pid: int) -> bool:
    """Whether process ``pid`` has TensorFlow's shared library mapped."""
    try:
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


@contextmanager
def _serve_bare(folder: Path):
    """Serve ``BARE_APP`` from ``folder`` as ``serve_app`` serves the app; yield its URL."""
    script = folder / "bare_app.py"
    script.write_text(BARE_APP)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=folder, env=dict(os.environ, PYTHONUNBUFFERED="1"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def one_start(browser, bare: bool = False) -> tuple[float, bool]:
    """Seconds from the server's first health answer to the Train button, and whether the
    server had loaded TensorFlow by then (``bare``: of the one-button app)."""
    with tempfile.TemporaryDirectory() as data:
        serving = _serve_bare(Path(data)) if bare else serve_app(Path(data))
        with serving as (url, proc):
            answered = time.perf_counter()  # both return on the first health answer
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            page = context.new_page()
            page.goto(url)
            page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
            seconds = time.perf_counter() - answered
            context.close()
            return seconds, _loaded_tensorflow(proc.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = chromium_or_exit()
    with sync_playwright() as pw:
        browser = launch_chromium(pw, chromium)
        times, floors = [], []
        for i in range(args.repeat):
            # Alternated, so both see the same load on a shared machine.
            floor, _ = one_start(browser, bare=True)
            seconds, tf_loaded = one_start(browser)
            times.append(seconds)
            floors.append(floor)
            print(f"start {i + 1}: first page's controls {seconds:.2f} s after the server "
                  f"answered (a one-button app: {floor:.2f} s); server loaded TensorFlow: "
                  f"{'yes' if tf_loaded else 'no'}", flush=True)
        browser.close()
    median = sorted(times)[len(times) // 2]
    floor = sorted(floors)[len(floors) // 2]
    print(f"cold start: median {median:.2f} s, best {min(times):.2f} s "
          f"(target <= {TARGET_S} s: {'met' if median <= TARGET_S else 'NOT met'}); "
          f"a one-button Streamlit app: median {floor:.2f} s; the app's own share: "
          f"{median - floor:.2f} s")


if __name__ == "__main__":
    main()
