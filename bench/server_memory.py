"""Server memory: the Streamlit server's resident size once a training has finished.

Serves the app with ``streamlit run`` (a fresh process), opens it in headless Chromium,
trains the reference run through the Train page (the training is a job: it runs in a
worker process, which holds TensorFlow), waits until the run is complete and the server
is idle, and reads the resident sizes from ``/proc/<pid>/status``: the server's (target
<= 400 MB) and the worker's (target <= 0.9 GB). Also says whether the server process has
TensorFlow's library mapped (it should not).

    python bench/server_memory.py [--settle 5]

The last line is ``server_rss_mb=.. worker_rss_mb=.. server_tensorflow=no``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from browser_support import (  # noqa: E402
    chromium_or_exit,
    launch_chromium,
    serve_app,
    train_reference,
    wait_for_idle,
)

TARGET_SERVER_MB = 400
TARGET_WORKER_MB = 900


def rss_mb(pid: int) -> float | None:
    """Resident set size of process ``pid`` in MB (``VmRSS``), None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (the job workers of a server)."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("PPid:") and int(line.split()[1]) == pid:
                found.append(int(status.parent.name))
                break
    return found


def loaded_tensorflow(pid: int) -> bool:
    try:
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds to wait after the training before reading the sizes")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    chromium = chromium_or_exit()
    with tempfile.TemporaryDirectory() as data, serve_app(Path(data)) as (url, proc), \
            sync_playwright() as pw:
        browser = launch_chromium(pw, chromium)
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        wait_for_idle(page)
        before = rss_mb(proc.pid)
        seen = train_reference(page)
        print(f"trained the reference run through the page in {seen['seconds']:.1f} s "
              f"(worker start included): {seen['status'].splitlines()[0]}", flush=True)
        wait_for_idle(page)
        time.sleep(args.settle)
        server = rss_mb(proc.pid)
        workers = [(pid, rss_mb(pid)) for pid in children(proc.pid)]
        workers = [(pid, mb) for pid, mb in workers if mb is not None]
        worker = max((mb for _, mb in workers), default=0.0)
        tf_server = loaded_tensorflow(proc.pid)
        context.close()
        browser.close()
    print(f"server process: {before:.0f} MB after the first page, {server:.0f} MB after a "
          f"training (target <= {TARGET_SERVER_MB} MB: "
          f"{'met' if server <= TARGET_SERVER_MB else 'NOT met'}); worker processes: "
          f"{len(workers)}, the largest {worker:.0f} MB (target <= {TARGET_WORKER_MB} MB)")
    print(f"server_rss_mb={server:.0f} worker_rss_mb={worker:.0f} "
          f"server_tensorflow={'yes' if tf_server else 'no'}")


if __name__ == "__main__":
    main()
