"""Jobs in Chromium against ``streamlit run``: work that outlives the page, runs that
outlive the tab and the server.

One server for the module (its data in a temporary folder). A training long enough to
outlast a page change is started on the Train page; Replay opens it while it trains and
its slider's end grows; a scrubbed-back view stays put, "Live" follows again; the job
list shows it with its progress, and a toast announces its end on the Replay page; the
Train page then shows it finished. A reload keeps the runs; another browser sees none. A
seed sweep left mid-way finishes with no run left ``running``. Last, the server is killed
(SIGKILL) mid-training and started again on the same data: the run reads back
``stopped`` and replays its finished epochs. Screenshots go to
``tests/artifacts/browser_jobs_*.png`` (1280x720 and 1920x1080).
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest
from browser_support import (
    FRAME_SELECTOR,
    act_until,
    apply_preset,
    fill_form,
    go_to_page,
    serve_app,
    wait_for_idle,
)

pytestmark = pytest.mark.browser

expect = pytest.importorskip("playwright.sync_api").expect

HD = {"width": 1280, "height": 720}
FULL_HD = {"width": 1920, "height": 1080}
# Long enough to be training still after a page change and a few looks at Replay (the
# reference network trains ~50 epochs/s in a worker here), short enough for the module.
LONG_EPOCHS = 2000
LONG_RUN = "long run"
KILLED_RUN = "cut short"
SWEEP_SEEDS = 80  # 240 reference runs: the sweep is still under way when the page is left
WORKER_START_MS = 150_000  # the first job starts a worker, which loads TensorFlow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app on its own data folder: ``{"url", "proc", "data"}``. The last test kills
    it and starts another one on the same data (stored back in this dict)."""
    data = tmp_path_factory.mktemp("jobs-data")
    state = {"data": data}
    with serve_app(data) as (url, proc):
        state.update(url=url, proc=proc)
        yield state
    if "restarted" in state:
        state["restarted"].__exit__(None, None, None)


@pytest.fixture(scope="module")
def context(browser):
    ctx = browser.new_context(viewport=HD)
    yield ctx
    ctx.close()


def _no_error(page) -> None:
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    assert "Traceback" not in page.locator("body").inner_text()
    assert "Something went wrong" not in page.locator("body").inner_text()


def _open_app(page, url: str) -> None:
    page.goto(url)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    wait_for_idle(page)


def _fill(page, key: str, value) -> None:
    box = page.locator(f".st-key-{key} input")
    box.fill(str(value))
    box.press("Enter")
    wait_for_idle(page)


def _start_training(page, name: str, epochs: int) -> None:
    """On the Train page: the reference preset with ``epochs`` epochs, as run ``name``."""
    apply_preset(page, "Reference: sigmoid")
    fill_form(page, {"epochs": epochs, "run_name": name})
    page.get_by_role("button", name="Train", exact=True).click()


def _job_list(page):
    return page.locator(".st-key-job_list")


def _job_progress(page, name: str, total: int):
    """The job list's line of a running job that has recorded an epoch."""
    job = _job_list(page).locator("[class*='st-key-job_name_']").filter(has_text=name)
    return job.get_by_text(re.compile(rf"^[1-9]\d*/{total} epochs"))


# The Replay slider's end and value; the newest slider on the page (while a rerun draws
# the player, the one it replaces may still be there).
SLIDER_JS = "() => [...document.querySelectorAll('.st-key-epoch input[type=range]')].pop()"


def _slider_end(page) -> int:
    return int(page.evaluate(f"({SLIDER_JS})().max"))


def _slider_value(page) -> int:
    return int(page.evaluate(f"({SLIDER_JS})().value"))


def _wait_slider_end_above(page, end: int, timeout_ms: float = 120_000) -> int:
    page.wait_for_function(
        f"e => {{ const s = ({SLIDER_JS})(); return s && parseInt(s.max) > e; }}",
        arg=end, timeout=timeout_ms, polling=200)
    wait_for_idle(page)
    return _slider_end(page)


# Every toast's text, as it appears (a toast stays 10 s; the page may be busy meanwhile).
TOASTS_JS = """() => {
  window.__toasts = [];
  window.__toastLinks = [];
  new MutationObserver(() => {
    for (const t of document.querySelectorAll('[data-testid="stToast"]')) {
      if (!window.__toasts.includes(t.innerText)) window.__toasts.push(t.innerText);
      for (const a of t.querySelectorAll('a')) window.__toastLinks.push(a.getAttribute('href'));
    }
  }).observe(document, {subtree: true, childList: true, characterData: true});
}"""


