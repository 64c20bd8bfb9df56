"""Cold start: how long after the server answers do the first page's controls appear?

Starts ``streamlit run`` afresh (a new Python process, nothing imported yet), waits for
its health check, then opens the app in headless Chromium and times until the Train
page's "Train" button is visible (target: 1.5 s). Also says whether the server process
has loaded TensorFlow (it should not: only training loads it).

    python bench/cold_start.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from browser_support import CHROMIUM_ARGS, find_chromium, serve_app  # noqa: E402

TARGET_S = 1.5


def _loaded_tensorflow(pid: int) -> bool:
    """Whether process ``pid`` has TensorFlow's shared library mapped."""
    try:
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def one_start(browser) -> tuple[float, bool]:
    """Seconds from the server's first health answer to the Train button, and whether the
    server had loaded TensorFlow by then."""
    with tempfile.TemporaryDirectory() as data, serve_app(Path(data)) as (url, proc):
        answered = time.perf_counter()  # serve_app returns on the first health answer
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(url)
        page.locator('[data-testid="stSidebarNav"]').wait_for(timeout=60_000)
        shell = time.perf_counter() - answered
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        seconds = time.perf_counter() - answered
        context.close()
        print(f"  page shell and navigation after {shell:.2f} s", flush=True)
        return seconds, _loaded_tensorflow(proc.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()
    if chromium is None:
        sys.exit("needs Chromium (apt-get install chromium)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=CHROMIUM_ARGS)
        times = []
        for i in range(args.repeat):
            seconds, tf_loaded = one_start(browser)
            times.append(seconds)
            print(f"start {i + 1}: first page's controls {seconds:.2f} s after the server "
                  f"answered; server loaded TensorFlow: {'yes' if tf_loaded else 'no'}",
                  flush=True)
        browser.close()
    best, median = min(times), sorted(times)[len(times) // 2]
    print(f"cold start: median {median:.2f} s, best {best:.2f} s "
          f"(target <= {TARGET_S} s: {'met' if median <= TARGET_S else 'NOT met'})")


if __name__ == "__main__":
    main()
