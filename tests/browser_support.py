"""Serve the app with ``streamlit run`` on a free localhost port and find Chromium.

Shared by the browser tests and ``bench/scrub_latency.py``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def find_chromium(install: bool = False) -> str | None:
    """Path of Debian's chromium; installs it with apt-get when ``install`` and root."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if install and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env,
                       stdout=subprocess.DEVNULL)
        return shutil.which("chromium")
    return None


def chromium_or_exit() -> str:
    """Path of Debian's chromium for a bench script; exits with one sentence without it."""
    path = find_chromium()
    if path is None:
        sys.exit("needs Debian's chromium (apt-get install chromium)")
    return path


def launch_chromium(pw, chromium: str):
    """A headless Chromium with the project's flags, from a Playwright ``pw``."""
    return pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(data_dir: Path, *, env: dict | None = None, timeout: float = 60.0):
    """Run ``streamlit run streamlit_app.py`` and yield ``(base_url, process)``."""
    port = free_port()
    log_path = Path(data_dir) / f"streamlit-{port}.log"
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ, DEEPREPLAY_DATA=str(data_dir), PYTHONUNBUFFERED="1")
    full_env.update(env or {})
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
             "--server.headless", "true", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- Playwright helpers shared by tests/test_browser.py and bench/scrub_latency.py -------

FRAME_SELECTOR = "img[alt^='Epoch ']"
# True once the frame image of epoch `arg` is in the page and decoded.
FRAME_READY_JS = """e => {
  const img = [...document.images].find(i => i.alt.startsWith('Epoch ' + e + ' of '));
  return !!(img && img.complete && img.naturalWidth > 0);
}"""
# The epoch of the frame on screen, -1 while there is none.
SHOWN_EPOCH_JS = """() => {
  const img = document.querySelector("img[alt^='Epoch ']");
  return img ? parseInt(img.alt.slice(6)) : -1;
}"""
# True while no script run is in flight and no element is left over from an older run.
APP_IDLE_JS = """() => !document.querySelector(
  '[data-testid="stStatusWidgetRunningIcon"], [data-testid="stStatusWidgetRunningManIcon"],'
  + ' [data-stale="true"]')"""


def wait_for_frame(page, epoch: int, timeout_ms: float = 30_000, polling="raf") -> None:
    """Wait until the Replay page shows the loaded frame of ``epoch``."""
    page.wait_for_function(FRAME_READY_JS, arg=str(int(epoch)), timeout=timeout_ms,
                           polling=polling)


def shown_epoch(page) -> int:
    """The epoch of the frame on screen (-1 while there is none)."""
    return int(page.evaluate(SHOWN_EPOCH_JS))


def wait_for_epoch_at_least(page, epoch: int, timeout_ms: float = 15_000) -> None:
    """Wait until the frame on screen is of ``epoch`` or later (playback)."""
    page.wait_for_function(f"() => ({SHOWN_EPOCH_JS})() >= {int(epoch)}", timeout=timeout_ms,
                           polling=50)


def wait_for_idle(page, timeout_ms: float = 30_000) -> None:
    """Wait until Streamlit has finished the current script run and dropped stale elements."""
    page.wait_for_function(APP_IDLE_JS, timeout=timeout_ms, polling=100)


def act_until(page, action, done, tries: int = 3, timeout_ms: float = 5_000) -> None:
    """Do ``action`` until the locator ``done`` is visible, at most ``tries`` times.

    A widget value set by a click can be overwritten when the click lands while the
    browser sends a rerun of its own (a chart's selection, the window size) carrying the
    widgets' previous values; the user would click again, and so does the test.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(tries):
        action()
        wait_for_idle(page)
        try:
            done.first.wait_for(timeout=timeout_ms)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def fill_form(page, values: dict, rounds: int = 3) -> None:
    """Type each ``{widget key: value}`` into its text or number box and press Enter,
    then check that every box still shows what was typed and type again what does not.

    A value typed while the page runs on its own (a rerun the browser did not ask for,
    which gives the kept widgets their values again) can be replaced; the user would see
    it and type again, and so does the test.
    """
    import time

    for _ in range(rounds):
        for key, value in values.items():
            box = page.locator(f".st-key-{key} input")
            if box.input_value() != str(value):
                box.fill(str(value))
                box.press("Enter")
                wait_for_idle(page)
        time.sleep(0.5)
        wait_for_idle(page)
        if all(page.locator(f".st-key-{k} input").input_value() == str(v)
               for k, v in values.items()):
            return
    raise AssertionError(f"the form did not keep {values}")


def epoch_slider(page):
    """The Replay page's epoch slider thumb (an ``input[type=range]`` in Streamlit 1.67)."""
    return page.locator(".st-key-epoch").get_by_role("slider")


def slider_value(page) -> int:
    """The epoch the slider shows."""
    return int(epoch_slider(page).input_value())


def go_to_page(page, title: str) -> None:
    """Switch page with the sidebar navigation: a full page load would start a new session."""
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=title).click()
    landmark = page.get_by_role("heading", name=title, exact=True)
    if title == "Replay":  # the heading only shows while the session has no run
        landmark = landmark.or_(page.locator(FRAME_SELECTOR))
    landmark.first.wait_for(timeout=30_000)
    wait_for_idle(page)


def apply_preset(page, title: str) -> None:
    """On the Train page: open the Presets popover and click the preset ``title``."""
    button = page.get_by_role("button", name=title, exact=True)
    if not button.is_visible():
        page.locator(".st-key-train_presets button").first.click()
    button.click()
    wait_for_idle(page)
    page.keyboard.press("Escape")  # close the popover


def train_reference(page, timeout_ms: float = 180_000) -> dict:
    """On the Train page: apply the "Reference: sigmoid" preset, train, wait for the end.

    Returns what was seen: ``progress`` (a progress text seen while training),
    ``status`` (the status box text) and ``seconds`` (click to "Open in Replay").
    """
    import re
    import time

    from playwright.sync_api import expect

    apply_preset(page, "Reference: sigmoid")
    start = time.perf_counter()
    page.get_by_role("button", name="Train", exact=True).click()
    progress = page.get_by_text(re.compile(r"^Epoch \d+ / \d+ · loss \S+ · accuracy \S+ · lr "))
    expect(progress).to_be_visible(timeout=timeout_ms)
    seen = progress.inner_text()
    open_button = page.get_by_role("button", name="Open in Replay ▶")
    expect(open_button).to_be_visible(timeout=timeout_ms)
    seconds = time.perf_counter() - start
    wait_for_idle(page)
    status = page.locator('[data-testid="stAlert"]').filter(has_text="Reference: sigmoid")
    return {"progress": seen, "status": status.first.inner_text(), "seconds": seconds}