def _wait_toast(page, text: str, timeout_ms: float = 180_000) -> None:
    """Wait until a toast holding ``text`` has been on the page."""
    page.wait_for_function(
        "t => (window.__toasts || []).some(x => x.includes(t))", arg=text,
        timeout=timeout_ms, polling=500)


def _run_statuses(data: Path) -> dict[str, str]:
    """Every run's status as its file says, over every session folder."""
    from replay_core.store import runfile

    statuses = {}
    for path in sorted((data / "sessions").glob("*/*.h5")):
        for summary in runfile.list_runs(path):
            statuses[summary.name] = summary.status
    return statuses


def test_a_training_outlives_its_page_and_replay_follows_it(server, context, artifacts_dir):
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.add_init_script(f"({TOASTS_JS})()")
    _open_app(page, server["url"])
    _start_training(page, LONG_RUN, LONG_EPOCHS)

    # The job list shows the job with its progress, on the Train page...
    progress = _job_progress(page, LONG_RUN, LONG_EPOCHS)
    try:
        progress.wait_for(timeout=WORKER_START_MS)
    except Exception:
        page.screenshot(path=str(artifacts_dir / "browser_jobs_FAIL.png"))
        raise
    expect(_job_list(page).get_by_text(f"Training · {LONG_RUN}")).to_be_visible()
    expect(_job_list(page).locator("[class*='st-key-job_stop_']")).to_have_count(1)
    page.screenshot(path=str(artifacts_dir / "browser_jobs_train_1280.png"))

    # ...and Replay opens the run while it trains: the slider's end grows.
    go_to_page(page, "Replay")
    page.locator(FRAME_SELECTOR).first.wait_for(timeout=60_000)
    wait_for_idle(page)
    run_picker = page.get_by_role("combobox", name="Run")
    expect(run_picker).to_have_value(f"● {LONG_RUN}")
    first_end = _slider_end(page)
    assert 0 < first_end < LONG_EPOCHS
    assert _slider_value(page) == first_end  # opened on the newest epoch
    page.screenshot(path=str(artifacts_dir / "browser_jobs_replay_live_1280.png"))
    grown = _wait_slider_end_above(page, first_end)
    assert _slider_value(page) == grown  # following the newest epoch

    # Scrubbed back, the view stays where the user put it while epochs arrive (or the
    # job ends and the finished file is read).
    page.locator(".st-key-epoch input[type=range]").last.focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    wait_for_idle(page)
    kept = _slider_value(page)
    assert kept < grown
    if grown < LONG_EPOCHS:
        _wait_slider_end_above(page, grown)
    assert _slider_value(page) == kept
    page.wait_for_function(
        "e => [...document.images].some(i => i.alt.startsWith('Epoch ' + e + ' of '))",
        arg=str(kept), timeout=30_000)
    live = page.get_by_role("button", name="Live")
    if live.is_visible() and live.is_enabled():  # still training: "Live" follows again
        live.click()
        page.wait_for_function(
            "() => { const s = [...document.querySelectorAll('.st-key-epoch input')].pop();"
            " return s && s.value === s.max; }", timeout=30_000, polling=200)

    # The end is announced on the page that is open, and Replay reads the file.
    _wait_toast(page, f"{LONG_RUN} — Finished: {LONG_EPOCHS} epochs")
    page.screenshot(path=str(artifacts_dir / "browser_jobs_toast_1280.png"))
    # ...with a link to the run in Replay.
    assert "replay?run=long%20run" in page.evaluate("window.__toastLinks")
    page.wait_for_function(
        f"e => {{ const s = ({SLIDER_JS})(); return s && parseInt(s.max) === e; }}",
        arg=LONG_EPOCHS, timeout=90_000, polling=200)
    expect(run_picker).to_have_value(LONG_RUN)
    expect(_job_list(page)).to_contain_text(f"Finished: {LONG_EPOCHS} epochs")
    expect(_job_list(page).locator("[class*='st-key-job_stop_']")).to_have_count(0)
    _no_error(page)

    # Back on the Train page: it finished.
    go_to_page(page, "Train")
    expect(page.locator('[data-testid="stAlert"]').filter(has_text=LONG_RUN)).to_contain_text(
        f"complete, {LONG_EPOCHS} of {LONG_EPOCHS} epochs")
    _no_error(page)
    page.set_viewport_size(FULL_HD)
    wait_for_idle(page)
    page.screenshot(path=str(artifacts_dir / "browser_jobs_train_done_1920.png"))
    page.set_viewport_size(HD)

    # A reload keeps the runs; the ended job can be cleared from the list.
    page.reload()
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    go_to_page(page, "Runs")
    expect(page.get_by_role("combobox", name="Run")).to_have_value(LONG_RUN)
    wait_for_idle(page)
    page.screenshot(path=str(artifacts_dir / "browser_jobs_runs_after_reload_1280.png"))
    _job_list(page).locator(".st-key-jobs_clear button").first.click()
    expect(_job_list(page)).to_have_count(0)
    _no_error(page)

    # Another browser sees none of them, and no job.
    stranger = context.browser.new_context(viewport=HD)
    try:
        other = stranger.new_page()
        _open_app(other, server["url"])
        go_to_page(other, "Runs")
        expect(other.get_by_role("combobox", name="Run")).to_have_count(0)
        expect(_job_list(other)).to_have_count(0)
        _no_error(other)
    finally:
        stranger.close()
    page.close()


