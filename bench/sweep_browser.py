"""How long a 60-run seed sweep takes in the browser, from the Start click to its notice.

Serves the app with ``streamlit run`` (``tests/browser_support.serve_app``, a temporary
``DEEPREPLAY_DATA``) and drives headless Chromium at 1280x720 with Playwright: on the
Seed sweep page it clicks "Sigmoid, tanh and relu (reference run)", keeps 20 seeds (60
runs of the reference network, 150 epochs each), clicks Start and waits for "Sweep
finished: 60 of 60 runs". Twice in the same session:

1. the first sweep of a fresh server, which includes starting the worker process and its
   TensorFlow;
2. the second, on the worker that is already up.

The times include the page's polling of the job (once a second), as a user sees them.
Prints each phase and, as the last line, ``first_s=.. second_s=..``; the page after the
second sweep goes to ``tests/artifacts/sweep_browser_done.png``.

Run: ``python bench/sweep_browser.py`` (``--seeds 5`` for a shorter sweep).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from browser_support import (  # noqa: E402
    act_until,
    chromium_or_exit,
    go_to_page,
    launch_chromium,
    serve_app,
    wait_for_idle,
)

REFERENCE_BUTTON = "Sigmoid, tanh and relu (reference run)"
CONFIGS = 3
SWEEP_TIMEOUT_MS = 600_000


def _set_seeds(page, seeds: int) -> None:
    box = page.locator(".st-key-sweep_seeds input")

    def enter() -> None:
        box.fill(str(seeds))
        box.press("Enter")

    runs = CONFIGS * seeds
    act_until(page, enter, page.get_by_text(
        re.compile(rf"^{runs} runs: {CONFIGS} configurations × {seeds} seeds")))


def _sweep(page, runs: int) -> float:
    """Click Start and return the seconds until the sweep's finished notice shows."""
    done = page.locator('[data-testid="stAlert"]').filter(
        has_text=f"Sweep finished: {runs} of {runs} runs")
    start = page.get_by_role("button", name="Start", exact=True)
    start.wait_for()
    t = time.perf_counter()
    start.click()
    done.wait_for(state="detached", timeout=30_000)  # the previous sweep's notice goes
    done.wait_for(timeout=SWEEP_TIMEOUT_MS)
    seconds = time.perf_counter() - t
    wait_for_idle(page)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    chromium = chromium_or_exit()
    from playwright.sync_api import sync_playwright

    runs = CONFIGS * args.seeds
    print(f"{runs} runs: sigmoid, tanh, relu x {args.seeds} seeds; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="sweep-browser-") as tmp:
        t = time.perf_counter()
        with serve_app(Path(tmp)) as (url, _proc), sync_playwright() as pw:
            print(f"streamlit run until healthy: {time.perf_counter() - t:.1f} s")
            browser = launch_chromium(pw, chromium)
            page = browser.new_page(viewport={"width": 1280, "height": 720})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.get_by_role("button", name="Train", exact=True).wait_for()
            wait_for_idle(page)
            go_to_page(page, "Seed sweep")
            chosen = page.locator(".st-key-sweep_choice")
            act_until(page, page.get_by_role("button", name=REFERENCE_BUTTON).click,
                      chosen.filter(has_text="sigmoid"))
            _set_seeds(page, args.seeds)
            first = _sweep(page, runs)
            print(f"first sweep (worker start and TensorFlow included): {first:.1f} s")
            second = _sweep(page, runs)
            print(f"second sweep (worker up): {second:.1f} s")
            shots = ROOT / "tests" / "artifacts"  # ignored by git
            shots.mkdir(exist_ok=True)
            page.screenshot(path=str(shots / "sweep_browser_done.png"))
            browser.close()
    print(f"first_s={first:.1f} second_s={second:.1f}")


if __name__ == "__main__":
    main()