def test_a_sweep_left_midway_finishes_with_no_run_left_running(server, context,
                                                               artifacts_dir):
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.add_init_script(f"({TOASTS_JS})()")
    _open_app(page, server["url"])
    go_to_page(page, "Seed sweep")
    # A click whose value a concurrent rerun (the job list's refresh) overwrote is
    # repeated, as a user would.
    act_until(page, page.get_by_role("button",
                                     name="Sigmoid, tanh and relu (reference run)").click,
              page.locator(".st-key-sweep_choice").filter(has_text="sigmoid"))
    runs = 3 * SWEEP_SEEDS
    act_until(page, lambda: _fill(page, "sweep_seeds", SWEEP_SEEDS),
              page.get_by_text(re.compile(rf"^{runs} runs: ")))
    page.get_by_role("button", name="Start", exact=True).click()
    title = f"sigmoid, tanh, relu · {runs} runs"
    expect(_job_list(page)).to_contain_text(title, timeout=60_000)

    go_to_page(page, "Runs")  # leave the page while the sweep trains
    job = _job_list(page).locator("[class*='st-key-job_name_']").filter(has_text=title)
    expect(job.get_by_text(re.compile(r"epochs|Queued"))).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "browser_jobs_sweep_running_1280.png"))
    _wait_toast(page, f"{title} — Finished: {runs} of {runs} runs", timeout_ms=240_000)
    _no_error(page)

    statuses = _run_statuses(server["data"])
    swept = {n: s for n, s in statuses.items() if n not in (LONG_RUN, KILLED_RUN)}
    assert len(swept) == runs
    assert set(swept.values()) == {"complete"}, swept
    page.close()


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(children)
            todo.extend(children)
    return found


def test_a_server_killed_mid_training_leaves_the_run_stopped_and_replayable(
        server, context, artifacts_dir):
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.add_init_script(f"({TOASTS_JS})()")
    _open_app(page, server["url"])
    _start_training(page, KILLED_RUN, LONG_EPOCHS)
    _job_progress(page, KILLED_RUN, LONG_EPOCHS).wait_for(timeout=WORKER_START_MS)
    time.sleep(1.0)  # a few more epochs

    proc = server["proc"]
    workers = _descendants(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for pid in workers:  # the server's own worker processes, orphaned by the kill
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert _run_statuses(server["data"])[KILLED_RUN] == "running"  # as the kill left it

    restarted = serve_app(server["data"])
    url, _proc = restarted.__enter__()
    server["restarted"] = restarted
    _open_app(page, url)  # the same browser: its cookie finds the session
    statuses = _run_statuses(server["data"])
    assert statuses[KILLED_RUN] == "stopped"
    assert statuses[LONG_RUN] == "complete"

    go_to_page(page, "Replay")
    page.locator(".st-key-replay_run").click()
    page.get_by_role("option", name=KILLED_RUN, exact=True).click()
    wait_for_idle(page)
    end = _slider_end(page)
    assert 0 < end < LONG_EPOCHS
    page.wait_for_function(
        "e => [...document.images].some(i => i.alt.startsWith('Epoch ' + e + ' of '))",
        arg=str(_slider_value(page)), timeout=60_000)
    expect(page.get_by_text("Run status: stopped — stopped (server restarted)")).to_be_visible()
    _no_error(page)
    page.screenshot(path=str(artifacts_dir / "browser_jobs_restarted_1280.png"))
    page.close()
